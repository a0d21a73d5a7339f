"""The evaluation record: the one row every evaluation ends as, its status and its reason.

An evaluation is ``ok`` or ``failed``; a failed one has exactly one :class:`Reason` and scores
``max_score`` on every target (the values it computed, if any, are kept for triage). The worker
writes an :class:`EvaluationRecord` as ``result.json`` into the evaluation directory; the controller
writes the records it did not get from a worker (a job that died, was cancelled, never started);
``results.jsonl`` holds one per line. Everything that asks "did it work, and if not, why" asks
this module: :meth:`EvaluationRecord.ok`, :func:`is_ok`, :func:`failure_counts`,
:attr:`Reason.runaway`.

Reasons fall into two kinds, and the optimizer's failure policy treats them differently
(docs/optimizer.md):

* **runaway** -- the parameters made the simulation misbehave (an explosion, non-finite values,
  running past its time limit, exhausting its memory, stopped by an early-abort gate): information about the landscape, told to
  the optimizer as worse than every finished evaluation;
* **crash** -- everything else (the simulator raised, the job died, the scheduler lost or never
  started it): no information about the point, so ``failure_policy: impute`` tells the model's
  prediction instead.
"""

from __future__ import annotations

import dataclasses
import enum
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Mapping

from simtune_core.io import read_json

__all__ = [
    "INBOX_DIR",
    "RESULT_FILE",
    "TASK_FILE",
    "EvaluationRecord",
    "Reason",
    "Status",
    "failed_record",
    "inbox_name",
    "failure_counts",
    "is_ok",
    "read_result",
]

#: written atomically by the worker into the evaluation directory; its existence = finished
RESULT_FILE = "result.json"
#: written by the controller into the evaluation directory before submission
TASK_FILE = "task.json"
#: the run directory's folder where a worker drops an empty marker once its result is written
#: (the task's ``inbox`` key): the controller lists one folder per tick instead of looking for
#: every result file in flight
INBOX_DIR = "inbox"


def inbox_name(generation: int, individual: int) -> str:
    """The marker file of an evaluation in the inbox."""
    return f"{generation}_{individual}"


class Status(str, enum.Enum):
    """Whether an evaluation produced a scored simulation."""

    OK = "ok"
    FAILED = "failed"


class Reason(str, enum.Enum):
    """Why an evaluation failed. Values are what the results record stores."""

    EXCEPTION = "exception"  # the simulator/evaluator raised
    EVALUATOR_ERROR = "evaluator_error"  # the evaluator returned something it must not
    CRASHED = "crashed"  # the job process died without a result (segfault, kill, exit code)
    TIMEOUT = "timeout"  # per-evaluation limit or generation timeout reached
    OUT_OF_MEMORY = "out_of_memory"
    CANCELLED = "cancelled"  # cancelled from outside (scancel, SIGINT)
    NEVER_STARTED = "never_started"  # still pending after the pending limit
    NODE_FAIL = "node_fail"
    PREEMPTED = "preempted"  # preempted twice (the first is resubmitted)
    SUBMIT_FAILED = "submit_failed"  # the scheduler refused the submission
    NO_DATASTORE = "no_datastore"
    BAD_DATASTORE = "bad_datastore"  # unreadable (not HDF5, truncated)
    INVALID_DATASTORE = "invalid_datastore"  # readable, but breaks a rule of docs/datastore.md
    NAN = "nan"  # a target value was NaN (numerical failure of the simulation)
    EXPLOSION = "explosion"  # the simulation flagged runaway activity
    LOST = "lost"  # the job vanished from the scheduler without a trace
    ABORTED = "aborted"  # an early-abort gate stopped the simulation (docs/config.md, Gates)

    @property
    def runaway(self) -> bool:
        """True if the parameters made the simulation misbehave (see the module docstring)."""
        return self in _RUNAWAY


_RUNAWAY = frozenset({Reason.EXPLOSION, Reason.NAN, Reason.TIMEOUT, Reason.OUT_OF_MEMORY,
                      Reason.ABORTED})


def is_ok(status: Any) -> bool:
    """True for the status of a successful evaluation (a :class:`Status` or its string)."""
    return bool(status == Status.OK.value)


def failure_counts(records: Iterable[Mapping[str, Any] | EvaluationRecord]) -> dict[str, int]:
    """How many of ``records`` failed, by reason (``{"timeout": 2, ...}``; ok ones not counted)."""
    out: dict[str, int] = {}
    for r in records:
        status, reason = ((r.status, r.reason) if isinstance(r, EvaluationRecord)
                          else (r.get("status"), r.get("reason")))
        if not is_ok(status):
            key = str(reason or "unknown")
            out[key] = out.get(key, 0) + 1
    return out


@dataclass
class EvaluationRecord:
    """One evaluation: where it was asked, what it gave, and how it ran.

    ``values`` maps each target to its value (``None`` where undefined), ``scores`` to its score
    (``max_score`` where undefined or failed), ``target_reasons`` to why a target scored
    ``max_score``; ``value_std`` holds the standard deviation over seeds (with ``repeats > 1``).
    Times are epoch seconds. ``extra`` keeps keys this version does not know (a newer writer),
    so a record read and written again loses nothing.
    """

    generation: int
    individual: int
    status: str
    reason: str | None
    total_score: float
    parameters: dict[str, float]
    eval_dir: str
    detail: str = ""
    values: dict[str, float | None] = field(default_factory=dict)
    value_std: dict[str, float] = field(default_factory=dict)
    scores: dict[str, float] = field(default_factory=dict)
    target_reasons: dict[str, str] = field(default_factory=dict)
    runtime_s: float | None = None
    started_at: float | None = None
    finished_at: float | None = None
    host: str | None = None
    job_id: str | None = None
    pid: int | None = None
    asked_at: float | None = None  # when the optimizer asked the point (controller)
    submitted_at: float | None = None  # when its job was submitted (controller)
    tell_seq: int | None = None  # async mode: its place in the order results were told
    epoch: int | None = None  # async mode: restarts after a first group that measured nothing
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return is_ok(self.status)

    @property
    def failure(self) -> Reason | None:
        """The reason as a :class:`Reason` (``None`` if ok; unknown strings map to CRASHED)."""
        if self.ok:
            return None
        try:
            return Reason(self.reason)
        except ValueError:
            return Reason.CRASHED

    @property
    def key(self) -> tuple[int, int]:
        return (self.generation, self.individual)

    def to_json(self) -> dict[str, Any]:
        """A JSON-able dict (the keys of ``extra`` merged in at the top level)."""
        d = {f.name: getattr(self, f.name) for f in dataclasses.fields(self) if f.name != "extra"}
        return {**self.extra, **d}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> EvaluationRecord:
        """Read a record written by any version (missing optional keys take their defaults)."""
        names = _FIELD_NAMES
        known = {k: v for k, v in data.items() if k in names}
        extra = {k: v for k, v in data.items() if k not in names}
        for k, default in (("detail", ""), ("values", {}), ("value_std", {}), ("scores", {}),
                           ("target_reasons", {})):
            if known.get(k) is None:
                known[k] = default if not isinstance(default, dict) else {}
        known.setdefault("parameters", {})
        known.setdefault("eval_dir", "")
        known.setdefault("reason", None)
        return cls(**known, extra=extra)


_FIELD_NAMES = frozenset(f.name for f in dataclasses.fields(EvaluationRecord)) - {"extra"}


def failed_record(task: Mapping[str, Any], reason: Reason, detail: str = "") -> EvaluationRecord:
    """The record of a failed evaluation of ``task`` (a task file's mapping): every target at
    ``max_score``, values undefined."""
    scores = {t["name"]: float(t["max_score"]) for t in task["targets"]}
    return EvaluationRecord(
        generation=int(task["generation"]),
        individual=int(task["individual"]),
        status=Status.FAILED.value,
        reason=Reason(reason).value,
        detail=detail[-2000:],
        total_score=float(sum(scores.values())),
        parameters=dict(task["parameters"]),
        values={t["name"]: None for t in task["targets"]},
        scores=scores,
        eval_dir=str(task["eval_dir"]),
    )


def read_result(task: Mapping[str, Any]) -> EvaluationRecord | None:
    """The record in the task's ``result.json``, or None while there is none (or it is not this
    evaluation's: a stale file is never scored for it)."""
    path = Path(task["eval_dir"]) / RESULT_FILE
    try:
        data = read_json(path)
    except FileNotFoundError:
        return None
    except (json.JSONDecodeError, OSError, UnicodeDecodeError):
        return None  # being replaced right now; read again at the next tick
    if not isinstance(data, dict) or data.get("generation") != task["generation"] or data.get(
            "individual") != task["individual"]:
        return None
    return EvaluationRecord.from_json(data)
