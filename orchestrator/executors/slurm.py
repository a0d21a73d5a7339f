"""SLURM executor: one job array per generation through submitit, states from one ``sacct`` call.

Submission
    :meth:`SlurmExecutor._submit` sends the generation's task files as ONE job array
    (``submitit`` ``map_array`` of :func:`evaluators.worker.run_task`); each array task runs
    it once in the batch step (no ``srun`` wrapper: an MPI simulator started by the ``command``
    evaluator with ``srun`` gets the whole allocation). Job ids are ``"<array>_<index>"`` in task
    order. Nothing from ``orchestrator`` is imported on the nodes (its ``__init__`` pulls pandas:
    +0.4 s per evaluation).

Polling
    :meth:`SlurmExecutor._poll` asks ``sacct`` once for every open array (steps included: an
    oom-kill inside an ``srun`` step leaves the job FAILED but the step OUT_OF_MEMORY), maps
    SLURM's strings once (:func:`map_state`), falls back to ``squeue`` for tasks ``sacct`` still
    shows PENDING or does not know yet (slurmdbd lags slurmctld), caches finished states forever
    and the whole answer for ``poll_interval_s``.

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

import logging
import math
import re
import shlex
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path
from typing import Any, Iterable, Mapping

import submitit

from orchestrator.executors._base import Executor, JobInfo, JobState

__all__ = ["SlurmExecutor", "SubmitError", "map_state", "parse_job_ids"]

log = logging.getLogger("simtune.executor.slurm")

#: SLURM state (first word, as sacct/squeue print it) -> JobState; anything else is UNKNOWN
_STATES: dict[str, JobState] = {
    "PENDING": JobState.PENDING,
    "REQUEUED": JobState.PENDING,  # requeued (e.g. preempted with PreemptMode=REQUEUE): waits again
    "REQUEUE_HOLD": JobState.PENDING,
    "REQUEUE_FED": JobState.PENDING,
    "RESV_DEL_HOLD": JobState.PENDING,
    "CONFIGURING": JobState.RUNNING,
    "RUNNING": JobState.RUNNING,
    "COMPLETING": JobState.RUNNING,  # squeue only: ended, final state not yet in sacct
    "RESIZING": JobState.RUNNING,
    "SIGNALING": JobState.RUNNING,
    "STAGE_OUT": JobState.RUNNING,
    "SUSPENDED": JobState.RUNNING,
    "STOPPED": JobState.RUNNING,
    "COMPLETED": JobState.COMPLETED,
    "FAILED": JobState.FAILED,
    "SPECIAL_EXIT": JobState.FAILED,
    "TIMEOUT": JobState.TIMEOUT,
    "DEADLINE": JobState.TIMEOUT,
    "OUT_OF_MEMORY": JobState.OUT_OF_MEMORY,
    "CANCELLED": JobState.CANCELLED,  # sacct writes "CANCELLED by <uid>"
    "REVOKED": JobState.CANCELLED,
    "NODE_FAIL": JobState.NODE_FAIL,
    "BOOT_FAIL": JobState.NODE_FAIL,
    "PREEMPTED": JobState.PREEMPTED,
}

_SACCT_FIELDS = "JobID,State,Start,ExitCode,Elapsed,NodeList"
_ARRAY_ID = re.compile(r"^(\d+)_(\d+|\[[^\]]*\])(?:\.(.+))?$")
_PLAIN_ID = re.compile(r"^(\d+)(?:\.(.+))?$")


class SubmitError(RuntimeError):
    """The scheduler refused a submission (``sbatch`` error); the controller records
    ``submit_failed``."""


def map_state(raw: str) -> JobState:
    """Map one SLURM state string (``"CANCELLED by 0"``, ``"RUNNING"``, ``"PD"``...) to JobState."""
    word = raw.strip().split(" ", 1)[0].rstrip("+").upper()
    return _STATES.get(word, JobState.UNKNOWN)


def _expand_indices(spec: str) -> list[int]:
    """``"[3-7,9%2]"`` -> [3, 4, 5, 6, 7, 9] (the ``%N`` throttle is dropped)."""
    spec = spec.strip("[]").split("%", 1)[0]
    out: list[int] = []
    for part in filter(None, spec.split(",")):
        lo, _, hi = part.partition("-")
        step = 1
        if ":" in hi:
            hi, _, s = hi.partition(":")
            step = int(s)
        out.extend(range(int(lo), int(hi or lo) + 1, step))
    return out


def parse_job_ids(field: str) -> tuple[list[str], str | None]:
    """Split a sacct/squeue JobID into the job ids it stands for and the step name.

    ``"1234_5"`` -> (["1234_5"], None); ``"1234_[3-5]"`` -> (["1234_3", "1234_4", "1234_5"],
    None); ``"1234_5.batch"`` -> (["1234_5"], "batch"); ``"77"`` -> (["77"], None).
    """
    field = field.strip()
    m = _ARRAY_ID.match(field)
    if m:
        base, idx, step = m.groups()
        if idx.startswith("["):
            return [f"{base}_{i}" for i in _expand_indices(idx)], step
        return [f"{base}_{idx}"], step
    m = _PLAIN_ID.match(field)
    if m:
        return [m.group(1)], m.group(2)
    return [], None


def _epoch(stamp: str) -> float | None:
    """sacct/squeue local time ``2026-11-22T03:38:44`` -> epoch seconds (None if Unknown/N/A)."""
    try:
        return datetime.strptime(stamp.strip(), "%Y-%m-%dT%H:%M:%S").timestamp()
    except ValueError:
        return None


def _exit_code(text: str) -> int | None:
    """``"1:0"`` -> 1; ``"0:9"`` (killed by signal 9) -> 137, the shell convention."""
    code, _, sig = text.strip().partition(":")
    try:
        c, s = int(code), int(sig or 0)
    except ValueError:
        return None
    return 128 + s if s and not c else c


def _compress(job_ids: Iterable[str]) -> list[str]:
    """["12_0", "12_1", "12_2", "13"] -> ["12_[0-2]", "13"]: short scancel command lines."""
    arrays: dict[str, list[int]] = {}
    plain: list[str] = []
    for jid in job_ids:
        base, sep, idx = jid.partition("_")
        if sep and idx.isdigit():
            arrays.setdefault(base, []).append(int(idx))
        else:
            plain.append(jid)
    out = []
    for base, idxs in arrays.items():
        idxs = sorted(set(idxs))
        runs: list[str] = []
        start = prev = idxs[0]
        for i in idxs[1:] + [None]:  # type: ignore[list-item]
            if i is not None and i == prev + 1:
                prev = i
                continue
            runs.append(str(start) if start == prev else f"{start}-{prev}")
            if i is not None:
                start = prev = i
        out.append(f"{base}_[{','.join(runs)}]")
    return out + plain


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
        self._ex.update_parameters(**self._parameters(options))
        self._final: dict[str, JobInfo] = {}  # finished states never change
        self._cache: dict[str, JobInfo] = {}
        self._last_query = -math.inf
        self._ncalls = {"sacct": 0, "squeue": 0}

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
        params: dict[str, Any] = {
            "time": max(1, math.ceil(float(options.time_limit_s) / 60.0)),
            "nodes": int(sl.nodes),
            "ntasks_per_node": int(sl.tasks_per_node),
            "cpus_per_task": int(sl.cpus_per_task),
            "setup": setup,
            "use_srun": False,
            # no limit of simtune's own: submitit's own default would throttle to 256
            "array_parallelism": int(options.parallel_limit() or 100_000),
            "additional_parameters": extra,
        }
        if sl.partition:
            params["partition"] = sl.partition
        if sl.account:
            params["account"] = sl.account
        if sl.mem_gb is not None:
            params["mem"] = f"{max(1, math.ceil(float(sl.mem_gb) * 1024))}M"
        if sl.gres:
            params["gres"] = sl.gres
        return params

    # -- submit ---------------------------------------------------------------------------------
    def _submit(self, task_paths: list[Path], label: str) -> list[str]:
        from evaluators.worker import run_task

        name = re.sub(r"[^A-Za-z0-9_.+-]", "_", label or "simtune")[:64] or "simtune"
        self._ex.update_parameters(job_name=name)
        try:
            jobs = self._ex.map_array(run_task, [str(p) for p in task_paths])
        except Exception as exc:  # sbatch's message is what the user needs
            raise SubmitError(f"sbatch refused {len(task_paths)} tasks ({name}): "
                              f"{type(exc).__name__}: {str(exc).strip()[-1500:]}") from exc
        ids = [str(j.job_id) for j in jobs]
        for jid in ids:
            self._cache[jid] = JobInfo(JobState.PENDING, detail="submitted")
        return ids

    # -- poll -----------------------------------------------------------------------------------
    def _poll(self, job_ids: list[str]) -> dict[str, JobInfo]:
        open_ids = [j for j in job_ids if j not in self._final]
        now = time.monotonic()
        if open_ids and now - self._last_query >= self.options.poll_interval_s:
            self._last_query = now
            self._cache.update(self._query(open_ids))
        out = {}
        for jid in job_ids:
            out[jid] = self._final.get(jid) or self._cache.get(jid) or JobInfo(JobState.UNKNOWN)
        return out

    def _query(self, job_ids: list[str]) -> dict[str, JobInfo]:
        arrays = sorted({j.split("_", 1)[0] for j in job_ids}, key=int)
        wanted = set(job_ids)
        found = self._sacct(arrays, wanted)
        lagging = [j for j in job_ids if j not in found or found[j].state == JobState.PENDING]
        if lagging:  # sacct lags slurmctld: a started or just submitted job may be missing
            for jid, info in self._squeue(lagging).items():
                old = found.get(jid)
                if old is None or info.state != JobState.PENDING or old.started_at is None:
                    found[jid] = info
        for jid, info in found.items():
            if info.state.is_finished():
                if info.state != JobState.COMPLETED:
                    info = JobInfo(info.state, info.started_at, info.exit_code,
                                   (info.detail + "\n" + self._log_tail(jid)).strip())
                found[jid] = self._final[jid] = info
        return found

    def _run(self, cmd: list[str]) -> subprocess.CompletedProcess[str] | None:
        self._ncalls[cmd[0]] = self._ncalls.get(cmd[0], 0) + 1
        try:
            return subprocess.run(cmd, capture_output=True, text=True, timeout=60, check=False)
        except (OSError, subprocess.TimeoutExpired) as exc:
            log.warning("%s failed: %s", cmd[0], exc)
            return None

    def _sacct(self, arrays: list[str], wanted: set[str]) -> dict[str, JobInfo]:
        """One sacct call; steps included so an oom-killed step marks its job OUT_OF_MEMORY."""
        res = self._run(["sacct", "-j", ",".join(arrays), "-n", "-P", "-D", "-o", _SACCT_FIELDS])
        if res is None or res.returncode != 0:
            log.warning("sacct failed (%s); falling back to squeue",
                        res.stderr.strip() if res is not None else "not run")
            return {}
        jobs: dict[str, JobInfo] = {}
        oom_steps: dict[str, str] = {}
        bases = {j.split("_", 1)[0] for j in wanted if "_" in j}
        whole: dict[str, JobInfo] = {}
        for line in res.stdout.splitlines():
            parts = line.split("|")
            if len(parts) < 6:
                continue
            jid_field, raw, start, code, elapsed, nodes = parts[:6]
            # a job that never ran (cancelled while pending) has Start = cancel time: drop it
            never_ran = nodes.strip() in ("", "None assigned")
            ids, step = parse_job_ids(jid_field)
            state = map_state(raw)
            if step is None and ids and ids[0] in bases:
                # the array's own record "1234". SLURM folds tasks that never got their own
                # record (a pending array cancelled as a whole) into it: then it speaks for
                # them. But it is also the record of the array's last task, which can show up
                # under the plain id before slurmdbd knows its task index: a task that RAN
                # must never lend its state to the others (they are asked again next poll)
                if never_ran:
                    whole[ids[0]] = JobInfo(state, None, _exit_code(code),
                                            f"sacct: {raw} (whole array, never ran)")
                continue
            ids = [j for j in ids if j in wanted]
            if not ids:
                continue
            if step is not None:
                if state == JobState.OUT_OF_MEMORY:
                    for jid in ids:
                        oom_steps[jid] = step
                continue
            # with -D a requeued job has several records, oldest first: the last one wins
            info = JobInfo(state, None if never_ran else _epoch(start), _exit_code(code),
                           f"sacct: {raw} exit {code} elapsed {elapsed}")
            for jid in ids:
                jobs[jid] = info
        for jid in wanted:
            if jid not in jobs and jid.split("_", 1)[0] in whole:
                jobs[jid] = whole[jid.split("_", 1)[0]]
        for jid, step in oom_steps.items():
            known = jobs.get(jid)
            if known is not None and known.state.is_finished():
                jobs[jid] = JobInfo(JobState.OUT_OF_MEMORY, known.started_at, known.exit_code,
                                    f"{known.detail}; step {step}: OUT_OF_MEMORY")
        return jobs

    def _squeue(self, job_ids: list[str]) -> dict[str, JobInfo]:
        arrays = sorted({j.split("_", 1)[0] for j in job_ids}, key=int)
        res = self._run(["squeue", "-h", "-r", "-j", ",".join(arrays), "-o", "%i|%T|%S|%r"])
        if res is None:  # a purged id makes squeue exit 1, but it prints the others
            return {}
        wanted = set(job_ids)
        out: dict[str, JobInfo] = {}
        for line in res.stdout.splitlines():
            parts = line.split("|")
            if len(parts) < 4:
                continue
            ids, _ = parse_job_ids(parts[0])
            state = map_state(parts[1])
            start = _epoch(parts[2]) if state == JobState.RUNNING else None
            for jid in ids:
                if jid in wanted:
                    out[jid] = JobInfo(state, start, None, f"squeue: {parts[1]} ({parts[3]})")
        return out

    # -- cancel ---------------------------------------------------------------------------------
    def _cancel(self, job_ids: list[str]) -> None:
        res = self._run(["scancel", *_compress(job_ids)])
        if res is not None and res.returncode != 0:
            log.info("scancel: %s", res.stderr.strip()[-500:])  # e.g. already completed
        for jid in job_ids:
            self._cache.pop(jid, None)
        self._last_query = -math.inf  # the next poll asks again

    @property
    def calls(self) -> Mapping[str, int]:
        """How many times sacct/squeue/scancel were run (for tests and benchmarks)."""
        return dict(self._ncalls)
