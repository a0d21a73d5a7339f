"""Test simulators for the SLURM tests (python evaluator: ``tests.slurm.sims:<name>``)."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any, Mapping


def ok(parameters: Mapping[str, float], out_dir: Path, seed: int) -> dict[str, Any]:
    """Two neurons firing 3 and 1 spikes in 1 s: mean rate 2 Hz."""
    return {"spikes": {"exc": [[10.0, 20.0, 30.0], [15.0]]}, "duration_ms": 1000.0}


def boom(parameters: Mapping[str, float], out_dir: Path, seed: int) -> None:
    raise ValueError("boom: the model diverged")


def abort(parameters: Mapping[str, float], out_dir: Path, seed: int) -> None:
    os.abort()  # SIGABRT: the job process dies without a result file


def nothing(parameters: Mapping[str, float], out_dir: Path, seed: int) -> None:
    return None  # writes no data store


def sleep(parameters: Mapping[str, float], out_dir: Path, seed: int) -> None:
    time.sleep(float(parameters.get("sleep", 10**6)))


def hog(parameters: Mapping[str, float], out_dir: Path, seed: int) -> None:
    """Touch 64 MB more every 20 ms, up to 4 GB."""
    chunks = []
    for _ in range(64):
        chunks.append(bytearray(64 * 1024 * 1024))
        time.sleep(0.02)
