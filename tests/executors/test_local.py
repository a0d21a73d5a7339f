"""The local executor: one process per evaluation, its time limit, cancel, re-attach by pid."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from orchestrator.config.sections import ExecutorConfig
from orchestrator.executors import local as local_mod
from orchestrator.executors._base import JobState
from orchestrator.executors.local import LocalExecutor

REPO = Path(__file__).resolve().parents[2]


def _task(root: Path, name: str, evaluator: dict[str, Any]) -> Path:
    d = root / name
    d.mkdir(parents=True)
    task = {"generation": 0, "individual": 0, "eval_dir": str(d), "parameters": {"a": 0.2},
            "seeds": [0], "evaluator": evaluator,
            "targets": [{"name": "r", "class": "SpontActivityTarget", "kind": "range",
                         "target_value": [1, 2], "norm": 1.0, "max_score": 20,
                         "sheet_name": "exc", "options": {}}],
            "sys_path": [str(REPO)]}
    (d / "task.json").write_text(json.dumps(task))
    return d / "task.json"


def _wait(ex: LocalExecutor, jid: str, timeout: float = 60.0) -> Any:
    deadline = time.time() + timeout
    while time.time() < deadline:
        info = ex.poll([jid])[jid]
        if info.state.is_finished():
            return info
        time.sleep(0.1)
    raise AssertionError(f"job {jid} still {info.state} after {timeout} s")


def _gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] in ("Z", "X")


def _sleeper(tmp_path: Path) -> tuple[dict[str, Any], Path]:
    """A command simulator (its own session, like a user's) that writes its pid and sleeps."""
    pidfile = tmp_path / "sim.pid"
    code = f"import os, time; open({str(pidfile)!r}, 'w').write(str(os.getpid())); time.sleep(3600)"
    return {"kind": "command", "command": [sys.executable, "-c", code]}, pidfile


def _sim_pid(pidfile: Path) -> int:
    deadline = time.time() + 30
    while not pidfile.exists() or not pidfile.read_text():
        assert time.time() < deadline, "the simulator never started"
        time.sleep(0.05)
    return int(pidfile.read_text())


def test_a_job_runs_in_its_own_process_and_writes_its_result(tmp_path: Path) -> None:
    ex = LocalExecutor(tmp_path / "jobs", ExecutorConfig(max_parallel=2))
    task = _task(tmp_path, "ok", {"kind": "python", "function": "tests.helpers.sims:rate_sheet"})
    [jid] = ex.submit([task])
    assert ex.capacity() == 1
    info = _wait(ex, jid)
    assert info.state is JobState.COMPLETED and info.exit_code == 0
    rec = json.loads((task.parent / "result.json").read_text())
    assert rec["status"] == "ok" and rec["job_id"] == jid and rec["pid"] == int(jid)
    assert (tmp_path / "jobs" / f"{jid}_0_log.err").exists()
    assert ex.capacity() == 2  # its slot is free once it ended


def test_time_limit_stops_the_job_and_its_simulator(tmp_path: Path) -> None:
    ev, pidfile = _sleeper(tmp_path)
    ex = LocalExecutor(tmp_path / "jobs", ExecutorConfig(time_limit_s=2.0))
    [jid] = ex.submit([_task(tmp_path, "slow", ev)])
    sim = _sim_pid(pidfile)
    t0 = time.time()
    info = _wait(ex, jid)
    assert info.state is JobState.TIMEOUT
    assert time.time() - t0 < local_mod.KILL_GRACE_S, "SIGTERM stopped it, not SIGKILL"
    assert not (tmp_path / "slow" / "result.json").exists()
    deadline = time.time() + 15
    while not _gone(sim):
        assert time.time() < deadline, "the simulator outlived its job"
        time.sleep(0.1)


def test_a_job_that_ignores_sigterm_is_killed_after_the_grace(tmp_path: Path,
                                                               monkeypatch) -> None:
    monkeypatch.setattr(local_mod, "KILL_GRACE_S", 1.0)
    pidfile = tmp_path / "child.pid"
    ev = {"kind": "python", "function": "tests.helpers.sims:stubborn",
          "options": {"pidfile": str(pidfile)}}
    ex = LocalExecutor(tmp_path / "jobs", ExecutorConfig())
    [jid] = ex.submit([_task(tmp_path, "stubborn", ev)])
    grand = _sim_pid(pidfile)
    ex.cancel([jid])
    info = _wait(ex, jid)
    assert info.state is JobState.CANCELLED
    deadline = time.time() + 10
    while not _gone(grand):
        ex.poll([jid])
        assert time.time() < deadline, "a process of the job's group survived SIGKILL"
        time.sleep(0.1)


def test_a_resumed_controller_reattaches_and_cancels_by_pid(tmp_path: Path) -> None:
    ev, pidfile = _sleeper(tmp_path)
    first = LocalExecutor(tmp_path / "jobs", ExecutorConfig())
    [jid] = first.submit([_task(tmp_path, "long", ev)])
    sim = _sim_pid(pidfile)
    first.close()
    second = LocalExecutor(tmp_path / "jobs", ExecutorConfig())  # a new controller
    info = second.poll([jid])[jid]
    assert info.state is JobState.RUNNING and "re-attached" in info.detail
    # a pid that runs but is not a job of this folder (a recycled pid) is not taken for one
    stranger = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        assert second.poll([str(stranger.pid)])[str(stranger.pid)].state.is_finished()
    finally:
        stranger.kill()
        stranger.wait()
    second.cancel([jid])
    assert _wait(second, jid).state is JobState.CANCELLED
    deadline = time.time() + 15
    while not _gone(sim):
        assert time.time() < deadline, "the simulator outlived its cancelled job"
        time.sleep(0.1)
    first._jobs[jid].proc.wait(timeout=10)  # (reap it: the test process is its parent)


def test_a_job_stops_itself_at_its_limit_with_no_controller(tmp_path: Path,
                                                            monkeypatch) -> None:
    # the job's own backstop is time_limit_s + SELF_LIMIT_MARGIN_S; here 60 - 58 = 2 s
    monkeypatch.setattr(local_mod, "SELF_LIMIT_MARGIN_S", -58.0)
    ev = {"kind": "python", "function": "tests.helpers.sims:misbehave",
          "options": {"mode": "sleep"}}
    ex = LocalExecutor(tmp_path / "jobs", ExecutorConfig(time_limit_s=60.0))
    task = _task(tmp_path, "orphan", ev)
    [jid] = ex.submit([task])
    proc = ex._jobs[jid].proc
    assert proc is not None
    assert proc.wait(timeout=40) == 143  # never polled: it stopped itself, result-less
    assert not (task.parent / "result.json").exists()


@pytest.mark.parametrize("name", ["evaluators.py", "evaluators"])
def test_a_model_folder_cannot_shadow_the_worker(tmp_path: Path, name: str,
                                                 monkeypatch) -> None:
    """A job started in a model folder holding its own ``evaluators`` still runs simtune's."""
    model = tmp_path / "model"
    model.mkdir()
    shadow = model / name
    if name.endswith(".py"):
        shadow.write_text("raise SystemExit('the user module was imported')\n")
    else:
        shadow.mkdir()
        (shadow / "__init__.py").write_text("raise SystemExit('the user package was imported')\n")
    monkeypatch.chdir(model)
    ex = LocalExecutor(tmp_path / "jobs", ExecutorConfig())
    task = _task(tmp_path, "ok", {"kind": "python", "function": "tests.helpers.sims:rate_sheet"})
    [jid] = ex.submit([task])
    assert _wait(ex, jid).state is JobState.COMPLETED
    assert json.loads((task.parent / "result.json").read_text())["status"] == "ok"
