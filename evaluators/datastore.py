"""simtune's HDF5 data store: what a simulation leaves behind for the targets.

The layout (documented for writers in other languages in ``docs/datastore.md``)::

    /                         attrs: format="simtune-datastore", version=1, simulator, seed,
                                     explosion (0/1), params_json (JSON object), + free attrs
    /sheets/<sheet>/ids       int64 [n]       neuron ids, in the order used by every array below
    /sheets/<sheet>/x, y      float64 [n]     positions (sheet coordinates)
    /sheets/<sheet>/orientation  float64 [n]  optional preferred orientation, radians in [0, pi]
    /segments/<k>             group, k = 0, 1, ... ; attrs describe the stimulus as data:
                              kind (str), duration_ms, orientation, contrast, spatial_frequency,
                              temporal_frequency, radius, trial (+ free attrs)
    /segments/<k>/<sheet>/spike_times    float64 [n_spikes] ms, grouped by neuron, sorted within
    /segments/<k>/<sheet>/spike_offsets  int64 [n + 1]: neuron i fired at
                                         spike_times[offsets[i]:offsets[i+1]]
    /segments/<k>/<sheet>/signals/<name> float64 [m, T] (gsyn_exc, gsyn_inh, v, ...)
                              attrs: dt_ms; dataset ``<name>_ids`` beside it: int64 [m] neuron ids
    /timeseries/<name>/times, values     float64 [T] free-form series (e.g. a dipole)
    /values/<name>                       float64 scalar: a number the model computed itself
                                         (a feature, a loss term), read by ``ValueTarget``

Reading is lazy: :class:`DataStore` opens the file with h5py and reads only the datasets a target
asks for, so scoring a 1 GB store does not load 1 GB. Writing goes to a temporary file that is
fsynced and renamed into place on :meth:`DataStoreWriter.close`, so a store on disk is complete.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping, Sequence

import h5py
import numpy as np

from simtune_core.io import commit_file

__all__ = [
    "FORMAT",
    "VERSION",
    "DataStore",
    "DataStoreError",
    "DataStoreWriter",
    "PROGRESS_ENV",
    "Segment",
    "Sheet",
    "Signal",
    "progress_dir",
    "progress_folder",
    "set_progress_hook",
    "spikes_from_lists",
]

FORMAT = "simtune-datastore"
VERSION = 1
#: stimulus attributes every segment has (NaN / "" where not applicable)
STIMULUS_KEYS = (
    "kind",
    "duration_ms",
    "orientation",
    "contrast",
    "spatial_frequency",
    "temporal_frequency",
    "radius",
    "trial",
)


#: set by simtune's worker for an external simulator when gates are configured: the folder where
#: :meth:`DataStoreWriter.flush` publishes each finished segment (docs/datastore.md, "Writing
#: segment by segment")
PROGRESS_ENV = "SIMTUNE_PROGRESS_DIR"
#: the in-process gate check (:mod:`evaluators.gates`), called with the progress folder after a
#: flush published something; ``None`` outside a gated evaluation
_progress_hook: Callable[[Path], None] | None = None


def set_progress_hook(hook: Callable[[Path], None] | None) -> Callable[[Path], None] | None:
    """Install the function :meth:`DataStoreWriter.flush` calls after publishing; returns the
    previous one (the worker restores it when the evaluation ends)."""
    global _progress_hook
    previous, _progress_hook = _progress_hook, hook
    return previous


def progress_folder(store_path: str | os.PathLike[str]) -> Path:
    """The folder beside a store where its segments are published in a gated run:
    ``<store>.progress/`` (the command evaluator names it in ``SIMTUNE_PROGRESS_DIR``)."""
    p = Path(store_path)
    return p.with_name(p.name + ".progress")


def progress_dir(store_path: str | os.PathLike[str]) -> Path | None:
    """Where a flush of the store at ``store_path`` publishes its segments: beside the store
    (:func:`progress_folder`) in a gated in-process evaluation, the folder named by
    ``SIMTUNE_PROGRESS_DIR`` in a gated external simulator, else ``None`` (flushing then only
    flushes HDF5's buffers)."""
    if _progress_hook is not None:
        return progress_folder(store_path)
    env = os.environ.get(PROGRESS_ENV)
    return Path(env) if env else None


class DataStoreError(Exception):
    """A data store is missing, unreadable, or does not follow the layout."""


@dataclass(frozen=True)
class Sheet:
    """Neurons of one sheet (population)."""

    name: str
    ids: np.ndarray
    x: np.ndarray
    y: np.ndarray
    orientation: np.ndarray | None = None

    def __len__(self) -> int:
        return int(self.ids.shape[0])


@dataclass(frozen=True)
class Segment:
    """One stimulus presentation. ``stimulus`` holds every attribute of the segment group."""

    index: int
    stimulus: dict[str, Any] = field(default_factory=dict)

    @property
    def kind(self) -> str:
        return str(self.stimulus.get("kind", ""))

    @property
    def duration_ms(self) -> float:
        return float(self.stimulus.get("duration_ms", float("nan")))

    def __getitem__(self, key: str) -> Any:
        return self.stimulus[key]


@dataclass(frozen=True)
class Signal:
    """A recorded analog signal for a subset of neurons: ``data[i]`` belongs to ``ids[i]``."""

    ids: np.ndarray
    data: np.ndarray
    dt_ms: float


def spikes_from_lists(trains: Sequence[Iterable[float]]) -> tuple[np.ndarray, np.ndarray]:
    """Pack a list of per-neuron spike-time sequences into ``(times, offsets)``.

    >>> t, o = spikes_from_lists([[1.0, 5.0], [], [2.0]])
    >>> t.tolist(), o.tolist()
    ([1.0, 5.0, 2.0], [0, 2, 2, 3])
    """
    arrays = [np.sort(np.asarray(list(tr), dtype=np.float64)) for tr in trains]
    counts = np.array([a.size for a in arrays], dtype=np.int64)
    offsets = np.zeros(len(arrays) + 1, dtype=np.int64)
    np.cumsum(counts, out=offsets[1:])
    times = np.concatenate(arrays) if arrays else np.zeros(0)
    return times.astype(np.float64), offsets


def _attr(value: Any) -> Any:
    """An attribute as a Python value: bytes decoded, NumPy scalars unwrapped, and a 1-element
    array (how MATLAB and some Julia writers store a scalar) taken as its element."""
    if isinstance(value, np.ndarray) and value.size == 1:
        value = value.reshape(()).item()
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace")
    if isinstance(value, np.generic):
        return _attr(value.item())
    return value


def _matches(have: Any, want: Any) -> bool:
    """Whether a segment attribute equals a requested value (numbers: isclose; arrays: never)."""
    if isinstance(have, np.ndarray) or isinstance(want, np.ndarray):
        return False
    if isinstance(want, (int, float)) and isinstance(have, (int, float)):
        return bool(np.isclose(float(have), float(want)))
    return bool(have == want)


class DataStoreWriter:
    """Write a data store; the file appears at ``path`` only when :meth:`close` succeeds.

    Examples
    --------
    >>> import tempfile, os
    >>> d = tempfile.mkdtemp()
    >>> with DataStoreWriter(os.path.join(d, "ds.h5"), simulator="demo", seed=1) as w:
    ...     w.add_sheet("exc", ids=[0, 1], x=[0.0, 1.0], y=[0.0, 0.0])
    ...     k = w.add_segment(kind="spontaneous", duration_ms=1000.0)
    ...     w.add_spikes(k, "exc", [[10.0, 20.0], [15.0]])
    >>> DataStore(os.path.join(d, "ds.h5")).spikes(0, "exc")[1].tolist()
    [0, 2, 3]
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        simulator: str = "",
        seed: int | None = None,
        params: Mapping[str, Any] | None = None,
        explosion: bool = False,
        **attrs: Any,
    ) -> None:
        self.path = Path(path)
        self._tmp = self.path.with_name(self.path.name + ".tmp")
        self._file = h5py.File(self._tmp, "w")
        self._file.attrs["format"] = FORMAT
        self._file.attrs["version"] = VERSION
        self._file.attrs["simulator"] = simulator
        self._file.attrs["seed"] = -1 if seed is None else int(seed)
        self._file.attrs["explosion"] = int(bool(explosion))
        self._file.attrs["params_json"] = json.dumps(dict(params or {}), default=float)
        for key, value in attrs.items():
            self._file.attrs[key] = value
        self._file.create_group("sheets")
        self._file.create_group("segments")
        self._file.create_group("timeseries")
        self._n_segments = 0
        self._published = 0
        self._sheet_sizes: dict[str, int] = {}

    def set_attrs(self, **attrs: Any) -> None:
        """Set free root attributes (e.g. the wall time, known only at the end)."""
        for key, value in attrs.items():
            self._file.attrs[key] = value

    def set_explosion(self, exploded: bool = True) -> None:
        """Flag the run as exploded (runaway activity); evaluators record it as ``explosion``."""
        self._file.attrs["explosion"] = int(bool(exploded))

    def add_sheet(
        self,
        name: str,
        ids: Sequence[int] | np.ndarray,
        x: Sequence[float] | np.ndarray,
        y: Sequence[float] | np.ndarray,
        orientation: Sequence[float] | np.ndarray | None = None,
    ) -> None:
        g = self._file["sheets"].create_group(name)
        ids_a = np.asarray(ids, dtype=np.int64)
        g.create_dataset("ids", data=ids_a)
        g.create_dataset("x", data=np.asarray(x, dtype=np.float64))
        g.create_dataset("y", data=np.asarray(y, dtype=np.float64))
        if orientation is not None:
            g.create_dataset("orientation", data=np.asarray(orientation, dtype=np.float64))
        self._sheet_sizes[name] = int(ids_a.size)

    def add_segment(self, *, kind: str, duration_ms: float, **stimulus: Any) -> int:
        """Add a stimulus presentation; returns its index ``k``."""
        k = self._n_segments
        g = self._file["segments"].create_group(str(k))
        g.attrs["kind"] = kind
        g.attrs["duration_ms"] = float(duration_ms)
        for key in STIMULUS_KEYS[2:]:
            g.attrs[key] = stimulus.pop(key, np.nan if key != "trial" else 0)
        for key, value in stimulus.items():
            g.attrs[key] = value
        self._n_segments += 1
        return k

    def add_spikes(
        self,
        segment: int,
        sheet: str,
        trains: Sequence[Iterable[float]] | tuple[np.ndarray, np.ndarray],
    ) -> None:
        """Spikes of every neuron of ``sheet``: a list of per-neuron trains or ``(times, offsets)``."""
        second: Any = trains[1] if len(trains) == 2 else None
        if isinstance(trains, tuple) and second is not None and np.ndim(second) == 1 and (
            np.asarray(second).dtype.kind in "iu"
        ):
            times, offsets = (np.asarray(trains[0], np.float64), np.asarray(trains[1], np.int64))
        else:
            times, offsets = spikes_from_lists(trains)  # type: ignore[arg-type]
        n = self._sheet_sizes.get(sheet)
        if n is not None and offsets.size != n + 1:
            raise DataStoreError(
                f"spikes for sheet {sheet!r}: expected {n + 1} offsets, found {offsets.size}"
            )
        g = self._file["segments"][str(segment)].require_group(sheet)
        g.create_dataset("spike_times", data=times)
        g.create_dataset("spike_offsets", data=offsets)

    def add_signal(
        self,
        segment: int,
        sheet: str,
        name: str,
        ids: Sequence[int] | np.ndarray,
        data: np.ndarray,
        dt_ms: float,
    ) -> None:
        g = self._file["segments"][str(segment)].require_group(sheet).require_group("signals")
        ds = g.create_dataset(name, data=np.asarray(data, dtype=np.float64))
        ds.attrs["dt_ms"] = float(dt_ms)
        g.create_dataset(f"{name}_ids", data=np.asarray(ids, dtype=np.int64))

    def add_timeseries(self, name: str, times: np.ndarray, values: np.ndarray) -> None:
        g = self._file["timeseries"].create_group(name)
        g.create_dataset("times", data=np.asarray(times, dtype=np.float64))
        g.create_dataset("values", data=np.asarray(values, dtype=np.float64))

    def add_value(self, name: str, value: float) -> None:
        """Store one number the model computed itself (``/values/<name>``; ``ValueTarget``)."""
        if "values" not in self._file:
            self._file.create_group("values")
        self._file["values"].create_dataset(name, data=np.float64(value))

    def flush(self) -> None:
        """Publish every segment added since the last flush, so that gates can be checked while
        the simulation goes on (docs/evaluators.md, "Gates").

        Call it after the data of a segment is written (its spikes, signals). In a gated
        evaluation each new segment ``k`` is written as a complete small store
        ``<progress>/k.h5`` (the root attributes, ``/sheets``, ``/values``, ``/timeseries`` and
        ``/segments/k``), atomically; with no new segment the last one is published again (e.g.
        after :meth:`set_explosion`). Outside a gated evaluation it only flushes HDF5's buffers.
        The check may stop the simulation: in-process, by raising :class:`evaluators.gates.GateStop`
        (a ``BaseException``, so ``except Exception`` in a model does not swallow it) out of this
        call; an external simulator is terminated by the worker.
        """
        self._file.flush()
        target = progress_dir(self.path)
        if target is None or self._n_segments == 0:
            return
        target.mkdir(parents=True, exist_ok=True)
        for k in range(min(self._published, self._n_segments - 1), self._n_segments):
            self._publish(target, k)
        self._published = self._n_segments
        if _progress_hook is not None:
            _progress_hook(target)

    def _publish(self, target: Path, k: int) -> None:
        src = self._file
        tmp = target / f".{k}.h5.tmp"
        with h5py.File(tmp, "w") as out:
            for key, value in src.attrs.items():
                out.attrs[key] = value
            for name in ("sheets", "timeseries", "values"):
                if name in src:
                    src.copy(src[name], out, name=name)
            out.create_group("segments")
            src.copy(src["segments"][str(k)], out["segments"], name=str(k))
        commit_file(tmp, target / f"{k}.h5")

    def close(self) -> Path:
        """Flush, fsync and move the file into place; returns its path."""
        self._file.flush()
        self._file.close()
        commit_file(self._tmp, self.path)
        return self.path

    def abort(self) -> None:
        """Discard a half-written store."""
        try:
            self._file.close()
        finally:
            self._tmp.unlink(missing_ok=True)

    def __enter__(self) -> DataStoreWriter:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, *_: object) -> None:
        if exc_type is None:
            self.close()
        else:
            self.abort()


class DataStore:
    """Lazy reader of a data store file. Raises :class:`DataStoreError` for a bad file.

    Use as a context manager or call :meth:`close`; datasets are read only when asked for.
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        if not self.path.is_file():
            raise DataStoreError(f"no data store at {self.path}")
        try:
            self._file = h5py.File(self.path, "r")
        except Exception as exc:  # noqa: BLE001 - h5py raises OSError, but be sure
            raise DataStoreError(f"cannot open data store {self.path}: {exc}") from None
        fmt = _attr(self._file.attrs.get("format", ""))
        if not isinstance(fmt, str) or fmt != FORMAT:
            self._file.close()
            raise DataStoreError(
                f"{self.path} is not a simtune data store (format attribute {fmt!r})"
            )
        self._cache: dict[str, Any] = {}

    # -- metadata -------------------------------------------------------------------------------
    @property
    def metadata(self) -> dict[str, Any]:
        attrs = {k: _attr(v) for k, v in self._file.attrs.items()}
        try:
            attrs["params"] = json.loads(attrs.pop("params_json", "{}"))
        except (TypeError, ValueError):  # not a string, or not JSON
            attrs["params"] = {}
        attrs["explosion"] = bool(attrs.get("explosion", 0))
        return attrs

    @property
    def exploded(self) -> bool:
        return bool(_attr(self._file.attrs.get("explosion", 0)))

    # -- sheets ---------------------------------------------------------------------------------
    def sheet_names(self) -> list[str]:
        return list(self._file["sheets"].keys()) if "sheets" in self._file else []

    def sheet(self, name: str) -> Sheet:
        key = f"sheet:{name}"
        if key not in self._cache:
            try:
                g = self._file["sheets"][name]
            except KeyError:
                raise DataStoreError(
                    f"no sheet {name!r} in {self.path.name}; sheets: {self.sheet_names()}"
                ) from None
            try:
                self._cache[key] = Sheet(
                    name,
                    g["ids"][()],
                    g["x"][()],
                    g["y"][()],
                    g["orientation"][()] if "orientation" in g else None,
                )
            except KeyError as exc:
                raise DataStoreError(f"sheet {name!r} lacks a dataset: {exc}") from None
        return self._cache[key]  # type: ignore[no-any-return]

    # -- segments -------------------------------------------------------------------------------
    def segments(self, **match: Any) -> list[Segment]:
        """Segments whose stimulus attributes equal every ``match`` item (floats: isclose).

        >>> # store.segments(kind="grating", contrast=100)
        """
        if "segments" not in self._cache:
            group: Any = self._file.get("segments", {})
            keys = list(group.keys())
            bad = [k for k in keys if not k.isdecimal()]
            if bad:
                raise DataStoreError(f"segment name {bad[0]!r} is not a decimal integer")
            segs = []
            for key in sorted(keys, key=int):
                attrs = {k: _attr(v) for k, v in group[key].attrs.items()}
                segs.append(Segment(int(key), attrs))
            self._cache["segments"] = segs
        return [
            seg for seg in self._cache["segments"]
            if all(_matches(seg.stimulus.get(k), want) for k, want in match.items())
        ]

    def _segment_group(self, segment: Segment | int, sheet: str) -> h5py.Group:
        k = segment.index if isinstance(segment, Segment) else int(segment)
        try:
            return self._file["segments"][str(k)][sheet]
        except KeyError:
            raise DataStoreError(f"no data for sheet {sheet!r} in segment {k}") from None

    def spikes(self, segment: Segment | int, sheet: str) -> tuple[np.ndarray, np.ndarray]:
        """``(times, offsets)`` of every neuron of ``sheet`` in ``segment``."""
        g = self._segment_group(segment, sheet)
        try:
            return g["spike_times"][()], g["spike_offsets"][()]
        except KeyError:
            raise DataStoreError(f"no spikes for sheet {sheet!r}") from None

    def spike_offsets(self, segment: Segment | int, sheet: str) -> np.ndarray:
        """Only the ``offsets`` of :meth:`spikes` (spike counts are ``np.diff``): a few kB to
        read where the spike times may be hundreds of MB."""
        g = self._segment_group(segment, sheet)
        try:
            return g["spike_offsets"][()]  # type: ignore[no-any-return]
        except KeyError:
            raise DataStoreError(f"no spikes for sheet {sheet!r}") from None

    def signal(self, segment: Segment | int, sheet: str, name: str) -> Signal:
        g = self._segment_group(segment, sheet)
        try:
            ds = g["signals"][name]
            ids = g["signals"][f"{name}_ids"][()]
        except KeyError:
            raise DataStoreError(f"no signal {name!r} for sheet {sheet!r}") from None
        try:
            dt_ms = float(_attr(ds.attrs["dt_ms"]))
        except (KeyError, TypeError, ValueError):
            raise DataStoreError(f"signal {name!r} of sheet {sheet!r} has no numeric dt_ms "
                                 "attribute") from None
        return Signal(ids=ids, data=ds[()], dt_ms=dt_ms)

    def timeseries(self, name: str) -> tuple[np.ndarray, np.ndarray]:
        try:
            g = self._file["timeseries"][name]
            return g["times"][()], g["values"][()]
        except KeyError:
            have = list(self._file["timeseries"].keys()) if "timeseries" in self._file else []
            raise DataStoreError(f"no time series {name!r}; have {have}") from None

    def value_names(self) -> list[str]:
        """The names of the numbers stored under ``/values``."""
        return list(self._file["values"].keys()) if "values" in self._file else []

    def value(self, name: str) -> float:
        """The number stored as ``/values/<name>``."""
        try:
            return float(np.asarray(self._file["values"][name][()]).reshape(-1)[0])
        except KeyError:
            raise DataStoreError(f"no value {name!r}; have {self.value_names()}") from None

    # -- lifetime -------------------------------------------------------------------------------
    def close(self) -> None:
        self._file.close()

    def __enter__(self) -> DataStore:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()
