"""Reference mode: simulate ``reference.parameters`` once; its target values become the targets.

``reference: {parameters: {...}}`` in the config fits a model to another parameter set of the
same model (a known ground truth, or a published one): before the first generation the reference
is simulated, every target's value there is recorded in ``run.json`` (``reference_values``) and
becomes that target's target value for the rest of the run (and every resume).
"""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING, Any

from orchestrator import rundir
from orchestrator.rundir import RunFailed

if TYPE_CHECKING:
    from orchestrator.controller import Controller

__all__ = ["run_reference"]

log = logging.getLogger("simtune")


def run_reference(ctl: Controller) -> None:
    """Reference mode: simulate ``reference.parameters`` once; its values become the targets."""
    assert ctl.cfg.reference is not None
    space = ctl.cfg.space
    free = {**ctl.cfg.centroid, **{k: v for k, v in ctl.cfg.reference.parameters.items()
                                    if space.by_name[k].free}}
    params = space.complete(free)
    params.update({k: float(v) for k, v in ctl.cfg.reference.parameters.items()})
    task = ctl._write_task(ctl._task(-1, 0, params))
    inflight: dict[str, Any] = {"generation": -1, "points": [], "jobs": {},
                                "started_at": time.time()}
    rec = ctl._wait(-1, [task], inflight)[0]
    if not rec.ok:
        raise RunFailed(f"the reference simulation failed ({rec.reason}): "
                        f"{rec.detail[:500]}")
    values = {k: v for k, v in rec.values.items() if v is not None}
    missing = [t.name for t in ctl.cfg.targets if t.name not in values]
    if missing:
        raise RunFailed(f"the reference simulation gave no value for {missing}: "
                        f"{rec.target_reasons}")
    ctl.meta["reference_values"] = values
    rundir.write_meta(ctl.run_dir, ctl.meta)
    ctl.cfg = ctl.cfg.with_target_values(values)
    log.info("reference values: %s", values)
