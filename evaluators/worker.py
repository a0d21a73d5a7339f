"""The function every job process runs: :func:`run_task`, safe to start from a model's folder.

Executors submit ``evaluators.worker.run_task`` (submitit pickles it by name). A job process
started by ``python -m`` has its working directory first on ``sys.path``; where that is a model's
folder with its own ``targets.py`` (the mozaik tool's layout), importing the evaluation machinery
would import the user's file instead of simtune's ``targets``. This module imports nothing of
simtune at load time beyond :mod:`simtune_core.userimport`: it first moves the working directory
to the end of ``sys.path`` (:func:`~simtune_core.userimport.demote_cwd`), then runs
:func:`evaluators.evaluate.run_task`.
"""

from __future__ import annotations

import os
from typing import Any

from simtune_core.userimport import demote_cwd

__all__ = ["run_task"]


def run_task(task_path: str | os.PathLike[str]) -> Any:
    """Evaluate the task file at ``task_path`` (:func:`evaluators.evaluate.run_task`)."""
    demote_cwd()
    from evaluators.evaluate import run_task as evaluate_task

    return evaluate_task(task_path)
