"""Convert a mozaik ``PickledDataStore`` into a simtune data store, with neo and quantities alone.

What mozaik leaves in a data-store directory (see ``../shared/data/mozaik/README.md`` for two real
ones):

``datastore.recordings.pickle``
    a neo ``Block``; its annotations hold, per sheet, ``neuron_ids``, ``neuron_positions``
    (``3 x n``) and ``neuron_annotations`` (V1 sheets: ``LGNAfferentOrientation``, ...). Its
    segments are mozaik's ``PickledDataStoreNeoWrapper`` objects -- the one mozaik class in the
    pickle, read here with a stand-in -- naming a ``SegmentN.pickle`` by ``identifier``, flagged
    ``null`` for the blank period after a stimulus, annotated with ``sheet_name`` and
    ``stimulus`` (a mozaik parameter string).
``SegmentN.pickle``
    one neo ``Segment`` per (sheet x presentation): the spike trains of the RECORDED neurons
    (annotation ``source_id``, ms) and the analog signals (time x cells, µS / mV, annotation
    ``source_ids``). Only neo, quantities and numpy objects.
``parameters``, ``modified_parameters``, ``info``
    the model's parameter tree (text), what the run changed (a pickled dict, or text), and the
    model and run names.

The conversion reads the store as the mozaik Optimization tool does through mozaik
(CSNG-MFF/mozaik-tools ``Optimization/evaluator.py`` loads a ``PickledDataStore``;
``targets.py`` queries it with ``param_filter_query(...).get_segments()``):

* **Presentations**: the non-null segments (``get_segments()`` leaves the blank ``null`` periods
  out), grouped by stimulus: one simtune segment per presentation, one sheet group per mozaik
  sheet segment.
* **Recorded neurons only**: a sheet's ids are the ``source_id`` of its spike trains (what
  ``get_stored_spike_train_ids()`` returns, in id order); their positions and preferred
  orientations (``LGNAfferentOrientation``, else ``ORMapOrientation``: the annotations
  ``get_orientation_preference`` turns into per-neuron values; folded into ``[0, pi]``) are
  looked up by id in the sheet's ``neuron_ids`` (``get_sheet_indexes``). A neuron whose spikes
  were not recorded is not a silent cell: it is not in the store. A sheet without recorded spike
  trains is left out, and so are signal rows of neurons whose spikes were not recorded.
* **Stimulus attributes** are parsed from the stimulus parameter string with :func:`ast` (never
  evaluated: a call such as ``MozaikExtendedParameterSet({...})`` stays its text):
  ``kind`` from the stimulus class (:data:`KINDS`; other classes keep their name),
  ``orientation``, ``contrast``, ``spatial_frequency``, ``temporal_frequency``, ``radius``,
  ``trial`` (NaN / 0 where absent), every other scalar parameter under its own name, plus
  ``mozaik_stimulus`` (the class) and ``mozaik_stimulus_id`` (the whole string).
* **The spontaneous segment**: the original takes the ``InternalStimulus`` of the protocol's
  spontaneous duration (``param_filter_query(st_name='InternalStimulus', st_duration=5000)``,
  not the 500 ms explosion check). Here: ``InternalStimulus`` presentations WITHOUT a direct
  stimulation are spontaneous activity, the longest of them ``kind="spontaneous"`` (the others
  ``"spontaneous_short"``); an ``InternalStimulus`` WITH one (VogelsAbbott2005's 56 ms
  ``'Kick'``) is ``kind="internal"`` with its ``direct_stimulation_name``. The choice depends on
  no segment order.
* **Times and durations**: spike times are taken relative to the spike trains' ``t_start``, in
  ms, sorted within each neuron; ``duration_ms`` is ``t_stop - t_start`` (the original's rate
  denominator). neo allows a spike at ``t_stop``; it is moved to the largest float below it (the
  layout's rule is ``t < duration_ms``; counts and PSTH bins are unchanged).
* **Signals**: every analog signal, ``[cells, time]``, conductances in nS (mozaik records µS),
  voltages in mV, other units as recorded; ``dt_ms`` from the sampling period.
* **Metadata**: ``simulator="mozaik"``, ``seed`` = the parameters' ``pynn_seed``, ``params`` =
  ``modified_parameters`` (what an optimisation sets), and the root attributes
  ``mozaik_model``, ``mozaik_run``, ``mozaik_created`` (``info``) and ``mozaik_parameters_json``
  (the whole tree, when it fits an HDF5 attribute).

Memory: the index is read once; then one ``SegmentN.pickle`` at a time is loaded, its arrays
extracted, and the neo objects released (``gc.collect()``: neo objects hold reference cycles)
before the next is loaded. The written store is checked with
:func:`evaluators.store_check.check_store` before it appears under its name.

Pickles run code when loaded; this reader's unpickler resolves only neo, quantities, numpy arrays
and scalars, Python containers, ``datetime``, and stand-ins for mozaik's classes -- anything else
in a pickle is refused with its name.
"""

from __future__ import annotations

import ast
import contextlib
import gc
import json
import math
import os
import pickle
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator, Mapping, Sequence

import numpy as np

from evaluators.datastore import STIMULUS_KEYS, DataStoreError, DataStoreWriter
from evaluators.store_check import InvalidDataStore, check_store

__all__ = [
    "INDEX",
    "KINDS",
    "MozaikStoreError",
    "as_simtune_store",
    "convert_pickled_datastore",
    "is_pickled_datastore",
    "parse_parameters",
]

#: the index pickle of a mozaik ``PickledDataStore`` directory
INDEX = "datastore.recordings.pickle"
#: mozaik stimulus class -> segment ``kind`` (``InternalStimulus``: see the module docstring)
KINDS = {
    "FullfieldDriftingSinusoidalGrating": "grating",
    "DriftingSinusoidalGratingDisk": "disk",
}
_WRAPPER = ("mozaik.storage.neo_neurotools_wrapper", "PickledDataStoreNeoWrapper")
_MAX_ATTR_BYTES = 48_000  # HDF5 keeps attributes in the object header (64 kB limit)


class MozaikStoreError(DataStoreError):
    """A mozaik data store that cannot be read or converted (the message says why)."""


# -- reading pickles with neo, quantities and numpy only ------------------------------------------


class _SegmentRef:
    """Stand-in for mozaik's ``PickledDataStoreNeoWrapper``: keeps what names the segment."""

    identifier: str
    null: bool
    annotations: dict[str, Any]

    def __setstate__(self, state: Any) -> None:
        state = state if isinstance(state, dict) else {}
        self.identifier = str(state.get("identifier", ""))
        self.null = bool(state.get("null", False))
        self.annotations = dict(state.get("annotations") or {})


class _MozaikObject:
    """Stand-in for any other mozaik class met in a pickle (kept opaque)."""

    def __new__(cls, *_args: Any, **_kwargs: Any) -> _MozaikObject:
        return object.__new__(cls)

    def __init__(self, *_args: Any, **_kwargs: Any) -> None:
        pass

    def __setstate__(self, state: Any) -> None:
        self.state = state


_NUMPY_NAMES = {
    "numpy": {"ndarray", "dtype"},
    "numpy.core.multiarray": {"_reconstruct", "scalar"},
    "numpy._core.multiarray": {"_reconstruct", "scalar"},
    "numpy.core.numeric": {"_frombuffer"},
    "numpy._core.numeric": {"_frombuffer"},
}
_PLAIN_NAMES = {
    "builtins": {"dict", "list", "tuple", "set", "frozenset", "slice", "complex", "bytearray",
                 "bytes", "int", "float", "str", "bool", "object", "range"},
    "collections": {"OrderedDict", "defaultdict", "deque"},
    "datetime": {"datetime", "date", "time", "timedelta", "timezone"},
    "copyreg": {"_reconstructor"},
    "_codecs": {"encode"},
}


class _Unpickler(pickle.Unpickler):
    """Resolves neo, quantities, numpy arrays/scalars and plain Python types; mozaik classes
    become stand-ins; anything else is refused."""

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) == _WRAPPER:
            return _SegmentRef
        if module == "mozaik" or module.startswith("mozaik."):
            return _MozaikObject
        top = module.split(".", 1)[0]
        allowed = (
            name in _NUMPY_NAMES.get(module, ())
            or name in _PLAIN_NAMES.get(module, ())
            or (top in ("neo", "quantities") and "." not in name and not name.startswith("__"))
        )
        if not allowed:
            raise pickle.UnpicklingError(
                f"refusing to load {module}.{name}: a mozaik data store holds only neo, "
                "quantities and numpy objects")
        return super().find_class(module, name)


def _load_pickle(path: Path) -> Any:
    try:
        with open(path, "rb") as fh:
            return _Unpickler(fh).load()
    except (OSError, pickle.UnpicklingError, EOFError, AttributeError, ImportError,
            ValueError, TypeError) as exc:
        raise MozaikStoreError(f"cannot read {path}: {type(exc).__name__}: {exc}") from None


def _load_segment(path: Path) -> Any:
    """One ``SegmentN.pickle``: a neo ``Segment`` (the test spies on this function)."""
    return _load_pickle(path)


# -- mozaik parameter strings ---------------------------------------------------------------------

_NAMED_FLOATS = {"nan": math.nan, "NaN": math.nan, "inf": math.inf, "Infinity": math.inf}


def parse_parameters(text: str) -> Any:
    """Parse a mozaik parameter string or parameter file without evaluating it.

    Literals (numbers, strings, ``True``/``False``/``None``, dicts, lists, tuples) become Python
    values (tuples and sets as lists); ``nan``/``inf`` become floats; anything else -- a call such
    as ``UniformDist(min=0.0,max=1.0)``, a name -- stays its source text.

    Raises
    ------
    ValueError
        ``text`` is not a Python expression.

    Examples
    --------
    >>> parse_parameters('{"name":\\'InternalStimulus\\', "duration":270.0, "trial":0}')
    {'name': 'InternalStimulus', 'duration': 270.0, 'trial': 0}
    >>> parse_parameters('{"d": UniformDist(min=0.0,max=3.14), "c": -1, "t": (1, 2)}')
    {'d': 'UniformDist(min=0.0,max=3.14)', 'c': -1, 't': [1, 2]}
    """
    try:
        tree = ast.parse(text.strip(), mode="eval")
    except SyntaxError as exc:
        raise ValueError(f"not a parameter expression: {exc.msg} (line {exc.lineno})") from None
    source = text.strip()

    def value(node: ast.AST) -> Any:
        if isinstance(node, ast.Constant):
            return node.value
        if isinstance(node, ast.Dict):
            return {value(k) if k is not None else "**": value(v)
                    for k, v in zip(node.keys, node.values)}
        if isinstance(node, (ast.List, ast.Tuple, ast.Set)):
            return [value(e) for e in node.elts]
        if (isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd))
                and isinstance(node.operand, ast.Constant)
                and isinstance(node.operand.value, (int, float))):
            v = node.operand.value
            return -v if isinstance(node.op, ast.USub) else v
        if isinstance(node, ast.Name) and node.id in _NAMED_FLOATS:
            return _NAMED_FLOATS[node.id]
        return ast.get_source_segment(source, node) or ast.dump(node)

    return value(tree.body)


def _jsonable(obj: Any) -> Any:
    if isinstance(obj, Mapping):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple, set, frozenset)):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return _jsonable(obj.tolist())
    if isinstance(obj, np.generic):
        return obj.item()
    if obj is None or isinstance(obj, (bool, int, float, str)):
        return obj
    return repr(obj)


def _read_text(path: Path) -> str | None:
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return None


def _parameters(src: Path, index_annotations: Mapping[str, Any]) -> dict[str, Any]:
    text = _read_text(src / "parameters") or index_annotations.get("model_parameters")
    try:
        tree = parse_parameters(text) if isinstance(text, str) else {}
    except ValueError:
        tree = {}
    return tree if isinstance(tree, dict) else {}


def _info(src: Path) -> dict[str, Any]:
    text = _read_text(src / "info")
    try:
        value = parse_parameters(text) if text else {}
    except ValueError:
        value = {}
    return value if isinstance(value, dict) else {}


def _modified_parameters(src: Path) -> dict[str, Any]:
    path = src / "modified_parameters"
    if not path.is_file():
        return {}
    try:
        value = _load_pickle(path)  # mozaik pickles str(dict) (or, elsewhere, the dict)
    except MozaikStoreError:  # or writes the text itself
        value = _read_text(path)
    if isinstance(value, str):
        try:
            value = parse_parameters(value)
        except ValueError:
            value = {}
    return dict(_jsonable(value)) if isinstance(value, Mapping) else {}


# -- presentations --------------------------------------------------------------------------------


@dataclass
class _Presentation:
    """One stimulus presentation: its parameters and the mozaik segment of each sheet."""

    stimulus_id: str
    stimulus: dict[str, Any]
    files: dict[str, str] = field(default_factory=dict)  # sheet -> identifier
    kind: str = ""


def _presentations(refs: Sequence[_SegmentRef]) -> list[_Presentation]:
    out: list[_Presentation] = []
    last: dict[str, _Presentation] = {}
    for ref in refs:
        if ref.null:  # the blank period after a presentation: get_segments() leaves it out
            continue
        sheet = str(ref.annotations.get("sheet_name", ""))
        sid = str(ref.annotations.get("stimulus", ""))
        if not sheet or not ref.identifier:
            raise MozaikStoreError(f"index segment {ref.identifier or '?'} has no sheet_name "
                                   "or identifier annotation")
        pres = last.get(sid)
        if pres is None or sheet in pres.files:  # a new presentation of this stimulus
            try:
                stimulus = parse_parameters(sid)
            except ValueError as exc:
                raise MozaikStoreError(f"segment {ref.identifier}: stimulus {sid[:80]!r}: {exc}"
                                       ) from None
            if not isinstance(stimulus, dict):
                raise MozaikStoreError(f"segment {ref.identifier}: stimulus is not a parameter "
                                       f"set: {sid[:80]!r}")
            pres = _Presentation(sid, stimulus)
            out.append(pres)
            last[sid] = pres
        pres.files[sheet] = ref.identifier
    _assign_kinds(out)
    return out


def _number(value: Any, default: float = math.nan) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return default
    return float(value)


def _assign_kinds(presentations: Sequence[_Presentation]) -> None:
    spont: list[_Presentation] = []
    for p in presentations:
        name = str(p.stimulus.get("name", ""))
        if name == "InternalStimulus":
            if p.stimulus.get("direct_stimulation_name") not in (None, "", "None"):
                p.kind = "internal"
            else:
                spont.append(p)
        else:
            p.kind = KINDS.get(name, name or "unknown")
    if spont:
        longest = max(_number(p.stimulus.get("duration"), 0.0) for p in spont)
        for p in spont:
            same = math.isclose(_number(p.stimulus.get("duration"), 0.0), longest)
            p.kind = "spontaneous" if same else "spontaneous_short"


def _segment_attributes(p: _Presentation, duration_ms: float) -> dict[str, Any]:
    s = p.stimulus
    attrs: dict[str, Any] = {"kind": p.kind, "duration_ms": duration_ms}
    for key in STIMULUS_KEYS[2:]:
        if key == "trial":
            trial = s.get("trial", 0)
            attrs[key] = int(trial) if isinstance(trial, (int, float)) else 0
        else:
            attrs[key] = _number(s.get(key))
    attrs["mozaik_stimulus"] = str(s.get("name", ""))
    attrs["mozaik_stimulus_id"] = p.stimulus_id
    for key, value in s.items():
        if (isinstance(key, str) and key not in attrs and key not in ("name", "duration")
                and isinstance(value, (bool, int, float, str))):
            attrs[key] = value
    return attrs


# -- one neo segment ------------------------------------------------------------------------------


@dataclass
class _SheetData:
    ids: np.ndarray
    times: np.ndarray
    offsets: np.ndarray
    duration_ms: float
    signals: list[tuple[str, np.ndarray, np.ndarray, float]]  # name, ids, data [m, T], dt_ms


def _extract(seg: Any, where: str) -> _SheetData | None:
    """Spike trains and signals of one neo segment as arrays (None: no spike train recorded)."""
    import quantities as pq

    trains = list(seg.spiketrains)
    if not trains:
        return None
    try:
        ids = np.array([int(st.annotations["source_id"]) for st in trains], np.int64)
    except KeyError:
        raise MozaikStoreError(f"{where}: a spike train has no source_id annotation") from None
    if np.unique(ids).size != ids.size:
        raise MozaikStoreError(f"{where}: two spike trains of one neuron")
    factors: dict[str, float] = {}  # unit -> ms, once per unit (quantities' rescale is slow)

    def ms(q: Any) -> np.ndarray:
        unit = q.dimensionality.string
        if unit not in factors:
            factors[unit] = float(pq.Quantity(1.0, unit).rescale(pq.ms).magnitude)
        return np.asarray(q.magnitude, np.float64) * factors[unit]

    t0 = {float(ms(st.t_start)) for st in trains}
    t1 = {float(ms(st.t_stop)) for st in trains}
    if len(t0) != 1 or len(t1) != 1:
        raise MozaikStoreError(f"{where}: spike trains of different t_start / t_stop")
    start, stop = t0.pop(), t1.pop()
    duration = stop - start
    order = np.argsort(ids, kind="stable")
    parts = [ms(trains[i]).ravel() for i in order]
    counts = np.array([a.size for a in parts], np.int64)
    offsets = np.zeros(ids.size + 1, np.int64)
    np.cumsum(counts, out=offsets[1:])
    times = np.concatenate(parts) - start if parts else np.zeros(0)
    owner = np.repeat(np.arange(ids.size), counts)
    times = times[np.lexsort((times, owner))]
    np.clip(times, 0.0, np.nextafter(duration, -math.inf), out=times)
    ids = ids[order]
    signals = []
    seen: set[str] = set()
    for sig in seg.analogsignals:
        name = str(sig.name)
        if name in seen:
            raise MozaikStoreError(f"{where}: two analog signals named {name!r}")
        seen.add(name)
        src = sig.annotations.get("source_ids")
        if src is None:
            raise MozaikStoreError(f"{where}: analog signal {name!r} has no source_ids")
        rows = np.asarray(src, np.int64).ravel()
        dim = sig.dimensionality.simplified
        if dim == pq.nS.dimensionality.simplified:
            sig = sig.rescale(pq.nS)
        elif dim == pq.mV.dimensionality.simplified:
            sig = sig.rescale(pq.mV)
        data = np.ascontiguousarray(np.asarray(sig.magnitude, np.float64).T)
        if data.shape[0] != rows.size:
            raise MozaikStoreError(f"{where}: analog signal {name!r} has {data.shape[0]} "
                                   f"channels and {rows.size} source_ids")
        keep = np.isin(rows, ids)
        dt = float(sig.sampling_period.rescale(pq.ms))
        signals.append((name, rows[keep], data[keep], dt))
    return _SheetData(ids, times, offsets, duration, signals)


def _sheet_arrays(annotations: Mapping[str, Any], sheet: str, ids: np.ndarray
                  ) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """Positions and preferred orientations of the recorded neurons ``ids`` of ``sheet``."""
    try:
        all_ids = np.asarray(annotations["neuron_ids"][sheet], np.int64).ravel()
        pos = np.asarray(annotations["neuron_positions"][sheet], np.float64)
    except (KeyError, TypeError, ValueError):
        raise MozaikStoreError(f"the index has no neuron_ids / neuron_positions of sheet "
                               f"{sheet!r}") from None
    sorter = np.argsort(all_ids)
    k = np.clip(np.searchsorted(all_ids, ids, sorter=sorter), 0, max(all_ids.size - 1, 0))
    idx = sorter[k] if all_ids.size else k
    if all_ids.size == 0 or not np.array_equal(all_ids[idx], ids):
        missing = ids[all_ids[idx] != ids] if all_ids.size else ids
        raise MozaikStoreError(f"recorded neuron {int(missing[0])} is not among the "
                               f"neuron_ids of sheet {sheet!r}")
    x, y = pos[0][idx], pos[1][idx]
    anns = annotations.get("neuron_annotations", {}).get(sheet) or []
    orientation = None
    if len(anns) == all_ids.size:
        for key in ("LGNAfferentOrientation", "ORMapOrientation"):
            if all(key in anns[i] for i in idx):
                orientation = np.mod([float(anns[i][key]) for i in idx], math.pi)
                break
    return x, y, orientation


# -- conversion -----------------------------------------------------------------------------------


def is_pickled_datastore(path: str | os.PathLike[str]) -> bool:
    """Whether ``path`` is a mozaik ``PickledDataStore`` directory (it holds :data:`INDEX`)."""
    p = Path(path)
    return p.is_dir() and (p / INDEX).is_file()


def _require_neo() -> None:
    try:
        import neo  # noqa: F401
        import quantities  # noqa: F401
    except ImportError as exc:
        raise ImportError(
            "reading a mozaik data store needs neo and quantities "
            f"(pip install 'simtune[mozaik]'): {exc}") from exc


def convert_pickled_datastore(mozaik_dir: str | os.PathLike[str],
                              out_h5: str | os.PathLike[str]) -> Path:
    """Read the mozaik ``PickledDataStore`` in ``mozaik_dir`` and write it as a simtune store.

    Parameters
    ----------
    mozaik_dir
        The data-store directory mozaik wrote (it holds ``datastore.recordings.pickle``).
    out_h5
        Where the HDF5 data store goes; it appears there only complete and checked.

    Returns
    -------
    pathlib.Path
        ``out_h5``.

    Raises
    ------
    ImportError
        neo or quantities is not installed (``pip install 'simtune[mozaik]'``).
    MozaikStoreError
        ``mozaik_dir`` is not a mozaik data store, or one that cannot be read.
    """
    _require_neo()
    src = Path(mozaik_dir)
    if not is_pickled_datastore(src):
        raise MozaikStoreError(f"{src} is not a mozaik data store directory (no {INDEX})")
    out = Path(out_h5)
    block = _load_pickle(src / INDEX)
    annotations = dict(getattr(block, "annotations", None) or {})
    refs = [s for s in getattr(block, "segments", []) if isinstance(s, _SegmentRef)]
    del block
    presentations = _presentations(refs)
    tree = _parameters(src, annotations)
    seed = tree.get("pynn_seed")
    if isinstance(seed, float) and seed.is_integer():
        seed = int(seed)
    info = _info(src)
    extra: dict[str, Any] = {f"mozaik_{k}": str(info[key]) for k, key in (
        ("model", "model_name"), ("run", "simulation_run_name"), ("created", "creation_data"))
        if key in info}
    tree_json = json.dumps(_jsonable(tree))
    if len(tree_json.encode()) <= _MAX_ATTR_BYTES:
        extra["mozaik_parameters_json"] = tree_json
    staging = out.with_name(out.name + ".converting")
    gc.collect()
    gc.freeze()  # what lives now is not garbage: the per-segment collections skip it
    try:
        with DataStoreWriter(staging, simulator="mozaik",
                             seed=seed if isinstance(seed, int) else None,
                             params=_modified_parameters(src), **extra) as w:
            sheet_ids: dict[str, np.ndarray] = {}
            for p in presentations:
                _write_presentation(w, src, p, annotations, sheet_ids)
        try:
            check_store(staging)
        except InvalidDataStore as exc:
            raise MozaikStoreError(f"the conversion of {src} broke a data-store rule: {exc}"
                                   ) from None
        os.replace(staging, out)
    finally:
        gc.unfreeze()
        staging.unlink(missing_ok=True)
    return out


def _write_presentation(w: DataStoreWriter, src: Path, p: _Presentation,
                        annotations: Mapping[str, Any], sheet_ids: dict[str, np.ndarray]) -> None:
    data: dict[str, _SheetData] = {}
    for sheet, identifier in p.files.items():
        seg = _load_segment(src / f"{identifier}.pickle")
        try:
            got = _extract(seg, f"{identifier} (sheet {sheet!r})")
        finally:
            del seg
            gc.collect()  # neo objects hold reference cycles: free this one before the next
        if got is not None:
            data[sheet] = got
    if not data:
        return
    durations = {round(d.duration_ms, 9) for d in data.values()}
    if len(durations) != 1:
        raise MozaikStoreError(f"presentation {p.stimulus_id[:80]!r}: the sheets' segments "
                               f"last {sorted(durations)} ms")
    k = w.add_segment(**_segment_attributes(p, next(iter(data.values())).duration_ms))
    for sheet, d in data.items():
        if sheet not in sheet_ids:
            x, y, orientation = _sheet_arrays(annotations, sheet, d.ids)
            w.add_sheet(sheet, ids=d.ids, x=x, y=y, orientation=orientation)
            sheet_ids[sheet] = d.ids
        elif not np.array_equal(sheet_ids[sheet], d.ids):
            raise MozaikStoreError(f"{p.files[sheet]}: sheet {sheet!r} records other neurons "
                                   "than in its earlier segments")
        w.add_spikes(k, sheet, (d.times, d.offsets))
        for name, rows, values, dt in d.signals:
            w.add_signal(k, sheet, name, ids=rows, data=values, dt_ms=dt)


@contextlib.contextmanager
def as_simtune_store(path: str | os.PathLike[str]) -> Iterator[Path]:
    """The path of a simtune data store for ``path``, for commands that accept either.

    A mozaik data-store directory (:func:`is_pickled_datastore`) is converted into a temporary
    directory that is removed on exit; any other path is passed through unchanged (the caller
    reports a missing or bad file as usual).

    Examples
    --------
    >>> with as_simtune_store("datastore.h5") as path:
    ...     print(path)
    datastore.h5
    """
    if not is_pickled_datastore(path):
        yield Path(path)
        return
    with tempfile.TemporaryDirectory(prefix="simtune-mozaik-") as tmp:
        yield convert_pickled_datastore(path, Path(tmp) / "datastore.h5")
