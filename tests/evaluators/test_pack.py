"""Packed evaluations (evaluators.pack.run_pack): K evaluations side by side in one process tree,
each with its own result, reason, time limit and log, whatever its partners do."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from evaluators.pack import oom_kills, run_pack
from simtune_core.record import inbox_name

REPO = Path(__file__).resolve().parents[2]


def _tasks(tmp_path: Path, modes: list[str]) -> list[Path]:
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    paths = []
    for i, mode in enumerate(modes):
        d = tmp_path / f"ind_{i}_{mode}"
        d.mkdir()
        task = {"generation": 0, "individual": i, "eval_dir": str(d), "parameters": {"a": 0.1},
                "seeds": [0], "inbox": str(inbox),
                "evaluator": {"kind": "python", "function": "tests.helpers.sims:misbehave",
                              "options": {"mode": mode}},
                "targets": [{"name": "r", "class": "SpontActivityTarget", "kind": "range",
                             "target_value": [1, 2], "norm": 1.0, "max_score": 20,
                             "sheet_name": "exc", "options": {}}],
                "sys_path": [str(REPO)]}
        (d / "task.json").write_text(json.dumps(task))
        paths.append(d / "task.json")
    return paths


def _result(task: Path) -> dict[str, Any]:
    return json.loads((task.parent / "result.json").read_text())


def test_each_evaluation_of_a_pack_has_its_own_outcome(tmp_path: Path) -> None:
    modes = ["ok", "exception", "sigkill", "sleep", "ok"]
    tasks = _tasks(tmp_path, modes)
    t0 = time.time()
    lines = run_pack([str(t) for t in tasks], time_limit_s=6.0)
    took = time.time() - t0
    recs = [_result(t) for t in tasks]
    assert [(r["status"], r["reason"]) for r in recs] == [
        ("ok", None), ("failed", "exception"), ("failed", "crashed"), ("failed", "timeout"),
        ("ok", None)], [r.get("detail") for r in recs]
    assert "signal 9" in recs[2]["detail"]
    assert "time_limit_s=6" in recs[3]["detail"] and recs[3]["runtime_s"] >= 6.0
    assert recs[1]["scores"] == {"r": 20.0} and "diverged" in recs[1]["detail"]
    # side by side: every evaluation (the last one too) started while the 6 s one still ran,
    # and the pack took one time limit (plus the stop), not the sum of its members' run times
    assert max(r["started_at"] for r in recs) < recs[3]["finished_at"] - 5.0
    assert took < 6.0 + 15.0
    # each one posted its marker and has its own log
    assert sorted(os.listdir(tmp_path / "inbox")) == sorted(
        inbox_name(0, i) for i in range(len(modes)))
    assert all((t.parent / "pack.log").exists() for t in tasks)
    assert lines[0].endswith(": ok") and lines[3].endswith("failed timeout")


def test_a_stale_result_is_not_taken_for_the_evaluation(tmp_path: Path) -> None:
    """A result.json of another evaluation in the directory (a reused run dir) is replaced."""
    (task,) = _tasks(tmp_path, ["sigkill"])
    (task.parent / "result.json").write_text(json.dumps({"generation": 7, "individual": 0,
                                                         "status": "ok"}))
    run_pack([str(task)], time_limit_s=30.0)
    rec = _result(task)
    assert (rec["generation"], rec["status"], rec["reason"]) == (0, "failed", "crashed")


def test_sigterm_to_the_pack_stops_every_member_without_a_result(tmp_path: Path) -> None:
    """scancel / preemption / SLURM's own limit: no member records anything of its own (the
    scheduler's state of the task decides), and no member is left running."""
    tasks = _tasks(tmp_path, ["sleep", "sleep"])
    code = ("import sys; from evaluators.pack import run_pack; "
            "print(run_pack(sys.argv[1:], 600.0))")
    p = subprocess.Popen([sys.executable, "-c", code, *map(str, tasks)], cwd=REPO,
                         env=dict(os.environ, PYTHONPATH=str(REPO)), stdout=subprocess.PIPE,
                         text=True, start_new_session=True)
    deadline = time.time() + 30
    while time.time() < deadline and not all((t.parent / "pack.log").exists() for t in tasks):
        time.sleep(0.1)
    time.sleep(1.0)
    os.kill(p.pid, signal.SIGTERM)
    out, _ = p.communicate(timeout=60)
    assert out.count("no result") == 2, out
    assert not any((t.parent / "result.json").exists() for t in tasks)
    # nothing of the pack's process group is left
    assert subprocess.run(["pgrep", "-g", str(p.pid)], capture_output=True).returncode == 1


@pytest.mark.parametrize("layout", ["v1", "v2"])
def test_oom_kills_reads_the_job_cgroup_and_below(tmp_path: Path, layout: str) -> None:
    rel = "/slurm/uid_0/job_12/step_batch/task_0"
    if layout == "v1":
        base, name, line = tmp_path / "memory", "memory.oom_control", f"4:memory:{rel}"
        content = "oom_kill_disable 0\nunder_oom 0\noom_kill {}\n"
    else:
        base, name, line = tmp_path, "memory.events", f"0::{rel}"
        (tmp_path / "cgroup.controllers").write_text("cpu memory\n")
        content = "low 0\nhigh 0\nmax 3\noom 1\noom_kill {}\n"
    proc = tmp_path / "cgroup"
    proc.write_text(f"{line}\n")
    levels = {"slurm/uid_0": 5, "slurm/uid_0/job_12": 2, "slurm/uid_0/job_12/step_batch": 1}
    for sub, n in levels.items():
        (base / sub).mkdir(parents=True, exist_ok=True)
        (base / sub / name).write_text(content.format(n))
    # the job's and the step's counters; not the parent of the job (other jobs' kills)
    assert oom_kills(proc, tmp_path) == 3
    assert oom_kills(tmp_path / "missing", tmp_path) == 0
