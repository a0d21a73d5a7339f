"""Synaptic conductance targets (mozaik semantics, ANCHORS §1)."""

from __future__ import annotations

import numpy as np

from targets._base import DataStoreLike, Target, TargetUndefined
from targets.spiking import last_segment

__all__ = ["ConductanceRatio", "conductance_ratio", "TARGETS"]


def conductance_ratio(g_inh: np.ndarray, g_exc: np.ndarray) -> float:
    """``mean_i(mean_t g_inh[i, t]) / mean_i(mean_t g_exc[i, t])``.

    Both arrays are ``[cells, time]``; the cell sets may differ.

    Raises
    ------
    ValueError
        Empty, non-finite, or a zero excitatory mean.

    Examples
    --------
    >>> conductance_ratio(np.array([[4.0, 6.0], [10.0, 10.0]]), np.array([[1.0, 3.0]]))
    3.75
    """
    if g_inh.size == 0 or g_exc.size == 0:
        raise ValueError("empty conductance signal")
    inh = float(np.mean(np.mean(g_inh, axis=-1)))
    exc = float(np.mean(np.mean(g_exc, axis=-1)))
    if not (np.isfinite(inh) and np.isfinite(exc)):
        raise ValueError("conductance signal contains NaN or inf")
    if exc == 0:
        raise ValueError("mean excitatory conductance is 0")
    return inh / exc


class ConductanceRatio(Target):
    """Ratio of the mean inhibitory to the mean excitatory conductance, spontaneous activity.

    Signals ``inh_signal`` / ``exc_signal`` (``gsyn_inh`` / ``gsyn_exc``) of the recorded cells of
    the sheet in the last segment of ``segment_kind``; value :func:`conductance_ratio`. Typical:
    exact 5.0, norm 0.2. Missing signal, NaN, or zero excitation: undefined.
    """

    kind = "exact"
    needs_sheet = True

    def __init__(
        self,
        sheet_name: str | None = None,
        segment_kind: str = "spontaneous",
        exc_signal: str = "gsyn_exc",
        inh_signal: str = "gsyn_inh",
    ) -> None:
        super().__init__(sheet_name)
        self.segment_kind = segment_kind
        self.exc_signal = exc_signal
        self.inh_signal = inh_signal

    def compute(self, store: DataStoreLike) -> float:
        seg = last_segment(store, self.segment_kind)
        data = {}
        for name in (self.exc_signal, self.inh_signal):
            try:
                sig = store.signal(seg, self.sheet_name, name)  # type: ignore[arg-type]
                data[name] = np.asarray(sig.data, np.float64)
            except Exception as exc:  # noqa: BLE001 - a missing signal: undefined
                raise TargetUndefined(f"no signal {name!r}: {exc}")
        try:
            return conductance_ratio(data[self.inh_signal], data[self.exc_signal])
        except ValueError as exc:
            raise TargetUndefined(str(exc))


TARGETS = (ConductanceRatio,)
