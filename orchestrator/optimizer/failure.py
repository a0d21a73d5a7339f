"""The failure policy: what an optimizer is told for an evaluation that did not give a number.

Each told point is one of three kinds (:func:`kind_of`):

* ``ok`` -- an ok evaluation with at least one target not capped: told its total score;
* ``runaway`` -- the parameters made the simulation misbehave: a failure whose
  :attr:`~simtune_core.record.Reason.runaway` is true (explosion, NaN values, time limit, memory,
  an early-abort gate),
  or an ok evaluation whose total reached ``total_max_score`` (every target capped). This is
  information about the landscape and is told as worse than every finished evaluation:
  ``total_max_score + ||x - m||`` (distance to the CMA mean in the unit cube; closer to the mean
  first, so a block of runaways never looks flat to pycma's ``tolflatfitness`` and never blows
  up the step size);
* ``crash`` -- any other failure (the simulator raised, the job died, the scheduler lost it):
  nothing is known about the point.

``failure_policy`` decides what a crash is told (docs/optimizer.md):

========== =================================================================================
impute     the surrogate's prediction at the point, mapped by rank onto the batch's observed
           totals (the batch's median before the model is ready): a random crash must not move
           the distribution away from where it was sampled (the default)
penalize   like a runaway
max_score  the capped total, and runaways too (the mozaik tool's behaviour)
========== =================================================================================
"""

from __future__ import annotations

import enum
import math
from typing import Any, Sequence

import numpy as np

from simtune_core.record import Reason

__all__ = ["FAILURE_POLICIES", "Kind", "impute", "kind_of", "runaway_value"]

FAILURE_POLICIES = ("impute", "penalize", "max_score")


class Kind(str, enum.Enum):
    OK = "ok"
    RUNAWAY = "runaway"
    CRASH = "crash"


def kind_of(total: float, reason: Reason | None, total_max_score: float) -> Kind:
    """The kind of one told point (module docstring)."""
    if reason is not None:
        return Kind.RUNAWAY if Reason(reason).runaway else Kind.CRASH
    if not math.isfinite(total) or total >= total_max_score:
        return Kind.RUNAWAY
    return Kind.OK


def runaway_value(x: np.ndarray, mean: np.ndarray, total_max_score: float) -> float:
    """``total_max_score + ||x - mean||``: worse than every ok value, closer-to-mean first."""
    return float(total_max_score) + float(np.linalg.norm(np.asarray(x) - mean))


def impute(model: Any, xs: Sequence[np.ndarray], totals: Sequence[float], ok: Sequence[int],
           i: int) -> float | None:
    """The value imputed for crashed point ``i``, or None when no ok point is in the batch.

    With a ready model (``model.evalpop``) and at least two ok points, the model's prediction
    at ``xs[i]`` interpolated on the model's predictions of the ok points against their observed
    totals (sorted); else the median of the ok totals.
    """
    if not ok:
        return None
    observed = np.sort(np.asarray([totals[j] for j in ok], dtype=float))
    if model is not None and len(ok) >= 2:
        pred = np.asarray(model.evalpop([xs[j] for j in ok] + [xs[i]]), dtype=float)
        order = np.argsort(pred[:-1], kind="stable")
        return float(np.interp(pred[-1], pred[:-1][order], observed))
    return float(np.median(observed))
