"""Atomic checkpoints and an append-only results record that survives torn writes."""

from __future__ import annotations

import json
import os
import pickle
import subprocess
import sys
from pathlib import Path

import pytest

from orchestrator.checkpoint import Checkpoint, load_checkpoint, save_checkpoint
from orchestrator.results import ResultsWriter, load_results
from simtune_core.io import atomic_write_bytes
from simtune_core.record import EvaluationRecord


def _rec(g: int, i: int, total: float = 1.0) -> EvaluationRecord:
    return EvaluationRecord(generation=g, individual=i, status="ok", reason=None,
                            total_score=total, parameters={"a": 0.1 * i}, values={"t": 1.0},
                            scores={"t": total}, eval_dir=f"/x/{g}/{i}")


def test_crash_during_checkpoint_write_keeps_previous(tmp_path: Path) -> None:
    save_checkpoint(tmp_path, Checkpoint(3, b"state-3", 10))
    # a real crash: a child process is killed (SIGKILL) in the middle of writing the next one
    code = f"""
import os, signal, sys
sys.path.insert(0, {str(Path(__file__).resolve().parents[2])!r})
import simtune_core.io as io
real_fsync = os.fsync
def dying_fsync(fd):
    os.kill(os.getpid(), signal.SIGKILL)   # after the bytes are written, before the rename
os.fsync = dying_fsync
from orchestrator.checkpoint import Checkpoint, save_checkpoint
save_checkpoint({str(tmp_path)!r}, Checkpoint(4, b"state-4" * 100000, 10))
"""
    p = subprocess.run([sys.executable, "-c", code])
    assert p.returncode == -9
    cp = load_checkpoint(tmp_path)
    assert cp is not None and cp.next_generation == 3 and cp.optimizer_state == b"state-3"
    leftovers = [f for f in os.listdir(tmp_path) if f.endswith(".tmp")]
    assert leftovers, "the torn temp file stays aside, never in place of the checkpoint"


def test_atomic_write_failure_leaves_target(tmp_path: Path, monkeypatch) -> None:
    target = tmp_path / "f.bin"
    atomic_write_bytes(target, b"old")

    def boom(*a, **k):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", boom)
    with pytest.raises(OSError):
        atomic_write_bytes(target, b"new")
    assert target.read_bytes() == b"old"
    assert not [f for f in os.listdir(tmp_path) if f.endswith(".tmp")]


def test_torn_results_line_is_skipped_and_appends_continue(tmp_path: Path) -> None:
    (tmp_path / "run.json").write_text("{}")
    w = ResultsWriter(tmp_path)
    assert w.append([_rec(0, 0), _rec(0, 1)]) == 2
    with open(tmp_path / "results.jsonl", "ab") as fh:  # a crash mid-append
        fh.write(json.dumps(_rec(1, 0).to_json()).encode()[:25])
    df = load_results(tmp_path)
    assert list(df.individual) == [0, 1]
    w2 = ResultsWriter(tmp_path)  # a resumed controller
    assert w2.append([_rec(0, 1), _rec(1, 0), _rec(1, 1)]) == 2  # (0, 1) is not duplicated
    df = load_results(tmp_path)
    assert list(zip(df.generation, df.individual)) == [(0, 0), (0, 1), (1, 0), (1, 1)]


def test_checkpoint_version_checked(tmp_path: Path) -> None:
    (tmp_path / "checkpoint.pkl").write_bytes(pickle.dumps({"not": "a checkpoint"}))
    with pytest.raises(ValueError, match="not a simtune checkpoint"):
        load_checkpoint(tmp_path)
