"""Evaluators: run one simulation on a worker and score it against the targets.

Evaluator kinds are looked up by name; modules load lazily so an optional simulator that is not
installed only matters to configs that use it.
"""

from __future__ import annotations

import importlib
from typing import Any, Mapping

from evaluators._base import DATASTORE_NAME, EvaluationTimeout, Evaluator, EvaluatorError

__all__ = ["DATASTORE_NAME", "EVALUATORS", "EvaluationTimeout", "Evaluator", "EvaluatorError",
           "build_evaluator", "evaluator_class"]

#: evaluator kind -> "module:Class"
EVALUATORS: dict[str, str] = {
    "python": "evaluators.python_call:PythonEvaluator",
    "v1_sheet": "evaluators.v1:V1SheetEvaluator",
    "command": "evaluators.command:CommandEvaluator",
}


def evaluator_class(kind: str) -> type[Evaluator]:
    """The class for an evaluator ``kind``; raises LookupError naming the known kinds."""
    if kind not in EVALUATORS:
        raise LookupError(f"one of {sorted(EVALUATORS)}, found {kind!r}")
    module_name, _, attr = EVALUATORS[kind].partition(":")
    return getattr(importlib.import_module(module_name), attr)  # type: ignore[no-any-return]


def build_evaluator(spec: Mapping[str, Any]) -> Evaluator:
    """Build an evaluator from ``{kind: ..., **options}``."""
    options = dict(spec)
    kind = options.pop("kind")
    return evaluator_class(kind)(**options)
