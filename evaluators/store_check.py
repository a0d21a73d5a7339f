"""Strict check of a data store against every writer rule of ``docs/datastore.md``.

:func:`check_store` reads a store's structure, attributes and the small per-neuron datasets, and
the spike times with one vectorised pass per ``(segment, sheet)``; it raises
:class:`InvalidDataStore` at the first broken rule with a one-line message naming the dataset (or
attribute) and the rule, e.g.::

    segments/3/exc/spike_offsets: expected 101 offsets (n + 1 for the 100 ids of sheet 'exc'),
    found 100 [offsets-length]

The rules, by identifier (the same table is in ``docs/datastore.md``, "Checking a store"):

====================== ==========================================================================
rule                   what must hold
====================== ==========================================================================
hdf5                   the file opens as HDF5
format                 root attribute ``format`` is the string ``"simtune-datastore"``
version                root attribute ``version`` is the integer 1
attribute-type         every documented attribute has its type: strings are UTF-8 strings,
                       integers integral, numbers real; a 1-element array counts as its element
attribute-value        ``explosion`` is 0 or 1; ``params_json`` is a JSON object; ``duration_ms``
                       is finite and > 0; stimulus numbers are finite or NaN
layout                 ``sheets``, ``segments``, ``timeseries`` and their members are groups or
                       datasets where the layout says so, with no member the layout does not name
segment-names          segments are named ``0 .. K-1`` (decimal, no gaps)
segment-sheet          a segment's sheet groups name sheets of ``/sheets``
dtype                  ids, offsets and ``*_ids`` are integer datasets; positions, orientations,
                       spike times, signals and time series are real numbers
shape                  1-D where the layout says ``[n]``, 2-D for signals
sheet-lengths          ``x``, ``y`` (and ``orientation``) have one entry per id
ids-unique             a sheet's ids are unique
finite                 positions, orientations and spike times are finite numbers
orientation-range      sheet orientations are radians in ``[0, pi]``; segment orientations
                       radians in ``[0, 2 pi]`` (degrees are refused)
spikes-pair            a sheet with spikes in a segment has both spike_times and spike_offsets
offsets-length         ``len(spike_offsets) == len(ids) + 1``
offsets-start          ``spike_offsets[0] == 0``
offsets-monotonic      ``spike_offsets`` never decreases
offsets-end            ``spike_offsets[-1] == len(spike_times)``
spike-range            every spike time ``t`` satisfies ``0 <= t <= duration_ms`` (NEST
                       reports a spike at the end of its time step: ``t = duration_ms`` occurs)
spike-order            spike times are sorted within each neuron
signal-ids             a signal has its ``<name>_ids`` (and vice versa), one id per row, unique,
                       each an id of the sheet
signal-dt              a signal's ``dt_ms`` is a finite number > 0
timeseries             a time series has ``times`` and ``values`` of one length; ``times`` are
                       finite and increasing
====================== ==========================================================================

Decisions (documented in ``docs/datastore.md``): a 1-element array is accepted wherever a scalar
attribute is expected (MATLAB's ``h5writeatt`` and Julia writers of ``[x]`` produce them), and an
integral float wherever an integer is (MATLAB's numbers are doubles); sheet orientations may equal
pi (``np.mod`` of a tiny negative angle gives exactly pi, which is 0 on the circle). Signal values
and time-series values are not read — they may be gigabytes, and a NaN there is a numerical
blow-up the targets report as such, not a layout error.

Cost: the spike times of each ``(segment, sheet)`` are read once and checked with a few
whole-array comparisons (0.05-0.4 s for 10^7 spikes, measured); nothing else large
is read.
"""

from __future__ import annotations

import json
import math
import os
from typing import Any, Sequence

import h5py
import numpy as np

from evaluators.datastore import FORMAT, VERSION, DataStore, DataStoreError

__all__ = ["InvalidDataStore", "RULES", "check_store"]

#: rule identifier -> what must hold (the table of the module docstring)
RULES: dict[str, str] = {
    "hdf5": "the file opens as HDF5",
    "format": f"root attribute format is the string {FORMAT!r}",
    "version": f"root attribute version is the integer {VERSION}",
    "attribute-type": "documented attributes have their documented types",
    "attribute-value": "documented attributes have allowed values",
    "layout": "groups and datasets are where the layout puts them, nothing else",
    "segment-names": "segments are named 0 .. K-1 (decimal, no gaps)",
    "segment-sheet": "a segment's sheet groups name sheets of /sheets",
    "dtype": "integer datasets are integers, real datasets real numbers",
    "shape": "1-D datasets are 1-D, signals 2-D",
    "sheet-lengths": "x, y, orientation have one entry per id",
    "ids-unique": "a sheet's ids are unique",
    "finite": "positions, orientations and spike times are finite",
    "orientation-range": "orientations are radians: sheets [0, pi], segments [0, 2 pi]",
    "spikes-pair": "spike_times and spike_offsets come together",
    "offsets-length": "len(spike_offsets) == len(ids) + 1",
    "offsets-start": "spike_offsets[0] == 0",
    "offsets-monotonic": "spike_offsets never decreases",
    "offsets-end": "spike_offsets[-1] == len(spike_times)",
    "spike-range": "0 <= t <= duration_ms for every spike",
    "spike-order": "spike times are sorted within each neuron",
    "signal-ids": "a signal has one unique sheet id per row in <name>_ids",
    "signal-dt": "a signal's dt_ms is a finite number > 0",
    "timeseries": "times and values of one length, times finite and increasing",
    "values": "/values/<name> are real scalars (NaN allowed: an undefined value)",
}

_SHEET_MEMBERS = ("ids", "x", "y", "orientation")
_SEGMENT_SHEET_MEMBERS = ("spike_times", "spike_offsets", "signals")
_STIMULUS_NUMBERS = ("orientation", "contrast", "spatial_frequency", "temporal_frequency",
                     "radius")


class InvalidDataStore(DataStoreError):
    """A data store breaks a rule of ``docs/datastore.md``.

    A subclass of :class:`~evaluators.datastore.DataStoreError`, so code that already handles
    unreadable stores handles invalid ones too, while the worker can tell the two apart (reason
    ``invalid_datastore`` rather than ``bad_datastore``).

    Attributes
    ----------
    where : str
        The dataset, group or attribute, e.g. ``"segments/3/exc/spike_offsets"``.
    rule : str
        The rule's identifier, a key of :data:`RULES`.
    detail : str
        What was expected and what was found.
    """

    def __init__(self, where: str, rule: str, detail: str) -> None:
        self.where, self.rule, self.detail = where, rule, detail
        super().__init__(" ".join(f"{where}: {detail} [{rule}]".split()))


def _fail(where: str, rule: str, detail: str) -> InvalidDataStore:
    return InvalidDataStore(where, rule, detail)


# -- attributes -----------------------------------------------------------------------------------


def _scalar(attrs: h5py.AttributeManager, name: str, where: str) -> Any:
    """The attribute as a Python scalar (a 1-element array counts as its element)."""
    try:
        value = attrs[name]
    except OSError as exc:  # an attribute of a type h5py cannot read
        raise _fail(where, "attribute-type", f"expected unreadable attribute: {exc}") from None
    if isinstance(value, h5py.Empty):
        raise _fail(where, "attribute-type", "expected a value, found an empty (null) attribute")
    if isinstance(value, np.ndarray):
        if value.size != 1:
            raise _fail(where, "attribute-type",
                        f"expected a scalar, found an array of shape {value.shape}")
        value = value.reshape(()).item()
    if isinstance(value, np.generic):
        value = value.item()
    return value


def _string(attrs: h5py.AttributeManager, name: str, where: str) -> str:
    value = _scalar(attrs, name, where)
    if isinstance(value, bytes):
        try:
            return value.decode("utf-8")
        except UnicodeDecodeError:
            raise _fail(where, "attribute-type", "expected a UTF-8 string, found invalid UTF-8 bytes"
                        ) from None
    if not isinstance(value, str):
        raise _fail(where, "attribute-type", f"expected a string, found {_show(value)}")
    return value


def _integer(attrs: h5py.AttributeManager, name: str, where: str, rule: str = "attribute-type"
             ) -> int:
    value = _scalar(attrs, name, where)
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise _fail(where, rule, f"expected an integer, found {_show(value)}")
    if isinstance(value, float) and not (math.isfinite(value) and value.is_integer()):
        raise _fail(where, rule, f"expected an integer, found {value!r}")
    return int(value)


def _number(attrs: h5py.AttributeManager, name: str, where: str) -> float:
    value = _scalar(attrs, name, where)
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise _fail(where, "attribute-type", f"expected a number, found {_show(value)}")
    return float(value)


def _show(value: Any) -> str:
    text = repr(value)
    return f"{type(value).__name__} {text[:60] + '...' if len(text) > 60 else text}"


def _root(f: h5py.File) -> None:
    attrs = f.attrs
    if "format" not in attrs:
        raise _fail("/ attribute 'format'", "format", f"expected the string {FORMAT!r}, found no attribute")
    try:
        fmt = _string(attrs, "format", "/ attribute 'format'")
    except InvalidDataStore as exc:
        raise _fail(exc.where, "format", exc.detail) from None
    if fmt != FORMAT:
        raise _fail("/ attribute 'format'", "format", f"expected the string {FORMAT!r}, found {fmt!r}")
    if "version" not in attrs:
        raise _fail("/ attribute 'version'", "version", f"expected the integer {VERSION}, found none")
    version = _integer(attrs, "version", "/ attribute 'version'", rule="version")
    if version != VERSION:
        raise _fail("/ attribute 'version'", "version",
                    f"expected version {VERSION} (the only one this simtune reads), found {version}")
    if "simulator" in attrs:
        _string(attrs, "simulator", "/ attribute 'simulator'")
    if "seed" in attrs:
        _integer(attrs, "seed", "/ attribute 'seed'")
    if "explosion" in attrs:
        where = "/ attribute 'explosion'"
        value = _scalar(attrs, "explosion", where)
        if isinstance(value, bool):
            value = int(value)
        if not isinstance(value, (int, float)) or value not in (0, 1):
            raise _fail(where, "attribute-value", f"expected 0 or 1, found {_show(value)}")
    if "params_json" in attrs:
        where = "/ attribute 'params_json'"
        text = _string(attrs, "params_json", where)
        try:
            params = json.loads(text)
        except ValueError as exc:
            raise _fail(where, "attribute-value", f"expected a JSON object, found invalid JSON ({exc})"
                        ) from None
        if not isinstance(params, dict):
            raise _fail(where, "attribute-value",
                        f"expected a JSON object, found a JSON {type(params).__name__}")


# -- datasets -------------------------------------------------------------------------------------


def _dataset(group: h5py.Group, name: str, where: str) -> h5py.Dataset:
    obj = group.get(name)
    if not isinstance(obj, h5py.Dataset):
        found = "nothing" if obj is None else "a group"
        raise _fail(where, "layout", f"expected a dataset, found {found}")
    return obj


def _read(ds: h5py.Dataset, where: str, kind: str, ndim: int = 1) -> np.ndarray:
    """Check dtype (``"int"`` or ``"real"``) and ndim from the metadata, then read the data."""
    allowed = "iu" if kind == "int" else "iuf"
    if ds.dtype.kind not in allowed:
        want = "integers" if kind == "int" else "real numbers"
        raise _fail(where, "dtype", f"expected {want}, found dtype {ds.dtype}")
    if len(ds.shape) != ndim:
        raise _fail(where, "shape", f"expected a {ndim}-D dataset, found shape {ds.shape}")
    return np.asarray(ds[()])


def _first(mask: np.ndarray) -> int:
    """Index of the first True of a boolean array (which has one)."""
    return int(np.argmax(mask))


def _finite(values: np.ndarray, where: str) -> None:
    if values.dtype.kind == "f":
        bad = ~np.isfinite(values)
        if bad.any():
            i = _first(bad)
            raise _fail(where, "finite", f"expected finite numbers, found {values[i]} at index {i}")


def _sheet(group: h5py.Group, name: str) -> np.ndarray:
    """Check ``/sheets/<name>``; returns its ids."""
    base = f"sheets/{name}"
    _no_strangers(group, _SHEET_MEMBERS, base)
    ids = _read(_dataset(group, "ids", f"{base}/ids"), f"{base}/ids", "int")
    if ids.size > 1:
        s = np.sort(ids)
        dup = s[1:] == s[:-1]
        if dup.any():
            raise _fail(f"{base}/ids", "ids-unique", f"expected unique ids, found {s[_first(dup)]} twice")
    for key in ("x", "y", "orientation"):
        if key == "orientation" and key not in group:
            continue
        where = f"{base}/{key}"
        values = _read(_dataset(group, key, where), where, "real")
        if values.shape[0] != ids.size:
            raise _fail(where, "sheet-lengths",
                        f"expected one value per id ({ids.size}), found {values.shape[0]}")
        _finite(values, where)
        if key == "orientation" and values.size:
            lo, hi = float(values.min()), float(values.max())
            if lo < 0 or hi > math.pi:
                raise _fail(where, "orientation-range",
                            f"expected radians in [0, pi], found values in [{lo:g}, {hi:g}]"
                            + _degrees_hint(lo, hi, 180.0))
    return ids


def _degrees_hint(lo: float, hi: float, period_deg: float) -> str:
    if lo >= 0 and hi <= period_deg:
        return (" (degrees are not accepted: write np.deg2rad(x)"
                + (" % np.pi)" if period_deg == 180.0 else ")"))
    return ""


def _no_strangers(group: h5py.Group, allowed: Sequence[str], where: str) -> None:
    for key in group:
        if key not in allowed:
            raise _fail(f"{where}/{key}", "layout",
                        f"expected only {', '.join(allowed)} in {where}, found {key!r}")


# -- segments -------------------------------------------------------------------------------------


def _segment_attributes(group: h5py.Group, where: str) -> float:
    """Check the documented stimulus attributes of a segment; returns ``duration_ms``."""
    attrs = group.attrs
    for key in ("kind", "duration_ms"):
        if key not in attrs:
            raise _fail(f"{where} attribute {key!r}", "attribute-type",
                        f"expected the required attribute {key!r}, found none")
    _string(attrs, "kind", f"{where} attribute 'kind'")
    awhere = f"{where} attribute 'duration_ms'"
    duration = _number(attrs, "duration_ms", awhere)
    if not (math.isfinite(duration) and duration > 0):
        raise _fail(awhere, "attribute-value", f"expected a finite number > 0, found {duration!r}")
    for key in _STIMULUS_NUMBERS:
        if key not in attrs:
            continue
        awhere = f"{where} attribute {key!r}"
        value = _number(attrs, key, awhere)
        if math.isinf(value):
            raise _fail(awhere, "attribute-value", "expected a finite number or NaN, found inf")
        if key == "orientation" and not math.isnan(value) and not 0 <= value <= 2 * math.pi:
            raise _fail(awhere, "orientation-range",
                        f"expected radians in [0, 2 pi], found {value:g}"
                        + _degrees_hint(value, value, 360.0))
    if "trial" in attrs:
        _integer(attrs, "trial", f"{where} attribute 'trial'")
    return duration


def _spikes(group: h5py.Group, where: str, n_ids: int, sheet: str, duration: float) -> None:
    """Check ``spike_times`` / ``spike_offsets`` of one (segment, sheet) with whole-array
    operations: no Python loop over neurons or spikes."""
    has_t, has_o = "spike_times" in group, "spike_offsets" in group
    if not (has_t or has_o):
        return
    if has_t != has_o:
        missing = "spike_offsets" if has_t else "spike_times"
        raise _fail(f"{where}/{missing}", "spikes-pair",
                    "expected spike_times and spike_offsets together, found only "
                    f"{'spike_times' if has_t else 'spike_offsets'}")
    owhere, twhere = f"{where}/spike_offsets", f"{where}/spike_times"
    o_ds = _dataset(group, "spike_offsets", owhere)
    t_ds = _dataset(group, "spike_times", twhere)
    offsets = _read(o_ds, owhere, "int").astype(np.int64, copy=False)
    if offsets.size != n_ids + 1:
        raise _fail(owhere, "offsets-length",
                    f"expected {n_ids + 1} offsets (n + 1 for the {n_ids} ids of sheet "
                    f"{sheet!r}), found {offsets.size}")
    if offsets[0] != 0:
        raise _fail(owhere, "offsets-start", f"expected offsets[0] == 0, found {offsets[0]}")
    drop = offsets[1:] < offsets[:-1]
    if drop.any():
        i = _first(drop)
        raise _fail(owhere, "offsets-monotonic",
                    f"expected non-decreasing offsets, found offsets[{i + 1}] = {offsets[i + 1]} < "
                    f"offsets[{i}] = {offsets[i]}")
    n_spikes = int(t_ds.shape[0]) if len(t_ds.shape) == 1 else -1
    if n_spikes >= 0 and offsets[-1] != n_spikes:
        raise _fail(owhere, "offsets-end",
                    f"expected offsets[-1] == len(spike_times) = {n_spikes}, found {offsets[-1]}")
    times = _read(t_ds, twhere, "real")
    if times.size == 0:
        return
    # <=: NEST stamps a spike with the end of its time step, so t = duration_ms occurs
    inside = (times >= 0) & (times <= duration)  # False for NaN as well
    if not inside.all():
        j = _first(~inside)
        i = int(np.searchsorted(offsets, j, side="right")) - 1
        what = ("finite times" if not np.isfinite(times[j]) else
                f"0 <= t <= duration_ms = {duration:g}")
        rule = "finite" if not np.isfinite(times[j]) else "spike-range"
        raise _fail(twhere, rule,
                    f"expected {what}, found {times[j]:g} ms (spike {j}, neuron {i} of sheet {sheet!r})")
    down = times[1:] < times[:-1]
    if down.any():
        starts = np.zeros(times.size + 1, bool)
        starts[offsets] = True
        down &= ~starts[1:-1]  # a decrease where the next neuron starts is allowed
        if down.any():
            j = _first(down) + 1
            i = int(np.searchsorted(offsets, j, side="right")) - 1
            raise _fail(twhere, "spike-order",
                        f"expected times sorted within each neuron, found {times[j]:g} after "
                        f"{times[j - 1]:g} ms within neuron {i} of sheet {sheet!r}")


def _signals(group: h5py.Group, where: str, sheet_ids: np.ndarray) -> None:
    names = set(group.keys())
    signals = {n for n in names if f"{n}_ids" in names}
    for name in sorted(names - signals - {f"{s}_ids" for s in signals}):
        if name.endswith("_ids") and name[:-4] not in names:
            raise _fail(f"{where}/{name}", "signal-ids",
                        f"expected a signal {name[:-4]!r} beside {name!r}, found none")
        raise _fail(f"{where}/{name}", "signal-ids",
                    f"expected a dataset {name + '_ids'!r} naming the rows' neurons, found none")
    for name in sorted(signals):
        swhere, iwhere = f"{where}/{name}", f"{where}/{name}_ids"
        ds = _dataset(group, name, swhere)
        if ds.dtype.kind not in "iuf":
            raise _fail(swhere, "dtype", f"expected real numbers, found dtype {ds.dtype}")
        if len(ds.shape) != 2:
            raise _fail(swhere, "shape", f"expected a 2-D dataset [m, T], found shape {ds.shape}")
        if "dt_ms" not in ds.attrs:
            raise _fail(f"{swhere} attribute 'dt_ms'", "signal-dt",
                        "expected the sampling step in ms, found no attribute")
        dt = _number(ds.attrs, "dt_ms", f"{swhere} attribute 'dt_ms'")
        if not (math.isfinite(dt) and dt > 0):
            raise _fail(f"{swhere} attribute 'dt_ms'", "signal-dt",
                        f"expected a finite number > 0, found {dt!r}")
        ids = _read(_dataset(group, f"{name}_ids", iwhere), iwhere, "int")
        if ids.size != ds.shape[0]:
            raise _fail(iwhere, "signal-ids",
                        f"expected one id per row of {name!r} ({ds.shape[0]}), found {ids.size}")
        s = np.sort(ids)
        if s.size > 1 and (s[1:] == s[:-1]).any():
            raise _fail(iwhere, "signal-ids",
                        f"expected unique ids, found {s[_first(s[1:] == s[:-1])]} twice")
        unknown = ~np.isin(ids, sheet_ids)
        if unknown.any():
            raise _fail(iwhere, "signal-ids",
                        f"expected ids of the sheet, found {ids[_first(unknown)]} which is not one")


def _segments(f: h5py.File, sheets: dict[str, np.ndarray]) -> None:
    if "segments" not in f:
        return
    root = f["segments"]
    if not isinstance(root, h5py.Group):
        raise _fail("segments", "layout", "expected a group, found a dataset")
    names = list(root.keys())
    bad = [n for n in names if not (n.isdecimal() and str(int(n)) == n)]
    if bad:
        raise _fail(f"segments/{bad[0]}", "segment-names",
                    f"expected segments named 0, 1, 2, ... (decimal), found {bad[0]!r}")
    numbers = sorted(int(n) for n in names)
    if numbers != list(range(len(numbers))):
        gap = next(i for i, k in enumerate(numbers) if i != k)
        raise _fail("segments", "segment-names",
                    f"expected segments 0 .. {len(numbers) - 1} without gaps, found no segment {gap}")
    for k in numbers:
        where = f"segments/{k}"
        seg = root[str(k)]
        if not isinstance(seg, h5py.Group):
            raise _fail(where, "layout", "expected a group, found a dataset")
        duration = _segment_attributes(seg, where)
        for sheet in seg:
            swhere = f"{where}/{sheet}"
            g = seg[sheet]
            if not isinstance(g, h5py.Group):
                raise _fail(swhere, "layout", "expected a group named after a sheet, found a dataset")
            if sheet not in sheets:
                raise _fail(swhere, "segment-sheet",
                            f"expected a sheet of /sheets ({', '.join(sheets) or 'none'}), "
                            f"found {sheet!r}")
            _no_strangers(g, _SEGMENT_SHEET_MEMBERS, swhere)
            _spikes(g, swhere, int(sheets[sheet].size), sheet, duration)
            if "signals" in g:
                sig = g["signals"]
                if not isinstance(sig, h5py.Group):
                    raise _fail(f"{swhere}/signals", "layout", "expected a group, found a dataset")
                _signals(sig, f"{swhere}/signals", sheets[sheet])


def _timeseries(f: h5py.File) -> None:
    if "timeseries" not in f:
        return
    root = f["timeseries"]
    if not isinstance(root, h5py.Group):
        raise _fail("timeseries", "layout", "expected a group, found a dataset")
    for name in root:
        where = f"timeseries/{name}"
        g = root[name]
        if not isinstance(g, h5py.Group):
            raise _fail(where, "layout", "expected a group with times and values, found a dataset")
        _no_strangers(g, ("times", "values"), where)
        t_ds = _dataset(g, "times", f"{where}/times")
        v_ds = _dataset(g, "values", f"{where}/values")
        for ds, w in ((t_ds, f"{where}/times"), (v_ds, f"{where}/values")):
            if ds.dtype.kind not in "iuf":
                raise _fail(w, "dtype", f"expected real numbers, found dtype {ds.dtype}")
            if len(ds.shape) != 1:
                raise _fail(w, "shape", f"expected a 1-D dataset, found shape {ds.shape}")
        if t_ds.shape != v_ds.shape:
            raise _fail(f"{where}/values", "timeseries",
                        f"expected as many values as times ({t_ds.shape[0]}), found {v_ds.shape[0]}")
        times = np.asarray(t_ds[()])
        if times.dtype.kind == "f" and not np.isfinite(times).all():
            raise _fail(f"{where}/times", "timeseries", "expected finite times, found NaN or inf")
        step = times[1:] <= times[:-1]
        if step.any():
            i = _first(step) + 1
            raise _fail(f"{where}/times", "timeseries",
                        f"expected increasing times, found {times[i]:g} after {times[i - 1]:g}")


def _check_file(f: h5py.File) -> None:
    _root(f)
    sheets: dict[str, np.ndarray] = {}
    if "sheets" in f:
        root = f["sheets"]
        if not isinstance(root, h5py.Group):
            raise _fail("sheets", "layout", "expected a group, found a dataset")
        for name in root:
            g = root[name]
            if not isinstance(g, h5py.Group):
                raise _fail(f"sheets/{name}", "layout", "expected a group with ids, x, y, found a dataset")
            sheets[name] = _sheet(g, name)
    _segments(f, sheets)
    _timeseries(f)
    _values(f)


def _values(f: h5py.File) -> None:
    if "values" not in f:
        return
    root = f["values"]
    if not isinstance(root, h5py.Group):
        raise _fail("values", "layout", "expected a group of scalar datasets, found a dataset")
    for name in root:
        where = f"values/{name}"
        ds = root[name]
        if not isinstance(ds, h5py.Dataset):
            raise _fail(where, "layout", "expected a scalar dataset, found a group")
        if ds.dtype.kind not in "iuf":
            raise _fail(where, "values", f"expected a real number, found dtype {ds.dtype}")
        if ds.shape not in ((), (1,)):
            raise _fail(where, "values", f"expected a scalar, found shape {ds.shape}")


def check_store(path_or_store: str | os.PathLike[str] | DataStore) -> None:
    """Check a data store against every writer rule of ``docs/datastore.md``.

    Parameters
    ----------
    path_or_store
        The store's path, or an open :class:`~evaluators.datastore.DataStore` (checked through
        its open file; its lazy caches are not touched).

    Raises
    ------
    InvalidDataStore
        The first rule the store breaks; its message is one line naming the dataset or attribute
        and the rule (``str(exc)``), its attributes ``where``, ``rule`` and ``detail``.
    DataStoreError
        No file at the path.

    Examples
    --------
    >>> import os, tempfile
    >>> from evaluators.datastore import DataStoreWriter
    >>> path = os.path.join(tempfile.mkdtemp(), "ds.h5")
    >>> with DataStoreWriter(path) as w:
    ...     w.add_sheet("exc", ids=[0, 1], x=[0.0, 1.0], y=[0.0, 0.0])
    ...     k = w.add_segment(kind="spontaneous", duration_ms=100.0)
    ...     w.add_spikes(k, "exc", [[10.0, 20.0], [150.0]])
    >>> try:
    ...     check_store(path)
    ... except InvalidDataStore as exc:
    ...     print(exc.where, exc.rule)
    segments/0/exc/spike_times spike-range
    """
    if isinstance(path_or_store, DataStore):
        _check_file(path_or_store._file)
        return
    path = os.fspath(path_or_store)
    if not os.path.isfile(path):
        raise DataStoreError(f"no data store at {path}")
    try:
        f = h5py.File(path, "r")
    except Exception as exc:  # noqa: BLE001 - h5py raises OSError, but be sure
        raise _fail(os.path.basename(path), "hdf5",
                    f"expected an HDF5 file, found one that does not open ({type(exc).__name__})"
                    ) from None
    with f:
        _check_file(f)
