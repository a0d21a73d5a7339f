"""Failpoints for the fault-injection tests: ``SIMTUNE_FAILPOINT=name[:n]`` makes the n-th pass
(default 1st) through ``failpoint("name")`` kill the process with SIGKILL, exactly like ``kill -9``
at that point. Unset (always, outside the tests) a failpoint costs one dictionary lookup.

Names used by the controller: ``after_ask``, ``after_inflight``, ``after_submit``, ``waiting``,
``after_tell``, ``after_results``, ``after_generation_row``, ``before_checkpoint``,
``after_checkpoint``; ``atomic_write`` (between writing a temp file and renaming it) and
``results_write`` (half-way through appending rows to the results record).
"""

from __future__ import annotations

import os
import signal

__all__ = ["failpoint"]

_counts: dict[str, int] = {}
# read once and removed, so that job processes started by this one are not armed
_SPEC = os.environ.pop("SIMTUNE_FAILPOINT", "")


def failpoint(name: str) -> None:
    spec = _SPEC
    if not spec:
        return
    target, _, nth = spec.partition(":")
    if target != name:
        return
    _counts[name] = _counts.get(name, 0) + 1
    if _counts[name] >= int(nth or 1):
        os.kill(os.getpid(), signal.SIGKILL)
