"""Reproduce the optimizer benchmark tables.

    python -m benchmarks.optimizers.run --out docs/optimizer-benchmark.md          # full (~15 min)
    python -m benchmarks.optimizers.run --quick --out /tmp/opt-quick.md             # CI-sized

Every (problem, optimizer, seed) is one job: ``budget`` evaluations in batches of ``batch``
(asked all before any is told), the seed setting the problem instance too. At most 2 worker
processes. The incumbent after k evaluations is the evaluated point with the lowest mean observed
score (crashed evaluations excluded; repeated points averaged); the reported value is its
noise-free (expected) score. ERT = evaluations spent over all runs / runs that reached the tight
threshold (a run that never does counts its whole budget). Nevergrad runs in
``benchmarks/optimizers/.venv-peers`` (numpy < 2.4); without that venv its rows are skipped.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import subprocess
import sys
import time
import warnings
from pathlib import Path

import numpy as np

from benchmarks.optimizers.problems import PROBLEMS

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
PEERS_PY = HERE / ".venv-peers" / "bin" / "python"


def run_one(problem: str, optimizer: str, seed: int, budget: int, batch: int) -> dict:
    """One optimization run; returns the incumbent's true score after every evaluation."""
    from benchmarks.optimizers.peers import OPTIMIZERS

    warnings.filterwarnings("ignore")
    prob = PROBLEMS[problem](seed)
    factory, _ = OPTIMIZERS[optimizer]
    np.random.seed(seed)
    opt = factory(dim=prob.dim, seed=seed, budget=budget, batch=batch,
                  total_max_score=prob.total_max_score, n_targets=prob.n_targets,
                  terms=prob.terms)
    seen: dict[bytes, list[float]] = {}
    true_of: dict[bytes, float] = {}
    best_key, best_mean = None, np.inf
    curve, t_opt, n = [], 0.0, 0
    while n < budget:
        k = min(batch, budget - n)
        t0 = time.perf_counter()
        X = np.clip(np.asarray(opt.ask(k), dtype=float), 0.0, 1.0)
        t_opt += time.perf_counter() - t0
        totals, scores, failed, true = prob.evaluate_with_truth(X)
        t0 = time.perf_counter()
        if getattr(opt, "wants_values", False):  # simtune's composite surrogate
            opt.tell(X, totals, failed, scores, values=prob.last_values)
        else:
            opt.tell(X, totals, failed, scores)
        t_opt += time.perf_counter() - t0
        for x, v, tr, f in zip(X, totals, true, failed):
            n += 1
            if not f:
                key = x.tobytes()
                seen.setdefault(key, []).append(float(v))
                true_of[key] = float(tr)
                m = float(np.mean(seen[key]))
                if m < best_mean or key == best_key:
                    if key == best_key and m > best_mean:  # re-evaluated incumbent got worse
                        best_key = min(seen, key=lambda q: np.mean(seen[q]))
                        best_mean = float(np.mean(seen[best_key]))
                    else:
                        best_key, best_mean = key, m
            curve.append(true_of[best_key] if best_key is not None else prob.total_max_score)
    return {"problem": problem, "optimizer": optimizer, "seed": seed, "curve": curve,
            "t_per_batch": t_opt / (budget / batch)}


def _job(args: tuple) -> dict:
    problem, optimizer, seed, budget, batch = args
    from benchmarks.optimizers.peers import OPTIMIZERS

    if OPTIMIZERS[optimizer][1]:  # in the peers' venv
        if not PEERS_PY.exists():
            return {"problem": problem, "optimizer": optimizer, "seed": seed, "skipped": True}
        out = subprocess.run(
            [str(PEERS_PY), "-m", "benchmarks.optimizers.run", "--one",
             json.dumps([problem, optimizer, seed, budget, batch])],
            cwd=ROOT, capture_output=True, text=True,
            env={**os.environ, "PYTHONPATH": str(ROOT)})
        if out.returncode != 0:
            if getattr(PROBLEMS[problem], "needs_simtune", False):
                # the V1 problems import simtune (h5py, yaml...) -- missing in a bare peers venv
                return {"problem": problem, "optimizer": optimizer, "seed": seed,
                        "skipped": True, "why": out.stderr[-500:]}
            raise RuntimeError(out.stderr[-2000:])
        return json.loads(out.stdout.strip().splitlines()[-1])
    return run_one(problem, optimizer, seed, budget, batch)


def summarize(results: list[dict], budget: int, batch: int) -> str:
    from benchmarks.optimizers.peers import OPTIMIZERS

    checkpoints = [c for c in (budget // 4, budget // 2, budget) if c >= batch]
    lines = []
    for pname, P in PROBLEMS.items():
        rs = [r for r in results if r["problem"] == pname and not r.get("skipped")]
        if not rs:
            continue
        lines += [f"### {pname} (d={P.dim}; tight < {P.tight:.3g}, loose < {P.loose:.3g})", "",
                  "| optimizer | " + " | ".join(f"median @{c}" for c in checkpoints)
                  + " | tight: ERT / success | loose: ERT / success | s per ask+tell batch |",
                  "|---|" + "---|" * (len(checkpoints) + 3)]
        for oname in OPTIMIZERS:
            runs = [r for r in rs if r["optimizer"] == oname]
            if not runs:
                continue
            C = np.array([r["curve"] for r in runs])
            cells = [f"{np.median(C[:, c - 1]):.3g}" for c in checkpoints]
            for thr in (P.tight, P.loose):
                hit = [int(np.argmax(c <= thr)) + 1 if np.any(c <= thr) else None for c in C]
                succ = sum(h is not None for h in hit)
                spent = sum(h if h is not None else budget for h in hit)
                ert = f"{spent / succ:.0f}" if succ else "∞"
                cells.append(f"{ert} / {succ}/{len(runs)}")
            cells.append(f"{np.mean([r['t_per_batch'] for r in runs]):.3f}")
            lines.append(f"| {oname} | " + " | ".join(cells) + " |")
        lines.append("")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, help="write the Markdown tables here")
    ap.add_argument("--quick", action="store_true", help="3 seeds, 200 evaluations, fewer peers")
    ap.add_argument("--seeds", type=int, default=None)
    ap.add_argument("--first-seed", type=int, default=0,
                    help="seeds first-seed .. first-seed + seeds - 1 (to add seeds to a --json)")
    ap.add_argument("--budget", type=int, default=None)
    ap.add_argument("--batch", type=int, default=20)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--problems", default=None, help="comma-separated subset")
    ap.add_argument("--optimizers", default=None, help="comma-separated subset (substrings)")
    ap.add_argument("--json", type=Path, help="also dump the raw curves")
    ap.add_argument("--from-json", type=Path,
                    help="only summarize the runs in this --json file (e.g. of an interrupted run)")
    ap.add_argument("--one", help=argparse.SUPPRESS)
    a = ap.parse_args(argv)
    if a.one:
        print(json.dumps(run_one(*json.loads(a.one))))
        return 0
    from benchmarks.optimizers.peers import OPTIMIZERS

    if a.from_json:
        results = json.loads(a.from_json.read_text())
        # keep only the seeds every (problem, optimizer) pair finished: a fair comparison
        pairs = {(p, o) for p in {r["problem"] for r in results}
                 for o in {r["optimizer"] for r in results}}
        full = [s for s in {r["seed"] for r in results}
                if all(any((r["problem"], r["optimizer"], r["seed"]) == (*pr, s) for r in results)
                       for pr in pairs)]
        results = [r for r in results if r["seed"] in full]
        print(f"complete seeds: {sorted(full)}", file=sys.stderr)
        done = [r for r in results if not r.get("skipped")]
        b = len(done[0]["curve"]) if done else 0
        text = (f"{len(done)} runs from {a.from_json} ({b} evaluations, batches of {a.batch}).\n\n"
                + summarize(results, b, a.batch))
        print(text)
        if a.out:
            a.out.write_text(text)
        return 0
    seeds = a.seeds or (3 if a.quick else 10)
    budget = a.budget or (200 if a.quick else 400)
    # the V1 sheet problems (c, d) simulate a spiking network (~0.25 s per evaluation): only
    # when named with --problems
    problems = (a.problems.split(",") if a.problems else
                [p for p in PROBLEMS if not getattr(PROBLEMS[p], "needs_simtune", False)])
    # the experiments (restart / re-evaluation wrappers) only when named with --optimizers
    opts = [o for o in OPTIMIZERS if "stalled" not in o and "re-evaluate" not in o
            and not o.startswith("tuning:")]
    if a.optimizers:
        opts = list(OPTIMIZERS)
        keys = a.optimizers.split(",")
        opts = [o for o in opts if any(k in o for k in keys)]
    elif a.quick:
        opts = [o for o in opts if "Nevergrad" not in o and "hyperopt" not in o]
    # seed by seed (an interrupted run leaves complete seeds in --json), slow jobs first
    jobs = [(p, o, s, budget, a.batch) for s in range(a.first_seed, a.first_seed + seeds)
            for p in problems for o in opts]
    jobs.sort(key=lambda j: (j[2], "TPE" not in j[1], "Nevergrad" not in j[1]))
    t0 = time.time()
    with mp.get_context("spawn").Pool(min(2, a.workers)) as pool:
        results = []
        for r in pool.imap_unordered(_job, jobs, chunksize=1):
            results.append(r)
            if a.json:  # after every run, so that an interrupted benchmark can be summarized
                a.json.write_text(json.dumps(results))
            if len(results) % 5 == 0 or len(results) == len(jobs):
                print(f"{len(results)}/{len(jobs)} runs, {time.time() - t0:.0f} s",
                      file=sys.stderr, flush=True)
    wall = time.time() - t0
    head = (f"{len(jobs)} runs: {seeds} seeds x {len(problems)} problems x {len(opts)} "
            f"optimizers, {budget} evaluations in batches of {a.batch}; wall time {wall:.0f} s "
            f"on {min(2, a.workers)} workers.\n\n"
            f"Command: `python -m benchmarks.optimizers.run {' '.join(argv or sys.argv[1:])}`\n\n")
    text = head + summarize(results, budget, a.batch)
    if any(r.get("skipped") for r in results):
        text += ("\nNevergrad skipped on some problems: no benchmarks/optimizers/.venv-peers, or "
                 "(c)/(d) without h5py + pyyaml in it (see README).\n")
    print(text)
    if a.out:
        a.out.parent.mkdir(parents=True, exist_ok=True)
        a.out.write_text(text)
    if a.json:
        a.json.write_text(json.dumps(results))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
