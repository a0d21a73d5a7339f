"""Stimulus-tuning targets: orientation, size and modulation ratio (mozaik semantics, ANCHORS §1).

Segments are found by their stimulus attributes (``store.segments(kind="grating",
orientation=..., contrast=...)``). Where several segments match (trials), spike counts are
summed over them and rates are counts over the summed durations. Cells are selected by their
preferred orientation (sheet ``orientation``, radians) with the circular distance of period pi.
Every degenerate case (no matching segment, no selected cell, a zero denominator) raises
:class:`~targets.TargetUndefined` with the reason, so it scores ``max_score`` instead of crashing
the controller as the peer tool did.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from targets._base import DataStoreLike, Target, TargetUndefined
from targets.spiking import (
    binned_counts,
    last_segment,
    segment_offsets,
    segment_spikes,
    sheet_of,
)

__all__ = [
    "OrientationTuningPreferenceTarget",
    "OrientationTuningOrthoHighTarget",
    "OrientationTuningOrthoLowTarget",
    "SizeTuning",
    "ModulationRatio",
    "circular_distance",
    "f1_f0",
    "TARGETS",
]


def circular_distance(a: np.ndarray | float, b: float, period: float = math.pi) -> np.ndarray:
    """Distance of angles on a circle of period ``p``: ``min(|a - b| mod p, p - |a - b| mod p)``.

    >>> circular_distance(np.array([0.05, 3.1, 1.0]), 0.0).round(3).tolist()
    [0.05, 0.042, 1.0]
    """
    d = np.mod(np.abs(np.asarray(a, np.float64) - b), period)
    return np.minimum(d, period - d)


def f1_f0(psth: np.ndarray, cycles: int) -> float:
    """Modulation ratio ``2 A[k] / A[0]`` with ``A = mean over cells of |FFT(psth)|``.

    ``psth`` is ``[n_cells, n_bins]`` (Hz); ``k = cycles`` is the number of stimulus cycles in the
    segment, so ``A[k]`` is the amplitude at the stimulus temporal frequency (mozaik's
    ModulationRatio; De Valois et al. 1982: simple cells F1/F0 > 1).

    Raises
    ------
    ValueError
        ``A[0] == 0`` (no spikes) or ``k`` outside ``1 .. n_bins // 2``.

    Examples
    --------
    >>> t = np.arange(100)
    >>> round(f1_f0(np.array([1 + np.cos(2 * np.pi * 4 * t / 100)]), 4), 6)
    1.0
    """
    n_bins = psth.shape[1]
    if not 1 <= cycles <= n_bins // 2:
        raise ValueError(f"{cycles} stimulus cycles cannot be resolved with {n_bins} bins")
    spectrum = np.fft.rfft(psth, axis=1)
    amp = np.abs(spectrum[:, [0, cycles]]).mean(axis=0)
    if amp[0] <= 0:
        raise ValueError("F0 is 0 (no spikes)")
    return float(2.0 * amp[1] / amp[0])


# -- shared helpers -------------------------------------------------------------------------------


def _segments(store: DataStoreLike, kind: str, **match: Any) -> list[Any]:
    segs = store.segments(kind=kind, **match)
    if not segs:
        desc = ", ".join(f"{k}={v:g}" if isinstance(v, float) else f"{k}={v}" for k, v in
                         match.items())
        raise TargetUndefined(f"no segment of kind {kind!r} with {desc}")
    for seg in segs:
        d = float(seg.duration_ms)
        if not (math.isfinite(d) and d > 0):
            raise TargetUndefined(f"segment {seg.index} has duration_ms={d}")
    return segs


def _counts(store: DataStoreLike, segs: list[Any], sheet: str) -> tuple[np.ndarray, float]:
    """Spike counts per neuron summed over ``segs`` and the summed duration (ms)."""
    total = None
    for seg in segs:
        c = np.diff(segment_offsets(store, seg, sheet))
        total = c if total is None else total + c
    return total, float(sum(float(s.duration_ms) for s in segs))  # type: ignore[return-value]


def _preferring(sheet: Any, orientation: float, tolerance: float) -> np.ndarray:
    if sheet.orientation is None:
        raise TargetUndefined(f"sheet {sheet.name!r} has no preferred orientations")
    return circular_distance(sheet.orientation, orientation) < tolerance


class _OrientationBase(Target):
    needs_sheet = True

    def __init__(
        self,
        sheet_name: str | None = None,
        preferred_orientation: float = math.pi / 2,
        orthogonal_orientation: float = 0.0,
        tolerance: float = 0.1,
        contrast: float = 100.0,
        spontaneous_kind: str = "spontaneous",
        grating_kind: str = "grating",
    ) -> None:
        super().__init__(sheet_name)
        if tolerance <= 0:
            raise ValueError(f"tolerance must be > 0 rad, found {tolerance}")
        self.preferred_orientation = float(preferred_orientation)
        self.orthogonal_orientation = float(orthogonal_orientation)
        self.tolerance = float(tolerance)
        self.contrast = float(contrast)
        self.spontaneous_kind = spontaneous_kind
        self.grating_kind = grating_kind

    def _cells(self, store: DataStoreLike) -> np.ndarray:
        sheet = sheet_of(store, self.sheet_name)
        cells = _preferring(sheet, self.preferred_orientation, self.tolerance)
        if not cells.any():
            raise TargetUndefined(
                f"no cell prefers {self.preferred_orientation:g} rad within {self.tolerance:g}"
            )
        return cells

    def _rate(self, store: DataStoreLike, cells: np.ndarray, orientation: float) -> float:
        segs = _segments(store, self.grating_kind, orientation=orientation,
                         contrast=self.contrast)
        counts, duration = _counts(store, segs, self.sheet_name)  # type: ignore[arg-type]
        return float(counts[cells].mean() / (duration / 1000.0))

    def _spont_rate(self, store: DataStoreLike, cells: np.ndarray) -> float:
        seg = last_segment(store, self.spontaneous_kind)
        counts, duration = _counts(store, [seg], self.sheet_name)  # type: ignore[arg-type]
        return float(counts[cells].mean() / (duration / 1000.0))


class OrientationTuningPreferenceTarget(_OrientationBase):
    """Preferred / orthogonal response of the cells preferring ``preferred_orientation``.

    Cells: circular distance (period pi) of the preferred orientation to ``pi/2`` below
    ``tolerance`` (0.1 rad). Value: ``r(grating pi/2, c) / r(grating 0, c)`` with ``r`` the mean
    rate of those cells and ``c = contrast`` (100). Typical: at least 5, norm 0.5. Undefined when
    no cell is selected or the orthogonal rate is 0.
    """

    kind = "at_least"

    def compute(self, store: DataStoreLike) -> float:
        cells = self._cells(store)
        r_pref = self._rate(store, cells, self.preferred_orientation)
        r_orth = self._rate(store, cells, self.orthogonal_orientation)
        if r_orth <= 0:
            raise TargetUndefined("rate at the orthogonal orientation is 0")
        return r_pref / r_orth


class OrientationTuningOrthoHighTarget(_OrientationBase):
    """Orthogonal response relative to spontaneous activity, high contrast.

    Same cells as :class:`OrientationTuningPreferenceTarget`. Value:
    ``|r_spont - r(grating 0, contrast)| / r_spont`` with ``contrast = 100``. Typical: exact 0,
    norm 0.5. Undefined when no cell is selected or ``r_spont == 0``.
    """

    kind = "exact"

    def compute(self, store: DataStoreLike) -> float:
        cells = self._cells(store)
        r_spont = self._spont_rate(store, cells)
        if r_spont <= 0:
            raise TargetUndefined("spontaneous rate of the selected cells is 0")
        r_orth = self._rate(store, cells, self.orthogonal_orientation)
        return abs(r_spont - r_orth) / r_spont


class OrientationTuningOrthoLowTarget(OrientationTuningOrthoHighTarget):
    """As :class:`OrientationTuningOrthoHighTarget` at low contrast (``contrast = 10``)."""

    def __init__(
        self,
        sheet_name: str | None = None,
        preferred_orientation: float = math.pi / 2,
        orthogonal_orientation: float = 0.0,
        tolerance: float = 0.1,
        contrast: float = 10.0,
        spontaneous_kind: str = "spontaneous",
        grating_kind: str = "grating",
    ) -> None:
        super().__init__(sheet_name, preferred_orientation, orthogonal_orientation, tolerance,
                         contrast, spontaneous_kind, grating_kind)


class SizeTuning(Target):
    """Fraction of central cells whose response is suppressed by a larger stimulus.

    Cells: preferring ``orientation`` (pi/2, tolerance 0.1 rad) with
    ``x^2 + y^2 < centre_radius^2`` (1). A cell is suppressed if
    ``count_disk > min_disk_count`` (2), ``count_full > 0`` and
    ``rate_disk / rate_full > ratio`` (1.1), with the disk of ``radius`` (1.25) and the
    full-field grating both at ``orientation`` and ``contrast`` (100); counts are per segment
    (mean over trials). Value: suppressed / selected. Typical: at least 0.7, norm 0.1.
    """

    kind = "at_least"
    needs_sheet = True

    def __init__(
        self,
        sheet_name: str | None = None,
        orientation: float = math.pi / 2,
        tolerance: float = 0.1,
        contrast: float = 100.0,
        radius: float = 1.25,
        centre_radius: float = 1.0,
        min_disk_count: float = 2.0,
        ratio: float = 1.1,
        disk_kind: str = "disk",
        full_field_kind: str = "grating",
    ) -> None:
        super().__init__(sheet_name)
        self.orientation = float(orientation)
        self.tolerance = float(tolerance)
        self.contrast = float(contrast)
        self.radius = float(radius)
        self.centre_radius = float(centre_radius)
        self.min_disk_count = float(min_disk_count)
        self.ratio = float(ratio)
        self.disk_kind = disk_kind
        self.full_field_kind = full_field_kind

    def compute(self, store: DataStoreLike) -> float:
        sheet = sheet_of(store, self.sheet_name)
        cells = _preferring(sheet, self.orientation, self.tolerance)
        cells &= sheet.x**2 + sheet.y**2 < self.centre_radius**2
        n_sel = int(cells.sum())
        if n_sel == 0:
            raise TargetUndefined(
                f"no cell within r < {self.centre_radius:g} prefers {self.orientation:g} rad"
            )
        disk = _segments(store, self.disk_kind, orientation=self.orientation,
                         contrast=self.contrast, radius=self.radius)
        full = _segments(store, self.full_field_kind, orientation=self.orientation,
                         contrast=self.contrast)
        c_disk, d_disk = _counts(store, disk, self.sheet_name)  # type: ignore[arg-type]
        c_full, d_full = _counts(store, full, self.sheet_name)  # type: ignore[arg-type]
        n_disk = c_disk[cells] / len(disk)
        n_full = c_full[cells] / len(full)
        r_disk = c_disk[cells] / d_disk
        r_full = c_full[cells] / d_full
        with np.errstate(divide="ignore", invalid="ignore"):
            suppressed = (n_disk > self.min_disk_count) & (n_full > 0) & (
                r_disk > self.ratio * r_full
            )
        return float(suppressed.sum() / n_sel)


class ModulationRatio(Target):
    """F1/F0 of the PSTH of cells preferring each high-contrast full-field grating's orientation.

    For every segment of ``segment_kind`` at ``contrast`` (100): cells within ``tolerance``
    (0.1 rad) of the segment's orientation; PSTH in Hz with ``bin_ms`` (10 ms) bins; ``A`` =
    mean over cells of ``|FFT|``; ``k`` = number of stimulus cycles in the segment
    (``temporal_frequency * duration``, rounded); value ``2 A[k] / A[0]`` (:func:`f1_f0`),
    averaged over the segments where it is defined. Typical: exact 1.5 (L4) / 0.5 (L2/3),
    norm 0.03.
    """

    kind = "exact"
    needs_sheet = True

    def __init__(
        self,
        sheet_name: str | None = None,
        contrast: float = 100.0,
        tolerance: float = 0.1,
        bin_ms: float = 10.0,
        segment_kind: str = "grating",
    ) -> None:
        super().__init__(sheet_name)
        if bin_ms <= 0:
            raise ValueError(f"bin_ms must be > 0, found {bin_ms}")
        self.contrast = float(contrast)
        self.tolerance = float(tolerance)
        self.bin_ms = float(bin_ms)
        self.segment_kind = segment_kind

    def compute(self, store: DataStoreLike) -> float:
        sheet = sheet_of(store, self.sheet_name)
        segs = _segments(store, self.segment_kind, contrast=self.contrast)
        values, reasons = [], []
        for seg in segs:
            ori = float(seg.stimulus.get("orientation", float("nan")))
            tf = float(seg.stimulus.get("temporal_frequency", float("nan")))
            if not (math.isfinite(ori) and math.isfinite(tf)):
                reasons.append(f"segment {seg.index}: no orientation/temporal_frequency")
                continue
            cells = np.flatnonzero(_preferring(sheet, ori, self.tolerance))
            if cells.size == 0:
                reasons.append(f"segment {seg.index}: no cell prefers {ori:g} rad")
                continue
            cycles = int(round(tf * seg.duration_ms / 1000.0))
            times, offsets = segment_spikes(store, seg, self.sheet_name)  # type: ignore[arg-type]
            psth = binned_counts(times, offsets, seg.duration_ms, self.bin_ms, cells)
            try:
                values.append(f1_f0(psth * (1000.0 / self.bin_ms), cycles))
            except ValueError as exc:
                reasons.append(f"segment {seg.index}: {exc}")
        if not values:
            raise TargetUndefined("; ".join(reasons) or "no segment")
        return float(np.mean(values))


TARGETS = (
    OrientationTuningPreferenceTarget,
    OrientationTuningOrthoHighTarget,
    OrientationTuningOrthoLowTarget,
    SizeTuning,
    ModulationRatio,
)
