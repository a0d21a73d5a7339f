"""Fixtures for tests on the real local SLURM cluster (``scripts/slurm-up.sh``).

The session fixture brings the cluster up (or, with ``SIMTUNE_SLURM_UP=1``, only checks that
``scontrol ping`` says UP). When the cluster is not available the tests FAIL if ``CI`` is set;
otherwise they are skipped (e.g. not root).
"""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import time
from pathlib import Path
from typing import Any, Callable, Sequence

import pytest

from orchestrator.config import ExecutorConfig
from orchestrator.executors import JobInfo, JobState
from orchestrator.executors.slurm import SlurmExecutor

REPO = Path(__file__).resolve().parents[2]


def _ping() -> bool:
    try:
        out = subprocess.run(["scontrol", "ping"], capture_output=True, text=True, timeout=20)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return "is UP" in out.stdout


def _unavailable(why: str) -> None:
    if os.environ.get("CI"):
        pytest.fail(f"SLURM cluster not available (CI is set): {why}")
    pytest.skip(f"SLURM cluster not available: {why}")


@pytest.fixture(scope="session")
def slurm_cluster() -> None:
    if os.environ.get("SIMTUNE_SLURM_UP") == "1" or os.geteuid() != 0:
        if not _ping():
            _unavailable("scontrol ping is not UP" + (
                "" if os.geteuid() == 0 else " (and not root: cannot run scripts/slurm-up.sh)"))
        return
    res = subprocess.run([str(REPO / "scripts" / "slurm-up.sh")], capture_output=True, text=True,
                         timeout=600)
    if res.returncode != 0 or not _ping():
        _unavailable(f"scripts/slurm-up.sh exit {res.returncode}: {res.stderr[-2000:]}")


@pytest.fixture(autouse=True)
def _needs_cluster(request: pytest.FixtureRequest) -> None:
    if request.node.get_closest_marker("slurm") is not None:
        request.getfixturevalue("slurm_cluster")


def make_options(**kw: Any) -> ExecutorConfig:
    """The ``executor`` section for these tests: SLURM, a short time limit and fast polling.

    Keyword arguments override its fields; ``slurm={...}`` overrides fields of ``executor.slurm``.
    """
    base = ExecutorConfig(kind="slurm", time_limit_s=120.0, poll_interval_s=0.2)
    slurm = dataclasses.replace(base.slurm, **kw.pop("slurm", {}))
    return dataclasses.replace(base, slurm=slurm, **kw)


@pytest.fixture
def run_dir(tmp_path: Path) -> Path:
    d = tmp_path / "run 'dir' $(x)"  # weird on purpose: nothing may go through a shell
    d.mkdir()
    return d


@pytest.fixture
def executor(run_dir: Path) -> Callable[..., SlurmExecutor]:
    def _make(**kw: Any) -> SlurmExecutor:
        return SlurmExecutor(run_dir / "submitit", make_options(**kw))
    return _make


def write_tasks(run_dir: Path, functions: Sequence[str],
                parameters: dict[str, float] | None = None) -> list[Path]:
    """One task file per python function of tests/slurm/sims.py; returns their paths."""
    paths = []
    for i, fn in enumerate(functions):
        eval_dir = run_dir / "gen_0" / f"ind_{i}_{fn}"
        eval_dir.mkdir(parents=True)
        task = {"generation": 0, "individual": i, "eval_dir": str(eval_dir),
                "parameters": dict(parameters or {"x": 1.0}), "seeds": [1],
                "evaluator": {"kind": "python", "function": f"tests.slurm.sims:{fn}"},
                "targets": [{"name": "rate", "class": "SpontActivityTarget", "kind": "range",
                             "target_value": [1.0, 3.0], "norm": 0.2, "max_score": 20.0,
                             "sheet_name": "exc", "options": {}}]}
        path = eval_dir / "task.json"
        path.write_text(json.dumps(task))
        paths.append(path)
    return paths


def wait_for(ex: SlurmExecutor, ids: Sequence[str], until: Callable[[JobInfo], bool],
             timeout: float) -> dict[str, JobInfo]:
    """Poll until ``until(info)`` holds for every id; fail with the last states otherwise."""
    end = time.monotonic() + timeout
    while True:
        states = ex.poll(ids)
        if all(until(s) for s in states.values()):
            return states
        if time.monotonic() > end:
            counts: dict[str, int] = {}
            for v in states.values():
                counts[v.state.value] = counts.get(v.state.value, 0) + 1
            first = next(iter(states.items()))
            pytest.fail(f"timed out after {timeout} s; states: {counts}; "
                        f"{first[0]}: {first[1].detail[-500:]}")
        time.sleep(0.25)


def finished(info: JobInfo) -> bool:
    return info.state.is_finished()


__all__ = ["JobState", "make_options", "write_tasks", "wait_for", "finished", "REPO"]
