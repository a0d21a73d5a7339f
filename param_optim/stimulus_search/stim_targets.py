"""Targets of the ``stimulus_search`` example: a group's response and its discriminability.

``GroupRateTarget`` is the most-exciting-input objective (OpenRetina's MEI: maximise a group's
time-averaged response); ``DiscriminationTarget`` the most-discriminative-stimulus objective
(OpenRetina's MDS, seed 000): with ``z = [r_target, r_other_1, ..., r_other_K]`` the mean rates
of the target group and of the K other groups,

    value = -log((K + 1) * softmax(z / tau)[0])

which is 0 when every group responds equally, tends to its minimum ``-log(K + 1)`` when the
target group alone responds and grows without bound when another group dominates. ``tau`` (Hz) sets how many Hz of difference count as "dominates" (default 1.6, the
OpenRetina value).
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from targets import Target, TargetUndefined
from targets.spiking import last_segment, mean_rates, segment_spikes


def group_rate(store, sheet: str, segment_kind: str) -> float:  # type: ignore[no-untyped-def]
    """Mean rate (Hz) over every cell of ``sheet`` (silent cells included)."""
    seg = last_segment(store, segment_kind)
    _, offsets = segment_spikes(store, seg, sheet)
    if offsets.size < 2:
        raise TargetUndefined(f"group {sheet!r} has no cells")
    return float(mean_rates(offsets, seg.duration_ms).mean())


def discrimination_loss(z: Sequence[float], tau: float = 1.6) -> float:
    """``-log((K + 1) * softmax(z / tau)[0])``, computed stably (log-sum-exp).

    >>> abs(discrimination_loss([5.0, 5.0, 5.0])) < 1e-12  # equal responses
    True
    >>> round(discrimination_loss([100.0, 0.0, 0.0, 0.0]), 4)  # -> -log(4)
    -1.3863
    """
    a = np.asarray(z, dtype=float) / tau
    m = a.max()
    log_softmax0 = a[0] - (m + np.log(np.exp(a - m).sum()))
    return float(-(np.log(a.size) + log_softmax0))


class GroupRateTarget(Target):
    """Mean firing rate of every cell of a group (sheet) in the last ``segment_kind`` segment."""

    kind = "at_least"
    needs_sheet = True

    def __init__(self, sheet_name: str | None = None, segment_kind: str = "stimulus") -> None:
        super().__init__(sheet_name)
        self.segment_kind = segment_kind

    def compute(self, store) -> float:  # type: ignore[no-untyped-def]
        return group_rate(store, self.sheet_name, self.segment_kind)  # type: ignore[arg-type]


class DiscriminationTarget(Target):
    """OpenRetina's MDS objective for group ``sheet_name`` against the groups ``others``.

    Minimum ``-log(len(others) + 1)``: use ``kind: exact`` with that target value (or
    ``at_most``), so the score is how far the stimulus is from perfectly discriminative.
    """

    kind = "exact"
    needs_sheet = True

    def __init__(self, sheet_name: str | None = None, others: Sequence[str] = (),
                 tau: float = 1.6, segment_kind: str = "stimulus") -> None:
        super().__init__(sheet_name)
        if not others:
            raise ValueError("others must name at least one other group (sheet)")
        if sheet_name in others:
            raise ValueError(f"others must not contain the target group {sheet_name!r}")
        if not tau > 0:
            raise ValueError(f"tau must be > 0, found {tau!r}")
        self.others, self.tau, self.segment_kind = list(others), float(tau), segment_kind

    def compute(self, store) -> float:  # type: ignore[no-untyped-def]
        z = [group_rate(store, g, self.segment_kind)
             for g in [self.sheet_name, *self.others]]  # type: ignore[list-item]
        return discrimination_loss(z, self.tau)
