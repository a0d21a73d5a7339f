"""SLURM generation overhead on the local cluster (scripts/slurm-up.sh must have run).

Measures
1. submission time of an N-task array through :class:`SlurmExecutor` (into the DOWN partition
   ``maint``, so nothing runs; cancelled afterwards)             goal <= 1 s for 1000 tasks
2. submit -> all result files, for the same tasks run by a bare submitit array
   (``AutoExecutor(cluster="slurm").map_array(run_task, ...)``, submitit's defaults) and by
   SlurmExecutor; ratio = per-evaluation launch overhead              goal <= 1.2x
3. detection latency: a job's end (``finished_at`` in its result file, written as the job
   returns) -> the controller-style loop (``poll()`` every poll_interval_s + result-file check)
   notices it; and -> ``poll()`` alone reports COMPLETED              goal <= 1 s

Usage::

    sudo scripts/slurm-up.sh
    .venv/bin/python benchmarks/bench_slurm.py [--n-submit 1000] [--n-run 40] [--repeat 3]
    .venv/bin/python benchmarks/bench_slurm.py --submit-only --n-submit 10000 --pack 1 20
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Sequence

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import submitit  # noqa: E402

from evaluators.evaluate import run_task  # noqa: E402
from orchestrator.config import ExecutorConfig  # noqa: E402
from orchestrator.executors.slurm import SlurmExecutor  # noqa: E402


def options(**kw: Any) -> ExecutorConfig:
    """The ``executor`` section: SLURM; ``slurm={...}`` overrides fields of ``executor.slurm``."""
    base = ExecutorConfig(kind="slurm", time_limit_s=600.0, poll_interval_s=1.0)
    slurm = dataclasses.replace(base.slurm, **kw.pop("slurm", {}))
    return dataclasses.replace(base, slurm=slurm, **kw)


def write_tasks(root: Path, n: int, function: str = "tests.slurm.sims:nothing") -> list[Path]:
    paths = []
    for i in range(n):
        d = root / f"ind_{i}"
        d.mkdir(parents=True)
        task = {"generation": 0, "individual": i, "eval_dir": str(d), "parameters": {"x": 1.0},
                "seeds": [1], "evaluator": {"kind": "python", "function": function},
                "targets": []}
        (d / "task.json").write_text(json.dumps(task))
        paths.append(d / "task.json")
    return paths


def wait_results(paths: Sequence[Path], timeout: float = 900) -> float:
    end = time.monotonic() + timeout
    pending = {p.parent / "result.json" for p in paths}
    while pending:
        pending = {p for p in pending if not p.exists()}
        if time.monotonic() > end:
            raise TimeoutError(f"{len(pending)} results missing")
        time.sleep(0.05)
    return time.perf_counter()


def drain() -> None:
    """Wait until this benchmark's jobs have left the queue so runs do not overlap."""
    names = "bench-submit,bench-launch,bench-submitit,bench-detect"
    while subprocess.run(["squeue", "-h", "-n", names, "-o", "%i"], capture_output=True,
                         text=True).stdout.strip():
        time.sleep(0.2)


def bench_submit(tmp: Path, n: int, repeat: int, pack: int = 1) -> list[float]:
    """Seconds to submit ``n`` evaluations (``pack`` per array task) into the DOWN partition."""
    out = []
    for r in range(repeat):
        ex = SlurmExecutor(tmp / f"sub{n}_{pack}_{r}",
                           options(pack=pack, slurm={"partition": "maint"}))
        task = write_tasks(tmp / f"subtasks{n}_{pack}_{r}", 1)[0]
        t0 = time.perf_counter()
        ids = ex.submit([task] * n, "bench-submit")
        out.append(time.perf_counter() - t0)
        ex.cancel(ids)
        drain()
    return out


def bench_launch(tmp: Path, n: int, repeat: int) -> dict[str, list[float]]:
    res: dict[str, list[float]] = {"submitit": [], "simtune": []}
    for r in range(repeat):
        for kind in ("submitit", "simtune"):  # alternate so drift hits both alike
            drain()
            paths = write_tasks(tmp / f"{kind}{r}", n)
            t0 = time.perf_counter()
            if kind == "submitit":
                ex = submitit.AutoExecutor(folder=str(tmp / f"{kind}{r}_sub"), cluster="slurm")
                ex.update_parameters(timeout_min=10, slurm_array_parallelism=n,
                                     name="bench-submitit")
                ex.map_array(run_task, [str(p) for p in paths])
            else:
                SlurmExecutor(tmp / f"{kind}{r}_sub", options()).submit(paths, "bench-launch")
            res[kind].append(wait_results(paths) - t0)
    return res


def bench_detect(tmp: Path, repeat: int) -> dict[str, list[float]]:
    res: dict[str, list[float]] = {"result_or_poll": [], "poll_only": []}
    for r in range(repeat):
        drain()
        ex = SlurmExecutor(tmp / f"det{r}_sub", options())
        paths = write_tasks(tmp / f"det{r}", 1)
        ids = ex.submit(paths, "bench-detect")
        result = paths[0].parent / "result.json"
        seen_any = seen_poll = None
        while seen_poll is None:  # a controller-style loop at poll_interval_s
            info = ex.poll(ids)[ids[0]]
            now = time.time()
            if seen_any is None and (result.exists() or info.state.is_finished()):
                seen_any = now
            if info.state.is_finished():
                seen_poll = now
            time.sleep(0.05)
        finished = json.loads(result.read_text())["finished_at"]
        res["result_or_poll"].append(seen_any - finished)  # type: ignore[operator]
        res["poll_only"].append(seen_poll - finished)
    return res


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n-submit", type=int, default=1000)
    ap.add_argument("--n-run", type=int, default=40)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--detect-repeat", type=int, default=5)
    ap.add_argument("--pack", type=int, nargs="*", default=[1],
                    help="executor.pack values for the submission benchmark (e.g. 1 20)")
    ap.add_argument("--submit-only", action="store_true", help="only the submission benchmark")
    args = ap.parse_args(argv)
    med = statistics.median
    with tempfile.TemporaryDirectory(prefix="bench slurm ") as tmpdir:
        tmp = Path(tmpdir)
        for pack in args.pack:
            sub = bench_submit(tmp, args.n_submit, args.repeat, pack)
            print(f"submit {args.n_submit} evaluations, pack {pack} "
                  f"({-(-args.n_submit // pack)} array tasks): median {med(sub):.3f} s "
                  f"(runs: {', '.join(f'{x:.3f}' for x in sub)})", flush=True)
        if args.submit_only:
            return 0
        launch = bench_launch(tmp, args.n_run, args.repeat)
        ratio = med(launch["simtune"]) / med(launch["submitit"])
        for k, v in launch.items():
            print(f"{args.n_run} evaluations submit->all results, {k}: median {med(v):.2f} s "
                  f"({med(v) / args.n_run * 1000:.0f} ms/eval; runs: "
                  f"{', '.join(f'{x:.2f}' for x in v)})", flush=True)
        print(f"ratio simtune/submitit: {ratio:.2f}", flush=True)
        det = bench_detect(tmp, args.detect_repeat)
        for k, v in det.items():
            print(f"detection latency ({k}): median {med(v):.2f} s, max {max(v):.2f} s "
                  f"(runs: {', '.join(f'{x:.2f}' for x in v)})", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
