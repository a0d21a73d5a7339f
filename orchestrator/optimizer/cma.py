"""CMA-ES over the unit cube of the free parameters, driven by batched ask/tell.

``algorithm: cma`` (the default) is pycma's CMA-ES used as it is -- ``CMAEvolutionStrategy`` with
``bounds=[0, 1]`` (its own boundary handling), ``seed`` set, its files under the run directory, its
state saved with ``pickle_dumps`` -- plus what pycma does not decide for a batch of expensive,
sometimes failing, noisy simulations (see docs/optimizer.md for the measurements behind each):

* **batch and CMA population decoupled**: ``ask_batch(n)`` hands out the next ``n`` samples of
  the open CMA generations, drawing new ones from the current distribution as needed, and
  ``tell_batch`` tells each generation to pycma as soon as all its points are back. The default
  population is half the batch: a batch of 20 is two CMA generations of 10 (the second sampled
  before the first is told, as Optuna's CmaEsSampler does), twice the updates per batch; a
  population larger than the batch spans batches.
* **surrogate** (``surrogate``, :mod:`orchestrator.optimizer.surrogate`): a model learns every
  told group (``composite``, the default: each target's value composed through the exact score
  function; ``lq``: pycma's LQModel of the summed squared scores). Once per batch its best point
  is injected into the next CMA generation (pycma's ``inject``; Nevergrad's "MetaModel" idea).
  With ``screen_factor > 1`` it also pre-screens: a CMA population of ``screen_factor x batch``
  is sampled, the ``batch`` most promising are simulated, and CMA is told the screened-out
  points ranked behind them in the model's order.
* **restarts** (``restarts``, off by default): IPOP-CMA-ES -- when pycma's own stop criteria
  fire, a new CMA-ES from a uniform random point with ``incpopsize`` times the population.
* **failures**: :mod:`orchestrator.optimizer.failure` decides what a runaway and a crash are told
  (``failure_policy``); crashes never fit a surrogate.
* **stopping**: the run ends at ``max_ngen``; pycma's own criteria (tolx, tolfun, ...) end it only
  with ``stop_on_convergence: true``.

Randomness: pycma samples from NumPy's global random state (seeded by the ``seed`` option), so the
state saved by :meth:`CMAOptimizer.state` includes it; the model's candidates and restart points
come from generators seeded by (seed, generation). Restoring a state makes a resumed run ask
exactly the points the uninterrupted run asks.
"""

from __future__ import annotations

import copy
import logging
import math
import pickle
import warnings
from pathlib import Path
from typing import Any, Mapping, Sequence

import cma
import cma.evolution_strategy
import numpy as np

from orchestrator.optimizer.composite import CompositeModel
from orchestrator.optimizer.failure import FAILURE_POLICIES, Kind, impute, kind_of, runaway_value
from orchestrator.optimizer.surrogate import (
    CompositeSurrogate,
    LQSurrogate,
    Term,
    make_surrogate,
    one_blas_thread,
)
from simtune_core.record import Reason

log = logging.getLogger("simtune.optimizer")

__all__ = ["CMAOptimizer", "IGNORED_STOPS"]

#: pycma stop reasons never honoured (handled by the failure policy or by max_ngen)
IGNORED_STOPS = frozenset({"tolflatfitness", "maxiter", "maxfevals"})



class CMAOptimizer:
    """Batch ask/tell CMA-ES in ``[0, 1]^dim``.

    Parameters
    ----------
    x0
        Start point in the unit cube.
    sigma
        Initial step size (fraction of the box).
    popsize
        CMA population (solutions per CMA generation), independent of the batch; with
        ``screen`` larger than the batch (``screen_factor x batch``).
    seed
        pycma's seed (also seeds NumPy's global random state, which pycma samples from).
    total_max_score
        Sum of the targets' ``max_score`` (fitness of a failure before the tie-break).
    log_dir
        Where pycma may write files (``verb_filenameprefix``).
    surrogate
        ``"lq"`` (pycma's LQModel of the summed squared scores), ``"composite"`` (a model of
        each target's value, :mod:`.composite`; needs ``terms``) or ``"none"``.
    inject_model_optimum
        With a surrogate: inject its candidate (:mod:`.surrogate`) once per batch.
    terms
        Each target's ``(kind, target_value, norm, max_score)`` (the composite surrogate's).
    """

    def __init__(
        self,
        x0: Sequence[float],
        sigma: float,
        popsize: int,
        seed: int,
        total_max_score: float,
        log_dir: Path,
        cma_options: Mapping[str, Any] | None = None,
        failure_policy: str = "impute",
        stop_on_convergence: bool = False,
        surrogate: str = "lq",
        inject_model_optimum: bool = True,
        screen: bool = False,
        restarts: int = 0,
        incpopsize: float = 2.0,
        terms: Sequence[Term] | None = None,
    ) -> None:
        if failure_policy not in FAILURE_POLICIES:
            raise ValueError(f"failure_policy must be one of {FAILURE_POLICIES}")
        given = dict(cma_options or {})
        given.update({
            "seed": int(seed) if seed else 1234567,  # pycma treats 0 as "random"
            "bounds": [0.0, 1.0],
            "popsize": int(popsize),
            "verb_filenameprefix": str(Path(log_dir) / "cma_"),
            "verbose": -9,
            "verb_log": 0,
            "verb_disp": 0,
            "tolflatfitness": 10**9,
            "CMA_mirrors": 0,  # mirrored pairs would straddle batches (and CMA generations)
        })
        opts = cma.CMAOptions()
        opts.set(given)
        start = np.clip(np.asarray(x0, dtype=float), 0.0, 1.0)
        if start.size == 1:  # pycma refuses 1-D problems; a dummy coordinate keeps one working
            raise ValueError("CMA-ES needs at least 2 free parameters; add one or use bounds")
        self.es = cma.CMAEvolutionStrategy(start, float(sigma), opts)
        self._cma_opts = given  # for restarts (plain values: no bound RNG methods to pickle)
        self._sigma0 = float(sigma)
        self.restarts_left = int(restarts)
        self.incpopsize = float(incpopsize)
        self.n_restarts = 0
        self._iter_offset = 0  # CMA generations of the runs before the last restart
        self.total_max_score = float(total_max_score)
        self.failure_policy = failure_policy
        self.stop_on_convergence = stop_on_convergence
        self.surrogate = surrogate
        self.inject_model_optimum = bool(inject_model_optimum)
        self.terms: list[Term] = [tuple(t) for t in terms or ()]  # type: ignore[misc]
        self.model = make_surrogate(surrogate, self.dim, self.terms)
        self.screen = bool(screen) and self.model is not None
        self._pending: dict[str, Any] | None = None  # screening: the CMA generation in flight
        self._open: list[dict[str, Any]] = []  # no screening: CMA generations not yet told
        self._batch: list[tuple[dict[str, Any], int]] | None = None  # (generation, index) per point
        self._told_since_ask = False
        self._injected = False
        self._queue: list[np.ndarray] = []  # async: samples of the current generation not asked
        self._async_buffer: list[tuple[Any, ...]] = []
        self._async_out = 0  # async: points asked and not yet told
        self.n_told = 0

    # -- ask / tell -------------------------------------------------------------------------------
    @property
    def popsize(self) -> int:
        return int(self.es.popsize)

    @property
    def dim(self) -> int:
        return int(self.es.N)

    def _model_ready(self) -> bool:
        return self.model is not None and self.model.ready

    def _predict(self, X: np.ndarray) -> np.ndarray:
        """The surrogate's predictions for the rows of ``X`` (call only when it is ready)."""
        assert self.model is not None
        return np.asarray(self.model.evalpop(X), dtype=np.float64)

    def ask(self) -> list[np.ndarray]:
        """One batch of ``popsize`` points (no pre-screening)."""
        return self.ask_batch(self.popsize)

    @one_blas_thread
    def ask_batch(self, n: int) -> list[np.ndarray]:
        """``n`` points to evaluate in parallel (the controller's generation).

        Without pre-screening the batch is decoupled from the CMA population: it takes the next
        ``n`` samples of the open CMA generations, drawing new generations from the current
        distribution as needed (a batch of 20 with ``popsize`` 10 is two CMA generations, told
        one after the other; ``popsize`` 30 spans batches). With pre-screening (``screen``) one
        CMA generation of ``popsize > n`` samples is drawn and the ``n`` the model predicts best
        are returned. Call :meth:`tell_batch` with their results before asking again.
        """
        if self._pending is not None or self._batch is not None:
            raise RuntimeError("ask_batch called twice without tell_batch")
        if self.screen and n < self.popsize:
            X = self._draw()
            if self._model_ready():
                pred = self._predict(X)
                chosen = np.argsort(pred, kind="stable")[:n]
            else:
                chosen = np.arange(n)
            self._pending = {"X": X, "chosen": chosen}
            return [X[i].copy() for i in chosen]
        if self.screen:
            raise ValueError(f"batch of {n} with a pre-screened CMA population of "
                             f"{self.popsize}: set optimizer.popsize > offspring_size")
        out: list[np.ndarray] = []
        self._batch = []
        while len(out) < n:
            if not self._open or self._open[-1]["asked"] == len(self._open[-1]["X"]):
                self._open.append({"X": self._draw(), "F": np.full(self.popsize, np.nan),
                                   "asked": 0})
            g = self._open[-1]
            i = g["asked"]
            out.append(g["X"][i].copy())
            self._batch.append((g, i))
            g["asked"] = i + 1
        return out

    def _draw(self) -> np.ndarray:
        """One CMA generation from the current distribution (the model's optimum injected)."""
        if (self.inject_model_optimum and self.model is not None and not self._injected
                and not self._open and self._async_out <= self.popsize):
            # once per model update, into a generation told before any later one (pycma
            # tracks injected solutions per iteration). In async mode with more points in
            # flight than a population, a point drawn now is told several updates later, when
            # pycma has dropped it from its injected solutions ("orphanated"): no injection
            self._inject()
            self._injected = True
        X = np.asarray(self.es.ask(), dtype=float)
        self._told_since_ask = False
        return X

    def _tell_es(self, X: np.ndarray, F: np.ndarray) -> None:
        """``es.tell`` one CMA generation. pycma takes one tell per ask; a generation sampled
        before the previous tell (two generations in one batch) is told after a discarded
        ``ask`` -- its genotypes are still in pycma's archive of sent solutions."""
        if self._told_since_ask:
            self.es.ask()
        self.es.tell(list(X), list(F))
        self._told_since_ask = True

    def fitness(self, x: np.ndarray, total: float, reason: Reason | None) -> float:
        """The value told to CMA for one evaluation, ``impute`` aside (:mod:`.failure`)."""
        kind = kind_of(total, reason, self.total_max_score)
        if kind is Kind.OK or self.failure_policy == "max_score":
            return float(total) if math.isfinite(total) else self.total_max_score
        return runaway_value(x, self.mean, self.total_max_score)

    def _told_values(self, xs: list[np.ndarray], totals: list[float],
                     reasons: Sequence[Reason | None],
                     scores: Sequence[Sequence[float]] | None,
                     values: Sequence[Sequence[float]] | None = None,
                     value_std: Sequence[Sequence[float] | None] | None = None) -> list[float]:
        """What CMA is told for a group of results (a batch, or an async update's group): the
        surrogate learns the ok ones, the failure policy decides the others."""
        kinds = [kind_of(t, r, self.total_max_score) for t, r in zip(totals, reasons)]
        if self.model is not None:  # (orchestrator/optimizer/surrogate.py: what each learns)
            self.model.learn(xs, totals, kinds, reasons, scores, values, value_std)
        ok = [i for i, k in enumerate(kinds) if k is Kind.OK]
        fit = [self.fitness(x, t, r) for x, t, r in zip(xs, totals, reasons)]
        if self.failure_policy == "impute":
            model = self.model if self._model_ready() else None
            for i, k in enumerate(kinds):
                if k is Kind.CRASH:
                    value = impute(model, xs, totals, ok, i)
                    if value is not None:
                        fit[i] = value
        return fit

    @one_blas_thread
    def tell_batch(self, xs: Sequence[np.ndarray], totals: Sequence[float],
                   reasons: Sequence[Reason | None],
                   scores: Sequence[Sequence[float]] | None = None,
                   values: Sequence[Sequence[float]] | None = None,
                   value_std: Sequence[Sequence[float] | None] | None = None) -> list[float]:
        """Tell the results of the batch from :meth:`ask_batch` (same order).

        ``reasons`` holds each evaluation's failure reason (``None`` if it is ok): runaways and
        crashes are told as the failure policy says (:mod:`orchestrator.optimizer.failure`).
        ``scores`` (per-target scores, same order) feed the surrogate: it models the sum of their
        squares, which is smoother than the capped total. ``values`` (each target's value, NaN
        where undefined) and ``value_std`` (their spread over seeds, or None) feed the
        composite surrogate.
        Returns the fitness values told for the evaluated points.
        """
        xs = [np.asarray(x, dtype=float) for x in xs]
        totals = [float(t) for t in totals]
        fit = self._told_values(xs, totals, reasons, scores, values, value_std)
        self._injected = False  # the model has new data: its next candidate is a new point
        batch, self._batch = self._batch, None
        pend, self._pending = self._pending, None
        if batch is not None and len(batch) == len(xs) and all(
                np.array_equal(g["X"][i], x) for (g, i), x in zip(batch, xs)):
            for (g, i), v in zip(batch, fit):
                g["F"][i] = v
            while self._open and not np.isnan(self._open[0]["F"]).any():
                g = self._open.pop(0)
                self._tell_es(g["X"], g["F"])
        elif pend is not None and len(xs) == len(pend["chosen"]) and all(
                np.array_equal(pend["X"][i], x) for i, x in zip(pend["chosen"], xs)):
            self._tell_screened(pend["X"], pend["chosen"], fit)
        else:  # points not from ask_batch: tell them as one generation
            self._open = []
            self._tell_es(np.asarray(xs), np.asarray(fit))
        self.n_told += len(xs)
        self._maybe_restart()
        return fit

    # -- asynchronous mode ----------------------------------------------------------------------
    @one_blas_thread
    def ask_one(self) -> np.ndarray:
        """One point for a slot that just freed (``optimizer.mode: async``): the next sample of
        the current CMA generation, a new generation drawn from the current distribution (with
        the model's optimum injected once per update) when it is used up."""
        if not self._queue:
            self._queue = [x.copy() for x in self._draw()]
        self._async_out += 1
        return self._queue.pop(0)

    @one_blas_thread
    def tell_one(self, x: np.ndarray, total: float, reason: Reason | None,
                 scores: Sequence[float] | None = None, values: Sequence[float] | None = None,
                 value_std: Sequence[float] | None = None) -> list[float] | None:
        """Take one finished evaluation (any point, in the order results arrive).

        Results are told to pycma ``popsize`` at a time in arrival order, whichever points they
        were: a point asked from an older distribution (a straggler) joins the update it arrives
        in, and the surrogate learns it at once. Returns the values told when this result
        completed an update, else ``None``.
        """
        self._async_buffer.append((np.asarray(x, dtype=float), float(total), reason,
                                   None if scores is None else list(scores),
                                   None if values is None else list(values),
                                   None if value_std is None else list(value_std)))
        self._async_out = max(self._async_out - 1, 0)
        if len(self._async_buffer) < self.popsize:
            return None
        group, self._async_buffer = self._async_buffer, []
        xs = [g[0] for g in group]
        sc = [g[3] for g in group if g[3] is not None]
        vals = [g[4] for g in group if g[4] is not None]
        fit = self._told_values(xs, [g[1] for g in group], [g[2] for g in group],
                                sc if len(sc) == len(group) else None,
                                vals if len(vals) == len(group) else None,
                                [g[5] for g in group])
        self._injected = False
        with warnings.catch_warnings():
            # an injected point that arrives after the update following its ask is told as an
            # ordinary solution (pycma: "orphanated"): the documented rule for stragglers
            warnings.simplefilter("ignore", cma.evolution_strategy.InjectionWarning)
            self._tell_es(np.asarray(xs), np.asarray(fit))
        self.n_told += len(xs)
        before = self.n_restarts
        self._maybe_restart()
        if self.n_restarts != before:
            self._queue = []  # samples of the old CMA-ES
        return fit

    def _maybe_restart(self) -> None:
        """IPOP-CMA-ES: once pycma's own stop criteria fire (and no CMA generation is open), a
        new CMA-ES starts from a uniform random point with the initial sigma and ``incpopsize``
        times the population, the surrogate afresh; at most ``restarts`` times."""
        if self.restarts_left <= 0 or self._open or self._pending is not None:
            return
        stop = self._pycma_stops()
        if not stop:
            return
        self.restarts_left -= 1
        self.n_restarts += 1
        self._iter_offset += int(self.es.countiter)
        opts = dict(self._cma_opts)
        opts["popsize"] = max(2, int(round(self.popsize * self.incpopsize)))
        opts["seed"] = int(opts["seed"]) + 1000 * self.n_restarts
        x0 = np.random.default_rng([int(opts["seed"]), 11]).random(self.dim)
        self.es = cma.CMAEvolutionStrategy(x0, self._sigma0, opts)
        self.model = make_surrogate(self.surrogate, self.dim, self.terms)
        self._told_since_ask = False
        log.info("CMA-ES restart %d (%s): population %d", self.n_restarts,
                 ", ".join(stop), self.popsize)

    def _tell_screened(self, X: np.ndarray, chosen: np.ndarray, fit: list[float]) -> None:
        """Tell a pre-screened generation: the simulated points with their values, the
        screened-out ones ranked behind every simulated point in the model's order."""
        F = np.empty(len(X))
        F[chosen] = fit
        rest = np.setdiff1d(np.arange(len(X)), chosen)
        if len(rest):
            if self._model_ready():
                pred = self._predict(X[rest])
                ranks = np.argsort(np.argsort(pred, kind="stable"), kind="stable")
            else:
                ranks = np.arange(len(rest))
            F[rest] = max(F[chosen].max(), self.total_max_score) + 1.0 + ranks
        self._tell_es(X, F)

    def _inject(self) -> None:
        """Offer the surrogate's candidate (:mod:`.surrogate`: the model's best point within
        the search distribution) to the next ask."""
        if self.model is None:
            return
        rng = np.random.default_rng([int(self.es.opts["seed"]), self.generation, 7])
        x = self.model.candidate(self.es, rng)
        if x is not None:
            self.es.inject([x], force=True)

    # -- state ------------------------------------------------------------------------------------
    @property
    def sigma(self) -> float:
        return float(self.es.sigma)

    @property
    def mean(self) -> np.ndarray:
        return np.clip(np.asarray(self.es.mean, dtype=float), 0.0, 1.0)

    @property
    def covariance(self) -> np.ndarray:
        """sigma^2 * C, the search distribution's covariance in the unit cube."""
        return self.sigma**2 * np.asarray(self.es.C, dtype=float)

    @property
    def generation(self) -> int:
        """CMA generations told so far (over all restarts)."""
        return self._iter_offset + int(self.es.countiter)

    def stop_reasons(self) -> dict[str, Any]:
        """pycma's stop criteria that would end the run (empty unless stop_on_convergence)."""
        if not self.stop_on_convergence:
            return {}
        return self._pycma_stops()

    def _pycma_stops(self) -> dict[str, Any]:
        """pycma's stop criteria that fired, less those simtune handles itself."""
        return {k: v for k, v in self.es.stop().items() if k not in IGNORED_STOPS}

    def state(self) -> bytes:
        """Everything needed to continue exactly: the instance (pycma through its own
        ``pickle_dumps``, the surrogate, the open CMA generations) and NumPy's global RNG."""
        d = dict(self.__dict__)
        d.update(kind="cma", es=self.es.pickle_dumps(), np_random=np.random.get_state(),
                 model=None if self.model is None else pickle.dumps(self.model))
        return pickle.dumps(d)

    @classmethod
    def from_state(cls, blob: bytes) -> CMAOptimizer:
        d = pickle.loads(blob)
        if d.pop("kind", "cma") != "cma":
            raise ValueError(f"not a CMA-ES state (kind {d.get('kind')!r})")
        self = cls.__new__(cls)
        self.__dict__.update(copy.deepcopy(_STATE_DEFAULTS))  # fresh lists per instance
        np.random.set_state(d.pop("np_random"))
        es, model = d.pop("es"), d.pop("model", None)
        self.__dict__.update(d)
        self.es = pickle.loads(es)
        self.model = _surrogate_of(None if model is None else pickle.loads(model), self)
        return self


#: attributes missing from states written by earlier versions (restored as these)
_STATE_DEFAULTS: dict[str, Any] = {
    "surrogate": "none", "inject_model_optimum": False, "_pending": None, "screen": False,
    "_open": [], "_batch": None, "_told_since_ask": False, "_injected": False,
    "n_told": 0, "restarts_left": 0, "incpopsize": 2.0,
    "n_restarts": 0, "_iter_offset": 0, "_sigma0": 1 / 6, "_cma_opts": {},
    "_queue": [], "_async_buffer": [], "_async_out": 0, "terms": [],
}


def _surrogate_of(model: Any, opt: CMAOptimizer) -> LQSurrogate | CompositeSurrogate | None:
    """A restored state's surrogate: states of earlier versions hold pycma's bare LQModel."""
    if model is None or isinstance(model, (LQSurrogate, CompositeSurrogate)):
        return model
    if isinstance(model, CompositeModel):
        return CompositeSurrogate(model)
    return LQSurrogate(opt.dim, model)
