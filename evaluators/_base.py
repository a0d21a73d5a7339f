"""Evaluator base: what runs one simulation and leaves a data store behind.

An evaluator is built on the worker from the ``evaluator`` section of the config
(``{kind: ..., options: {...}}``); its options are the keyword arguments of ``__init__`` (the
config validator reads them from the signature, the one source of truth).
"""

from __future__ import annotations

import abc
import inspect
from pathlib import Path
from typing import Any, ClassVar, Mapping

__all__ = ["Evaluator", "DATASTORE_NAME", "option_names"]

#: where an evaluator writes its data store inside the evaluation directory, by default
DATASTORE_NAME = "datastore.h5"


class Evaluator(abc.ABC):
    """Runs one simulation.

    Subclasses implement :meth:`run`; they may raise anything (the worker records it as an
    ``exception`` failure) and may leave no store (recorded as ``no_datastore``).
    """

    kind: ClassVar[str]

    @abc.abstractmethod
    def run(self, parameters: Mapping[str, float], out_dir: Path, seed: int) -> Path | None:
        """Simulate with ``parameters`` (every parameter, physical units) and ``seed``.

        Returns the data store path, or ``None`` for ``out_dir / DATASTORE_NAME``.
        """

    def check(self) -> None:
        """Cheap validation at config load (e.g. that a function or a file exists).

        Raise ``ValueError``/``FileNotFoundError``/``ImportError`` with a clear message.
        """


def option_names(cls: type) -> dict[str, Any]:
    """Keyword options of ``cls.__init__`` with their defaults (``inspect._empty`` = required)."""
    sig = inspect.signature(cls.__init__)  # type: ignore[misc]
    return {
        name: p.default
        for name, p in sig.parameters.items()
        if name != "self" and p.kind in (p.KEYWORD_ONLY, p.POSITIONAL_OR_KEYWORD)
    }
