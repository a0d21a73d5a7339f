"""A class's options, read from its signature: the one source of truth for evaluator and target
keys in a config (the validator lists them with their defaults; submitit's
``_get_default_parameters`` does the same for its executors)."""

from __future__ import annotations

import inspect
from typing import Any

__all__ = ["REQUIRED", "option_names"]

#: the default of an option that has none (it must be given)
REQUIRED = inspect.Parameter.empty


def option_names(cls: type) -> dict[str, Any]:
    """Keyword options of ``cls.__init__`` with their defaults (:data:`REQUIRED` = required).

    >>> class Sim:
    ...     def __init__(self, command: list[str], timeout_s: float | None = None) -> None: ...
    >>> option_names(Sim)
    {'command': <class 'inspect._empty'>, 'timeout_s': None}
    """
    sig = inspect.signature(cls.__init__)  # type: ignore[misc]
    return {
        name: p.default
        for name, p in sig.parameters.items()
        if name != "self" and p.kind in (p.KEYWORD_ONLY, p.POSITIONAL_OR_KEYWORD)
    }
