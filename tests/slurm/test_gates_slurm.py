"""Gates inside real SLURM jobs: a command simulator stopped by a gate in its job, children
included, recorded ``aborted``; the others finish."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
import yaml

from orchestrator import load_results
from orchestrator.cli import main
from tests.helpers.staged import gone
from tests.slurm.test_controller_slurm import _cfg

pytestmark = pytest.mark.slurm
REPO = Path(__file__).resolve().parents[2]


@pytest.mark.timeout(300)
def test_a_gate_stops_a_command_simulator_inside_its_job(tmp_path: Path) -> None:
    cfg = _cfg(tmp_path, parameters={"a": [0.0, 1.0], "b": [0.0, 1.0]},
               centroid={"a": 0.5, "b": 0.5},
               targets=[{"class": "SpontActivityTarget", "target_value": [10.0, 20.0],
                         "sheet_name": "exc", "norm": 2.0, "name": "rate"}],
               gates=[{"after": "spontaneous", "target": "rate", "above": 50.0}],
               optimizer={"offspring_size": 6, "max_ngen": 1, "sigma": 0.4, "seed": 4})
    raw = yaml.safe_load(cfg.read_text())
    raw["evaluator"] = {"kind": "command",
                        "command": [sys.executable, str(REPO / "tests/helpers/staged.py")],
                        "env": {"STAGED_OPTIONS": json.dumps({"pause_s": 3.0})}}
    raw["parameters"] = {"a": [0.0, 1.0], "b": [0.0, 1.0]}
    cfg.write_text(yaml.safe_dump(raw, sort_keys=False))
    assert main(["run", str(cfg), "--run-dir", str(tmp_path / "run"), "--no-progress"]) == 0
    df = load_results(tmp_path / "run")
    assert set(df["status"]) == {"ok", "failed"}, df[["param.a", "status", "reason"]]
    assert set(df.loc[df["status"] == "failed", "reason"]) == {"aborted"}, df["detail"].tolist()
    for _, row in df.iterrows():
        d = Path(row["eval_dir"])
        done = sorted(p.name for p in d.glob("done_*"))
        if row["reason"] == "aborted":
            assert done == ["done_0"], (d, done)  # stopped during the pause after segment 0
            assert row["runtime_s"] < 3.0 * 3  # not the 3 pauses of a finished simulation
            for name in ("sim.pid", "child.pid"):
                pid = int((d / name).read_text())
                assert gone(pid, timeout_s=10), \
                    f"{name} {pid} outlived the gate in job {row['job_id']}"
        else:
            assert done == ["done_0", "done_1", "done_2"]
