"""neuron_fit: AdEx fitted to recorded data and to a reference model (CompNeuroPy's job)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from tests.examples.conftest import assert_improves, run

BUDGET = {"optimizer": {"offspring_size": 6, "max_ngen": 3, "seed": 2},
          "executor": {"max_parallel": 2},
          "evaluator": {"options": {"duration_ms": 300.0, "dt_ms": 0.2}}}


def test_fit_to_recorded_data(example, tmp_path: Path) -> None:
    # the recorded trace is 600 ms long; a 300 ms run is compared on the common range
    cfg = example("neuron_fit", repeats=2, **BUDGET)
    df = run(cfg, tmp_path / "run")
    assert (df["status"] == "ok").all(), df[["status", "reason"]]
    assert_improves(df)
    # per-target scores and repeat std are recorded; the derived tau_m is a recorded parameter
    for t in ("v_hyper_rmse", "rate_low", "rate_high", "adaptation_low", "plausible_tau_m"):
        assert f"score.{t}" in df
    assert df["std.rate_low"].notna().any()
    assert np.allclose(df["param.tau_m"], df["param.C"] / df["param.g_L"])
    # the best evaluation's data store, with its voltage traces, is kept
    from evaluators.datastore import DataStore

    best = df.loc[df["total_score"].idxmin()]
    stores = sorted(Path(best["eval_dir"]).rglob("datastore.h5"))
    assert len(stores) == 2  # one per repeat
    with DataStore(stores[0]) as s:
        t, v = s.timeseries("v_hyper")
        assert t.size == v.size > 100


def test_reference_mode(example, tmp_path: Path) -> None:
    from evaluators.evaluate import evaluate
    from orchestrator.config import load_config

    cfg_path = example("neuron_fit", config="neuron_fit_reference.yaml", repeats=2, **BUDGET)
    df = run(cfg_path, tmp_path / "run")
    assert_improves(df)
    meta = json.loads((tmp_path / "run" / "run.json").read_text())
    ref_values = meta["reference_values"]
    assert set(ref_values) == {"v_steady_hyper", "v_early_hyper", "rate_low", "rate_high",
                               "adaptation_low"}
    assert ref_values["v_steady_hyper"] < -75  # a hyperpolarised steady state, not a placeholder
    # evaluating the reference parameters again with the same seeds reproduces the reference's
    # own values (means over the repeats) with a score of 0 and a recorded std
    cfg = load_config(cfg_path)
    fitted = cfg.with_target_values(ref_values)
    params = cfg.space.complete({k: v for k, v in cfg.reference.parameters.items()})
    task = {"generation": 0, "individual": 0, "eval_dir": str(tmp_path / "again"),
            "parameters": params, "seeds": [0, 1], "evaluator": cfg.evaluator.spec(),
            "targets": [t.spec() for t in fitted.targets]}
    rec = evaluate(task)
    assert rec.status == "ok", rec
    assert rec.total_score == pytest.approx(0.0, abs=1e-9)
    for name, value in ref_values.items():
        assert rec.values[name] == pytest.approx(value, rel=1e-12)
    assert set(rec.value_std) == set(ref_values)
    assert rec.value_std["v_steady_hyper"] > 0  # the seeds differ: a real spread
