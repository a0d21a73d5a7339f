"""Optimizers under test, all with the same batched ask/tell interface.

``make(name, dim, seed, budget, batch, total_max_score)`` returns an object with
``ask(n) -> array (n, dim)`` in the unit cube and ``tell(X, totals, failed, scores)``.
Peers are benchmark-only dependencies (requirements.txt); Nevergrad runs in a separate virtual
environment (``.venv-peers``) because it needs numpy < 2.4 -- see run.py.
"""

from __future__ import annotations

import dataclasses
import tempfile
from typing import Any

import numpy as np


def _reasons(failed: Any) -> list[Any]:
    """The problems' failure flags as simtune's reasons: a random crash of the job."""
    from simtune_core.record import Reason

    return [Reason.CRASHED if f else None for f in failed]


class RandomSearch:
    def __init__(self, dim, seed, **_):
        self.rng = np.random.default_rng([seed, 99])
        self.dim = dim

    def ask(self, n):
        return self.rng.random((n, self.dim))

    def tell(self, X, totals, failed, scores):
        pass


class Simtune:
    """simtune's optimizer as the controller builds it (make_optimizer), with overrides."""

    wants_values = True

    def __init__(self, dim, seed, batch, total_max_score, n_targets=None, terms=None, **opts):
        from orchestrator.config import OptimizerConfig
        from orchestrator.optimizer import make_optimizer

        opts.pop("budget", None)
        oc = dataclasses.replace(OptimizerConfig(offspring_size=batch, seed=seed), **opts)
        self._tmp = tempfile.mkdtemp(prefix="simtune-bench-")
        np.random.seed(seed)
        self.opt = make_optimizer(oc, np.full(dim, 0.5), total_max_score, self._tmp, n_targets,
                                  terms=terms)

    def ask(self, n):
        return np.array(self.opt.ask_batch(n))

    def tell(self, X, totals, failed, scores, values=None):
        self.opt.tell_batch(list(X), list(totals), _reasons(failed), [list(s) for s in scores],
                            None if values is None else [list(v) for v in values])


class SimtuneRestart(Simtune):
    """Experiment (not in optimizer.py): simtune's default restarted from a uniform random point
    (fresh CMA + surrogate, same sigma and batch) once the best observed total has not improved
    for ``k`` batches -- an early-triggered restart (pycma's criteria, which trigger simtune's own
    IPOP restarts, ``restarts: N``, rarely fire within 20 batches). The restarts keep the
    population."""

    def __init__(self, dim, seed, batch, total_max_score, n_targets=None, k=3, **opts):
        self._args = (dim, seed, batch, total_max_score, n_targets, opts)
        self.k, self.best, self.stall, self.n_restarts = k, np.inf, 0, 0
        super().__init__(dim, seed, batch, total_max_score, n_targets, **opts)

    def tell(self, X, totals, failed, scores, values=None):
        super().tell(X, totals, failed, scores, values)
        ok = [t for t, f in zip(totals, failed) if not f]
        b = min(ok, default=np.inf)
        if b < self.best:
            self.best, self.stall = b, 0
        else:
            self.stall += 1
        if self.stall >= self.k:
            dim, seed, batch, tms, nt, opts = self._args
            self.n_restarts += 1
            rng = np.random.default_rng([seed, 77, self.n_restarts])
            Simtune.__init__(self, dim, seed + 1000 * self.n_restarts, batch, tms, nt, **opts)
            self.opt.es.mean[:] = rng.random(dim)  # restart point
            self.best, self.stall = np.inf, 0


class SimtuneReEval(Simtune):
    """Experiment (not in optimizer.py): each batch spends ``r`` of its slots re-evaluating the
    points with the lowest mean observed total (at most ``max_repeats`` evaluations each); CMA is
    asked and told the other ``batch - r`` points. The harness's incumbent (lowest mean) then
    rests on averaged observations instead of one lucky draw."""

    def __init__(self, dim, seed, batch, total_max_score, n_targets=None, r=2, max_repeats=4,
                 **opts):
        super().__init__(dim, seed, batch, total_max_score, n_targets, **opts)
        self.r, self.max_repeats, self.obs, self.batch = r, max_repeats, {}, batch

    def ask(self, n):
        cands = sorted((np.mean(v), k) for k, v in self.obs.items() if len(v) < self.max_repeats)
        again = [np.frombuffer(k) for _, k in cands[: self.r]]
        self._n_new = n - len(again)
        return np.array(list(self.opt.ask_batch(self._n_new)) + again)

    def tell(self, X, totals, failed, scores, values=None):
        k = self._n_new
        self.opt.tell_batch(list(X[:k]), list(totals[:k]), _reasons(failed[:k]),
                            [list(s) for s in scores[:k]],
                            None if values is None else [list(v) for v in values[:k]])
        for x, t, f in zip(X, totals, failed):
            if not f:
                self.obs.setdefault(np.asarray(x, dtype=float).tobytes(), []).append(float(t))


class PycmaDefaults:
    """pycma with its defaults except popsize = batch (σ0 = 0.3 of the box, start at the centre)."""

    def __init__(self, dim, seed, batch, **_):
        import cma

        self.es = cma.CMAEvolutionStrategy(np.full(dim, 0.5), 0.3, {
            "bounds": [0, 1], "popsize": batch, "seed": seed + 1, "verbose": -9,
            "verb_log": 0, "verb_disp": 0})

    def ask(self, n):
        assert n == self.es.popsize
        return np.array(self.es.ask())

    def tell(self, X, totals, failed, scores):
        self.es.tell(list(X), list(totals))


class DeapCMA:
    """BluePyOpt's DEAPOptimisationCMA as the mozaik tool uses it: deap.cma.Strategy in [-1, 1],
    sigma 0.3, offspring clipped to the bounds (the clipped points are what the strategy learns
    from), fitness = the summed score."""

    def __init__(self, dim, seed, batch, **_):
        from deap import base, cma, creator

        if not hasattr(creator, "BenchFitMin"):
            creator.create("BenchFitMin", base.Fitness, weights=(-1.0,))
            creator.create("BenchInd", list, fitness=creator.BenchFitMin)
        np.random.seed(seed)
        self.creator = creator
        self.strategy = cma.Strategy(centroid=[0.0] * dim, sigma=0.3, lambda_=batch)

    def ask(self, n):
        pop = self.strategy.generate(self.creator.BenchInd)
        for ind in pop:
            for i, v in enumerate(ind):
                ind[i] = min(1.0, max(-1.0, v))
        self.pop = pop
        return (np.array(pop) + 1.0) / 2.0

    def tell(self, X, totals, failed, scores):
        for ind, t in zip(self.pop, totals):
            ind.fitness.values = (float(t),)
        self.strategy.update(self.pop)


class OptunaSampler:
    def __init__(self, dim, seed, kind, **_):
        import optuna

        optuna.logging.set_verbosity(optuna.logging.WARNING)
        if kind == "tpe":
            sampler = optuna.samplers.TPESampler(multivariate=True, seed=seed)
        else:
            sampler = optuna.samplers.CmaEsSampler(seed=seed)
        self.study = optuna.create_study(sampler=sampler)
        self.dist = {f"x{i}": optuna.distributions.FloatDistribution(0.0, 1.0) for i in range(dim)}
        self.dim = dim

    def ask(self, n):
        self.trials = [self.study.ask(self.dist) for _ in range(n)]
        return np.array([[t.params[f"x{i}"] for i in range(self.dim)] for t in self.trials])

    def tell(self, X, totals, failed, scores):
        import optuna

        for t, v, f in zip(self.trials, totals, failed):
            if f:
                self.study.tell(t, state=optuna.trial.TrialState.FAIL)
            else:
                self.study.tell(t, float(v))


class HyperoptTPE:
    """hyperopt's TPE through its own batch path (``tpe.suggest`` with several new ids, as
    ``fmin(max_queue_len=batch)`` calls it)."""

    def __init__(self, dim, seed, **_):
        from hyperopt import Domain, Trials, hp

        self.space = [hp.uniform(f"x{i}", 0.0, 1.0) for i in range(dim)]
        self.domain = Domain(lambda p: 0.0, self.space)
        self.trials = Trials()
        self.rng = np.random.default_rng(seed)
        self.dim = dim

    def ask(self, n):
        from hyperopt import tpe

        ids = self.trials.new_trial_ids(n)
        self.trials.refresh()
        self.new = tpe.suggest(ids, self.domain, self.trials, int(self.rng.integers(2**31 - 1)))
        return np.array([[d["misc"]["vals"][f"x{i}"][0] for i in range(self.dim)]
                         for d in self.new])

    def tell(self, X, totals, failed, scores):
        from hyperopt import STATUS_FAIL, STATUS_OK

        for d, v, f in zip(self.new, totals, failed):
            d["state"] = 2  # JOB_STATE_DONE
            d["result"] = {"status": STATUS_FAIL} if f else {"loss": float(v), "status": STATUS_OK}
        self.trials.insert_trial_docs(self.new)
        self.trials.refresh()


class NevergradOpt:
    def __init__(self, dim, seed, budget, batch, kind, **_):
        import nevergrad as ng

        param = ng.p.Array(shape=(dim,), lower=0.0, upper=1.0)
        param.random_state = np.random.RandomState(seed)
        cls = ng.optimizers.registry[kind]
        self.opt = cls(parametrization=param, budget=budget, num_workers=batch)

    def ask(self, n):
        self.cands = [self.opt.ask() for _ in range(n)]
        return np.array([c.value for c in self.cands])

    def tell(self, X, totals, failed, scores):
        for c, v in zip(self.cands, totals):
            self.opt.tell(c, float(v))


def _gate(s: Simtune, tau_min: float = -2.0, smooth: float | None = None) -> Simtune:
    """The composite model's rank gate set to ``tau_min`` (default: always open -- the
    ablation "without the rank gate") and, optionally, its smoothing (the tuning rows)."""
    s.opt.model.tau_min = tau_min  # type: ignore[attr-defined]
    if smooth is not None:
        s.opt.model.tau_smooth = smooth  # type: ignore[attr-defined]
    return s


def _windowed(s: Simtune, window: float, min_ratio: float) -> Simtune:
    """Tuning: the composite model's window and model-type schedule."""
    m = s.opt.model.model  # type: ignore[attr-defined]
    m.window, m.min_ratio = window, min_ratio
    return s


#: name -> (factory, runs in the peers' venv)
OPTIMIZERS: dict[str, tuple[Any, bool]] = {
    "simtune (default)": (lambda **k: Simtune(**k), False),
    "simtune, no surrogate": (lambda **k: Simtune(**k, surrogate="none"), False),
    "simtune, lq surrogate (previous default)": (lambda **k: Simtune(**k, surrogate="lq"),
                                                 False),
    "simtune, without the rank gate": (lambda **k: _gate(Simtune(**k)), False),
    # tuning of the composite model's constants (on seeds 20-29, apart from the reported 0-19;
    # docs/optimizer.md); only with --optimizers tuning:
    **{f"tuning: composite, gate {t}, smoothing {w}": (
        lambda t=t, w=w, **k: _gate(Simtune(**k, surrogate="composite"), t, w), False)
       for t in (0.2, 0.3, 0.4) for w in (1.0, 0.5, 0.3)},
    **{f"tuning: composite, window {w}, min ratio {r}": (
        lambda w=w, r=r, **k: _windowed(Simtune(**k, surrogate="composite"), w, r), False)
       for w in (2.0, 3.0, 5.0, 8.0) for r in (1.2, 2.0)},
    "simtune, popsize = batch (one CMA generation per batch)": (
        lambda **k: Simtune(**k, popsize=k["batch"]), False),
    "simtune, sigma0 1/6": (lambda **k: Simtune(**k, sigma=1 / 6), False),
    "simtune, IPOP (9 restarts at most)": (lambda **k: Simtune(**k, restarts=9), False),
    "simtune, max_score failures": (lambda **k: Simtune(**k, failure_policy="max_score"), False),
    "simtune, re-evaluate the 2 best (<= 4 times)": (lambda **k: SimtuneReEval(**k), False),
    "simtune, restart after 2 stalled generations": (lambda **k: SimtuneRestart(**k, k=2), False),
    "simtune, restart after 4 stalled generations": (lambda **k: SimtuneRestart(**k, k=4), False),
    "pycma defaults (popsize 20, σ0 0.3)": (lambda **k: PycmaDefaults(**k), False),
    "BluePyOpt-style DEAP CMA": (lambda **k: DeapCMA(**k), False),
    "Optuna TPE (multivariate)": (lambda **k: OptunaSampler(kind="tpe", **k), False),
    "Optuna CmaEsSampler": (lambda **k: OptunaSampler(kind="cma", **k), False),
    "Nevergrad NGOpt": (lambda **k: NevergradOpt(kind="NGOpt", **k), True),
    "Nevergrad CMA": (lambda **k: NevergradOpt(kind="CMA", **k), True),
    "hyperopt TPE": (lambda **k: HyperoptTPE(**k), False),
    "random search": (lambda **k: RandomSearch(**k), False),
}
