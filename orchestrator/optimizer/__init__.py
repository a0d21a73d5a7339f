"""Optimizers over the unit cube of the free parameters (``optimizer.algorithm``).

* :mod:`.cma` -- pycma's CMA-ES with a surrogate, pre-screening and IPOP restarts (default);
* :mod:`.nsga2` -- DEAP's NSGA-II, every target an objective;
* :mod:`.surrogate` -- the surrogates CMA-ES drives (``lq``, ``composite``) behind one interface;
* :mod:`.composite` -- the composite surrogate's model: one per target's value, composed exactly;
* :mod:`.failure` -- what a failed evaluation is told (``failure_policy``);
* :mod:`._base` -- the :class:`Optimizer` protocol the controller drives.
"""

from __future__ import annotations

import pickle
from pathlib import Path
from typing import Any, Sequence

from orchestrator.optimizer._base import Optimizer
from orchestrator.optimizer.cma import IGNORED_STOPS, CMAOptimizer
from orchestrator.optimizer.failure import FAILURE_POLICIES
from orchestrator.optimizer.nsga2 import NSGA2Optimizer

__all__ = ["FAILURE_POLICIES", "IGNORED_STOPS", "CMAOptimizer", "NSGA2Optimizer", "Optimizer",
           "make_optimizer", "optimizer_from_state"]


def make_optimizer(oc: Any, x0: Sequence[float], total_max_score: float, log_dir: Path,
                   n_targets: int | None = None,
                   terms: Sequence[tuple[str, Any, float, float]] | None = None) -> Optimizer:
    """Build the optimizer an :class:`~orchestrator.config.OptimizerConfig` describes (its
    population: :meth:`~orchestrator.config.OptimizerConfig.cma_popsize`). ``terms``: each
    target's ``(kind, target_value, norm, max_score)`` (``TargetConfig.term``), which the
    composite surrogate composes."""
    if oc.algorithm == "nsga2":
        return NSGA2Optimizer(x0, oc.sigma, oc.popsize or int(oc.offspring_size), oc.seed,
                              total_max_score, n_targets)
    return CMAOptimizer(x0, oc.sigma, oc.cma_popsize(), oc.seed, total_max_score, log_dir,
                        oc.cma_options, oc.failure_policy, oc.stop_on_convergence,
                        surrogate=oc.surrogate, inject_model_optimum=oc.inject_model_optimum,
                        screen=oc.screens, restarts=oc.restarts, incpopsize=oc.incpopsize,
                        terms=terms)


def optimizer_from_state(blob: bytes) -> Optimizer:
    """Restore whichever optimizer wrote ``blob``."""
    kind = pickle.loads(blob).get("kind", "cma")
    if kind == "nsga2":
        return NSGA2Optimizer.from_state(blob)
    return CMAOptimizer.from_state(blob)
