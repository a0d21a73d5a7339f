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
* **surrogate** (``surrogate: lq``, the default): pycma's own lq-CMA-ES model
  (:class:`cma.fitness_models.LQModel`: linear, then diagonal, then full quadratic) fitted to the
  successful evaluations. Once per batch its best point is injected into the next CMA generation
  (pycma's ``inject``; Nevergrad's "MetaModel" idea): the quadratic's minimiser where the Hessian
  is positive definite, else the model's best of 1000 samples of the search distribution. With
  ``screen_factor > 1`` it also pre-screens: a CMA population of ``screen_factor x batch`` is
  sampled, the ``batch`` most promising are simulated, and CMA is told the screened-out points
  ranked behind them in the model's order.
* **composite surrogate** (``surrogate: composite``): a model of each target's value composed
  through the exact score function (:mod:`orchestrator.optimizer.composite`), used the same
  ways: its best point within the search distribution injected once per batch, pre-screening,
  the imputation of crashes. It needs the values: ``tell_batch(..., values=...)``.
* **restarts** (``restarts``, off by default): IPOP-CMA-ES -- when pycma's own stop criteria
  fire, a new CMA-ES from a uniform random point with ``incpopsize`` times the population.
* **failures**: :mod:`orchestrator.optimizer.failure` decides what a runaway and a crash are told
  (``failure_policy``); failed and capped evaluations never fit the surrogate.
* **stopping**: the run ends at ``max_ngen``; pycma's own criteria (tolx, tolfun, ...) end it only
  with ``stop_on_convergence: true``.

Randomness: pycma samples from NumPy's global random state (seeded by the ``seed`` option), so the
state saved by :meth:`CMAOptimizer.state` includes it; the model's candidates and restart points
come from generators seeded by (seed, generation). Restoring a state makes a resumed run ask
exactly the points the uninterrupted run asks.
"""

from __future__ import annotations

import copy
import functools
import logging
import math
import pickle
import warnings
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence, TypeVar

import cma
import cma.fitness_models
import numpy as np
from threadpoolctl import ThreadpoolController

from orchestrator.optimizer.composite import CompositeModel
from orchestrator.optimizer.failure import FAILURE_POLICIES, Kind, impute, kind_of, runaway_value
from simtune_core.record import Reason

log = logging.getLogger("simtune.optimizer")

__all__ = ["CMAOptimizer", "IGNORED_STOPS", "SURROGATES"]

#: pycma stop reasons never honoured (handled by the failure policy or by max_ngen)
IGNORED_STOPS = frozenset({"tolflatfitness", "maxiter", "maxfevals"})

#: samples from the search distribution the model picks its candidate from (no PD Hessian)
MODEL_CANDIDATES = 1000
SURROGATES = ("lq", "composite", "none")
#: the composite model's candidate is injected only while its predictions of the last group
#: ranked the observed totals with at least this Kendall tau (a model that cannot rank the
#: landscape -- a multimodal one -- must not pull the CMA mean)
TAU_MIN = 0.4
#: weight of the newest group in the smoothed tau (1 = the last group alone)
TAU_SMOOTH = 1.0
#: one target's scoring for the composite surrogate: (kind, target_value, norm, max_score)
Term = tuple[str, Any, float, float]


_F = TypeVar("_F", bound=Callable[..., Any])
_BLAS: list[ThreadpoolController] = []


def one_blas_thread(fn: _F) -> _F:
    """Run ``fn`` with one BLAS thread: the models' matrices are at most a few hundred wide,
    where a second thread only spins -- on a loaded two-core machine a 105 x 105 solve took
    70 ms with OpenBLAS's two threads and 0.3 ms with one (benchmarks/bench_surrogate_cost.py).
    threadpoolctl limits the BLAS libraries loaded in the process (NumPy's and SciPy's)."""
    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        if not _BLAS:
            import scipy.optimize  # noqa: F401 -- load SciPy's BLAS before it is inspected

            _BLAS.append(ThreadpoolController())
        with _BLAS[0].limit(limits=1, user_api="blas"):
            return fn(*args, **kwargs)
    return wrapper  # type: ignore[return-value]


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
        With the surrogate: inject the full quadratic model's minimiser into each generation.
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
        if surrogate not in SURROGATES:
            raise ValueError(f"surrogate must be one of {SURROGATES}")
        if surrogate == "composite" and not terms:
            raise ValueError("surrogate 'composite' needs the targets' terms")
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
        self.model: Any = self._new_model()
        self.model_tau: float | None = None  # the composite model's rank accuracy (Kendall tau)
        self.tau_min, self.tau_smooth = TAU_MIN, TAU_SMOOTH
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
        self.inject_types: tuple[str, ...] = ("full",)

    # -- ask / tell -------------------------------------------------------------------------------
    @property
    def popsize(self) -> int:
        return int(self.es.popsize)

    @property
    def dim(self) -> int:
        return int(self.es.N)

    def _new_model(self) -> Any:
        if self.surrogate == "composite":
            return CompositeModel(self.terms, self.dim)
        return cma.fitness_models.LQModel() if self.surrogate == "lq" else None

    def _model_ready(self) -> bool:
        if isinstance(self.model, CompositeModel):
            return self.model.ready
        return self.model is not None and self.model.size >= self.dim + 2

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
        if isinstance(self.model, CompositeModel):
            self._learn_values(xs, totals, kinds, reasons, values, value_std)
        # the surrogate learns from the successful, uncapped evaluations only; it models the sum
        # of squared target scores (smooth where the targets' values are; the capped sum |t-v|/n
        # is a cone a quadratic fits badly), or the squared total without per-target scores
        ok = [i for i, k in enumerate(kinds) if k is Kind.OK]
        if self.model is not None and not isinstance(self.model, CompositeModel):
            for i in ok:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    self.model.add_data_row(xs[i], _model_value(
                        totals[i], None if scores is None else scores[i]))
        fit = [self.fitness(x, t, r) for x, t, r in zip(xs, totals, reasons)]
        if self.failure_policy == "impute":
            model = self.model if self._model_ready() else None
            for i, k in enumerate(kinds):
                if k is Kind.CRASH:
                    value = impute(model, xs, totals, ok, i)
                    if value is not None:
                        fit[i] = value
        return fit

    def _learn_values(self, xs: list[np.ndarray], totals: list[float], kinds: list[Kind],
                      reasons: Sequence[Reason | None],
                      values: Sequence[Sequence[float]] | None,
                      value_std: Sequence[Sequence[float] | None] | None) -> None:
        """The composite model learns every evaluation that is not a crash: a finished one its
        values (NaN where undefined), a runaway failure all values undefined."""
        assert isinstance(self.model, CompositeModel)
        if values is None and any(k is not Kind.CRASH for k in kinds):
            raise ValueError("surrogate 'composite' needs each evaluation's target values "
                             "(tell_batch(..., values=...))")
        ok = [i for i, k in enumerate(kinds) if k is Kind.OK]
        tau = self.model.rank_accuracy(np.asarray([xs[i] for i in ok]).reshape(-1, self.dim),
                                       np.asarray([totals[i] for i in ok]))
        if tau is not None:  # smoothed over groups: one noisy group must not switch it off
            self.model_tau = tau if self.model_tau is None else (
                self.tau_smooth * tau + (1 - self.tau_smooth) * self.model_tau)
        for i, k in enumerate(kinds):
            if k is Kind.CRASH:
                continue
            finished = reasons[i] is None and values is not None
            self.model.add(xs[i], values[i] if finished else None,  # type: ignore[index]
                           value_std[i] if finished and value_std is not None else None)

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
        self.model = self._new_model()
        self.model_tau = None
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
        """Offer the full quadratic model's minimiser (clipped to the box) to the next ask.

        Where the model's Hessian is not positive definite (a saddle or a ridge -- the usual case
        on multimodal or noisy problems) its minimiser is not defined; the model's best of
        ``MODEL_CANDIDATES`` samples from the current search distribution (the trust region) is
        offered instead."""
        m = self.model
        if isinstance(m, CompositeModel):
            if not m.ready or (self.model_tau is not None and self.model_tau < self.tau_min):
                return
            rng = np.random.default_rng([int(self.es.opts["seed"]), self.generation, 7])
            try:
                x = m.candidate(np.asarray(self.es.mean, dtype=float), self.sigma,
                                np.asarray(self.es.C, dtype=float), rng, MODEL_CANDIDATES)
            except np.linalg.LinAlgError:
                return
            self.es.inject([x], force=True)
            return
        if m is None or not set(m.types) & set(self.inject_types) or m.size < 2 * self.dim + 2:
            return
        try:
            if np.all(np.linalg.eigvalsh(m.hessian) > 0):
                x = np.clip(np.asarray(m.xopt, dtype=float), 0.0, 1.0)
            else:
                rng = np.random.default_rng([int(self.es.opts["seed"]), self.generation, 7])
                A = np.linalg.cholesky(np.asarray(self.es.C, dtype=float))
                Z = rng.standard_normal((MODEL_CANDIDATES, self.dim))
                X = np.clip(np.asarray(self.es.mean) + self.sigma * Z @ A.T, 0.0, 1.0)
                x = X[int(np.argmin(np.asarray(m.evalpop(X), dtype=float)))]
        except Exception:  # noqa: BLE001 -- a singular model just injects nothing
            return
        if np.all(np.isfinite(x)):
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
        self.model = None if model is None else pickle.loads(model)
        return self


#: attributes missing from states written by earlier versions (restored as these)
_STATE_DEFAULTS: dict[str, Any] = {
    "surrogate": "none", "inject_model_optimum": False, "_pending": None, "screen": False,
    "_open": [], "_batch": None, "_told_since_ask": False, "_injected": False,
    "n_told": 0, "inject_types": ("full",), "restarts_left": 0, "incpopsize": 2.0,
    "n_restarts": 0, "_iter_offset": 0, "_sigma0": 1 / 6, "_cma_opts": {},
    "_queue": [], "_async_buffer": [], "_async_out": 0, "terms": [],
    "model_tau": None, "tau_min": TAU_MIN, "tau_smooth": TAU_SMOOTH,
}


def _model_value(total: float, scores: Sequence[float] | None) -> float:
    if scores is not None and len(scores):
        return float(np.sum(np.square(np.asarray(scores, dtype=float))))
    return float(total) ** 2
