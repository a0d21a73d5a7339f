"""A user's ``targets.py`` and ``evaluator.py`` beside the config (the mozaik tool's layout)
are imported without shadowing simtune's own ``targets`` and ``evaluators`` packages."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[2]

USER_TARGETS = '''
from targets import Target          # simtune's package, although this file is targets.py

class HalfRate(Target):
    kind = "exact"
    def __init__(self, sheet_name=None):
        super().__init__(sheet_name)
    def compute(self, store):
        import numpy as np
        seg = store.segments(kind="spontaneous")[0]
        times, offsets = store.spikes(seg, self.sheet_name)
        return 0.5 * len(times) / (len(offsets) - 1) / (seg.duration_ms / 1000.0)
'''

USER_EVALUATOR = '''
import helpers                      # another file beside the config

def simulate(parameters, out_dir, seed):
    return helpers.trains(parameters["rate"])
'''

USER_HELPERS = '''
def trains(rate):
    n = int(rate)
    return {"spikes": {"exc": [[10.0 * (k + 1) for k in range(n)] for _ in range(4)]},
            "duration_ms": 1000.0}
'''


def _config(folder: Path) -> Path:
    (folder / "targets.py").write_text(USER_TARGETS)
    (folder / "evaluator.py").write_text(USER_EVALUATOR)
    (folder / "helpers.py").write_text(USER_HELPERS)
    cfg = {
        "name": "user_modules",
        "parameters": {"rate": [2.0, 20.0], "other": [0.0, 1.0]},
        "targets": [
            {"class": "targets:HalfRate", "target_value": 5.0, "sheet_name": "exc",
             "norm": 1.0},
            {"class": "SpontActivityTarget", "target_value": [9.0, 11.0], "sheet_name": "exc",
             "norm": 1.0},
        ],
        "optimizer": {"offspring_size": 4, "max_ngen": 1, "seed": 2},
        "executor": {"kind": "local", "time_limit_s": 60, "poll_interval_s": 0.2},
        "evaluator": {"kind": "python", "function": "evaluator:simulate"},
    }
    path = folder / "config.yaml"
    path.write_text(yaml.safe_dump(cfg, sort_keys=False))
    return path


def _simtune(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, PYTHONPATH=str(REPO))
    return subprocess.run([sys.executable, "-m", "orchestrator", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=300)


def test_validate_and_run_with_user_targets_and_evaluator(tmp_path: Path) -> None:
    folder = tmp_path / "my model"
    folder.mkdir()
    cfg = _config(folder)
    res = _simtune("validate", str(cfg), cwd=folder)  # the config's folder as cwd, too
    assert res.returncode == 0, res.stderr
    assert "valid" in res.stdout
    # run from the model's folder: the job processes start there too
    res = _simtune("run", str(cfg), "--run-dir", str(tmp_path / "run"), "--no-progress",
                   cwd=folder)
    assert res.returncode == 0, res.stderr
    rows = [json.loads(line) for line in (tmp_path / "run" / "results.jsonl").open()]
    assert len(rows) == 4 and all(r["status"] == "ok" for r in rows)
    for r in rows:  # both the user's target and simtune's own were computed
        n = int(r["parameters"]["rate"])
        assert r["values"]["HalfRate[exc]"] == 0.5 * n
        assert r["values"]["SpontActivityTarget[exc]"] == n
