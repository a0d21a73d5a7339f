"""Evaluator base: what runs one simulation and leaves a data store behind.

An evaluator is built on the worker from the ``evaluator`` section of the config
(``{kind: ..., options: {...}}``); its options are the keyword arguments of ``__init__`` (the
config validator reads them from the signature with :func:`simtune_core.options.option_names`,
the one source of truth).
"""

from __future__ import annotations

import abc
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar, Mapping

if TYPE_CHECKING:
    from evaluators.gates import GateMonitor

__all__ = ["DATASTORE_NAME", "EvaluationTimeout", "Evaluator", "EvaluatorError"]

#: where an evaluator writes its data store inside the evaluation directory, by default
DATASTORE_NAME = "datastore.h5"


class EvaluationTimeout(TimeoutError):
    """An evaluator's own time limit was reached (e.g. the command evaluator's ``timeout_s``);
    the worker records the evaluation as ``timeout``. A plain :class:`TimeoutError` raised by a
    simulator (a socket, a lock) stays an ``exception``."""


class EvaluatorError(Exception):
    """An evaluator broke its contract (a python function returned something it must not: an
    unknown key, an array where a number belongs); the worker records ``evaluator_error`` with
    this one-line message, which names what was wrong."""


class Evaluator(abc.ABC):
    """Runs one simulation.

    Subclasses implement :meth:`run`; they may raise anything (the worker records it as an
    ``exception`` failure) and may leave no store (recorded as ``no_datastore``).
    """

    kind: ClassVar[str]
    #: the segment kinds this evaluator's stores have, where it knows (``gates[].after`` is
    #: checked against them at load); ``None``: whatever the user's simulator writes
    segment_kinds: ClassVar[frozenset[str] | None] = None
    #: set by the worker when the run has gates: in-process writers reach it through
    #: :meth:`evaluators.datastore.DataStoreWriter.flush`; an evaluator that runs the simulation
    #: outside this process (``command``) polls it with the progress folder while it waits
    gate_monitor: GateMonitor | None = None

    @abc.abstractmethod
    def run(self, parameters: Mapping[str, float], out_dir: Path, seed: int) -> Path | None:
        """Simulate with ``parameters`` (every parameter, physical units) and ``seed``.

        Returns the data store path, or ``None`` for ``out_dir / DATASTORE_NAME``.
        """

    def gate_problem(self) -> tuple[str, str] | None:
        """Why gates could not stop this evaluator's simulation early, as ``(option, what it
        must be)``, or ``None``; the config loader refuses gates with it (exit 2)."""
        return None

    def check(self) -> None:
        """Cheap validation at config load (e.g. that a function or a file exists).

        Raise ``ValueError``/``FileNotFoundError``/``ImportError`` with a clear message.
        """
