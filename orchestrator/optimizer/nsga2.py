"""NSGA-II over the unit cube, every target score an objective (``algorithm: nsga2``).

DEAP's ``selNSGA2`` with SBX crossover and polynomial mutation; a generation is one batch. Any
failed evaluation has every objective at its target's share of ``total_max_score`` (NSGA-II
needs no failure policy: a failure is dominated by every ok evaluation). The state is the
instance with its own ``random.Random`` state, so a resumed run asks the same points.
"""

from __future__ import annotations

import math
import pickle
import random
from typing import Any, Callable, Sequence, TypeVar

import numpy as np

from simtune_core.record import Reason

__all__ = ["NSGA2Optimizer"]

_T = TypeVar("_T")


class NSGA2Optimizer:
    """DEAP's NSGA-II (``selNSGA2``, SBX crossover, polynomial mutation) in ``[0, 1]^dim``, every
    target score an objective (minimised). A generation is one batch: the offspring of the current
    parents; ``tell_batch`` merges them with the parents and keeps the best ``popsize`` by
    non-domination rank and crowding distance. Needs ``scores`` (per-target) in ``tell_batch``;
    without them the single objective is the total.
    """

    def __init__(self, x0: Sequence[float], sigma: float, popsize: int, seed: int,
                 total_max_score: float, n_targets: int | None = None, eta_crossover: float = 20.0,
                 eta_mutation: float = 20.0, cx_prob: float = 0.9) -> None:
        self.x0 = np.clip(np.asarray(x0, dtype=float), 0.0, 1.0)
        self.dim = int(self.x0.size)
        self.popsize_ = int(popsize)
        self.init_sigma = float(sigma)
        self.total_max_score = float(total_max_score)
        self.n_targets = n_targets
        self.eta_c, self.eta_m, self.cx_prob = float(eta_crossover), float(eta_mutation), cx_prob
        self._rng_state = random.Random(int(seed) if seed else 1234567).getstate()
        self.parents: list[tuple[np.ndarray, np.ndarray]] = []  # (x, objectives)
        self._pending: list[np.ndarray] | None = None
        self.generation = 0

    @property
    def popsize(self) -> int:
        return self.popsize_

    def _with_rng(self, fn: Callable[[], _T]) -> _T:
        old = random.getstate()
        random.setstate(self._rng_state)
        try:
            return fn()
        finally:
            self._rng_state = random.getstate()
            random.setstate(old)

    def ask_batch(self, n: int) -> list[np.ndarray]:
        if self._pending is not None:
            raise RuntimeError("ask_batch called twice without tell_batch")
        self._pending = self._with_rng(lambda: self._offspring(n))
        return [x.copy() for x in self._pending]

    def _offspring(self, n: int) -> list[np.ndarray]:
        from deap import tools

        if not self.parents:  # first generation: x0 and a spread around it (sigma of the box)
            first = [self.x0.copy()]
            while len(first) < n:
                first.append(np.array([min(1.0, max(0.0, random.gauss(v, self.init_sigma)))
                                       for v in self.x0]))
            return first
        ranks, crowd = self._rank_crowding([f for _, f in self.parents])

        def tournament() -> np.ndarray:
            i, j = random.randrange(len(self.parents)), random.randrange(len(self.parents))
            better = i if (ranks[i], -crowd[i]) <= (ranks[j], -crowd[j]) else j
            return self.parents[better][0]

        out: list[np.ndarray] = []
        while len(out) < n:
            a, b = list(tournament()), list(tournament())
            if random.random() < self.cx_prob:
                a, b = tools.cxSimulatedBinaryBounded(a, b, self.eta_c, 0.0, 1.0)
            for c in (a, b):
                (c,) = tools.mutPolynomialBounded(c, self.eta_m, 0.0, 1.0, 1.0 / self.dim)
                out.append(np.clip(np.asarray(c, dtype=float), 0.0, 1.0))
        return out[:n]

    @staticmethod
    def _rank_crowding(objs: Sequence[np.ndarray]) -> tuple[list[int], list[float]]:
        from deap import base, creator, tools

        if not hasattr(creator, "SimtuneNSGA2Fit"):
            creator.create("SimtuneNSGA2Fit", base.Fitness, weights=(-1.0,))
        inds = []
        for k, f in enumerate(objs):
            ind = _Ind(k)
            ind.fitness = _fitness(f)
            inds.append(ind)
        fronts = tools.sortNondominated(inds, len(inds))
        ranks, crowd = [0] * len(inds), [0.0] * len(inds)
        for r, front in enumerate(fronts):
            tools.emo.assignCrowdingDist(front)
            for ind in front:
                ranks[ind.k] = r
                crowd[ind.k] = float(ind.fitness.crowding_dist)
        return ranks, crowd

    def _objectives(self, total: float, failed: bool, sc: Sequence[float] | None) -> np.ndarray:
        if sc is None:
            return np.array([self.total_max_score if failed or not math.isfinite(total)
                             else float(total)])
        arr = np.asarray(sc, dtype=float)
        if failed or not np.all(np.isfinite(arr)):
            per = self.total_max_score / max(1, len(arr))
            return np.full(len(arr), per)
        return arr

    def tell_batch(self, xs: Sequence[np.ndarray], totals: Sequence[float],
                   reasons: Sequence[Reason | None],
                   scores: Sequence[Sequence[float]] | None = None,
                   values: Sequence[Sequence[float]] | None = None,
                   value_std: Sequence[Sequence[float] | None] | None = None) -> list[float]:
        """Merge the batch with the parents and keep the best ``popsize`` (rank, crowding).
        Returns the totals as told (a failure's is ``total_max_score``). ``values`` and
        ``value_std`` are not used (the scores are the objectives)."""
        from deap import tools

        objs = [self._objectives(t, r is not None, None if scores is None else scores[i])
                for i, (t, r) in enumerate(zip(totals, reasons))]
        pool = self.parents + [(np.asarray(x, dtype=float), o) for x, o in zip(xs, objs)]
        inds = []
        for k, (_, f) in enumerate(pool):
            ind = _Ind(k)
            ind.fitness = _fitness(f)
            inds.append(ind)
        keep = tools.selNSGA2(inds, min(self.popsize_, len(inds)))
        self.parents = [pool[ind.k] for ind in sorted(keep, key=lambda i: i.k)]
        self._pending = None
        self.generation += 1
        return [float(o.sum()) for o in objs]

    def front(self) -> list[tuple[np.ndarray, np.ndarray]]:
        """The parents on the first non-dominated front: (x, objectives) pairs."""
        if not self.parents:
            return []
        ranks, _ = self._rank_crowding([f for _, f in self.parents])
        return [p for p, r in zip(self.parents, ranks) if r == 0]

    @property
    def _X(self) -> np.ndarray:
        return np.array([x for x, _ in self.parents]) if self.parents else self.x0[None, :]

    @property
    def mean(self) -> np.ndarray:
        return self._X.mean(axis=0)

    @property
    def covariance(self) -> np.ndarray:
        X = self._X
        if len(X) < 2:
            return np.eye(self.dim) * self.init_sigma**2
        return np.atleast_2d(np.cov(X, rowvar=False))

    @property
    def sigma(self) -> float:
        return float(math.sqrt(max(0.0, float(np.mean(np.diag(self.covariance))))))

    def stop_reasons(self) -> dict[str, Any]:
        return {}

    def state(self) -> bytes:
        d = dict(self.__dict__)
        d["kind"] = "nsga2"
        return pickle.dumps(d)

    @classmethod
    def from_state(cls, blob: bytes) -> NSGA2Optimizer:
        d = pickle.loads(blob)
        if d.pop("kind", None) != "nsga2":
            raise ValueError("not an NSGA-II state")
        self = cls.__new__(cls)
        self.__dict__.update(d)
        return self


class _Ind:
    """A minimal DEAP individual: an index into the pool and a fitness."""

    def __init__(self, k: int) -> None:
        self.k = k
        self.fitness: Any = None

    def __len__(self) -> int:  # pragma: no cover - DEAP never needs the genome here
        return 0


_FIT_CLASSES: dict[int, Any] = {}


def _fitness(values: np.ndarray) -> Any:
    from deap import base

    n = len(values)
    if n not in _FIT_CLASSES:
        _FIT_CLASSES[n] = type(f"_SimtuneFit{n}", (base.Fitness,), {"weights": (-1.0,) * n})
    f = _FIT_CLASSES[n]()
    f.values = tuple(float(v) for v in values)
    return f


