"""The function every job process runs: :func:`run_task`, safe to start from a model's folder.

Executors submit ``evaluators.worker.run_task`` (submitit pickles it by name); the ``local``
executor starts a process running :data:`BOOT` instead (:func:`main`). A job process started by
``python -m`` or ``python -c`` has its working directory first on ``sys.path``; where that is a
model's folder with its own ``targets.py`` (the mozaik tool's layout), importing the evaluation
machinery would import the user's file instead of simtune's ``targets``. This module imports
nothing of simtune at load time beyond :mod:`simtune_core.userimport`: it first moves the working
directory to the end of ``sys.path`` (:func:`~simtune_core.userimport.demote_cwd`), then runs
:func:`evaluators.evaluate.run_task`.
"""

from __future__ import annotations

import os
import signal
from typing import Any, Sequence

from simtune_core.userimport import demote_cwd

__all__ = ["BOOT", "EXIT_TERMINATED", "main", "run_task"]

#: exit status of a job process told to stop (SIGTERM) before it wrote a result (128 + 15)
EXIT_TERMINATED = 143

#: ``python -c BOOT TASK JOBS_FOLDER LIMIT_S``: the working directory moved to the end of
#: ``sys.path`` *before* ``evaluators`` is imported (a model folder may hold an ``evaluators.py``)
BOOT = ("import sys; sys.path[:] = [p for p in sys.path if p not in ('', '.')] + ['']; "
        "from evaluators.worker import main; sys.exit(main(sys.argv[1:]))")


def run_task(task_path: str | os.PathLike[str]) -> Any:
    """Evaluate the task file at ``task_path`` (:func:`evaluators.evaluate.run_task`)."""
    demote_cwd()
    from evaluators.evaluate import run_task as evaluate_task

    return evaluate_task(task_path)


def _stop_group(_signum: int, _frame: Any) -> None:
    os.killpg(0, signal.SIGTERM)  # the job's own group: this process and what it started


def main(argv: Sequence[str]) -> int:
    """A job process of the ``local`` executor: ``TASK JOBS_FOLDER [LIMIT_S]``.

    ``JOBS_FOLDER`` is not used here: it is on the command line so that a resumed controller can
    tell this process from an unrelated one with a recycled pid. With ``LIMIT_S`` the process
    stops itself (SIGTERM to its process group, which the evaluation handles as at a scheduler's
    time limit) that long after it started, even when no controller watches it any more.
    Returns 0 when a result was written, :data:`EXIT_TERMINATED` when the job was stopped first.
    """
    if len(argv) >= 3 and float(argv[2]) > 0:
        signal.signal(signal.SIGALRM, _stop_group)
        signal.setitimer(signal.ITIMER_REAL, float(argv[2]))
    return 0 if run_task(argv[0]) is not None else EXIT_TERMINATED
