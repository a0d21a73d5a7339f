"""TimeSeriesTarget (hnn-core style waveform fit) and PSDBandTarget."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import targets
from evaluators.datastore import DataStore, DataStoreWriter
from targets.timeseries import PSDBandTarget, TimeSeriesTarget, hamming_smooth, welch_psd

# the measured dipole lives in shared/data beside the repository (tests skip where it is absent)
ERP = Path(__file__).resolve().parents[3] / "shared" / "data" / "yes_trial_S1_ERP_all_avg.txt"


@pytest.fixture
def series_store(tmp_path):
    def make(times, values, name="dipole"):
        path = tmp_path / f"ts{len(list(tmp_path.iterdir()))}.h5"
        with DataStoreWriter(path) as w:
            w.add_timeseries(name, np.asarray(times, float), np.asarray(values, float))
        return DataStore(path)
    return make


def test_rmse_after_cut_and_resample(series_store):
    tt = np.arange(0.0, 101.0, 1.0)
    tv = np.sin(tt / 10)
    st = np.arange(-20.0, 200.0, 0.5)  # longer and finer: cut to 0..100, resampled onto tt
    sv = 2 * (np.sin(st / 10) + 1.0)
    target = TimeSeriesTarget(target_times=tt.tolist(), target_values=tv.tolist(), scale=0.5)
    assert target.compute(series_store(st, sv)) == pytest.approx(1.0)
    one_minus_r = TimeSeriesTarget(target_times=tt, target_values=tv, scale=0.5, metric="1-r")
    assert one_minus_r.compute(series_store(st, sv)) == pytest.approx(0.0, abs=1e-12)


def test_shorter_simulation_resamples_the_target(series_store):
    tt = np.arange(0.0, 100.5, 0.5)
    st = np.arange(0.0, 101.0, 2.0)
    target = TimeSeriesTarget(target_times=tt, target_values=3 * tt)
    assert target.compute(series_store(st, 3 * st + 2)) == pytest.approx(2.0)


def test_smoothing_is_a_normalised_hamming_window():
    t = np.arange(101.0)
    v = np.zeros(101)
    v[50] = 1.0
    out = hamming_smooth(t, v, 9.0)
    w = np.hamming(9)
    assert out[46:55] == pytest.approx(w / w.sum())
    assert out.sum() == pytest.approx(1.0)
    assert hamming_smooth(t, v, 0.0) is v


def test_target_file_relative_to_base_dir(series_store):
    if not ERP.is_file():
        pytest.skip("shared ERP data absent")
    target = TimeSeriesTarget(target_file=ERP.name, base_dir=str(ERP.parent))
    data = np.loadtxt(ERP)
    assert target.compute(series_store(data[:, 0], data[:, 1])) == pytest.approx(0.0, abs=1e-12)
    shifted = series_store(data[:, 0], data[:, 1] + 0.5)
    assert target.compute(shifted) == pytest.approx(0.5)


def test_missing_file_fails_at_construction(tmp_path):
    with pytest.raises(FileNotFoundError, match="nope.txt"):
        TimeSeriesTarget(target_file="nope.txt", base_dir=str(tmp_path))
    with pytest.raises(ValueError, match="exactly one"):
        TimeSeriesTarget()
    with pytest.raises(ValueError, match="metric"):
        TimeSeriesTarget(target_times=[0, 1], target_values=[0, 1], metric="mae")


@pytest.mark.parametrize("times, values, reason", [
    ([0.0, 1.0, 2.0], [0.0, float("nan"), 1.0], "NaN"),
    ([500.0, 600.0], [1.0, 2.0], "overlap"),
    ([0.0, 1.0, 2.0], [1.0, 1.0, 1.0], "constant"),
])
def test_degenerate_series(series_store, times, values, reason):
    target = TimeSeriesTarget(target_times=[0, 1, 2], target_values=[0, 1, 0], metric="1-r")
    out = targets.evaluate_target("w", target, "at_most", 0.0, 1.0, 20,
                                  series_store(times, values))
    assert out.score == 20 and reason in out.reason, out.reason


def test_missing_series(series_store):
    target = TimeSeriesTarget(series="lfp", target_times=[0, 1], target_values=[0, 1])
    store = series_store([0, 1], [0, 1])
    out = targets.evaluate_target("w", target, "at_most", 0.0, 1.0, 20, store)
    assert out.score == 20 and "lfp" in out.reason


def test_welch_psd_parseval_and_peak():
    rng = np.random.default_rng(0)
    x = rng.standard_normal(4096)
    f, p = welch_psd(x, dt_ms=1.0, segment_ms=256.0)
    assert np.sum(p) * (f[1] - f[0]) == pytest.approx(x.var(), rel=0.1)  # power = variance
    t = np.arange(4000.0)
    f, p = welch_psd(np.sin(2 * np.pi * 40 * t / 1000), dt_ms=1.0)
    assert f[np.argmax(p)] == pytest.approx(40, abs=4)


def test_psd_band_fraction_and_ratio(series_store):
    t = np.arange(0.0, 4000.0, 1.0)
    rng = np.random.default_rng(1)
    v = np.sin(2 * np.pi * 20 * t / 1000) + 0.1 * rng.standard_normal(t.size)
    store = series_store(t, v)
    frac = PSDBandTarget(f_lo=15, f_hi=30).compute(store)
    assert 0.9 < frac <= 1.0
    assert PSDBandTarget(f_lo=60, f_hi=90).compute(store) < 0.02
    assert PSDBandTarget(f_lo=15, f_hi=30, reference=[60, 90]).compute(store) > 50
    with pytest.raises(ValueError):
        PSDBandTarget(f_lo=30, f_hi=15)


def test_psd_band_degenerate(series_store):
    out = targets.evaluate_target("p", PSDBandTarget(), "at_least", 0.5, 0.1, 20,
                                  series_store([0.0, 1.0, 3.0], [1.0, 2.0, 3.0]))
    assert out.score == 20 and "uniformly" in out.reason
    out = targets.evaluate_target("p", PSDBandTarget(), "at_least", 0.5, 0.1, 20,
                                  series_store(np.arange(100.0), np.ones(100)))
    assert out.score == 20 and "power is 0" in out.reason
