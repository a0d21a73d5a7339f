"""Evaluation records: the one row every evaluation ends as, and the failure reasons.

An evaluation is ``ok`` or ``failed`` with exactly one :class:`Reason`. A failed evaluation scores
``max_score`` on every target (its computed values, if any, are kept for triage).
"""

from __future__ import annotations

import enum

__all__ = ["Status", "Reason", "RESULT_FILE", "TASK_FILE"]

#: written atomically by the worker into the evaluation directory; its existence = finished
RESULT_FILE = "result.json"
#: written by the controller into the evaluation directory before submission
TASK_FILE = "task.json"


class Status(str, enum.Enum):
    OK = "ok"
    FAILED = "failed"


class Reason(str, enum.Enum):
    """Why an evaluation failed. Values are what the results record stores."""

    EXCEPTION = "exception"  # the simulator/evaluator raised
    CRASHED = "crashed"  # the job process died without a result (segfault, kill, exit code)
    TIMEOUT = "timeout"  # per-evaluation limit or generation timeout reached
    OUT_OF_MEMORY = "out_of_memory"
    CANCELLED = "cancelled"  # cancelled from outside (scancel, SIGINT)
    NEVER_STARTED = "never_started"  # still pending after the pending limit
    NODE_FAIL = "node_fail"
    PREEMPTED = "preempted"  # preempted twice (the first is resubmitted)
    SUBMIT_FAILED = "submit_failed"  # the scheduler refused the submission
    NO_DATASTORE = "no_datastore"
    BAD_DATASTORE = "bad_datastore"
    NAN = "nan"  # a target value was NaN (numerical failure of the simulation)
    EXPLOSION = "explosion"  # the simulation flagged runaway activity
    LOST = "lost"  # the job vanished from the scheduler without a trace
