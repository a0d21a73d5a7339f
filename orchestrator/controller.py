"""The generational controller: ask -> submit -> wait -> tell -> record -> clean up -> checkpoint.

One generation at a time: the optimizer asks a batch of points, each becomes a task file in its
evaluation directory (``orchestrator.rundir``), the job watcher (``orchestrator.executors.watcher``)
runs them and turns every job into an evaluation record, the optimizer is told each point with
its reason, the records are appended to ``results.jsonl``, data stores outside the best
``keep_best`` are removed, and the checkpoint is written. Every step that writes leaves the run
resumable from where it stopped (``docs/reliability.md``: kill -9 at each failpoint).
"""

from __future__ import annotations

import logging
import math
import signal
import time
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np

from orchestrator import rundir
from orchestrator.bookkeeping import (
    Best,
    Progress,
    generation_problems,
    generation_row,
    told_batch,
)
from orchestrator.checkpoint import (
    Checkpoint,
    InflightWriter,
    clear_inflight,
    load_checkpoint,
    load_inflight,
    save_checkpoint,
    save_inflight,
)
from orchestrator.config import Config
from orchestrator.executors import Executor, make_executor
from orchestrator.executors.watcher import JobWatcher, Limits, WatchedTask
from orchestrator.optimizer import Optimizer, make_optimizer, optimizer_from_state
from orchestrator.results import ResultsWriter
from orchestrator.rundir import Interrupted, RunFailed
from simtune_core.faults import failpoint
from simtune_core.io import atomic_write_json
from simtune_core.record import INBOX_DIR, TASK_FILE, EvaluationRecord

__all__ = ["Controller", "Interrupted", "RunFailed"]

log = logging.getLogger("simtune")

#: the search covariance is recorded (covariance.json) up to 50 free parameters
MAX_COVARIANCE_SIZE = 2500


class Controller:
    """Runs (or resumes) the optimisation of one run directory.

    Parameters
    ----------
    cfg
        The validated config.
    run_dir
        An existing run directory (:func:`orchestrator.rundir.create_run`).
    executor
        Defaults to the executor the config names.
    progress
        A progress bar per generation (else one line per generation).
    max_ngen
        Overrides the checkpoint's generation budget (``simtune resume --max-ngen``).
    """

    def __init__(self, cfg: Config, run_dir: Path, executor: Executor | None = None,
                 progress: bool = True, max_ngen: int | None = None) -> None:
        self.cfg = cfg
        self.run_dir = Path(run_dir).resolve()
        self.meta = rundir.read_meta(self.run_dir)
        self.executor = executor or make_executor(cfg.executor.kind, self.run_dir / "jobs",
                                                  cfg.executor)
        self.progress = Progress(progress)
        self._max_ngen_override = max_ngen
        self._stop_signal: int | None = None
        self.results = ResultsWriter(self.run_dir)
        self.on_generation: Callable[[int, list[EvaluationRecord]], None] | None = None

    # -- setup ----------------------------------------------------------------------------------
    def _load_or_init(self) -> tuple[Optimizer, Checkpoint]:
        cp = load_checkpoint(self.run_dir)
        if cp is None:
            oc = self.cfg.optimizer
            (self.run_dir / "cma").mkdir(exist_ok=True)
            opt = make_optimizer(oc, self.cfg.space.to_unit(self.cfg.centroid),
                                 self.cfg.total_max_score, self.run_dir / "cma",
                                 n_targets=len(self.cfg.targets),
                                 terms=[t.term() for t in self.cfg.targets])
            cp = Checkpoint(0, opt.state(), oc.max_ngen)
        else:
            opt = optimizer_from_state(cp.optimizer_state)
        if self._max_ngen_override is not None:
            cp.max_ngen = self._max_ngen_override
            cp.finished = False
            cp.stop_reason = ""
        return opt, cp

    def _setup_logging(self) -> logging.Handler:
        handler = logging.FileHandler(self.run_dir / "simtune.log")
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
        logging.getLogger("simtune").addHandler(handler)
        logging.getLogger("simtune").setLevel(logging.INFO)
        return handler

    def _on_signal(self, signum: int, _frame: Any) -> None:
        log.warning("received signal %d: stopping after saving state", signum)
        self._stop_signal = signum

    # -- main loop ------------------------------------------------------------------------------
    def run(self) -> Checkpoint:
        """Run generations until ``max_ngen`` (or a stop); returns the final checkpoint.

        Raises :class:`Interrupted` when stopped by a signal and :class:`RunFailed` when the
        first generation measured nothing (state is saved either way; resume continues).
        """
        with rundir.RunLock(self.run_dir):
            handler = self._setup_logging()
            old = {s: signal.signal(s, self._on_signal)
                   for s in (signal.SIGTERM, signal.SIGUSR1, signal.SIGINT)}
            try:
                return self._run()
            finally:
                for s, h in old.items():
                    signal.signal(s, h)
                logging.getLogger("simtune").removeHandler(handler)
                handler.close()
                self.progress.close()
                self.executor.close()

    def _run(self) -> Checkpoint:
        rundir.remove_torn_writes(self.run_dir)
        (self.run_dir / INBOX_DIR).mkdir(exist_ok=True, mode=0o750)  # (runs of older versions)
        self.results.update_cache(warm=True)  # a resumed run's cache at once, pyarrow loaded
        if self.cfg.reference is not None and not self.meta.get("reference_values"):
            from orchestrator.reference import run_reference

            run_reference(self)
        opt, cp = self._load_or_init()
        best = Best(cp.best, cp.kept, self.cfg.cleanup.keep_best, self.cfg.cleanup.keep_failed)
        log.info("run %s: generation %d of %d, %d free parameters, executor %s, mode %s",
                 self.cfg.name, cp.next_generation, cp.max_ngen, self.cfg.space.dim,
                 self.cfg.executor.kind, self.cfg.optimizer.mode)
        if self.cfg.optimizer.mode == "async":
            from orchestrator.optimizer.cma import CMAOptimizer
            from orchestrator.steady import AsyncLoop

            assert isinstance(opt, CMAOptimizer)  # config: async is CMA-ES only
            return AsyncLoop(self, opt, cp, best).run()
        return self._generations(opt, cp, best)

    def _generations(self, opt: Optimizer, cp: Checkpoint, best: Best) -> Checkpoint:
        """The generational loop: one batch at a time, each waiting for its slowest job."""
        limit = self.cfg.optimizer.max_evaluations
        while (cp.next_generation < cp.max_ngen and not cp.finished
               and (limit is None or cp.n_evaluations < limit)):
            g = cp.next_generation
            t0 = time.time()
            before = opt.state() if cp.n_evaluations == 0 else None
            n = self.cfg.optimizer.offspring_size
            xs = opt.ask_batch(n if limit is None else min(n, limit - cp.n_evaluations))
            failpoint("after_ask")
            sigma = opt.sigma
            records, submitted_at = self._evaluate_generation(g, xs)
            problems = generation_problems(records, first=cp.n_evaluations == 0,
                                           config_hint=str(self.run_dir / "config.yaml"))
            if problems.fatal is None:
                opt.tell_batch(xs, *told_batch(records, self.cfg.targets))
            failpoint("after_tell")
            self.note_gate_warnings(records)
            self.results.append(records)
            failpoint("after_results")
            self.results.append_generation(
                generation_row(g, records, sigma, opt, t0, submitted_at))
            failpoint("after_generation_row")
            if opt.covariance.size <= MAX_COVARIANCE_SIZE:
                self.results.write_covariance(g, opt.covariance.tolist())
            self.results.update_cache()
            best.update(records)
            cp.best, cp.kept = best.best, best.kept
            cp.next_generation = g + 1
            cp.n_evaluations += len(records)
            # a generation that measured nothing is not told: the optimizer asks its points again
            cp.optimizer_state = opt.state() if before is None or problems.fatal is None \
                else before
            stop = opt.stop_reasons()
            if stop:
                cp.finished, cp.stop_reason = True, ", ".join(stop)
                log.info("pycma stop criteria met: %s", cp.stop_reason)
            failpoint("before_checkpoint")
            save_checkpoint(self.run_dir, cp)
            failpoint("after_checkpoint")
            clear_inflight(self.run_dir)
            top = cp.best[0]["total_score"] if cp.best else math.nan
            n_failed = sum(not r.ok for r in records)
            log.info("generation %d done in %.1f s: %d ok, %d failed, best so far %.4g",
                     g, time.time() - t0, len(records) - n_failed, n_failed, top)
            self.progress.end(g, time.time() - t0, top)
            for w in problems.warnings:
                log.warning("generation %d: %s", g, w)
                print(f"simtune: warning: generation {g}: {w}", flush=True)
            if problems.fatal is not None:
                log.error("stopping: %s", problems.fatal)
                raise RunFailed(f"{problems.fatal}; the run is stopped (nothing was told to the "
                                f"optimizer): fix the cause, then: simtune resume {self.run_dir}")
            if self.on_generation is not None:
                self.on_generation(g, records)
        if cp.next_generation >= cp.max_ngen or (limit is not None
                                                  and cp.n_evaluations >= limit):
            reason = "max_ngen" if cp.next_generation >= cp.max_ngen else "max_evaluations"
            cp.finished, cp.stop_reason = True, cp.stop_reason or reason
            save_checkpoint(self.run_dir, cp)
        return cp

    def note_gate_warnings(self, records: Sequence[EvaluationRecord]) -> None:
        """Report each gate that a finished simulation could not evaluate once per run: in
        simtune.log, on the terminal and in ``run.json`` (``simtune status`` shows them). The
        warnings leave the records here (one copy per run, not one per row of results.jsonl)."""
        seen: list[str] = self.meta.setdefault("gate_warnings", [])
        fresh = False
        for r in records:
            for w in r.extra.pop("gate_warnings", None) or ():
                if w not in seen:
                    seen.append(w)
                    fresh = True
                    log.warning("%s (first seen in %s)", w, r.eval_dir)
                    print(f"simtune: warning: {w}", flush=True)
        if fresh:
            rundir.write_meta(self.run_dir, self.meta)

    # -- one generation -------------------------------------------------------------------------
    def _task(self, g: int, i: int, params: dict[str, float], asked_at: float | None = None,
              point: np.ndarray | None = None) -> dict[str, Any]:
        seeds = [self.cfg.simulation_seed + r for r in range(self.cfg.repeats)]
        return {
            "generation": g, "individual": i, "asked_at": asked_at or time.time(),
            "point": None if point is None else [float(v) for v in point],
            "eval_dir": str(rundir.eval_dir(self.run_dir, g, i)),
            "parameters": params, "seeds": seeds,
            "evaluator": self.cfg.evaluator.spec(),
            "targets": [t.spec() for t in self.cfg.targets],
            "gates": [gate.spec() for gate in self.cfg.gates],
            "sys_path": [str(self.cfg.base_dir)],
            "inbox": str(self.run_dir / INBOX_DIR),
        }

    def _write_task(self, task: dict[str, Any], key: str | None = None) -> WatchedTask:
        """Write ``task.json`` (unless it is there already: a resumed run) and watch it as
        ``key`` (default: the individual's index, generational mode)."""
        d = Path(task["eval_dir"])
        d.mkdir(parents=True, exist_ok=True, mode=0o750)
        if not (d / TASK_FILE).exists():
            atomic_write_json(d / TASK_FILE, task)
        return WatchedTask(key or str(task["individual"]), task)

    def _evaluate_generation(self, g: int, xs: list[np.ndarray]
                             ) -> tuple[list[EvaluationRecord], float | None]:
        """Evaluate the points of generation ``g``; returns the records (in order) and when the
        generation's first job was submitted (None if nothing had to be submitted)."""
        inflight = load_inflight(self.run_dir)
        if inflight is not None and inflight.get("generation") == g:
            saved = np.asarray(inflight["points"], dtype=float)
            if saved.shape != np.shape(xs) or not np.allclose(saved, xs, atol=1e-12):
                log.warning("generation %d: resumed optimizer asked other points than the "
                            "saved ones; evaluating the saved points", g)
                xs[:] = [np.asarray(x) for x in saved]
            log.info("generation %d: resuming (%d jobs known)", g, len(inflight["jobs"]))
        else:
            inflight = {"generation": g, "points": [x.tolist() for x in xs], "jobs": {},
                        "started_at": time.time()}
            save_inflight(self.run_dir, inflight)
            failpoint("after_inflight")
        tasks = [self._write_task(self._task(g, i, self.cfg.space.from_unit(x),
                                             inflight.get("started_at"), x))
                 for i, x in enumerate(xs)]
        records = self._wait(g, tasks, inflight)
        return records, inflight.get("first_submit_at")

    def _wait(self, g: int, tasks: list[WatchedTask],
              inflight: dict[str, Any]) -> list[EvaluationRecord]:
        """Run ``tasks`` to the end; their records in task order."""

        writer = InflightWriter(self.run_dir)

        def save() -> None:
            if watcher.first_submit_at is not None:
                inflight.setdefault("first_submit_at", watcher.first_submit_at)
            writer.save(inflight)

        watcher = JobWatcher(self.executor, Limits.of(self.cfg.executor), inflight["jobs"], save,
                             inbox=self.run_dir / INBOX_DIR,
                             label=f"{self.cfg.name}-g{g}")
        done = {r.individual: r for r in watcher.add(tasks)}
        self.progress.start(g, len(tasks), list(done.values()))
        tick = 0.1 if len(tasks) <= 200 else 0.25
        while len(watcher):
            if self._stop_signal is not None:
                save()
                raise Interrupted(f"stopped by signal {self._stop_signal} in generation {g}")
            new = watcher.step()
            done.update((r.individual, r) for r in new)
            self.progress.add(new)
            if len(watcher):
                failpoint("waiting")
                time.sleep(tick)
        return [done[int(t.key)] for t in tasks]
