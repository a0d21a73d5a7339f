"""Slots kept busy: the asynchronous mode against the generational one, side by side.

A python-evaluator stand-in whose run time is lognormal (median ``--median`` s, sigma
``--sigma``, drawn from the evaluation's own parameters, so both modes see the same
distribution) runs ``--evals`` evaluations with ``--slots`` slots, first generational
(``offspring_size = slots``, every batch waits for its slowest job), then asynchronous
(``max_parallel = slots``), alternating ``--repeat`` times. Utilisation is read off the record:

    utilisation = sum(runtime_s) / (slots x (last finished_at - first submitted_at))

(the ideal wall time is ``sum(runtime_s) / slots``). A finite run cannot reach 100 % even with no
overhead at all: once the last evaluation is asked, slots go idle while the stragglers finish
(the *drain*). So each run also reports its **bound**: the utilisation a scheduler with zero
overhead would reach with the same run times, started in the same order on the same slots
(greedy list scheduling; for generational mode, each batch starting when its slowest ended).
The gap between the two is what simtune's overhead costs (process start-up, polling, asking).
The controller's own cost per finished evaluation in async mode is the controller process's
CPU time divided by the evaluations.

    .venv/bin/python -m benchmarks.bench_async [--slots 8] [--evals 48] [--median 2] [--repeat 2]
    .venv/bin/python -m benchmarks.bench_async --executor slurm --slots 16     # the test cluster
"""

from __future__ import annotations

import argparse
import hashlib
import heapq
import json
import math
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Mapping

import numpy as np
import yaml

REPO = Path(__file__).resolve().parents[1]


def lognormal_sleep(params: Mapping[str, float], out_dir: Path, seed: int, median_s: float = 2.0,
                    sigma: float = 1.0) -> dict[str, float]:
    """The stand-in simulation: a seeded lognormal pause, then a smooth loss of the parameters."""
    key = hashlib.sha256(json.dumps(sorted(params.items())).encode()).digest()
    rng = np.random.default_rng(int.from_bytes(key[:8], "little"))
    time.sleep(float(median_s * math.exp(sigma * rng.standard_normal())))
    x = np.array([params["a"], params["b"], params["c"]])
    return {"loss": float(np.sum((x - 0.3) ** 2))}


def _config(mode: str, slots: int, evals: int, median: float, sigma: float,
            executor: str) -> dict[str, Any]:
    opt: dict[str, Any] = {"seed": 5, "offspring_size": slots, "max_evaluations": evals,
                           "max_ngen": math.ceil(evals / slots), "mode": mode}
    return {
        "name": f"bench_{mode}",
        "parameters": {"a": [0.0, 1.0], "b": [0.0, 1.0], "c": [0.0, 1.0]},
        "targets": [{"class": "ValueTarget", "value": "loss", "target_value": 0.0,
                     "norm": 0.01, "max_score": 100}],
        "optimizer": opt,
        "executor": {"kind": executor, "max_parallel": slots, "time_limit_s": 600,
                     "poll_interval_s": 0.5},
        "evaluator": {"kind": "python", "function": "benchmarks.bench_async:lognormal_sleep",
                      "options": {"median_s": median, "sigma": sigma}},
        "cleanup": {"keep_best": 1},
    }


def zero_overhead_bound(df: Any, slots: int, mode: str) -> float:
    """Utilisation with the same run times (in submission order) and no overhead at all."""
    runtimes = df.runtime_s.to_numpy(float)
    if mode == "generational":
        makespan = float(df.groupby("generation").runtime_s.max().sum())
    else:
        free = [0.0] * slots
        for r in runtimes:
            heapq.heappush(free, heapq.heappop(free) + float(r))
        makespan = max(free)
    return float(runtimes.sum()) / (slots * makespan)


def run_once(mode: str, args: argparse.Namespace, workdir: Path) -> dict[str, float]:
    from orchestrator import load_results

    folder = workdir / f"{mode}-{time.time_ns()}"
    folder.mkdir()
    cfg = folder / "cfg.yaml"
    cfg.write_text(yaml.safe_dump(_config(mode, args.slots, args.evals, args.median, args.sigma,
                                          args.executor)))
    env = dict(os.environ, PYTHONPATH=str(REPO))
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    res = subprocess.run([sys.executable, "-m", "orchestrator", "run", str(cfg), "--run-dir",
                          str(folder / "run"), "--no-progress"], env=env, cwd=REPO,
                         capture_output=True, text=True)
    wall_cmd = time.perf_counter() - t0
    if res.returncode != 0:
        raise SystemExit(f"{mode} run failed:\n{res.stderr[-2000:]}")
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    df = load_results(folder / "run").sort_values("submitted_at")
    busy = float(df.runtime_s.sum())
    start_delay = df.started_at - df.submitted_at
    wall = float(df.finished_at.max() - df.submitted_at.min())
    return {"utilisation": busy / (args.slots * wall), "wall_s": wall, "ideal_s": busy / args.slots,
            "bound": zero_overhead_bound(df, args.slots, mode),
            "start_delay_s": float(start_delay.median()),
            "evaluations": float(len(df)), "command_s": wall_cmd,
            # the controller and its jobs share RUSAGE_CHILDREN locally: an upper bound
            "cpu_s": (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime),
            "best": float(df.total_score.min())}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--slots", type=int, default=8)
    p.add_argument("--evals", type=int, default=48)
    p.add_argument("--median", type=float, default=2.0)
    p.add_argument("--sigma", type=float, default=1.0)
    p.add_argument("--repeat", type=int, default=2)
    p.add_argument("--executor", default="local", choices=["local", "slurm"])
    args = p.parse_args(argv)
    print(f"load average before: {os.getloadavg()}")
    rows: dict[str, list[dict[str, float]]] = {"generational": [], "async": []}
    with tempfile.TemporaryDirectory(prefix="simtune-bench-async-") as tmp:
        for _ in range(args.repeat):
            for mode in ("generational", "async"):
                r = run_once(mode, args, Path(tmp))
                rows[mode].append(r)
                print(f"{mode:>13}: utilisation {r['utilisation']:.1%} (zero-overhead bound "
                      f"{r['bound']:.1%}), wall {r['wall_s']:.1f} s (ideal {r['ideal_s']:.1f} s), "
                      f"{int(r['evaluations'])} evaluations, median start delay "
                      f"{r['start_delay_s']:.3f} s, best {r['best']:.3g}", flush=True)
    print(f"load average after: {os.getloadavg()}")
    print(f"\n| mode | utilisation (median of {args.repeat}) | zero-overhead bound | wall s | "
          "ideal s | start delay s |")
    print("|---|---|---|---|---|---|")
    for mode, rs in rows.items():
        med = {k: float(np.median([r[k] for r in rs])) for k in rs[0]}
        print(f"| {mode} | {med['utilisation']:.1%} | {med['bound']:.1%} | {med['wall_s']:.1f} | "
              f"{med['ideal_s']:.1f} | {med['start_delay_s']:.3f} |")
    ratio = [a["wall_s"] / g["wall_s"] for a, g in zip(rows["async"], rows["generational"])]
    print(f"\nasync / generational wall time, pair by pair: {', '.join(f'{r:.2f}' for r in ratio)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
