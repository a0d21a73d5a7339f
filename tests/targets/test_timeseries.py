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


# -- golden values: hnn-core's _rmse (resample="fft") and scipy's Welch ----------------------------


def _periodic(t: np.ndarray, period: float) -> np.ndarray:
    """A signal band-limited to 5 cycles per period: sampled over one period with more than 10
    points, FFT resampling reproduces it exactly."""
    x = 2 * np.pi * t / period
    return np.cos(3 * x) + 0.5 * np.sin(5 * x)


@pytest.mark.parametrize("n_sim, n_tgt", [(60, 24), (24, 60)])
def test_fft_resampling_is_exact_for_a_band_limited_period(series_store, n_sim, n_tgt):
    """Both series sample one period T = 100 ms including its end point. hnn-core's rule cuts
    the end point (end-exclusive slice: exactly one period remains) and FFT-resamples the longer
    slice to the shorter's length, which for this signal is exact: RMSE = the offset 0.25."""
    period = 100.0
    st, tt = np.linspace(0, period, n_sim + 1), np.linspace(0, period, n_tgt + 1)
    fit = TimeSeriesTarget(target_times=tt, target_values=_periodic(tt, period) + 0.25,
                           resample="fft")
    store = series_store(st, _periodic(st, period))
    assert fit.compute(store) == pytest.approx(0.25, rel=1e-12)
    # linear interpolation (samples 1/12 of a cycle apart at best) is off by ~2e-4
    interp = TimeSeriesTarget(target_times=tt, target_values=_periodic(tt, period) + 0.25)
    assert interp.compute(store) != pytest.approx(0.25, rel=1e-6)
    anti = TimeSeriesTarget(target_times=tt, target_values=2 * _periodic(tt, period) + 1,
                            resample="fft", metric="1-r")
    assert anti.compute(store) == pytest.approx(0.0, abs=1e-12)


def test_fft_slices_are_end_exclusive_and_nearest(series_store):
    """The simulation runs on past the target (to 130 ms); the common range ends at the target's
    last sample (100 ms) and each slice stops just before the sample nearest to it."""
    period = 100.0
    st = np.arange(0.0, 130.0 + 1e-9, 100.0 / 60)
    tt = np.linspace(0, period, 25)
    fit = TimeSeriesTarget(target_times=tt, target_values=_periodic(tt, period) - 0.5,
                           resample="fft")
    assert fit.compute(series_store(st, _periodic(st, period))) == pytest.approx(0.5, rel=1e-12)


def _hnn_rmse_reference(sim_t, sim_v, exp_t, exp_v, tstop):
    """hnn-core's ``_rmse(dpl, exp_dpl, tstart=0, tstop=tstop)`` as its optimizer calls it,
    written out from hnn_core/dipole.py (``_resample_and_weight_dipole``), weights included."""
    from scipy import signal

    tstart = 0.0
    for ts in (exp_t, sim_t):
        tstart = max(tstart, ts[0])
        tstop = min(tstop, ts[-1])
    e0, e1 = np.abs(exp_t - tstart).argmin(), np.abs(exp_t - tstop).argmin()
    s0, s1 = np.abs(sim_t - tstart).argmin(), np.abs(sim_t - tstop).argmin()
    weights = np.ones(s1)[s0:s1]
    a, b = sim_v[s0:s1], exp_v[e0:e1]
    if a.size > b.size:
        a = signal.resample(a, b.size)
        weights = signal.resample(weights, b.size)
        weights[weights < 1e-4] = 0
    elif a.size < b.size:
        b = signal.resample(b, a.size)
    return float(np.sqrt((weights * (a - b) ** 2).sum() / weights.sum()))


def _hnn_smooth(values, window_ms, dt):
    w = np.hamming(int(np.round(1e-3 * window_ms * 1000.0 / dt)))
    return np.convolve(values, w / w.sum(), "same")


def _measured():
    """hnn-core's measured S1 ERP (103 samples, 0 .. 169.83 ms), or a stand-in on its times."""
    if ERP.is_file():
        data = np.loadtxt(ERP)
        return data[:, 0], data[:, 1]
    t = np.arange(103) * (169.8259311846296669 / 102)
    return t, 20 * np.sin(t / 15) + 30 * np.exp(-((t - 100) / 20) ** 2)


@pytest.mark.parametrize("tstop", [170.0, 169.8259311846296669])  # hnn_evoked; hnn-core's example
def test_fft_resampling_reproduces_hnn_core_rmse(series_store, tstop):
    """A dipole at dt = 0.025 ms to tstop (6801 or 6794 samples) against the 103-sample measured
    one, x 3000 and smoothed over 30 ms as in hnn-core's optimize_evoked example."""
    dt = 0.025
    sim_t = np.arange(int(round(tstop / dt)) + 1) * dt
    rng = np.random.default_rng(4)
    raw = 1e-2 * (np.exp(-((sim_t - 25) / 5) ** 2) - 2 * np.exp(-((sim_t - 70) / 12) ** 2)
                  + np.exp(-((sim_t - 135) / 10) ** 2)) + 1e-4 * rng.standard_normal(sim_t.size)
    exp_t, exp_v = _measured()
    expected = _hnn_rmse_reference(sim_t, _hnn_smooth(3000 * raw, 30.0, dt), exp_t, exp_v, tstop)
    kw = dict(target_times=exp_t, target_values=exp_v, scale=3000, smooth_window_ms=30)
    store = series_store(sim_t, raw)
    got = TimeSeriesTarget(**kw, resample="fft").compute(store)
    assert got == pytest.approx(expected, rel=0, abs=1e-9)
    assert got != TimeSeriesTarget(**kw).compute(store)  # np.interp is the other choice


def test_fft_resampling_equal_lengths_as_hnn_core_test_rmse(series_store):
    """hnn-core's own test: the measured dipole against itself + 0.1 (no resampling)."""
    exp_t, exp_v = _measured()
    fit = TimeSeriesTarget(target_times=exp_t, target_values=exp_v, resample="fft")
    assert fit.compute(series_store(exp_t, exp_v + 0.1)) == pytest.approx(0.1, rel=1e-12)
    with pytest.raises(ValueError, match="resample"):
        TimeSeriesTarget(target_times=exp_t, target_values=exp_v, resample="linear")


def _welch_by_hand(x: np.ndarray, fs: float, n: int) -> np.ndarray:
    """Welch (1967) as scipy.signal.welch's defaults define it: periodic Hann window
    ``0.5 - 0.5 cos(2 pi j / n)``, segments every ``n - n // 2`` samples, mean removed,
    ``|rfft|^2 / (fs sum w^2)`` doubled except at 0 Hz (and Nyquist for even n), averaged."""
    j = np.arange(n)
    w = 0.5 - 0.5 * np.cos(2 * np.pi * j / n)
    step = n - n // 2
    rows = []
    for start in range(0, x.size - n + 1, step):
        seg = x[start:start + n] - x[start:start + n].mean()
        p = np.abs(np.fft.rfft(seg * w)) ** 2 / (fs * np.sum(w ** 2))
        p[1:] *= 2
        if n % 2 == 0:
            p[-1] /= 2
        rows.append(p)
    return np.mean(rows, axis=0)


@pytest.mark.parametrize("dt_ms, segment_ms", [(1.0, 256.0), (1.0, 253.0), (0.5, 100.0)])
def test_welch_psd_is_scipy_welch(dt_ms, segment_ms):
    from scipy import signal

    rng = np.random.default_rng(6)
    x = rng.standard_normal(3001) + np.sin(2 * np.pi * 22 * np.arange(3001) * dt_ms / 1000)
    n = int(round(segment_ms / dt_ms))
    f, p = welch_psd(x, dt_ms, segment_ms)
    fs = 1000.0 / dt_ms
    f_ref, p_ref = signal.welch(x, fs=fs, nperseg=n)
    assert np.array_equal(f, f_ref) and np.allclose(p, p_ref, rtol=1e-13, atol=0)
    by_hand = _welch_by_hand(x, fs, n)
    assert np.allclose(p, by_hand, rtol=1e-10, atol=0)
    # the symmetric window the NumPy version used is not that: the check can tell them apart
    sym = np.hanning(n + 2)[1:-1]
    assert not np.allclose(sym, 0.5 - 0.5 * np.cos(2 * np.pi * np.arange(n) / n), rtol=1e-6)


def test_psd_band_ratio_golden(series_store):
    t = np.arange(0.0, 3000.0, 1.0)
    rng = np.random.default_rng(8)
    v = np.sin(2 * np.pi * 20 * t / 1000) + 0.5 * rng.standard_normal(t.size)
    p = _welch_by_hand(v, 1000.0, 256)
    f = np.fft.rfftfreq(256, 1e-3)
    band = p[(f >= 15) & (f <= 30)].sum()
    store = series_store(t, v)
    assert PSDBandTarget().compute(store) == pytest.approx(band / p[1:].sum(), rel=1e-10)
    ref = p[(f >= 60) & (f <= 90)].sum()
    assert PSDBandTarget(reference=[60, 90]).compute(store) == pytest.approx(band / ref, rel=1e-10)
