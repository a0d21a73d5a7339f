"""The generational controller: ask -> submit -> wait -> tell -> record -> clean up -> checkpoint.

Run directory::

    RUN_DIR/config.yaml        the config as given;  run.json: name, config folder, versions
    RUN_DIR/checkpoint.pkl     after every generation (atomic)
    RUN_DIR/inflight.json      the generation being evaluated: points, job ids, start times
    RUN_DIR/results.jsonl      one row per evaluation (orchestrator.load_results)
    RUN_DIR/generations.jsonl  one row per generation (sigma, best, failures by reason)
    RUN_DIR/simtune.log        the controller's log
    RUN_DIR/evals/gNNNN/iMMM/  task.json, result.json, the data store, the simulator's files
    RUN_DIR/jobs/              the executor's files (submitit logs)

An evaluation is finished only when its ``result.json`` exists (written by the worker, which
scores the data store there). Jobs that end without one are classified from the executor's job
state; jobs that run past the generation timeout (counted from each job's start) or stay pending
past the pending limit are cancelled and recorded. Nothing waits forever, and nothing one
evaluation does can stop the controller.
"""

from __future__ import annotations

import json
import logging
import math
import shutil
import signal
import sys
import time
from pathlib import Path
from typing import Any, Callable

import numpy as np
import yaml

from evaluators._faults import failpoint
from evaluators._io import atomic_write_json, read_json
from evaluators.evaluate import failed_record
from orchestrator.checkpoint import (
    Checkpoint,
    RunLock,
    clear_inflight,
    load_checkpoint,
    load_inflight,
    save_checkpoint,
    save_inflight,
)
from orchestrator.config import Config, config_from_dict
from orchestrator.executors import Executor, JobInfo, JobState, make_executor
from orchestrator.optimizer import CMAOptimizer, make_optimizer, optimizer_from_state
from orchestrator.records import RESULT_FILE, TASK_FILE, Reason
from orchestrator.results import ResultsWriter

__all__ = ["Controller", "Interrupted", "RunExistsError", "create_run", "open_run"]

log = logging.getLogger("simtune")

RUN_FILE = "run.json"
#: after a job is seen finished, how long to wait for its result file (shared file systems lag)
RESULT_GRACE_S = 3.0
#: a job unknown to the scheduler this long after submission is recorded as lost
LOST_AFTER_S = 120.0

_STATE_REASON = {
    JobState.TIMEOUT: Reason.TIMEOUT,
    JobState.OUT_OF_MEMORY: Reason.OUT_OF_MEMORY,
    JobState.CANCELLED: Reason.CANCELLED,
    JobState.NODE_FAIL: Reason.NODE_FAIL,
    JobState.PREEMPTED: Reason.PREEMPTED,
    JobState.FAILED: Reason.CRASHED,
    JobState.COMPLETED: Reason.CRASHED,  # completed without a result file
}


class RunExistsError(Exception):
    """The run directory already holds a run."""


class Interrupted(Exception):
    """SIGTERM/SIGUSR1/SIGINT: the controller stopped; the run can be resumed."""


def _eval_dir(run_dir: Path, gen: int, ind: int) -> Path:
    return run_dir / "evals" / f"g{gen:04d}" / f"i{ind:03d}"


def create_run(cfg: Config, run_dir: Path) -> Path:
    """Create a new run directory for ``cfg`` (refuses one that holds a run)."""
    run_dir = Path(run_dir)
    if (run_dir / RUN_FILE).exists():
        raise RunExistsError(f"{run_dir} already holds a run; use 'simtune resume {run_dir}'")
    run_dir.mkdir(parents=True, exist_ok=True, mode=0o750)
    (run_dir / "evals").mkdir(exist_ok=True, mode=0o750)
    (run_dir / "config.yaml").write_text(yaml.safe_dump(cfg.raw, sort_keys=False))
    import orchestrator

    atomic_write_json(run_dir / RUN_FILE, {
        "name": cfg.name,
        "config_dir": str(cfg.base_dir),
        "created": time.strftime("%Y-%m-%d %H:%M:%S"),
        "simtune_version": orchestrator.__version__,
        "python": sys.executable,
    })
    return run_dir


def open_run(run_dir: Path) -> tuple[Config, dict[str, Any]]:
    """The config and run metadata of an existing run directory."""
    run_dir = Path(run_dir)
    if not (run_dir / RUN_FILE).exists():
        raise FileNotFoundError(f"{run_dir} is not a simtune run directory (no {RUN_FILE})")
    meta = read_json(run_dir / RUN_FILE)
    raw = yaml.safe_load((run_dir / "config.yaml").read_text())
    if str(meta["config_dir"]) not in sys.path:
        sys.path.insert(0, str(meta["config_dir"]))
    cfg = config_from_dict(raw, meta["config_dir"], default_name=meta["name"])
    if meta.get("reference_values"):
        cfg = cfg.with_target_values(meta["reference_values"])
    return cfg, meta


class Controller:
    """Runs (or resumes) the optimisation of one run directory.

    Parameters
    ----------
    cfg
        The validated config.
    run_dir
        An existing run directory (:func:`create_run`).
    executor
        Defaults to the executor the config names.
    progress
        Show a progress bar per generation.
    """

    def __init__(self, cfg: Config, run_dir: Path, executor: Executor | None = None,
                 progress: bool = True, max_ngen: int | None = None) -> None:
        self.cfg = cfg
        self.run_dir = Path(run_dir).resolve()
        self.meta = read_json(self.run_dir / RUN_FILE)
        self.executor = executor or make_executor(cfg.executor.kind, self.run_dir / "jobs",
                                                  cfg.executor)
        self.progress = progress
        self._max_ngen_override = max_ngen
        self._stop_signal: int | None = None
        self.results = ResultsWriter(self.run_dir)
        self.on_generation: Callable[[int, list[dict[str, Any]]], None] | None = None

    # -- setup ----------------------------------------------------------------------------------
    def _load_or_init(self) -> tuple[CMAOptimizer, Checkpoint]:
        cp = load_checkpoint(self.run_dir)
        if cp is None:
            oc = self.cfg.optimizer
            (self.run_dir / "cma").mkdir(exist_ok=True)
            opt = make_optimizer(oc, self.cfg.space.to_unit(self.cfg.centroid),
                                 self.cfg.total_max_score, self.run_dir / "cma",
                                 n_targets=len(self.cfg.targets))
            cp = Checkpoint(0, opt.state(), oc.max_ngen)
        else:
            opt = optimizer_from_state(cp.optimizer_state)
        if self._max_ngen_override is not None:
            cp.max_ngen = self._max_ngen_override
            cp.finished = False
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

        Raises :class:`Interrupted` when stopped by a signal (state is saved; resume continues).
        """
        with RunLock(self.run_dir):
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
                self.executor.close()

    def _run(self) -> Checkpoint:
        for stale in self.run_dir.glob(".*.tmp"):  # torn atomic writes of a killed controller
            stale.unlink(missing_ok=True)
        if self.cfg.reference is not None and not self.meta.get("reference_values"):
            self._run_reference()
        opt, cp = self._load_or_init()
        log.info("run %s: generation %d of %d, %d free parameters, executor %s",
                 self.cfg.name, cp.next_generation, cp.max_ngen, self.cfg.space.dim,
                 self.cfg.executor.kind)
        while cp.next_generation < cp.max_ngen and not cp.finished:
            g = cp.next_generation
            t0 = time.time()
            xs = opt.ask_batch(self.cfg.optimizer.offspring_size)
            failpoint("after_ask")
            sigma = opt.sigma
            records, submitted_at = self._evaluate_generation(g, xs)
            failed = [r["status"] != "ok" for r in records]
            totals = [float(r["total_score"]) for r in records]
            scores = [[float(r["scores"][t.name]) for t in self.cfg.targets] for r in records]
            opt.tell_batch(xs, totals, failed, scores)
            failpoint("after_tell")
            self.results.append(records)
            failpoint("after_results")
            self.results.append_generation(
                self._generation_row(g, records, sigma, opt, t0, submitted_at))
            failpoint("after_generation_row")
            cp.best = self._update_best(cp.best, records)
            self._cleanup(g, records, cp.best)
            cp.next_generation = g + 1
            cp.n_evaluations += len(records)
            cp.optimizer_state = opt.state()
            stop = opt.stop_reasons()
            if stop:
                cp.finished, cp.stop_reason = True, ", ".join(stop)
                log.info("pycma stop criteria met: %s", cp.stop_reason)
            failpoint("before_checkpoint")
            save_checkpoint(self.run_dir, cp)
            failpoint("after_checkpoint")
            clear_inflight(self.run_dir)
            best = cp.best[0]["total_score"] if cp.best else math.nan
            log.info("generation %d done in %.1f s: %d ok, %d failed, best so far %.4g",
                     g, time.time() - t0, len(records) - sum(failed), sum(failed), best)
            if self.on_generation is not None:
                self.on_generation(g, records)
        if cp.next_generation >= cp.max_ngen:
            cp.finished, cp.stop_reason = True, cp.stop_reason or "max_ngen"
            save_checkpoint(self.run_dir, cp)
        return cp

    # -- one generation -------------------------------------------------------------------------
    def _task(self, g: int, i: int, params: dict[str, float]) -> dict[str, Any]:
        seeds = [self.cfg.simulation_seed + r for r in range(self.cfg.repeats)]
        return {
            "generation": g, "individual": i,
            "eval_dir": str(_eval_dir(self.run_dir, g, i)),
            "parameters": params, "seeds": seeds,
            "evaluator": self.cfg.evaluator.spec(),
            "targets": [t.spec() for t in self.cfg.targets],
            "sys_path": [str(self.cfg.base_dir)],
        }

    def _evaluate_generation(self, g: int, xs: list[np.ndarray]
                             ) -> tuple[list[dict[str, Any]], float | None]:
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
        tasks = []
        for i, x in enumerate(xs):
            task = self._task(g, i, self.cfg.space.from_unit(x))
            d = Path(task["eval_dir"])
            d.mkdir(parents=True, exist_ok=True, mode=0o750)
            if not (d / TASK_FILE).exists():
                atomic_write_json(d / TASK_FILE, task)
            tasks.append(task)
        records = self._wait(g, tasks, inflight)
        return records, inflight.get("first_submit_at")

    def _wait(self, g: int, tasks: list[dict[str, Any]],
              inflight: dict[str, Any]) -> list[dict[str, Any]]:
        """Submit every unfinished task and wait until each has a record."""
        ex_cfg = self.cfg.executor
        jobs: dict[str, dict[str, Any]] = inflight["jobs"]
        n = len(tasks)
        records: dict[int, dict[str, Any]] = {}
        pending = set(range(n))
        for i in range(n):  # finished before a crash: never re-run
            rec = self._read_result(tasks[i])
            if rec is not None:
                records[i] = rec
                pending.discard(i)
        to_submit = [i for i in sorted(pending) if str(i) not in jobs]
        finished_seen: dict[int, float] = {}
        last_poll = 0.0
        bar = self._bar(g, n, records)
        try:
            while pending:
                if self._stop_signal is not None:
                    save_inflight(self.run_dir, inflight)
                    raise Interrupted(f"stopped by signal {self._stop_signal} in generation {g}")
                now = time.time()
                if to_submit:
                    to_submit = self._submit(g, tasks, to_submit, jobs, records, pending,
                                             inflight)
                for i in sorted(pending):
                    rec = self._read_result(tasks[i])
                    if rec is not None:
                        records[i] = rec
                        pending.discard(i)
                if pending and now - last_poll >= ex_cfg.poll_interval_s:
                    last_poll = now
                    self._check_jobs(g, tasks, jobs, records, pending, to_submit,
                                     finished_seen, inflight)
                if bar is not None:
                    self._bar_update(bar, records)
                if pending:
                    failpoint("waiting")
                    time.sleep(0.1 if n <= 200 else 0.25)
        finally:
            if bar is not None:
                bar.close()
        out = []
        for i in range(n):
            rec = records[i]
            job = jobs.get(str(i), {})
            rec.setdefault("job_id", job.get("job_id"))
            out.append(rec)
        return out

    def _submit(self, g: int, tasks: list[dict[str, Any]], to_submit: list[int],
                jobs: dict[str, dict[str, Any]], records: dict[int, dict[str, Any]],
                pending: set[int], inflight: dict[str, Any]) -> list[int]:
        cap_fn = getattr(self.executor, "capacity", None)
        cap = cap_fn() if cap_fn is not None else len(to_submit)
        batch, rest = to_submit[:cap], to_submit[cap:]
        if not batch:
            return to_submit
        paths = [Path(tasks[i]["eval_dir"]) / TASK_FILE for i in batch]
        try:
            ids = self.executor.submit(paths, label=f"{self.cfg.name}-g{g}")
        except Exception as exc:  # noqa: BLE001 - a refused submission is recorded, not fatal
            log.error("generation %d: submission of %d tasks failed: %s", g, len(batch), exc)
            for i in batch:
                records[i] = self._failed(tasks[i], Reason.SUBMIT_FAILED, str(exc))
                pending.discard(i)
            return rest
        now = time.time()
        inflight.setdefault("first_submit_at", now)
        for i, jid in zip(batch, ids):
            prev = jobs.get(str(i), {})
            jobs[str(i)] = {"job_id": jid, "submitted_at": now,
                            "resubmits": prev.get("resubmits", -1) + 1}
        save_inflight(self.run_dir, inflight)  # job ids on disk before waiting: re-attachable
        failpoint("after_submit")
        return rest

    def _check_jobs(self, g: int, tasks: list[dict[str, Any]], jobs: dict[str, dict[str, Any]],
                    records: dict[int, dict[str, Any]], pending: set[int],
                    to_submit: list[int], finished_seen: dict[int, float],
                    inflight: dict[str, Any]) -> None:
        ex_cfg = self.cfg.executor
        live = {i: jobs[str(i)] for i in pending if str(i) in jobs and i not in to_submit}
        if not live:
            return
        infos = self.executor.poll([j["job_id"] for j in live.values()])
        now = time.time()
        cancel: dict[int, tuple[Reason, str]] = {}
        changed = False
        for i, job in live.items():
            info = infos.get(job["job_id"], JobInfo(JobState.UNKNOWN))
            if info.state.is_finished():
                first = finished_seen.setdefault(i, now)
                if now - first < RESULT_GRACE_S:
                    continue
                rec = self._read_result(tasks[i])
                if rec is not None:
                    records[i] = rec
                    pending.discard(i)
                    continue
                if info.state is JobState.PREEMPTED and job.get("resubmits", 0) < 1:
                    log.warning("g%d i%d: job %s preempted; resubmitting once", g, i,
                                job["job_id"])
                    to_submit.append(i)
                    finished_seen.pop(i, None)
                    continue
                reason, detail = self._classify(info, job)
                records[i] = self._failed(tasks[i], reason, detail, job)
                pending.discard(i)
                continue
            if info.state is JobState.RUNNING:
                if "started_at" not in job:
                    job["started_at"] = info.started_at or now
                    changed = True
                run_for = now - job["started_at"]
                if ex_cfg.generation_timeout_s is not None and run_for > ex_cfg.generation_timeout_s:
                    cancel[i] = (Reason.TIMEOUT,
                                 (f"generation timeout: running {run_for:.0f} s "
                                  f"> {ex_cfg.generation_timeout_s:g} s"))
                elif run_for > ex_cfg.time_limit_s + 120:  # the backend failed to enforce it
                    cancel[i] = (Reason.TIMEOUT, f"running {run_for:.0f} s, past the time limit")
            else:  # PENDING or UNKNOWN
                waited = now - job["submitted_at"]
                if ex_cfg.pending_limit_s is not None and waited > ex_cfg.pending_limit_s:
                    cancel[i] = (Reason.NEVER_STARTED,
                                 (f"pending {waited:.0f} s > pending limit "
                                  f"{ex_cfg.pending_limit_s:g} s "
                                  f"({info.detail or info.state.value})"))
                elif info.state is JobState.UNKNOWN and waited > LOST_AFTER_S:
                    cancel[i] = (Reason.LOST, f"job {job['job_id']} unknown to the scheduler")
        if cancel:
            self.executor.cancel([live[i]["job_id"] for i in cancel])
            for i, (reason, detail) in cancel.items():
                rec = self._read_result(tasks[i])  # it may have finished meanwhile
                records[i] = rec if rec is not None else self._failed(tasks[i], reason, detail,
                                                                      live[i])
                pending.discard(i)
                log.warning("g%d i%d: %s (%s)", g, i, records[i].get("reason"), detail)
        if changed:
            save_inflight(self.run_dir, inflight)

    @staticmethod
    def _classify(info: JobInfo, job: dict[str, Any]) -> tuple[Reason, str]:
        reason = _STATE_REASON.get(info.state, Reason.CRASHED)
        detail = f"job {job['job_id']} ended {info.state.value} without a result"
        if info.exit_code is not None:
            detail += f" (exit code {info.exit_code})"
        if info.detail:
            detail += "\n" + info.detail[-1500:]
        return reason, detail

    def _failed(self, task: dict[str, Any], reason: Reason, detail: str,
                job: dict[str, Any] | None = None) -> dict[str, Any]:
        rec = failed_record(task, reason.value, detail)
        now = time.time()
        started = (job or {}).get("started_at")
        rec.update(job_id=(job or {}).get("job_id"), host=None, finished_at=now,
                   started_at=started, runtime_s=(now - started) if started else None)
        return rec

    @staticmethod
    def _read_result(task: dict[str, Any]) -> dict[str, Any] | None:
        path = Path(task["eval_dir"]) / RESULT_FILE
        try:
            rec = read_json(path)
        except FileNotFoundError:
            return None
        except (json.JSONDecodeError, OSError, UnicodeDecodeError):
            return None  # being replaced right now; read again at the next tick
        if rec.get("generation") != task["generation"] or rec.get("individual") != task[
                "individual"]:
            return None  # a stale file that is not this evaluation's: never scored for it
        return rec  # type: ignore[no-any-return]

    # -- after a generation ---------------------------------------------------------------------
    def _generation_row(self, g: int, records: list[dict[str, Any]], sigma: float,
                        opt: CMAOptimizer, t0: float, submitted_at: float | None
                        ) -> dict[str, Any]:
        """One row of generations.jsonl. ``covariance`` stays the LAST key: it is most of the
        line, and ``report.read_generations`` skips parsing it for all but the last row."""
        totals = np.array([r["total_score"] for r in records], dtype=float)
        failures: dict[str, int] = {}
        for r in records:
            if r["status"] != "ok":
                failures[r["reason"]] = failures.get(r["reason"], 0) + 1
        return {
            "generation": g, "sigma": sigma, "sigma_after": opt.sigma,
            "mean": opt.mean.tolist(), "n": len(records),
            "n_ok": len(records) - sum(failures.values()), "failures": failures,
            "min": float(totals.min()), "median": float(np.median(totals)),
            "max": float(totals.max()), "started_at": t0, "finished_at": time.time(),
            "duration_s": time.time() - t0, "submitted_at": submitted_at,
            "covariance": opt.covariance.tolist() if opt.covariance.size <= 2500 else None,
        }

    def _update_best(self, best: list[dict[str, Any]],
                     records: list[dict[str, Any]]) -> list[dict[str, Any]]:
        keep = max(self.cfg.cleanup.keep_best, 10)
        cand = best + [
            {"total_score": r["total_score"], "generation": r["generation"],
             "individual": r["individual"], "eval_dir": r["eval_dir"],
             "parameters": r["parameters"]}
            for r in records if r["status"] == "ok"
        ]
        cand.sort(key=lambda r: (r["total_score"], r["generation"], r["individual"]))
        return cand[:keep]

    def _cleanup(self, g: int, records: list[dict[str, Any]], best: list[dict[str, Any]]) -> None:
        """Delete data stores of evaluations that are not among the best ``keep_best``."""
        k = self.cfg.cleanup.keep_best
        if k < 0:
            return
        keep = {r["eval_dir"] for r in best[:k]}
        dirs = {r["eval_dir"] for r in best[k:]}
        dirs.update(r["eval_dir"] for r in records
                    if r["status"] == "ok" or not self.cfg.cleanup.keep_failed)
        for d in dirs - keep:
            _remove_datastores(Path(d))

    # -- progress and reference -------------------------------------------------------------
    def _bar(self, g: int, n: int, records: dict[int, dict[str, Any]]) -> Any:
        if not self.progress:
            return None
        from tqdm import tqdm

        bar = tqdm(total=n, desc=f"generation {g}", unit="eval", leave=True, file=sys.stderr,
                   dynamic_ncols=True)
        self._bar_update(bar, records)
        return bar


    def _bar_update(self, bar: Any, records: dict[int, dict[str, Any]]) -> None:
        done = len(records)
        if done != bar.n:
            failed = sum(1 for r in records.values() if r.get("status") != "ok")
            ok = [r["total_score"] for r in records.values() if r.get("status") == "ok"]
            bar.set_postfix(failed=failed, best=f"{min(ok):.3g}" if ok else "-", refresh=False)
            bar.update(done - bar.n)


    def _run_reference(self) -> None:
        """Reference mode: simulate ``reference.parameters`` once; its values become the targets."""
        assert self.cfg.reference is not None
        space = self.cfg.space
        free = {**self.cfg.centroid, **{k: v for k, v in self.cfg.reference.parameters.items()
                                        if space.by_name[k].free}}
        params = space.complete(free)
        params.update({k: float(v) for k, v in self.cfg.reference.parameters.items()})
        task = self._task(-1, 0, params)
        d = Path(task["eval_dir"])
        d.mkdir(parents=True, exist_ok=True, mode=0o750)
        atomic_write_json(d / TASK_FILE, task)
        inflight = {"generation": -1, "points": [], "jobs": {}, "started_at": time.time()}
        rec = self._wait(-1, [task], inflight)[0]
        if rec["status"] != "ok":
            raise RuntimeError(f"the reference simulation failed ({rec['reason']}): "
                               f"{rec.get('detail', '')[:500]}")
        values = {k: v for k, v in rec["values"].items() if v is not None}
        missing = [t.name for t in self.cfg.targets if t.name not in values]
        if missing:
            raise RuntimeError(f"the reference simulation gave no value for {missing}: "
                               f"{rec.get('target_reasons')}")
        self.meta["reference_values"] = values
        atomic_write_json(self.run_dir / RUN_FILE, self.meta)
        self.cfg = self.cfg.with_target_values(values)
        log.info("reference values: %s", values)


def _remove_datastores(d: Path) -> None:
    """Remove HDF5 stores and per-seed folders, keeping task/result files and logs."""
    if not d.is_dir():
        return
    for p in d.iterdir():
        if p.suffix in (".h5", ".hdf5", ".tmp") and p.is_file():
            p.unlink(missing_ok=True)
        elif p.is_dir() and p.name.startswith("seed_"):
            shutil.rmtree(p, ignore_errors=True)
