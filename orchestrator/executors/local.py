"""Local executors: ``local`` (a process per evaluation) and ``debug`` (in-process, submitit).

``local`` starts each evaluation as its own process, ``python -c`` :data:`evaluators.worker.BOOT`
``TASK JOBS_FOLDER LIMIT_S``, in a new session (its own process group), with its stdout and
stderr in ``<job id>_0_log.out`` / ``.err`` in the executor's folder. Its job id is its pid. It
used submitit's ``LocalExecutor`` before; that runs two interpreters per evaluation (submitit's
job controller, then the task) and cost 0.2-0.5 s of start-up per evaluation, which in
asynchronous mode is a slot held idle (docs/benchmarks.md, "Utilisation"); one interpreter that
imports only simtune's worker starts in ~0.02 s.

Time limits: a job running longer than ``time_limit_s`` gets SIGTERM on its process group (the
evaluation stops as at a scheduler's limit; a command evaluator's simulator is stopped with it)
and SIGKILL :data:`KILL_GRACE_S` later if it is still there; it is reported ``TIMEOUT``. The job
also carries the limit itself (30 s later, :func:`evaluators.worker.main`), so it stops even if
no controller watches it. A resumed controller re-attaches to a job that outlived the previous
one by its pid in ``/proc``, checked against the job's command line (it names this executor's
folder), so a recycled pid is never mistaken for one. At most ``max_parallel`` jobs run at once
(default: the number of CPUs); the controller submits more as slots free (:meth:`capacity`).
Nothing here blocks: signals are sent and their effect is seen at the next poll.

``debug`` runs evaluations in the controller's process when polled (no time limit, no isolation):
for stepping through an evaluator.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import submitit

from orchestrator.executors._base import Executor, JobInfo, JobState

__all__ = ["KILL_GRACE_S", "DebugExecutor", "LocalExecutor"]

#: after SIGTERM, how long a job may take to stop before SIGKILL (a command evaluator stops its
#: simulator's group within 10 s of SIGTERM)
KILL_GRACE_S = 15.0
#: the job's own backstop, past ``time_limit_s`` (the executor normally stops it first)
SELF_LIMIT_MARGIN_S = 30.0


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


def _signal_group(pid: int, sig: int) -> None:
    try:
        os.killpg(pid, sig)
    except (ProcessLookupError, PermissionError):
        pass


@dataclass
class _Job:
    """A job this controller started (``proc``) or re-attached to (``proc`` None)."""

    proc: subprocess.Popen[bytes] | None  # None once reaped, or re-attached
    started: float | None
    attached: bool = False
    ended: float | None = None
    code: int | None = None
    kill_at: float | None = None  # SIGKILL due (SIGTERM sent)
    why: JobState | None = None  # TIMEOUT or CANCELLED, once decided here


class LocalExecutor(Executor):
    kind = "local"

    def __init__(self, folder: Path, options: Any) -> None:
        super().__init__(folder, options)
        self._jobs: dict[str, _Job] = {}
        self._running: set[str] = set()  # started here, not yet reaped
        self._active: set[str] = set()  # holding a slot: submitted, not released, not ended
        self._n = 0

    def capacity(self) -> int | None:
        self._reap()
        limit = self.options.parallel_limit() or 1
        return max(limit - len(self._active), 0)

    def release(self, job_ids: Sequence[str]) -> None:
        # the job's result is read: its process may still be exiting, its slot is free already
        self._active.difference_update(job_ids)

    def close(self) -> None:
        self._reap()

    def _submit(self, task_paths: list[Path], label: str) -> list[str]:
        limit = self.options.time_limit_s + SELF_LIMIT_MARGIN_S
        ids = []
        for p in task_paths:
            self._n += 1
            tmp = [self.folder / f".starting-{os.getpid()}-{self._n}.{s}" for s in ("out", "err")]
            with open(tmp[0], "wb") as out, open(tmp[1], "wb") as err:
                proc = subprocess.Popen(
                    [sys.executable, "-c", _boot(), str(p), str(self.folder), f"{limit:g}"],
                    stdin=subprocess.DEVNULL, stdout=out, stderr=err, start_new_session=True)
            jid = str(proc.pid)
            for t, s in zip(tmp, ("out", "err")):
                os.replace(t, self.folder / f"{jid}_0_log.{s}")
            self._jobs[jid] = _Job(proc, time.time())
            self._running.add(jid)
            self._active.add(jid)
            ids.append(jid)
        return ids

    def _reap(self) -> None:
        """Collect the exit status of every job started here that has ended."""
        now = time.time()
        for jid in list(self._running):
            job = self._jobs[jid]
            assert job.proc is not None
            code = job.proc.poll()
            if code is None:
                if job.kill_at is not None and now >= job.kill_at:
                    _signal_group(job.proc.pid, signal.SIGKILL)
                    job.kill_at = None
                continue
            job.code, job.ended = code, now
            job.proc = None  # (its pipes and handle)
            self._running.discard(jid)
            self._active.discard(jid)
            if job.kill_at is not None:  # its group may outlive it: finish the job
                _signal_group(int(jid), signal.SIGKILL)

    def _poll(self, job_ids: list[str]) -> dict[str, JobInfo]:
        self._reap()
        now = time.time()
        out = {}
        for jid in job_ids:
            job = self._jobs.get(jid)
            if job is None:  # a job of a previous controller, or none at all
                job = self._jobs[jid] = _Job(None, None, attached=True)
            if job.attached and job.ended is None:
                if _proc_alive(int(jid), str(self.folder)):
                    if job.kill_at is not None and now >= job.kill_at:
                        _signal_group(int(jid), signal.SIGKILL)
                        job.kill_at = None
                    out[jid] = JobInfo(JobState.RUNNING, None, detail="re-attached")
                    continue
                job.ended = now
            if job.ended is None:
                assert job.started is not None
                if job.why is None and now - job.started > self.options.time_limit_s:
                    job.why = JobState.TIMEOUT
                    self._stop(jid, job, now)
                out[jid] = JobInfo(JobState.RUNNING, job.started)
                continue
            state = job.why or (JobState.COMPLETED if job.code == 0 else JobState.FAILED)
            out[jid] = JobInfo(state, job.started, job.code, self._log_tail(jid),
                               elapsed_s=(job.ended - job.started) if job.started else None)
        return out

    def _cancel(self, job_ids: list[str]) -> None:
        self._reap()
        now = time.time()
        for jid in job_ids:
            job = self._jobs.get(jid)
            if job is None:
                if not _proc_alive(int(jid), str(self.folder)):
                    continue
                job = self._jobs[jid] = _Job(None, None, attached=True)
            if job.ended is None and job.why is None:
                job.why = JobState.CANCELLED
                self._stop(jid, job, now)

    @staticmethod
    def _stop(jid: str, job: _Job, now: float) -> None:
        """SIGTERM the job's process group; SIGKILL is due :data:`KILL_GRACE_S` later."""
        try:
            os.killpg(int(jid), signal.SIGTERM)
        except ProcessLookupError:  # not a group leader (a job of an older version)
            try:
                os.kill(int(jid), signal.SIGTERM)
            except ProcessLookupError:
                return
        except PermissionError:
            return
        job.kill_at = now + KILL_GRACE_S


def _boot() -> str:
    from evaluators.worker import BOOT

    return BOOT


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
