"""Shared fixtures: small configs on the test simulator (tests/helpers/sims.py)."""

from __future__ import annotations

import copy
import os
import sys
from pathlib import Path
from typing import Any, Callable

import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))
# job processes started by submitit inherit the environment: let them import tests.helpers
os.environ["PYTHONPATH"] = os.pathsep.join(
    [str(REPO)] + [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p])

BASE_CONFIG: dict[str, Any] = {
    "name": "t",
    "parameters": {"a": [0.0, 1.0], "b": [0.0, 2.0], "c": [0.0, 2.0], "k": 3.0, "d": "a + k"},
    "targets": [
        {"class": "SpontActivityTarget", "target_value": [4.0, 5.0], "sheet_name": "exc",
         "norm": 0.2},
        {"class": "IrregularityTarget", "target_value": 1.0, "sheet_name": "exc", "norm": 0.1},
    ],
    "optimizer": {"offspring_size": 4, "seed": 3, "max_ngen": 2},
    "executor": {"kind": "local", "time_limit_s": 60, "poll_interval_s": 0.2},
    "evaluator": {"kind": "python", "function": "tests.helpers.sims:rate_sheet"},
    "cleanup": {"keep_best": 2},
}


def deep_update(base: dict[str, Any], upd: dict[str, Any]) -> dict[str, Any]:
    out = copy.deepcopy(base)
    for k, v in upd.items():
        if isinstance(v, dict) and isinstance(out.get(k), dict):
            out[k] = deep_update(out[k], v)
        else:
            out[k] = copy.deepcopy(v)
    return out


@pytest.fixture
def write_config(tmp_path: Path) -> Callable[..., Path]:
    """``write_config(name="cfg", **updates)`` writes BASE_CONFIG updated deeply; returns path."""

    def _write(name: str = "cfg", raw: dict[str, Any] | None = None, **updates: Any) -> Path:
        data = raw if raw is not None else deep_update(BASE_CONFIG, updates)
        path = tmp_path / f"{name}.yaml"
        path.write_text(yaml.safe_dump(data, sort_keys=False))
        return path

    return _write
