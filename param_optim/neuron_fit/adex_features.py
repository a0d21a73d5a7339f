"""User targets of the ``neuron_fit`` example (``class: "features:AdaptationIndexTarget"``).

The config's folder is on ``sys.path`` for the controller and the workers, so targets written
beside the config are found by ``module:Class``.
"""

from __future__ import annotations

import numpy as np

from targets import Target, TargetUndefined
from targets.spiking import last_segment, segment_spikes


def adaptation_index(spike_times: np.ndarray) -> float:
    """Mean of ``(ISI[k+1] - ISI[k]) / (ISI[k+1] + ISI[k])`` (Naud et al. 2008, Biol. Cybern.).

    0 for regular firing, > 0 for adapting, < 0 for accelerating trains.

    >>> adaptation_index(np.array([0.0, 10.0, 30.0]))  # doctest: +ELLIPSIS
    0.333...
    """
    isi = np.diff(np.asarray(spike_times, dtype=float))
    if isi.size < 2:
        raise TargetUndefined(f"{isi.size + 1 if spike_times.size else 0} spike(s); need >= 3")
    return float(np.mean((isi[1:] - isi[:-1]) / (isi[1:] + isi[:-1])))


class AdaptationIndexTarget(Target):
    """Adaptation index of the first neuron of a sheet in the last segment of ``segment_kind``."""

    kind = "exact"
    needs_sheet = True

    def __init__(self, sheet_name: str | None = None, segment_kind: str = "high") -> None:
        super().__init__(sheet_name)
        self.segment_kind = segment_kind

    def compute(self, store) -> float:  # type: ignore[no-untyped-def]
        seg = last_segment(store, self.segment_kind)
        times, offsets = segment_spikes(store, seg, self.sheet_name)  # type: ignore[arg-type]
        return adaptation_index(times[offsets[0]:offsets[1]])


class SeriesWindowMeanTarget(Target):
    """Mean of the time series ``series`` over ``[t_from_ms, t_to_ms]`` (e.g. a steady state)."""

    kind = "exact"

    def __init__(self, sheet_name: str | None = None, series: str = "v_hyper",
                 t_from_ms: float = 400.0, t_to_ms: float = 550.0) -> None:
        super().__init__(sheet_name)
        if not t_from_ms < t_to_ms:
            raise ValueError(f"need t_from_ms < t_to_ms, found {t_from_ms}, {t_to_ms}")
        self.series, self.t_from_ms, self.t_to_ms = series, float(t_from_ms), float(t_to_ms)

    def compute(self, store) -> float:  # type: ignore[no-untyped-def]
        t, v = store.timeseries(self.series)
        sel = (t >= self.t_from_ms) & (t <= self.t_to_ms)
        if not sel.any():
            raise TargetUndefined(f"no samples of {self.series!r} in "
                                  f"[{self.t_from_ms}, {self.t_to_ms}] ms")
        return float(np.mean(v[sel]))
