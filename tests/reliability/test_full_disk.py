"""A full disk during a run: the controller stops cleanly, the last checkpoint stays loadable, and
after space is freed the run resumes and completes without losing or duplicating evaluations."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from orchestrator import load_results
from orchestrator.checkpoint import load_checkpoint

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def small_disk(tmp_path: Path):
    mnt = tmp_path / "small"
    mnt.mkdir()
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1200k", "tmpfs", str(mnt)],
                       capture_output=True, text=True)
    if r.returncode != 0:
        if os.environ.get("CI"):
            pytest.fail(f"cannot mount a tmpfs in CI: {r.stderr.strip()}")
        pytest.skip(f"cannot mount a tmpfs here (needs root): {r.stderr.strip()}")
    yield mnt
    subprocess.run(["umount", str(mnt)], check=False)


def _run(args: list[str]) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, PYTHONPATH=str(REPO))
    return subprocess.run([sys.executable, "-m", "orchestrator", *args, "--no-progress"],
                          cwd=REPO, env=env, capture_output=True, text=True, timeout=600)


@pytest.mark.timeout(900)
def test_disk_full_stops_cleanly_and_resumes(write_config, small_disk: Path) -> None:
    cfg = write_config(
        optimizer={"offspring_size": 4, "max_ngen": 200, "seed": 2},
        evaluator={"kind": "python", "function": "tests.helpers.sims:rate_sheet",
                   "options": {"n": 200}},
        cleanup={"keep_best": -1},   # keep every data store: the disk fills up
    )
    run = small_disk / "run"
    p = _run(["run", str(cfg), "--run-dir", str(run)])
    assert p.returncode == 1, p.stderr[-2000:]
    assert "No space left on device" in p.stderr and "Traceback" not in p.stderr
    assert "checkpoint" in p.stderr and "simtune resume" in p.stderr
    cp = load_checkpoint(run)
    assert cp is not None and 0 < cp.next_generation < 200
    df = load_results(run)
    assert len(df) >= 4 * cp.next_generation, "every checkpointed generation is on record"
    n_before = len(df)

    # free space (drop the data stores), then resume with a budget that fits
    for d in (run / "evals").glob("g*/i*/datastore.h5"):
        d.unlink()
    shutil.rmtree(run / "jobs", ignore_errors=True)
    target = cp.next_generation + 2
    p = _run(["resume", str(run), "--max-ngen", str(target)])
    assert p.returncode == 0, p.stderr[-2000:]
    df = load_results(run)
    assert len(df) == 4 * target >= n_before
    assert not df.duplicated(["generation", "individual"]).any()
    assert sorted(df.generation.unique()) == list(range(target))
