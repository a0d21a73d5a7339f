"""Checkpoints and the in-flight file of a run.

* ``checkpoint.pkl`` — written atomically (temp file, fsync, rename) after every generation:
  the optimizer's state (pycma pickle + RNG), the next generation number, the best evaluations.
  A crash while writing leaves the previous checkpoint in place.
* ``inflight.json`` — the generation being evaluated: its points (unit cube) and, once submitted,
  each individual's job id and submission time. A resumed controller re-attaches to those jobs
  instead of submitting them again.

The run directory's lock is :class:`orchestrator.rundir.RunLock`.
"""

from __future__ import annotations

import dataclasses
import pickle
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from simtune_core.io import atomic_write_bytes, atomic_write_json, read_json

__all__ = ["Checkpoint", "load_checkpoint", "save_checkpoint", "load_inflight", "save_inflight",
           "clear_inflight"]

CHECKPOINT_FILE = "checkpoint.pkl"
INFLIGHT_FILE = "inflight.json"
CHECKPOINT_VERSION = 1


@dataclass
class Checkpoint:
    """State between generations."""

    next_generation: int
    optimizer_state: bytes
    max_ngen: int
    best: list[dict[str, Any]] = field(default_factory=list)  # best evaluations, best first
    kept: list[str] = field(default_factory=list)  # evaluation directories whose stores exist
    n_evaluations: int = 0
    finished: bool = False
    stop_reason: str = ""
    # -- optimizer.mode: async (orchestrator/steady.py) ---------------------------------------
    n_asked: int = 0  # points asked (n_evaluations: results told)
    ask_generation: int = -1  # the CMA update count of the last ask, and asks made since it
    asks_in_generation: int = 0
    updated_at: int = 0  # n_evaluations at the last CMA update
    epoch: int = 0  # bumped when a first group that measured nothing stops the run
    generation_offset: int = 0  # generation numbers of the epoch start here
    epoch_state: bytes | None = None  # the optimizer's state where the epoch began
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
    for f in dataclasses.fields(Checkpoint):  # fields added since the checkpoint was written
        if f.name not in cp.__dict__:
            setattr(cp, f.name, f.default if f.default is not dataclasses.MISSING
                    else f.default_factory())  # type: ignore[misc,operator]
    return cp


def save_inflight(run_dir: Path, data: dict[str, Any]) -> None:
    atomic_write_json(Path(run_dir) / INFLIGHT_FILE, data)


def load_inflight(run_dir: Path) -> dict[str, Any] | None:
    path = Path(run_dir) / INFLIGHT_FILE
    return read_json(path) if path.exists() else None  # type: ignore[no-any-return]


def clear_inflight(run_dir: Path) -> None:
    (Path(run_dir) / INFLIGHT_FILE).unlink(missing_ok=True)
