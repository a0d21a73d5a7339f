"""The Python-callable evaluator: ``evaluator: {kind: python, function: "pkg.module:simulate"}``.

The function is called as ``function(parameters, out_dir, seed, **options)`` and either

* writes a data store and returns its path (or ``None`` for ``out_dir/datastore.h5``), or
* returns a mapping that simtune writes for it: ``{"timeseries": {name: (times, values)},
  "spikes": {sheet: [train, ...]}, "duration_ms": float, "explosion": bool}`` (spikes go into one
  segment of kind ``"spontaneous"``; use :class:`evaluators.datastore.DataStoreWriter` for more).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable, Mapping

import numpy as np

from evaluators._base import DATASTORE_NAME, Evaluator
from evaluators.datastore import DataStoreWriter
from simtune_core.userimport import import_object

__all__ = ["PythonEvaluator", "import_callable", "write_returned"]


def import_callable(path: str) -> Callable[..., Any]:
    """Import ``"pkg.module:function"``; raises ImportError with a clear message."""
    fn = import_object(path)
    if not callable(fn):
        raise ImportError(f"{path!r} is not callable ({type(fn).__name__})")  # noqa: TRY004
    return fn  # type: ignore[no-any-return]


def write_returned(data: Mapping[str, Any], path: Path, parameters: Mapping[str, float],
                   seed: int) -> Path:
    """Write a function's returned arrays as a data store at ``path``."""
    with DataStoreWriter(path, simulator="python", seed=seed, params=parameters,
                         explosion=bool(data.get("explosion", False))) as w:
        for name, (t, v) in dict(data.get("timeseries", {})).items():
            w.add_timeseries(name, np.asarray(t), np.asarray(v))
        spikes = dict(data.get("spikes", {}))
        if spikes:
            k = w.add_segment(kind="spontaneous", duration_ms=float(data.get("duration_ms", 1000)))
            for sheet, trains in spikes.items():
                n = len(trains)
                w.add_sheet(sheet, ids=np.arange(n), x=np.zeros(n), y=np.zeros(n))
                w.add_spikes(k, sheet, trains)
    return path


class PythonEvaluator(Evaluator):
    """Call a Python function in the worker process."""

    kind = "python"

    def __init__(self, function: str, options: Mapping[str, Any] | None = None) -> None:
        self.function = function
        self.options = dict(options or {})

    def check(self) -> None:
        import_callable(self.function)

    def run(self, parameters: Mapping[str, float], out_dir: Path, seed: int) -> Path | None:
        fn = import_callable(self.function)
        out = fn(dict(parameters), Path(out_dir), seed, **self.options)
        if isinstance(out, Mapping):
            return write_returned(out, Path(out_dir) / DATASTORE_NAME, parameters, seed)
        return Path(out) if out is not None else None
