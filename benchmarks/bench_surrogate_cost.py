"""Optimizer time per batch with each surrogate, up to 400 evaluations (issue: <= 0.5 s at 400).

The V1 problem's shape without its simulation: 13 free parameters, nine targets (mixed kinds, a
tenth of the box undefined for two of them, 5 % runaways), batches of 20. The same points are
told to an ``lq``, a ``composite`` and a ``none`` optimizer, in turn per batch (side by side,
so machine load hits all three alike), and ``ask_batch`` + ``tell_batch`` is timed per batch;
reported: the median over seeds of the batch that ends at each checkpoint, and its ratio to
``none`` (plain pycma).

Run: ``.venv/bin/python benchmarks/bench_surrogate_cost.py [--seeds 5 --budget 400]``.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from orchestrator.config import OptimizerConfig
from orchestrator.optimizer import make_optimizer
from simtune_core.record import Reason

DIM, K, BATCH, M = 13, 9, 20, 20.0
KINDS = ["exact", "at_least", "at_most", "range", "exact", "exact", "at_least", "exact", "exact"]


def _problem(seed: int):
    rng = np.random.default_rng([seed, 41])
    A = rng.standard_normal((K, DIM))
    Q = rng.standard_normal((K, DIM)) * 0.5
    terms = []
    for kind in KINDS:
        tv = [0.2, 0.6] if kind == "range" else 0.3
        terms.append((kind, tv, 0.1, M))

    def evaluate(X):
        V = np.tanh(X @ A.T / 3) + (X**2) @ Q.T / 4
        V[:, :2][X[:, 0] > 0.9] = np.nan  # undefined where the first parameter is high
        run = X[:, 1] > 0.95  # a corner runs away
        return V, run

    return terms, evaluate


def _score(terms, V):
    from targets import score_array, target_interval

    lo, hi = zip(*(target_interval(k, t) for k, t, _, _ in terms))
    S = score_array(np.nan_to_num(V), np.array(lo), np.array(hi), np.full(K, 0.1), np.full(K, M))
    return np.where(np.isnan(V), M, S)


def run(seeds: int, budget: int) -> dict[str, dict[int, list[float]]]:
    out: dict[str, dict[int, list[float]]] = {s: {} for s in ("none", "lq", "composite")}
    for seed in range(seeds):
        terms, evaluate = _problem(seed)
        opts = {}
        for s in out:
            oc = dataclasses.replace(OptimizerConfig(offspring_size=BATCH, seed=seed + 1),
                                     surrogate=s)
            opts[s] = make_optimizer(oc, np.full(DIM, 0.5), K * M, Path(tempfile.mkdtemp()),
                                     K, terms=terms)
        for n in range(BATCH, budget + 1, BATCH):
            for s, opt in opts.items():
                t0 = time.perf_counter()
                X = np.array(opt.ask_batch(BATCH))
                dt = time.perf_counter() - t0
                V, run_away = evaluate(X)
                S = _score(terms, V)
                S[run_away] = M
                reasons = [Reason.EXPLOSION if r else None for r in run_away]
                V[run_away] = np.nan
                t0 = time.perf_counter()
                opt.tell_batch(list(X), list(S.sum(axis=1)), reasons,
                               [list(r) for r in S], [list(v) for v in V])
                dt += time.perf_counter() - t0
                out[s].setdefault(n, []).append(dt)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, default=5)
    ap.add_argument("--budget", type=int, default=400)
    a = ap.parse_args()
    res = run(a.seeds, a.budget)
    checks = [c for c in (100, 200, 300, a.budget) if c <= a.budget]
    print(f"seconds per ask+tell batch of {BATCH} (d={DIM}, {K} targets), median of {a.seeds} "
          "seeds, at the batch that ends at n evaluations:\n")
    print("| surrogate | " + " | ".join(f"n={c}" for c in checks) + " | ratio to none at n="
          f"{a.budget} |")
    print("|---|" + "---|" * (len(checks) + 1))
    base = float(np.median(res["none"][a.budget]))
    for s, per in res.items():
        cells = [f"{np.median(per[c]):.3f}" for c in checks]
        print(f"| {s} | " + " | ".join(cells) + f" | {np.median(per[a.budget]) / base:.0f}x |")


if __name__ == "__main__":
    main()
