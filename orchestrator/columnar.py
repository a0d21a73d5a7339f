"""The columnar cache of ``results.jsonl``: Parquet parts that load 10^6 evaluations in seconds.

``results.jsonl`` stays the record (append-only, one line per evaluation, crash-safe on NFS); this
cache only makes reading it fast. ``RUN_DIR/results.cache/`` holds Parquet files (pyarrow), each
the flattened table (:func:`orchestrator.results.records_frame`) of one byte range of the log, and
``manifest.json`` listing them::

    {"version": 1, "parts": [{"file": "part-0-52311.parquet", "start": 0, "end": 52311,
                              "rows": 120, "check": "<sha1 of the range's last 256 bytes>"}]}

:func:`update` appends a part for the log's bytes past the last part (complete lines only) and
merges the newest parts while a part is no larger than the one after it -- a binary counter, so a
run of ``n`` evaluations has at most ``log2(n / batch) + 1`` parts and every row is rewritten
``O(log n)`` times over the run (a generation's update stays cheap at any run size).
:func:`load` reads the parts and parses only the log's tail past them.

The cache is checked, never trusted: a part whose byte range no longer ends with the bytes it
was made from (a log replaced or truncated), an unreadable part or manifest, or a log shorter
than the parts (a different run copied in) makes it stale and it is rebuilt from the log. Writers
take ``results.cache/lock`` (``flock``, non-blocking: a second writer skips its update, the log
is still read); readers take no lock and retry once if a merge removed a part under them.
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
from typing import Any, Callable

import pandas as pd

from simtune_core.io import atomic_write_bytes, atomic_write_json, read_json

__all__ = ["CACHE_DIR", "load", "update"]

log = logging.getLogger("simtune")

CACHE_DIR = "results.cache"
MANIFEST = "manifest.json"
VERSION = 1
#: bytes of the log at the end of each part's range whose hash checks the part
CHECK_BYTES = 256


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


def _complete_lines(log_path: Path, start: int) -> tuple[bytes, int]:
    """The log's complete lines from byte ``start`` and the offset after the last one."""
    with open(log_path, "rb") as fh:
        fh.seek(start)
        data = fh.read()
    cut = data.rfind(b"\n") + 1
    return data[:cut], start + cut


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


def _to_parquet(df: pd.DataFrame) -> bytes:
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        table = pa.Table.from_pandas(df, preserve_index=False)
    except (pa.ArrowInvalid, pa.ArrowTypeError, TypeError):
        df = df.copy()  # a column of mixed Python types (a user's job ids, say): as text
        for c in df.columns:
            if df[c].dtype == object:
                df[c] = df[c].map(lambda v: None if v is None else str(v))
        table = pa.Table.from_pandas(df, preserve_index=False)
    buf = io.BytesIO()
    pq.write_table(table, buf, compression="zstd")
    return buf.getvalue()


def _read_part(cache: Path, p: _Part) -> pd.DataFrame:
    import pyarrow.parquet as pq

    return pq.read_table(cache / p.file).to_pandas()


def _frame(rows: list[dict[str, Any]]) -> pd.DataFrame:
    from orchestrator.results import records_frame

    return records_frame(rows, sort=False)


def _concat(frames: list[pd.DataFrame]) -> pd.DataFrame:
    frames = [f for f in frames if len(f)]
    if not frames:
        return _frame([])
    return frames[0] if len(frames) == 1 else pd.concat(frames, ignore_index=True, sort=False)


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


def _write_part(cache: Path, log_path: Path, df: pd.DataFrame, start: int, end: int) -> _Part:
    name = f"part-{start}-{end}-{uuid.uuid4().hex[:8]}.parquet"
    atomic_write_bytes(cache / name, _to_parquet(df))
    return _Part(name, start, end, len(df), _check(log_path, start, end))


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


def _update_locked(cache: Path, log_path: Path) -> None:
    try:
        parts = _manifest(cache, log_path)
    except Stale as exc:
        log.info("results cache of %s is stale (%s): rebuilding", log_path.parent, exc)
        parts = []
    start = parts[-1].end if parts else 0
    data, end = _complete_lines(log_path, start)
    if end == start and (cache / MANIFEST).exists():
        return
    new = list(parts)
    if end > start:
        new.append(_write_part(cache, log_path, _frame(_parse(data)), start, end))
    while len(new) >= 2 and new[-2].rows <= new[-1].rows:
        a, b = new[-2], new[-1]
        merged = _concat([_read_part(cache, a), _read_part(cache, b)])
        new[-2:] = [_write_part(cache, log_path, merged, a.start, b.end)]
    atomic_write_json(cache / MANIFEST, {"version": VERSION,
                                         "parts": [p.to_json() for p in new]})
    keep = {p.file for p in new} | {MANIFEST, "lock"}
    for f in cache.iterdir():
        if f.name not in keep and f.suffix == ".parquet":
            f.unlink(missing_ok=True)


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
            frames = [_read_part(cache, p) for p in parts]
        except (OSError, ValueError) as exc:  # merged away under us, or corrupt
            if attempt == 0:
                log.info("results cache of %s: %s; reading again", run_dir, exc)
                refresh(run_dir)
                continue
            frames, covered = [], 0
        data, _end = _complete_lines(log_path, covered)
        return _concat(frames + [_frame(_parse(data))])
    raise AssertionError("unreachable")  # pragma: no cover
