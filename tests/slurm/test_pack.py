"""``executor.pack`` on the real cluster: K evaluations per array task, side by side, each with
its own record and failure reason (an OOM kill and a time limit inside a pack hit only their own
evaluation), and a whole run through the CLI with one job per K evaluations."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any, Callable

import pytest

from orchestrator import load_results
from orchestrator.cli import main
from orchestrator.executors.slurm import SlurmExecutor
from tests.slurm.conftest import finished, wait_for, write_tasks
from tests.slurm.test_controller_slurm import _cfg

pytestmark = pytest.mark.slurm


def _result(task: Path) -> dict[str, Any]:
    return json.loads((task.parent / "result.json").read_text())


def _sacct(field: str, job: str) -> str:
    out = subprocess.run(["sacct", "-j", job, "-n", "-P", "-X", "-o", field],
                         capture_output=True, text=True)
    return out.stdout.strip()


@pytest.mark.timeout(300)
def test_each_member_of_a_pack_keeps_its_own_outcome(executor: Callable[..., SlurmExecutor],
                                                     run_dir: Path) -> None:
    ex = executor(pack=2, time_limit_s=20, slurm={"mem_gb": 0.4})
    names = ["ok", "hog", "sleep", "ok", "boom"]
    tasks = write_tasks(run_dir, names)
    ids = ex.submit(tasks, "packed")
    # 2 + 2 in one array (2 CPUs, 800 MB each), the fifth alone in another (1 CPU, 400 MB)
    assert ids[0] == ids[1] and ids[2] == ids[3] and len(set(ids)) == 3, ids
    assert ids[0].split("_")[0] == ids[2].split("_")[0] != ids[4].split("_")[0]
    wait_for(ex, ids, finished, 240)
    assert _sacct("AllocCPUS", ids[0]) == "2" and _sacct("AllocCPUS", ids[4]) == "1"
    recs = [_result(t) for t in tasks]
    got = [(r["status"], r["reason"]) for r in recs]
    assert got == [("ok", None), ("failed", "out_of_memory"), ("failed", "timeout"),
                   ("ok", None), ("failed", "exception")], [r.get("detail") for r in recs]
    assert recs[0]["values"]["rate"] == 2.0 and recs[3]["values"]["rate"] == 2.0
    assert "OOM" in recs[1]["detail"] and "time_limit_s=20" in recs[2]["detail"]
    # the time limit was the evaluation's, enforced inside the job: not SLURM's whole-task kill
    assert 20 <= recs[2]["runtime_s"] < 20 + 20
    assert all(r["job_id"] == i for r, i in zip(recs, ids))


@pytest.mark.timeout(600)
def test_a_packed_run_end_to_end(tmp_path: Path) -> None:
    cfg = _cfg(tmp_path, optimizer={"offspring_size": 6, "max_ngen": 2},
               executor={"pack": 2},
               evaluator={"kind": "python", "function": "tests.helpers.sims:rate_sheet",
                          "options": {"sleep_s": 1}})
    assert main(["run", str(cfg), "--run-dir", str(tmp_path / "run"), "--no-progress"]) == 0
    df = load_results(tmp_path / "run")
    assert len(df) == 12 and (df.status == "ok").all(), df[["status", "reason", "detail"]]
    jobs = df.groupby("generation").job_id.nunique()
    assert list(jobs) == [3, 3], df[["generation", "individual", "job_id"]]  # 6 = 3 packs of 2
    assert df.eval_dir.nunique() == 12


def test_a_pack_larger_than_any_node_is_refused_before_anything_is_written(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """pack 3 x 1 CPU on the 2-CPU test node: exit 2 naming the key, no run directory."""
    cfg = _cfg(tmp_path, executor={"pack": 3})
    assert main(["run", str(cfg), "--run-dir", str(tmp_path / "run"), "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert "executor.pack: expected at most 2 (3 x slurm.cpus_per_task 1" in err, err
    assert err.strip().endswith("found 3") and not (tmp_path / "run").exists()
