"""Soft penalties: targets computed from the parameters alone (no simulation data).

MyoGen's Optuna objective (seed 004) adds *plausibility penalties* to the data loss, e.g.
``0.1 * (conn_probability - 0.7)`` when the connection probability exceeds 0.7. In simtune such a
penalty is an ordinary target: it has a value, a score, a ``value.<name>``/``score.<name>`` column
in the results and a ``max_score`` cap, and it is computed on the worker beside the data targets
(:attr:`~targets.Target.uses_parameters` is ``True``, so :func:`targets.evaluate_target` calls
:meth:`~targets.Target.compute_from_parameters` instead of reading the data store).

:class:`ParameterExpression`
    value = an arithmetic expression of the parameters (free, constant or derived); score it with
    any kind, e.g. ``target_value: [0.1, 0.7]`` (range) for "plausible between 0.1 and 0.7".
:class:`ParameterPenalty`
    value = how far the expression lies outside ``[low, high]`` (0 inside), optionally raised to
    ``power``; its default kind ``at_most`` with target value 0 makes the score ``value / norm``.
    MyoGen's penalty above is ``expression: conn_probability, high: 0.7, norm: 10``.

Expressions use the grammar of derived parameters (``docs/config.md``): numbers, parameter names,
``+ - * / // % **``, unary ``-``/``+`` and the functions in :data:`FUNCTIONS`. They are parsed with
:mod:`ast` and checked when the target is built (config load), never executed as Python code.
This module imports nothing of simtune's outside :mod:`targets`.
"""

from __future__ import annotations

import math
from typing import Mapping

from simtune_core.expression import FUNCTIONS, SafeExpression
from targets._base import Target, TargetUndefined

__all__ = ["FUNCTIONS", "ParameterExpression", "ParameterPenalty", "outside_distance", "TARGETS"]

class _Expression(SafeExpression):
    """A checked expression whose unknown names make the target undefined, not an error."""

    def evaluate(self, values: Mapping[str, float]) -> float:
        missing = sorted(self.names - set(values))
        if missing:
            raise TargetUndefined(f"expression {self.text!r} names unknown parameter(s) "
                                  f"{missing}; known: {sorted(values)}")
        return super().evaluate({k: float(v) for k, v in values.items()})


def outside_distance(q: float, low: float | None = None, high: float | None = None) -> float:
    """Distance of ``q`` outside ``[low, high]``: ``max(low - q, 0) + max(q - high, 0)``.

    A missing bound is unbounded on that side.

    >>> outside_distance(0.9, high=0.7)  # doctest: +ELLIPSIS
    0.2...
    >>> outside_distance(0.5, 0.1, 0.7)
    0.0
    >>> outside_distance(-1.0, low=0.0)
    1.0
    """
    d = 0.0
    if low is not None and q < low:
        d += low - q
    if high is not None and q > high:
        d += q - high
    return d


class ParameterExpression(Target):
    """The value of an expression of the parameters (e.g. ``"w_ie / w_ee"``).

    Scored like any value: ``target_value: [lo, hi]`` penalises leaving a plausible range by
    ``min(|lo - v|, |hi - v|) / norm``. Undefined (max score) when the expression names a
    parameter the evaluation does not have or cannot be computed (``log(-1)``, ``1 / 0``).

    Examples
    --------
    >>> ParameterExpression(expression="w_ie / w_ee").compute_from_parameters(
    ...     {"w_ie": 4.0, "w_ee": 2.0})
    2.0
    """

    kind = "range"
    uses_parameters = True

    def __init__(self, sheet_name: str | None = None, expression: str = "") -> None:
        super().__init__(sheet_name)
        self.expression = _Expression(expression)

    def _quantity(self, parameters: Mapping[str, float]) -> float:
        try:
            q = self.expression.evaluate(parameters)
        except (ArithmeticError, ValueError) as exc:
            raise TargetUndefined(f"{self.expression.text!r}: {type(exc).__name__}: {exc}")
        if not math.isfinite(q):
            raise TargetUndefined(f"{self.expression.text!r} is {q}")
        return q

    def compute_from_parameters(self, parameters: Mapping[str, float]) -> float:
        return self._quantity(parameters)


class ParameterPenalty(ParameterExpression):
    """Soft plausibility penalty: how far an expression of the parameters is outside a range.

    value = ``outside_distance(q, low, high) ** power`` where ``q`` is the expression's value
    (0 inside ``[low, high]``; give at least one bound). The default kind ``at_most`` with the
    target value 0 (the default for parameter targets) scores ``value / norm``: ``norm: 10`` makes
    MyoGen's ``0.1 * (conn_probability - 0.7)``.

    Raises
    ------
    ValueError
        No bound, ``low > high``, ``power <= 0`` or a bad expression.

    Examples
    --------
    >>> p = ParameterPenalty(expression="n_neurons", high=800)
    >>> p.compute_from_parameters({"n_neurons": 1000})
    200.0
    >>> p.compute_from_parameters({"n_neurons": 500})
    0.0
    """

    kind = "at_most"

    def __init__(
        self,
        sheet_name: str | None = None,
        expression: str = "",
        low: float | None = None,
        high: float | None = None,
        power: float = 1.0,
    ) -> None:
        super().__init__(sheet_name, expression)
        if low is None and high is None:
            raise ValueError("ParameterPenalty needs low and/or high (the plausible range)")
        for name, b in (("low", low), ("high", high)):
            if b is not None and (isinstance(b, bool) or not isinstance(b, (int, float))
                                  or not math.isfinite(b)):
                raise ValueError(f"{name} must be a finite number or null, found {b!r}")
        if low is not None and high is not None and low > high:
            raise ValueError(f"need low <= high, found low={low}, high={high}")
        if not (isinstance(power, (int, float)) and power > 0):
            raise ValueError(f"power must be > 0, found {power!r}")
        self.low = None if low is None else float(low)
        self.high = None if high is None else float(high)
        self.power = float(power)

    def compute_from_parameters(self, parameters: Mapping[str, float]) -> float:
        return outside_distance(self._quantity(parameters), self.low, self.high) ** self.power


TARGETS = (ParameterExpression, ParameterPenalty)
