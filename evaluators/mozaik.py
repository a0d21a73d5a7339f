"""Convert a mozaik ``PickledDataStore`` into a simtune data store (best effort, needs mozaik).

mozaik keeps its results as pickled neo ``Segment`` objects plus a ``datastore.recordings.pickle``
index; the stimulus of each segment is a parameter string (``MozaikParametrized.idd``). This
adapter loads the store with mozaik's own classes and writes simtune's HDF5 layout: one sheet per
mozaik sheet (ids, positions, preferred orientations where the orientation map gives them), one
segment per stimulus presentation (mozaik's per-sheet segments of one presentation are grouped)
with its stimulus attributes, the spikes, and the ``gsyn_exc``/``gsyn_inh``
signals where recorded.

It cannot be tested without mozaik (not installable here: it needs NEST/PyNN); the attribute names
below follow mozaik's public API (``mozaik.storage.datastore.PickledDataStore``,
``mozaik.storage.queries.param_filter_query``, ``MozaikParametrized.idd``) as read from its source,
and anything that does not match raises a clear error rather than guessing.
"""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Any

import numpy as np

from evaluators.datastore import DataStoreWriter

__all__ = ["convert_pickled_datastore"]

# mozaik stimulus class name -> our segment kind
_KINDS = {
    "InternalStimulus": "spontaneous",
    "Null": "spontaneous",
    "FullfieldDriftingSinusoidalGrating": "grating",
    "DriftingSinusoidalGratingDisk": "disk",
}


def _stim_attrs(stim: Any) -> dict[str, Any]:
    name = type(stim).__name__
    get = lambda key: float(getattr(stim, key, math.nan))  # noqa: E731
    return {
        "kind": _KINDS.get(name, name),
        "duration_ms": get("duration"),
        "orientation": get("orientation"),
        "contrast": get("contrast"),
        "spatial_frequency": get("spatial_frequency"),
        "temporal_frequency": get("temporal_frequency"),
        "radius": get("radius"),
        "trial": int(getattr(stim, "trial", 0) or 0),
        "mozaik_stimulus": name,
    }


def convert_pickled_datastore(mozaik_dir: str | os.PathLike[str],
                              out_path: str | os.PathLike[str]) -> Path:
    """Read the mozaik data store in ``mozaik_dir`` and write it to ``out_path`` (HDF5).

    Raises
    ------
    ImportError
        mozaik is not importable (install mozaik with its simulator to use the adapter).
    FileNotFoundError
        ``mozaik_dir`` does not exist.
    """
    try:
        from mozaik.storage.datastore import PickledDataStore
        from mozaik.tools.mozaik_parametrized import MozaikParametrized
        from parameters import ParameterSet
    except ImportError as exc:
        raise ImportError(
            "convert_pickled_datastore needs mozaik (https://github.com/CSNG-MFF/mozaik) and "
            f"its 'parameters' package in this environment: {exc}"
        ) from exc
    src = Path(mozaik_dir)
    if not src.is_dir():
        raise FileNotFoundError(f"no mozaik data store directory at {src}")
    ds = PickledDataStore(
        load=True,
        parameters=ParameterSet({"root_directory": str(src), "store_stimuli": False}),
        replace=False,
    )
    sheets = list(ds.sheets())
    with DataStoreWriter(out_path, simulator="mozaik") as w:
        for sheet in sheets:
            ids = np.asarray(ds.get_sheet_ids(sheet), np.int64)
            pos = np.asarray(ds.get_neuron_positions()[sheet])
            ori = None
            try:
                ann = ds.get_neuron_annotations()[sheet]
                ori = np.array([float(a["LGNAfferentOrientation"]) for a in ann])
            except Exception:  # noqa: BLE001 - no orientation map on this sheet
                ori = None
            w.add_sheet(sheet, ids=ids, x=pos[0], y=pos[1], orientation=ori)
        index: dict[str, int] = {}  # mozaik has one segment per (stimulus, sheet); we group
        for seg in ds.get_segments():
            sheet = seg.annotations["sheet_name"]
            key = str(seg.annotations["stimulus"])
            if key not in index:
                index[key] = w.add_segment(**_stim_attrs(MozaikParametrized.idd(key)))
            k = index[key]
            by_id = {int(st.annotations["source_id"]): st for st in seg.spiketrains}
            ids = np.asarray(ds.get_sheet_ids(sheet), np.int64)
            t0 = float(seg.spiketrains[0].t_start.rescale("ms")) if seg.spiketrains else 0.0
            w.add_spikes(k, sheet, [
                np.asarray(by_id[i].rescale("ms")) - t0 if i in by_id else np.zeros(0)
                for i in ids
            ])
            for name in ("gsyn_exc", "gsyn_inh"):
                sigs = [a for a in seg.analogsignals if a.name == name]
                if sigs:
                    a = sigs[0]
                    w.add_signal(k, sheet, name, ids=np.asarray(a.annotations["source_ids"]),
                                 data=np.asarray(a.rescale("nS")).T,
                                 dt_ms=float(a.sampling_period.rescale("ms")))
    return Path(out_path)
