"""The composite surrogate (``surrogate: composite``, orchestrator/optimizer/composite.py)."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from orchestrator.config import OptimizerConfig
from orchestrator.optimizer import make_optimizer
from orchestrator.optimizer.composite import CompositeModel
from simtune_core.record import Reason
from targets import score_array, score_value, target_interval

D = 5
M = 20.0
RNG = np.random.default_rng(0)
A = RNG.standard_normal((3, D))  # three linear values v = A x + b
B = np.array([0.5, -1.0, 2.0])
XSTAR = np.array([0.4, 0.55, 0.35, 0.6, 0.5])
#: targets met at XSTAR: exact, at_least (met at equality), range around the value there
V_STAR = A @ XSTAR + B
TERMS = [("exact", float(V_STAR[0]), 0.05, M), ("at_least", float(V_STAR[1]), 0.1, M),
         ("range", [float(V_STAR[2]) - 0.01, float(V_STAR[2]) + 0.01], 0.2, M)]


def _values(X):
    return np.atleast_2d(X) @ A.T + B


def _true_total(X):
    V = _values(X)
    return sum(score_value(v, k, t, n, m)[0] for v, (k, t, n, m) in zip(V[0], TERMS))


@pytest.mark.parametrize("kind,tv", [("exact", 1.0), ("at_least", 1.0), ("at_most", 1.0),
                                      ("range", [0.5, 1.5])])
def test_the_array_formula_is_score_value(kind, tv):
    v = np.linspace(-30, 30, 601)
    lo, hi = target_interval(kind, tv)
    got = score_array(v[:, None], np.array([lo]), np.array([hi]), np.array([0.3]),
                      np.array([M]))[:, 0]
    want = [score_value(x, kind, tv, 0.3, M)[0] for x in v]
    np.testing.assert_array_equal(got, want)


def test_linear_values_are_modelled_exactly_and_composed_into_the_true_total():
    model = CompositeModel(TERMS, D)
    X = RNG.random((2 * D + 4, D))
    for x, v in zip(X, _values(X)):
        model.add(x, v)
    assert model.ready
    Y = RNG.random((50, D))
    np.testing.assert_allclose(model.values(Y), _values(Y), rtol=1e-7, atol=1e-7)
    np.testing.assert_allclose(model.predict(Y), [_true_total(y) for y in Y], atol=1e-5)


def test_the_candidate_is_the_composed_minimiser_within_the_trust_region():
    model = CompositeModel(TERMS, D)
    X = np.clip(XSTAR + 0.2 * RNG.standard_normal((3 * D, D)), 0, 1)
    for x, v in zip(X, _values(X)):
        model.add(x, v)
    # the three targets fix three of five directions: every point of an affine plane through
    # XSTAR scores 0; the candidate must be on it (true total ~ 0), though not XSTAR itself
    mean = np.clip(XSTAR + 0.05, 0, 1)
    x = model.candidate(mean, 0.1, np.eye(D), np.random.default_rng(1))
    assert _true_total(x) < 1e-3
    assert np.all(np.abs(x - mean) <= 3 * 0.1 + 1e-12)  # TRUST standard deviations


def test_undefined_values_are_a_feasibility_region_not_numbers():
    model = CompositeModel(TERMS, D)
    X = RNG.random((60, D))
    V = _values(X)
    dead = X[:, 0] > 0.6  # "the simulation produced nothing" there: every value undefined
    for x, v, d in zip(X, V, dead):
        model.add(x, None if d else v)
    live = X[~dead][:5]
    # the value models are still exact (no NaN or stand-in number leaked into them)
    np.testing.assert_allclose(model.values(live), _values(live), atol=1e-7)
    p = model.feasible(np.array([[0.1] + [0.5] * (D - 1), [0.95] + [0.5] * (D - 1)]))
    assert p[0].min() > 0.8 and p[1].max() < 0.2
    # the expected total in the dead region approaches the cap of every target
    assert model.predict(np.array([[0.99] + [0.5] * (D - 1)]))[0] > 0.8 * 3 * M


def test_one_undefined_target_leaves_the_others_modelled():
    model = CompositeModel(TERMS, D)
    X = RNG.random((40, D))
    for x, v in zip(X, _values(X)):
        model.add(x, [v[0], np.nan if x[1] > 0.5 else v[1], v[2]])
    P = model.feasible(np.array([[0.5, 0.05, 0.5, 0.5, 0.5], [0.5, 0.95, 0.5, 0.5, 0.5]]))
    assert P[0, 0] == 1.0 and P[1, 0] == 1.0  # target 0 was always defined
    assert P[0, 1] > 0.8 and P[1, 1] < 0.2


def test_the_recorded_spread_weights_the_value_models():
    rng = np.random.default_rng(5)
    X = rng.random((40, D))
    clean = _values(X)
    noisy = clean.copy()
    bad = np.arange(40) % 4 == 0  # a quarter of the rows off by a lot, with a large spread
    noisy[bad] += 5.0
    std = np.where(bad[:, None], 10.0, 0.0) * np.ones((1, 3))
    weighted, unweighted = CompositeModel(TERMS, D), CompositeModel(TERMS, D)
    for x, v, s in zip(X, noisy, std):
        weighted.add(x, v, s)
        unweighted.add(x, v)
    Y = rng.random((20, D))
    err_w = np.abs(weighted.values(Y) - _values(Y)).max()
    err_u = np.abs(unweighted.values(Y) - _values(Y)).max()
    assert err_w < 0.05 < err_u


def _optimizer(tmp_path, **kw):
    oc = dataclasses.replace(OptimizerConfig(offspring_size=10, seed=2, surrogate="composite"),
                             **kw)
    return make_optimizer(oc, np.full(D, 0.5), 3 * M, tmp_path, n_targets=3, terms=TERMS)


def _tell(opt, xs, crash=()):
    V = _values(np.array(xs))
    totals = [3 * M if i in crash else _true_total(x) for i, x in enumerate(xs)]
    return opt.tell_batch(xs, totals, [Reason.CRASHED if i in crash else None
                                       for i in range(len(xs))],
                          None, [list(v) for v in V])


def test_crashes_are_not_learned_and_runaways_are_learned_as_undefined(tmp_path):
    opt = _optimizer(tmp_path)
    xs = opt.ask_batch(10)
    V = _values(np.array(xs))
    reasons = [None] * 10
    reasons[0], reasons[1] = Reason.CRASHED, Reason.EXPLOSION
    totals = [_true_total(x) for x in xs]
    opt.tell_batch(xs, totals, reasons, None, [list(v) for v in V])
    model = opt.model.model
    assert isinstance(model, CompositeModel)
    assert len(model.X) == 9  # the crash is not a row
    row = next(i for i, x in enumerate(model.X) if np.array_equal(x, xs[1]))
    assert np.isnan(model.V[row]).all()  # the explosion's values are undefined
    assert model.size == 8


def test_composite_needs_values_and_terms(tmp_path):
    opt = _optimizer(tmp_path)
    xs = opt.ask_batch(10)
    with pytest.raises(ValueError, match="values"):
        opt.tell_batch(xs, [1.0] * 10, [None] * 10)
    oc = OptimizerConfig(offspring_size=10, seed=2, surrogate="composite")
    with pytest.raises(ValueError, match="terms"):
        make_optimizer(oc, np.full(D, 0.5), 3 * M, tmp_path, n_targets=3)


def test_the_model_candidate_is_injected_while_it_ranks_well(tmp_path):
    opt = _optimizer(tmp_path)
    for _ in range(3):
        _tell(opt, opt.ask_batch(10))
    assert opt.model.tau > 0.9  # exact linear values: the model ranks new points right
    xs = opt.ask_batch(10)  # a new CMA generation: the model's candidate is its first point
    assert _true_total(xs[0]) < min(_true_total(x) for x in xs[1:])
    _tell(opt, xs)
    opt.model.tau = -1.0  # a model that ranked the last group wrongly offers nothing
    xs = opt.ask_batch(10)
    assert _true_total(xs[0]) > 1e-3


def test_async_tell_one_feeds_the_composite_model(tmp_path):
    opt = _optimizer(tmp_path, mode="async")
    for _ in range(opt.popsize):
        x = opt.ask_one()
        opt.tell_one(x, _true_total(x), None, None, list(_values(x)[0]))
    assert isinstance(opt.model.model, CompositeModel)
    assert len(opt.model.model.X) == opt.popsize


def test_the_optimizer_runs_its_models_with_one_blas_thread():
    from threadpoolctl import threadpool_info

    from orchestrator.optimizer.surrogate import one_blas_thread

    seen = one_blas_thread(lambda: [i["num_threads"] for i in threadpool_info()
                                    if i["user_api"] == "blas"])()
    assert seen and all(n == 1 for n in seen)


def test_the_rows_kept_are_bounded_and_the_most_recent(monkeypatch):
    from orchestrator.optimizer import composite

    monkeypatch.setattr(composite, "MAX_ROWS", 30)
    model = CompositeModel(TERMS, D)
    X = RNG.random((45, D))
    for x, v in zip(X, _values(X)):
        model.add(x, v)
    assert len(model.X) == len(model.V) == len(model.S) == 30
    np.testing.assert_array_equal(model.X, X[-30:])
