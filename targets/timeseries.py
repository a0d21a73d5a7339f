"""Time-series targets: waveform fit (hnn-core style) and spectral band power.

A simulation writes free-form series into the store (``/timeseries/<name>/times, values``; times
in ms). :class:`TimeSeriesTarget` compares one with a measured waveform the way hnn-core's
optimizer fits a dipole (seed 001): scale, Hamming-smooth, cut to the common time range,
resample the longer series onto the shorter one (linearly, or with ``resample="fft"`` exactly as
hnn-core's ``_rmse``), then RMSE or ``1 - r``. :class:`PSDBandTarget` measures the share of a
series' power in a frequency band with ``scipy.signal.welch``.

SciPy is imported where it is used, so importing the targets (the controller does) stays cheap.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Sequence

import numpy as np

from targets._base import DataStoreLike, Target, TargetUndefined

__all__ = [
    "TimeSeriesTarget",
    "PSDBandTarget",
    "load_waveform",
    "hamming_smooth",
    "align",
    "align_fft",
    "waveform_distance",
    "welch_psd",
    "band_power",
    "TARGETS",
]

METRICS = ("rmse", "1-r")
RESAMPLES = ("interp", "fft")

_Floats = Sequence[float] | np.ndarray


def load_waveform(
    path: str | Path, base_dir: str | Path | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Read a two-column text file (time ms, value); relative paths resolve against ``base_dir``.

    Raises
    ------
    FileNotFoundError
        The file does not exist.
    ValueError
        It does not hold two numeric columns with at least two rows and increasing times.
    """
    p = Path(path).expanduser()
    if not p.is_absolute() and base_dir is not None:
        p = Path(base_dir).expanduser() / p
    if not p.is_file():
        raise FileNotFoundError(f"target waveform file not found: {p}")
    data = np.loadtxt(p, ndmin=2)
    if data.shape[1] < 2 or data.shape[0] < 2:
        raise ValueError(f"{p}: expected two columns (time ms, value) and >= 2 rows, "
                         f"found shape {data.shape}")
    return _checked(data[:, 0], data[:, 1], str(p))


def _checked(times: _Floats, values: _Floats, what: str) -> tuple[np.ndarray, np.ndarray]:
    t = np.asarray(times, np.float64).ravel()
    v = np.asarray(values, np.float64).ravel()
    if t.size != v.size or t.size < 2:
        raise ValueError(f"{what}: times and values must have the same length >= 2, "
                         f"found {t.size} and {v.size}")
    if not (np.all(np.isfinite(t)) and np.all(np.isfinite(v))):
        raise ValueError(f"{what}: contains NaN or inf")
    if np.any(np.diff(t) <= 0):
        raise ValueError(f"{what}: times must be strictly increasing")
    return t, v


def hamming_smooth(times: np.ndarray, values: np.ndarray, window_ms: float) -> np.ndarray:
    """Convolve with a normalised Hamming window of ``window_ms`` (hnn-core ``smooth_waveform``).

    The window has ``round(window_ms / dt)`` points (``dt`` the median sampling step); the output
    has the input's length (``mode="same"``). ``window_ms <= 0`` returns the values unchanged.
    """
    if window_ms <= 0 or values.size < 2:
        return values
    dt = float(np.median(np.diff(times)))
    n = int(round(window_ms / dt))
    if n < 2:
        return values
    w = np.hamming(n)
    return np.convolve(values, w / w.sum(), mode="same")


def align(
    sim_t: np.ndarray,
    sim_v: np.ndarray,
    tgt_t: np.ndarray,
    tgt_v: np.ndarray,
    resample: str = "interp",
) -> tuple[np.ndarray, np.ndarray]:
    """Cut both series to their common time range and resample the longer onto the shorter.

    ``resample="interp"``: the samples within ``[lo, hi]`` (both ends included),
    ``lo = max(t0)``, ``hi = min(t_last)``; the series with more of them is linearly
    interpolated (``np.interp``) at the other one's times. ``resample="fft"``: hnn-core's
    rule, :func:`align_fft`.

    Returns
    -------
    (sim, target)
        Two arrays of the same length.

    Raises
    ------
    ValueError
        Fewer than two samples of either series in the common range, or an unknown
        ``resample``.
    """
    if resample == "fft":
        return align_fft(sim_t, sim_v, tgt_t, tgt_v)
    if resample != "interp":
        raise ValueError(f"resample must be one of {RESAMPLES}, found {resample!r}")
    lo, hi = max(sim_t[0], tgt_t[0]), min(sim_t[-1], tgt_t[-1])
    s = (sim_t >= lo) & (sim_t <= hi)
    g = (tgt_t >= lo) & (tgt_t <= hi)
    if s.sum() < 2 or g.sum() < 2:
        raise ValueError(f"series overlap in fewer than two samples (common range {lo}..{hi} ms)")
    st, sv, gt, gv = sim_t[s], sim_v[s], tgt_t[g], tgt_v[g]
    if st.size >= gt.size:
        return np.interp(gt, st, sv), gv
    return sv, np.interp(st, gt, gv)


def align_fft(
    sim_t: np.ndarray, sim_v: np.ndarray, tgt_t: np.ndarray, tgt_v: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """hnn-core's cut and resampling of a simulated and a measured dipole.

    With ``lo = max(t0)`` and ``hi = min(t_last)`` of the two series, each series is sliced
    end-exclusively, ``v[i_lo:i_hi]``, where ``i_x`` is the index of its sample nearest to
    ``x`` (the first one on a tie); the longer slice is then resampled to the shorter's length
    with ``scipy.signal.resample`` (Fourier method: the slice is taken as one period of a
    periodic signal). Equal lengths are left as they are. This is what hnn-core's ``_rmse`` /
    ``_anticorr`` do (``hnn_core/dipole.py``, ``_resample_and_weight_dipole``) when its
    optimizer calls them with ``tstart=0`` and ``tstop`` the simulation's end, for series that
    start at ``t >= 0``; the weights hnn-core carries are all 1 there.

    Raises
    ------
    ValueError
        Fewer than two samples of either series in the slice.

    Examples
    --------
    >>> t = np.arange(9.0)
    >>> s, g = align_fft(t, np.cos(np.pi * t / 2), t[::2], np.cos(np.pi * t[::2] / 2))
    >>> s.round(12).tolist(), g.tolist()  # the last sample (t = 8) is cut: 8 -> 4 samples
    ([1.0, -1.0, 1.0, -1.0], [1.0, -1.0, 1.0, -1.0])
    """
    from scipy import signal

    lo, hi = max(sim_t[0], tgt_t[0]), min(sim_t[-1], tgt_t[-1])
    i0, i1 = int(np.argmin(np.abs(sim_t - lo))), int(np.argmin(np.abs(sim_t - hi)))
    j0, j1 = int(np.argmin(np.abs(tgt_t - lo))), int(np.argmin(np.abs(tgt_t - hi)))
    sv, gv = sim_v[i0:i1], tgt_v[j0:j1]
    if sv.size < 2 or gv.size < 2:
        raise ValueError(f"series overlap in fewer than two samples (common range {lo}..{hi} ms)")
    if sv.size > gv.size:
        sv = signal.resample(sv, gv.size)
    elif sv.size < gv.size:
        gv = signal.resample(gv, sv.size)
    return np.asarray(sv, np.float64), np.asarray(gv, np.float64)


def waveform_distance(sim: np.ndarray, target: np.ndarray, metric: str = "rmse") -> float:
    """``sqrt(mean((sim - target)^2))`` or ``1 - pearson_r(sim, target)``.

    >>> waveform_distance(np.array([1.0, 2, 3]), np.array([1.0, 2, 5]))  # doctest: +ELLIPSIS
    1.1547...
    >>> waveform_distance(np.array([1.0, 2, 3]), np.array([2.0, 4, 6]), "1-r")
    0.0
    """
    if metric == "rmse":
        return float(np.sqrt(np.mean((sim - target) ** 2)))
    if metric == "1-r":
        a, b = sim - sim.mean(), target - target.mean()
        den = math.sqrt(float(a @ a) * float(b @ b))
        if den == 0:
            raise ValueError("a constant series has no correlation")
        return float(max(0.0, 1.0 - float(a @ b) / den))
    raise ValueError(f"metric must be one of {METRICS}, found {metric!r}")


def _series(store: DataStoreLike, name: str) -> tuple[np.ndarray, np.ndarray]:
    try:
        t, v = store.timeseries(name)
    except Exception as exc:  # noqa: BLE001 - missing series: undefined
        raise TargetUndefined(f"no time series {name!r}: {exc}")
    try:
        return _checked(t, v, f"time series {name!r}")
    except ValueError as exc:
        raise TargetUndefined(str(exc))


class TimeSeriesTarget(Target):
    """Distance of a simulated series to a measured waveform (hnn-core dipole fit).

    The simulated ``series`` is multiplied by ``scale``, Hamming-smoothed over
    ``smooth_window_ms`` (0: none; :func:`hamming_smooth`), both series are cut to their common
    time range and the longer is resampled onto the shorter (:func:`align`):
    ``resample="interp"`` linearly at the shorter's times, both ends of the range included;
    ``resample="fft"`` as hnn-core's ``_rmse`` (:func:`align_fft`: end-exclusive slices,
    ``scipy.signal.resample``). Value (``metric``): ``"rmse"``, ``sqrt(mean((s - t)^2))``, or
    ``"1-r"``, ``1 - pearson_r(s, t)`` (hnn-core's ``_anticorr``). The measured waveform is
    ``target_file`` (two columns: time ms, value; relative to ``base_dir``) or the inline
    ``target_times`` / ``target_values``; it is read and checked here, so a missing file fails
    at config validation (``FileNotFoundError``). Typical: at most 0 (i.e. minimise).

    FFT resampling treats each slice as one period of a periodic signal, so a waveform whose
    ends differ rings near them; linear interpolation does not, which is why it stays the
    default outside the hnn-core example (``param_optim/hnn_evoked``, ``resample: fft``).
    """

    kind = "at_most"

    def __init__(
        self,
        sheet_name: str | None = None,
        series: str = "dipole",
        target_file: str | None = None,
        target_times: Sequence[float] | None = None,
        target_values: Sequence[float] | None = None,
        base_dir: str | None = None,
        scale: float = 1.0,
        smooth_window_ms: float = 0.0,
        metric: str = "rmse",
        resample: str = "interp",
    ) -> None:
        super().__init__(sheet_name)
        if metric not in METRICS:
            raise ValueError(f"metric must be one of {METRICS}, found {metric!r}")
        if resample not in RESAMPLES:
            raise ValueError(f"resample must be one of {RESAMPLES}, found {resample!r}")
        if smooth_window_ms < 0:
            raise ValueError(f"smooth_window_ms must be >= 0, found {smooth_window_ms}")
        if (target_file is None) == (target_values is None):
            raise ValueError("give exactly one of target_file or target_values (+ target_times)")
        if target_file is not None:
            self.target_t, self.target_v = load_waveform(target_file, base_dir)
        elif target_times is None or target_values is None:
            raise ValueError("target_values needs target_times (ms)")
        else:
            self.target_t, self.target_v = _checked(target_times, target_values, "inline target")
        self.series = series
        self.scale = float(scale)
        self.smooth_window_ms = float(smooth_window_ms)
        self.metric = metric
        self.resample = resample

    def compute(self, store: DataStoreLike) -> float:
        t, v = _series(store, self.series)
        v = hamming_smooth(t, v * self.scale, self.smooth_window_ms)
        try:
            sim, tgt = align(t, v, self.target_t, self.target_v, self.resample)
            return waveform_distance(sim, tgt, self.metric)
        except ValueError as exc:
            raise TargetUndefined(str(exc))


def welch_psd(
    values: np.ndarray, dt_ms: float, segment_ms: float = 256.0
) -> tuple[np.ndarray, np.ndarray]:
    """Welch power spectral density: frequencies (Hz) and the one-sided PSD.

    ``scipy.signal.welch(values, fs=1000 / dt_ms, nperseg=n)`` with its defaults written out:
    ``n = round(segment_ms / dt_ms)`` samples per segment (the whole series if it is shorter),
    ``noverlap = n // 2``, a periodic Hann window (``scipy.signal.get_window("hann", n)``),
    ``detrend="constant"``, ``scaling="density"``, ``average="mean"`` (Welch 1967).

    Examples
    --------
    >>> f, p = welch_psd(np.sin(2 * np.pi * 125 * np.arange(1024) / 1000), dt_ms=1.0)
    >>> float(f[np.argmax(p)])
    125.0
    """
    from scipy import signal

    fs = 1000.0 / dt_ms
    n = min(values.size, max(int(round(segment_ms / dt_ms)), 2))
    freqs, psd = signal.welch(
        values, fs=fs, window="hann", nperseg=n, noverlap=n // 2, detrend="constant",
        return_onesided=True, scaling="density", average="mean",
    )
    return np.asarray(freqs, np.float64), np.asarray(psd, np.float64)


def band_power(freqs: np.ndarray, psd: np.ndarray, f_lo: float, f_hi: float) -> float:
    """Power in ``[f_lo, f_hi]`` Hz: sum of the PSD bins in the band times the bin width."""
    df = float(freqs[1] - freqs[0]) if freqs.size > 1 else 1.0
    band = (freqs >= f_lo) & (freqs <= f_hi)
    return float(psd[band].sum() * df)


class PSDBandTarget(Target):
    """Share of a time series' power in the band ``[f_lo, f_hi]`` Hz.

    PSD by :func:`welch_psd` (``scipy.signal.welch``: ``segment_ms`` segments, 50 % overlap,
    periodic Hann window, mean removed). Band power: the sum of the PSD bins with
    ``f_lo <= f <= f_hi`` times the bin width (:func:`band_power`).
    ``reference=None``: value = band power / total power above 0 Hz (a fraction in [0, 1]);
    ``reference=[lo, hi]``: value = band power / power in that band (a ratio). hnn-core's PSD
    objective also fits band power. Undefined when the series is missing, non-uniformly sampled,
    shorter than a segment's two samples, or the reference power is 0.
    """

    kind = "at_least"

    def __init__(
        self,
        sheet_name: str | None = None,
        series: str = "dipole",
        f_lo: float = 15.0,
        f_hi: float = 30.0,
        reference: Sequence[float] | None = None,
        segment_ms: float = 256.0,
    ) -> None:
        super().__init__(sheet_name)
        if not 0 <= f_lo < f_hi:
            raise ValueError(f"need 0 <= f_lo < f_hi, found {f_lo}, {f_hi}")
        if reference is not None and (len(reference) != 2 or not 0 <= reference[0] < reference[1]):
            raise ValueError(f"reference must be [lo, hi] Hz with lo < hi, found {reference!r}")
        self.series = series
        self.f_lo, self.f_hi = float(f_lo), float(f_hi)
        self.reference = None if reference is None else (float(reference[0]), float(reference[1]))
        self.segment_ms = float(segment_ms)

    def compute(self, store: DataStoreLike) -> float:
        t, v = _series(store, self.series)
        steps = np.diff(t)
        dt = float(np.median(steps))
        if np.max(np.abs(steps - dt)) > 1e-6 * max(dt, 1e-12) + 1e-9:
            raise TargetUndefined(f"time series {self.series!r} is not uniformly sampled")
        freqs, psd = welch_psd(v, dt, self.segment_ms)
        band = band_power(freqs, psd, self.f_lo, self.f_hi)
        if self.reference is None:
            ref = band_power(freqs, psd, freqs[1] if freqs.size > 1 else 0.0, float(freqs[-1]))
        else:
            ref = band_power(freqs, psd, *self.reference)
        if not ref > 0:
            raise TargetUndefined("reference power is 0")
        return band / ref


TARGETS = (TimeSeriesTarget, PSDBandTarget)
