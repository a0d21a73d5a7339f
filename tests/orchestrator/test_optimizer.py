"""The optimizers behind ``optimizer.algorithm`` (fast: the whole file runs in seconds)."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest

from orchestrator.config import OptimizerConfig
from orchestrator.optimizer import (
    CMAOptimizer,
    NSGA2Optimizer,
    make_optimizer,
    optimizer_from_state,
)
from orchestrator.pareto import pareto_front
from simtune_core.record import Reason

DIM, BATCH, M = 6, 10, 10.0  # M: max_score per target; DIM targets


def _oc(**kw):
    """The ``optimizer`` section: its defaults with batch BATCH and seed 3; ``kw`` overrides."""
    return dataclasses.replace(OptimizerConfig(offspring_size=BATCH, seed=3), **kw)


XOPT = np.linspace(0.25, 0.75, DIM)
W = 10.0 ** np.linspace(0, 2, DIM)
#: the targets as the composite surrogate sees them: value i is x_i, exact XOPT_i, norm 1/W_i
TERMS = [("exact", float(t), float(1 / w), M) for t, w in zip(XOPT, W)]


def _make(tmp_path, **kw):
    np.random.seed(12345)  # pycma reseeds from its seed option anyway
    return make_optimizer(_oc(**kw), np.full(DIM, 0.5), DIM * M, tmp_path, n_targets=DIM,
                          terms=TERMS)


def _scores(x):
    """Capped exact-target scores of an ellipsoid (axis ratio 100)."""
    return np.minimum(M, W * np.abs(np.asarray(x) - XOPT))


def _run(opt, gens, fail=lambda g, i: False):
    asked = []
    for g in range(gens):
        xs = opt.ask_batch(BATCH)
        asked.append(np.array(xs))
        sc = [_scores(x) for x in xs]
        failed = [fail(g, i) for i in range(BATCH)]
        totals = [DIM * M if f else float(s.sum()) for s, f in zip(sc, failed)]
        opt.tell_batch(xs, totals, [Reason.CRASHED if f else None for f in failed],
                       [list(s) for s in sc], [list(x) for x in xs])
    return asked


@pytest.mark.parametrize("kw", [{}, {"surrogate": "none"}, {"screen_factor": 2.0},
                                {"algorithm": "nsga2"}, {"surrogate": "composite"},
                                {"surrogate": "composite", "screen_factor": 2.0}])
def test_same_seed_same_points(tmp_path, kw):
    a = _run(_make(tmp_path, **kw), 6)
    b = _run(_make(tmp_path, **kw), 6)
    assert all(np.array_equal(x, y) for x, y in zip(a, b))


@pytest.mark.parametrize("kw", [{}, {"screen_factor": 2.0}, {"algorithm": "nsga2"},
                                {"surrogate": "composite"},
                                {"surrogate": "composite", "screen_factor": 2.0}])
def test_resume_from_state_mid_run_asks_the_same_points(tmp_path, kw):
    full = _run(_make(tmp_path, **kw), 10)
    opt = _make(tmp_path, **kw)
    first = _run(opt, 5)
    blob = opt.state()
    np.random.seed(999)  # anything else using the global RNG in between must not matter
    np.random.random(7)
    resumed = optimizer_from_state(blob)
    assert type(resumed) is type(opt)
    rest = _run(resumed, 5)
    assert all(np.array_equal(x, y) for x, y in zip(full, first + rest))
    # each class restores only its own kind (the controller calls optimizer_from_state)
    other = NSGA2Optimizer if isinstance(opt, CMAOptimizer) else CMAOptimizer
    with pytest.raises(ValueError):
        other.from_state(blob)


@pytest.mark.parametrize("policy", ["impute", "penalize"])
def test_failures_do_not_stop_cma_or_blow_up_sigma(tmp_path, policy):
    opt = _make(tmp_path, failure_policy=policy, stop_on_convergence=True)
    s0 = opt.sigma
    # the first four generations fail entirely (every evaluation max_score), then 30 % fail
    _run(opt, 12, fail=lambda g, i: g < 4 or (i * 7 + g) % 10 < 3)
    assert "tolflatfitness" not in opt.es.stop()
    assert opt.stop_reasons() == {} or "tolflatfitness" not in opt.stop_reasons()
    assert opt.sigma < 2 * s0
    assert np.all(np.isfinite(opt.mean))


def test_all_failed_batch_with_max_score_policy_is_still_told(tmp_path):
    opt = _make(tmp_path, failure_policy="max_score", surrogate="none",
                stop_on_convergence=True)
    for _ in range(3):  # flat batches
        xs = opt.ask_batch(BATCH)
        opt.tell_batch(xs, [DIM * M] * BATCH, [Reason.CRASHED] * BATCH)
    assert opt.generation == 3 * BATCH // opt.popsize  # every CMA generation of a batch told
    assert "tolflatfitness" not in opt.stop_reasons()


def test_ignored_stop_criteria_never_end_the_run(tmp_path, monkeypatch):
    """... and ignores it (and maxiter/maxfevals) even where pycma reports it."""
    from orchestrator.optimizer import IGNORED_STOPS

    assert {"tolflatfitness", "maxiter", "maxfevals"} <= IGNORED_STOPS
    opt = _make(tmp_path, stop_on_convergence=True)
    fired = {"tolflatfitness": 1, "maxiter": 100, "maxfevals": 1000, "tolx": 1e-11}
    monkeypatch.setattr(opt.es, "stop", lambda: dict(fired))
    assert opt.stop_reasons() == {"tolx": 1e-11}


def _best_after(opt_or_none, evals, seed=0):
    if opt_or_none is None:  # random search
        X = np.random.default_rng(seed).random((evals, DIM))
        return min(float(_scores(x).sum()) for x in X)
    best = np.inf
    for _ in range(evals // BATCH):
        xs = opt_or_none.ask_batch(BATCH)
        sc = [_scores(x) for x in xs]
        opt_or_none.tell_batch(xs, [float(s.sum()) for s in sc], [None] * BATCH,
                               [list(s) for s in sc], [list(x) for x in xs])
        best = min(best, min(float(s.sum()) for s in sc))
    return best


@pytest.mark.parametrize("surrogate", ["composite", "lq"])
def test_default_converges_on_a_small_ellipsoid(tmp_path, surrogate):
    best = _best_after(_make(tmp_path, surrogate=surrogate), 300)
    rand = min(_best_after(None, 300, s) for s in range(5))
    # random search with 300 evaluations stays above ~5 (best of five runs); the default
    # reaches (near) the optimum
    assert rand > 3.0
    assert best < 0.5


def test_popsize_larger_than_batch_is_prescreened(tmp_path):
    opt = _make(tmp_path, screen_factor=3.0)
    assert opt.popsize == 3 * BATCH
    _run(opt, 3)
    xs = opt.ask_batch(BATCH)
    assert len(xs) == BATCH
    with pytest.raises(RuntimeError):
        opt.ask_batch(BATCH)


def test_nsga2_returns_a_front(tmp_path):
    opt = _make(tmp_path, algorithm="nsga2")
    assert isinstance(opt, NSGA2Optimizer)
    _run(opt, 8)
    front = opt.front()
    assert 1 <= len(front) <= BATCH
    objs = np.array([f for _, f in front])
    assert objs.shape[1] == DIM
    for i in range(len(objs)):  # mutually non-dominated
        for j in range(len(objs)):
            assert not (np.all(objs[j] <= objs[i]) and np.any(objs[j] < objs[i]))
    assert np.isfinite(opt.sigma) and opt.mean.shape == (DIM,)
    assert opt.covariance.shape == (DIM, DIM)
    assert opt.stop_reasons() == {}


def test_pareto_front_of_a_dataframe():
    df = pd.DataFrame({"a": [1, 2, 3, 1, 4, np.nan], "b": [3, 2, 1, 4, 4, 0],
                       "other": list("uvwxyz")})
    front = pareto_front(df, ["a", "b"])
    assert list(front.index) == [0, 1, 2]  # 3 is dominated by 0, 4 by 1, 5 has a NaN score
    assert list(front.columns) == ["a", "b", "other"]
    assert pareto_front(df.iloc[:0], ["a", "b"]).empty


def test_default_population_is_half_the_batch_and_a_batch_spans_two_cma_generations(tmp_path):
    opt = _make(tmp_path)
    assert opt.popsize == BATCH // 2
    xs = opt.ask_batch(BATCH)
    assert opt.generation == 0
    sc = [_scores(x) for x in xs]
    # the first CMA generation is told as soon as the batch is: two updates per batch
    opt.tell_batch(xs, [float(s.sum()) for s in sc], [None] * BATCH, [list(s) for s in sc],
                   [list(x) for x in xs])
    assert opt.generation == 2
    # both halves were sampled from the initial distribution around x0, none repeated
    assert len({np.asarray(x).tobytes() for x in xs}) == BATCH


def test_population_larger_than_batch_spans_batches(tmp_path):
    opt = _make(tmp_path, popsize=7, surrogate="none")
    gens = []
    for _ in range(7):  # 70 evaluations = 10 CMA generations of 7
        xs = opt.ask_batch(BATCH)
        sc = [_scores(x) for x in xs]
        opt.tell_batch(xs, [float(s.sum()) for s in sc], [None] * BATCH, [list(s) for s in sc],
                   [list(x) for x in xs])
        gens.append(opt.generation)
    # a CMA generation is told only once all its points are: 10, 20, 30... evaluations -> 1, 2, 4
    assert gens == [(10 * (k + 1)) // 7 for k in range(7)]


@pytest.mark.parametrize("kw", [{"popsize": 7}, {"popsize": 13, "surrogate": "none"}])
def test_resume_with_a_cma_generation_straddling_batches(tmp_path, kw):
    full = _run(_make(tmp_path, **kw), 8)
    opt = _make(tmp_path, **kw)
    first = _run(opt, 3)  # 30 evaluations: the open generation is part-asked
    assert opt._open and opt._open[-1]["asked"] < opt.popsize
    rest = _run(optimizer_from_state(opt.state()), 5)
    assert all(np.array_equal(x, y) for x, y in zip(full, first + rest))


def test_screening_needs_a_population_larger_than_the_batch(write_config):
    from orchestrator.config import ConfigError, load_config

    for popsize, ok in ((2, False), (4, False), (8, True)):  # offspring_size 4
        path = write_config(optimizer={"popsize": popsize, "screen_factor": 2})
        if ok:
            assert load_config(path).optimizer.popsize == popsize
        else:
            with pytest.raises(ConfigError, match="optimizer.popsize"):
                load_config(path)
    # without pre-screening a population below the batch is fine
    assert load_config(write_config(optimizer={"popsize": 2})).optimizer.popsize == 2


def test_ipop_restarts_grow_the_population_and_resume_exactly(tmp_path):
    kw = {"restarts": 2, "cma_options": {"tolx": 0.2}}  # tolx that fires within a few batches
    opt = _make(tmp_path, **kw)
    p0 = opt.popsize
    _run(opt, 6)
    assert opt.n_restarts == 2 and opt.restarts_left == 0
    assert opt.popsize == 4 * p0  # incpopsize 2, twice
    assert opt.generation > opt.es.countiter  # generations of the earlier runs still counted
    no_restart = _make(tmp_path, cma_options={"tolx": 0.2})
    _run(no_restart, 6)
    assert no_restart.popsize == p0 and no_restart.n_restarts == 0
    # a resumed run restarts at the same points
    full = _run(_make(tmp_path, **kw), 8)
    opt = _make(tmp_path, **kw)
    first = _run(opt, 3)
    rest = _run(optimizer_from_state(opt.state()), 5)
    assert all(np.array_equal(x, y) for x, y in zip(full, first + rest))


def test_a_state_of_the_previous_version_resumes_with_its_lq_model(tmp_path):
    """States written before the surrogate interface hold pycma's bare LQModel."""
    import pickle

    from orchestrator.optimizer.surrogate import LQSurrogate

    opt = _make(tmp_path, surrogate="lq")
    _run(opt, 4)
    d = pickle.loads(opt.state())
    d["model"] = pickle.dumps(pickle.loads(d["model"]).model)  # as the previous version wrote
    old = CMAOptimizer.from_state(pickle.dumps(d))
    assert isinstance(old.model, LQSurrogate) and old.model.ready
    new = CMAOptimizer.from_state(opt.state())
    assert all(np.array_equal(a, b) for a, b in zip(_run(old, 3), _run(new, 3)))
