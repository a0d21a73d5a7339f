"""Time to target on a virtual clock: simtune's asynchronous mode against its generational mode.

Each problem of ``problems.py`` is run by simtune's default CMA-ES twice, on a simulated cluster
of ``--workers`` workers where evaluation ``k`` takes ``lognormal(0, sigma)`` time units (drawn
from a generator seeded by (problem seed, k): both modes see the same durations in the same
order of asking):

* generational: batches of ``workers`` points; a batch ends when its slowest evaluation does;
* async: ``workers`` evaluations in flight; the earliest to finish is told
  (``CMAOptimizer.tell_one``) and replaced at once (``ask_one``).

Reported per problem over ``--seeds`` seeds: the simulated wall time and the evaluations until
the incumbent (the best observed evaluation so far, crashed ones excluded) first has a true,
noise-free score under the problem's tight threshold (a run that never gets there counts its
whole time and budget), and the async/generational ratios. Goal (issue 12): async <= 0.5x the
generational wall time with <= 1.2x the evaluations.

    .venv/bin/python -m benchmarks.optimizers.virtual_clock [--seeds 10] [--budget 400]
"""

from __future__ import annotations

import argparse
import dataclasses
import heapq
import sys
import tempfile
import warnings
from pathlib import Path

import numpy as np

from benchmarks.optimizers.problems import PROBLEMS
from simtune_core.record import Reason

SYNTHETIC = ("a_ellipsoid", "b_rastrigin", "e_ratemodel_noisy", "d_ratemodel_crashes")


def _optimizer(prob, seed: int, workers: int, mode: str):
    from orchestrator.config import OptimizerConfig
    from orchestrator.optimizer import make_optimizer

    oc = dataclasses.replace(OptimizerConfig(offspring_size=workers, seed=seed), mode=mode)
    np.random.seed(seed)
    return make_optimizer(oc, np.full(prob.dim, 0.5), prob.total_max_score,
                          Path(tempfile.mkdtemp()), n_targets=prob.n_targets, terms=prob.terms)


def _durations(seed: int, n: int, sigma: float) -> np.ndarray:
    return np.exp(sigma * np.random.default_rng([seed, 12]).standard_normal(n))


class _Incumbent:
    def __init__(self, tight: float) -> None:
        self.tight, self.best, self.hit = tight, np.inf, None

    def see(self, total: float, true: float, failed: bool, t: float, n: int) -> None:
        if not failed and total < self.best:
            self.best = total
            if true <= self.tight and self.hit is None:
                self.hit = (t, n)


def generational(name: str, seed: int, workers: int, budget: int,
                 sigma: float) -> tuple[float, int, bool]:
    prob = PROBLEMS[name](seed)
    opt = _optimizer(prob, seed, workers, "generational")
    dur = _durations(seed, budget, sigma)
    inc, t, n = _Incumbent(prob.tight), 0.0, 0
    while n < budget:
        k = min(workers, budget - n)
        X = np.asarray(opt.ask_batch(k))
        totals, scores, failed, true = prob.evaluate_with_truth(X)
        finish = t + dur[n:n + k]
        for j in np.argsort(finish, kind="stable"):  # the incumbent as results arrive
            n_j = n + int(np.sum(finish <= finish[j]))
            inc.see(totals[j], true[j], bool(failed[j]), float(finish[j]), n_j)
        t = float(finish.max())
        n += k
        opt.tell_batch(list(X), list(totals), [Reason.CRASHED if f else None for f in failed],
                       [list(s) for s in scores], [list(v) for v in prob.last_values])
    return (*inc.hit, True) if inc.hit else (t, budget, False)


def asynchronous(name: str, seed: int, workers: int, budget: int,
                 sigma: float) -> tuple[float, int, bool]:
    prob = PROBLEMS[name](seed)
    opt = _optimizer(prob, seed, workers, "async")
    dur = _durations(seed, budget, sigma)
    inc = _Incumbent(prob.tight)
    heap: list[tuple[float, int, np.ndarray]] = []
    asked = 0
    for _ in range(min(workers, budget)):
        heapq.heappush(heap, (float(dur[asked]), asked, opt.ask_one()))
        asked += 1
    told, t = 0, 0.0
    while heap:
        t, _k, x = heapq.heappop(heap)
        totals, scores, failed, true = prob.evaluate_with_truth(x[None, :])
        told += 1
        inc.see(totals[0], true[0], bool(failed[0]), t, told)
        opt.tell_one(x, float(totals[0]), Reason.CRASHED if failed[0] else None,
                     list(scores[0]), list(prob.last_values[0]))
        if asked < budget:
            heapq.heappush(heap, (t + float(dur[asked]), asked, opt.ask_one()))
            asked += 1
    return (*inc.hit, True) if inc.hit else (t, budget, False)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seeds", type=int, default=10)
    p.add_argument("--first-seed", type=int, default=0)
    p.add_argument("--budget", type=int, default=400)
    p.add_argument("--workers", type=int, default=20)
    p.add_argument("--sigma", type=float, default=1.0)
    p.add_argument("--problems", nargs="*", default=list(SYNTHETIC))
    args = p.parse_args(argv)
    warnings.filterwarnings("ignore")
    print(f"{args.workers} workers, {args.budget} evaluations, run times lognormal(0, "
          f"{args.sigma}), seeds {args.first_seed}..{args.first_seed + args.seeds - 1}\n")
    print("| problem | generational: time / evals to tight (hits) | async: time / evals "
          "(hits) | async / generational time | evals |")
    print("|---|---|---|---|---|")
    for name in args.problems:
        res = {}
        for mode, fn in (("gen", generational), ("async", asynchronous)):
            runs = [fn(name, s, args.workers, args.budget, args.sigma)
                    for s in range(args.first_seed, args.first_seed + args.seeds)]
            res[mode] = (float(np.mean([r[0] for r in runs])),
                         float(np.mean([r[1] for r in runs])), sum(r[2] for r in runs))
        g, a = res["gen"], res["async"]
        print(f"| {name} | {g[0]:.1f} / {g[1]:.0f} ({g[2]}/{args.seeds}) | {a[0]:.1f} / "
              f"{a[1]:.0f} ({a[2]}/{args.seeds}) | {a[0] / g[0]:.2f} | {a[1] / g[1]:.2f} |",
              flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
