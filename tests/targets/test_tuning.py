"""Orientation, size and modulation targets on the hand-made store (see conftest)."""

from __future__ import annotations

import math

import numpy as np
import pytest

import targets
from targets.tuning import (
    ModulationRatio,
    OrientationTuningOrthoHighTarget,
    OrientationTuningOrthoLowTarget,
    OrientationTuningPreferenceTarget,
    SizeTuning,
    circular_distance,
    f1_f0,
)
from tests.targets.conftest import HALF_PI, standard_segments

# cells preferring pi/2 within 0.1 rad: 0, 1, 3, 4
R_PREF = (2 + 100 + 0 + 3) / 4  # grating pi/2, contrast 100
R_ORTH = (4 + 8 + 12 + 8) / 4  # grating 0, contrast 100
R_ORTH_LOW = (1 + 2 + 3 + 2) / 4  # grating 0, contrast 10
R_SPONT = (7 + 7 + 3 + 1) / 4


def test_circular_distance_period_pi():
    d = circular_distance(np.array([0.0, math.pi - 0.05, HALF_PI, math.pi + 0.02]), 0.0)
    assert d == pytest.approx([0.0, 0.05, HALF_PI, 0.02])


def test_orientation_preference(store):
    value = OrientationTuningPreferenceTarget("exc").compute(store)
    assert value == pytest.approx(R_PREF / R_ORTH)


def test_ortho_high_and_low(store):
    assert OrientationTuningOrthoHighTarget("exc").compute(store) == pytest.approx(
        abs(R_SPONT - R_ORTH) / R_SPONT)
    assert OrientationTuningOrthoLowTarget("exc").compute(store) == pytest.approx(
        abs(R_SPONT - R_ORTH_LOW) / R_SPONT)


def test_tolerance_option_changes_selection(store):
    # 0.06 rad drops cell 4 (0.09 off): cells 0, 1, 3
    value = OrientationTuningPreferenceTarget("exc", tolerance=0.06).compute(store)
    assert value == pytest.approx(((2 + 100 + 0) / 3) / ((4 + 8 + 12) / 3))


def test_size_tuning(store):
    # centre cells preferring pi/2: 0 (disk 10 vs full 2: suppressed) and 4 (3 vs 3: not)
    assert SizeTuning("exc").compute(store) == pytest.approx(0.5)


def test_modulation_ratio(store):
    bins = np.array([16, 50, 83])  # cell 4's three spikes at 166.7, 500, 833.3 ms
    a2_cell4 = abs(np.exp(-2j * np.pi * 2 * bins / 100).sum())
    # cell 0: spikes at bins 0 and 50 -> |F[0]| = |F[2]| = 2; cell 1: flat (F[2] = 0); cell 3: none
    expected = 2 * (2 + 0 + 0 + a2_cell4) / (2 + 100 + 0 + 3)
    # the grating at 0 selects only cell 2, silent there: skipped, not averaged in
    assert ModulationRatio("exc").compute(store) == pytest.approx(expected)


def test_f1_f0_of_pure_modulation():
    t = np.arange(200)
    psth = 10 * (1 + np.sin(2 * np.pi * 4 * t / 200))
    assert f1_f0(psth[None, :], 4) == pytest.approx(1.0)
    with pytest.raises(ValueError):
        f1_f0(np.zeros((1, 200)), 4)


TUNING = [OrientationTuningPreferenceTarget, OrientationTuningOrthoHighTarget,
          OrientationTuningOrthoLowTarget, SizeTuning, ModulationRatio]


def _score(cls, store, **kw):
    return targets.evaluate_target("t", cls("exc", **kw), "exact", 1.0, 0.1, 20, store)


@pytest.mark.parametrize("cls", TUNING)
def test_no_selected_cell(store_factory, cls):
    cells = [(0.0, 0.0, 1.0), (0.5, 0.5, 1.2)]  # nobody prefers pi/2 or 0
    segs = [dict(s, spikes=s["spikes"][:2]) for s in standard_segments()]
    out = _score(cls, store_factory(segs, cells=cells))
    assert out.score == 20 and out.reason.startswith("undefined:"), out
    assert "prefers" in out.reason


@pytest.mark.parametrize("cls", TUNING)
def test_no_spikes(store_factory, cls):
    segs = [dict(s, spikes=[[]] * 5) for s in standard_segments()]
    out = _score(cls, store_factory(segs))
    if cls is SizeTuning:  # no cell is suppressed: a defined 0
        assert out.value == 0.0
    else:
        assert out.score == 20 and out.reason.startswith("undefined:"), out


@pytest.mark.parametrize("cls", TUNING)
def test_missing_segments(store_factory, cls):
    out = _score(cls, store_factory(standard_segments()[:1]))
    assert out.score == 20 and "no segment" in out.reason


def test_zero_spontaneous_rate_is_undefined_not_a_crash(store_factory):
    segs = standard_segments()
    segs[0] = dict(segs[0], spikes=[[]] * 5)
    for cls in (OrientationTuningOrthoHighTarget, OrientationTuningOrthoLowTarget):
        out = _score(cls, store_factory(segs, name=f"{cls.__name__}.h5"))
        assert out.score == 20 and "spontaneous rate" in out.reason


def test_zero_orthogonal_rate_is_undefined(store_factory):
    segs = standard_segments()
    segs[1] = dict(segs[1], spikes=[[]] * 5)
    out = _score(OrientationTuningPreferenceTarget, store_factory(segs))
    assert out.score == 20 and "orthogonal" in out.reason


def test_no_orientation_map(store_factory, tmp_path):
    from evaluators.datastore import DataStore, DataStoreWriter
    with DataStoreWriter(tmp_path / "noori.h5") as w:
        w.add_sheet("exc", ids=[0], x=[0.0], y=[0.0])
        k = w.add_segment(kind="spontaneous", duration_ms=1000.0)
        w.add_spikes(k, "exc", [[1.0]])
    with DataStore(tmp_path / "noori.h5") as s:
        out = _score(OrientationTuningPreferenceTarget, s)
    assert out.score == 20 and "orientation" in out.reason
