"""Executors: where evaluations run (``local``, ``debug``, ``slurm``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from orchestrator.executors._base import Executor, JobInfo, JobState
from orchestrator.executors.watcher import JobWatcher, Limits, WatchedTask

__all__ = ["Executor", "JobInfo", "JobState", "JobWatcher", "Limits", "WatchedTask",
           "make_executor"]


def make_executor(kind: str, folder: Path, options: Any) -> Executor:
    """Build the executor of ``kind`` for a run (``folder`` holds its logs)."""
    if kind == "local":
        from orchestrator.executors.local import LocalExecutor

        return LocalExecutor(folder, options)
    if kind == "debug":
        from orchestrator.executors.local import DebugExecutor

        return DebugExecutor(folder, options)
    if kind == "slurm":
        from orchestrator.executors.slurm import SlurmExecutor

        return SlurmExecutor(folder, options)
    raise ValueError(f"unknown executor kind {kind!r}")
