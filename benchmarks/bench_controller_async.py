"""The asynchronous controller's own cost per finished evaluation, with 100 and 1000 in flight.

The controller (``optimizer.mode: async``, CMA-ES with its default surrogate) runs in this
process against a *trickle* executor: every submitted task stays in flight, and each poll
finishes the ``--per-poll`` oldest ones by running the real worker
(:func:`evaluators.worker.run_task`, a python evaluator returning one value) in this process;
the rest are reported RUNNING. So the controller watches exactly ``max_parallel`` jobs at all
times, and everything it does per result is real: the watcher reading ``result.json``, the
record appended to ``results.jsonl``, the tell, the ask, the task file, the submission, the
in-flight table and checkpoint written atomically, the cleanup. The worker's CPU time is
measured around each ``run_task`` call and subtracted::

    cost per evaluation = (process CPU - worker CPU) / evaluations finished

CPU (``time.process_time``), not wall time, so a loaded machine changes little; the first
``--warm`` evaluations (imports, the first submission of ``max_parallel`` tasks) are left out
by measuring between two points of the same run.

    .venv/bin/python -m benchmarks.bench_controller_async [--inflight 100,1000] [--evals 600]
"""

from __future__ import annotations

import argparse
import contextlib
import os
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any, Mapping

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from orchestrator.executors import Executor, JobInfo, JobState  # noqa: E402


def loss(params: Mapping[str, float], out_dir: Path, seed: int) -> dict[str, float]:
    """The stand-in model: a smooth function of the parameters (no simulation)."""
    return {"loss": float(sum((v - 0.3) ** 2 for v in params.values()))}


class TrickleExecutor(Executor):
    """Keeps every job in flight; a worker thread runs the oldest task ``rate`` times a second
    (see the module docstring). Polls answer from memory: RUNNING or COMPLETED."""

    kind = "trickle"

    def __init__(self, folder: Path, options: Any, rate: float) -> None:
        super().__init__(folder, options)
        self.rate = rate
        self.queue: dict[str, str] = {}  # job id -> task path, in submission order
        self.done: set[str] = set()
        self.worker_cpu = 0.0
        self.finished = 0
        self.marks: dict[int, tuple[float, float, float]] = {}  # finished -> CPU, worker, wall
        self.watch: set[int] = set()
        self.stop = threading.Event()
        self._lock = threading.Lock()
        self._n = 0
        self._thread = threading.Thread(target=self._work, daemon=True)
        self._thread.start()

    def _work(self) -> None:
        from evaluators.worker import run_task

        while not self.stop.is_set():
            t_next = time.perf_counter() + 1.0 / self.rate
            with self._lock:
                item = next(iter(self.queue.items()), None)
                if item is not None:
                    del self.queue[item[0]]
            if item is not None:
                c = time.thread_time()
                run_task(item[1])
                self.worker_cpu += time.thread_time() - c
                with self._lock:
                    self.done.add(item[0])
                    self.finished += 1
                if self.finished in self.watch:
                    self.marks[self.finished] = (time.process_time(), self.worker_cpu,
                                                 time.perf_counter())
            time.sleep(max(t_next - time.perf_counter(), 0.0))

    def _submit(self, task_paths: list[Path], label: str) -> list[str]:
        ids = []
        with self._lock:
            for p in task_paths:
                self._n += 1
                jid = f"t{self._n}"
                self.queue[jid] = str(p)
                ids.append(jid)
        return ids

    def _poll(self, job_ids: list[str]) -> dict[str, JobInfo]:
        now = time.time()
        with self._lock:
            return {j: JobInfo(JobState.COMPLETED if j in self.done else JobState.RUNNING, now)
                    for j in job_ids}

    def _cancel(self, job_ids: list[str]) -> None:
        with self._lock:
            for j in job_ids:
                self.queue.pop(j, None)


def _config(inflight: int, evals: int) -> dict[str, Any]:
    return {
        "name": f"bench_ctl_{inflight}",
        "parameters": {f"p{i}": [0.0, 1.0] for i in range(10)},
        "targets": [{"class": "ValueTarget", "value": "loss", "target_value": 0.0,
                     "norm": 0.01, "max_score": 100}],
        "optimizer": {"mode": "async", "seed": 3, "offspring_size": 20,
                      "max_evaluations": evals},
        "executor": {"kind": "debug", "max_parallel": inflight, "poll_interval_s": 1.0},
        "evaluator": {"kind": "python",
                      "function": "benchmarks.bench_controller_async:loss"},
        "cleanup": {"keep_best": 3},
    }


def run(inflight: int, evals: int, warm: int, rate: float, workdir: Path) -> dict[str, float]:
    from orchestrator.config import config_from_dict
    from orchestrator.controller import Controller
    from orchestrator.executors.watcher import JobWatcher
    from orchestrator.rundir import create_run

    cfg = config_from_dict(_config(inflight, inflight + evals + warm), REPO)
    run_dir = create_run(cfg, workdir / f"run-{inflight}")
    ex = TrickleExecutor(run_dir / "jobs", cfg.executor, rate)
    ex.watch = {warm, warm + evals}
    ctl = Controller(cfg, run_dir, executor=ex, progress=False)
    polls: list[float] = []
    check = JobWatcher._check_jobs

    def timed_check(self: JobWatcher) -> Any:  # the CPU of one poll and what it looks at
        c = time.thread_time()
        out = check(self)
        polls.append(time.thread_time() - c)
        if ex.finished >= warm + evals and len(ex.marks) == 2:
            raise _Done
        return out

    JobWatcher._check_jobs = timed_check  # type: ignore[method-assign]
    try:
        with open(os.devnull, "w") as null, contextlib.redirect_stdout(null):
            ctl.run()  # (its progress lines are not the benchmark's output)
    except _Done:
        pass
    finally:
        JobWatcher._check_jobs = check  # type: ignore[method-assign]
        ex.stop.set()
    (c0, w0, t0), (c1, w1, t1) = ex.marks[warm], ex.marks[warm + evals]
    return {"inflight": inflight, "evaluations": evals,
            "ms_per_eval": 1000 * ((c1 - c0) - (w1 - w0)) / evals,
            "worker_ms_per_eval": 1000 * (w1 - w0) / evals,
            "wall_s": t1 - t0, "poll_ms": 1000 * statistics.median(polls[len(polls) // 4:])}


class _Done(Exception):
    """Raised from the executor once the measured evaluations are in."""


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--inflight", default="100,1000", help="comma-separated in-flight counts")
    ap.add_argument("--evals", type=int, default=600, help="evaluations measured per count")
    ap.add_argument("--warm", type=int, default=100, help="evaluations before measuring")
    ap.add_argument("--rate", type=float, default=10.0, help="results per second")
    ap.add_argument("--repeat", type=int, default=2)
    args = ap.parse_args(argv)
    print(f"load average before: {os.getloadavg()}")
    rows = []
    with tempfile.TemporaryDirectory(prefix="simtune-bench-ctl-") as tmp:
        for r in range(args.repeat):
            for k in (int(x) for x in args.inflight.split(",")):
                row = run(k, args.evals, args.warm, args.rate, Path(tmp) / f"r{r}")
                rows.append(row)
                print(f"  {k:>5} in flight: controller {row['ms_per_eval']:.1f} ms CPU per "
                      f"evaluation (polls included; worker {row['worker_ms_per_eval']:.1f} ms "
                      f"excluded), one poll {row['poll_ms']:.1f} ms CPU; {row['evaluations']} "
                      f"in {row['wall_s']:.0f} s", flush=True)
    print(f"load average after: {os.getloadavg()}")
    print("\n| in flight | controller CPU ms / evaluation (each repeat) | one poll, ms CPU |")
    print("|---:|---|---|")
    for k in sorted({int(r["inflight"]) for r in rows}):
        vals = [r["ms_per_eval"] for r in rows if r["inflight"] == k]
        pol = [r["poll_ms"] for r in rows if r["inflight"] == k]
        print(f"| {k} | {', '.join(f'{v:.1f}' for v in vals)} | "
              f"{', '.join(f'{v:.1f}' for v in pol)} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
