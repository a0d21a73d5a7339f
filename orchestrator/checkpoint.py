"""Checkpoints and the in-flight file of a run.

* ``checkpoint.pkl`` — written atomically (temp file, fsync, rename) after every generation:
  the optimizer's state (pycma pickle + RNG), the next generation number, the best evaluations.
  A crash while writing leaves the previous checkpoint in place.
* ``inflight.json`` + ``inflight.log`` — the evaluations in flight: their points (unit cube)
  and, once submitted, each one's job id and submission time. A resumed controller re-attaches
  to those jobs instead of submitting them again. :class:`InflightWriter` writes the table as
  a snapshot (``inflight.json``, atomic) plus a journal of changes (``inflight.log``, one JSON
  line per save, fsync'ed), so a save costs what changed, not the whole table of thousands of
  jobs; the journal is folded into a new snapshot once it has as many lines as the last
  snapshot had entries.
  :func:`load_inflight` reads the snapshot and replays the journal (a torn last line, from a
  crash while appending, is ignored: that save never happened).

The run directory's lock is :class:`orchestrator.rundir.RunLock`.
"""

from __future__ import annotations

import dataclasses
import json
import os
import pickle
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from simtune_core.io import atomic_write_bytes, atomic_write_json, json_default, read_json

__all__ = ["Checkpoint", "InflightWriter", "load_checkpoint", "save_checkpoint", "load_inflight",
           "save_inflight", "clear_inflight"]

CHECKPOINT_FILE = "checkpoint.pkl"
INFLIGHT_FILE = "inflight.json"
INFLIGHT_LOG = "inflight.log"
#: the journal is folded into a snapshot after at least this many lines
COMPACT_MIN = 64
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
    """Write the whole in-flight table as a snapshot (and drop the journal)."""
    InflightWriter(run_dir).save(data)


class InflightWriter:
    """Saves a run's in-flight table, each save appending only what changed since the last.

    A change is found per entry of every mapping at the top of the table (``tasks``, ``jobs``:
    key -> small dict) and per value elsewhere; the journal line is
    ``{"set": {top key: value}, "upd": {mapping: {key: entry}}, "del": {mapping: [key]},
    "drop": [top key]}``. Compaction appends the line first, then writes the snapshot, then
    empties the journal: a crash between the two leaves a journal whose replay onto the new
    snapshot changes nothing.
    """

    def __init__(self, run_dir: Path) -> None:
        self.run_dir = Path(run_dir)
        self._last: dict[str, Any] | None = None
        self._lines = 0
        self._fold_at = COMPACT_MIN  # journal lines before the next snapshot
    def save(self, data: dict[str, Any]) -> None:
        if self._last is None:
            self._snapshot(data)
            return
        delta = _delta(self._last, data)
        if delta:
            with open(self.run_dir / INFLIGHT_LOG, "a", encoding="utf-8") as fh:
                fh.write(json.dumps(delta, default=json_default) + "\n")
                fh.flush()
                os.fsync(fh.fileno())
            self._lines += 1
        if self._lines >= self._fold_at:
            self._snapshot(data)
        else:
            self._last = _copy(data)

    def _snapshot(self, data: dict[str, Any]) -> None:
        atomic_write_json(self.run_dir / INFLIGHT_FILE, data, indent=None)
        log_path = self.run_dir / INFLIGHT_LOG
        if log_path.exists():
            log_path.write_bytes(b"")
        self._last, self._lines = _copy(data), 0
        self._fold_at = max(COMPACT_MIN, sum(len(v) for v in data.values() if isinstance(v, dict)))


def _copy(data: dict[str, Any]) -> dict[str, Any]:
    """A copy deep enough to compare with later (entries of the mappings are changed in place)."""
    return {k: ({kk: dict(vv) if isinstance(vv, dict) else vv for kk, vv in v.items()}
                if isinstance(v, dict) else v) for k, v in data.items()}


def _delta(old: dict[str, Any], new: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in new.items():
        o = old.get(k)
        if isinstance(v, dict) and isinstance(o, dict):
            upd = {kk: vv for kk, vv in v.items() if o.get(kk, _MISSING) != vv}
            gone = [kk for kk in o if kk not in v]
            if upd:
                out.setdefault("upd", {})[k] = upd
            if gone:
                out.setdefault("del", {})[k] = gone
        elif k not in old or o != v:
            out.setdefault("set", {})[k] = v
    drop = [k for k in old if k not in new]
    if drop:
        out["drop"] = drop
    return out


_MISSING = object()


def _apply(data: dict[str, Any], delta: dict[str, Any]) -> None:
    data.update(delta.get("set", {}))
    for k, upd in delta.get("upd", {}).items():
        data.setdefault(k, {}).update(upd)
    for k, gone in delta.get("del", {}).items():
        for kk in gone:
            data.get(k, {}).pop(kk, None)
    for k in delta.get("drop", []):
        data.pop(k, None)


def load_inflight(run_dir: Path) -> dict[str, Any] | None:
    """The in-flight table: the snapshot with the journal replayed (None if there is none)."""
    path = Path(run_dir) / INFLIGHT_FILE
    if not path.exists():
        return None
    data: dict[str, Any] = read_json(path)
    log_path = Path(run_dir) / INFLIGHT_LOG
    try:
        lines = log_path.read_bytes().splitlines(keepends=True)
    except FileNotFoundError:
        return data
    for line in lines:
        if not line.endswith(b"\n"):
            break  # torn by a crash while appending
        try:
            _apply(data, json.loads(line))
        except (ValueError, AttributeError):
            break
    return data


def clear_inflight(run_dir: Path) -> None:
    (Path(run_dir) / INFLIGHT_LOG).unlink(missing_ok=True)
    (Path(run_dir) / INFLIGHT_FILE).unlink(missing_ok=True)
