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
    psth_bins,
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
    segment, so ``A[k]`` is the amplitude at the stimulus temporal frequency (the mozaik
    Optimization tool's ``ModulationRatio``, CSNG-MFF/mozaik-tools ``Optimization/targets.py``,
    which takes ``numpy.fft.fft``; ``|rfft|`` is the same for ``k <= n_bins / 2``. De Valois et al.
    1982: simple cells have F1/F0 > 1).

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
    rate of those cells and ``c = contrast`` (100). Typical: at least 5, norm 0.5.

    A perfectly selective population (silent at the orthogonal orientation, responding at the
    preferred one) has the value ``inf``, which meets an ``at_least`` target (score 0) and fails
    any other kind (``max_score``), as in the mozaik Optimization tool, where the ratio is a
    NumPy division (CSNG-MFF/mozaik-tools ``Optimization/targets.py``). Undefined when no cell is
    selected or the cells are silent at both orientations (the tool's ``0 / 0 = NaN``).
    """

    kind = "at_least"
    allows_infinite = True

    def compute(self, store: DataStoreLike) -> float:
        cells = self._cells(store)
        r_pref = self._rate(store, cells, self.preferred_orientation)
        r_orth = self._rate(store, cells, self.orthogonal_orientation)
        if r_orth <= 0:
            if r_pref <= 0:
                raise TargetUndefined("the selected cells are silent at both orientations")
            return math.inf
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
    ``x^2 + y^2 < centre_radius^2`` (1). With ``n_disk``, ``n_full`` a cell's spike counts in the
    disk of ``radius`` (1.25) and in the full-field grating, both at ``orientation`` and
    ``contrast`` (100), per segment (the mean over trials), the cell is suppressed if

    * ``measure="counts"``: ``n_disk > min_disk_count`` (2), ``n_full > 0`` and
      ``n_disk / n_full > ratio`` (1.1) -- the mozaik Optimization tool's rule, which compares
      spike counts (CSNG-MFF/mozaik-tools ``Optimization/targets.py``, ``SizeTuning``);
    * ``measure="rates"``: the same with the rates ``n / duration`` in the last comparison,
      ``r_disk / r_full > ratio`` (differs from counts when the two segments differ in length).

    Value: suppressed / selected. Typical: at least 0.7, norm 0.1.
    """

    kind = "at_least"
    needs_sheet = True
    MEASURES = ("counts", "rates")

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
        measure: str = "counts",
    ) -> None:
        super().__init__(sheet_name)
        if measure not in self.MEASURES:
            raise ValueError(f"measure must be one of {self.MEASURES}, found {measure!r}")
        self.orientation = float(orientation)
        self.tolerance = float(tolerance)
        self.contrast = float(contrast)
        self.radius = float(radius)
        self.centre_radius = float(centre_radius)
        self.min_disk_count = float(min_disk_count)
        self.ratio = float(ratio)
        self.disk_kind = disk_kind
        self.full_field_kind = full_field_kind
        self.measure = measure

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
        if self.measure == "counts":
            disk_resp, full_resp = n_disk, n_full
        else:  # rates: counts over the summed durations
            disk_resp, full_resp = c_disk[cells] / d_disk, c_full[cells] / d_full
        with np.errstate(divide="ignore", invalid="ignore"):  # n_full == 0 is excluded below
            quotient = disk_resp / full_resp
        suppressed = (n_disk > self.min_disk_count) & (n_full > 0) & (quotient > self.ratio)
        return float(suppressed.sum() / n_sel)


class ModulationRatio(Target):
    """F1/F0 of the PSTHs of cells preferring the orientation of high-contrast full-field gratings.

    For every segment of ``segment_kind`` at ``contrast`` (100) the cells within ``tolerance``
    (0.1 rad) of the segment's orientation are selected and binned: PSTH in Hz over
    ``round(duration / bin_ms)`` equal bins of the whole segment (:func:`binned_counts`,
    ``bin_ms`` 10). ``k = round(temporal_frequency * duration)`` is the number of stimulus cycles
    in the segment, ``A = mean over cells of |FFT(PSTH)|`` and the ratio ``2 A[k] / A[0]``
    (:func:`f1_f0`). ``pooling`` says over what ``A`` is averaged:

    * ``"cells"``: one list of the selected cells of **every** matching segment (a cell appears
      once per segment it is selected in), one ``A`` over all of them, one ratio -- the mozaik
      Optimization tool's ``ModulationRatio`` (CSNG-MFF/mozaik-tools ``Optimization/targets.py``).
      The pooled segments must share their duration and temporal frequency (one ``k``);
      otherwise the value is undefined (the tool bins every train over the first one's duration
      and takes the last segment's frequency).
    * ``"per_segment"``: one ratio per segment, averaged over the segments where it is defined.

    The two differ when the segments' cells differ in modulation or in rate (a simple and a
    complex orientation): pooling weights each segment by its F0. Typical: exact 1.5 (L4) /
    0.5 (L2/3), norm 0.03.
    """

    kind = "exact"
    needs_sheet = True
    POOLINGS = ("cells", "per_segment")

    def __init__(
        self,
        sheet_name: str | None = None,
        contrast: float = 100.0,
        tolerance: float = 0.1,
        bin_ms: float = 10.0,
        segment_kind: str = "grating",
        pooling: str = "cells",
    ) -> None:
        super().__init__(sheet_name)
        if bin_ms <= 0:
            raise ValueError(f"bin_ms must be > 0, found {bin_ms}")
        if pooling not in self.POOLINGS:
            raise ValueError(f"pooling must be one of {self.POOLINGS}, found {pooling!r}")
        self.contrast = float(contrast)
        self.tolerance = float(tolerance)
        self.bin_ms = float(bin_ms)
        self.segment_kind = segment_kind
        self.pooling = pooling

    def _psths(
        self, store: DataStoreLike, segs: list[Any]
    ) -> tuple[list[tuple[Any, float, np.ndarray]], list[str]]:
        """``(segment, temporal_frequency, PSTH [cells, bins] in Hz)`` of every segment with a
        selected cell, and why the others were skipped."""
        sheet = sheet_of(store, self.sheet_name)
        out, reasons = [], []
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
            if psth_bins(seg.duration_ms, self.bin_ms) < 1:
                reasons.append(f"segment {seg.index}: shorter than half a {self.bin_ms} ms bin")
                continue
            times, offsets = segment_spikes(store, seg, self.sheet_name)  # type: ignore[arg-type]
            counts = binned_counts(times, offsets, seg.duration_ms, self.bin_ms, cells)
            out.append((seg, tf, counts * (1000.0 / self.bin_ms)))
        return out, reasons

    def compute(self, store: DataStoreLike) -> float:
        segs = _segments(store, self.segment_kind, contrast=self.contrast)
        psths, reasons = self._psths(store, segs)
        if not psths:
            raise TargetUndefined("; ".join(reasons) or "no segment")
        if self.pooling == "per_segment":
            values = []
            for seg, tf, psth in psths:
                try:
                    values.append(f1_f0(psth, _cycles(tf, seg.duration_ms)))
                except ValueError as exc:
                    reasons.append(f"segment {seg.index}: {exc}")
            if not values:
                raise TargetUndefined("; ".join(reasons))
            return float(np.mean(values))
        first, tf, _ = psths[0]
        for seg, tf_i, _ in psths[1:]:
            if not (math.isclose(seg.duration_ms, first.duration_ms, rel_tol=1e-9)
                    and math.isclose(tf_i, tf, rel_tol=1e-9)):
                raise TargetUndefined(
                    f"pooled segments differ: segment {first.index} is {first.duration_ms:g} ms "
                    f"at {tf:g} Hz, segment {seg.index} {seg.duration_ms:g} ms at {tf_i:g} Hz "
                    "(pooling: per_segment takes one ratio per segment)"
                )
        try:
            return f1_f0(np.vstack([p for _, _, p in psths]), _cycles(tf, first.duration_ms))
        except ValueError as exc:
            raise TargetUndefined(str(exc))


def _cycles(temporal_frequency: float, duration_ms: float) -> int:
    """Stimulus cycles in a segment, ``round(tf * duration)`` (half to even, as the tool)."""
    return int(round(temporal_frequency * duration_ms / 1000.0))


TARGETS = (
    OrientationTuningPreferenceTarget,
    OrientationTuningOrthoHighTarget,
    OrientationTuningOrthoLowTarget,
    SizeTuning,
    ModulationRatio,
)
