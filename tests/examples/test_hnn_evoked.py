"""hnn_evoked: hnn-core's evoked-response fit (slow: NEURON, tens of seconds per trial)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from tests.examples.conftest import EXAMPLES, assert_improves, run

DATA = (EXAMPLES / "hnn_evoked" / "../../../shared/data/yes_trial_S1_ERP_all_avg.txt").resolve()

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(importlib.util.find_spec("hnn_core") is None,
                       reason="hnn-core is not installed (pip install hnn_core)"),
    pytest.mark.skipif(not DATA.is_file(), reason=f"the measured dipole is absent: {DATA}"),
]


def test_hnn_evoked(example, tmp_path: Path) -> None:
    # coarser time step, one trial, 4 x 2 evaluations: a smoke test of the pipeline
    cfg = example("hnn_evoked", repeats=1, evaluator={"options": {"dt": 0.1}},
                  optimizer={"offspring_size": 4, "max_ngen": 2, "seed": 1})
    import yaml

    raw = yaml.safe_load(cfg.read_text())
    raw["targets"][0]["target_file"] = str(DATA)  # the copy is not beside shared/data
    cfg.write_text(yaml.safe_dump(raw, sort_keys=False))
    df = run(cfg, tmp_path / "run")
    assert (df["status"] == "ok").all(), df[["status", "reason", "detail"]]
    assert df["value.dipole_rmse"].notna().all()
    assert_improves(df)
