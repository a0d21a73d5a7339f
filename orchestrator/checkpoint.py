"""Checkpoints, the in-flight generation file, and the run-directory lock.

* ``checkpoint.pkl`` — written atomically (temp file, fsync, rename) after every generation:
  the optimizer's state (pycma pickle + RNG), the next generation number, the best evaluations.
  A crash while writing leaves the previous checkpoint in place.
* ``inflight.json`` — the generation being evaluated: its points (unit cube) and, once submitted,
  each individual's job id and submission time. A resumed controller re-attaches to those jobs
  instead of submitting them again.
* ``run.lock`` — an exclusive ``flock`` held while a controller runs; the kernel releases it when
  the process dies (also on ``kill -9``), so a stale lock never blocks a resume. The file holds the
  holder's host and pid for the error message.
"""

from __future__ import annotations

import fcntl
import os
import pickle
import socket
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from evaluators._io import atomic_write_bytes, atomic_write_json, read_json

__all__ = ["Checkpoint", "LockedError", "RunLock", "load_checkpoint", "save_checkpoint",
           "load_inflight", "save_inflight", "clear_inflight"]

CHECKPOINT_FILE = "checkpoint.pkl"
INFLIGHT_FILE = "inflight.json"
LOCK_FILE = "run.lock"
CHECKPOINT_VERSION = 1


@dataclass
class Checkpoint:
    """State between generations."""

    next_generation: int
    optimizer_state: bytes
    max_ngen: int
    best: list[dict[str, Any]] = field(default_factory=list)  # best evaluations, best first
    n_evaluations: int = 0
    finished: bool = False
    stop_reason: str = ""
    version: int = CHECKPOINT_VERSION


def save_checkpoint(run_dir: Path, cp: Checkpoint) -> None:
    atomic_write_bytes(Path(run_dir) / CHECKPOINT_FILE, pickle.dumps(cp))


def load_checkpoint(run_dir: Path) -> Checkpoint | None:
    path = Path(run_dir) / CHECKPOINT_FILE
    if not path.exists():
        return None
    with open(path, "rb") as fh:
        cp = pickle.load(fh)
    if not isinstance(cp, Checkpoint) or cp.version != CHECKPOINT_VERSION:
        raise ValueError(f"{path} is not a simtune checkpoint of version {CHECKPOINT_VERSION}")
    return cp


def save_inflight(run_dir: Path, data: dict[str, Any]) -> None:
    atomic_write_json(Path(run_dir) / INFLIGHT_FILE, data)


def load_inflight(run_dir: Path) -> dict[str, Any] | None:
    path = Path(run_dir) / INFLIGHT_FILE
    return read_json(path) if path.exists() else None  # type: ignore[no-any-return]


def clear_inflight(run_dir: Path) -> None:
    (Path(run_dir) / INFLIGHT_FILE).unlink(missing_ok=True)


class LockedError(Exception):
    """Another controller holds the run directory."""


class RunLock:
    """Exclusive lock on a run directory for the life of a controller."""

    def __init__(self, run_dir: Path) -> None:
        self.path = Path(run_dir) / LOCK_FILE
        self._fd: int | None = None

    def acquire(self) -> RunLock:
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o640)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 200, 0).decode(errors="replace").strip() or "unknown"
            os.close(fd)
            raise LockedError(
                f"another simtune controller is running on {self.path.parent} ({holder}); "
                "stop it first or wait for it to finish"
            ) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"host {socket.gethostname()} pid {os.getpid()} since "
                      f"{time.strftime('%Y-%m-%d %H:%M:%S')}\n".encode(), 0)
        self._fd = fd
        return self

    def release(self) -> None:
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None

    def __enter__(self) -> RunLock:
        return self.acquire()

    def __exit__(self, *_: object) -> None:
        self.release()
