"""What the controllers make of the records: the tell, the generation row, the best, warnings.

* :func:`told` / :func:`told_batch` -- what the optimizer is told of a record (both loops);
* :func:`generation_row` -- the row of ``generations.jsonl``;
* :class:`Best` -- the best evaluations so far and the data stores kept on disk:
  ``cleanup.keep_best`` bounds the stores that exist after every generation, whatever the batch;
* :func:`generation_problems` -- what makes a generation worth a warning (a target undefined in
  every evaluation) or the run worth stopping (the first generation measured nothing);
* :class:`Progress` -- a progress bar per generation, or one line per generation without it.
"""

from __future__ import annotations

import logging
import math
import shutil
import sys
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple, Sequence

import numpy as np

from simtune_core.record import EvaluationRecord, Reason, failure_counts

__all__ = ["Best", "GenerationProblems", "Progress", "generation_problems", "generation_row",
           "remove_datastores", "told", "told_batch"]

log = logging.getLogger("simtune")

#: the best evaluations remembered in the checkpoint (at least; more if keep_best asks)
BEST_REMEMBERED = 10


class Told(NamedTuple):
    """What the optimizer is told of one record (``tell_one``'s arguments after the point)."""

    total: float
    reason: Reason | None  # the failure, or None
    scores: list[float]  # per target, the config's order
    values: list[float]  # per target, NaN where undefined (the composite surrogate learns them)
    value_std: list[float] | None  # spread over seeds (``repeats`` > 1), NaN where not recorded


def told(rec: EvaluationRecord, targets: Sequence[Any]) -> Told:
    """The tell of ``rec``, its per-target lists in the order of ``targets``."""
    got = [rec.values.get(t.name) for t in targets]
    values = [math.nan if v is None else float(v) for v in got]
    std = ([float(rec.value_std.get(t.name, math.nan)) for t in targets]
           if rec.value_std else None)
    return Told(rec.total_score, rec.failure, [rec.scores[t.name] for t in targets], values, std)


def told_batch(records: Sequence[EvaluationRecord], targets: Sequence[Any]
               ) -> tuple[list[float], list[Reason | None], list[list[float]], list[list[float]],
                          list[list[float] | None]]:
    """:func:`told` of each record, as ``tell_batch``'s five lists."""
    rows = [told(r, targets) for r in records]
    return ([r.total for r in rows], [r.reason for r in rows], [r.scores for r in rows],
            [r.values for r in rows], [r.value_std for r in rows])


def generation_row(g: int, records: Sequence[EvaluationRecord], sigma: float, opt: Any,
                   t0: float, submitted_at: float | None) -> dict[str, Any]:
    """One row of ``generations.jsonl``: step size before and after, the mean, the totals'
    min/median/max, failures by reason and timing (the search covariance has its own file,
    ``covariance.json``: rows stay small at any dimension)."""
    totals = np.array([r.total_score for r in records], dtype=float)
    failures = failure_counts(records)
    now = time.time()
    return {
        "generation": g, "sigma": sigma, "sigma_after": opt.sigma,
        "mean": opt.mean.tolist(), "n": len(records),
        "n_ok": len(records) - sum(failures.values()), "failures": failures,
        "min": float(totals.min()), "median": float(np.median(totals)),
        "max": float(totals.max()), "started_at": t0, "finished_at": now,
        "duration_s": now - t0, "submitted_at": submitted_at,
    }


def remove_datastores(d: Path) -> None:
    """Remove HDF5 stores and per-seed folders, keeping task/result files and logs."""
    if not d.is_dir():
        return
    for p in d.iterdir():
        if p.suffix in (".h5", ".hdf5", ".tmp") and p.is_file():
            p.unlink(missing_ok=True)
        elif p.is_dir() and p.name.startswith("seed_"):
            shutil.rmtree(p, ignore_errors=True)


class Best:
    """The best ok evaluations (best first) and the evaluation directories whose data stores
    are kept.

    After :meth:`update` with a generation's records, exactly the stores of the best
    ``keep_best`` evaluations exist among those this object has seen (``keep_best: -1`` keeps
    every store; ``keep_failed`` keeps failed evaluations' stores, which are never counted).

    Parameters
    ----------
    best
        The remembered best (checkpoint ``best``).
    kept
        Evaluation directories whose stores exist (checkpoint ``kept``).
    """

    def __init__(self, best: list[dict[str, Any]], kept: list[str], keep_best: int,
                 keep_failed: bool) -> None:
        self.best = list(best)
        self.kept = list(kept) if kept else [r["eval_dir"] for r in best[:max(keep_best, 0)]]
        self.keep_best = keep_best
        self.keep_failed = keep_failed

    def update(self, records: Sequence[EvaluationRecord]) -> None:
        """Take a generation's records into the best list and delete the stores that fell out."""
        remember = max(self.keep_best, BEST_REMEMBERED)
        cand = self.best + [
            {"total_score": r.total_score, "generation": r.generation,
             "individual": r.individual, "eval_dir": r.eval_dir, "parameters": r.parameters}
            for r in records if r.ok
        ]
        cand.sort(key=lambda r: (r["total_score"], r["generation"], r["individual"]))
        self.best = cand[:remember]
        if self.keep_best < 0:
            return
        keep = [r["eval_dir"] for r in self.best[:self.keep_best]]
        seen = set(self.kept) | {r.eval_dir for r in records
                                 if r.ok or not self.keep_failed}
        for d in sorted(seen - set(keep)):
            remove_datastores(Path(d))
        self.kept = keep


@dataclass
class GenerationProblems:
    """What the controller says about a generation's records (:func:`generation_problems`)."""

    warnings: list[str]
    fatal: str | None = None  # a reason to stop the run (first generation only)


def generation_problems(records: Sequence[EvaluationRecord], first: bool,
                        config_hint: str) -> GenerationProblems:
    """Warnings for the targets undefined in every evaluation of a generation (same reason), and
    for the first generation a reason to stop when nothing was measured: every evaluation failed
    for one reason, or every target of every evaluation is undefined."""
    warnings: list[str] = []
    n = len(records)
    if not n:
        return GenerationProblems(warnings)
    ok = [r for r in records if r.ok]
    if ok:
        for name in ok[0].scores:
            why = Counter(r.target_reasons.get(name) for r in ok if r.values.get(name) is None)
            if sum(why.values()) == len(ok) and len(why) == 1:
                reason = next(iter(why)) or "no value"
                warnings.append(f"target {name} is undefined in every evaluation of this "
                                f"generation: {reason} (check one data store with "
                                f"'simtune score {config_hint} STORE')")
    fatal = None
    if first:
        counts = failure_counts(records)
        if not ok and len(counts) == 1:
            reason = next(iter(counts))
            detail = next((r.detail for r in records if r.detail), "").strip()
            first_line = detail.splitlines()[0] if detail else "no detail"
            fatal = (f"every evaluation of the first generation ({n}) failed with reason "
                     f"{reason}: {first_line[:300]}")
        elif ok and len(warnings) == len(ok[0].scores) and len(ok) == n:
            fatal = ("every target of every evaluation of the first generation is undefined: "
                     + "; ".join(w.split(": ", 1)[1].split(" (check")[0] for w in warnings))
    return GenerationProblems(warnings, fatal)


class Progress:
    """A progress bar per generation on stderr (tqdm), or with ``bar=False`` one line when a
    generation starts and one when it ends, so a log file still shows the run moving."""

    def __init__(self, bar: bool) -> None:
        self.bar_enabled = bar
        self._bar: Any = None
        self._n = 0
        self._offset = 0
        self._async = False
        self._done: list[EvaluationRecord] = []

    def start(self, g: int, n: int, done: Sequence[EvaluationRecord]) -> None:
        self._n, self._done = n, list(done)
        if self.bar_enabled:
            from tqdm import tqdm

            self._bar = tqdm(total=n, desc=f"generation {g}", unit="eval", leave=True,
                             file=sys.stderr, dynamic_ncols=True)
            self._refresh()
        else:
            print(f"generation {g}: {n} evaluations"
                  + (f" ({len(done)} already done)" if done else ""), flush=True)

    def start_async(self, total: int, done: int, slots: int) -> None:
        """One bar over an asynchronous run's whole budget (or a line per 5 % of it)."""
        self._n, self._done, self._async = total, [], True
        self._offset = done
        if self.bar_enabled:
            from tqdm import tqdm

            self._bar = tqdm(total=total, initial=done, desc=f"async ({slots} slots)",
                             unit="eval", leave=True, file=sys.stderr, dynamic_ncols=True)
        else:
            print(f"asynchronous run: {total} evaluations, {slots} at a time"
                  + (f" ({done} already done)" if done else ""), flush=True)

    def add(self, records: Sequence[EvaluationRecord]) -> None:
        if not records:
            return
        if self._async and not self.bar_enabled:
            step = max(1, self._n // 20)
            before = (self._offset + len(self._done)) // step
            self._done.extend(records)
            n = self._offset + len(self._done)
            if n // step != before or n == self._n:
                failed = sum(not r.ok for r in self._done)
                ok = [r.total_score for r in self._done if r.ok]
                best = f", best {min(ok):.4g}" if ok else ""
                print(f"{n} of {self._n} evaluations done ({failed} failed){best}", flush=True)
            return
        self._done.extend(records)
        self._refresh()

    def _refresh(self) -> None:
        if self._bar is None:
            return
        failed = sum(1 for r in self._done if not r.ok)
        ok = [r.total_score for r in self._done if r.ok]
        self._bar.set_postfix(failed=failed, best=f"{min(ok):.3g}" if ok else "-", refresh=False)
        self._bar.update(self._offset + len(self._done) - self._bar.n)

    def end(self, g: int, seconds: float, best: float) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None
        failed = sum(1 for r in self._done if not r.ok)
        if not self.bar_enabled:
            print(f"generation {g} done in {seconds:.1f} s: {len(self._done) - failed} ok, "
                  f"{failed} failed, best so far {best:.4g}", flush=True)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None
