"""Targets built from their task-file specs, and every target scored on one data store.

The worker (:mod:`evaluators.evaluate`) scores each finished store with these, the gates
(:mod:`evaluators.gates`) each published prefix, ``simtune score`` a store given on the command
line. A spec is a target's entry of the task file (``TargetConfig.spec()``)::

    {"name", "class", "kind", "target_value", "norm", "max_score", "sheet_name", "options"}
"""

from __future__ import annotations

from typing import Any, Mapping, Sequence

import targets as targets_pkg
from evaluators.datastore import DataStore

__all__ = ["build_targets", "score_store"]


def build_targets(specs: Sequence[Mapping[str, Any]]) -> list[tuple[Mapping[str, Any], Any]]:
    """Instantiate target objects from their task specs."""
    out = []
    for spec in specs:
        cls = targets_pkg.resolve_target_class(spec["class"])
        kwargs = dict(spec.get("options") or {})
        if spec.get("sheet_name") is not None:
            kwargs["sheet_name"] = spec["sheet_name"]
        out.append((spec, cls(**kwargs)))
    return out


def score_store(
    built: Sequence[tuple[Mapping[str, Any], Any]],
    store: DataStore | None,
    parameters: Mapping[str, float],
) -> list[targets_pkg.TargetOutcome]:
    """Compute and score every target on one store (never raises)."""
    return [
        targets_pkg.evaluate_target(
            spec["name"], target, spec["kind"], spec["target_value"], spec["norm"],
            spec["max_score"], store, parameters,
        )
        for spec, target in built
    ]
