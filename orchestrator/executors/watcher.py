"""The job watcher: submit evaluation tasks through an executor and turn each into a record.

An evaluation is finished only when its ``result.json`` exists (written by the worker, which
scores the data store there). A job that ends without one is classified from the executor's job
state, after a grace period for shared file systems that show the file late. Jobs running past
the generation timeout (counted from each job's own start) or pending past the pending limit are
cancelled and recorded; a job unknown to the scheduler long after submission is ``lost``; a job
preempted once is resubmitted (twice: ``preempted``). Nothing waits forever, and nothing one job
does can stop the controller.

The watcher is told *what* to run (:meth:`JobWatcher.add`) and asked, tick by tick, *what has
finished* (:meth:`JobWatcher.step`); it knows nothing of generations or optimizers, so the
generational controller (add a batch, step until it is done) and an asynchronous one (keep the
slots full) drive it alike. Its job table (key -> job id, submission and start times,
resubmissions) is the caller's mapping, saved by the caller's ``save`` callback whenever it
changes, so a resumed controller re-attaches to every job by its id.

Finding results stays cheap with many jobs in flight: with an ``inbox`` (the run's
``inbox/`` folder, named in every task), each tick lists that one folder -- a worker drops an
empty marker there after writing its result -- and reads only the results it names, so a tick
costs ``O(results since the last tick)``, not ``O(in flight)``, and asks the shared file system
for one directory instead of a ``stat`` per job. A result whose marker never appears (a task
of an older version, a marker that could not be written) is still read when the scheduler
reports its job finished. Without an inbox every result file in flight is looked for each tick.
"""

from __future__ import annotations

import logging
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Mapping

from orchestrator.executors._base import Executor, JobInfo, JobState
from simtune_core.faults import failpoint
from simtune_core.record import (
    TASK_FILE,
    EvaluationRecord,
    Reason,
    failed_record,
    inbox_name,
    read_result,
)

__all__ = ["LOST_AFTER_S", "RESULT_GRACE_S", "JobWatcher", "Limits", "WatchedTask",
           "read_result"]

log = logging.getLogger("simtune")

#: after a job is seen finished, how long to wait for its result file (shared file systems lag)
RESULT_GRACE_S = 3.0
#: a job unknown to the scheduler this long after submission is recorded as lost
LOST_AFTER_S = 120.0
#: a job running this long past the time limit was not stopped by the backend: cancel it
OVERRUN_S = 120.0

_STATE_REASON = {
    JobState.TIMEOUT: Reason.TIMEOUT,
    JobState.OUT_OF_MEMORY: Reason.OUT_OF_MEMORY,
    JobState.CANCELLED: Reason.CANCELLED,
    JobState.NODE_FAIL: Reason.NODE_FAIL,
    JobState.PREEMPTED: Reason.PREEMPTED,
    JobState.FAILED: Reason.CRASHED,
    JobState.COMPLETED: Reason.CRASHED,  # completed without a result file
}


@dataclass(frozen=True)
class Limits:
    """How long a job may pend and run (the config's ``executor`` section)."""

    time_limit_s: float
    generation_timeout_s: float | None = None
    pending_limit_s: float | None = None
    poll_interval_s: float = 1.0

    @classmethod
    def of(cls, options: Any) -> Limits:
        """The limits of an :class:`~orchestrator.config.ExecutorConfig`."""
        return cls(float(options.time_limit_s), options.generation_timeout_s,
                   options.pending_limit_s, float(options.poll_interval_s))


@dataclass(frozen=True)
class WatchedTask:
    """One evaluation to run: its key in the job table and its task file's content."""

    key: str
    task: Mapping[str, Any]

    @property
    def dir(self) -> Path:
        return Path(self.task["eval_dir"])

    @property
    def path(self) -> Path:
        return self.dir / TASK_FILE


class JobWatcher:
    """Runs tasks through ``executor`` and reports each as a record once (module docstring).

    Parameters
    ----------
    executor
        Where the jobs run.
    limits
        Time limits and the poll interval.
    jobs
        The job table, ``key -> {"job_id", "submitted_at", "resubmits", "started_at"?}``; the
        watcher updates it in place (it may hold jobs submitted by an earlier controller).
    save
        Called after every change of ``jobs`` that must survive a crash (new job ids, start
        times): the caller writes its in-flight file.
    label
        Job name prefix for the scheduler.
    inbox
        The folder where workers drop their markers (the tasks' ``inbox``), or None.
    """

    def __init__(self, executor: Executor, limits: Limits, jobs: dict[str, dict[str, Any]],
                 save: Callable[[], None], label: str = "simtune",
                 inbox: Path | None = None) -> None:
        self.executor = executor
        self.inbox = None if inbox is None else Path(inbox)
        self._by_marker: dict[str, str] = {}  # inbox marker name -> task key
        self.limits = limits
        self.jobs = jobs
        self._save = save
        self.label = label
        self._tasks: dict[str, WatchedTask] = {}
        self._to_submit: list[str] = []
        self._finished_seen: dict[str, float] = {}
        self._last_poll = 0.0
        self.first_submit_at: float | None = None

    # -- what the caller sees -------------------------------------------------------------------
    def add(self, tasks: list[WatchedTask]) -> list[EvaluationRecord]:
        """Watch ``tasks``. Those with a result already (finished before a crash) are returned at
        once and never run again; those with a job in the table are re-attached; the others are
        submitted by the next :meth:`step`."""
        done = []
        for t in tasks:
            rec = read_result(t.task)
            if rec is not None:
                done.append(self._finish(t, rec))
                continue
            self._tasks[t.key] = t
            self._by_marker[inbox_name(t.task["generation"], t.task["individual"])] = t.key
            if t.key not in self.jobs:
                self._to_submit.append(t.key)
        return done

    def __len__(self) -> int:
        """How many tasks are not finished."""
        return len(self._tasks)

    def __contains__(self, key: object) -> bool:
        """Whether the task ``key`` is watched (added and not finished)."""
        return key in self._tasks

    @property
    def in_flight(self) -> int:
        """Tasks submitted and not finished."""
        return len(self._tasks) - len(self._to_submit)

    def step(self, now: float | None = None) -> list[EvaluationRecord]:
        """One tick: submit what fits, collect result files, poll the scheduler when due.
        Returns the records of the tasks that finished in this tick."""
        out: list[EvaluationRecord] = []
        if self._to_submit:
            out += self._submit()
        for key in self._arrived():
            rec = read_result(self._tasks[key].task)
            if rec is not None:
                out.append(self._finish(self._tasks[key], rec))
        now = time.time() if now is None else now
        if self._tasks and now - self._last_poll >= self.limits.poll_interval_s:
            self._last_poll = now
            out += self._check_jobs()
        return out

    def submit_now(self) -> list[EvaluationRecord]:
        """Submit what fits right away (instead of at the next :meth:`step`); returns the
        records of submissions the scheduler refused."""
        return self._submit() if self._to_submit else []

    def cancel_all(self) -> None:
        """Cancel every job still running (best effort); the tasks stay unfinished."""
        ids = [self.jobs[k]["job_id"] for k in self._tasks if k in self.jobs]
        self.executor.cancel(ids)

    # -- internals ------------------------------------------------------------------------------
    def _arrived(self) -> list[str]:
        """The watched tasks whose result may be there: those named in the inbox (markers of
        tasks not watched -- already recorded, or of an older generation -- are removed), or
        every one without an inbox."""
        if self.inbox is None:
            return list(self._tasks)
        try:
            names = [e.name for e in os.scandir(self.inbox)]
        except OSError:
            return []
        keys = []
        for name in names:
            key = self._by_marker.get(name)
            if key is not None and key in self._tasks:
                keys.append(key)
            else:
                _unlink(self.inbox / name)
        return keys

    def _finish(self, t: WatchedTask, rec: EvaluationRecord) -> EvaluationRecord:
        """Take ``t`` off the watch list; the record gets the times only the controller knows."""
        self._tasks.pop(t.key, None)
        name = inbox_name(t.task["generation"], t.task["individual"])
        if self._by_marker.pop(name, None) is not None and self.inbox is not None:
            _unlink(self.inbox / name)
        self._finished_seen.pop(t.key, None)
        job = self.jobs.get(t.key, {})
        if "job_id" in job:
            self.executor.release([job["job_id"]])
        if rec.job_id is None:
            rec.job_id = job.get("job_id")
        rec.submitted_at = job.get("submitted_at", rec.submitted_at)
        rec.asked_at = t.task.get("asked_at", rec.asked_at)
        return rec

    def _failed(self, t: WatchedTask, reason: Reason, detail: str) -> EvaluationRecord:
        rec = failed_record(t.task, reason, detail)
        job = self.jobs.get(t.key, {})
        now = time.time()
        started = job.get("started_at")
        rec.job_id, rec.finished_at, rec.started_at = job.get("job_id"), now, started
        rec.runtime_s = (now - started) if started else None
        return self._finish(t, rec)

    def _submit(self) -> list[EvaluationRecord]:
        cap = self.executor.capacity()
        batch = self._to_submit if cap is None else self._to_submit[:cap]
        if not batch:
            return []
        self._to_submit = self._to_submit[len(batch):]
        now = time.time()  # before: a local job can start before submit() returns
        try:
            ids = self.executor.submit([self._tasks[k].path for k in batch], label=self.label)
        except Exception as exc:  # noqa: BLE001 - a refused submission is recorded, not fatal
            log.error("submission of %d tasks failed: %s", len(batch), exc)
            return [self._failed(self._tasks[k], Reason.SUBMIT_FAILED, str(exc)) for k in batch]
        if self.first_submit_at is None:
            self.first_submit_at = now
        for key, jid in zip(batch, ids):
            prev = self.jobs.get(key, {})
            self.jobs[key] = {"job_id": jid, "submitted_at": now,
                              "resubmits": prev.get("resubmits", -1) + 1}
        self._save()  # job ids on disk before waiting: re-attachable
        failpoint("after_submit")
        return []

    def _check_jobs(self) -> list[EvaluationRecord]:
        waiting = set(self._to_submit)
        live = {k: self.jobs[k] for k in self._tasks if k in self.jobs and k not in waiting}
        if not live:
            return []
        infos = self.executor.poll([j["job_id"] for j in live.values()])
        now = time.time()
        out: list[EvaluationRecord] = []
        cancel: dict[str, tuple[Reason, str]] = {}
        changed = False
        for key, job in live.items():
            t = self._tasks[key]
            info = infos.get(job["job_id"], JobInfo(JobState.UNKNOWN))
            if info.state.is_finished():
                first = self._finished_seen.setdefault(key, now)
                if now - first < RESULT_GRACE_S:
                    continue
                rec = read_result(t.task)
                if rec is not None:
                    out.append(self._finish(t, rec))
                elif info.state is JobState.PREEMPTED and job.get("resubmits", 0) < 1:
                    log.warning("%s: job %s preempted; resubmitting once", key, job["job_id"])
                    self._to_submit.append(key)
                    self._finished_seen.pop(key, None)
                else:
                    out.append(self._failed(t, *self._classify(info, job)))
                continue
            if info.state is JobState.RUNNING:
                if "started_at" not in job:
                    job["started_at"] = info.started_at or now
                    changed = True
                why = self._overrun(now - job["started_at"])
                if why:
                    cancel[key] = (Reason.TIMEOUT, why)
            else:  # PENDING or UNKNOWN
                waited = now - job["submitted_at"]
                lim = self.limits.pending_limit_s
                if lim is not None and waited > lim:
                    cancel[key] = (Reason.NEVER_STARTED,
                                   (f"pending {waited:.0f} s > pending limit {lim:g} s "
                                    f"({info.detail or info.state.value})"))
                elif info.state is JobState.UNKNOWN and waited > LOST_AFTER_S:
                    cancel[key] = (Reason.LOST, f"job {job['job_id']} unknown to the scheduler")
        if cancel:
            self.executor.cancel([live[k]["job_id"] for k in cancel])
            for key, (reason, detail) in cancel.items():
                t = self._tasks[key]
                rec = read_result(t.task)  # it may have finished meanwhile
                out.append(self._finish(t, rec) if rec is not None
                           else self._failed(t, reason, detail))
                log.warning("%s: %s (%s)", key, out[-1].reason, detail)
        if changed:
            self._save()
        return out

    def _overrun(self, run_for: float) -> str | None:
        lim = self.limits.generation_timeout_s
        if lim is not None and run_for > lim:
            return f"generation timeout: running {run_for:.0f} s > {lim:g} s"
        if run_for > self.limits.time_limit_s + OVERRUN_S:  # the backend failed to enforce it
            return f"running {run_for:.0f} s, past the time limit"
        return None

    @staticmethod
    def _classify(info: JobInfo, job: Mapping[str, Any]) -> tuple[Reason, str]:
        reason = _STATE_REASON.get(info.state, Reason.CRASHED)
        detail = f"job {job['job_id']} ended {info.state.value} without a result"
        if info.exit_code is not None:
            detail += f" (exit code {info.exit_code})"
        if info.detail:
            detail += "\n" + info.detail[-1500:]
        return reason, detail


def _unlink(path: Path) -> None:
    try:
        path.unlink(missing_ok=True)
    except OSError:
        pass
