"""Controller overhead and memory against data-store size (local executor).

The controller never opens a data store: the worker scores it and leaves a small result file. So
the controller's time per generation beyond the simulations, and its peak memory, must not grow
with the size of the stores. This runs the same small optimisation with stores of 1, 50 and 200 MB
and reports, per size: the **turnaround** (from the end of a generation's last evaluation to the
submission of the next generation: noticing the result, tell, record, clean up, checkpoint, ask,
write tasks, submit), the controller's overhead per generation (generation wall time minus the
longest evaluation in it) and the controller process's peak RSS.

    .venv/bin/python -m benchmarks.bench_controller [--sizes 1 50 200] [--gens 4]
    .venv/bin/python -m benchmarks.bench_controller --executor slurm --sizes 1   # on the cluster
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]

CHILD = textwrap.dedent("""
    import json, resource, sys
    from pathlib import Path
    from orchestrator.config import load_config
    from orchestrator.controller import Controller
    from orchestrator.rundir import create_run
    cfg = load_config(sys.argv[1]); run = Path(sys.argv[2])
    create_run(cfg, run)
    Controller(cfg, run, progress=False).run()
    print(json.dumps({"maxrss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
""")


def big_store(params, out_dir, seed, mb=1.0):
    """A simulator whose data store holds ``mb`` MB of spikes (and a rate_sheet sheet)."""
    from tests.helpers.sims import rate_sheet

    path = rate_sheet(params, out_dir, seed)
    import h5py

    n = int(mb * 1024 * 1024 / 8)
    with h5py.File(path, "a") as f:
        f.create_dataset("timeseries/bulk/values", data=np.random.default_rng(seed).random(n))
        f.create_dataset("timeseries/bulk/times", data=np.arange(float(n)))
    return path


def run(size_mb: float, gens: int, workdir: Path, executor: str = "local") -> dict:
    cfg = {
        "name": f"bench{int(size_mb)}",
        "parameters": {"a": [0.0, 1.0], "b": [0.0, 2.0], "c": [0.0, 2.0]},
        "targets": [{"class": "SpontActivityTarget", "target_value": [4, 5], "sheet_name": "exc",
                     "norm": 0.2}],
        "optimizer": {"offspring_size": 4, "max_ngen": gens, "seed": 1},
        "executor": {"kind": executor, "max_parallel": 4, "time_limit_s": 300},
        "evaluator": {"kind": "python", "function": "benchmarks.bench_controller:big_store",
                      "options": {"mb": size_mb}},
        "cleanup": {"keep_best": 1},
    }
    import yaml

    path = workdir / f"cfg{int(size_mb)}.yaml"
    path.write_text(yaml.safe_dump(cfg))
    rundir = workdir / f"run{int(size_mb)}"
    env = dict(os.environ, PYTHONPATH=str(REPO))
    out = subprocess.run([sys.executable, "-c", CHILD, str(path), str(rundir)], cwd=REPO,
                         env=env, capture_output=True, text=True, check=True)
    rss = json.loads(out.stdout.strip().splitlines()[-1])["maxrss_mb"]
    from orchestrator import load_generations, load_results

    df, gen = load_results(rundir), load_generations(rundir)
    overhead, turnaround = [], []
    for g, row in gen.iterrows():
        rt = df[df.generation == row.generation].runtime_s.max()
        overhead.append(row.duration_s - rt)
        if g + 1 < len(gen):
            last_end = df[df.generation == row.generation].finished_at.max()
            turnaround.append(gen.iloc[g + 1].submitted_at - last_end)
    return {"size_mb": size_mb, "overhead_s": float(np.median(overhead)),
            "turnaround_s": float(np.median(turnaround)),
            "turnaround_max_s": float(np.max(turnaround)),
            "overhead_max_s": float(np.max(overhead)), "peak_rss_mb": rss,
            "eval_s": float(df.runtime_s.median())}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", type=float, nargs="+", default=[1, 50, 200])
    ap.add_argument("--gens", type=int, default=4)
    ap.add_argument("--executor", choices=["local", "slurm"], default="local")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(dir=None if args.executor == "local" else REPO) as d:
        rows = [run(s, args.gens, Path(d), args.executor) for s in args.sizes]
    print(f"executor {args.executor}, {args.gens} generations of 4 evaluations")
    print("| data store | turnaround: last result -> next submission (median / max) "
          "| overhead per generation (median / max) | controller peak RSS "
          "| evaluation time (median) |")
    print("|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['size_mb']:.0f} MB | {r['turnaround_s']:.2f} s / {r['turnaround_max_s']:.2f} s "
              f"| {r['overhead_s']:.2f} s / {r['overhead_max_s']:.2f} s "
              f"| {r['peak_rss_mb']:.0f} MB | {r['eval_s']:.2f} s |")


if __name__ == "__main__":
    main()
