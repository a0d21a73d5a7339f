"""Scoring rules of targets/_base.py: the kinds, and what NaN and inf score."""

from __future__ import annotations

import math

import pytest

import targets
from targets import Target, score_value

INF = math.inf


@pytest.mark.parametrize("value, kind, tv, expected", [
    (1.5, "range", [1.0, 2.0], 0.0),
    (0.5, "range", [1.0, 2.0], 2.5),      # (1.0 - 0.5) / 0.2
    (2.3, "range", [1.0, 2.0], 1.5),      # (2.3 - 2.0) / 0.2
    (0.9, "exact", 1.0, 0.5),
    (0.9, "at_least", 1.0, 0.5),
    (1.1, "at_least", 1.0, 0.0),
    (1.1, "at_most", 1.0, 0.5),
    (-100.0, "exact", 1.0, 20.0),         # capped at max_score
])
def test_finite_scores(value, kind, tv, expected):
    score, reason = score_value(value, kind, tv, 0.2, 20)
    assert score == pytest.approx(expected) and reason is None


@pytest.mark.parametrize("value, kind, tv, score, reason", [
    # a legitimately infinite value: +inf meets at_least, -inf meets at_most (the mozaik tool's
    # one-bound rules applied to inf); every other combination is a failure
    (INF, "at_least", 5.0, 0.0, "value is inf: meets the at_least target"),
    (-INF, "at_most", 5.0, 0.0, "value is -inf: meets the at_most target"),
    (-INF, "at_least", 5.0, 20.0, "value is infinite"),
    (INF, "at_most", 5.0, 20.0, "value is infinite"),
    (INF, "exact", 5.0, 20.0, "value is infinite"),
    (INF, "range", [1.0, 2.0], 20.0, "value is infinite"),
    # NaN is never a value, infinity allowed or not
    (math.nan, "at_least", 5.0, 20.0, "value is NaN"),
])
def test_infinite_values_where_allowed(value, kind, tv, score, reason):
    assert score_value(value, kind, tv, 0.5, 20, allow_infinite=True) == (score, reason)


@pytest.mark.parametrize("value", [INF, -INF])
@pytest.mark.parametrize("kind", ["at_least", "at_most", "exact"])
def test_infinite_values_fail_by_default(value, kind):
    assert score_value(value, kind, 5.0, 0.5, 20) == (20.0, "value is infinite")


class _Ratio(Target):
    kind = "at_least"

    def __init__(self, sheet_name: str | None = None, value: float = 0.0) -> None:
        super().__init__(sheet_name)
        self.value = value

    def compute(self, store: object) -> float:
        return self.value


class _InfiniteRatio(_Ratio):
    allows_infinite = True


def test_only_targets_that_allow_infinity_score_it():
    """A target that does not declare inf legitimate (a division-by-zero bug in a user target)
    does not slip through as a met bound."""
    assert not Target.allows_infinite
    assert targets.REGISTRY["OrientationTuningPreferenceTarget"].allows_infinite
    others = [n for n, c in targets.REGISTRY.items() if c.allows_infinite]
    assert others == ["OrientationTuningPreferenceTarget"]
    store = object()
    out = targets.evaluate_target("r", _Ratio(value=INF), "at_least", 5.0, 0.5, 20, store)
    assert (out.score, out.reason) == (20.0, "value is infinite")
    out = targets.evaluate_target("r", _InfiniteRatio(value=INF), "at_least", 5.0, 0.5, 20,
                                  store)
    assert (out.value, out.score) == (INF, 0.0) and out.reason is not None
    out = targets.evaluate_target("r", _InfiniteRatio(value=math.nan), "at_least", 5.0, 0.5,
                                  20, store)
    assert (out.score, out.reason) == (20.0, "value is NaN")
