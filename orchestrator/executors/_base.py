"""Executor base: submit evaluation tasks, poll their states in bulk, cancel them.

An executor runs ``evaluators.worker.run_task(task_path)`` for each task file. It never decides
whether an evaluation succeeded: the job watcher (:mod:`orchestrator.executors.watcher`) takes an
evaluation as finished only when its result file exists; the executor's :class:`JobState` explains
the ones that end without one.

Backends fill three narrow hooks (:meth:`Executor._submit`, :meth:`Executor._poll`,
:meth:`Executor._cancel`); the public methods do the bookkeeping.
"""

from __future__ import annotations

import abc
import enum
import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, Sequence

__all__ = ["Executor", "JobInfo", "JobState"]

log = logging.getLogger("simtune.executor")


class JobState(str, enum.Enum):
    """Scheduler states, mapped once at the boundary (see ``slurm.py`` for SLURM's strings)."""

    PENDING = "PENDING"
    RUNNING = "RUNNING"
    COMPLETED = "COMPLETED"
    FAILED = "FAILED"
    TIMEOUT = "TIMEOUT"
    OUT_OF_MEMORY = "OUT_OF_MEMORY"
    CANCELLED = "CANCELLED"
    NODE_FAIL = "NODE_FAIL"
    PREEMPTED = "PREEMPTED"
    UNKNOWN = "UNKNOWN"  # not (yet) known to the scheduler

    def is_finished(self) -> bool:
        return self not in (JobState.PENDING, JobState.RUNNING, JobState.UNKNOWN)


@dataclass(frozen=True)
class JobInfo:
    """What the executor knows of one job."""

    state: JobState
    started_at: float | None = None  # epoch seconds when the job started running
    exit_code: int | None = None
    detail: str = ""
    elapsed_s: float | None = None  # how long the job ran, as far as the backend knows


class Executor(abc.ABC):
    """Base class of executors.

    Parameters
    ----------
    folder
        Where the backend keeps its own files (submitit logs and pickles) for this run.
    options
        The ``executor`` section of the config (``orchestrator.config.ExecutorConfig``).
    """

    kind: ClassVar[str]

    def __init__(self, folder: Path, options: Any) -> None:
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        self.options = options

    # -- public API -----------------------------------------------------------------------------
    def submit(self, task_paths: Sequence[Path], label: str = "") -> list[str]:
        """Submit one job per task file; returns one job id per task, in order."""
        if not task_paths:
            return []
        t0 = time.perf_counter()
        ids = self._submit([Path(p) for p in task_paths], label)
        if len(ids) != len(task_paths):
            raise RuntimeError(f"{self.kind}: got {len(ids)} job ids for {len(task_paths)} tasks")
        log.debug("%s: submitted %d tasks in %.3f s", self.kind, len(ids), time.perf_counter() - t0)
        return ids

    def poll(self, job_ids: Sequence[str]) -> dict[str, JobInfo]:
        """States of ``job_ids`` in one bulk query. Unknown ids map to ``UNKNOWN``."""
        if not job_ids:
            return {}
        return self._poll(list(job_ids))

    def cancel(self, job_ids: Sequence[str]) -> None:
        """Cancel jobs (best effort; already finished jobs are ignored)."""
        if job_ids:
            self._cancel(list(job_ids))

    def capacity(self) -> int | None:
        """How many more jobs may be submitted now (None: no limit of the executor's own)."""
        return None

    def release(self, job_ids: Sequence[str]) -> None:
        """The watcher has these jobs' results: they no longer count against
        :meth:`capacity` while their processes exit (default: nothing to do)."""

    def close(self) -> None:
        """Release resources; jobs keep running (a resumed controller re-attaches)."""

    def _log_tail(self, jid: str, n: int = 1500) -> str:
        """The end of a job's stderr log (submitit's ``<job id>_0_log.err`` in ``folder``)."""
        err = self.folder / f"{jid}_0_log.err"
        try:
            with open(err, "rb") as fh:
                fh.seek(max(err.stat().st_size - n, 0))
                return fh.read().decode(errors="replace")
        except OSError:
            return ""

    # -- backend hooks --------------------------------------------------------------------------
    @abc.abstractmethod
    def _submit(self, task_paths: list[Path], label: str) -> list[str]: ...

    @abc.abstractmethod
    def _poll(self, job_ids: list[str]) -> dict[str, JobInfo]: ...

    @abc.abstractmethod
    def _cancel(self, job_ids: list[str]) -> None: ...
