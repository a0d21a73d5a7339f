"""Small hand-made data stores for the target tests (written with the real DataStoreWriter)."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any, Callable

import numpy as np
import pytest

from evaluators.datastore import DataStore, DataStoreWriter

HALF_PI = math.pi / 2

# five cells of sheet "exc":           x     y    preferred orientation
CELLS = [(0.0, 0.0, HALF_PI),          # 0: centre, prefers pi/2
         (1.0, 0.0, HALF_PI + 0.05),   # 1: prefers pi/2 (0.05 rad off), r = 1 (not < 1)
         (0.0, 1.0, 0.0),              # 2: prefers 0
         (3.0, 3.0, HALF_PI),          # 3: prefers pi/2, outside the centre
         (0.5, 0.5, HALF_PI - 0.09)]   # 4: prefers pi/2 (0.09 rad off), r < 1

SYNC_A = [5.0, 15.0, 35.0, 45.0, 105.0, 115.0, 305.0]  # bins 0 1 3 4 10 11 30
SYNC_B = [25.0, 55.0, 85.0, 125.0, 205.0, 505.0, 905.0]  # bins 2 5 8 12 20 50 90 (disjoint)


def evenly(n: int, duration: float = 1000.0) -> list[float]:
    """``n`` spikes spread evenly over the segment."""
    return list((np.arange(n) + 0.5) * duration / max(n, 1))


def write_store(path: Path, segments: list[dict[str, Any]], cells: list[tuple] = CELLS,
                sheet: str = "exc", explosion: bool = False) -> Path:
    """``segments``: dicts of stimulus attrs, ``spikes`` (list of trains), ``signals`` (opt.)."""
    with DataStoreWriter(path, simulator="test", seed=0, explosion=explosion) as w:
        xs, ys, th = (np.array([c[i] for c in cells], float) for i in range(3))
        w.add_sheet(sheet, ids=np.arange(len(cells)), x=xs, y=ys, orientation=th)
        for seg in segments:
            seg = dict(seg)
            spikes = seg.pop("spikes")
            signals = seg.pop("signals", {})
            k = w.add_segment(**seg)
            w.add_spikes(k, sheet, spikes)
            for name, data in signals.items():
                data = np.asarray(data, float)
                w.add_signal(k, sheet, name, ids=np.arange(data.shape[0]), data=data, dt_ms=1.0)
    return path


def standard_segments() -> list[dict[str, Any]]:
    """The hand-computed protocol used across the target tests (durations 1000 ms)."""
    g = dict(kind="grating", duration_ms=1000.0, spatial_frequency=0.8, temporal_frequency=2.0)
    # modulation: cell 0 fires at the same phase of both 2 Hz cycles, cell 1 flat (one per bin)
    mod0 = [5.0, 505.0]
    flat = list(np.arange(100) * 10.0 + 5.0)
    return [
        dict(kind="spontaneous", duration_ms=1000.0,
             spikes=[SYNC_A, SYNC_A, SYNC_B, evenly(3), evenly(1)],
             signals={"gsyn_exc": [[1.0, 3.0], [2.0, 2.0]],
                      "gsyn_inh": [[10.0, 10.0], [6.0, 14.0]]}),
        dict(g, orientation=0.0, contrast=100.0,
             spikes=[evenly(4), evenly(8), [], evenly(12), evenly(8)]),
        dict(g, orientation=HALF_PI, contrast=100.0,
             spikes=[mod0, flat, evenly(30), [], evenly(3)]),
        dict(g, orientation=0.0, contrast=10.0,
             spikes=[evenly(1), evenly(2), evenly(9), evenly(3), evenly(2)]),
        dict(kind="disk", duration_ms=1000.0, orientation=HALF_PI, contrast=100.0, radius=1.25,
             spikes=[evenly(10), evenly(5), [], [], evenly(3)]),
    ]


@pytest.fixture
def store_factory(tmp_path: Path) -> Callable[..., DataStore]:
    opened: list[DataStore] = []

    def make(segments: list[dict[str, Any]] | None = None, name: str = "ds.h5",
             **kwargs: Any) -> DataStore:
        path = write_store(tmp_path / name, standard_segments() if segments is None else segments,
                           **kwargs)
        store = DataStore(path)
        opened.append(store)
        return store

    yield make
    for s in opened:
        s.close()


@pytest.fixture
def store(store_factory: Callable[..., DataStore]) -> DataStore:
    return store_factory()
