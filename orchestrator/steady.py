"""The asynchronous (steady-state) loop: ``executor.max_parallel`` evaluations always in flight.

``optimizer.mode: async``. The slots are filled once; then, as each evaluation finishes, its
record is appended to ``results.jsonl`` (with its place in the telling order, ``tell_seq``), it
is told to CMA-ES (:meth:`~orchestrator.optimizer.cma.CMAOptimizer.tell_one`: ``popsize``
results at a time, in arrival order) and one new point is asked and submitted at once. Nothing
waits for a straggler. The run ends when its budget -- ``max_evaluations``, else
``max_ngen x offspring_size`` -- is told.

Determinism and resume. The optimizer's decisions depend only on the order in which results were
told: the slots are filled with ``max_parallel`` asks, then every tell is followed by exactly one
ask while the budget lasts. The checkpoint, written once per tick after the records and the new
tasks are on disk, holds the optimizer's state after ``n_evaluations`` tells and ``n_asked``
asks. A controller killed at any point resumes from it and *replays* the records the log holds
past it, in ``tell_seq`` order, each followed by its ask: it asks exactly the points the
uninterrupted run asked and re-attaches to their jobs through the in-flight file (keys ``"g/i"``:
``g`` the number of CMA updates when the point was asked, ``i`` its index among the points asked
since). No evaluation is lost or run twice.

A first group of ``popsize`` results that measured nothing (every one failed for one reason, or
every target undefined) stops the run as in generational mode: the jobs still in flight are
cancelled and recorded, nothing is told, and the next resume starts a new *epoch* from the
optimizer's initial state (the records of the old one stay in the log and are never replayed).
"""

from __future__ import annotations

import logging
import math
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from orchestrator.bookkeeping import (
    Best,
    generation_problems,
    generation_row,
    told,
)
from orchestrator.checkpoint import (
    Checkpoint,
    InflightWriter,
    clear_inflight,
    load_inflight,
    save_checkpoint,
)
from orchestrator.executors.watcher import JobWatcher, Limits, WatchedTask
from orchestrator.results import RESULTS_FILE, iter_jsonl
from orchestrator.rundir import Interrupted, RunFailed
from simtune_core.faults import failpoint
from simtune_core.io import read_json
from simtune_core.record import INBOX_DIR, TASK_FILE, EvaluationRecord

if TYPE_CHECKING:
    from orchestrator.controller import Controller
    from orchestrator.optimizer.cma import CMAOptimizer

__all__ = ["AsyncLoop", "budget"]

log = logging.getLogger("simtune")

#: the columnar cache of results.jsonl is brought up to date at most this often (readers parse
#: the log's tail past it; at the end of the run it is brought up to date)
CACHE_EVERY_S = 10.0


def budget(optimizer_cfg: Any, max_ngen: int | None = None) -> int:
    """The evaluations an asynchronous run makes: ``max_evaluations``, else
    ``max_ngen x offspring_size`` (``max_ngen`` as the checkpoint has it, if given)."""
    if optimizer_cfg.max_evaluations is not None:
        return int(optimizer_cfg.max_evaluations)
    return int(max_ngen or optimizer_cfg.max_ngen) * int(optimizer_cfg.offspring_size)


class AsyncLoop:
    """One asynchronous run of ``ctl``'s run directory (module docstring)."""

    def __init__(self, ctl: Controller, opt: CMAOptimizer, cp: Checkpoint, best: Best) -> None:
        self.ctl, self.opt, self.cp, self.best = ctl, opt, cp, best
        self.cfg = ctl.cfg
        self.slots = int(self.cfg.executor.max_parallel or 1)
        self.budget = budget(self.cfg.optimizer, cp.max_ngen)
        inflight = load_inflight(ctl.run_dir)
        if inflight is None or inflight.get("mode") != "async" or inflight.get(
                "epoch") != cp.epoch:
            inflight = {"mode": "async", "epoch": cp.epoch, "tasks": {}, "jobs": {},
                        "started_at": time.time()}
        self.inflight = inflight
        self._inflight_file = InflightWriter(ctl.run_dir)
        self.watcher = JobWatcher(ctl.executor, Limits.of(self.cfg.executor), inflight["jobs"],
                                  self._save_inflight, label=f"{self.cfg.name}-async",
                                  inbox=ctl.run_dir / INBOX_DIR)
        self.group: list[EvaluationRecord] = []  # the records of the CMA update being filled
        self._new: list[str] = []  # keys asked since the last submission
        self._cache_at = 0.0  # when the columnar cache was last brought up to date
        self.t_update = time.time()
        if cp.n_asked == 0:
            cp.epoch_state = opt.state()  # where a new epoch starts over

    # -- state on disk --------------------------------------------------------------------------
    def _save_inflight(self) -> None:
        self._inflight_file.save(self.inflight)

    def _checkpoint(self) -> None:
        self.cp.optimizer_state = self.opt.state()
        self.cp.best, self.cp.kept = self.best.best, self.best.kept
        failpoint("before_checkpoint")
        save_checkpoint(self.ctl.run_dir, self.cp)
        failpoint("after_checkpoint")

    # -- ask and tell ---------------------------------------------------------------------------
    def _ask(self) -> None:
        """Ask one point and note it in the in-flight table (a resumed run checks that it asks
        the point the table already has)."""
        cp = self.cp
        x = self.opt.ask_one()
        g = cp.generation_offset + self.opt.generation
        if g != cp.ask_generation:
            cp.ask_generation, cp.asks_in_generation = g, 0
        key = f"{g}/{cp.asks_in_generation}"
        cp.asks_in_generation += 1
        cp.n_asked += 1
        self._new.append(key)
        saved = self.inflight["tasks"].get(key)
        if saved is None:
            self.inflight["tasks"][key] = {"point": x.tolist(), "asked_at": time.time()}
        elif not np.allclose(np.asarray(saved["point"], dtype=float), x, atol=1e-12):
            log.warning("%s: the resumed optimizer asked another point than the saved one; "
                        "evaluating the saved point", key)

    def _fill(self) -> None:
        while (self.cp.n_asked < self.budget
               and self.cp.n_asked - self.cp.n_evaluations < self.slots):
            self._ask()

    def _tell(self, rec: EvaluationRecord) -> None:
        """Tell one record (already in the log), then ask the point that replaces it."""
        key = f"{rec.generation}/{rec.individual}"
        saved = self.inflight["tasks"].pop(key, None)
        self.inflight["jobs"].pop(key, None)
        if saved is None:  # the in-flight file was saved after this tell, the checkpoint not
            saved = read_json(Path(rec.eval_dir) / TASK_FILE)
        x = np.asarray(saved["point"], dtype=float)
        sigma = self.opt.sigma
        updated = self.opt.tell_one(x, *told(rec, self.cfg.targets))
        self.cp.n_evaluations += 1
        self.group.append(rec)
        if updated is not None:
            self._update_row(sigma)
        if self.cp.n_asked < self.budget:
            self._ask()

    def _update_row(self, sigma: float) -> None:
        """A row of generations.jsonl per CMA update (its group of ``popsize`` results)."""
        cp, g = self.cp, self.cp.next_generation
        row = generation_row(g, self.group, sigma, self.opt, self.t_update, None)
        self.ctl.results.append_generation(row)
        if self.opt.covariance.size <= 2500:
            self.ctl.results.write_covariance(g, self.opt.covariance.tolist())
        for w in generation_problems(self.group, first=False,
                                     config_hint=str(self.ctl.run_dir / "config.yaml")).warnings:
            log.warning("update %d: %s", g, w)
            print(f"simtune: warning: update {g}: {w}", flush=True)
        cp.next_generation, cp.updated_at = g + 1, cp.n_evaluations
        self.group, self.t_update = [], time.time()

    def _watch(self, keys: list[str]) -> list[WatchedTask]:
        """The tasks of ``keys`` (points in flight), written where they are not yet on disk."""
        out = []
        for key in keys:
            saved = self.inflight["tasks"].get(key)
            if saved is None:
                continue  # asked and told within one replay
            g, i = (int(v) for v in key.split("/"))
            x = np.asarray(saved["point"], dtype=float)
            task = self.ctl._task(g, i, self.cfg.space.from_unit(x), float(saved["asked_at"]),
                                  point=x)
            out.append(self.ctl._write_task(task, key))
        return out

    # -- the loop -------------------------------------------------------------------------------
    def _replay(self) -> None:
        """Re-tell the records told after the checkpoint, in tell order (module docstring)."""
        cp = self.cp
        rows = [EvaluationRecord.from_json(r) for r in iter_jsonl(self.ctl.run_dir / RESULTS_FILE)
                if r.get("epoch") == cp.epoch and r.get("tell_seq") is not None]
        rows.sort(key=lambda r: int(r.tell_seq or 0))
        self.group = [r for r in rows if cp.updated_at <= int(r.tell_seq or 0) < cp.n_evaluations]
        replay = [r for r in rows if int(r.tell_seq or 0) >= cp.n_evaluations]
        if replay:
            log.info("replaying %d results told after the last checkpoint", len(replay))
        for rec in replay:
            self._tell(rec)
        self.best.update(replay)

    def run(self) -> Checkpoint:
        ctl, cp = self.ctl, self.cp
        log.info("asynchronous run: %d slots, %d of %d evaluations told", self.slots,
                 cp.n_evaluations, self.budget)
        self._replay()
        self._fill()  # a new run fills its slots; a resumed one has them full already
        tasks = self._watch(list(self.inflight["tasks"]))
        self._new = []
        self._save_inflight()
        failpoint("after_inflight")
        self._checkpoint()
        ctl.progress.start_async(self.budget, cp.n_evaluations, self.slots)
        self._receive(self.watcher.add(tasks))
        while cp.n_evaluations < self.budget:
            if ctl._stop_signal is not None:
                self._save_inflight()
                self._checkpoint()
                raise Interrupted(f"stopped by signal {ctl._stop_signal} after "
                                  f"{cp.n_evaluations} evaluations")
            new = self.watcher.step()
            if new:
                self._receive(new)
            elif not len(self.watcher):
                break  # nothing in flight, nothing to ask (a stop criterion ended the asks)
            else:
                failpoint("waiting")
                time.sleep(0.05 if len(self.watcher) <= 200 else 0.2)
        cp.finished = True
        cp.stop_reason = cp.stop_reason or "max_evaluations"
        ctl.results.update_cache()
        save_checkpoint(ctl.run_dir, cp)
        clear_inflight(ctl.run_dir)
        return cp

    def _receive(self, recs: list[EvaluationRecord]) -> None:
        """Record, tell, ask, submit and checkpoint for the results of one tick."""
        if not recs:
            return
        ctl, cp = self.ctl, self.cp
        for k, rec in enumerate(recs):
            rec.tell_seq, rec.epoch = cp.n_evaluations + k, cp.epoch
        if cp.n_evaluations < self.opt.popsize <= cp.n_evaluations + len(recs):
            head = (self.group + recs)[: self.opt.popsize]
            fatal = generation_problems(head, first=True,
                                        config_hint=str(ctl.run_dir / "config.yaml")).fatal
            if fatal is not None:
                self._stop_epoch(recs, fatal)
        ctl.note_gate_warnings(recs)
        ctl.results.append(recs)
        failpoint("after_results")
        for rec in recs:
            self._tell(rec)
        failpoint("after_tell")
        self.best.update(recs)
        if time.time() - self._cache_at > CACHE_EVERY_S:
            ctl.results.update_cache()
            self._cache_at = time.time()
        tasks, self._new = self._watch(self._new), []
        self._save_inflight()
        self._checkpoint()
        done = self.watcher.add(tasks)  # (a re-run that finished before a crash)
        done += self.watcher.submit_now()  # the freed slots now, not at the next tick
        self._receive(done)
        ctl.progress.add(recs)
        stop = self.opt.stop_reasons()
        if stop and not cp.finished:
            cp.stop_reason = ", ".join(stop)
            log.info("pycma stop criteria met: %s; the evaluations in flight finish and are "
                     "told", cp.stop_reason)
            self.budget = cp.n_asked  # no new asks
        top = self.best.best[0]["total_score"] if self.best.best else math.nan
        log.info("%d results (%d failed): %d of %d told, best so far %.4g", len(recs),
                 sum(not r.ok for r in recs), cp.n_evaluations, self.budget, top)

    def _stop_epoch(self, recs: list[EvaluationRecord], fatal: str) -> None:
        """The first group measured nothing: record everything, cancel what runs, tell nothing,
        and leave the next resume a fresh start (a new epoch)."""
        ctl, cp = self.ctl, self.cp
        self.watcher.cancel_all()
        rest = list(recs)
        deadline = time.time() + 120
        while len(self.watcher) and time.time() < deadline:
            rest += self.watcher.step()
            time.sleep(0.1)
        for rec in rest:
            rec.tell_seq, rec.epoch = None, cp.epoch
        ctl.note_gate_warnings(rest)
        ctl.results.append(rest)
        log.error("stopping: %s", fatal)
        assert cp.epoch_state is not None
        used = max(int(r.generation) for r in rest)
        cp.optimizer_state = cp.epoch_state
        cp.generation_offset = used + 1
        cp.n_evaluations = cp.n_asked = cp.asks_in_generation = cp.updated_at = 0
        cp.ask_generation, cp.next_generation = -1, cp.generation_offset
        cp.epoch += 1
        cp.best, cp.kept = self.best.best, self.best.kept
        save_checkpoint(ctl.run_dir, cp)
        clear_inflight(ctl.run_dir)
        raise RunFailed(f"{fatal}; the run is stopped (nothing was told to the optimizer): fix "
                        f"the cause, then: simtune resume {ctl.run_dir}")
