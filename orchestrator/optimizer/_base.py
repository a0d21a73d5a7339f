"""What the controller asks of an optimizer: batched ask/tell over the unit cube, and a state.

Both :class:`~orchestrator.optimizer.cma.CMAOptimizer` and
:class:`~orchestrator.optimizer.nsga2.NSGA2Optimizer` satisfy :class:`Optimizer`; a new algorithm
goes in its own module beside them, implements this protocol, and is built in
:func:`orchestrator.optimizer.make_optimizer`.
"""

from __future__ import annotations

from typing import Any, Protocol, Sequence

import numpy as np

from simtune_core.record import Reason

__all__ = ["Optimizer"]


class Optimizer(Protocol):
    """Batched ask/tell in ``[0, 1]^dim``.

    ``ask_batch(n)`` returns ``n`` points; ``tell_batch`` takes their totals, failure reasons
    (``None`` if ok), per-target scores, values (NaN where undefined) and their spread over
    seeds in the same order, before the next ask. ``state()``
    is bytes from which ``optimizer_from_state`` restores an optimizer that asks exactly the
    points this one would.
    """

    @property
    def popsize(self) -> int: ...

    @property
    def sigma(self) -> float: ...

    @property
    def mean(self) -> np.ndarray: ...

    @property
    def covariance(self) -> np.ndarray: ...

    def ask_batch(self, n: int) -> list[np.ndarray]: ...

    def tell_batch(self, xs: Sequence[np.ndarray], totals: Sequence[float],
                   reasons: Sequence[Reason | None],
                   scores: Sequence[Sequence[float]] | None = None,
                   values: Sequence[Sequence[float]] | None = None,
                   value_std: Sequence[Sequence[float] | None] | None = None) -> list[float]: ...

    def stop_reasons(self) -> dict[str, Any]: ...

    def state(self) -> bytes: ...
