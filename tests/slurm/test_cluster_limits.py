"""A cluster with real-world limits (``scripts/slurm-up.sh --limits``: MaxArraySize=5, a QOS with
MaxSubmitJobsPerUser=8 as the user's default): the executor reads both, a generation of 23 is
submitted as arrays of at most 5 with every index < 5, never more than 8 jobs are queued (sbatch
would refuse the ninth), and every evaluation is ok. The normal cluster is restored afterwards."""

from __future__ import annotations

import os
import subprocess
import threading
from pathlib import Path
from typing import Iterator

import pytest

from orchestrator import load_results
from orchestrator.cli import main
from orchestrator.executors.slurm import SlurmExecutor
from tests.slurm.conftest import make_options
from tests.slurm.test_controller_slurm import _cfg

pytestmark = pytest.mark.slurm
REPO = Path(__file__).resolve().parents[2]
UP = REPO / "scripts" / "slurm-up.sh"


def _up(*args: str) -> None:
    res = subprocess.run([str(UP), *args], capture_output=True, text=True, timeout=600)
    assert res.returncode == 0, f"slurm-up.sh {' '.join(args)}: {res.stderr[-2000:]}"


@pytest.fixture
def limited_cluster() -> Iterator[None]:
    if os.geteuid() != 0:
        pytest.skip("reconfiguring the cluster needs root")
    _up("--limits")
    try:
        yield
    finally:
        _up()


def _queued() -> int:
    out = subprocess.run(["squeue", "-h", "-r", "-o", "%i"], capture_output=True, text=True)
    return len(out.stdout.split())


@pytest.mark.timeout(900)
def test_limits_read_chunked_arrays_and_submit_throttle(limited_cluster: None,
                                                        tmp_path: Path) -> None:
    lim = SlurmExecutor(tmp_path / "probe", make_options()).limits()
    assert (lim.max_array_size, lim.max_submit_jobs) == (5, 8), lim.source
    # the limit is real: sbatch itself refuses a ninth queued job of the user
    jobs = [subprocess.run(["sbatch", "--parsable", "--hold", "--wrap=true", "-o", "/dev/null"],
                           capture_output=True, text=True) for _ in range(9)]
    held = [j.stdout.strip() for j in jobs if j.returncode == 0]
    subprocess.run(["scancel", *held], check=False)
    assert len(held) == 8 and "QOSMaxSubmitJobPerUserLimit" in jobs[-1].stderr, jobs[-1].stderr

    peak = [0]
    stop = threading.Event()

    def watch() -> None:
        while not stop.is_set():
            peak[0] = max(peak[0], _queued())
            stop.wait(0.2)

    t = threading.Thread(target=watch, daemon=True)
    t.start()
    try:
        cfg = _cfg(tmp_path, optimizer={"offspring_size": 23, "max_ngen": 1},
                   evaluator={"kind": "python", "function": "tests.helpers.sims:rate_sheet",
                              "options": {"sleep_s": 1}})
        assert main(["run", str(cfg), "--run-dir", str(tmp_path / "run"), "--no-progress"]) == 0
    finally:
        stop.set()
        t.join()
    df = load_results(tmp_path / "run")
    assert len(df) == 23 and (df.status == "ok").all(), df[["status", "reason", "detail"]]
    assert 5 <= peak[0] <= 8
    # (a single task is submitted as a plain job, "1234", not "1234_0")
    idx = [int(j.split("_")[1]) if "_" in j else 0 for j in df.job_id]
    assert max(idx) == 4  # full arrays of 5, every index below MaxArraySize
    assert len({j.split("_")[0] for j in df.job_id}) >= 5  # 23 tasks: at least five arrays
