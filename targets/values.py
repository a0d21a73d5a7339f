"""A number the model computed itself: ``ValueTarget`` reads ``/values/<name>`` of the store.

What MyoGen, CompNeuroPy and hnn-core users compute in their own code -- a feature, a loss term,
a fitted time constant -- reaches simtune as a plain number: a ``python`` evaluator returns
``{"values": {"rate": 12.3}}`` (or just ``{"rate": 12.3}``), a ``command`` simulator writes the
dataset ``/values/rate`` (docs/datastore.md), and ``{class: ValueTarget, value: rate, ...}``
scores it with any kind (exact, at_least, at_most, range).
"""

from __future__ import annotations

import math

from targets._base import DataStoreLike, Target, TargetUndefined

__all__ = ["TARGETS", "ValueTarget"]


class ValueTarget(Target):
    """The stored number called ``value``, scored against the target value.

    Parameters
    ----------
    value
        The name the model stored the number under.

    Raises
    ------
    TargetUndefined
        The store has no such value, or it is NaN (the model could not compute it).

    Examples
    --------
    >>> class Store:
    ...     def value_names(self): return ["rate"]
    ...     def value(self, name): return 12.5
    >>> ValueTarget(value="rate").compute(Store())
    12.5
    """

    kind = "exact"

    def __init__(self, sheet_name: str | None = None, value: str = "") -> None:
        super().__init__(sheet_name)
        if not isinstance(value, str) or not value:
            raise ValueError("ValueTarget needs 'value': the name the model stores the number "
                             "under")
        self.value = value

    def compute(self, store: DataStoreLike) -> float:
        names = store.value_names()
        if self.value not in names:
            raise TargetUndefined(f"the store has no value {self.value!r} (it has "
                                  f"{sorted(names) or 'no values'})")
        v = float(store.value(self.value))
        if math.isnan(v):
            raise TargetUndefined(f"the model stored NaN as {self.value!r}")
        return v


TARGETS = (ValueTarget,)
