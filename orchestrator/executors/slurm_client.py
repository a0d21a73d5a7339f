"""The SLURM executor's manners towards the scheduler: limits, transient errors, poll back-off.

Limits
    :func:`read_limits` reads, once per executor (at the start of a run and on resume),
    ``MaxArraySize`` from ``scontrol show config`` and the user's ``MaxSubmitJobs`` /
    ``MaxJobs`` from the association and the QOS (``sacctmgr -n -P show assoc`` / ``show qos``).
    ``executor.slurm.max_array_size`` / ``max_submit_jobs`` replace what was read. An array has
    at most ``max_array_size`` tasks (indices ``0 .. max_array_size - 1``: SLURM caps the
    index, not the count); the executor's :meth:`capacity` keeps pending + running jobs of the
    user within ``max_submit_jobs``.

Transient errors
    :func:`is_transient` recognises what slurmctld/slurmdbd say when they are overloaded or
    restarting ("Socket timed out", "Resource temporarily unavailable", "Unable to contact slurm
    controller", connection refused, ...). :func:`retry` repeats such a call with exponential
    back-off (1 s, 2 s, 4 s ... at most 30 s apart) for up to ``executor.slurm.scheduler_retry_s``.

Back-off
    :class:`PollBackoff`: the interval between two scheduler queries grows x1.5 while nothing
    changes, up to a cap (:func:`backoff_cap`), and snaps back to ``poll_interval_s`` on news.
"""

from __future__ import annotations

import logging
import re
import subprocess
import time
from dataclasses import dataclass
from typing import Any, Callable, Iterable, TypeVar

__all__ = ["DEFAULT_MAX_ARRAY_SIZE", "PollBackoff", "SchedulerLimits", "backoff_cap",
           "compress_ids", "expand_indices", "is_transient", "pack_problem", "parse_assoc",
           "parse_qos",
           "read_limits", "retry"]

log = logging.getLogger("simtune.executor.slurm")

T = TypeVar("T")
Run = Callable[[list[str]], "subprocess.CompletedProcess[str]"]

#: used when ``scontrol show config`` cannot be read: the value of many university clusters
DEFAULT_MAX_ARRAY_SIZE = 1001

_TRANSIENT = re.compile(
    r"socket timed out|timed out after|resource temporarily unavailable|"
    r"unable to contact slurm controller|connection refused|connect failure|"
    r"slurm controller not responding|slurmctld.{0,40}(restart|not responding|down)|"
    r"temporarily unable to accept|zero bytes were transmitted|communication connection failure|"
    r"transport endpoint is not connected|slurm backup controller in standby|"
    r"problem talking to the database|slurmdbd.{0,20}not responding|try again",
    re.IGNORECASE)


def is_transient(text: str) -> bool:
    """Whether a scheduler command's message says "try again later" (not "never").

    Parameters
    ----------
    text
        The command's stderr, or an exception's message.

    Returns
    -------
    bool
        True for time-outs, an unreachable or restarting controller or database.
    """
    return bool(_TRANSIENT.search(text or ""))


def retry(call: Callable[[], T], budget_s: float, what: str,
          transient: Callable[[BaseException], bool] = lambda e: is_transient(str(e)),
          sleep: Callable[[float], None] = time.sleep,
          clock: Callable[[], float] = time.monotonic) -> T:
    """``call()``, repeated with exponential back-off while it raises a transient error.

    Parameters
    ----------
    call
        What to do; its exception is re-raised when it is not transient or the budget is spent.
    budget_s
        How long to keep trying, from the first attempt.
    what
        Named in the log ("sbatch").
    transient
        Which exceptions are worth another attempt.
    sleep, clock
        For tests.

    Returns
    -------
    T
        What ``call`` returned.
    """
    start = clock()
    delay = 1.0
    attempt = 1
    while True:
        try:
            return call()
        except Exception as exc:
            left = budget_s - (clock() - start)
            if not transient(exc) or left <= 0:
                raise
            wait = min(delay, left, 30.0)
            log.warning("%s: transient scheduler error (attempt %d, again in %.0f s, %.0f s "
                        "left): %s", what, attempt, wait, left, str(exc).strip()[-300:])
            sleep(wait)
            delay *= 2.0
            attempt += 1


class PollBackoff:
    """The interval between scheduler queries: x``factor`` while quiet, ``base`` on news.

    Parameters
    ----------
    base
        The shortest interval (``executor.poll_interval_s``).
    cap
        The longest (:func:`backoff_cap`).
    factor
        Growth per quiet query.
    """

    def __init__(self, base: float, cap: float, factor: float = 1.5) -> None:
        self.base = float(base)
        self.cap = max(float(cap), self.base)
        self.factor = float(factor)
        self.interval = self.base

    def quiet(self) -> None:
        """Nothing changed since the last query: wait longer before the next one."""
        self.interval = min(self.cap, self.interval * self.factor)

    def news(self) -> None:
        """Something changed (a state, a result, a submission): ask again soon."""
        self.interval = self.base


def backoff_cap(poll_interval_s: float, configured: float | None) -> float:
    """The longest poll interval: ``configured``, else 10 x ``poll_interval_s``, at most 60 s
    (and never below ``poll_interval_s``)."""
    if configured is not None:
        return max(float(configured), float(poll_interval_s))
    return max(min(60.0, 10.0 * float(poll_interval_s)), float(poll_interval_s))


@dataclass(frozen=True)
class SchedulerLimits:
    """What the cluster allows this user, as the executor applies it."""

    max_array_size: int  # tasks per array: indices 0 .. max_array_size - 1
    max_submit_jobs: int | None  # pending + running jobs of the user (None: no limit)
    max_jobs: int | None  # running jobs of the user (informational: SLURM keeps the rest pending)
    source: str = ""


def _int(text: str) -> int | None:
    text = text.strip()
    return int(text) if text.isdigit() else None


def _min(values: Iterable[int | None]) -> int | None:
    got = [v for v in values if v is not None]
    return min(got) if got else None


def parse_max_array_size(text: str) -> int | None:
    """``MaxArraySize = 1001`` in ``scontrol show config`` -> 1001."""
    m = re.search(r"^\s*MaxArraySize\s*=\s*(\d+)", text, re.MULTILINE)
    return int(m.group(1)) if m else None


def parse_assoc(text: str, account: str | None) -> tuple[int | None, int | None, list[str],
                                                          str | None]:
    """``sacctmgr -n -P show assoc user=U format=Account,MaxSubmit,MaxJobs,QOS,DefaultQOS``.

    Returns
    -------
    tuple
        (MaxSubmit, MaxJobs, the QOS names allowed, the default QOS): the smallest limits over
        the user's associations (those of ``account`` only, when it is given).
    """
    submit: list[int | None] = []
    jobs: list[int | None] = []
    qos: list[str] = []
    default: str | None = None
    for line in text.splitlines():
        parts = line.split("|")
        if len(parts) < 5 or (account and parts[0].strip() != account):
            continue
        submit.append(_int(parts[1]))
        jobs.append(_int(parts[2]))
        qos += [q for q in parts[3].strip().split(",") if q and q not in qos]
        default = default or (parts[4].strip() or None)
    return _min(submit), _min(jobs), qos, default


def parse_qos(text: str, name: str) -> tuple[int | None, int | None]:
    """``sacctmgr -n -P show qos format=Name,MaxSubmitPU,MaxJobsPU,MaxSubmitPA,MaxJobsPA``:
    the (submit, running) limits of QOS ``name``, per user or per account, whichever is lower."""
    for line in text.splitlines():
        parts = line.split("|")
        if len(parts) >= 5 and parts[0].strip() == name:
            return _min([_int(parts[1]), _int(parts[3])]), _min([_int(parts[2]), _int(parts[4])])
    return None, None


def _choose_qos(options: Any, allowed: list[str], default: str | None) -> str | None:
    extra = options.slurm.additional_parameters or {}
    if extra.get("qos"):
        return str(extra["qos"])
    if default:
        return default
    if "normal" in allowed or not allowed:
        return "normal"
    return allowed[0]


def read_limits(run: Run, options: Any, user: str) -> SchedulerLimits:
    """The limits the executor applies (module docstring); one ``scontrol`` and two
    ``sacctmgr`` calls. What cannot be read is taken as unlimited, except ``MaxArraySize``
    (:data:`DEFAULT_MAX_ARRAY_SIZE`).

    Parameters
    ----------
    run
        Runs a command, returns its CompletedProcess (the executor's ``_run``).
    options
        The config's ``executor`` section.
    user
        Whose associations count.
    """
    sl = options.slurm
    notes = []
    size: int | None = sl.max_array_size
    if size is None:
        res = run(["scontrol", "show", "config"])
        size = parse_max_array_size(res.stdout) if res.returncode == 0 else None
        notes.append(f"MaxArraySize={size}" if size is not None else
                     f"MaxArraySize unknown ({res.stderr.strip()[-200:]}): "
                     f"{DEFAULT_MAX_ARRAY_SIZE}")
        size = size or DEFAULT_MAX_ARRAY_SIZE
    else:
        notes.append(f"max_array_size={size} (config)")
    res = run(["sacctmgr", "-n", "-P", "show", "assoc", f"user={user}",
               "format=Account,MaxSubmit,MaxJobs,QOS,DefaultQOS"])
    a_submit, a_jobs, allowed, default = (parse_assoc(res.stdout, sl.account)
                                          if res.returncode == 0 else (None, None, [], None))
    qos = _choose_qos(options, allowed, default)
    q_submit = q_jobs = None
    if res.returncode == 0 and qos:
        res = run(["sacctmgr", "-n", "-P", "show", "qos",
                   "format=Name,MaxSubmitPU,MaxJobsPU,MaxSubmitPA,MaxJobsPA"])
        if res.returncode == 0:
            q_submit, q_jobs = parse_qos(res.stdout, qos)
    if res.returncode != 0:
        notes.append(f"sacctmgr failed ({res.stderr.strip()[-200:]})")
    submit = _min([a_submit, q_submit])
    notes.append(f"MaxSubmitJobs={submit} (association {a_submit}, QOS {qos} {q_submit})")
    if sl.max_submit_jobs is not None:
        submit = int(sl.max_submit_jobs)
        notes.append(f"max_submit_jobs={submit} (config)")
    limits = SchedulerLimits(max(2, int(size)), submit, _min([a_jobs, q_jobs]), "; ".join(notes))
    log.info("slurm limits: %s", limits.source)
    return limits


def expand_indices(spec: str) -> list[int]:
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


def compress_ids(job_ids: Iterable[str]) -> list[str]:
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


def pack_problem(run: Run, options: Any) -> str | None:
    """Why ``executor.pack`` cannot work on this cluster, or None: a packed array task asks for
    ``pack x slurm.cpus_per_task`` CPUs, which must fit on one node of the partition (sbatch
    would refuse every array: "CPU count per node can not be satisfied"). One ``sinfo`` call;
    None too when it cannot be read (sbatch then says what is wrong)."""
    pack, cpus = int(options.pack), int(options.slurm.cpus_per_task)
    if pack <= 1:
        return None
    part = options.slurm.partition
    cmd = ["sinfo", "-h", "-o", "%c"] + (["-p", str(part)] if part else [])
    try:
        res = run(cmd)
    except OSError:
        return None
    sizes = [int(m) for m in re.findall(r"\d+", res.stdout)] if res.returncode == 0 else []
    if not sizes or pack * cpus <= max(sizes):
        return None
    most = max(sizes)
    where = f"partition {part!r}" if part else "the default partition"
    return (f"executor.pack: expected at most {max(most // cpus, 1)} ({pack} x "
            f"slurm.cpus_per_task {cpus} = {pack * cpus} CPUs per array task must fit on one "
            f"node; the largest node of {where} has {most}), found {pack}")
