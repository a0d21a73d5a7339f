"""The Python-callable evaluator: ``evaluator: {kind: python, function: "pkg.module:simulate"}``.

The function is called as ``function(parameters, out_dir, seed, **options)`` (``parameters``:
every parameter by name, physical units) and returns one of (docs/evaluators.md has a runnable
example of each):

* ``None`` -- it wrote the data store itself at ``out_dir / "datastore.h5"``
  (:class:`evaluators.datastore.DataStoreWriter`), or
* a path -- where it wrote the data store, or
* a mapping that simtune writes as the data store, with only these keys:

  ============== ===========================================================================
  ``values``     ``{name: number}``: numbers the model computed itself, read by ``ValueTarget``
  ``spikes``     ``{sheet: [train, ...]}``: one 1-D array of spike times (ms) per neuron, in
                 one segment of kind ``spontaneous`` lasting ``duration_ms``
  ``duration_ms`` the segment's length (default 1000)
  ``timeseries`` ``{name: (times, values)}``: two 1-D arrays of one length (e.g. a dipole)
  ``explosion``  ``True`` if the model ran away (recorded as ``explosion``)
  ============== ===========================================================================

* or a mapping of names to numbers only (``{"rate": 12.3, "cv": 0.8}``), read as ``values``.

Anything else -- an unknown key, an array where a number belongs, a train that is not 1-D,
non-finite or negative spike times -- is the evaluator's error, recorded as ``evaluator_error``
with the key named: never an evaluation that "succeeds" with every target at ``max_score``.
"""

from __future__ import annotations

import math
import numbers
from pathlib import Path
from typing import Any, Callable, Mapping

import numpy as np

from evaluators._base import DATASTORE_NAME, Evaluator, EvaluatorError
from evaluators.datastore import DataStoreWriter
from simtune_core.userimport import import_object

__all__ = ["RETURN_KEYS", "PythonEvaluator", "import_callable", "write_returned"]

#: the keys a returned mapping may have
RETURN_KEYS = ("values", "spikes", "duration_ms", "timeseries", "explosion")


def import_callable(path: str) -> Callable[..., Any]:
    """Import ``"pkg.module:function"``; raises ImportError with a clear message."""
    fn = import_object(path)
    if not callable(fn):
        raise ImportError(f"{path!r} is not callable ({type(fn).__name__})")  # noqa: TRY004
    return fn  # type: ignore[no-any-return]


def _what(v: Any) -> str:
    if isinstance(v, np.ndarray):
        return f"an array of shape {v.shape}"
    return f"{type(v).__name__} {v!r}"[:80]


def _number(v: Any) -> bool:
    return isinstance(v, (numbers.Real, np.floating, np.integer)) and not isinstance(v, bool)


def _values(data: Mapping[str, Any], key: str) -> dict[str, float]:
    out = {}
    for name, v in data.items():
        if not isinstance(name, str) or not name or "/" in name:
            raise EvaluatorError(f"returned {key}: expected names without '/', found {name!r}")
        if not _number(v):
            raise EvaluatorError(f"returned {key}[{name!r}]: expected a number, found "
                                 f"{_what(v)}")
        out[name] = float(v)
    return out


def _series(name: str, pair: Any) -> tuple[np.ndarray, np.ndarray]:
    where = f"returned timeseries[{name!r}]"
    if not isinstance(pair, (tuple, list)) or len(pair) != 2:
        raise EvaluatorError(f"{where}: expected (times, values), found {_what(pair)}")
    t, v = (np.asarray(a, dtype=float) for a in pair)
    if t.ndim != 1 or v.shape != t.shape:
        raise EvaluatorError(f"{where}: expected two 1-D arrays of one length, found shapes "
                             f"{t.shape} and {v.shape}")
    return t, v


def _trains(sheet: str, trains: Any, duration_ms: float) -> list[np.ndarray]:
    where = f"returned spikes[{sheet!r}]"
    if isinstance(trains, np.ndarray) and trains.ndim != 2 or not hasattr(trains, "__len__"):
        raise EvaluatorError(f"{where}: expected a list with one array of spike times per "
                             f"neuron, found {_what(trains)}")
    out = []
    for i, train in enumerate(trains):
        a = np.asarray(train, dtype=float)
        if a.ndim != 1:
            raise EvaluatorError(f"{where}[{i}]: expected a 1-D array of spike times (ms), "
                                 f"found {_what(train)}")
        if a.size and not (np.isfinite(a).all() and a.min() >= 0 and a.max() < duration_ms):
            raise EvaluatorError(f"{where}[{i}]: expected finite spike times in [0, "
                                 f"duration_ms={duration_ms:g}), found {a.min():g} .. "
                                 f"{a.max():g}")
        out.append(np.sort(a))
    return out


def write_returned(data: Mapping[str, Any], path: Path, parameters: Mapping[str, float],
                   seed: int) -> Path:
    """Check a function's returned mapping (module docstring) and write it as a data store.

    Raises
    ------
    EvaluatorError
        The mapping breaks the contract; the message names the key.
    """
    if data and all(k not in RETURN_KEYS for k in data) and all(_number(v) for v in data.values()):
        data = {"values": dict(data)}  # a plain mapping of numbers: values
    unknown = [k for k in data if k not in RETURN_KEYS]
    if unknown:
        k = unknown[0]
        raise EvaluatorError(f"returned key {k!r} ({_what(data[k])}): expected only "
                             f"{', '.join(RETURN_KEYS)}, or a mapping of names to numbers "
                             "(docs/evaluators.md)")
    duration = data.get("duration_ms", 1000.0)
    if not _number(duration) or not (math.isfinite(duration) and duration > 0):
        raise EvaluatorError(f"returned duration_ms: expected a number > 0, found "
                             f"{_what(duration)}")
    values = _values(dict(data.get("values") or {}), "values")
    series = {n: _series(n, p) for n, p in dict(data.get("timeseries") or {}).items()}
    spikes = {s: _trains(s, t, float(duration)) for s, t in dict(data.get("spikes") or {}).items()}
    explosion = data.get("explosion", False)
    if not isinstance(explosion, (bool, np.bool_)):
        raise EvaluatorError(f"returned explosion: expected true or false, found "
                             f"{_what(explosion)}")
    with DataStoreWriter(path, simulator="python", seed=seed, params=parameters,
                         explosion=bool(explosion)) as w:
        for name, number in values.items():
            w.add_value(name, number)
        for name, (times, series_values) in series.items():
            w.add_timeseries(name, times, series_values)
        if spikes:
            segment = w.add_segment(kind="spontaneous", duration_ms=float(duration))
            for sheet, trains in spikes.items():
                n = len(trains)
                w.add_sheet(sheet, ids=np.arange(n), x=np.zeros(n), y=np.zeros(n))
                w.add_spikes(segment, sheet, trains)
    return path


class PythonEvaluator(Evaluator):
    """Call a Python function in the worker process (module docstring: what it may return)."""

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
        if out is None or isinstance(out, (str, Path)):
            return Path(out) if out is not None else None
        raise EvaluatorError(f"{self.function} returned {_what(out)}: expected None, a path "
                             "to the data store, or a mapping (docs/evaluators.md)")
