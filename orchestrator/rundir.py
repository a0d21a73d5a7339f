"""The run directory: create it, open it, lock it, and where each file of a run lives.

Layout::

    RUN_DIR/run.json           name, config folder, versions (written once, at creation)
    RUN_DIR/config.yaml        the config as given
    RUN_DIR/checkpoint.pkl     after every generation (atomic; orchestrator.checkpoint)
    RUN_DIR/inflight.json      the evaluations in flight: points, job ids, start times
    RUN_DIR/inflight.log       changes to it since (orchestrator.checkpoint.InflightWriter)
    RUN_DIR/inbox/             a marker per finished evaluation, until the controller reads it
    RUN_DIR/results.jsonl      one row per evaluation (orchestrator.results.load_results)
    RUN_DIR/results.cache/     columnar cache of results.jsonl (rebuilt when missing or stale)
    RUN_DIR/generations.jsonl  one row per generation (sigma, best, failures by reason)
    RUN_DIR/simtune.log        the controller's log
    RUN_DIR/run.lock           held (flock) while a controller runs
    RUN_DIR/evals/gNNNN/iMMM/  task.json, result.json, the data store, the simulator's files
    RUN_DIR/jobs/              the executor's files (submitit logs)

:func:`create_run` and :func:`open_run` are the only ways in; the report, export, status and the
controller all open a run through :func:`open_run`.
"""

from __future__ import annotations

import fcntl
import os
import socket
import sys
import time
from pathlib import Path
from typing import Any

import yaml

from orchestrator.config import Config, config_from_dict
from simtune_core.io import atomic_write_json, atomic_write_text, read_json
from simtune_core.userimport import add_user_dir

__all__ = ["LOCK_FILE", "RUN_FILE", "Interrupted", "LockedError", "NotARunError",
           "RunExistsError", "RunFailed", "RunLock",
           "create_run", "eval_dir", "is_run", "lock_holder", "new_run_problem", "open_run",
           "read_meta", "remove_torn_writes", "write_meta"]

RUN_FILE = "run.json"
LOCK_FILE = "run.lock"
#: what a fresh run directory may already hold (a user's notes, a job's own log)
_HARMLESS = frozenset({".gitignore", ".DS_Store"})


class RunExistsError(Exception):
    """The run directory already holds a run."""


class NotARunError(FileNotFoundError):
    """The directory is not a simtune run directory."""


class LockedError(Exception):
    """Another controller holds the run directory."""


class Interrupted(Exception):
    """SIGTERM/SIGUSR1/SIGINT: the controller stopped; the run can be resumed."""


class RunFailed(Exception):
    """The run cannot go on as configured (its message says why); fix the cause and resume."""


def eval_dir(run_dir: Path, generation: int, individual: int) -> Path:
    """The directory of one evaluation (``evals/gNNNN/iMMM``)."""
    return Path(run_dir) / "evals" / f"g{generation:04d}" / f"i{individual:03d}"


def is_run(run_dir: Path) -> bool:
    return (Path(run_dir) / RUN_FILE).is_file()


def new_run_problem(run_dir: Path) -> str | None:
    """Why ``run_dir`` cannot hold a new run, as one line, or None (creates nothing)."""
    p = Path(run_dir).resolve()
    if is_run(p):
        return (f"run_dir: expected a new directory, found an existing run at {run_dir} "
                f"(use 'simtune resume {run_dir}')")
    if p.exists() and not p.is_dir():
        return f"run_dir: expected a directory, found a file at {run_dir}"
    if p.is_dir():
        others = sorted(e.name for e in p.iterdir() if e.name not in _HARMLESS)
        if others:
            shown = ", ".join(others[:3]) + (", ..." if len(others) > 3 else "")
            return (f"run_dir: expected a new or empty directory, found {len(others)} "
                    f"entries that are not a run in {run_dir} ({shown})")
    parent = p
    while not parent.exists():
        parent = parent.parent
    if not parent.is_dir() or not os.access(parent, os.W_OK | os.X_OK):
        return f"run_dir: expected a writable directory, found {str(parent)!r} not writable"
    return None


def create_run(cfg: Config, run_dir: Path) -> Path:
    """Create a new run directory for ``cfg`` (refuses one that holds a run)."""
    run_dir = Path(run_dir)
    if is_run(run_dir):
        raise RunExistsError(f"{run_dir} already holds a run; use 'simtune resume {run_dir}'")
    run_dir.mkdir(parents=True, exist_ok=True, mode=0o750)
    (run_dir / "evals").mkdir(exist_ok=True, mode=0o750)
    atomic_write_text(run_dir / "config.yaml", yaml.safe_dump(cfg.raw, sort_keys=False))
    import orchestrator

    atomic_write_json(run_dir / RUN_FILE, {
        "name": cfg.name,
        "config_dir": str(cfg.base_dir),
        "created": time.strftime("%Y-%m-%d %H:%M:%S"),
        "simtune_version": orchestrator.__version__,
        "python": sys.executable,
    })
    return run_dir


def open_run(run_dir: Path) -> tuple[Config, dict[str, Any]]:
    """The config and run metadata of an existing run directory.

    Raises
    ------
    NotARunError
        ``run_dir`` holds no run.
    orchestrator.config.ConfigError
        Its config no longer validates (e.g. a user module beside it was removed).
    """
    run_dir = Path(run_dir)
    if not is_run(run_dir):
        raise NotARunError(f"{run_dir} is not a simtune run directory (no {RUN_FILE})")
    meta = read_json(run_dir / RUN_FILE)
    raw = yaml.safe_load((run_dir / "config.yaml").read_text())
    add_user_dir(meta["config_dir"])
    cfg = config_from_dict(raw, meta["config_dir"], default_name=meta["name"])
    if meta.get("reference_values"):
        cfg = cfg.with_target_values(meta["reference_values"])
    return cfg, meta


def read_meta(run_dir: Path) -> dict[str, Any]:
    """``run.json`` of a run."""
    return read_json(Path(run_dir) / RUN_FILE)  # type: ignore[no-any-return]


def write_meta(run_dir: Path, meta: dict[str, Any]) -> None:
    atomic_write_json(Path(run_dir) / RUN_FILE, meta)


def remove_torn_writes(run_dir: Path) -> None:
    """Delete the temp files of atomic writes a killed controller left behind."""
    for stale in Path(run_dir).glob(".*.tmp"):
        stale.unlink(missing_ok=True)


def lock_holder(run_dir: Path) -> str | None:
    """Who holds the run's lock (``host H pid P since T``), or None if no controller runs."""
    path = Path(run_dir) / LOCK_FILE
    if not path.exists():
        return None
    fd = os.open(path, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        fcntl.flock(fd, fcntl.LOCK_UN)
        return None  # nobody holds it
    except BlockingIOError:
        return path.read_text().strip() or "unknown"
    finally:
        os.close(fd)


class RunLock:
    """Exclusive lock on a run directory for the life of a controller.

    An ``flock`` on ``run.lock``: the kernel releases it when the process dies (also on
    ``kill -9``), so a stale lock never blocks a resume. The file names the holder's host and pid
    for the error message.
    """

    def __init__(self, run_dir: Path) -> None:
        self.path = Path(run_dir) / LOCK_FILE
        self._fd: int | None = None

    def acquire(self) -> RunLock:
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o640)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 200, 0).decode(errors="replace").strip() or "unknown"
            os.close(fd)
            raise LockedError(
                f"another simtune controller is running on {self.path.parent} ({holder}); "
                "stop it first or wait for it to finish"
            ) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"host {socket.gethostname()} pid {os.getpid()} since "
                      f"{time.strftime('%Y-%m-%d %H:%M:%S')}\n".encode(), 0)
        self._fd = fd
        return self

    def release(self) -> None:
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None

    def __enter__(self) -> RunLock:
        return self.acquire()

    def __exit__(self, *_: object) -> None:
        self.release()
