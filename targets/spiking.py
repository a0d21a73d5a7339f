"""Spiking statistics targets: rates, irregularity, synchrony (mozaik semantics, ANCHORS §1).

Every statistic works on the whole ``(times, offsets)`` array of a sheet at once (neuron ``i``
fired at ``times[offsets[i]:offsets[i + 1]]``, ms from the start of the segment); there is no
Python loop over neurons. The maths are pure functions; the target classes only pick the segment
and the cells and turn degenerate input into :class:`~targets.TargetUndefined`.

The helpers :func:`segment_spikes`, :func:`segment_offsets`, :func:`last_segment` and
:func:`sheet_of` are shared with :mod:`targets.tuning`: arrays are cached per ``(store, segment,
sheet)`` for as long as the store object lives, so the targets on one store read each array from
disk at most once, and spike times only where a statistic needs them (counts need the offsets).
"""

from __future__ import annotations

import math
import weakref
from typing import Any

import numpy as np

from targets._base import DataStoreLike, Target, TargetUndefined

__all__ = [
    "SpontActivityTarget",
    "IrregularityTarget",
    "SynchronyTarget",
    "PopulationRateTarget",
    "mean_rates",
    "isi_cv",
    "isi_counts",
    "psth_bins",
    "binned_counts",
    "mean_pairwise_correlation",
    "segment_spikes",
    "segment_offsets",
    "last_segment",
    "sheet_of",
    "TARGETS",
]

# -- data access shared by the spiking and tuning targets ----------------------------------------

_CACHE: weakref.WeakKeyDictionary[Any, dict[tuple[str, int, str], Any]]
_CACHE = weakref.WeakKeyDictionary()


def _per_store(store: Any) -> dict[tuple[str, int, str], Any]:
    try:
        return _CACHE.setdefault(store, {})
    except TypeError:  # not weak-referenceable: no caching
        return {}


def segment_spikes(
    store: DataStoreLike, segment: Any, sheet: str
) -> tuple[np.ndarray, np.ndarray]:
    """``store.spikes(segment, sheet)``, read once per live store object.

    Raises :class:`TargetUndefined` when the store has no spikes for that sheet in the segment
    (a missing sheet is a wrong config or an incomplete store; either way the value is undefined).
    """
    index = int(getattr(segment, "index", segment))
    cache = _per_store(store)
    key = ("spikes", index, str(sheet))
    if key not in cache:
        try:
            times, offsets = store.spikes(segment, sheet)
        except Exception as exc:  # noqa: BLE001 - DataStoreError and friends: undefined value
            raise TargetUndefined(f"no spikes of sheet {sheet!r} in segment {index}: {exc}")
        cache[key] = (np.asarray(times, np.float64), np.asarray(offsets, np.int64))
    return cache[key]  # type: ignore[no-any-return]


def segment_offsets(store: DataStoreLike, segment: Any, sheet: str) -> np.ndarray:
    """The spike ``offsets`` only (counts are their ``np.diff``), without reading spike times
    when the store can (``store.spike_offsets``) and they are not cached already."""
    index = int(getattr(segment, "index", segment))
    cache = _per_store(store)
    full = cache.get(("spikes", index, str(sheet)))
    if full is not None:
        return full[1]  # type: ignore[no-any-return]
    reader = getattr(store, "spike_offsets", None)
    if reader is None:
        return segment_spikes(store, segment, sheet)[1]
    key = ("offsets", index, str(sheet))
    if key not in cache:
        try:
            cache[key] = np.asarray(reader(segment, sheet), np.int64)
        except Exception as exc:  # noqa: BLE001
            raise TargetUndefined(f"no spikes of sheet {sheet!r} in segment {index}: {exc}")
    return cache[key]  # type: ignore[no-any-return]


def last_segment(store: DataStoreLike, kind: str) -> Any:
    """The last segment of ``kind`` with a positive duration, or :class:`TargetUndefined`."""
    segs = store.segments(kind=kind)
    if not segs:
        raise TargetUndefined(f"no segment of kind {kind!r}")
    seg = segs[-1]
    _check_duration(seg)
    return seg


def _check_duration(seg: Any) -> float:
    duration = float(seg.duration_ms)
    if not (math.isfinite(duration) and duration > 0):
        raise TargetUndefined(f"segment {seg.index} has duration_ms={duration}")
    return duration


def sheet_of(store: DataStoreLike, name: str | None) -> Any:
    """``store.sheet(name)``, or :class:`TargetUndefined` when it is missing or empty."""
    if name is None:
        raise TargetUndefined("no sheet_name given")
    try:
        sheet = store.sheet(name)
    except Exception as exc:  # noqa: BLE001
        raise TargetUndefined(f"no sheet {name!r}: {exc}")
    if len(sheet) == 0:
        raise TargetUndefined(f"sheet {name!r} has no neurons")
    return sheet


# -- pure statistics ------------------------------------------------------------------------------


def mean_rates(offsets: np.ndarray, duration_ms: float) -> np.ndarray:
    """Per-neuron firing rate in Hz: spike count / duration.

    >>> mean_rates(np.array([0, 2, 2, 5]), 1000.0).tolist()
    [2.0, 0.0, 3.0]
    """
    return np.diff(offsets).astype(np.float64) / (duration_ms / 1000.0)


def _owners(offsets: np.ndarray) -> np.ndarray:
    """Neuron index of every spike."""
    counts = np.diff(offsets)
    return np.repeat(np.arange(counts.size), np.maximum(counts, 0))


def isi_counts(offsets: np.ndarray) -> np.ndarray:
    """Number of inter-spike intervals per neuron (``max(count - 1, 0)``)."""
    return np.maximum(np.diff(offsets) - 1, 0)


def isi_cv(times: np.ndarray, offsets: np.ndarray, min_isis: int = 6) -> np.ndarray:
    """Coefficient of variation of the inter-spike intervals of each neuron with ``>= min_isis``.

    ``CV = std(ISI) / mean(ISI)`` with the population standard deviation (``ddof=0``), as
    ``elephant.statistics.cv`` (which is ``scipy.stats.variation``). Vectorised over the whole
    ``(times, offsets)`` array in three passes: the ISIs of neuron ``i`` sum to
    ``t_last - t_first``, their squares are summed per neuron with one ``np.add.reduceat`` (the
    ISIs that straddle two neurons are zeroed first), and ``var = E[isi^2] - E[isi]^2``. Neurons
    with fewer ISIs, or whose ISIs are all 0, are dropped.

    Returns
    -------
    numpy.ndarray
        One CV per kept neuron, in neuron order.

    Examples
    --------
    >>> t = np.array([0., 10, 20, 30, 40, 50, 60, 0, 1, 3, 4, 30, 31, 60])
    >>> isi_cv(t, np.array([0, 7, 14])).round(3).tolist()
    [0.0, 1.241]
    """
    times = np.asarray(times, np.float64)
    offsets = np.asarray(offsets, np.int64)
    if offsets.size < 2 or times.size < 2:
        return np.zeros(0)
    counts = np.diff(offsets)
    n_isi = np.maximum(counts - 1, 0)
    keep = n_isi >= max(int(min_isis), 1)
    if not keep.any():
        return np.zeros(0)
    n = np.maximum(n_isi, 1).astype(np.float64)
    # ISIs of neuron i sum to t_last - t_first
    first = np.minimum(offsets[:-1], times.size - 1)
    last = np.maximum(offsets[1:] - 1, 0)
    mean = np.where(n_isi > 0, (times[last] - times[first]) / n, 0.0)
    # sum of squared ISIs per neuron: one reduceat over [offsets[i], offsets[i + 1]); the ISI
    # from one neuron's last spike to the next neuron's first is zeroed first
    sq = np.empty(times.size)
    np.subtract(times[1:], times[:-1], out=sq[:-1])
    sq[-1] = 0.0  # padding: trailing empty neurons index one past the last ISI
    inner = offsets[1:-1] - 1
    sq[inner[(inner >= 0) & (inner < sq.size)]] = 0.0
    np.square(sq, out=sq)
    ss = np.add.reduceat(sq, np.minimum(offsets[:-1], sq.size - 1))
    # per-neuron sums keep the cancellation in E[x^2] - E[x]^2 relative to each neuron's own
    # ISIs: the CV is exact to ~1e-7 even for a clock-like train
    ss = np.maximum(ss - n * mean * mean, 0.0)
    keep &= mean > 0
    return np.sqrt(ss[keep] / n[keep]) / mean[keep]


def psth_bins(duration_ms: float, bin_ms: float = 10.0) -> int:
    """Number of PSTH bins of a segment: ``round(duration_ms / bin_ms)`` (half to even).

    As the mozaik Optimization tool (CSNG-MFF/mozaik-tools ``Optimization/targets.py``,
    ``SynchronyTarget`` and ``ModulationRatio``: ``int(round((t_stop - t_start) / 10.))``).

    >>> psth_bins(1000.0), psth_bins(1004.9), psth_bins(1005.0), psth_bins(1015.0)
    (100, 100, 100, 102)
    """
    return int(round(duration_ms / bin_ms))


def binned_counts(
    times: np.ndarray,
    offsets: np.ndarray,
    duration_ms: float,
    bin_ms: float = 10.0,
    neurons: np.ndarray | None = None,
) -> np.ndarray:
    """Spike counts per neuron (``neurons``: increasing indices) in ``n`` equal bins of the segment.

    ``n = round(duration_ms / bin_ms)`` (:func:`psth_bins`) bins of width ``duration_ms / n``
    cover the whole segment ``[0, duration_ms]``: bin ``k`` is ``[e_k, e_{k+1})`` with
    ``e = linspace(0, duration_ms, n + 1)``, the last bin closed on the right. This is
    ``numpy.histogram(train, bins=n, range=(0, duration_ms))`` for every neuron, as the mozaik
    Optimization tool bins its PSTHs (``Optimization/targets.py``); the bins are exactly
    ``bin_ms`` wide when the duration is a multiple of it. Spikes outside ``[0, duration_ms]``
    are dropped.

    Returns
    -------
    numpy.ndarray
        ``[len(neurons), n]`` (all neurons when ``neurons`` is None), float64.

    Raises
    ------
    ValueError
        ``n < 1`` (a segment shorter than half a bin) or ``neurons`` not strictly increasing.

    Examples
    --------
    25 ms in 10 ms bins: ``round(2.5) = 2`` bins of 12.5 ms, ``[0, 12.5)`` and ``[12.5, 25]``:

    >>> binned_counts(np.array([0.0, 9.9, 10.0, 24.9, 25.0]), np.array([0, 5]), 25.0).tolist()
    [[3.0, 2.0]]
    """
    n_bins = psth_bins(duration_ms, bin_ms)
    if n_bins < 1:
        raise ValueError(f"a segment of {duration_ms} ms has no {bin_ms} ms bin")
    counts = np.diff(offsets)
    if neurons is None:
        neurons = np.arange(counts.size)
    neurons = np.asarray(neurons, np.int64)
    if neurons.size and np.any(np.diff(neurons) <= 0):
        raise ValueError("neurons must be strictly increasing indices")
    # gather the selected neurons' spikes (they stay grouped by neuron, in order): by index when
    # they are few, by a boolean mask over all spikes when they are many
    sel_counts = counts[neurons]
    n_sel = int(sel_counts.sum())
    if 4 * n_sel < times.size:
        before = np.cumsum(sel_counts) - sel_counts
        idx = np.repeat(offsets[neurons] - before, sel_counts)
        idx += np.arange(n_sel)
        t = times[idx]
    else:
        selected = np.zeros(counts.size, bool)
        selected[neurons] = True
        t = times[offsets[0]:offsets[-1]][np.repeat(selected, counts)]
    row = np.repeat(np.arange(neurons.size), sel_counts)
    # numpy.histogram's rule against the same edges: e_k <= t < e_{k+1}, t = e_n in the last bin
    edges = np.linspace(0.0, float(duration_ms), n_bins + 1)
    key = np.searchsorted(edges, t, side="right") - 1
    key[t == edges[-1]] = n_bins - 1
    if key.size and (key.min() < 0 or key.max() >= n_bins):
        ok = (key >= 0) & (key < n_bins)
        key, row = key[ok], row[ok]
    key += row * n_bins
    flat = np.bincount(key, minlength=neurons.size * n_bins)
    return flat.reshape(neurons.size, n_bins).astype(np.float64)


def mean_pairwise_correlation(binned: np.ndarray) -> float:
    """Mean of the strict upper triangle of the Pearson correlation matrix of the rows.

    Rows with zero variance have undefined correlations; those entries count as 0 (mozaik's
    ``nan_to_num``). Computed without forming the ``n x n`` matrix: with ``z_i`` the centred,
    unit-norm rows (``0`` for constant rows), ``sum_{i<j} r_ij = (|sum_i z_i|^2 - n_ok) / 2``.

    Raises
    ------
    ValueError
        Fewer than two rows.

    Examples
    --------
    >>> x = np.array([[0., 1, 0, 1], [0, 1, 0, 1], [1, 0, 1, 0]])
    >>> round(mean_pairwise_correlation(x), 6)  # (1 - 1 - 1) / 3
    -0.333333
    """
    n = binned.shape[0]
    if n < 2:
        raise ValueError(f"need at least 2 rows, found {n}")
    h = np.asarray(binned, np.float64)
    n_bins = h.shape[1]
    mean = h.sum(axis=1) / n_bins
    sq = np.einsum("ij,ij->i", h, h)
    ss = sq - n_bins * mean * mean  # sum of squared deviations from the row mean
    ok = ss > 1e-12 * np.maximum(1.0, sq)
    w = np.zeros(n)
    w[ok] = 1.0 / np.sqrt(ss[ok])
    s = w @ h - float(w @ mean)  # sum over rows of the centred, unit-norm rows
    upper = (float(s @ s) - float(ok.sum())) / 2.0
    return upper / (n * (n - 1) / 2.0)


# -- targets --------------------------------------------------------------------------------------


class SpontActivityTarget(Target):
    """Mean firing rate (Hz) of all neurons of the sheet in the spontaneous segment.

    ``value = mean_i(count_i) / duration`` over every neuron of the sheet (ANCHORS §1). The last
    segment of ``segment_kind`` is used. Typical target: range ``[1, 2]`` Hz, norm 0.2.
    """

    kind = "range"
    needs_sheet = True

    def __init__(self, sheet_name: str | None = None, segment_kind: str = "spontaneous") -> None:
        super().__init__(sheet_name)
        self.segment_kind = segment_kind

    def compute(self, store: DataStoreLike) -> float:
        seg = last_segment(store, self.segment_kind)
        offsets = segment_offsets(store, seg, self.sheet_name)  # type: ignore[arg-type]
        if offsets.size < 2:
            raise TargetUndefined("sheet has no neurons")
        return float(mean_rates(offsets, seg.duration_ms).mean())


class IrregularityTarget(Target):
    """Mean ISI CV over neurons with more than 5 ISIs in the spontaneous segment.

    ``value = mean_i std(ISI_i) / mean(ISI_i)`` over neurons with ``> min_isis - 1`` ISIs
    (:func:`isi_cv`). Typical target: at least 1, norm 0.1.
    """

    kind = "at_least"
    needs_sheet = True

    def __init__(
        self, sheet_name: str | None = None, segment_kind: str = "spontaneous", min_isis: int = 6
    ) -> None:
        super().__init__(sheet_name)
        self.segment_kind = segment_kind
        self.min_isis = int(min_isis)

    def compute(self, store: DataStoreLike) -> float:
        seg = last_segment(store, self.segment_kind)
        times, offsets = segment_spikes(store, seg, self.sheet_name)  # type: ignore[arg-type]
        cv = isi_cv(times, offsets, self.min_isis)
        if cv.size == 0:
            raise TargetUndefined(f"no neuron with at least {self.min_isis} ISIs")
        return float(cv.mean())


class SynchronyTarget(Target):
    """Mean pairwise correlation of the PSTHs of central cells in the spontaneous segment.

    Cells: ``max(|x|, |y|) <= centre_half_width`` and at least ``min_isis`` ISIs. PSTH: spike
    counts in ``round(duration / bin_ms)`` equal bins over the whole segment
    (:func:`binned_counts`). Value: mean of the strict upper triangle of their correlation
    matrix, NaN entries (constant PSTH) as 0 (:func:`mean_pairwise_correlation`), as the mozaik
    Optimization tool's ``SynchronyTarget`` (CSNG-MFF/mozaik-tools ``Optimization/targets.py``).
    Typical target: exact 0, norm 0.01. Fewer than two cells or two bins: undefined.
    """

    kind = "exact"
    needs_sheet = True

    def __init__(
        self,
        sheet_name: str | None = None,
        segment_kind: str = "spontaneous",
        centre_half_width: float = 1.5,
        min_isis: int = 6,
        bin_ms: float = 10.0,
    ) -> None:
        super().__init__(sheet_name)
        if bin_ms <= 0:
            raise ValueError(f"bin_ms must be > 0, found {bin_ms}")
        self.segment_kind = segment_kind
        self.centre_half_width = float(centre_half_width)
        self.min_isis = int(min_isis)
        self.bin_ms = float(bin_ms)

    def compute(self, store: DataStoreLike) -> float:
        seg = last_segment(store, self.segment_kind)
        sheet = sheet_of(store, self.sheet_name)
        offsets = segment_offsets(store, seg, self.sheet_name)  # type: ignore[arg-type]
        central = np.maximum(np.abs(sheet.x), np.abs(sheet.y)) <= self.centre_half_width
        cells = np.flatnonzero(central & (isi_counts(offsets) >= self.min_isis))
        if cells.size < 2:
            raise TargetUndefined(
                f"{cells.size} central cell(s) with at least {self.min_isis} ISIs; need 2"
            )
        if psth_bins(seg.duration_ms, self.bin_ms) < 2:
            raise TargetUndefined(f"segment of {seg.duration_ms} ms has fewer than two "
                                  f"{self.bin_ms} ms bins")
        times, offsets = segment_spikes(store, seg, self.sheet_name)  # type: ignore[arg-type]
        binned = binned_counts(times, offsets, seg.duration_ms, self.bin_ms, cells)
        return mean_pairwise_correlation(binned)


class PopulationRateTarget(Target):
    """Mean or standard deviation of the firing rates of the active neurons of a sheet.

    Active: rate ``> min_rate_hz``. ``statistic="mean"`` gives ``mean_i r_i``, ``"std"`` the
    population standard deviation (``ddof=0``). Fewer than ``min_active`` active neurons:
    undefined. The last segment of ``segment_kind`` is used (e.g. a motor pool's ``"drive"``).
    """

    kind = "exact"
    needs_sheet = True
    STATISTICS = ("mean", "std")

    def __init__(
        self,
        sheet_name: str | None = None,
        statistic: str = "mean",
        segment_kind: str = "spontaneous",
        min_rate_hz: float = 0.0,
        min_active: int = 1,
    ) -> None:
        super().__init__(sheet_name)
        if statistic not in self.STATISTICS:
            raise ValueError(f"statistic must be one of {self.STATISTICS}, found {statistic!r}")
        self.statistic = statistic
        self.segment_kind = segment_kind
        self.min_rate_hz = float(min_rate_hz)
        self.min_active = max(int(min_active), 1)

    def compute(self, store: DataStoreLike) -> float:
        seg = last_segment(store, self.segment_kind)
        offsets = segment_offsets(store, seg, self.sheet_name)  # type: ignore[arg-type]
        rates = mean_rates(offsets, seg.duration_ms)
        active = rates[rates > self.min_rate_hz]
        if active.size < self.min_active:
            raise TargetUndefined(
                f"{active.size} neuron(s) above {self.min_rate_hz} Hz; need {self.min_active}"
            )
        return float(active.mean() if self.statistic == "mean" else active.std())


TARGETS = (SpontActivityTarget, IrregularityTarget, SynchronyTarget, PopulationRateTarget)
