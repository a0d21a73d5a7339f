"""slurmctld stops for 30 s in the middle of a run (scripts/slurm-ctld.sh): the controller's
sbatch/squeue/sacct calls fail transiently, are retried with back-off, and the run finishes with
every evaluation ok: no ``submit_failed``, nothing lost, no simulation run twice."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest

from orchestrator import load_results
from tests.slurm.test_controller_slurm import _cfg, _env, _inflight_jobs, _squeue_state, _wait

pytestmark = pytest.mark.slurm
REPO = Path(__file__).resolve().parents[2]
CTLD = REPO / "scripts" / "slurm-ctld.sh"


def _ctld(action: str) -> None:
    res = subprocess.run([str(CTLD), action], capture_output=True, text=True, timeout=180)
    assert res.returncode == 0, f"slurm-ctld.sh {action}: {res.stderr[-2000:]}"


@pytest.mark.timeout(900)
@pytest.mark.skipif(os.geteuid() != 0, reason="stopping slurmctld needs root")
def test_slurmctld_down_for_30_s_mid_run_every_evaluation_ok(tmp_path: Path) -> None:
    # two evaluations a generation: both run at once on the 2-CPU node, so generation 0 ends
    # while slurmctld is down and generation 1's sbatch meets the outage
    cfg = _cfg(tmp_path, optimizer={"offspring_size": 2, "max_ngen": 3},
               executor={"slurm": {"scheduler_retry_s": 300}},
               evaluator={"kind": "python", "function": "tests.helpers.sims:rate_sheet",
                          "options": {"sleep_s": 6}})
    run, counter, log = tmp_path / "run", tmp_path / "count", tmp_path / "controller.log"
    env = _env(SIMTUNE_TEST_COUNTER=str(counter))
    with log.open("w") as out:
        p = subprocess.Popen([sys.executable, "-m", "orchestrator", "run", str(cfg), "--run-dir",
                              str(run), "--no-progress"], cwd=REPO, env=env, stdout=out,
                             stderr=subprocess.STDOUT)
    try:
        _wait(lambda: len(_inflight_jobs(run)) == 2, 120, "generation 0 to be submitted")
        first = [j["job_id"] for j in _inflight_jobs(run).values()]
        _wait(lambda: all(_squeue_state(j) == "RUNNING" for j in first), 120, "both to start")
        _ctld("stop")
        t0 = time.time()
        # generation 0 ends while slurmctld is down: its results still arrive (the workers'
        # markers in RUN_DIR/inbox/), generation 1's sbatch meets a dead controller: retried
        while time.time() - t0 < 30:
            assert p.poll() is None, log.read_text()[-3000:]
            time.sleep(1)
    finally:
        _ctld("start")
    assert p.wait(timeout=600) == 0, log.read_text()[-3000:]
    text = (run / "simtune.log").read_text()
    assert "sbatch: transient scheduler error" in text, text[-3000:]
    df = load_results(run)
    # generation 1 was asked while slurmctld was down and ran once it was back
    assert (df[df.generation == 1].started_at > t0 + 25).all()
    assert len(df) == 6 and (df.status == "ok").all(), df[["generation", "status", "reason"]]
    calls = Counter(counter.read_text().splitlines())
    assert sum(calls.values()) == 6 and max(calls.values()) == 1, "no simulation ran twice"
