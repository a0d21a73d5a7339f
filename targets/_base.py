"""Target base class, scoring rules and the data-store protocol targets read from.

A *target* turns a simulation's data store into one number (its *value*) and compares that value
with what the model should do (its *target value*) to give a *score* >= 0 (0 = on target).

Scoring (v = value, t = target value, n = norm, M = max_score), as in the mozaik tool:

========== ============================================================
kind       score before capping at M
========== ============================================================
exact      ``|t - v| / n``
at_least   ``0 if v >= t else (t - v) / n``
at_most    ``0 if v <= t else (v - t) / n``
range      ``0 if lo <= v <= hi else min(|lo - v|, |hi - v|) / n``
========== ============================================================

A missing, NaN or uncomputable value scores ``M`` and carries a *reason*; nothing a target does can
raise out of :func:`evaluate_target`. An infinite value scores ``M`` too, unless its target
declares infinity a legitimate value (:attr:`Target.allows_infinite`, e.g. the selectivity of a
population silent at the orthogonal orientation): then ``+inf`` meets an ``at_least`` and ``-inf``
an ``at_most`` target (score 0), as the rules above give in IEEE arithmetic and as the mozaik tool
scores them; every other kind still scores ``M``.

This module imports nothing from the rest of simtune (data flows config -> ... -> targets).
"""

from __future__ import annotations

import math
import traceback
from dataclasses import dataclass, field
from typing import Any, ClassVar, Mapping, Protocol, Sequence

import numpy as np

__all__ = [
    "KINDS",
    "evaluate_target",
    "DataStoreLike",
    "Target",
    "TargetOutcome",
    "TargetUndefined",
    "score_outcome",
    "score_array",
    "score_value",
    "scoring_error",
    "target_distance",
    "target_interval",
]

#: The scoring kinds a target can use.
KINDS = ("exact", "at_least", "at_most", "range")


class TargetUndefined(Exception):
    """Raised by :meth:`Target.compute` when the value cannot be computed (e.g. no cell selected).

    The message is recorded as the reason and the target scores ``max_score``.
    """


class DataStoreLike(Protocol):
    """What a target may ask of a data store (implemented by ``evaluators.datastore.DataStore``).

    Spikes of one sheet in one segment come as ``(times, offsets)``: neuron ``i`` (in the order of
    the sheet's ``ids``) fired at ``times[offsets[i]:offsets[i + 1]]`` (ms, sorted).
    """

    @property
    def metadata(self) -> Mapping[str, Any]: ...

    def sheet_names(self) -> list[str]: ...

    def sheet(self, name: str) -> Any: ...

    def segments(self, **match: Any) -> list[Any]: ...

    def spikes(self, segment: Any, sheet: str) -> tuple[np.ndarray, np.ndarray]: ...

    def signal(self, segment: Any, sheet: str, name: str) -> Any: ...

    def timeseries(self, name: str) -> tuple[np.ndarray, np.ndarray]: ...

    def value_names(self) -> list[str]: ...

    def value(self, name: str) -> float: ...


def score_value(
    value: float | None,
    kind: str,
    target_value: float | Sequence[float],
    norm: float,
    max_score: float,
    allow_infinite: bool = False,
) -> tuple[float, str | None]:
    """Score one value against its target value.

    Parameters
    ----------
    value
        What the model did; ``None`` or NaN means "not computable".
    kind
        One of :data:`KINDS`.
    target_value
        A number, or ``[low, high]`` for ``kind="range"``.
    norm
        Deviation that costs one score point (> 0).
    max_score
        Cap on the score; also the score of a missing value.
    allow_infinite
        Whether ``+-inf`` is a legitimate value (:attr:`Target.allows_infinite`). If so, ``+inf``
        meets an ``at_least`` and ``-inf`` an ``at_most`` target (score 0, with a reason that
        says so); otherwise, and for every other kind, an infinite value scores ``max_score``
        with reason ``"value is infinite"``.

    Returns
    -------
    (score, reason)
        ``reason`` is ``None`` unless the value was missing or not finite.

    Examples
    --------
    >>> score_value(1.5, "range", [1.0, 2.0], 0.2, 20)
    (0.0, None)
    >>> score_value(0.5, "at_least", 1.0, 0.1, 20)
    (5.0, None)
    >>> score_value(float("nan"), "exact", 0.0, 1.0, 20)
    (20.0, 'value is NaN')
    >>> score_value(float("inf"), "at_least", 5.0, 0.5, 20, allow_infinite=True)
    (0.0, 'value is inf: meets the at_least target')
    >>> score_value(float("inf"), "at_least", 5.0, 0.5, 20)
    (20.0, 'value is infinite')
    """
    if value is None:
        return float(max_score), "no value"
    v = float(value)
    if math.isnan(v):
        return float(max_score), "value is NaN"
    if math.isinf(v):
        meets = (kind == "at_least" and v > 0) or (kind == "at_most" and v < 0)
        if allow_infinite and meets:
            # a reason, although the score is 0: the value is not a finite number, and whoever
            # aggregates values (means over seeds) must know it
            return 0.0, f"value is {v}: meets the {kind} target"
        return float(max_score), "value is infinite"
    lo, hi = target_interval(kind, target_value)
    raw = (max(lo - v, 0.0) + max(v - hi, 0.0)) / norm
    return float(min(raw, max_score)), None


def target_interval(kind: str, target_value: float | Sequence[float]) -> tuple[float, float]:
    """The interval ``[lo, hi]`` of values that score 0: every kind's score is the distance of
    the value to it over the norm, ``(max(lo - v, 0) + max(v - hi, 0)) / n``, capped at ``M``.

    ``exact t`` is ``[t, t]``, ``at_least t`` is ``[t, inf]``, ``at_most t`` is ``[-inf, t]``,
    ``range [a, b]`` is ``[a, b]`` (the table of the module docstring).

    >>> target_interval("at_least", 2)
    (2.0, inf)
    """
    if kind == "range":
        lo, hi = (float(x) for x in target_value)  # type: ignore[union-attr]
        return lo, hi
    if kind not in KINDS:
        raise ValueError(f"unknown scoring kind {kind!r}; expected one of {KINDS}")
    t = float(target_value)  # type: ignore[arg-type]
    return (t if kind != "at_most" else -math.inf), (t if kind != "at_least" else math.inf)


def target_distance(values: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """Distance of each value to its interval ``[lo, hi]`` (:func:`target_interval`),
    ``max(lo - v, 0) + max(v - hi, 0)``, over whole arrays; NaN where a value is NaN or an
    infinite value meets an open side (``inf - inf``)."""
    with np.errstate(invalid="ignore"):
        return np.maximum(lo - values, 0.0) + np.maximum(values - hi, 0.0)


def score_array(values: np.ndarray, lo: np.ndarray, hi: np.ndarray, norm: np.ndarray,
                max_score: np.ndarray) -> np.ndarray:
    """:func:`score_value` over whole arrays of finite values (the last axis one target each,
    ``lo``/``hi`` from :func:`target_interval`): ``min(M, (max(lo - v, 0) + max(v - hi, 0)) / n)``.

    >>> score_array(np.array([[0.5, 3.0]]), np.array([1.0, 1.0]), np.array([1.0, 2.0]),
    ...             np.array([0.1, 0.5]), np.array([20.0, 20.0]))
    array([[5., 2.]])
    """
    raw = target_distance(values, lo, hi)
    return np.minimum(np.nan_to_num(raw, nan=0.0) / norm, max_score)


class Target:
    """Base class of every target.

    Subclasses implement :meth:`compute` and declare their options as keyword arguments of
    ``__init__`` with defaults (the config validator reads them from the signature, so the
    signature is the one source of truth). ``kind`` is the default scoring kind of the class
    when the config gives a single number; a ``[low, high]`` target value always means ``range``.

    Examples
    --------
    >>> class MeanOf(Target):
    ...     kind = "exact"
    ...     def __init__(self, sheet_name=None, series="dipole"):
    ...         super().__init__(sheet_name=sheet_name)
    ...         self.series = series
    ...     def compute(self, store):
    ...         return float(store.timeseries(self.series)[1].mean())
    """

    #: default scoring kind for a scalar target value
    kind: ClassVar[str] = "exact"
    #: whether the target needs ``sheet_name``
    needs_sheet: ClassVar[bool] = False

    def __init__(self, sheet_name: str | None = None) -> None:
        self.sheet_name = sheet_name

    def compute(self, store: DataStoreLike) -> float:
        """Return the value this target measures in ``store``.

        Raise :class:`TargetUndefined` with a reason when it cannot be computed.
        """
        raise NotImplementedError

    def compute_from_parameters(self, parameters: Mapping[str, float]) -> float:
        """Penalty targets override this instead of :meth:`compute` (see ``uses_parameters``)."""
        raise NotImplementedError

    #: True for targets computed from the parameters only (soft penalties)
    uses_parameters: ClassVar[bool] = False
    #: True for targets whose value may legitimately be infinite (a ratio whose denominator is
    #: 0 while its numerator is not); see :func:`score_value`. Any other target's infinite value
    #: is a failure.
    allows_infinite: ClassVar[bool] = False


@dataclass(frozen=True)
class TargetOutcome:
    """The value and score of one target on one evaluation."""

    name: str
    value: float | None
    score: float
    reason: str | None = None
    extra: dict[str, float] = field(default_factory=dict)


def evaluate_target(
    name: str,
    target: Target,
    kind: str,
    target_value: float | Sequence[float],
    norm: float,
    max_score: float,
    store: DataStoreLike | None,
    parameters: Mapping[str, float] | None = None,
) -> TargetOutcome:
    """Compute and score one target; never raises.

    ``store=None`` (no data store) scores ``max_score`` with reason ``"no data store"``.
    """
    value: float | None = None
    try:
        if target.uses_parameters:
            value = float(target.compute_from_parameters(parameters or {}))
        elif store is None:
            return TargetOutcome(name, None, float(max_score), "no data store")
        else:
            value = float(target.compute(store))
    except TargetUndefined as exc:
        return TargetOutcome(name, None, float(max_score), f"undefined: {exc}")
    except Exception as exc:  # noqa: BLE001 - a target must never kill an evaluation
        return TargetOutcome(name, None, float(max_score), scoring_error(exc))
    return score_outcome(name, value, kind, target_value, norm, max_score,
                         allow_infinite=target.allows_infinite)


def scoring_error(exc: BaseException) -> str:
    """The reason recorded for a target whose computation or scoring raised:
    ``"scoring_error: TypeError: ... at tuning.py:123"`` (the traceback's last frame)."""
    tb = traceback.extract_tb(exc.__traceback__)
    where = f" at {tb[-1].filename.rsplit('/', 1)[-1]}:{tb[-1].lineno}" if tb else ""
    return f"scoring_error: {type(exc).__name__}: {exc}{where}"


def score_outcome(name: str, value: float | None, kind: str,
                  target_value: float | Sequence[float], norm: float, max_score: float,
                  allow_infinite: bool = False) -> TargetOutcome:
    """:func:`score_value` as a :class:`TargetOutcome` that never raises: an exception (a
    ``target_value`` of the wrong shape for ``kind``, say) scores ``max_score`` with a
    ``scoring_error`` reason for this target alone."""
    try:
        score, reason = score_value(value, kind, target_value, norm, max_score,
                                    allow_infinite=allow_infinite)
    except Exception as exc:  # noqa: BLE001 - one target's bad scoring never kills the others
        return TargetOutcome(name, value, float(max_score), scoring_error(exc))
    return TargetOutcome(name, value, score, reason)
