"""CMA-ES over pycma, through ask/tell, in the unit cube of the free parameters.

pycma is used as it is: ``CMAEvolutionStrategy`` with ``bounds=[0, 1]`` (its own boundary
handling), ``seed`` set, its files under the run directory, its state saved with
``pickle_dumps``. simtune owns what pycma does not decide:

* **failures** (``failure_policy: penalize``, the default): a failed evaluation, or one whose every
  target is capped, is told to CMA as ``total_max_score + ||x - m||`` (distance to the current mean
  in the unit cube). The record keeps the true score (``max_score`` on every target); CMA gets a
  ranking that prefers failures close to the mean over far ones, instead of a block of equal values
  that trips pycma's flat-fitness stop (the mozaik tool's "EqualFunVals" failure) and lets the step
  size blow up. ``failure_policy: max_score`` tells the raw capped total (the mozaik behaviour).
* **stopping**: the run ends at ``max_ngen``; pycma's own criteria (tolx, tolfun, ...) end it only
  with ``stop_on_convergence: true``.

pycma samples from NumPy's global random state (seeded by the ``seed`` option), so the state
saved by :meth:`CMAOptimizer.state` includes it: restoring both makes a resumed run ask exactly the
points the uninterrupted run asks.
"""

from __future__ import annotations

import math
import pickle
from pathlib import Path
from typing import Any, Mapping, Sequence

import cma
import numpy as np

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
        CMA population (solutions per ``ask``).
    seed
        pycma's seed (also seeds NumPy's global random state, which pycma samples from).
    total_max_score
        Sum of the targets' ``max_score`` (fitness of a failure before the tie-break).
    log_dir
        Where pycma may write files (``verb_filenameprefix``).
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
        failure_policy: str = "penalize",
        stop_on_convergence: bool = False,
    ) -> None:
        opts = cma.CMAOptions()
        opts.set(dict(cma_options or {}))
        opts.set({
            "seed": int(seed) if seed else 1234567,  # pycma treats 0 as "random"
            "bounds": [0.0, 1.0],
            "popsize": int(popsize),
            "verb_filenameprefix": str(Path(log_dir) / "cma_"),
            "verbose": -9,
            "verb_log": 0,
            "verb_disp": 0,
            "tolflatfitness": 10**9,
        })
        x0 = np.clip(np.asarray(x0, dtype=float), 0.0, 1.0)
        if x0.size == 1:  # pycma refuses 1-D problems; a dummy coordinate keeps one working
            raise ValueError("CMA-ES needs at least 2 free parameters; add one or use bounds")
        self.es = cma.CMAEvolutionStrategy(x0, float(sigma), opts)
        self.total_max_score = float(total_max_score)
        self.failure_policy = failure_policy
        self.stop_on_convergence = stop_on_convergence

    # -- ask / tell -------------------------------------------------------------------------------
    @property
    def popsize(self) -> int:
        return int(self.es.popsize)

    def ask(self) -> list[np.ndarray]:
        """One CMA generation of candidate points in the unit cube."""
        return [np.asarray(x, dtype=float) for x in self.es.ask()]

    def fitness(self, x: np.ndarray, total: float, failed: bool) -> float:
        """The value told to CMA for one evaluation (see the module docstring)."""
        capped = failed or not math.isfinite(total) or total >= self.total_max_score
        if not capped or self.failure_policy == "max_score":
            return float(total) if math.isfinite(total) else self.total_max_score
        return self.total_max_score + float(np.linalg.norm(np.asarray(x) - self.mean))

    def tell(self, xs: Sequence[np.ndarray], totals: Sequence[float],
             failed: Sequence[bool]) -> list[float]:
        """Tell CMA the scores of the points it asked; returns the fitness values told."""
        fit = [self.fitness(x, t, f) for x, t, f in zip(xs, totals, failed)]
        self.es.tell([np.asarray(x) for x in xs], fit)
        return fit

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
        return int(self.es.countiter)

    def stop_reasons(self) -> dict[str, Any]:
        """pycma's stop criteria that would end the run (empty unless stop_on_convergence)."""
        if not self.stop_on_convergence:
            return {}
        return {k: v for k, v in self.es.stop().items() if k not in IGNORED_STOPS}

    def state(self) -> bytes:
        """Everything needed to continue exactly: pycma's pickle + NumPy's global RNG state."""
        return pickle.dumps({
            "es": self.es.pickle_dumps(),
            "np_random": np.random.get_state(),
            "total_max_score": self.total_max_score,
            "failure_policy": self.failure_policy,
            "stop_on_convergence": self.stop_on_convergence,
        })

    @classmethod
    def from_state(cls, blob: bytes) -> CMAOptimizer:
        d = pickle.loads(blob)
        self = cls.__new__(cls)
        self.es = pickle.loads(d["es"])
        np.random.set_state(d["np_random"])
        self.total_max_score = d["total_max_score"]
        self.failure_policy = d["failure_policy"]
        self.stop_on_convergence = d["stop_on_convergence"]
        return self
