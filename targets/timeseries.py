"""Time-series targets: waveform fit (hnn-core style) and spectral band power.

A simulation writes free-form series into the store (``/timeseries/<name>/times, values``; times
in ms). :class:`TimeSeriesTarget` compares one with a measured waveform the way hnn-core's
optimizer fits a dipole (seed 001): scale, Hamming-smooth, cut to the measured time range,
resample the longer series onto the shorter one's times, then RMSE or ``1 - r``.
:class:`PSDBandTarget` measures the share of a series' power in a frequency band.
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
    "waveform_distance",
    "welch_psd",
    "band_power",
    "TARGETS",
]

METRICS = ("rmse", "1-r")


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


def _checked(
    times: Sequence[float], values: Sequence[float], what: str
) -> tuple[np.ndarray, np.ndarray]:
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
    sim_t: np.ndarray, sim_v: np.ndarray, tgt_t: np.ndarray, tgt_v: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Cut both series to their common time range and resample the longer onto the shorter.

    Returns ``(sim, target)`` sampled at the same times (linear interpolation, ``np.interp``).

    Raises
    ------
    ValueError
        Fewer than two samples of either series in the common range.
    """
    lo, hi = max(sim_t[0], tgt_t[0]), min(sim_t[-1], tgt_t[-1])
    s = (sim_t >= lo) & (sim_t <= hi)
    g = (tgt_t >= lo) & (tgt_t <= hi)
    if s.sum() < 2 or g.sum() < 2:
        raise ValueError(f"series overlap in fewer than two samples (common range {lo}..{hi} ms)")
    st, sv, gt, gv = sim_t[s], sim_v[s], tgt_t[g], tgt_v[g]
    if st.size >= gt.size:
        return np.interp(gt, st, sv), gv
    return sv, np.interp(st, gt, gv)


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
    ``smooth_window_ms`` (0: none), cut to the measured time range, and the longer of the two
    series is resampled onto the shorter's times; value: RMSE or ``1 - r`` (``metric``). The
    measured waveform is ``target_file`` (two columns: time ms, value; relative to ``base_dir``)
    or the inline ``target_times`` / ``target_values``; it is read and checked here, so a missing
    file fails at config validation (``FileNotFoundError``). Typical: at most 0 (i.e. minimise).
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
    ) -> None:
        super().__init__(sheet_name)
        if metric not in METRICS:
            raise ValueError(f"metric must be one of {METRICS}, found {metric!r}")
        if smooth_window_ms < 0:
            raise ValueError(f"smooth_window_ms must be >= 0, found {smooth_window_ms}")
        if (target_file is None) == (target_values is None):
            raise ValueError("give exactly one of target_file or target_values (+ target_times)")
        if target_file is not None:
            self.target_t, self.target_v = load_waveform(target_file, base_dir)
        else:
            if target_times is None:
                raise ValueError("target_values needs target_times (ms)")
            self.target_t, self.target_v = _checked(
                target_times, target_values, "inline target"  # type: ignore[arg-type]
            )
        self.series = series
        self.scale = float(scale)
        self.smooth_window_ms = float(smooth_window_ms)
        self.metric = metric

    def compute(self, store: DataStoreLike) -> float:
        t, v = _series(store, self.series)
        v = hamming_smooth(t, v * self.scale, self.smooth_window_ms)
        try:
            sim, tgt = align(t, v, self.target_t, self.target_v)
            return waveform_distance(sim, tgt, self.metric)
        except ValueError as exc:
            raise TargetUndefined(str(exc))


def welch_psd(
    values: np.ndarray, dt_ms: float, segment_ms: float = 256.0, overlap: float = 0.5
) -> tuple[np.ndarray, np.ndarray]:
    """Welch power spectral density estimate in NumPy: frequencies (Hz) and one-sided PSD.

    Segments of ``segment_ms`` (the whole series if shorter) overlapping by ``overlap``, each
    mean-detrended and Hann-windowed; the periodograms ``|rfft|^2 / (fs * sum(w^2))`` (doubled
    except at 0 and Nyquist) are averaged (Welch 1967; as ``scipy.signal.welch`` with
    ``detrend="constant"``, ``scaling="density"``).
    """
    fs = 1000.0 / dt_ms
    n = min(values.size, max(int(round(segment_ms / dt_ms)), 2))
    step = max(int(round(n * (1.0 - overlap))), 1)
    starts = np.arange(0, values.size - n + 1, step)
    idx = starts[:, None] + np.arange(n)[None, :]
    seg = values[idx]
    seg = seg - seg.mean(axis=1, keepdims=True)
    w = np.hanning(n + 2)[1:-1] if n > 2 else np.ones(n)
    spec = np.abs(np.fft.rfft(seg * w, axis=1)) ** 2 / (fs * float(w @ w))
    if n % 2 == 0:
        spec[:, 1:-1] *= 2
    else:
        spec[:, 1:] *= 2
    return np.fft.rfftfreq(n, d=1.0 / fs), spec.mean(axis=0)


def band_power(freqs: np.ndarray, psd: np.ndarray, f_lo: float, f_hi: float) -> float:
    """Power in ``[f_lo, f_hi]`` Hz: sum of the PSD bins in the band times the bin width."""
    df = float(freqs[1] - freqs[0]) if freqs.size > 1 else 1.0
    band = (freqs >= f_lo) & (freqs <= f_hi)
    return float(psd[band].sum() * df)


class PSDBandTarget(Target):
    """Share of a time series' power in the band ``[f_lo, f_hi]`` Hz.

    PSD by :func:`welch_psd` (``segment_ms`` segments, 50 % overlap, Hann window, mean removed).
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
