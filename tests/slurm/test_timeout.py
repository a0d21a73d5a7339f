"""The one slow test: a job past its time limit ends TIMEOUT (≈1.5-2 min)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Callable

import pytest

from orchestrator.executors.slurm import SlurmExecutor
from tests.slurm.conftest import JobState, finished, wait_for, write_tasks

pytestmark = [pytest.mark.slurm, pytest.mark.slow]


def test_time_limit_gives_timeout(executor: Callable[..., SlurmExecutor], run_dir: Path) -> None:
    ex = executor(time_limit_s=30, slurm={"signal_delay_s": 20})  # --time=1 (whole minutes)
    tasks = write_tasks(run_dir, ["sleep"])
    t0 = time.monotonic()
    ids = ex.submit(tasks, "timeout")
    st = wait_for(ex, ids, finished, 200)[ids[0]]
    took = time.monotonic() - t0
    assert st.state is JobState.TIMEOUT, st.detail
    assert not (tasks[0].parent / "result.json").exists()
    # the USR2 warning (at 40 s) did not end the evaluation: it ran on until SLURM's kill
    assert 55 < took < 150, took
