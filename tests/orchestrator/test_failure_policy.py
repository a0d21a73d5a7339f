"""What CMA-ES is told for failed evaluations: runaways worse than everything, crashes imputed."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from orchestrator.config import OptimizerConfig
from orchestrator.optimizer import make_optimizer
from orchestrator.optimizer.failure import Kind, kind_of
from simtune_core.record import Reason

DIM, BATCH, TOTAL_MAX = 4, 10, 40.0


#: two exact targets at 0 (norm 1, max_score 20): the first's value is the total, the second 0
TERMS = [("exact", 0.0, 1.0, TOTAL_MAX / 2)] * 2


def _opt(tmp_path, **kw):
    oc = dataclasses.replace(OptimizerConfig(offspring_size=BATCH, seed=5), **kw)
    return make_optimizer(oc, np.full(DIM, 0.5), TOTAL_MAX, tmp_path, n_targets=2, terms=TERMS)


def _totals(xs):
    return [float(np.sum((np.asarray(x) - 0.3) ** 2)) for x in xs]


def _tell(opt, xs, totals, reasons):
    return opt.tell_batch(xs, totals, reasons, None, [[t, 0.0] for t in totals])


@pytest.mark.parametrize("reason", [Reason.EXPLOSION, Reason.NAN, Reason.TIMEOUT,
                                    Reason.OUT_OF_MEMORY])
@pytest.mark.parametrize("surrogate", ["lq", "composite", "none"])
def test_a_runaway_is_told_worse_than_every_finished_point(tmp_path, reason, surrogate):
    opt = _opt(tmp_path, surrogate=surrogate)  # failure_policy: impute (the default)
    for _ in range(3):  # enough history for the lq model to be ready
        xs = opt.ask_batch(BATCH)
        _tell(opt, xs, _totals(xs), [None] * BATCH)
    xs = opt.ask_batch(BATCH)
    totals = _totals(xs)
    totals[4] = TOTAL_MAX  # every target capped, as the worker records a failure
    reasons: list[Reason | None] = [None] * BATCH
    reasons[4] = reason
    told = _tell(opt, xs, totals, reasons)
    ok = [t for i, t in enumerate(told) if i != 4]
    assert told[4] > TOTAL_MAX > max(ok)


@pytest.mark.parametrize("surrogate", ["lq", "composite", "none"])
def test_a_crash_is_imputed_within_the_batch(tmp_path, surrogate):
    opt = _opt(tmp_path, surrogate=surrogate)
    xs = opt.ask_batch(BATCH)
    totals = _totals(xs)
    observed = [t for i, t in enumerate(totals) if i != 2]
    totals[2] = TOTAL_MAX
    reasons: list[Reason | None] = [None] * BATCH
    reasons[2] = Reason.CRASHED
    told = _tell(opt, xs, totals, reasons)
    assert min(observed) <= told[2] <= max(observed)  # the model's rank among the batch
    if surrogate == "none":  # no model: the median of the batch
        assert told[2] == pytest.approx(float(np.median(observed)))


def test_penalize_tells_a_crash_like_a_runaway(tmp_path):
    opt = _opt(tmp_path, failure_policy="penalize")
    xs = opt.ask_batch(BATCH)
    totals = _totals(xs)
    totals[2] = TOTAL_MAX
    told = _tell(opt, xs, totals, [None, None, Reason.CRASHED] + [None] * (BATCH - 3))
    assert told[2] > TOTAL_MAX


def test_every_reason_has_a_kind():
    runaway = {r for r in Reason if kind_of(TOTAL_MAX, r, TOTAL_MAX) is Kind.RUNAWAY}
    assert runaway == {Reason.EXPLOSION, Reason.NAN, Reason.TIMEOUT, Reason.OUT_OF_MEMORY,
                       Reason.ABORTED}
    assert kind_of(TOTAL_MAX, None, TOTAL_MAX) is Kind.RUNAWAY  # ok, every target capped
    assert kind_of(1.0, None, TOTAL_MAX) is Kind.OK
    assert kind_of(1.0, Reason.LOST, TOTAL_MAX) is Kind.CRASH
