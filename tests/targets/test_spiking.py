"""Spiking targets: hand-computed values, elephant cross-checks, degenerate input."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import targets
from evaluators.datastore import spikes_from_lists
from targets.spiking import (
    IrregularityTarget,
    PopulationRateTarget,
    SpontActivityTarget,
    SynchronyTarget,
    binned_counts,
    isi_cv,
    mean_pairwise_correlation,
)
from tests.targets.conftest import SYNC_A, SYNC_B


def _cv(isis: list[float]) -> float:
    a = np.array(isis)
    return float(np.sqrt(((a - a.mean()) ** 2).mean()) / a.mean())


def test_spont_activity_is_mean_rate_of_all_cells(store):
    assert SpontActivityTarget("exc").compute(store) == pytest.approx(25 / 5)


def test_irregularity_hand_computed(store):
    cv_a = _cv([10, 20, 10, 60, 10, 190])
    cv_b = _cv([30, 30, 40, 80, 300, 400])
    assert IrregularityTarget("exc").compute(store) == pytest.approx((2 * cv_a + cv_b) / 3)


def test_synchrony_hand_computed(store):
    # central cells with >5 ISIs: 0, 1 (identical trains) and 2 (disjoint bins)
    r02 = (0 - 7 * 7 / 100) / (7 - 49 / 100)
    assert SynchronyTarget("exc").compute(store) == pytest.approx((1 + 2 * r02) / 3)


def test_synchrony_centre_option_excludes_cells(store):
    with pytest.raises(targets.TargetUndefined, match="central"):
        SynchronyTarget("exc", centre_half_width=0.5).compute(store)


def test_population_rate_statistics(store):
    rates = np.array([7.0, 7, 7, 3, 1])
    assert PopulationRateTarget("exc").compute(store) == pytest.approx(rates.mean())
    std = PopulationRateTarget("exc", statistic="std").compute(store)
    assert std == pytest.approx(rates.std())
    assert PopulationRateTarget("exc", min_rate_hz=5).compute(store) == pytest.approx(7.0)
    with pytest.raises(targets.TargetUndefined, match="need 4"):
        PopulationRateTarget("exc", min_rate_hz=5, min_active=4).compute(store)
    with pytest.raises(ValueError, match="statistic"):
        PopulationRateTarget("exc", statistic="median")


def test_isi_cv_skips_short_and_empty_trains():
    t, o = spikes_from_lists([[], SYNC_A, [1.0, 2.0], SYNC_B, [3.0]])
    assert isi_cv(t, o).tolist() == pytest.approx([_cv([10, 20, 10, 60, 10, 190]),
                                                   _cv([30, 30, 40, 80, 300, 400])])
    assert isi_cv(np.zeros(0), np.zeros(4, np.int64)).size == 0
    # trailing and leading empty neurons around the only long train
    t, o = spikes_from_lists([[], SYNC_B, [], []])
    assert isi_cv(t, o).tolist() == pytest.approx([_cv([30, 30, 40, 80, 300, 400])])
    t, o = spikes_from_lists([SYNC_A, SYNC_B[:3], SYNC_B])
    assert isi_cv(t, o, min_isis=2).tolist() == pytest.approx(
        [_cv([10, 20, 10, 60, 10, 190]), _cv([30, 30]), _cv([30, 30, 40, 80, 300, 400])])


def test_mean_pairwise_correlation_matches_corrcoef():
    rng = np.random.default_rng(3)
    x = rng.poisson(2.0, (30, 80)).astype(float)
    x[4] = 3.0  # constant row: NaN correlations count as 0
    with np.errstate(invalid="ignore", divide="ignore"):
        c = np.nan_to_num(np.corrcoef(x))
    expected = c[np.triu_indices(30, 1)].mean()
    assert mean_pairwise_correlation(x) == pytest.approx(expected, abs=1e-12)


def _random_trains(rng, n, duration_ms, rate_hz=20.0, shape=0.5):
    trains = []
    for i in range(n):
        size = int(rate_hz * duration_ms / 500) + 20
        isi = rng.gamma(shape, 1000.0 / rate_hz / shape, size=size)
        t = np.cumsum(isi)
        trains.append(t[t < duration_ms])
    trains[1] = np.zeros(0)  # a silent neuron
    trains[2] = np.array([100.0])
    return trains


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_cv_against_elephant():
    elephant_stats = pytest.importorskip("elephant.statistics")
    pq = pytest.importorskip("quantities")
    neo = pytest.importorskip("neo")
    rng = np.random.default_rng(7)
    trains = _random_trains(rng, 40, 3000.0)
    t, o = spikes_from_lists(trains)
    expected = []
    for tr in trains:
        if tr.size >= 7:
            st = neo.SpikeTrain(tr * pq.ms, t_stop=3000 * pq.ms)
            expected.append(float(elephant_stats.cv(elephant_stats.isi(st))))
    assert isi_cv(t, o).tolist() == pytest.approx(expected, rel=1e-10)


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_correlation_against_elephant():
    pytest.importorskip("elephant")
    pq = pytest.importorskip("quantities")
    neo = pytest.importorskip("neo")
    from elephant.conversion import BinnedSpikeTrain
    from elephant.spike_train_correlation import correlation_coefficient

    rng = np.random.default_rng(11)
    duration = 2000.0
    trains = _random_trains(rng, 25, duration)
    sts = [neo.SpikeTrain(tr * pq.ms, t_start=0 * pq.ms, t_stop=duration * pq.ms) for tr in trains]
    binned = BinnedSpikeTrain(sts, bin_size=10 * pq.ms, t_start=0 * pq.ms,
                              t_stop=duration * pq.ms)
    with np.errstate(invalid="ignore", divide="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # elephant warns about the silent neuron
        cc = np.nan_to_num(correlation_coefficient(binned))
    expected = cc[np.triu_indices(len(trains), 1)].mean()
    t, o = spikes_from_lists(trains)
    ours_binned = binned_counts(t, o, duration, 10.0)
    assert np.array_equal(ours_binned, binned.to_array())
    assert mean_pairwise_correlation(ours_binned) == pytest.approx(expected, abs=1e-10)


SPIKING = [SpontActivityTarget, IrregularityTarget, SynchronyTarget, PopulationRateTarget]


@pytest.mark.parametrize("cls", SPIKING)
def test_no_spikes_scores_max_with_reason(store_factory, cls):
    store = store_factory([dict(kind="spontaneous", duration_ms=1000.0, spikes=[[]] * 5)])
    out = targets.evaluate_target("t", cls("exc"), "exact", 1.0, 0.1, 20, store)
    if cls is SpontActivityTarget:  # a silent sheet has a defined rate: 0 Hz
        assert out.value == 0.0
    else:
        assert out.score == 20 and out.reason.startswith("undefined:"), out


@pytest.mark.parametrize("cls", SPIKING)
def test_one_neuron(store_factory, cls):
    store = store_factory([dict(kind="spontaneous", duration_ms=1000.0, spikes=[SYNC_A])],
                          cells=[(0.0, 0.0, 0.0)])
    out = targets.evaluate_target("t", cls("exc"), "exact", 1.0, 0.1, 20, store)
    if cls is SynchronyTarget:
        assert out.score == 20 and "need 2" in out.reason
    else:
        assert out.reason is None and out.value is not None


@pytest.mark.parametrize("cls", SPIKING)
def test_missing_segment_or_sheet(store_factory, cls):
    store = store_factory([dict(kind="grating", duration_ms=1000.0, spikes=[[]] * 5)])
    out = targets.evaluate_target("t", cls("exc"), "exact", 1.0, 0.1, 20, store)
    assert out.score == 20 and "no segment of kind 'spontaneous'" in out.reason
    out = targets.evaluate_target("t", cls("nosuch"), "exact", 1.0, 0.1, 20,
                                  store_factory(name="other.h5"))
    assert out.score == 20 and out.reason.startswith("undefined:"), out.reason


def test_zero_duration_segment_is_undefined(store_factory):
    store = store_factory([dict(kind="spontaneous", duration_ms=0.0, spikes=[[]] * 5)])
    out = targets.evaluate_target("t", SpontActivityTarget("exc"), "range", [1, 2], 0.2, 20, store)
    assert out.score == 20 and "duration_ms" in out.reason


def test_binned_counts_subsets_match_rows_of_the_full_matrix():
    rng = np.random.default_rng(5)
    trains = _random_trains(rng, 40, 1000.0)
    t, o = spikes_from_lists(trains)
    full = binned_counts(t, o, 1000.0, 10.0)
    assert full.shape == (40, 100) and full.sum() == t.size
    for sel in (np.array([3, 17]), np.arange(0, 40, 2), np.arange(1, 40)):  # index and mask paths
        assert np.array_equal(binned_counts(t, o, 1000.0, 10.0, sel), full[sel])
    with pytest.raises(ValueError, match="increasing"):
        binned_counts(t, o, 1000.0, 10.0, np.array([5, 2]))


# -- golden values: PSTH binning of the mozaik Optimization tool (CSNG-MFF/mozaik-tools) ----------


def test_psth_bins_round_half_to_even():
    from targets.spiking import psth_bins

    assert [psth_bins(d) for d in (1000.0, 1004.9, 1005.0, 1005.1, 1006.0, 1015.0)] == [
        100, 100, 100, 101, 101, 102]
    assert psth_bins(25.0, 10.0) == 2 and psth_bins(4.9, 10.0) == 0


def test_binned_counts_is_numpy_histogram_over_the_whole_segment():
    """Every neuron's row is ``np.histogram(train, bins=round(d / 10), range=(0, d))``, also for
    spikes exactly on the bin edges and at ``t = duration`` (last bin closed on the right)."""
    rng = np.random.default_rng(2)
    duration = 1006.0  # 101 bins of 9.9604 ms
    edges = np.linspace(0.0, duration, 102)
    trains = [np.sort(rng.uniform(0, duration, rng.integers(0, 60))) for _ in range(30)]
    trains[3] = edges.copy()  # one spike on every edge, the last one at t = duration
    trains[4] = np.array([999.9, 1000.0, 1003.0, 1005.99])  # last bin: [996.04, 1006]
    t, o = spikes_from_lists(trains)
    ours = binned_counts(t, o, duration, 10.0)
    expected = np.array([np.histogram(tr, bins=101, range=(0.0, duration))[0] for tr in trains])
    assert ours.shape == (30, 101)
    assert np.array_equal(ours, expected)
    assert ours[4, -1] == 4 and ours.sum() == t.size  # 10 ms bins would drop 3 of these 4


def test_synchrony_bins_an_odd_length_segment_whole(store_factory):
    """1006 ms: 101 bins of w = 1006 / 101 ms. A and B fire at the centres of the same bins
    0, 10, ..., 60, then A in bin 100 (t = 1001 ms) and B in bin 70. With N = 101 bins, 8 spikes
    each and 7 shared bins, r = (7 - 8 * 8 / N) / (8 - 8 * 8 / N) = 643 / 744. (10 ms bins would
    stop at 1000 ms, drop A's last spike and give (7 - 56/100) / sqrt(6.51 * 7.36) = 0.930.)"""
    w = 1006.0 / 101
    shared = [(k + 0.5) * w for k in range(0, 70, 10)]
    a, b = shared + [100.5 * w], shared + [70.5 * w]
    cells = [(0.0, 0.0, 0.0), (1.0, 1.0, 0.0), (1.6, 0.0, 0.0)]  # the third is not central
    store = store_factory([dict(kind="spontaneous", duration_ms=1006.0, spikes=[a, b, a])],
                          cells=cells)
    assert SynchronyTarget("exc").compute(store) == pytest.approx(643 / 744, rel=1e-12)
