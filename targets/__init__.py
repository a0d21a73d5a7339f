"""Targets: turn a simulation's data store into values and scores.

Built-in target classes are looked up by name (``class: SpontActivityTarget``); user classes by
import path (``class: mypkg.targets:MyTarget``), which must subclass :class:`targets.Target`;
a module beside the config (even one called ``targets.py``) is found without shadowing this
package (:mod:`simtune_core.userimport`).
"""

from __future__ import annotations

from simtune_core.userimport import import_module
from targets import conductance, penalty, spiking, timeseries, tuning, values
from targets._base import (
    KINDS,
    DataStoreLike,
    Target,
    TargetOutcome,
    TargetUndefined,
    evaluate_target,
    score_array,
    score_outcome,
    score_value,
    target_distance,
    target_interval,
)

__all__ = [
    "KINDS",
    "DataStoreLike",
    "Target",
    "TargetOutcome",
    "TargetUndefined",
    "evaluate_target",
    "score_array",
    "score_outcome",
    "score_value",
    "target_distance",
    "target_interval",
    "REGISTRY",
    "resolve_target_class",
]

#: Built-in target classes by name. Modules add theirs in their ``TARGETS`` tuple.
REGISTRY: dict[str, type[Target]] = {
    cls.__name__: cls
    for module in (spiking, tuning, conductance, timeseries, penalty, values)
    for cls in module.TARGETS
}


def resolve_target_class(name: str) -> type[Target]:
    """Return the target class called ``name`` (built-in name or ``"module.path:ClassName"``).

    Raises
    ------
    LookupError
        With a message naming what was expected and what was found.
    """
    if name in REGISTRY:
        return REGISTRY[name]
    if ":" not in name:
        known = ", ".join(sorted(REGISTRY))
        raise LookupError(f"a built-in target class ({known}) or 'module:Class', found {name!r}")
    module_name, _, attr = name.partition(":")
    try:
        module = import_module(module_name)
    except Exception as exc:  # noqa: BLE001 - any import failure is a config error
        raise LookupError(
            f"an importable module in {name!r}, found {type(exc).__name__}: {exc}"
        ) from None
    cls = getattr(module, attr, None)
    if not (isinstance(cls, type) and issubclass(cls, Target)):
        # LookupError, as for a missing module: the caller reports both as a config error
        raise LookupError(  # noqa: TRY004
            f"a subclass of targets.Target at {name!r}, found {cls!r}")
    return cls
