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
from tests.targets.conftest import HALF_PI, evenly, standard_segments

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


def test_perfectly_selective_population_is_infinitely_selective(store_factory):
    """Silent at the orthogonal orientation, firing at the preferred one: the value is inf (the
    mozaik tool's NumPy ratio), which meets an at_least target and fails every other kind."""
    segs = standard_segments()
    # grating 0, contrast 100: the cells preferring pi/2 (0, 1, 3, 4) are silent, cell 2 is not
    segs[1] = dict(segs[1], spikes=[[], [], evenly(40), [], []])
    store = store_factory(segs)
    target = OrientationTuningPreferenceTarget("exc")
    assert target.compute(store) == math.inf
    out = targets.evaluate_target("pref", target, "at_least", 5.0, 0.5, 20, store)
    assert (out.value, out.score) == (math.inf, 0.0)
    assert out.reason == "value is inf: meets the at_least target"
    for kind, tv in (("exact", 5.0), ("at_most", 5.0), ("range", [4.0, 6.0])):
        out = targets.evaluate_target("pref", target, kind, tv, 0.5, 20, store)
        assert (out.score, out.reason) == (20.0, "value is infinite"), kind


def test_silent_at_both_orientations_is_undefined(store_factory):
    segs = standard_segments()
    segs[1] = dict(segs[1], spikes=[[], [], evenly(40), [], []])
    segs[2] = dict(segs[2], spikes=[[], [], evenly(30), [], []])
    out = targets.evaluate_target("pref", OrientationTuningPreferenceTarget("exc"), "at_least",
                                  5.0, 0.5, 20, store_factory(segs))
    assert out.score == 20 and out.value is None
    assert out.reason == "undefined: the selected cells are silent at both orientations"


def test_no_orientation_map(store_factory, tmp_path):
    from evaluators.datastore import DataStore, DataStoreWriter
    with DataStoreWriter(tmp_path / "noori.h5") as w:
        w.add_sheet("exc", ids=[0], x=[0.0], y=[0.0])
        k = w.add_segment(kind="spontaneous", duration_ms=1000.0)
        w.add_spikes(k, "exc", [[1.0]])
    with DataStore(tmp_path / "noori.h5") as s:
        out = _score(OrientationTuningPreferenceTarget, s)
    assert out.score == 20 and "orientation" in out.reason


# -- golden values: the mozaik Optimization tool's formulas (CSNG-MFF/mozaik-tools targets.py) ----

# ModulationRatio with a simple and a complex orientation: 1000 ms at 2 Hz -> 100 bins, k = 2.
#   grating pi/2: P1 (prefers pi/2) spikes in bins 0, 50        |F0| = 2, |F2| = 2
#                 P2 (prefers pi/2 + 0.05) in bins 0, 10, 50    |F0| = 3,
#                   F2 = 2 + exp(-2 pi i 2 10 / 100)  ->  |F2|^2 = 5 + 4 cos(0.4 pi) = 4 + sqrt 5
#   grating 0:    C1 (prefers 0) one spike in each bin          |F0| = 100, |F2| = 0
MOD_CELLS = [(0.0, 0.0, HALF_PI), (0.5, 0.0, HALF_PI + 0.05), (0.0, 0.5, 0.0)]
F2_P2 = math.sqrt(4 + math.sqrt(5))
MOD_POOLED = 2 * ((2 + F2_P2 + 0) / 3) / ((2 + 3 + 100) / 3)  # one A over the 3 pooled rows
MOD_PER_SEGMENT = (2 * ((2 + F2_P2) / 2) / ((2 + 3) / 2) + 0.0) / 2


def _bins(*k: int, width: float = 10.0) -> list[float]:
    return [(b + 0.5) * width for b in k]


def _modulation_segments() -> list[dict]:
    g = dict(kind="grating", duration_ms=1000.0, spatial_frequency=0.8, temporal_frequency=2.0)
    flat = _bins(*range(100))
    return [
        dict(g, orientation=HALF_PI, contrast=100.0,
             spikes=[_bins(0, 50), _bins(0, 10, 50), _bins(3, 7)]),  # C1 not selected here
        dict(g, orientation=0.0, contrast=100.0,
             spikes=[_bins(5, 6, 7), [], flat]),  # P1 not selected here
        # contrast 10 is not part of the target: a strongly modulated response that must not count
        dict(g, orientation=HALF_PI, contrast=10.0, spikes=[_bins(0, 50) * 5, [], []]),
    ]


def test_modulation_ratio_pools_cells_of_both_orientations(store_factory):
    store = store_factory(_modulation_segments(), cells=MOD_CELLS)
    assert MOD_POOLED == pytest.approx(0.0856611, abs=1e-7)  # the hand formula, evaluated
    assert ModulationRatio("exc").compute(store) == pytest.approx(MOD_POOLED, rel=1e-12)
    per_segment = ModulationRatio("exc", pooling="per_segment").compute(store)
    assert per_segment == pytest.approx(MOD_PER_SEGMENT, rel=1e-12)
    assert MOD_PER_SEGMENT == pytest.approx(0.8994424, abs=1e-7)


def test_pooled_modulation_ratio_needs_one_duration_and_frequency(store_factory):
    segs = _modulation_segments()
    segs[1] = dict(segs[1], duration_ms=2000.0, spikes=[[], [], _bins(*range(200))])
    store = store_factory(segs, cells=MOD_CELLS)
    with pytest.raises(targets.TargetUndefined, match="pooled segments differ.*per_segment"):
        ModulationRatio("exc").compute(store)
    # per segment: the complex cell's flat 2 s response still has F[k] = 0 (k = 4 cycles)
    value = ModulationRatio("exc", pooling="per_segment").compute(store)
    assert value == pytest.approx(MOD_PER_SEGMENT, rel=1e-12)
    with pytest.raises(ValueError, match="pooling"):
        ModulationRatio("exc", pooling="mean")


def test_modulation_ratio_bins_an_odd_length_segment_whole(store_factory):
    """1005 ms: round(100.5) = 100 bins (half to even, as Python's round in the tool) of 10.05 ms;
    k = round(2 Hz * 1.005 s) = 2. The spike at 1002 ms falls in bin 99 (floor(1002 / 10.05));
    10 ms bins would end at 1000 ms and drop it."""
    g = dict(kind="grating", duration_ms=1005.0, spatial_frequency=0.8, temporal_frequency=2.0,
             contrast=100.0)
    segs = [dict(g, orientation=HALF_PI,
                 spikes=[_bins(0, 50, width=10.05) + [1002.0], [], []])]
    store = store_factory(segs, cells=MOD_CELLS)
    # F2 = 1 + exp(-2 pi i 2 50/100) + exp(-2 pi i 2 99/100) = 2 + exp(2 pi i 0.02)
    expected = 2 * math.sqrt(5 + 4 * math.cos(0.04 * math.pi)) / 3
    assert ModulationRatio("exc").compute(store) == pytest.approx(expected, rel=1e-12)
    assert abs(expected - 2.0) > 1e-3  # what dropping the tail spike would give


# SizeTuning: disk 500 ms, full field 1000 ms. Central cells preferring pi/2 (0 and 4):
#   cell 0: disk 10, full 12 spikes -> counts 10/12 = 0.83 (not suppressed); rates 20/12 Hz = 1.67
#   cell 4: disk 3, full 2          -> counts 1.5 (suppressed);              rates 6/2 = 3
# cell 1 (r = 1, not < 1) and cell 3 (outside) would be suppressed but are not selected.
def _size_segments() -> list[dict]:
    return [
        dict(kind="grating", duration_ms=1000.0, orientation=HALF_PI, contrast=100.0,
             temporal_frequency=2.0, spikes=[evenly(12), evenly(1), [], evenly(1), evenly(2)]),
        dict(kind="disk", duration_ms=500.0, orientation=HALF_PI, contrast=100.0, radius=1.25,
             temporal_frequency=2.0, spikes=[evenly(10, 500.0), evenly(20, 500.0), [],
                                             evenly(20, 500.0), evenly(3, 500.0)]),
    ]


def test_size_tuning_compares_counts_when_durations_differ(store_factory):
    store = store_factory(_size_segments())
    assert SizeTuning("exc").compute(store) == 0.5  # 1 of 2: cell 4
    assert SizeTuning("exc", measure="rates").compute(store) == 1.0  # 2 of 2
    with pytest.raises(ValueError, match="measure"):
        SizeTuning("exc", measure="ratio")


def test_size_tuning_disk_count_threshold_is_strict(store_factory):
    segs = _size_segments()
    segs[1] = dict(segs[1], spikes=[evenly(10, 500.0), [], [], [], evenly(2, 500.0)])
    # cell 4 now fires 2 spikes in the disk: 2 > 2 is false, whatever the ratio 2 / 2 = 1
    assert SizeTuning("exc").compute(store_factory(segs)) == 0.0
    assert SizeTuning("exc", measure="rates").compute(store_factory(segs, name="r.h5")) == 0.5
