"""The surrogates behind ``optimizer.surrogate``, one interface for CMA-ES to drive.

:class:`~orchestrator.optimizer.cma.CMAOptimizer` asks a surrogate four things: to ``learn`` a
told group of results, whether it is ``ready``, its predictions (``evalpop``: pre-screening and
the imputation of crashes, :func:`orchestrator.optimizer.failure.impute`) and a ``candidate``
point to inject into the next CMA generation. Two implement it:

* :class:`LQSurrogate` (``lq``) -- pycma's ``cma.fitness_models.LQModel`` (linear, then
  diagonal, then full quadratic) of the **sum of squared target scores** of the successful,
  uncapped evaluations; its candidate is the quadratic's minimiser where the Hessian is positive
  definite, else its best of ``MODEL_CANDIDATES`` samples of the search distribution;
* :class:`CompositeSurrogate` (``composite``, the default) -- a model of each target's value
  composed through the exact score function (:mod:`orchestrator.optimizer.composite`); its
  candidate is offered only while its predictions rank the new results well
  (Kendall's tau >= ``TAU_MIN``).

A new surrogate goes in its own module (its model) with an adapter here, built in
:func:`make_surrogate`.
"""

from __future__ import annotations

import functools
import warnings
from typing import Any, Callable, Sequence, TypeVar

import cma
import cma.fitness_models
import numpy as np
from threadpoolctl import ThreadpoolController

from orchestrator.optimizer.composite import CompositeModel
from orchestrator.optimizer.failure import Kind
from simtune_core.record import Reason

__all__ = ["CompositeSurrogate", "LQSurrogate", "MODEL_CANDIDATES", "SURROGATES", "TAU_MIN",
           "make_surrogate", "one_blas_thread"]

SURROGATES = ("lq", "composite", "none")
#: samples from the search distribution the model picks its candidate from
MODEL_CANDIDATES = 1000
#: the composite model's candidate is injected only while its predictions of the last group
#: ranked the observed totals with at least this Kendall tau (a model that cannot rank the
#: landscape -- a multimodal one -- must not pull the CMA mean)
TAU_MIN = 0.4
#: weight of the newest group in the smoothed tau (1 = the last group alone; measured: no gain
#: from smoothing, docs/optimizer.md)
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


def make_surrogate(kind: str, dim: int, terms: Sequence[Term]) -> LQSurrogate | \
        CompositeSurrogate | None:
    """The surrogate ``optimizer.surrogate`` names (None for ``none``)."""
    if kind not in SURROGATES:
        raise ValueError(f"surrogate must be one of {SURROGATES}")
    if kind == "composite":
        if not terms:
            raise ValueError("surrogate 'composite' needs the targets' terms")
        return CompositeSurrogate(CompositeModel(terms, dim))
    return LQSurrogate(dim) if kind == "lq" else None


def _in_distribution(rng: np.random.Generator, es: Any, n: int) -> np.ndarray:
    """``n`` samples of the CMA search distribution ``N(m, sigma^2 C)``, clipped to the box."""
    A = np.linalg.cholesky(np.asarray(es.C, dtype=float))
    Z = rng.standard_normal((n, int(es.N)))
    return np.clip(np.asarray(es.mean) + float(es.sigma) * Z @ A.T, 0.0, 1.0)


class LQSurrogate:
    """pycma's LQModel of the summed squared target scores (``surrogate: lq``)."""

    #: model types whose candidate is offered (the full quadratic)
    inject_types: tuple[str, ...] = ("full",)

    def __init__(self, dim: int, model: Any = None) -> None:
        self.dim = int(dim)
        self.model = cma.fitness_models.LQModel() if model is None else model

    @property
    def ready(self) -> bool:
        return bool(self.model.size >= self.dim + 2)

    def learn(self, xs: Sequence[np.ndarray], totals: Sequence[float], kinds: Sequence[Kind],
              reasons: Sequence[Reason | None], scores: Sequence[Sequence[float]] | None,
              values: Sequence[Sequence[float]] | None,
              value_std: Sequence[Sequence[float] | None] | None) -> None:
        """Add the successful, uncapped evaluations: the sum of their squared target scores
        (smooth where the values are; the capped sum of ``|t - v| / n`` is a cone a quadratic
        fits badly), or the squared total without per-target scores."""
        for i, k in enumerate(kinds):
            if k is Kind.OK:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    self.model.add_data_row(xs[i], _model_value(
                        totals[i], None if scores is None else scores[i]))

    def evalpop(self, X: Any) -> np.ndarray:
        return np.asarray(self.model.evalpop(X), dtype=np.float64)

    def candidate(self, es: Any, rng: np.random.Generator) -> np.ndarray | None:
        """The full quadratic's minimiser (clipped to the box) where its Hessian is positive
        definite; else -- a saddle or a ridge, the usual case on multimodal or noisy problems --
        the model's best of ``MODEL_CANDIDATES`` samples of the search distribution."""
        m = self.model
        if not set(m.types) & set(self.inject_types) or m.size < 2 * self.dim + 2:
            return None
        try:
            if np.all(np.linalg.eigvalsh(m.hessian) > 0):
                x = np.clip(np.asarray(m.xopt, dtype=float), 0.0, 1.0)
            else:
                X = _in_distribution(rng, es, MODEL_CANDIDATES)
                x = X[int(np.argmin(np.asarray(m.evalpop(X), dtype=float)))]
        except Exception:  # noqa: BLE001 -- a singular model just injects nothing
            return None
        return x if np.all(np.isfinite(x)) else None


class CompositeSurrogate:
    """The composite model (``surrogate: composite``) and its rank gate.

    ``tau`` is the Kendall tau between the model's predictions for the last told group (made
    before it learned them) and their observed totals, smoothed with weight ``tau_smooth``; the
    candidate is offered while ``tau >= tau_min`` (and before any tau is known)."""

    def __init__(self, model: CompositeModel, tau: float | None = None,
                 tau_min: float = TAU_MIN, tau_smooth: float = TAU_SMOOTH) -> None:
        self.model = model
        self.tau, self.tau_min, self.tau_smooth = tau, float(tau_min), float(tau_smooth)

    @property
    def ready(self) -> bool:
        return self.model.ready

    def learn(self, xs: Sequence[np.ndarray], totals: Sequence[float], kinds: Sequence[Kind],
              reasons: Sequence[Reason | None], scores: Sequence[Sequence[float]] | None,
              values: Sequence[Sequence[float]] | None,
              value_std: Sequence[Sequence[float] | None] | None) -> None:
        """Every evaluation that is not a crash: a finished one its values (NaN where
        undefined) and spreads, a runaway failure all values undefined. First the rank
        accuracy of the predictions for the group's ok evaluations."""
        if values is None and any(k is not Kind.CRASH for k in kinds):
            raise ValueError("surrogate 'composite' needs each evaluation's target values "
                             "(tell_batch(..., values=...))")
        ok = [i for i, k in enumerate(kinds) if k is Kind.OK]
        tau = self.model.rank_accuracy(
            np.asarray([xs[i] for i in ok]).reshape(-1, self.model.dim),
            np.asarray([totals[i] for i in ok]))
        if tau is not None:
            self.tau = tau if self.tau is None else (
                self.tau_smooth * tau + (1 - self.tau_smooth) * self.tau)
        for i, k in enumerate(kinds):
            if k is Kind.CRASH:
                continue
            v = values[i] if reasons[i] is None and values is not None else None
            s = value_std[i] if v is not None and value_std is not None else None
            self.model.add(xs[i], v, s)

    def evalpop(self, X: Any) -> np.ndarray:
        return self.model.predict(np.asarray(X, dtype=float))

    def candidate(self, es: Any, rng: np.random.Generator) -> np.ndarray | None:
        """The model's best point within the search distribution
        (:meth:`CompositeModel.candidate`), while the rank gate is open."""
        if not self.model.ready or (self.tau is not None and self.tau < self.tau_min):
            return None
        try:
            return self.model.candidate(np.asarray(es.mean, dtype=float), float(es.sigma),
                                        np.asarray(es.C, dtype=float), rng, MODEL_CANDIDATES)
        except np.linalg.LinAlgError:
            return None


def _model_value(total: float, scores: Sequence[float] | None) -> float:
    if scores is not None and len(scores):
        return float(np.sum(np.square(np.asarray(scores, dtype=float))))
    return float(total) ** 2
