"""Benchmark ``simtune report`` (and ``export``) on a synthetic run of 10^5 evaluations.

Writes a run directory in the documented format (``run.json``, ``config.yaml``,
``results.jsonl``, ``generations.jsonl``; no simulation runs) shaped like the published mozaik
example — 37 parameters (30 free, 4 constants, 3 derived), 31 targets, 16 evaluations per
generation, about 5 % failed evaluations — then times :func:`orchestrator.report.write_report`
(loading and each figure) and ``export --top 10``::

    .venv/bin/python benchmarks/bench_report.py [--n 100000] [--keep DIR [--reuse]]

Prints one line per stage and the total; the numbers go into ``docs/benchmarks.md``.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import platform
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import yaml

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

N_FREE, N_CONST, N_DERIVED, N_TARGETS, OFFSPRING = 30, 4, 3, 31, 16
REASONS = ["exception", "timeout", "explosion", "nan", "crashed"]


def make_run(run_dir: Path, n: int, seed: int = 0) -> None:
    """Write a synthetic finished run of ``n`` evaluations into ``run_dir``."""
    rng = np.random.default_rng(seed)
    run_dir.mkdir(parents=True, exist_ok=True)
    params: dict[str, object] = {f"p{i:02d}": [0.0, 10.0 * (i + 1)] for i in range(N_FREE)}
    params["p_log"] = {"low": 0.01, "high": 100.0, "log": True}  # replaces one linear free one
    del params[f"p{N_FREE - 1:02d}"]
    params.update({f"c{i}": float(i) for i in range(N_CONST)})
    params.update({f"d{i}": f"p0{i} + c{i}" for i in range(N_DERIVED)})
    free = [k for k, v in params.items() if isinstance(v, (list, dict))]
    targets = [{"name": f"target{j:02d}", "class": "SpontActivityTarget", "sheet_name": "exc",
                "target_value": [1.0, 2.0] if j % 3 == 0 else float(j), "norm": 0.2,
                "max_score": 20} for j in range(N_TARGETS)]
    raw = {"name": "bench", "parameters": params, "targets": targets,
           "optimizer": {"offspring_size": OFFSPRING, "max_ngen": n // OFFSPRING},
           "executor": {"kind": "local"},
           "evaluator": {"kind": "python", "function": "tests.helpers.sims:rate_sheet"}}
    (run_dir / "config.yaml").write_text(yaml.safe_dump(raw, sort_keys=False))
    (run_dir / "run.json").write_text(json.dumps({"name": "bench", "config_dir": str(REPO),
                                                  "created": "synthetic"}))
    (run_dir / "evals").mkdir(exist_ok=True)
    n_gen = -(-n // OFFSPRING)
    gen = np.arange(n) // OFFSPRING
    ind = np.arange(n) % OFFSPRING
    # a population that contracts towards a point over the generations
    centre = rng.random(len(free))
    spread = 0.3 * np.exp(-gen / (n_gen / 4))[:, None]
    u = np.clip(centre + spread * rng.standard_normal((n, len(free))), 0, 1)
    phys = {}
    for k, name in enumerate(free):
        spec = params[name]
        if isinstance(spec, dict):
            lo, hi = np.log(spec["low"]), np.log(spec["high"])
            phys[name] = np.exp(lo + u[:, k] * (hi - lo))
        else:
            phys[name] = spec[0] + u[:, k] * (spec[1] - spec[0])
    w = rng.standard_normal((len(free), N_TARGETS))
    scores = np.clip(np.abs((u - centre) @ w) * 10 + rng.exponential(0.5, (n, N_TARGETS)), 0, 20)
    values = scores * 0.2 + 3.0
    failed = rng.random(n) < 0.05
    reasons = rng.choice(REASONS, size=n)
    tnames = [t["name"] for t in targets]
    t0 = 1.7e9
    with open(run_dir / "results.jsonl", "w") as fh:
        for r in range(n):
            p = {name: float(phys[name][r]) for name in free}
            p.update({f"c{i}": float(i) for i in range(N_CONST)})
            p.update({f"d{i}": p[f"p0{i}"] + i for i in range(N_DERIVED)})
            if failed[r]:
                sc = dict.fromkeys(tnames, 20.0)
                vals = dict.fromkeys(tnames)
            else:
                sc = dict(zip(tnames, scores[r].tolist()))
                vals = dict(zip(tnames, values[r].tolist()))
            rec = {"generation": int(gen[r]), "individual": int(ind[r]),
                   "status": "failed" if failed[r] else "ok",
                   "reason": str(reasons[r]) if failed[r] else None,
                   "detail": "ValueError: synthetic" if failed[r] else "",
                   "total_score": float(sum(sc.values())), "parameters": p, "values": vals,
                   "value_std": {}, "scores": sc, "target_reasons": {},
                   "eval_dir": str(run_dir / "evals" / f"g{gen[r]:04d}" / f"i{ind[r]:03d}"),
                   "runtime_s": 60.0, "started_at": t0 + r, "finished_at": t0 + r + 60,
                   "host": "node1", "job_id": f"{1000 + gen[r]}_{ind[r]}"}
            fh.write(json.dumps(rec) + "\n")
    totals = np.where(failed, 20.0 * N_TARGETS, scores.sum(axis=1))
    with open(run_dir / "generations.jsonl", "w") as fh:
        for g in range(n_gen):
            sel = gen == g
            fails: dict[str, int] = {}
            for rsn in reasons[sel & failed]:
                fails[str(rsn)] = fails.get(str(rsn), 0) + 1
            s = float(0.3 * np.exp(-g / (n_gen / 4)))
            cov = (s**2 * np.eye(len(free)) + 1e-4 * s**2).tolist()
            fh.write(json.dumps({
                "generation": g, "sigma": s, "sigma_after": s, "mean": centre.tolist(),
                "n": int(sel.sum()), "n_ok": int((sel & ~failed).sum()), "failures": fails,
                "min": float(totals[sel].min()), "median": float(np.median(totals[sel])),
                "max": float(totals[sel].max()), "started_at": t0, "finished_at": t0,
                "duration_s": 60.0, "covariance": cov}) + "\n")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=100_000, help="number of evaluations")
    ap.add_argument("--keep", type=Path, help="write the run here and keep it")
    ap.add_argument("--reuse", action="store_true",
                    help="with --keep: use the run already there instead of writing it again")
    args = ap.parse_args(argv)

    from orchestrator import report
    from orchestrator.export import export

    tmp = None
    if args.keep:
        run_dir = args.keep
    else:
        tmp = tempfile.mkdtemp(prefix="bench_report_")
        run_dir = Path(tmp) / "run"
    try:
        t = time.perf_counter()
        if not (args.reuse and (run_dir / "results.jsonl").exists()):
            make_run(run_dir, args.n)
        else:
            with open(run_dir / "results.jsonl", "rb") as fh:
                args.n = sum(1 for _ in fh)
        size = (run_dir / "results.jsonl").stat().st_size / 2**20
        print(f"synthetic run: {args.n} evaluations, {size:.0f} MiB results.jsonl "
              f"({time.perf_counter() - t:.1f} s to write; not counted)")
        print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, "
              f"Python {platform.python_version()}")
        print(f"load average before: {os.getloadavg()[0]:.1f} (wall times grow with it; "
              f"CPU times are the process's own work)")
        print(f"  {'stage':<44} {'wall s':>7} {'CPU s':>7}")

        def stage(label: str, t: float, c: float) -> None:
            print(f"  {label:<44} {time.perf_counter() - t:7.2f} {time.process_time() - c:7.2f}")

        t_all, c_all = time.perf_counter(), time.process_time()
        t, c = time.perf_counter(), time.process_time()
        data = report.load_run(run_dir)
        stage("load_run (results + generations + config)", t, c)
        for fname, _, _, fn in report.FIGURES:
            t, c = time.perf_counter(), time.process_time()
            fig = fn(data)
            fig.savefig(io.BytesIO(), format="png", dpi=report.DPI)
            stage(fname, t, c)
        stage("stages total", t_all, c_all)
        t, c = time.perf_counter(), time.process_time()
        index = report.write_report(run_dir)
        stage("write_report (end to end, `simtune report`)", t, c)
        t, c = time.perf_counter(), time.process_time()
        export(run_dir, top=10, out=io.StringIO())
        stage("export --top 10", t, c)
        print(f"report: {index}")
    finally:
        if tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
