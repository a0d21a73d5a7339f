"""nest_sheet: a NEST E/I network as a subprocess through the command evaluator."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

from tests.examples.conftest import assert_improves, run

pytestmark = pytest.mark.skipif(importlib.util.find_spec("nest") is None,
                                reason="NEST is not installed (pip install nest-simulator)")


def test_nest_sheet(example, tmp_path: Path) -> None:
    folder = tmp_path / "nest_sheet"
    # absolute interpreter and folder: the copy runs from anywhere, with this venv's NEST
    cfg = example("nest_sheet", optimizer={"offspring_size": 4, "max_ngen": 6, "seed": 1},
                  parameters={"duration_ms": 500.0},
                  evaluator={"command": [sys.executable, "run_nest.py"], "cwd": str(folder)})
    df = run(cfg, tmp_path / "run")
    # the config's gate (the mozaik explosion check) may stop a candidate after its check segment
    gated = df["reason"] == "aborted"
    assert ((df["status"] == "ok") | gated).all(), df[["status", "reason", "detail"]]
    assert df.loc[gated, "detail"].str.contains("explosion").all()
    assert_improves(df)
    assert df["value.rate_exc"].notna().all()
    # the simulator's log and the params file stay in each evaluation directory
    eval_dir = Path(df["eval_dir"].iloc[0])
    assert (eval_dir / "params.json").is_file() and (eval_dir / "simulator.log").is_file()
