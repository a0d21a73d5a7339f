"""SLURM's text -> :class:`~orchestrator.executors.JobState`: state strings, job ids, and the
output of the ``sacct`` and ``squeue`` calls the SLURM executor makes (docs/slurm.md, "States")."""

from __future__ import annotations

import re
from datetime import datetime

from orchestrator.executors._base import JobInfo, JobState
from orchestrator.executors.slurm_client import expand_indices

__all__ = ["SACCT_FIELDS", "SQUEUE_FORMAT", "epoch", "exit_code", "map_state", "parse_job_ids",
           "parse_sacct", "parse_squeue"]

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

SACCT_FIELDS = "JobID,State,Start,ExitCode,Elapsed,NodeList"
_ARRAY_ID = re.compile(r"^(\d+)_(\d+|\[[^\]]*\])(?:\.(.+))?$")
_PLAIN_ID = re.compile(r"^(\d+)(?:\.(.+))?$")
SQUEUE_FORMAT = "%i|%T|%S|%r"


def map_state(raw: str) -> JobState:
    """Map one SLURM state string (``"CANCELLED by 0"``, ``"RUNNING"``, ``"PD"``...) to JobState."""
    word = raw.strip().split(" ", 1)[0].rstrip("+").upper()
    return _STATES.get(word, JobState.UNKNOWN)


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
            return [f"{base}_{i}" for i in expand_indices(idx)], step
        return [f"{base}_{idx}"], step
    m = _PLAIN_ID.match(field)
    if m:
        return [m.group(1)], m.group(2)
    return [], None


def epoch(stamp: str) -> float | None:
    """sacct/squeue local time ``2026-11-22T03:38:44`` -> epoch seconds (None if Unknown/N/A)."""
    try:
        return datetime.strptime(stamp.strip(), "%Y-%m-%dT%H:%M:%S").timestamp()
    except ValueError:
        return None


def exit_code(text: str) -> int | None:
    """``"1:0"`` -> 1; ``"0:9"`` (killed by signal 9) -> 137, the shell convention."""
    code, _, sig = text.strip().partition(":")
    try:
        c, s = int(code), int(sig or 0)
    except ValueError:
        return None
    return 128 + s if s and not c else c


def parse_sacct(stdout: str, wanted: set[str]) -> dict[str, JobInfo]:
    """``sacct -n -P -D -o SACCT_FIELDS`` output -> the states of the ``wanted`` job ids it
    knows (steps included: an oom-killed step marks its job OUT_OF_MEMORY)."""
    jobs: dict[str, JobInfo] = {}
    oom_steps: dict[str, str] = {}
    bases = {j.split("_", 1)[0] for j in wanted if "_" in j}
    whole: dict[str, JobInfo] = {}
    for line in stdout.splitlines():
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
                whole[ids[0]] = JobInfo(state, None, exit_code(code),
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
        info = JobInfo(state, None if never_ran else epoch(start), exit_code(code),
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


def parse_squeue(stdout: str) -> tuple[dict[str, JobInfo], int]:
    """``squeue -h -r -o SQUEUE_FORMAT`` output -> (the state of every job id, how many jobs
    are queued: one per line, an array task counts as a job)."""
    count = 0
    out: dict[str, JobInfo] = {}
    for line in stdout.splitlines():
        parts = line.split("|")
        if len(parts) < 4:
            continue
        ids, _ = parse_job_ids(parts[0])
        count += len(ids)
        state = map_state(parts[1])
        start = epoch(parts[2]) if state == JobState.RUNNING else None
        for jid in ids:
            out[jid] = JobInfo(state, start, None, f"squeue: {parts[1]} ({parts[3]})")
    return out, count
