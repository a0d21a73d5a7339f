"""Several evaluations in one job: :func:`run_pack`, the entry point of a packed array task.

With ``executor.pack: K`` one SLURM array task runs K evaluations **side by side**: the task asks
for ``K x cpus_per_task`` CPUs (and ``K x mem_gb``), and :func:`run_pack` starts one child process
per evaluation at once, each running :func:`evaluators.evaluate.run_task` exactly as an unpacked
job would. All K start together, so an evaluation's start is its job's start and the job
watcher's generation timeout means the same as without packing. What packing saves is the
scheduler's work and queue time: one job (one ``sbatch`` array index, one line of ``squeue``,
one entry against ``MaxSubmitJobs``) per K evaluations.

Each evaluation keeps everything of its own
    its directory, task and result file, inbox marker, log and failure reason. A child is forked
    (the interpreter and simtune's modules are already loaded: no per-evaluation start-up) into
    its own process group, with its output in ``pack.log`` in its directory.

The time limit is each evaluation's, enforced here
    a child still running ``time_limit_s`` after it started is sent SIGTERM (the evaluation stops
    its simulator: :func:`evaluators.evaluate.run_task`), SIGKILL after :data:`KILL_GRACE_S`, and
    recorded ``timeout``; its pack partners run on. (The SLURM time limit of a packed task is
    ``time_limit_s + PACK_MARGIN_S``, so that this happens before SLURM kills the whole task.)

A child that dies without a result is recorded here, not left to the scheduler's state (which
is the whole task's): killed by SIGKILL while the job's memory cgroup counted an OOM kill ->
``out_of_memory``; any other death (signal, ``os._exit``) -> ``crashed`` with the exit status and
the end of its log. If the whole task is killed (scancel, node failure, preemption, SLURM's own
time limit), the evaluations without a result are classified by the job watcher from the task's
state, as for an unpacked job.
"""

from __future__ import annotations

import multiprocessing
import multiprocessing.connection
import os
import signal
import sys
import threading
import time
from pathlib import Path
from typing import Any, Mapping, Sequence

__all__ = ["KILL_GRACE_S", "PACK_MARGIN_S", "oom_kills", "run_pack"]

#: after SIGTERM, how long a child may take to stop its simulator before SIGKILL (the command
#: evaluator itself waits 5 + 5 s for the simulator's process group)
KILL_GRACE_S = 15.0
#: a packed task's SLURM time limit is the evaluations' limit plus this (room to record timeouts)
PACK_MARGIN_S = 30.0
LOG_FILE = "pack.log"


def run_pack(task_paths: Sequence[str | os.PathLike[str]], time_limit_s: float) -> list[str]:
    """Run the evaluations of ``task_paths`` side by side (module docstring); returns one line
    per evaluation (``"<task path>: ok | failed <reason> | no result"``) for submitit's log."""
    from simtune_core.userimport import demote_cwd

    demote_cwd()
    # loaded once here, inherited by every fork
    import evaluators.evaluate  # noqa: F401

    ctx = multiprocessing.get_context("fork")
    children: dict[Any, tuple[Path, Any, float]] = {}
    term_at: dict[Any, float] = {}
    stopping = [False]

    def _stop(signum: int, _frame: Any) -> None:  # the whole task is being killed
        stopping[0] = True
        for proc in list(children):
            _signal_group(proc.pid, signal.SIGTERM)

    main = threading.current_thread() is threading.main_thread()
    old = signal.signal(signal.SIGTERM, _stop) if main else None
    summary: dict[str, str] = {}
    try:
        for path in task_paths:
            before = oom_kills()
            proc = ctx.Process(target=_child, args=(str(path),), daemon=False)
            proc.start()
            children[proc] = (Path(path), before, time.time())
        while children:
            sentinels = [p.sentinel for p in children]
            multiprocessing.connection.wait(sentinels, timeout=0.5)
            now = time.time()
            for proc in [p for p in children if not p.is_alive()]:
                path, before, started = children.pop(proc)
                proc.join()
                timed_out = proc in term_at
                summary[str(path)] = _conclude(path, proc.exitcode, before, started, now,
                                               time_limit_s if timed_out else None, stopping[0])
            for proc, (_, _, started) in children.items():
                if proc not in term_at and now - started > time_limit_s:
                    term_at[proc] = now
                    _signal_group(proc.pid, signal.SIGTERM)
                elif proc in term_at and now - term_at[proc] > KILL_GRACE_S:
                    _signal_group(proc.pid, signal.SIGKILL)
    finally:
        if main:
            signal.signal(signal.SIGTERM, old)
    return [f"{p}: {summary.get(str(p), 'no result')}" for p in task_paths]


def _child(task_path: str) -> None:
    """A forked child: its own process group, its output in the evaluation's ``pack.log``."""
    signal.signal(signal.SIGTERM, signal.SIG_DFL)  # not the pack's handler
    os.setpgid(0, 0)
    try:  # sys.stdout/stderr write to fds 1 and 2 (multiprocessing flushed them before forking)
        fd = os.open(Path(task_path).parent / LOG_FILE, os.O_WRONLY | os.O_CREAT | os.O_APPEND,
                     0o640)
        os.dup2(fd, 1)
        os.dup2(fd, 2)
        os.close(fd)
    except OSError:
        pass  # output stays in the task's log
    from evaluators.evaluate import run_task

    run_task(task_path)
    sys.stdout.flush()
    sys.stderr.flush()


def _signal_group(pid: int | None, sig: int) -> None:
    if pid is None:
        return
    try:
        os.killpg(pid, sig)
    except (ProcessLookupError, PermissionError):
        try:
            os.kill(pid, sig)
        except (ProcessLookupError, PermissionError):
            pass


def _conclude(path: Path, exitcode: int | None, oom_before: int, started: float, now: float,
              timed_out_after: float | None, stopping: bool) -> str:
    """Record a child that ended: its own result if it wrote one, else a failed record."""
    from evaluators.evaluate import _job_id, _post
    from simtune_core.io import atomic_write_json, read_json, tail_text
    from simtune_core.record import RESULT_FILE, Reason, failed_record, read_result

    task: Mapping[str, Any] = read_json(path)
    own = read_result(task)
    if own is not None:
        return "ok" if own.ok else f"failed {own.reason}"
    if stopping and timed_out_after is None:
        return "no result"  # the scheduler killed the task: its state says why
    if timed_out_after is not None:
        reason, detail = Reason.TIMEOUT, (f"ran longer than time_limit_s={timed_out_after:g} s "
                                          "(stopped inside its packed job)")
    elif exitcode == -signal.SIGKILL and oom_kills() > oom_before:
        reason, detail = Reason.OUT_OF_MEMORY, ("killed by the kernel's OOM killer (the job's "
                                                "memory cgroup counted an OOM kill)")
    else:
        how = (f"signal {-exitcode}" if exitcode is not None and exitcode < 0
               else f"exit code {exitcode}")
        reason, detail = Reason.CRASHED, f"the evaluation's process died ({how}) without a result"
    tail = tail_text(path.parent / LOG_FILE, lines=15, limit=3000)
    if tail:
        detail += f"; last lines of {LOG_FILE}:\n{tail}"
    rec = failed_record(task, reason, detail)
    rec.started_at, rec.finished_at, rec.runtime_s = started, now, now - started
    rec.job_id = _job_id()
    atomic_write_json(path.parent / RESULT_FILE, rec.to_json())
    _post(task)
    return f"failed {reason.value}"


def oom_kills(proc_cgroup: Path = Path("/proc/self/cgroup"),
              sys_root: Path = Path("/sys/fs/cgroup")) -> int:
    """OOM kills counted by this process's memory cgroup and its ancestors up to the SLURM job's
    (``job_<id>``; only the process's own cgroup outside SLURM): ``oom_kill`` of
    ``memory.events`` (cgroup v2) or ``memory.oom_control`` (v1). 0 where none is readable."""
    try:
        lines = proc_cgroup.read_text().splitlines()
    except OSError:
        return 0
    where: tuple[Path, str, str] | None = None
    for line in lines:
        _, controllers, cg = line.split(":", 2)
        if "memory" in controllers.split(","):  # v1 (or hybrid): the memory hierarchy
            where = (sys_root / "memory", cg, "memory.oom_control")
            break
        if controllers == "" and (sys_root / "cgroup.controllers").exists():  # unified v2
            where = (sys_root, cg, "memory.events")
    if where is None:
        return 0
    root, rel, name = where
    parts = [p for p in rel.split("/") if p]
    job = next((i for i, p in enumerate(parts) if p.startswith("job_")), len(parts) - 1)
    total = 0
    for depth in range(len(parts), job, -1):
        try:
            text = (root.joinpath(*parts[:depth]) / name).read_text()
        except OSError:
            continue
        for row in text.splitlines():
            key, _, value = row.partition(" ")
            if key == "oom_kill" and value.strip().isdigit():
                total += int(value)
    return total
