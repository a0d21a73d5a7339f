"""ConductanceRatio."""

from __future__ import annotations

import pytest

import targets
from targets.conductance import ConductanceRatio
from tests.targets.conftest import standard_segments


def test_conductance_ratio_hand_computed(store):
    # inh: time means 10, 10 -> 10; exc: 2, 2 -> 2
    assert ConductanceRatio("exc").compute(store) == pytest.approx(5.0)


@pytest.mark.parametrize("signals, reason", [
    ({"gsyn_exc": [[1.0, float("nan")]], "gsyn_inh": [[1.0, 2.0]]}, "NaN"),
    ({"gsyn_exc": [[0.0, 0.0]], "gsyn_inh": [[1.0, 2.0]]}, "is 0"),
    ({"gsyn_exc": [[1.0, 2.0]]}, "no signal 'gsyn_inh'"),
])
def test_degenerate_signals(store_factory, signals, reason):
    segs = standard_segments()[:1]
    segs[0] = dict(segs[0], signals=signals)
    out = targets.evaluate_target("c", ConductanceRatio("exc"), "exact", 5.0, 0.2, 20,
                                  store_factory(segs))
    assert out.score == 20 and reason in out.reason, out.reason
