"""SLURM executor: job arrays through submitit, states from one ``squeue`` (+ one ``sacct``) a poll.

Submission
    :meth:`SlurmExecutor._submit` sends the task files as job arrays of at most
    ``MaxArraySize`` tasks each (``submitit`` ``map_array`` of
    :func:`evaluators.worker.run_task`; one array per generation unless it is larger), and
    :meth:`SlurmExecutor.capacity` keeps the user's pending + running jobs within
    ``MaxSubmitJobs`` (the job watcher holds back the rest; limits, retries and back-off:
    :mod:`orchestrator.executors.slurm_client`). With ``executor.pack: K`` an array task is K
    evaluations side by side (:func:`evaluators.pack.run_pack`, K times the CPUs and memory;
    a remainder of fewer than K goes in a smaller task of its own), and every evaluation of
    the pack gets the task's job id. An array task runs in the batch step (no ``srun``
    wrapper: an MPI simulator started by the ``command`` evaluator with ``srun`` gets the whole
    allocation). Job ids are ``"<array>_<index>"`` in task order. Nothing from
    ``orchestrator`` is imported on the nodes (its ``__init__`` pulls pandas:
    +0.4 s per evaluation).

Polling
    A query is one ``squeue`` of the user's jobs (whatever their number: the states of the
    queued ones and how many count against ``MaxSubmitJobs``) and, only for jobs that left the
    queue, one ``sacct`` for their arrays (steps included: an oom-kill inside an ``srun`` step
    leaves the job FAILED but the step OUT_OF_MEMORY). SLURM's strings are mapped once
    (:func:`map_state`); finished states are cached forever, the whole answer until the next
    query, which comes ``poll_interval_s`` later, x1.5 for every query that brought no news
    (up to ``slurm.max_poll_interval_s``), and again after ``poll_interval_s`` on news (a state
    changed, a job left the queue, the caller stopped asking for a job because its result
    came, or asked for new ones). A query that fails is a query without news.

Re-attach
    Nothing but the job ids is needed: a new executor on the same folder polls and cancels jobs
    submitted by a controller that died.

Time limit
    ``--time`` is ``time_limit_s`` rounded up to whole minutes. SLURM kills a job that runs past
    it (checked about every 30 s) and records TIMEOUT. submitit asks for a warning signal
    ``signal_delay_s`` before the limit; its handler in the job would raise inside the simulation
    (a non-checkpointable job "timed-out": FAILED, recorded as ``exception`` instead of
    ``timeout``). simtune sends it to the batch shell only (``--signal=B:USR2@N``), which traps it,
    so the evaluation runs on until the limit.
"""

from __future__ import annotations

import functools
import logging
import math
import os
import pwd
import re
import shlex
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Mapping

import submitit

from evaluators.pack import PACK_MARGIN_S
from orchestrator.executors._base import Executor, JobInfo, JobState
from orchestrator.executors.slurm_client import (
    PollBackoff,
    SchedulerLimits,
    backoff_cap,
    compress_ids,
    is_transient,
    read_limits,
    retry,
)
from orchestrator.executors.slurm_states import (
    SACCT_FIELDS,
    SQUEUE_FORMAT,
    map_state,
    parse_job_ids,
    parse_sacct,
    parse_squeue,
)

__all__ = ["SlurmExecutor", "SubmitError", "map_state", "parse_job_ids"]

log = logging.getLogger("simtune.executor.slurm")

class SubmitError(RuntimeError):
    """The scheduler refused a submission (``sbatch`` error); the controller records
    ``submit_failed``."""


class _Transient(RuntimeError):
    """A scheduler command failed in a way worth another attempt (:func:`is_transient`)."""


# -- the executor ---------------------------------------------------------------------------------
class SlurmExecutor(Executor):
    """Run evaluations as SLURM job arrays (see the module docstring).

    Parameters
    ----------
    folder
        submitit's folder for this run (sbatch scripts, pickles, ``<array>_<index>_log.{out,err}``).
    options
        The config's ``executor`` section (``time_limit_s``, ``max_parallel``, ``poll_interval_s``,
        ``slurm.*``).
    """

    kind = "slurm"

    def __init__(self, folder: Path, options: Any) -> None:
        super().__init__(folder, options)
        sl = options.slurm
        python = sl.python or sys.executable
        self._ex = submitit.SlurmExecutor(folder=str(self.folder), python=shlex.quote(python),
                                          max_num_timeout=0)
        self._ex.update_parameters(**self._parameters(options), **self._pack_parameters(1))
        self._final: dict[str, JobInfo] = {}  # finished states never change
        self._cache: dict[str, JobInfo] = {}
        self._last_query = -math.inf
        self._ncalls = {"sacct": 0, "squeue": 0, "sbatch": 0}
        self._user = pwd.getpwuid(os.getuid()).pw_name
        self._limits: SchedulerLimits | None = None
        self._backoff = PollBackoff(options.poll_interval_s,
                                    backoff_cap(options.poll_interval_s, sl.max_poll_interval_s))
        self._asked: frozenset[str] = frozenset()  # the ids of the last poll
        self._queued: int | None = None  # the user's jobs in the queue at the last squeue
        self._since = 0  # jobs submitted since
        self._clock = time.monotonic
        self._sleep = time.sleep

    def limits(self) -> SchedulerLimits:
        """The cluster's limits for this user (read once, at the first submission)."""
        if self._limits is None:
            self._limits = read_limits(self._run, self.options, self._user)
        return self._limits

    def capacity(self) -> int | None:
        """How many more jobs fit under ``MaxSubmitJobs`` now (None: no such limit). Counts
        every queued job of the user (other runs' too) at the last ``squeue``, plus what was
        submitted since; when full, asks ``squeue`` again once the poll interval has passed."""
        lim = self.limits().max_submit_jobs
        if lim is None:
            return None
        if self._queued is None or lim - self._queued - self._since <= 0:
            self._query_if_due(force=self._queued is None)
        if self._queued is None:
            return 0  # the scheduler does not answer: wait
        return max(0, lim - self._queued - self._since) * self.pack  # evaluations

    @property
    def pack(self) -> int:
        """Evaluations per array task (``executor.pack``)."""
        return int(self.options.pack)

    def _pack_parameters(self, size: int) -> dict[str, Any]:
        """The sbatch options that follow from the number of evaluations in a task: CPUs,
        memory, time limit (``--time``: the evaluations' limit in whole minutes, plus
        :data:`~evaluators.pack.PACK_MARGIN_S` when packing) and ``max_parallel`` evaluations
        at once (``--array=...%N``; no limit of simtune's own otherwise, where submitit's own
        default would throttle to 256)."""
        o, sl = self.options, self.options.slurm
        limit = o.parallel_limit()
        params: dict[str, Any] = {
            "cpus_per_task": int(sl.cpus_per_task) * size,
            "time": max(1, math.ceil((float(o.time_limit_s)
                                      + (PACK_MARGIN_S if self.pack > 1 else 0.0)) / 60.0)),
            "array_parallelism": max(1, math.ceil(limit / size)) if limit else 100_000,
        }
        if sl.mem_gb is not None:
            params["mem"] = f"{max(1, math.ceil(float(sl.mem_gb) * 1024 * size))}M"
        return params

    @staticmethod
    def _parameters(options: Any) -> dict[str, Any]:
        sl = options.slurm
        extra = dict(sl.additional_parameters or {})
        for key, value in extra.items():
            if "\n" in str(key) or "\n" in str(value) or "\r" in str(value):
                raise ValueError(f"executor.slurm.additional_parameters.{key}: no newlines allowed")
        delay = max(int(sl.signal_delay_s), 1)
        extra.setdefault("signal", f"B:USR2@{delay}")
        # workers import the same simtune as this controller, whether installed or not
        root = Path(__file__).resolve().parents[2]
        setup = [
            # the B: signal reaches only this shell, which notes it once python has returned
            "trap 'echo \"simtune: SIGUSR2: the time limit is near\" >&2' USR2",
            f"export PYTHONPATH={shlex.quote(str(root))}${{PYTHONPATH:+:$PYTHONPATH}}",
        ]
        setup += list(sl.setup or [])
        params: dict[str, Any] = {  # + _pack_parameters: CPUs, memory, time, parallelism
            "nodes": int(sl.nodes),
            "ntasks_per_node": int(sl.tasks_per_node),
            "setup": setup,
            "use_srun": False,
            "additional_parameters": extra,
        }
        if sl.partition:
            params["partition"] = sl.partition
        if sl.account:
            params["account"] = sl.account
        if sl.gres:
            params["gres"] = sl.gres
        return params

    # -- submit ---------------------------------------------------------------------------------
    def _submit(self, task_paths: list[Path], label: str) -> list[str]:
        name = re.sub(r"[^A-Za-z0-9_.+-]", "_", label or "simtune")[:64] or "simtune"
        self._ex.update_parameters(job_name=name)
        size = self.limits().max_array_size
        budget = float(self.options.slurm.scheduler_retry_s)
        k = self.pack
        paths = [str(p) for p in task_paths]
        every = [paths[i:i + k] for i in range(0, len(paths), k)]
        full = len(paths) // k  # full packs in one array, a smaller last one (fewer CPUs) apart
        ids: list[str] = []
        for packs in (p for p in (every[:full], every[full:]) if p):
            self._ex.update_parameters(**self._pack_parameters(len(packs[0])))
            for lo in range(0, len(packs), size):  # every index < MaxArraySize
                chunk = packs[lo:lo + size]
                try:
                    jobs = retry(functools.partial(self._sbatch, chunk), budget,
                                 "sbatch", sleep=self._sleep, clock=self._clock)
                except Exception as exc:  # sbatch's message is what the user needs
                    if ids:  # all or nothing: the caller records every task of the batch
                        self._cancel(ids)
                    n = sum(len(p) for p in chunk)
                    raise SubmitError(f"sbatch refused {n} tasks ({name}): "
                                      f"{type(exc).__name__}: {str(exc).strip()[-1500:]}"
                                      ) from exc
                for job, pack in zip(jobs, chunk):
                    ids += [str(job.job_id)] * len(pack)
                self._since += len(jobs)
        for jid in ids:
            self._cache[jid] = JobInfo(JobState.PENDING, detail="submitted")
        self._backoff.news()
        return ids

    def _sbatch(self, packs: list[list[str]]) -> list[Any]:
        """One array: a task per pack (:func:`evaluators.pack.run_pack`), or per task file
        (:func:`evaluators.worker.run_task`) without packing."""
        self._ncalls["sbatch"] += 1
        if self.pack == 1:
            from evaluators.worker import run_task

            return list(self._ex.map_array(run_task, [p[0] for p in packs]))
        from evaluators.pack import run_pack

        limit = float(self.options.time_limit_s)
        return list(self._ex.map_array(run_pack, packs, [limit] * len(packs)))

    # -- poll -----------------------------------------------------------------------------------
    def _poll(self, job_ids: list[str]) -> dict[str, JobInfo]:
        asked = frozenset(job_ids)
        if asked != self._asked:  # a result came (the caller asks no more) or a new job
            self._asked = asked
            self._backoff.news()
        self._query_if_due()
        out = {}
        for jid in job_ids:
            out[jid] = self._final.get(jid) or self._cache.get(jid) or JobInfo(JobState.UNKNOWN)
        return out

    def _query_if_due(self, force: bool = False) -> None:
        """One query (module docstring) if the back-off interval has passed."""
        if self._backoff.base != self.options.poll_interval_s:  # options replaced
            self._backoff = PollBackoff(self.options.poll_interval_s, backoff_cap(
                self.options.poll_interval_s, self.options.slurm.max_poll_interval_s))
        open_ids = [j for j in self._asked if j not in self._final]
        wants_count = self._limits is not None and self._limits.max_submit_jobs is not None
        now = self._clock()
        if not (open_ids or wants_count) or (
                not force and now - self._last_query < self._backoff.interval):
            return
        self._last_query = now
        queued = self._queued
        found = self._query(open_ids)
        news = queued != self._queued  # a job left the queue (or entered it)
        for jid, info in found.items():
            old = self._cache.get(jid)
            if old is None or (old.state, old.started_at) != (info.state, info.started_at):
                news = True
            self._cache[jid] = info
        self._backoff.news() if news else self._backoff.quiet()

    def _query(self, job_ids: list[str]) -> dict[str, JobInfo]:
        queue = self._squeue()
        if queue is None:  # no answer: no news, nothing lost
            return {}
        self._queued, self._since = queue[1], 0
        found = {j: queue[0][j] for j in job_ids if j in queue[0]}
        gone = [j for j in job_ids if j not in queue[0]]
        if gone:  # sacct only for the jobs that left the queue
            arrays = sorted({j.split("_", 1)[0] for j in gone}, key=int)
            found.update(self._sacct(arrays, set(gone)))
        for jid, info in found.items():
            if info.state.is_finished():
                if info.state != JobState.COMPLETED:
                    info = JobInfo(info.state, info.started_at, info.exit_code,
                                   (info.detail + "\n" + self._log_tail(jid)).strip())
                found[jid] = self._final[jid] = info
        return found

    def _run(self, cmd: list[str]) -> subprocess.CompletedProcess[str]:
        self._ncalls[cmd[0]] = self._ncalls.get(cmd[0], 0) + 1
        try:
            return subprocess.run(cmd, capture_output=True, text=True, timeout=60, check=False)
        except subprocess.TimeoutExpired:
            return subprocess.CompletedProcess(cmd, -1, "", f"{cmd[0]} timed out after 60 s")
        except OSError as exc:
            return subprocess.CompletedProcess(cmd, 127, "", f"{cmd[0]}: {exc}")

    def _run_retrying(self, cmd: list[str], budget_s: float) -> subprocess.CompletedProcess[str]:
        """``_run(cmd)``, again with back-off while it fails transiently (up to ``budget_s``)."""
        def once() -> subprocess.CompletedProcess[str]:
            res = self._run(cmd)
            if res.returncode != 0 and is_transient(res.stderr):
                raise _Transient(res.stderr.strip())
            return res
        try:
            return retry(once, budget_s, cmd[0], lambda e: isinstance(e, _Transient),
                         sleep=self._sleep, clock=self._clock)
        except _Transient as exc:
            return subprocess.CompletedProcess(cmd, 1, "", str(exc))

    def _sacct(self, arrays: list[str], wanted: set[str]) -> dict[str, JobInfo]:
        """One sacct call; steps included so an oom-killed step marks its job OUT_OF_MEMORY."""
        res = self._run(["sacct", "-j", ",".join(arrays), "-n", "-P", "-D", "-o", SACCT_FIELDS])
        if res.returncode != 0:
            log.warning("sacct failed (%s): asked again at the next poll", res.stderr.strip())
            return {}
        return parse_sacct(res.stdout, wanted)

    def _squeue(self) -> tuple[dict[str, JobInfo], int] | None:
        """Every queued job of the user, one line per array task: (states, how many); None
        when squeue fails."""
        res = self._run(["squeue", "-h", "-r", "-u", self._user, "-o", SQUEUE_FORMAT])
        if res.returncode != 0:
            log.warning("squeue failed (%s): no news this poll", res.stderr.strip()[-300:])
            return None
        return parse_squeue(res.stdout)

    # -- cancel ---------------------------------------------------------------------------------
    def _cancel(self, job_ids: list[str]) -> None:
        budget = min(float(self.options.slurm.scheduler_retry_s), 60.0)
        res = self._run_retrying(["scancel", *compress_ids(job_ids)], budget)
        if res.returncode != 0:
            log.info("scancel: %s", res.stderr.strip()[-500:])  # e.g. already completed
        for jid in job_ids:
            self._cache.pop(jid, None)
        self._last_query = -math.inf  # the next poll asks again
        self._backoff.news()

    @property
    def calls(self) -> Mapping[str, int]:
        """How many times sacct/squeue/scancel/sbatch... were run (for tests and benchmarks)."""
        return dict(self._ncalls)
