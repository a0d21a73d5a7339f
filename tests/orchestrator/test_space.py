"""The parameter space: unit-cube mapping, constants, derived expressions, integer and log."""

from __future__ import annotations

import math

import numpy as np
import pytest

from orchestrator.space import ParameterSpace, SafeExpression, SpaceError


def space(**spec):
    return ParameterSpace.from_config(spec)


def test_unit_round_trip_and_order() -> None:
    s = space(x=[-2.0, 6.0], k=3.0, y=[10, 20], z="x * k + y")
    assert s.free_names == ["x", "y"] and s.names == ["x", "k", "y", "z"]
    vals = s.from_unit([0.25, 0.5])
    assert vals == {"x": 0.0, "k": 3.0, "y": 15.0, "z": 15.0}
    assert list(vals) == ["x", "k", "y", "z"]
    assert np.allclose(s.to_unit(vals), [0.25, 0.5])
    assert s.from_unit([-1.0, 2.0])["x"] == -2.0  # clipped to the bounds


def test_log_and_integer() -> None:
    s = space(rate={"low": 1.0, "high": 100.0, "log": True}, n={"low": 10, "high": 20,
                                                                  "integer": True})
    v = s.from_unit([0.5, 0.52])
    assert math.isclose(v["rate"], 10.0)
    assert v["n"] == 15.0 and float(v["n"]).is_integer()
    assert s.centroid(None) == {"rate": pytest.approx(10.0), "n": 15.0}


def test_expressions_are_arithmetic_only() -> None:
    assert SafeExpression("max(a, 2) ** 2 - sqrt(b) % 3").evaluate({"a": 1, "b": 16}) == 3.0
    for bad in ["__import__('os')", "a.__class__", "[a]", "lambda: 1", "a if b else c",
                "open('x')", "'str'", "a[0]", "(lambda: 0)()", "exp(x=1)"]:
        with pytest.raises(ValueError):
            SafeExpression(bad)


def test_derived_value_that_cannot_be_computed_is_nan() -> None:
    s = space(x=[0.0, 1.0], y=[0.0, 1.0], r="x / (y - y)")
    assert math.isnan(s.from_unit([0.5, 0.5])["r"])


def test_chained_expressions_and_cycles() -> None:
    s = space(x=[0.0, 1.0], y=[0.0, 1.0], b="a + 1", a="x * 2")
    assert s.from_unit([0.5, 0.0])["b"] == 2.0
    with pytest.raises(SpaceError, match="cycle"):
        space(x=[0.0, 1.0], a="b", b="a")


def test_complete_from_free_values() -> None:
    s = space(x=[0.0, 10.0], y=[0.0, 1.0], c=2.0, d="x + c")
    assert s.complete({"x": 4.0, "y": 0.5}) == {"x": 4.0, "y": 0.5, "c": 2.0, "d": 6.0}


def test_expressions_do_bounded_work() -> None:
    """An expression is user input: evaluating one is a handful of float operations, whatever it
    says (Python's integers would compute 9**9**9 for minutes)."""
    import time

    t0 = time.process_time()
    with pytest.raises(ValueError, match="OverflowError"):
        SafeExpression("9 ** 9 ** 9").evaluate({})
    with pytest.raises(ValueError, match="OverflowError"):
        SafeExpression("floor(a) ** floor(a) ** 99").evaluate({"a": 1e300})
    assert time.process_time() - t0 < 1.0  # a bound of work, not a timing: seconds -> hours
    with pytest.raises(ValueError, match="nested at most"):
        SafeExpression("(" * 200 + "a" + ")" * 200 + " + " + "-" * 300 + "a")
    with pytest.raises(ValueError, match="at most 2000 characters"):
        SafeExpression(" + ".join(["a"] * 1000))
    assert SafeExpression("2 ** 10 + round(a)").evaluate({"a": 1.6}) == 1026.0


def test_a_derived_parameter_that_cannot_be_evaluated_fails_validation(write_config,
                                                                       capsys) -> None:
    from orchestrator.cli import main

    cfg = write_config(parameters={"a": [0.0, 1.0], "b": [0.0, 1.0], "d": "9 ** 9 ** 9 + a"})
    assert main(["validate", str(cfg)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1
    assert err.startswith("simtune: parameters.d: expected an expression that can be evaluated "
                          "at the centroid, found '9 ** 9 ** 9 + a' cannot be evaluated: "
                          "OverflowError")
