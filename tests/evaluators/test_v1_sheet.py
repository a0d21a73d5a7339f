"""The embedded V1 sheet model: tuned, contrast dependent, deterministic, and able to explode."""

from __future__ import annotations

import math

import numpy as np
import pytest

import targets
from evaluators.datastore import DataStore
from evaluators.models import v1_sheet
from targets.tuning import OrientationTuningPreferenceTarget, circular_distance

SHORT = {"spontaneous_ms": 2000.0, "stimulus_ms": 1000.0}
TINY = {"spontaneous_ms": 300.0, "stimulus_ms": 200.0, "n_exc": 300, "n_inh": 80,
        "check_ms": 100.0}


@pytest.fixture(scope="module")
def default_store(tmp_path_factory):
    path = v1_sheet.simulate({}, tmp_path_factory.mktemp("v1") / "ds.h5", seed=1, protocol=SHORT)
    with DataStore(path) as store:
        yield store


def test_parameter_table():
    assert 10 <= len(v1_sheet.PARAMETERS) <= 20
    for name, (lo, hi, default) in v1_sheet.PARAMETERS.items():
        assert lo < hi and lo <= default <= hi, name


def test_layout_and_segments(default_store):
    s = default_store
    assert set(s.sheet_names()) == {v1_sheet.EXC, v1_sheet.INH}
    assert not s.exploded
    kinds = [seg.kind for seg in s.segments()]
    assert kinds == ["spontaneous"] + ["grating"] * 4 + ["disk", "grating"]
    disk = s.segments(kind="disk")[0]
    assert disk["radius"] == pytest.approx(1.25)
    assert disk["orientation"] == pytest.approx(math.pi / 2)
    for seg in s.segments():
        for key in ("contrast", "spatial_frequency", "temporal_frequency", "duration_ms", "trial"):
            assert key in seg.stimulus
    sig = s.signal(s.segments(kind="spontaneous")[0], v1_sheet.EXC, "gsyn_inh")
    assert 20 <= sig.ids.size <= 25 and sig.data.shape[1] == 4000 and np.isfinite(sig.data).all()
    assert s.metadata["params"]["w_ee"] == v1_sheet.PARAMETERS["w_ee"][2]


def _rate(store, cells, **match):
    segs = store.segments(**match)
    counts = sum(np.diff(store.spikes(seg, v1_sheet.EXC)[1]) for seg in segs)
    return counts[cells].mean() / sum(seg.duration_ms for seg in segs) * 1000


def test_orientation_tuned_and_contrast_dependent(default_store):
    s = default_store
    ori = s.sheet(v1_sheet.EXC).orientation
    pref = circular_distance(ori, math.pi / 2) < 0.2
    orth = circular_distance(ori, 0.0) < 0.2
    r = {(o, c): _rate(s, pref, kind="grating", orientation=o, contrast=c)
         for o in (0.0, math.pi / 2) for c in (10.0, 100.0)}
    assert r[(math.pi / 2, 100.0)] > 2 * r[(0.0, 100.0)]  # tuned
    assert r[(math.pi / 2, 100.0)] > 2 * r[(math.pi / 2, 10.0)]  # contrast dependent
    # and the mirror image for cells preferring 0
    assert _rate(s, orth, kind="grating", orientation=0.0, contrast=100.0) > 2 * _rate(
        s, orth, kind="grating", orientation=math.pi / 2, contrast=100.0)
    assert OrientationTuningPreferenceTarget(v1_sheet.EXC).compute(s) > 2


def test_all_nine_targets_are_defined_and_not_all_satisfied(default_store):
    specs = {"SpontActivityTarget": ([1.0, 2.0], 0.2), "IrregularityTarget": (1.0, 0.1),
             "SynchronyTarget": (0.0, 0.01), "OrientationTuningPreferenceTarget": (5.0, 0.5),
             "OrientationTuningOrthoHighTarget": (0.0, 0.5),
             "OrientationTuningOrthoLowTarget": (0.0, 0.5), "SizeTuning": (0.7, 0.1),
             "ConductanceRatio": (5.0, 0.2), "ModulationRatio": (1.5, 0.03)}
    total = 0.0
    for name, (tv, norm) in specs.items():
        cls = targets.REGISTRY[name]
        kind = "range" if isinstance(tv, list) else cls.kind
        out = targets.evaluate_target(name, cls(v1_sheet.EXC), kind, tv, norm, 20, default_store)
        assert out.reason is None, (name, out.reason)
        total += out.score
    assert total > 10  # room for the optimizer


def test_deterministic_for_a_seed(tmp_path):
    paths = [v1_sheet.simulate({}, tmp_path / f"{i}.h5", seed=s, protocol=TINY)
             for i, s in enumerate((5, 5, 6))]
    stores = [DataStore(p) for p in paths]
    try:
        segs = stores[0].segments()
        for seg in segs:
            a, b, _c = (st.spikes(seg.index, v1_sheet.EXC) for st in stores)
            assert np.array_equal(a[0], b[0]) and np.array_equal(a[1], b[1])
        assert not all(np.array_equal(stores[0].spikes(k.index, v1_sheet.EXC)[0],
                                      stores[2].spikes(k.index, v1_sheet.EXC)[0]) for k in segs)
        assert np.array_equal(stores[0].sheet(v1_sheet.EXC).x, stores[1].sheet(v1_sheet.EXC).x)
    finally:
        for st in stores:
            st.close()


def test_explodes_with_strong_excitation(tmp_path):
    path = v1_sheet.simulate({"w_ee": 4.0, "w_ie": 0.5}, tmp_path / "x.h5", seed=0, protocol=TINY)
    with DataStore(path) as s:
        assert s.exploded and s.metadata["explosion"]
        assert [seg.kind for seg in s.segments()] == ["spontaneous"]  # aborted after the check
        assert s.metadata["explosion_check_rate_hz"] > 100


def test_unknown_names_are_rejected(tmp_path):
    with pytest.raises(ValueError, match="w_xx"):
        v1_sheet.simulate({"w_xx": 1.0}, tmp_path / "a.h5")
    with pytest.raises(ValueError, match="stimulus_s"):
        v1_sheet.simulate({}, tmp_path / "a.h5", protocol={"stimulus_s": 1})
    with pytest.raises(ValueError, match="finite"):
        v1_sheet.simulate({"w_ee": float("nan")}, tmp_path / "a.h5")
    assert not (tmp_path / "a.h5").exists()


STREAM = {**TINY, "spontaneous_first": True}


def test_spontaneous_first_publishes_check_and_spontaneous_before_the_stimuli(tmp_path):
    batch = v1_sheet.simulate({}, tmp_path / "b.h5", seed=2, protocol=TINY)
    paths = [v1_sheet.simulate({}, tmp_path / f"s{i}.h5", seed=2, protocol=STREAM)
             for i in range(2)]
    with DataStore(batch) as b, DataStore(paths[0]) as s, DataStore(paths[1]) as again:
        kinds = [seg.kind for seg in s.segments()]
        assert kinds == ["spontaneous"] + [seg.kind for seg in b.segments()]  # + the check
        assert s.segments()[0].duration_ms == TINY["check_ms"]
        for seg in s.segments():  # deterministic for a seed
            x, y = s.spikes(seg.index, v1_sheet.EXC), again.spikes(seg.index, v1_sheet.EXC)
            assert np.array_equal(x[0], y[0]) and np.array_equal(x[1], y[1])
        assert not s.exploded
    assert not list(tmp_path.glob("*.progress"))  # published only in a gated evaluation


def test_spontaneous_first_explosion_sets_the_flag_and_leaves_stopping_to_gates(tmp_path):
    path = v1_sheet.simulate({"w_ee": 4.0, "w_ie": 0.5}, tmp_path / "x.h5", seed=0,
                             protocol=STREAM)
    with DataStore(path) as s:
        assert s.exploded
        assert len(s.segments()) == len(v1_sheet._protocol_conditions(
            {**v1_sheet.DEFAULT_PROTOCOL, **STREAM})) + 1  # ran to the end


def test_v1_evaluator_stopped_by_an_explosion_gate_after_the_check(tmp_path):
    import json

    from evaluators.evaluate import run_task

    d = tmp_path / "e"
    d.mkdir()
    task = {"generation": 0, "individual": 0, "eval_dir": str(d), "seeds": [0],
            "parameters": {"w_ee": 4.0, "w_ie": 0.5},
            "evaluator": {"kind": "v1_sheet", "protocol": STREAM},
            "targets": [{"name": "rate", "class": "SpontActivityTarget", "kind": "range",
                         "target_value": [1.0, 2.0], "norm": 0.2, "max_score": 20.0,
                         "sheet_name": v1_sheet.EXC, "options": {}}],
            "gates": [{"after": "spontaneous", "explosion": True}]}
    (d / "task.json").write_text(json.dumps(task))
    rec = run_task(d / "task.json")
    assert rec is not None and rec.reason == "aborted", rec.detail
    assert "after segment 0" in rec.detail  # the check segment, not the full spontaneous one
    assert rec.values["rate"] > 100  # the check segment's rate
    assert sorted(p.name for p in d.iterdir()) == ["result.json", "task.json"]
