"""The job entry point: run one evaluation on a worker and leave a small result record.

``run_task(task_path)`` reads ``task.json`` from an evaluation directory, runs the evaluator once
per seed, checks each data store against the rules of docs/datastore.md
(:func:`evaluators.store_check.check_store`: a store that breaks one is ``invalid_datastore``,
never a number), scores every target on it (the scoring happens here, on the worker, so the
controller only ever receives the small record), and writes ``result.json`` atomically beside the
task. Whatever goes wrong inside Python becomes a failed record with a reason -- an exception
inside one target is that target's ``scoring_error`` alone; what kills the process (segfault,
SIGKILL, time limit, OOM) leaves no result file and is classified by the job watcher from the
scheduler's state. Job processes start it through :func:`evaluators.worker.run_task`.

Task file (written by the controller)::

    {"generation": 3, "individual": 7, "eval_dir": "...", "parameters": {...},
     "seeds": [11], "evaluator": {"kind": "python", ...},
     "targets": [{"name", "class", "kind", "target_value", "norm", "max_score",
                  "sheet_name", "options"}, ...],
     "gates": [{"after", "target", "above", "below", "explosion"}, ...]}

With ``gates``, each seed's simulation runs under a :class:`evaluators.gates.GateMonitor`: a gate
that fires stops it and the evaluation is recorded ``aborted``.
"""

from __future__ import annotations

import math
import os
import signal
import socket
import sys
import threading
import time
import traceback
from pathlib import Path
from typing import Any, Mapping

import numpy as np

import targets as targets_pkg
from evaluators import DATASTORE_NAME, build_evaluator
from evaluators._base import EvaluationTimeout, EvaluatorError
from evaluators.datastore import DataStore, DataStoreError
from evaluators.gates import GateMonitor, GateStop, parse_gate
from evaluators.scoring import build_targets, score_store
from evaluators.store_check import InvalidDataStore, check_store
from simtune_core.io import atomic_write_json, read_json
from simtune_core.record import (
    RESULT_FILE,
    EvaluationRecord,
    Reason,
    Status,
    failed_record,
    inbox_name,
)
from simtune_core.userimport import add_user_dir

__all__ = ["build_targets", "evaluate", "run_task", "score_store"]


def _job_id() -> str:
    env = os.environ
    if "SLURM_ARRAY_JOB_ID" in env:
        return f"{env['SLURM_ARRAY_JOB_ID']}_{env.get('SLURM_ARRAY_TASK_ID', '')}"
    return env.get("SLURM_JOB_ID") or env.get("SUBMITIT_LOCAL_JOB_ID") or str(os.getpid())


def _one_seed(task: Mapping[str, Any], built: Any, seed: int, warnings: list[str]
              ) -> tuple[Reason | None, str, Any]:
    """Run + score one seed: returns (failure reason or None, detail, outcomes); appends the
    warnings of gates never evaluated to ``warnings``."""
    eval_dir = Path(task["eval_dir"])
    run_dir = eval_dir / f"seed_{seed}" if len(task["seeds"]) > 1 else eval_dir
    run_dir.mkdir(parents=True, exist_ok=True)
    gates = [parse_gate(g) for g in task.get("gates") or ()]
    monitor = GateMonitor(gates, built, task["parameters"]) if gates else None
    try:
        evaluator = build_evaluator(task["evaluator"])
        evaluator.gate_monitor = monitor
        if monitor is None:
            path = evaluator.run(task["parameters"], run_dir, seed)
        else:
            try:
                with monitor.active():
                    path = evaluator.run(task["parameters"], run_dir, seed)
            finally:
                monitor.cleanup()
            warnings.extend(w for w in monitor.warnings() if w not in warnings)
    except GateStop as stop:  # a gate fired, or a published segment was malformed
        return stop.reason, stop.detail, stop.outcomes
    except EvaluationTimeout as exc:  # the evaluator's own limit (command: timeout_s)
        return Reason.TIMEOUT, str(exc), None
    except EvaluatorError as exc:  # a broken contract: the message names what is wrong
        return Reason.EVALUATOR_ERROR, str(exc), None
    except Exception as exc:  # noqa: BLE001 - every simulator error becomes a record
        tb = traceback.format_exc(limit=8)
        return Reason.EXCEPTION, f"{type(exc).__name__}: {exc}\n{tb}", None
    path = Path(path) if path is not None else run_dir / DATASTORE_NAME
    if not path.exists():
        return Reason.NO_DATASTORE, f"no data store at {path}", None
    try:
        store = DataStore(path)
    except DataStoreError as exc:
        return Reason.BAD_DATASTORE, str(exc), None
    with store:
        try:
            check_store(store)  # every writer rule of docs/datastore.md, before any number
            exploded = store.exploded
        except InvalidDataStore as exc:
            return Reason.INVALID_DATASTORE, str(exc), None
        except Exception as exc:  # noqa: BLE001 - a corrupt file can fail anywhere
            return Reason.BAD_DATASTORE, f"{type(exc).__name__}: {exc}", None
        outcomes = score_store(built, store, task["parameters"])
    if exploded:
        return Reason.EXPLOSION, "the simulation flagged runaway activity", outcomes
    nan = [o.name for o in outcomes if o.reason in ("value is NaN", "value is infinite")]
    if nan:
        return Reason.NAN, f"non-finite value for target(s) {', '.join(nan)}", outcomes
    return None, "", outcomes


def evaluate(task: Mapping[str, Any]) -> EvaluationRecord:
    """Run every seed of one task and return its record (never raises)."""
    try:
        built = build_targets(task["targets"])
    except Exception as exc:  # noqa: BLE001
        return failed_record(task, Reason.EXCEPTION,
                             f"building targets: {type(exc).__name__}: {exc}")
    per_seed = []
    warnings: list[str] = []
    for seed in task["seeds"]:
        reason, detail, outcomes = _one_seed(task, built, int(seed), warnings)
        if reason is not None:
            rec = failed_record(task, reason, detail)
            if outcomes:  # keep what was computed, for triage
                rec.values = {o.name: o.value for o in outcomes}
                rec.target_reasons = {o.name: o.reason for o in outcomes if o.reason}
            return rec
        per_seed.append(outcomes)
    names = [spec["name"] for spec, _ in built]
    values: dict[str, float | None] = {}
    stds: dict[str, float] = {}
    scores: dict[str, float] = {}
    reasons: dict[str, str] = {}
    for j, (spec, target) in enumerate(built):
        vals = [o[j].value for o in per_seed]
        # infinity is a value where the target allows it (a perfectly selective population)
        defined = [v for v in vals if v is not None and not math.isnan(v)]
        if len(defined) == len(vals):
            mean = float(np.mean(defined))
            values[names[j]] = mean
            if len(defined) > 1 and all(math.isfinite(v) for v in defined):
                stds[names[j]] = float(np.std(defined, ddof=1))
            out = targets_pkg.score_outcome(
                names[j], mean, spec["kind"], spec["target_value"], spec["norm"],
                spec["max_score"], allow_infinite=target.allows_infinite)
            score, why = out.score, out.reason
        else:  # undefined on some seed: max score, first reason
            values[names[j]] = None
            score = float(spec["max_score"])
            why = next((o[j].reason for o in per_seed if o[j].reason), "undefined")
        scores[names[j]] = score
        if why:
            reasons[names[j]] = why
    return EvaluationRecord(
        generation=int(task["generation"]), individual=int(task["individual"]),
        status=Status.OK.value, reason=None, total_score=float(sum(scores.values())),
        parameters=dict(task["parameters"]), eval_dir=str(task["eval_dir"]), values=values,
        value_std=stds, scores=scores, target_reasons=reasons,
        extra={"gate_warnings": warnings} if warnings else {},
    )


class Terminated(BaseException):
    """The job was told to stop (SIGTERM: time limit, scancel, memory, preemption)."""


def _on_sigterm(signum: int, _frame: Any) -> None:
    raise Terminated(f"signal {signum}")


def run_task(task_path: str | os.PathLike[str]) -> EvaluationRecord | None:
    """Job entry point: evaluate the task at ``task_path`` and write its result file.

    A job told to stop (SIGTERM from the scheduler at its time limit, on ``scancel``, on running
    out of memory) writes **no** result: the scheduler's state says why it ended. (submitit
    ignores SIGTERM in jobs by default; here it stops the evaluation, so a simulator killed at the
    limit is never recorded as an ``exception`` of its own.)
    """
    t0 = time.time()
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, _on_sigterm)
    task_path = Path(task_path)
    task = read_json(task_path)
    for entry in task.get("sys_path", []):  # user modules beside the config
        add_user_dir(entry)
    try:
        record = evaluate(task)
    except Terminated:
        return None
    record.runtime_s = time.time() - t0
    record.started_at = t0
    record.finished_at = time.time()
    record.host = socket.gethostname()
    record.job_id = _job_id()
    record.pid = os.getpid()
    atomic_write_json(task_path.parent / RESULT_FILE, record.to_json())
    _post(task)
    return record


def _post(task: Mapping[str, Any]) -> None:
    """Drop the evaluation's marker into the run's inbox (after its result is written: the
    controller reads the result when it sees the marker). Best effort: without it the
    controller still finds the result when the scheduler reports the job finished."""
    inbox = task.get("inbox")
    if not inbox:
        return
    try:
        Path(inbox, inbox_name(int(task["generation"]), int(task["individual"]))).touch()
    except (OSError, KeyError, TypeError, ValueError):
        pass


if __name__ == "__main__":  # pragma: no cover - `python -m evaluators.evaluate TASK.json`
    rec = run_task(sys.argv[1])
    print("terminated" if rec is None else f"{rec.status} {rec.reason or ''} {rec.total_score}")
