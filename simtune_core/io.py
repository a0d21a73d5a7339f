"""Atomic file writes: temp file in the same folder, fsync, ``os.replace``, fsync the folder.

A reader never sees a half-written file: it sees the old one or the new one. Also the small
reads that go with them (:func:`read_json`, :func:`tail_text`).
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

from simtune_core.faults import failpoint

__all__ = ["atomic_write_bytes", "atomic_write_json", "atomic_write_text", "commit_file",
           "json_default", "read_json", "tail_text"]


def atomic_write_bytes(path: str | os.PathLike[str], data: bytes, mode: int = 0o640) -> None:
    """Write ``data`` to ``path`` atomically (durable once this returns)."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.chmod(tmp, mode)
        commit_file(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def commit_file(tmp: str | os.PathLike[str], path: str | os.PathLike[str]) -> None:
    """Make the finished file ``tmp`` (written by anyone: simtune, Optuna, h5py) durable and
    give it the name ``path`` atomically: fsync it, ``os.replace``, fsync the folder."""
    fd = os.open(tmp, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
    failpoint("atomic_write")
    os.replace(tmp, path)
    dfd = os.open(Path(path).parent, os.O_RDONLY)
    try:
        os.fsync(dfd)
    finally:
        os.close(dfd)


def atomic_write_text(path: str | os.PathLike[str], text: str, mode: int = 0o640) -> None:
    """Write ``text`` (UTF-8) to ``path`` atomically."""
    atomic_write_bytes(path, text.encode("utf-8"), mode)


def atomic_write_json(path: str | os.PathLike[str], obj: Any, indent: int | None = 1) -> None:
    """Write ``obj`` as JSON to ``path`` atomically (NumPy scalars and arrays, paths allowed).

    ``indent=None`` writes one compact line with the json module's C encoder (several times
    faster than an indented file, which the pure-Python encoder writes): for files rewritten
    often, such as the table of evaluations in flight."""
    atomic_write_bytes(path, json.dumps(obj, indent=indent, default=json_default).encode())


def read_json(path: str | os.PathLike[str]) -> Any:
    """The JSON value in ``path``."""
    with open(path, encoding="utf-8") as fh:
        return json.load(fh)


def tail_text(path: str | os.PathLike[str], lines: int = 20, limit: int = 4000) -> str:
    """The last ``lines`` lines within the last ``limit`` bytes of a log file ("" if it cannot
    be read): what a failure's detail quotes of a simulator's or a worker's output."""
    try:
        with open(path, "rb") as fh:
            fh.seek(max(os.fstat(fh.fileno()).st_size - limit, 0))
            text = fh.read().decode(errors="replace")
    except OSError:
        return ""
    return "\n".join(text.splitlines()[-lines:])


def json_default(o: Any) -> Any:
    """``json.dumps(default=...)`` for NumPy scalars and arrays and paths."""
    if hasattr(o, "item"):
        return o.item()
    if hasattr(o, "tolist"):
        return o.tolist()
    if isinstance(o, Path):
        return str(o)
    raise TypeError(f"not JSON serialisable: {type(o).__name__}")
