"""Local executors over submitit: ``local`` (one process per evaluation) and ``debug`` (in-process).

``local`` runs each evaluation through :class:`submitit.LocalExecutor`. The executor enforces the
per-evaluation time limit itself: a job running longer is interrupted and reported as ``TIMEOUT``
(submitit's own limit, 30 s later, is only a backstop). Its job id is the pid of submitit's local
job controller; a resumed simtune controller re-attaches to a job that outlived the previous
controller by checking that pid in ``/proc`` (and that it is still a submitit job of this run, so
a recycled pid is never mistaken for one). At most ``max_parallel`` jobs run at once (default: the
number of CPUs); the simtune controller submits more as slots free (:meth:`capacity`).

``debug`` runs evaluations in the controller's process when polled (no time limit, no isolation):
for stepping through an evaluator.
"""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path
from typing import Any, Sequence

import submitit

from orchestrator.executors._base import Executor, JobInfo, JobState

__all__ = ["DebugExecutor", "LocalExecutor"]


def _proc_alive(pid: int, marker: str) -> bool:
    """True if ``pid`` runs and its command line contains ``marker`` (not a zombie)."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as fh:
            state = fh.read().rsplit(b")", 1)[1].split()[0]
        if state in (b"Z", b"X"):
            return False
        with open(f"/proc/{pid}/cmdline", "rb") as fh:
            return marker.encode() in fh.read()
    except (FileNotFoundError, ProcessLookupError, IndexError, PermissionError):
        return False


class LocalExecutor(Executor):
    kind = "local"

    def __init__(self, folder: Path, options: Any) -> None:
        super().__init__(folder, options)
        self._ex = submitit.LocalExecutor(folder=str(self.folder))
        # submitit sleeps 0.2 s between two submissions (``Executor._throttling``, there to
        # spare a cluster's scheduler); a local process needs no such pause, and in async mode
        # it would hold every freed slot idle for it
        if hasattr(self._ex, "_throttling"):
            self._ex._throttling = 0.0
        self._ex.update_parameters(
            timeout_min=(options.time_limit_s + 30.0) / 60.0, signal_delay_s=0
        )
        self._jobs: dict[str, Any] = {}
        self._started: dict[str, float] = {}
        self._ended: dict[str, float] = {}
        self._cancelled: set[str] = set()
        self._timed_out: set[str] = set()
        self._active: set[str] = set()  # submitted, not released, not seen ended

    def capacity(self) -> int | None:
        limit = self.options.parallel_limit() or 1
        ended = {jid for jid in self._active if self._jobs[jid].state != "RUNNING"}
        self._active -= ended  # (only jobs that may hold a slot are looked at)
        return max(limit - len(self._active), 0)

    def release(self, job_ids: Sequence[str]) -> None:
        # a job whose result is written spends up to ~1 s more in submitit's wrapper process
        # (its local controller polls the task once a second): its slot is free already
        self._active.difference_update(job_ids)

    def _submit(self, task_paths: list[Path], label: str) -> list[str]:
        from evaluators.worker import run_task

        ids = []
        for p in task_paths:
            job = self._ex.submit(run_task, str(p))
            self._jobs[job.job_id] = job
            self._active.add(job.job_id)
            self._started[job.job_id] = time.time()
            ids.append(job.job_id)
        return ids

    def _poll(self, job_ids: list[str]) -> dict[str, JobInfo]:
        out = {}
        for jid in job_ids:
            job = self._jobs.get(jid)
            if job is not None:
                rc = job._process.poll() if job._process is not None else None
                start = self._started.get(jid)
                if rc is None and start is not None and (
                        time.time() - start > self.options.time_limit_s):
                    self._timed_out.add(jid)
                    self._interrupt(job)
                    rc = job._process.poll() if job._process is not None else None
                if rc is None:
                    out[jid] = JobInfo(JobState.RUNNING, start)
                    continue
            elif _proc_alive(int(jid), str(self.folder)):  # re-attached after a resume
                out[jid] = JobInfo(JobState.RUNNING, None, detail="re-attached")
                continue
            else:
                rc = None
            if jid in self._timed_out:
                state = JobState.TIMEOUT
            elif jid in self._cancelled:
                state = JobState.CANCELLED
            else:
                state = JobState.COMPLETED if rc == 0 else JobState.FAILED
            end = self._ended.setdefault(jid, time.time())
            start = self._started.get(jid)
            out[jid] = JobInfo(state, start, rc, self._log_tail(jid),
                               elapsed_s=(end - start) if start is not None else None)
        return out

    def _cancel(self, job_ids: list[str]) -> None:
        for jid in job_ids:
            self._cancelled.add(jid)
            job = self._jobs.get(jid)
            if job is not None:
                self._interrupt(job)
            elif _proc_alive(int(jid), str(self.folder)):
                os.kill(int(jid), signal.SIGINT)

    @staticmethod
    def _interrupt(job: Any, grace_s: float = 5.0) -> None:
        """SIGINT submitit's job controller (it kills its task); SIGTERM after ``grace_s``."""
        proc = job._process
        if proc is None or proc.poll() is not None:
            return
        proc.send_signal(signal.SIGINT)
        deadline = time.time() + grace_s
        while proc.poll() is None:
            if time.time() > deadline:
                proc.send_signal(signal.SIGTERM)
                break
            time.sleep(0.05)


class DebugExecutor(Executor):
    kind = "debug"

    def __init__(self, folder: Path, options: Any) -> None:
        super().__init__(folder, options)
        self._ex = submitit.DebugExecutor(folder=str(self.folder))
        self._jobs: dict[str, Any] = {}
        self._n = 0

    def _submit(self, task_paths: list[Path], label: str) -> list[str]:
        from evaluators.worker import run_task

        ids = []
        for p in task_paths:
            self._n += 1
            jid = f"debug-{self._n}"
            self._jobs[jid] = self._ex.submit(run_task, str(p))
            ids.append(jid)
        return ids

    def _poll(self, job_ids: list[str]) -> dict[str, JobInfo]:
        out = {}
        for jid in job_ids:
            job = self._jobs.get(jid)
            if job is None:
                out[jid] = JobInfo(JobState.FAILED, detail="unknown debug job (not re-attachable)")
                continue
            exc = job.exception()  # runs the job in this process the first time
            out[jid] = JobInfo(JobState.FAILED if exc else JobState.COMPLETED, time.time(),
                               detail=repr(exc) if exc else "")
        return out

    def _cancel(self, job_ids: list[str]) -> None:
        for jid in job_ids:
            self._jobs.pop(jid, None)
