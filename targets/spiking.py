"""Spiking statistics targets: firing rate and irregularity (mozaik semantics, ANCHORS §1)."""

from __future__ import annotations

import numpy as np

from targets._base import DataStoreLike, Target, TargetUndefined

__all__ = ["SpontActivityTarget", "IrregularityTarget", "mean_rates", "isi_cv", "TARGETS"]


def mean_rates(offsets: np.ndarray, duration_ms: float) -> np.ndarray:
    """Per-neuron firing rate in Hz from spike ``offsets`` over a segment of ``duration_ms``."""
    return np.diff(offsets).astype(np.float64) / (duration_ms / 1000.0)


def isi_cv(times: np.ndarray, offsets: np.ndarray, min_isis: int = 6) -> np.ndarray:
    """Coefficient of variation of inter-spike intervals per neuron with ``>= min_isis`` ISIs.

    Vectorised over the whole (times, offsets) array; neurons with fewer ISIs are dropped.
    """
    counts = np.diff(offsets)
    isis = np.diff(times)
    # an ISI is valid if both spikes belong to the same neuron: drop the boundaries
    valid = np.ones(isis.size, dtype=bool)
    bounds = offsets[1:-1] - 1
    valid[bounds[(bounds >= 0) & (bounds < isis.size)]] = False
    owner = np.repeat(np.arange(counts.size), np.maximum(counts, 0))[:-1] if times.size else np.zeros(0, int)
    isis, owner = isis[valid], owner[valid]
    n_isi = np.bincount(owner, minlength=counts.size)
    s1 = np.bincount(owner, weights=isis, minlength=counts.size)
    s2 = np.bincount(owner, weights=isis * isis, minlength=counts.size)
    keep = n_isi >= min_isis
    mean = s1[keep] / n_isi[keep]
    var = s2[keep] / n_isi[keep] - mean * mean
    return np.sqrt(np.maximum(var, 0.0)) / mean


class SpontActivityTarget(Target):
    """Mean firing rate (Hz) of all neurons of the sheet in the spontaneous segment."""

    kind = "range"
    needs_sheet = True

    def __init__(self, sheet_name: str | None = None, segment_kind: str = "spontaneous") -> None:
        super().__init__(sheet_name)
        self.segment_kind = segment_kind

    def compute(self, store: DataStoreLike) -> float:
        segs = store.segments(kind=self.segment_kind)
        if not segs:
            raise TargetUndefined(f"no segment of kind {self.segment_kind!r}")
        seg = segs[-1]
        _, offsets = store.spikes(seg, self.sheet_name)  # type: ignore[arg-type]
        if offsets.size < 2:
            raise TargetUndefined("sheet has no neurons")
        return float(mean_rates(offsets, seg.duration_ms).mean())


class IrregularityTarget(Target):
    """Mean ISI CV over neurons with more than 5 ISIs in the spontaneous segment."""

    kind = "at_least"
    needs_sheet = True

    def __init__(self, sheet_name: str | None = None, segment_kind: str = "spontaneous") -> None:
        super().__init__(sheet_name)
        self.segment_kind = segment_kind

    def compute(self, store: DataStoreLike) -> float:
        segs = store.segments(kind=self.segment_kind)
        if not segs:
            raise TargetUndefined(f"no segment of kind {self.segment_kind!r}")
        times, offsets = store.spikes(segs[-1], self.sheet_name)  # type: ignore[arg-type]
        cv = isi_cv(times, offsets)
        if cv.size == 0:
            raise TargetUndefined("no neuron with more than 5 ISIs")
        return float(cv.mean())


TARGETS = (SpontActivityTarget, IrregularityTarget)
