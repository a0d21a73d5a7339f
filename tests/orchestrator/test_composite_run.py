"""A run with ``surrogate: composite``: what the controller tells the model is what it recorded."""

from __future__ import annotations

import numpy as np

from orchestrator import load_results
from orchestrator.checkpoint import load_checkpoint
from orchestrator.cli import main
from orchestrator.optimizer import optimizer_from_state
from orchestrator.optimizer.composite import CompositeModel


def test_the_model_learns_the_recorded_values_and_spreads(write_config, tmp_path):
    cfg = write_config(optimizer={"offspring_size": 6, "max_ngen": 3, "seed": 5,
                                  "surrogate": "composite"},
                       executor={"max_parallel": 2}, repeats=2)
    run = tmp_path / "run"
    assert main(["run", str(cfg), "--run-dir", str(run), "--no-progress"]) == 0
    df = load_results(run).sort_values(["generation", "individual"])
    assert len(df) == 18 and (df["status"] == "ok").all()
    opt = optimizer_from_state(load_checkpoint(run).optimizer_state)
    model = opt.model.model  # type: ignore[attr-defined]
    assert isinstance(model, CompositeModel)
    names = ["SpontActivityTarget[exc]", "IrregularityTarget[exc]"]
    assert len(model.X) == 18
    # rows in the order told (generation by generation, individuals in order)
    np.testing.assert_allclose(model.V, df[[f"value.{n}" for n in names]].to_numpy())
    np.testing.assert_allclose(model.S, df[[f"std.{n}" for n in names]].to_numpy())
    # the terms are the config's targets: range [4, 5] norm 0.2; 1.0 norm 0.1 of the class's
    # default kind (IrregularityTarget: at_least)
    np.testing.assert_array_equal(model.lo, [4.0, 1.0])
    np.testing.assert_array_equal(model.hi, [5.0, np.inf])
    np.testing.assert_array_equal(model.norm, [0.2, 0.1])
    # its composition reproduces the recorded totals at the recorded values
    from targets import score_array

    recorded = df[[f"score.{n}" for n in names]].to_numpy()
    composed = score_array(model.V, model.lo, model.hi, model.norm, model.max_score)
    np.testing.assert_allclose(composed, recorded, rtol=1e-12)
