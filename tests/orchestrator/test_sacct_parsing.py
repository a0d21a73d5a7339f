"""sacct output -> job states, on canned outputs seen on the real cluster (no cluster needed)."""

from __future__ import annotations

import subprocess
import types
from pathlib import Path

from orchestrator.executors import JobState
from orchestrator.executors.slurm import SlurmExecutor
from tests.slurm.conftest import make_options


def _executor(tmp_path: Path, stdout: str) -> SlurmExecutor:
    ex = SlurmExecutor(tmp_path / "jobs", make_options())

    def fake_run(cmd, **_):
        return subprocess.CompletedProcess(cmd, 0, stdout=stdout if cmd[0] == "sacct" else "",
                                           stderr="")

    ex._run = types.MethodType(lambda self, cmd: fake_run(cmd), ex)  # type: ignore[method-assign]
    return ex


def test_pending_array_cancelled_as_a_whole(tmp_path: Path) -> None:
    out = "19_[0-2%2]|CANCELLED by 0|2026-11-22T04:00:00|0:0|00:00:00|None assigned\n"
    got = _executor(tmp_path, out)._sacct(["19"], {"19_0", "19_1", "19_2"})
    assert {j: i.state for j, i in got.items()} == {f"19_{k}": JobState.CANCELLED for k in range(3)}


def test_a_task_that_ran_never_lends_its_state_to_the_others(tmp_path: Path) -> None:
    # the array's last task shows up under the plain id before slurmdbd knows its index, while
    # the other tasks, already ended, have no record yet
    out = ("1596_0|COMPLETED|2026-11-22T04:39:58|0:0|00:00:01|vm\n"
           "1596|CANCELLED by 0|2026-11-22T04:40:01|0:0|00:00:03|vm\n"
           "1596.batch|CANCELLED|2026-11-22T04:40:01|0:15|00:00:03|vm\n")
    wanted = {f"1596_{k}" for k in range(7)}
    got = _executor(tmp_path, out)._sacct(["1596"], wanted)
    assert got["1596_0"].state is JobState.COMPLETED
    assert set(got) == {"1596_0"}, "the others are unknown for now, not CANCELLED"


def test_oom_step_marks_its_job(tmp_path: Path) -> None:
    out = ("7_0|FAILED|2026-11-22T04:00:00|1:0|00:00:02|vm\n"
           "7_0.0|OUT_OF_MEMORY|2026-11-22T04:00:00|0:125|00:00:02|vm\n"
           "7_1|COMPLETED|2026-11-22T04:00:00|0:0|00:00:02|vm\n")
    got = _executor(tmp_path, out)._sacct(["7"], {"7_0", "7_1"})
    assert got["7_0"].state is JobState.OUT_OF_MEMORY and got["7_1"].state is JobState.COMPLETED
