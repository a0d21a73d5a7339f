"""The job entry point: run one evaluation on a worker and leave a small result record.

``run_task(task_path)`` reads ``task.json`` from an evaluation directory, runs the evaluator once
per seed, scores every target on each data store (the scoring happens here, on the worker, so the
controller only ever receives the small record), and writes ``result.json`` atomically beside the
task. Whatever goes wrong inside Python becomes a failed record with a reason; what kills the
process (segfault, SIGKILL, time limit, OOM) leaves no result file and is classified by the
controller from the scheduler's state.

Task file (written by the controller)::

    {"generation": 3, "individual": 7, "eval_dir": "...", "parameters": {...},
     "seeds": [11], "evaluator": {"kind": "python", ...},
     "targets": [{"name", "class", "kind", "target_value", "norm", "max_score",
                  "sheet_name", "options"}, ...]}
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
from typing import Any, Mapping, Sequence

import numpy as np

import targets as targets_pkg
from evaluators import DATASTORE_NAME, build_evaluator
from evaluators._io import atomic_write_json, read_json
from evaluators.datastore import DataStore, DataStoreError

__all__ = ["run_task", "score_store", "build_targets", "failed_record"]

RESULT_FILE = "result.json"


def _job_id() -> str:
    env = os.environ
    if "SLURM_ARRAY_JOB_ID" in env:
        return f"{env['SLURM_ARRAY_JOB_ID']}_{env.get('SLURM_ARRAY_TASK_ID', '')}"
    return env.get("SLURM_JOB_ID") or env.get("SUBMITIT_LOCAL_JOB_ID") or str(os.getpid())


def build_targets(specs: Sequence[Mapping[str, Any]]) -> list[tuple[Mapping[str, Any], Any]]:
    """Instantiate target objects from their task specs."""
    out = []
    for spec in specs:
        cls = targets_pkg.resolve_target_class(spec["class"])
        kwargs = dict(spec.get("options") or {})
        if spec.get("sheet_name") is not None:
            kwargs["sheet_name"] = spec["sheet_name"]
        out.append((spec, cls(**kwargs)))
    return out


def score_store(
    built: Sequence[tuple[Mapping[str, Any], Any]],
    store: DataStore | None,
    parameters: Mapping[str, float],
) -> list[targets_pkg.TargetOutcome]:
    """Compute and score every target on one store (never raises)."""
    return [
        targets_pkg.evaluate_target(
            spec["name"], target, spec["kind"], spec["target_value"], spec["norm"],
            spec["max_score"], store, parameters,
        )
        for spec, target in built
    ]


def failed_record(task: Mapping[str, Any], reason: str, detail: str = "") -> dict[str, Any]:
    """A failed record: every target at ``max_score``."""
    scores = {t["name"]: float(t["max_score"]) for t in task["targets"]}
    return {
        "generation": task["generation"],
        "individual": task["individual"],
        "status": "failed",
        "reason": reason,
        "detail": detail[-2000:],
        "total_score": float(sum(scores.values())),
        "parameters": dict(task["parameters"]),
        "values": {t["name"]: None for t in task["targets"]},
        "value_std": {},
        "scores": scores,
        "target_reasons": {},
        "eval_dir": task["eval_dir"],
    }


def _one_seed(task: Mapping[str, Any], built: Any, seed: int) -> tuple[str | None, str, Any]:
    """Run + score one seed: returns (failure reason or None, detail, outcomes)."""
    eval_dir = Path(task["eval_dir"])
    run_dir = eval_dir / f"seed_{seed}" if len(task["seeds"]) > 1 else eval_dir
    run_dir.mkdir(parents=True, exist_ok=True)
    try:
        evaluator = build_evaluator(task["evaluator"])
        path = evaluator.run(task["parameters"], run_dir, seed)
    except Exception as exc:  # noqa: BLE001 - every simulator error becomes a record
        tb = traceback.format_exc(limit=8)
        return "exception", f"{type(exc).__name__}: {exc}\n{tb}", None
    path = Path(path) if path is not None else run_dir / DATASTORE_NAME
    if not path.exists():
        return "no_datastore", f"no data store at {path}", None
    try:
        store = DataStore(path)
    except DataStoreError as exc:
        return "bad_datastore", str(exc), None
    with store:
        try:
            exploded = store.exploded
        except Exception as exc:  # noqa: BLE001 - a corrupt file can fail anywhere
            return "bad_datastore", f"{type(exc).__name__}: {exc}", None
        outcomes = score_store(built, store, task["parameters"])
    if exploded:
        return "explosion", "the simulation flagged runaway activity", outcomes
    nan = [o.name for o in outcomes if o.reason in ("value is NaN", "value is infinite")]
    if nan:
        return "nan", f"non-finite value for target(s) {', '.join(nan)}", outcomes
    return None, "", outcomes


def evaluate(task: Mapping[str, Any]) -> dict[str, Any]:
    """Run every seed of one task and return its record (never raises)."""
    try:
        built = build_targets(task["targets"])
    except Exception as exc:  # noqa: BLE001
        return failed_record(task, "exception", f"building targets: {type(exc).__name__}: {exc}")
    per_seed = []
    for seed in task["seeds"]:
        reason, detail, outcomes = _one_seed(task, built, int(seed))
        if reason is not None:
            rec = failed_record(task, reason, detail)
            if outcomes:  # keep what was computed, for triage
                rec["values"] = {o.name: o.value for o in outcomes}
                rec["target_reasons"] = {o.name: o.reason for o in outcomes if o.reason}
            return rec
        per_seed.append(outcomes)
    names = [spec["name"] for spec, _ in built]
    values: dict[str, float | None] = {}
    stds: dict[str, float] = {}
    scores: dict[str, float] = {}
    reasons: dict[str, str] = {}
    for j, (spec, _) in enumerate(built):
        vals = [o[j].value for o in per_seed]
        finite = [v for v in vals if v is not None and math.isfinite(v)]
        if len(finite) == len(vals):
            mean = float(np.mean(finite))
            values[names[j]] = mean
            if len(finite) > 1:
                stds[names[j]] = float(np.std(finite, ddof=1))
            score, why = targets_pkg.score_value(
                mean, spec["kind"], spec["target_value"], spec["norm"], spec["max_score"]
            )
        else:  # undefined on some seed: max score, first reason
            values[names[j]] = None
            score = float(spec["max_score"])
            why = next(o[j].reason for o in per_seed if o[j].reason)
        scores[names[j]] = score
        if why:
            reasons[names[j]] = why
    return {
        "generation": task["generation"],
        "individual": task["individual"],
        "status": "ok",
        "reason": None,
        "detail": "",
        "total_score": float(sum(scores.values())),
        "parameters": dict(task["parameters"]),
        "values": values,
        "value_std": stds,
        "scores": scores,
        "target_reasons": reasons,
        "eval_dir": task["eval_dir"],
    }


class Terminated(BaseException):
    """The job was told to stop (SIGTERM: time limit, scancel, memory, preemption)."""


def _on_sigterm(signum: int, _frame: Any) -> None:
    raise Terminated(f"signal {signum}")


def run_task(task_path: str | os.PathLike[str]) -> dict[str, Any] | None:
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
    for entry in reversed(task.get("sys_path", [])):  # user modules beside the config
        if entry not in sys.path:
            sys.path.insert(0, entry)
    try:
        record = evaluate(task)
    except Terminated:
        return None
    record.update(
        runtime_s=time.time() - t0,
        started_at=t0,
        finished_at=time.time(),
        host=socket.gethostname(),
        job_id=_job_id(),
        pid=os.getpid(),
    )
    atomic_write_json(task_path.parent / RESULT_FILE, record)
    return record


if __name__ == "__main__":  # pragma: no cover - `python -m evaluators.evaluate TASK.json`
    rec = run_task(sys.argv[1])
    print("terminated" if rec is None else f"{rec['status']} {rec['reason'] or ''} "
          f"{rec['total_score']}")
