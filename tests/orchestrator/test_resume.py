"""Crash and resume: kill -9 the controller mid-generation, resume, compare with an uninterrupted run."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pandas as pd
import pytest

from orchestrator import load_results
from orchestrator.cli import main

REPO = Path(__file__).resolve().parents[2]


def _controller(args: list[str], env: dict[str, str]) -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, "-m", "orchestrator", *args, "--no-progress"],
                            cwd=REPO, env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)


def _env(counter: Path) -> dict[str, str]:
    env = dict(os.environ)
    env["SIMTUNE_TEST_COUNTER"] = str(counter)
    env["PYTHONPATH"] = str(REPO)
    return env


def _wait_for(pred, timeout: float = 60.0) -> None:
    t0 = time.time()
    while not pred():
        assert time.time() - t0 < timeout, "condition not reached"
        time.sleep(0.05)


@pytest.mark.parametrize("surrogate", ["lq", "composite"])
def test_kill9_mid_generation_then_resume(write_config, tmp_path: Path, surrogate: str) -> None:
    cfg = write_config(
        optimizer={"offspring_size": 6, "max_ngen": 3, "seed": 11, "surrogate": surrogate},
        executor={"max_parallel": 2},
        evaluator={"kind": "python", "function": "tests.helpers.sims:rate_sheet",
                   "options": {"sleep_s": 0.4}},
    )
    # the uninterrupted reference run
    ref_counter = tmp_path / "ref.count"
    p = _controller(["run", str(cfg), "--run-dir", str(tmp_path / "ref")], _env(ref_counter))
    assert p.wait(timeout=120) == 0
    ref = load_results(tmp_path / "ref")

    counter = tmp_path / "crash.count"
    run = tmp_path / "crash"
    p = _controller(["run", str(cfg), "--run-dir", str(run)], _env(counter))
    # kill -9 while generation 1 runs: some results written, jobs still running
    g1 = run / "evals" / "g0001"
    _wait_for(lambda: len(list(g1.glob("i*/result.json"))) >= 2)
    os.kill(p.pid, signal.SIGKILL)
    p.wait()
    assert (run / "inflight.json").exists()
    done_before = len(list(g1.glob("i*/result.json")))
    assert done_before < 6, "the kill must land inside the generation"
    # the lock of the dead controller does not block the resume
    r = _controller(["resume", str(run)], _env(counter))
    assert r.wait(timeout=120) == 0

    got = load_results(run)
    cols = [c for c in ref.columns if c.startswith(("param.", "score.", "value."))]
    cols += ["generation", "individual", "status", "total_score"]
    pd.testing.assert_frame_equal(got[cols], ref[cols])
    # no finished simulation re-run, none lost: the simulator ran exactly as often
    ref_calls = Counter(ref_counter.read_text().splitlines())
    calls = Counter(counter.read_text().splitlines())
    assert calls == ref_calls
    assert not (run / "inflight.json").exists()


def test_second_controller_refused(write_config, tmp_path: Path, capsys) -> None:
    from orchestrator.rundir import RunLock

    cfg = write_config(optimizer={"max_ngen": 1})
    assert main(["run", str(cfg), "--run-dir", str(tmp_path / "run"), "--no-progress"]) == 0
    with RunLock(tmp_path / "run"):  # another controller holds the run
        assert main(["resume", str(tmp_path / "run"), "--max-ngen", "2", "--no-progress"]) == 4
    err = capsys.readouterr().err
    assert "another simtune controller is running" in err and f"pid {os.getpid()}" in err
    # released: a resume now works
    assert main(["resume", str(tmp_path / "run"), "--max-ngen", "2", "--no-progress"]) == 0
    assert len(load_results(tmp_path / "run")) == 8
