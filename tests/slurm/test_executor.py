"""SlurmExecutor on the real local cluster: every fault ends in the right state."""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Callable

import pytest

from orchestrator.executors.slurm import SlurmExecutor, SubmitError
from tests.slurm.conftest import REPO, JobState, finished, wait_for, write_tasks

pytestmark = pytest.mark.slurm


def _result(task: Path) -> dict[str, Any] | None:
    path = task.parent / "result.json"
    return json.loads(path.read_text()) if path.exists() else None


def test_outcomes_of_one_array(executor: Callable[..., SlurmExecutor], run_dir: Path) -> None:
    """ok / raise / abort / no store / memory hog, all in one array (mem 400 MB per task)."""
    ex = executor(slurm={"mem_gb": 0.4})
    names = ["ok", "boom", "abort", "nothing", "hog"]
    tasks = write_tasks(run_dir, names)
    ids = ex.submit(tasks, "outcomes")
    assert len(ids) == 5 and len({i.split("_")[0] for i in ids}) == 1  # one array
    assert [i.split("_")[1] for i in ids] == ["0", "1", "2", "3", "4"]
    st = dict(zip(names, wait_for(ex, ids, finished, 120).values()))

    assert st["ok"].state is JobState.COMPLETED and st["ok"].exit_code == 0
    assert st["ok"].started_at is not None and abs(st["ok"].started_at - time.time()) < 120
    rec = _result(tasks[0])
    assert rec is not None and rec["status"] == "ok" and rec["values"]["rate"] == 2.0
    assert rec["job_id"] == ids[0]

    assert st["boom"].state is JobState.COMPLETED  # a Python exception is a record, not a crash
    rec = _result(tasks[1])
    assert rec is not None and rec["status"] == "failed" and rec["reason"] == "exception"
    assert "boom: the model diverged" in rec["detail"]

    assert st["abort"].state is JobState.FAILED and _result(tasks[2]) is None
    assert st["abort"].exit_code not in (None, 0)

    rec = _result(tasks[3])
    assert rec is not None and rec["reason"] == "no_datastore"

    assert st["hog"].state is JobState.OUT_OF_MEMORY, st["hog"].detail
    assert _result(tasks[4]) is None


def test_cancel_from_outside(executor: Callable[..., SlurmExecutor], run_dir: Path) -> None:
    ex = executor()
    ids = ex.submit(write_tasks(run_dir, ["sleep"]), "cancel")
    running = wait_for(ex, ids, lambda i: i.state is JobState.RUNNING, 60)
    assert running[ids[0]].started_at is not None
    subprocess.run(["scancel", ids[0]], check=True)
    st = wait_for(ex, ids, finished, 30)[ids[0]]
    assert st.state is JobState.CANCELLED, st.detail
    assert "CANCELLED by 0" in st.detail  # sacct's string, mapped once


def test_never_started_job_stays_pending(executor: Callable[..., SlurmExecutor],
                                         run_dir: Path) -> None:
    """The ``maint`` partition is DOWN: SLURM accepts the job and keeps it PENDING."""
    ex = executor(slurm={"partition": "maint"})
    ids = ex.submit(write_tasks(run_dir, ["ok", "ok"]), "never")
    end = time.monotonic() + 4
    while time.monotonic() < end:
        for info in ex.poll(ids).values():
            assert info.state is JobState.PENDING and info.started_at is None
        time.sleep(0.3)
    assert "PartitionDown" in ex.poll(ids)[ids[0]].detail  # squeue's reason, for the log
    ex.cancel(ids)  # what the controller does at pending_limit_s
    st = wait_for(ex, ids, finished, 30)
    assert all(s.state is JobState.CANCELLED and s.started_at is None for s in st.values())


REATTACH = """
import sys, json
sys.path.insert(0, sys.argv[3])
from tests.slurm.conftest import make_options
from orchestrator.executors.slurm import SlurmExecutor
ex = SlurmExecutor(sys.argv[1], make_options())
print(json.dumps(ex.submit(json.loads(sys.argv[2]), "reattach")))
"""


def test_reattach_from_fresh_executor(run_dir: Path,
                                      executor: Callable[..., SlurmExecutor]) -> None:
    """A controller submits and dies; a new executor on the same folder polls and cancels."""
    tasks = write_tasks(run_dir, ["sleep", "sleep"])
    out = subprocess.run(
        [sys.executable, "-c", REATTACH, str(run_dir / "submitit"),
         json.dumps([str(t) for t in tasks]), str(REPO)],
        capture_output=True, text=True, check=True, cwd=REPO)
    ids = json.loads(out.stdout)
    ex = executor()  # same folder, nothing shared with the dead process but the ids
    st = wait_for(ex, ids, lambda i: i.state in (JobState.RUNNING, JobState.PENDING), 30)
    assert set(st) == set(ids)
    wait_for(ex, ids[:1], lambda i: i.state is JobState.RUNNING, 60)
    ex.cancel(ids)
    st = wait_for(ex, ids, finished, 30)
    assert all(s.state is JobState.CANCELLED for s in st.values())
    assert st[ids[0]].started_at is not None  # it ran: sacct's NodeList tells


def test_submit_failure_raises(executor: Callable[..., SlurmExecutor], run_dir: Path) -> None:
    ex = executor(slurm={"partition": "no_such_partition"})
    with pytest.raises(SubmitError, match="invalid partition|no_such_partition"):
        ex.submit(write_tasks(run_dir, ["ok"]), "bad")


def test_1000_task_array_one_sacct_call(executor: Callable[..., SlurmExecutor],
                                        run_dir: Path) -> None:
    """1000 tasks: one array, polled as the compact pending form ``N_[0-999]``, one scancel."""
    ex = executor(slurm={"partition": "maint"}, poll_interval_s=30.0)
    eval_dir = run_dir / "shared"
    eval_dir.mkdir()
    task = write_tasks(eval_dir, ["ok"])[0]  # never runs: the same file 1000 times
    t0 = time.perf_counter()
    ids = ex.submit([task] * 1000, "big")
    elapsed = time.perf_counter() - t0
    assert len(set(ids)) == 1000 and len({i.split("_")[0] for i in ids}) == 1
    assert ids[-1].endswith("_999")
    time.sleep(1.0)  # let slurmdbd catch up
    st = ex.poll(ids)
    assert all(s.state is JobState.PENDING for s in st.values())
    before = dict(ex.calls)
    ex.poll(ids)
    assert ex.calls == before  # within poll_interval_s: the cached answer, no new query
    # one squeue for the whole queue; no sacct: no job has left the queue
    assert before["squeue"] == 1 and before["sacct"] == 0
    ex.cancel(ids)
    assert ex.calls["scancel"] == 1
    ex.options = dataclasses.replace(ex.options, poll_interval_s=0.2)  # frozen config
    st = wait_for(ex, ids, finished, 60)
    assert all(s.state is JobState.CANCELLED for s in st.values())
    assert elapsed < 5.0, f"submitting 1000 tasks took {elapsed:.2f} s"
