"""Benchmark the results table and ``simtune report`` on 10^6 evaluations.

Builds a synthetic run directory the way a real run grows -- evaluation records appended through
:class:`orchestrator.results.ResultsWriter` one generation at a time, the columnar cache brought
up to date (``update_cache()``) after each -- of 10^6 evaluations x 30 parameters x 30 targets
(about 5 % failed with a reason and a detail, ``why.*`` reasons on some targets of some ok
rows), with what ``simtune report`` reads beside it (``run.json``, a valid ``config.yaml`` of
30 free parameters and 30 ``ParameterExpression`` targets, ``generations.jsonl``,
``covariance.json``). Then measures:

* ``update_cache()`` per generation while the run grows (median / max), and for a few
  generations of 20 rows on top of the full cache (the cost a controller pays per generation);
* each as a separate fresh process (nothing warm but the page cache), ``--repeat`` times:
  ``load_results`` (the call alone, and the whole process), a rebuild of the cache from the log
  alone (``results.cache/`` deleted, then ``load_results``), and ``simtune report RUN_DIR`` end to
  end::

    .venv/bin/python benchmarks/bench_results.py                      # temp dir, removed
    .venv/bin/python benchmarks/bench_results.py --workdir /tmp/br --keep   # keep the run
    .venv/bin/python benchmarks/bench_results.py --workdir /tmp/br --keep --reuse  # measure again

Prints a table (medians, min-max) and the load average; the numbers go into docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import yaml

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

N_PARAMS, N_TARGETS, MAX_SCORE = 30, 30, 20.0
#: failure reasons and their shares among failed evaluations (a plausible mix)
REASONS = {"exception": 0.35, "timeout": 0.2, "explosion": 0.15, "nan": 0.1, "crashed": 0.1,
           "out_of_memory": 0.05, "never_started": 0.05}
DETAILS = {
    "exception": "RuntimeError: NESTError in SLI function Simulate_d: {}",
    "timeout": "evaluation exceeded time_limit_s=7200 (ran {} s)",
    "explosion": "runaway activity: mean rate {} Hz in V1_Exc_L4 above the explosion limit",
    "nan": "target value is NaN: {}",
    "crashed": "job exited with code 137 (signal 9) on node{}",
    "out_of_memory": "slurmstepd: error: Detected {} oom_kill events",
    "never_started": "still pending after pending_limit_s=86400 ({} s)",
}
WHY = ["undefined: no spikes in V1_Exc_L4 during 'spontaneous'",
       "undefined: fewer than 2 ISIs in every selected neuron",
       "undefined: no recorded cell in the selection",
       "undefined: 'p07 / p08' is inf"]


def param_names() -> list[str]:
    return [f"p{i:02d}" for i in range(N_PARAMS)]


def target_names() -> list[str]:
    return [f"RatioTarget{j:02d}[V1_Exc_L4]" for j in range(N_TARGETS)]


def write_config(run_dir: Path, n_gen: int, gen_size: int) -> None:
    params: dict[str, Any] = {n: [0.0, 10.0 * (i + 1)] for i, n in enumerate(param_names())}
    params["p29"] = {"low": 0.01, "high": 100.0, "log": True}
    pn = param_names()
    kinds = [("range", [0.4, 0.6]), ("exact", 0.8), ("at_most", 1.5)]
    targets = [{"class": "ParameterExpression", "name": t,
                "expression": f"{pn[j]} / ({pn[(j + 1) % N_PARAMS]} + 1)",
                "kind": kinds[j % 3][0], "target_value": kinds[j % 3][1], "norm": 0.2,
                "max_score": MAX_SCORE}
               for j, t in enumerate(target_names())]
    raw = {"name": "bench_results", "parameters": params, "targets": targets,
           "optimizer": {"offspring_size": gen_size, "seed": 1, "max_ngen": n_gen},
           "executor": {"kind": "local"},
           "evaluator": {"kind": "v1_sheet"}}
    (run_dir / "config.yaml").write_text(yaml.safe_dump(raw, sort_keys=False))
    (run_dir / "run.json").write_text(json.dumps({"name": "bench_results",
                                                  "config_dir": str(REPO),
                                                  "created": "synthetic"}))
    (run_dir / "evals").mkdir(exist_ok=True)


class Synth:
    """Records of a population that contracts towards a point over the generations."""

    def __init__(self, n_gen: int, seed: int = 0) -> None:
        self.rng = np.random.default_rng(seed)
        self.n_gen = n_gen
        self.centre = self.rng.random(N_PARAMS)
        self.w = self.rng.standard_normal((N_PARAMS, N_TARGETS))
        self.lo = np.array([0.0] * N_PARAMS)
        self.hi = np.array([10.0 * (i + 1) for i in range(N_PARAMS)])
        self.reasons = list(REASONS)
        self.shares = np.array(list(REASONS.values()))
        self.t = 1.7e9

    def sigma(self, g: int) -> float:
        return float(0.3 * np.exp(-g / max(self.n_gen / 4, 1)))

    def generation(self, run_dir: Path, g: int, size: int) -> tuple[list[Any], dict[str, Any]]:
        from simtune_core.record import EvaluationRecord

        rng, s = self.rng, self.sigma(g)
        u = np.clip(self.centre + s * rng.standard_normal((size, N_PARAMS)), 0, 1)
        phys = self.lo + u * (self.hi - self.lo)
        phys[:, -1] = np.exp(np.log(0.01) + u[:, -1] * (np.log(100.0) - np.log(0.01)))
        scores = np.clip(np.abs((u - self.centre) @ self.w) * 10
                         + rng.exponential(0.5, (size, N_TARGETS)), 0, MAX_SCORE)
        values = scores * 0.2 + 3.0
        failed = rng.random(size) < 0.05
        reason = rng.choice(len(self.reasons), size=size, p=self.shares)
        undefined = (rng.random((size, N_TARGETS)) < 0.004) & ~failed[:, None]
        why_k = rng.integers(0, len(WHY), size=(size, N_TARGETS))
        runtime = rng.gamma(4.0, 400.0, size)
        pn, tn = param_names(), target_names()
        records = []
        for i in range(size):
            p = dict(zip(pn, phys[i].tolist()))
            if failed[i]:
                rsn = self.reasons[reason[i]]
                sc = dict.fromkeys(tn, MAX_SCORE)
                vals: dict[str, float | None] = dict.fromkeys(tn)
                why: dict[str, str] = {}
                detail = DETAILS[rsn].format(int(rng.integers(1, 10_000)))
            else:
                rsn, detail = None, ""
                sc = dict(zip(tn, scores[i].tolist()))
                vals = dict(zip(tn, values[i].tolist()))
                why = {}
                for j in np.flatnonzero(undefined[i]).tolist():
                    vals[tn[j]] = None
                    sc[tn[j]] = MAX_SCORE
                    why[tn[j]] = WHY[why_k[i, j]]
            start = self.t + 10 * i
            records.append(EvaluationRecord(
                generation=g, individual=i, status="failed" if failed[i] else "ok",
                reason=rsn, detail=detail, total_score=float(sum(sc.values())), parameters=p,
                eval_dir=str(run_dir / "evals" / f"g{g:04d}" / f"i{i:03d}"), values=vals,
                scores=sc, target_reasons=why, runtime_s=float(runtime[i]), started_at=start,
                finished_at=start + float(runtime[i]), host=f"node{i % 64:03d}",
                job_id=f"{4_000_000 + g}_{i}", pid=10_000 + i))
        self.t += float(runtime.max()) + 30
        totals = np.array([r.total_score for r in records])
        fails: dict[str, int] = {}
        for r in records:
            if r.reason:
                fails[r.reason] = fails.get(r.reason, 0) + 1
        row = {"generation": g, "sigma": s, "sigma_after": self.sigma(g + 1),
               "mean": self.centre.tolist(), "n": size, "n_ok": size - sum(fails.values()),
               "failures": fails, "min": float(totals.min()),
               "median": float(np.median(totals)), "max": float(totals.max()),
               "started_at": self.t, "finished_at": self.t, "duration_s": 3600.0,
               "submitted_at": self.t}
        return records, row


def build(run_dir: Path, n: int, gen_size: int) -> dict[str, Any]:
    """Grow the run generation by generation; returns the update_cache() times."""
    from orchestrator.results import ResultsWriter

    run_dir.mkdir(parents=True, exist_ok=True)
    n_gen = -(-n // gen_size)
    write_config(run_dir, n_gen, gen_size)
    synth = Synth(n_gen)
    w = ResultsWriter(run_dir)
    t_append, t_update = [], []
    t0 = time.perf_counter()
    for g in range(n_gen):
        size = min(gen_size, n - g * gen_size)
        records, row = synth.generation(run_dir, g, size)
        t = time.perf_counter()
        w.append(records)
        w.append_generation(row)
        t_append.append(time.perf_counter() - t)
        t = time.perf_counter()
        w.update_cache()
        t_update.append(time.perf_counter() - t)
        if g % 100 == 99 or g == n_gen - 1:
            print(f"  built {g + 1}/{n_gen} generations ({time.perf_counter() - t0:.0f} s; "
                  f"update_cache median {statistics.median(t_update[-100:]):.3f} s, "
                  f"max {max(t_update[-100:]):.3f} s over the last 100)", flush=True)
    cov = (synth.sigma(n_gen) ** 2 * (np.eye(N_PARAMS) + 0.1)).tolist()
    w.write_covariance(n_gen - 1, cov)
    (run_dir / "bench.json").write_text(json.dumps({
        "n": n, "gen_size": gen_size, "n_gen": n_gen, "build_s": time.perf_counter() - t0,
        "update_s": t_update, "append_s": t_append}))
    return {"update_s": t_update}


def small_generations(run_dir: Path, k: int, size: int = 20) -> list[float]:
    """Append ``k`` generations of ``size`` rows on top and time update_cache() for each."""
    from orchestrator.results import ResultsWriter, load_generations

    gens = load_generations(run_dir)
    g0 = int(gens["generation"].max()) + 1
    synth = Synth(g0 + k, seed=g0)
    w = ResultsWriter(run_dir)
    out = []
    for g in range(g0, g0 + k):
        records, row = synth.generation(run_dir, g, size)
        w.append(records)
        w.append_generation(row)
        t = time.perf_counter()
        w.update_cache()
        out.append(time.perf_counter() - t)
    return out


# -- stages, each run in a fresh process ---------------------------------------------------
def _child(stage: str, run_dir: Path) -> dict[str, Any]:
    t, c = time.perf_counter(), time.process_time()
    from orchestrator import load_results

    imports = (time.perf_counter() - t, time.process_time() - c)
    t, c = time.perf_counter(), time.process_time()
    df = load_results(run_dir)
    wall, cpu = time.perf_counter() - t, time.process_time() - c
    return {"stage": stage, "wall": wall, "cpu": cpu, "import_wall": imports[0],
            "import_cpu": imports[1], "rows": len(df), "columns": df.shape[1],
            "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


def _run(cmd: list[str]) -> tuple[float, float, str]:
    """Run ``cmd``; its whole-process wall and CPU (user + system) seconds and its stdout."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t = time.perf_counter()
    p = subprocess.run(cmd, capture_output=True, text=True, cwd=REPO)
    wall = time.perf_counter() - t
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    if p.returncode != 0:
        raise RuntimeError(f"{cmd} exited {p.returncode}:\n{p.stdout}\n{p.stderr}")
    return wall, cpu, p.stdout


def measure(run_dir: Path, repeat: int, stages: list[str]) -> list[dict[str, Any]]:
    py = sys.executable
    simtune = str(Path(py).with_name("simtune"))
    me = [py, str(Path(__file__).resolve())]
    rows = []
    for stage in stages:
        for _ in range(repeat):
            if stage == "rebuild":
                shutil.rmtree(run_dir / "results.cache", ignore_errors=True)
            if stage == "report":
                wall, cpu, _ = _run([simtune, "report", str(run_dir)])
                rows.append({"stage": stage, "proc_wall": wall, "proc_cpu": cpu})
            else:
                wall, cpu, out = _run(me + ["--child", stage, "--workdir", str(run_dir)])
                r = json.loads(out.strip().splitlines()[-1])
                r.update(proc_wall=wall, proc_cpu=cpu)
                rows.append(r)
            print(f"  {stage}: {json.dumps(rows[-1])}", flush=True)
    return rows


def _med(xs: list[float]) -> str:
    if not xs:
        return ""
    return (f"{statistics.median(xs):.2f} ({min(xs):.2f}-{max(xs):.2f})" if len(xs) > 1
            else f"{xs[0]:.2f}")


def table(rows: list[dict[str, Any]]) -> str:
    labels = {"load": "load_results (cache up to date)",
              "rebuild": "load_results, cache deleted (rebuild from the log)",
              "report": "simtune report RUN_DIR (end to end)"}
    out = ["| stage | runs | call wall s | call CPU s | process wall s | process CPU s |",
           "|---|---:|---:|---:|---:|---:|"]
    for stage in ("load", "rebuild", "report"):
        rs = [r for r in rows if r["stage"] == stage]
        if not rs:
            continue
        out.append(f"| {labels[stage]} | {len(rs)} | {_med([r['wall'] for r in rs if 'wall' in r])} "
                   f"| {_med([r['cpu'] for r in rs if 'cpu' in r])} "
                   f"| {_med([r['proc_wall'] for r in rs])} | {_med([r['proc_cpu'] for r in rs])} |")
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=1_000_000, help="evaluations (default 10^6)")
    ap.add_argument("--gen-size", type=int, default=1000, help="evaluations per generation")
    ap.add_argument("--workdir", type=Path, help="the run directory (default: a temp dir)")
    ap.add_argument("--keep", action="store_true", help="keep the run directory at the end")
    ap.add_argument("--reuse", action="store_true",
                    help="measure the run already in --workdir instead of building it")
    ap.add_argument("--repeat", type=int, default=3, help="fresh processes per stage")
    ap.add_argument("--small", type=int, default=5,
                    help="generations of 20 rows appended on top (update_cache cost)")
    ap.add_argument("--stages", default="load,report,rebuild",
                    help="comma-separated, of load, report, rebuild")
    ap.add_argument("--child", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.child:
        print(json.dumps(_child(args.child, args.workdir)))
        return 0

    tmp = None
    if args.workdir is None:
        tmp = tempfile.mkdtemp(prefix="bench_results_")
        run_dir = Path(tmp) / "run"
    else:
        run_dir = args.workdir
    try:
        print(f"machine: {platform.machine()}, {os.cpu_count()} CPUs, Python "
              f"{platform.python_version()}; {_uptime()}")
        if args.reuse and (run_dir / "bench.json").exists():
            print(f"reusing {run_dir}")
        else:
            print(f"building {run_dir}: {args.n} evaluations in generations of "
                  f"{args.gen_size}")
            build(run_dir, args.n, args.gen_size)
        meta = json.loads((run_dir / "bench.json").read_text())
        ups = np.array(meta["update_s"])
        log_mib = (run_dir / "results.jsonl").stat().st_size / 2**20
        cache_mib = sum(f.stat().st_size for f in (run_dir / "results.cache").glob("*")) / 2**20
        print(f"run: {meta['n']} evaluations, {meta['n_gen']} generations of "
              f"{meta['gen_size']}, results.jsonl {log_mib:.0f} MiB, results.cache "
              f"{cache_mib:.0f} MiB; built in {meta['build_s']:.0f} s")
        last = ups[-max(len(ups) // 10, 1):]
        print(f"update_cache per generation of {meta['gen_size']} while growing: median "
              f"{np.median(ups):.3f} s, 90th percentile {np.percentile(ups, 90):.3f} s, max "
              f"{ups.max():.2f} s (generation {int(ups.argmax())}); last 10 %: median "
              f"{np.median(last):.3f} s, max {last.max():.2f} s; all together "
              f"{ups.sum():.0f} s")
        if args.small:
            small = small_generations(run_dir, args.small)
            print(f"update_cache for a generation of 20 rows on top of the full cache "
                  f"({args.small} generations): median {statistics.median(small):.3f} s, "
                  f"max {max(small):.3f} s; {', '.join(f'{s:.3f}' for s in small)}")
        print(_uptime())
        rows = measure(run_dir, args.repeat, [s for s in args.stages.split(",") if s])
        print(_uptime())
        print(table(rows))
    finally:
        if tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)
        elif not args.keep and (run_dir / "bench.json").exists():
            shutil.rmtree(run_dir, ignore_errors=True)
    return 0


def _uptime() -> str:
    try:
        return "uptime: " + subprocess.run(["uptime"], capture_output=True,
                                           text=True).stdout.strip()
    except OSError:
        return f"load average: {os.getloadavg()}"


if __name__ == "__main__":
    sys.exit(main())
