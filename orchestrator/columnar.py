"""The columnar cache of ``results.jsonl``: Arrow parts that load 10^6 evaluations in a second.

``results.jsonl`` stays the record (append-only, one line per evaluation, crash-safe on NFS); this
cache only makes reading it fast. ``RUN_DIR/results.cache/`` holds Arrow IPC files (pyarrow's
"Feather v2", uncompressed), each the flattened table (:func:`orchestrator.results.records_frame`)
of one byte range of the log, and ``manifest.json`` listing them::

    {"version": 2, "parts": [{"file": "part-0-52311-1a2b3c4d.arrow", "start": 0, "end": 52311,
                              "rows": 120, "check": "<sha1 of the range's last 256 bytes>"}]}

Why Arrow IPC and not Parquet (version 1 of this cache): reading an uncompressed Arrow part is
a copy, not a decode, so loading 10^6 rows costs what copying them costs; the price is a larger
cache than Parquet's compressed columns (docs/benchmarks.md gives the sizes). Parts are read into
memory, never memory-mapped: a part replaced by a merge on another NFS client must not turn into
a SIGBUS in a reader.

:func:`update` appends a part for the log's bytes past the last part (complete lines only) and
merges the newest parts while a part is no larger than the one after it -- a binary counter, so
every row is rewritten ``O(log n)`` times over the run -- but never into a part covering more than
:data:`MAX_MERGE_BYTES` of the log: a generation's update stays cheap at any run size (its worst
case rewrites ~64k rows of 30 parameters and 30 targets, not the whole table). A run of ``n``
bytes of log has at most ``n / MAX_MERGE_BYTES + log2(...)`` parts. :func:`load` reads the parts
and parses only the log's tail past them; the log is always parsed in chunks of
:data:`CHUNK_BYTES`, so a rebuild from a 4 GB log needs memory for one chunk's Python objects,
not the whole log's.

The cache is checked, never trusted: a part whose byte range no longer ends with the bytes it
was made from (a log replaced or truncated), an unreadable part or manifest, a manifest of
another version, or a log shorter than the parts (a different run copied in) makes it stale and
it is rebuilt from the log. Writers take ``results.cache/lock`` (``flock``, non-blocking: a
second writer skips its update, the log is still read); readers take no lock and retry once if
a merge removed a part under them.
"""

from __future__ import annotations

import fcntl
import hashlib
import io
import json
import logging
import os
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterator

import pandas as pd

from simtune_core.io import atomic_write_bytes, atomic_write_json, read_json

if TYPE_CHECKING:
    import pyarrow as pa

__all__ = ["CACHE_DIR", "CHUNK_BYTES", "MAX_MERGE_BYTES", "load", "update", "warm"]

log = logging.getLogger("simtune")

CACHE_DIR = "results.cache"
MANIFEST = "manifest.json"
VERSION = 2
#: bytes of the log at the end of each part's range whose hash checks the part
CHECK_BYTES = 256
#: parts are not merged into one covering more log bytes than this (bounds an update's cost)
MAX_MERGE_BYTES = 256 << 20
#: the log is parsed this many bytes at a time (bounds the memory of a rebuild)
CHUNK_BYTES = 64 << 20
PART_SUFFIX = ".arrow"


@dataclass(frozen=True)
class _Part:
    file: str
    start: int
    end: int
    rows: int
    check: str

    def to_json(self) -> dict[str, Any]:
        return {"file": self.file, "start": self.start, "end": self.end, "rows": self.rows,
                "check": self.check}


class Stale(Exception):
    """The cache does not describe the log (anymore)."""


def _check(log_path: Path, start: int, end: int) -> str:
    with open(log_path, "rb") as fh:
        fh.seek(max(start, end - CHECK_BYTES))
        return hashlib.sha1(fh.read(end - max(start, end - CHECK_BYTES))).hexdigest()


def _manifest(cache: Path, log_path: Path) -> list[_Part]:
    """The valid parts of the cache (raises :class:`Stale`)."""
    try:
        data = read_json(cache / MANIFEST)
        if data.get("version") != VERSION:
            raise Stale(f"manifest version {data.get('version')!r}")
        parts = [_Part(**p) for p in data["parts"]]
    except FileNotFoundError:
        return []
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise Stale(f"manifest unreadable: {exc}") from None
    size = log_path.stat().st_size if log_path.exists() else 0
    pos = 0
    for p in parts:
        if p.start != pos or p.end > size or p.end <= p.start:
            raise Stale("parts do not tile the log")
        if _check(log_path, p.start, p.end) != p.check:
            raise Stale(f"log bytes {p.start}-{p.end} changed")
        pos = p.end
    return parts


def _chunks(log_path: Path, start: int) -> Iterator[tuple[bytes, int]]:
    """The log's complete lines from byte ``start``, at most about :data:`CHUNK_BYTES` at a
    time, each with the offset after its last line (a torn last line is left out)."""
    with open(log_path, "rb") as fh:
        fh.seek(start)
        pos, rest = start, b""
        while True:
            block = fh.read(CHUNK_BYTES)
            if not block:
                return
            data = rest + block
            cut = data.rfind(b"\n") + 1
            if cut:
                pos += cut
                yield data[:cut], pos
            rest = data[cut:]


def _parse(data: bytes) -> list[dict[str, Any]]:
    rows = []
    for line in data.splitlines():
        try:
            row = json.loads(line)
        except json.JSONDecodeError:
            continue  # a torn line left by a crash (the next append starts a fresh line)
        if isinstance(row, dict):
            rows.append(row)
    return rows


def _frame(rows: list[dict[str, Any]]) -> pd.DataFrame:
    from orchestrator.results import records_frame

    return records_frame(rows, sort=False)


def _to_table(df: pd.DataFrame) -> pa.Table:
    import pyarrow as pa

    try:
        return pa.Table.from_pandas(df, preserve_index=False)
    except (pa.ArrowInvalid, pa.ArrowTypeError, TypeError):
        df = df.copy()  # a column of mixed Python types (a user's job ids, say): as text
        for c in df.columns:
            if df[c].dtype == object:
                df[c] = df[c].map(lambda v: None if v is None else str(v))
        return pa.Table.from_pandas(df, preserve_index=False)


def _log_tables(log_path: Path, start: int) -> Iterator[tuple[pa.Table, int]]:
    """The log's rows past byte ``start`` as tables, chunk by chunk, with the end offsets."""
    for data, end in _chunks(log_path, start):
        rows = _parse(data)
        del data
        yield _to_table(_frame(rows)), end


def _ipc_bytes(table: pa.Table) -> bytes:
    import pyarrow as pa

    buf = io.BytesIO()
    with pa.ipc.new_file(buf, table.schema) as writer:
        writer.write_table(table)
    return buf.getvalue()


def _read_part(cache: Path, p: _Part) -> pa.Table:
    import pyarrow as pa

    with pa.OSFile(str(cache / p.file)) as fh:  # read, not mapped (see the module docstring)
        return pa.ipc.open_file(fh).read_all()


def _concat_tables(tables: list[pa.Table]) -> pa.Table:
    """One table of ``tables`` (columns unified: missing ones null, nulls and ints promoted);
    raises ``pa.ArrowInvalid``/``pa.ArrowTypeError`` if a column's types cannot be unified."""
    import pyarrow as pa

    return tables[0] if len(tables) == 1 else pa.concat_tables(tables,
                                                               promote_options="permissive")


def _to_frame(tables: list[pa.Table]) -> pd.DataFrame:
    """The rows of ``tables`` as one DataFrame: concatenated as Arrow (no copy), converted once
    (one copy); the pandas concatenation of each table's frame where the types do not unify."""
    import pyarrow as pa

    tables = [t for t in tables if t.num_rows]
    if not tables:
        return _frame([])
    try:
        return _concat_tables(tables).to_pandas()
    except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError):
        frames = [t.to_pandas() for t in tables]
        return pd.concat(frames, ignore_index=True, sort=False)


class _Lock:
    """Non-blocking exclusive lock of the cache's writers (``acquired`` False if taken)."""

    def __init__(self, cache: Path) -> None:
        self.path = cache / "lock"
        self.fd: int | None = None
        self.acquired = False

    def __enter__(self) -> _Lock:
        self.fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o640)
        try:
            fcntl.flock(self.fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            self.acquired = True
        except BlockingIOError:
            pass
        return self

    def __exit__(self, *_: object) -> None:
        if self.fd is not None:
            if self.acquired:
                fcntl.flock(self.fd, fcntl.LOCK_UN)
            os.close(self.fd)


def _write_part(cache: Path, log_path: Path, table: pa.Table, start: int, end: int) -> _Part:
    name = f"part-{start}-{end}-{uuid.uuid4().hex[:8]}{PART_SUFFIX}"
    atomic_write_bytes(cache / name, _ipc_bytes(table))
    return _Part(name, start, end, table.num_rows, _check(log_path, start, end))


def warm() -> None:
    """Load pyarrow and its pandas conversion once (best effort). A long-lived writer (the
    controller) calls it at start, so their ~5-10 MB are a constant of the process rather than
    a step in its memory after its first update."""
    try:
        _ipc_bytes(_to_table(pd.DataFrame({"x": [0.0], "s": ["a"]})))
    except Exception:  # noqa: BLE001, S110 - update() reports a missing or broken pyarrow
        pass


def update(run_dir: str | os.PathLike[str], log_name: str = "results.jsonl") -> bool:
    """Bring the cache up to date with the log (best effort; False if it could not be written:
    another writer holds the lock, the folder is read-only, pyarrow is missing...)."""
    run_dir = Path(run_dir)
    log_path = run_dir / log_name
    cache = run_dir / CACHE_DIR
    if not log_path.exists():
        return False
    try:
        cache.mkdir(exist_ok=True, mode=0o750)
        with _Lock(cache) as lock:
            if not lock.acquired:
                return False
            _update_locked(cache, log_path)
        return True
    except Exception as exc:  # noqa: BLE001 - the log is the record; the cache only speeds it
        log.warning("results cache of %s not updated: %s: %s", run_dir, type(exc).__name__, exc)
        return False


def _mergeable(a: _Part, b: _Part) -> bool:
    return a.rows <= b.rows and b.end - a.start <= MAX_MERGE_BYTES


def _merge_tail(cache: Path, log_path: Path, parts: list[_Part]) -> list[_Part]:
    """Merge the newest parts while the binary-counter rule and the size bound allow."""
    new = list(parts)
    while len(new) >= 2 and _mergeable(new[-2], new[-1]):
        k = len(new) - 2
        while k > 0 and _mergeable(new[k - 1], new[k]) and (
                new[-1].end - new[k - 1].start <= MAX_MERGE_BYTES
                and new[k - 1].rows <= sum(p.rows for p in new[k:])):
            k -= 1  # a cascade: read and write its parts once, not once per level
        merged = _concat_tables([_read_part(cache, p) for p in new[k:]])
        new[k:] = [_write_part(cache, log_path, merged, new[k].start, new[-1].end)]
    return new


def _update_locked(cache: Path, log_path: Path) -> None:
    try:
        parts = _manifest(cache, log_path)
    except Stale as exc:
        log.info("results cache of %s is stale (%s): rebuilding", log_path.parent, exc)
        parts = []
    start = parts[-1].end if parts else 0
    new = list(parts)
    pending: list[pa.Table] = []
    p_start = p_end = start
    for table, end in _log_tables(log_path, start):
        pending.append(table)
        p_end = end
        if p_end - p_start >= MAX_MERGE_BYTES:  # a rebuild: parts of the bounded size
            new.append(_write_part(cache, log_path, _concat_tables(pending), p_start, p_end))
            new = _merge_tail(cache, log_path, new)
            pending, p_start = [], p_end
    if pending:
        new.append(_write_part(cache, log_path, _concat_tables(pending), p_start, p_end))
    if new == parts and (cache / MANIFEST).exists():
        return
    new = _merge_tail(cache, log_path, new)
    atomic_write_json(cache / MANIFEST, {"version": VERSION,
                                         "parts": [p.to_json() for p in new]})
    keep = {p.file for p in new}
    for f in cache.iterdir():
        if f.name.startswith("part-") and f.name not in keep:
            f.unlink(missing_ok=True)  # merged away, or a part of an older version


def load(run_dir: str | os.PathLike[str], log_name: str = "results.jsonl",
         refresh: Callable[[Path], bool] | None = None) -> pd.DataFrame:
    """The flattened table of every row of the log: the cache's parts plus the log's tail past
    them. With ``refresh`` (default :func:`update`) a stale or missing cache is rebuilt first
    when the log's unparsed tail is large; unsorted (the caller sorts)."""
    run_dir = Path(run_dir)
    log_path = run_dir / log_name
    cache = run_dir / CACHE_DIR
    if not log_path.exists():
        return _frame([])
    refresh = update if refresh is None else refresh
    for attempt in range(2):
        try:
            parts = _manifest(cache, log_path)
        except Stale:
            parts = []
        covered = parts[-1].end if parts else 0
        # a large unparsed tail: parse it once, into the cache
        if log_path.stat().st_size - covered > (1 << 20) and attempt == 0 and refresh(run_dir):
            continue
        try:
            tables = [_read_part(cache, p) for p in parts]
        except (OSError, ValueError) as exc:  # merged away under us, or corrupt
            if attempt == 0:
                log.info("results cache of %s: %s; reading again", run_dir, exc)
                refresh(run_dir)
                continue
            tables, covered = [], 0
        tables += [t for t, _end in _log_tables(log_path, covered)]
        return _to_frame(tables)
    raise AssertionError("unreachable")  # pragma: no cover
