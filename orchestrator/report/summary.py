"""``RUN_DIR/report/index.md`` and :func:`write_report`, which draws every figure beside it."""

from __future__ import annotations

import io
import logging
import math
import os
import shutil
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from orchestrator.report.data import RunData, aborted_savings, best_rows, load_run
from orchestrator.report.figures import DPI, FIGURES, empty_figure, plot_scores
from orchestrator.results import ok_mask
from simtune_core.io import atomic_write_bytes, atomic_write_text

__all__ = ["REPORT_DIR", "Report", "summary_markdown", "write_report"]

log = logging.getLogger("simtune")

REPORT_DIR = "report"
#: the most processes drawing figures at once (matplotlib's cost does not depend on the rows)
MAX_JOBS = 4


def _fmt(v: Any) -> str:
    if isinstance(v, (float, np.floating)):
        return f"{float(v):.6g}"
    return str(v)


def summary_markdown(data: RunData, figures: Sequence[tuple[str, str, str]],
                     failed: Sequence[str] = ()) -> str:
    """The text of ``index.md``: summary tables, then each figure with one line on reading it."""
    df, info = data.results, data.info
    n = len(df)
    n_fail = int((~ok_mask(df)).sum()) if n else 0
    n_gen = int(df["generation"].nunique()) if n else 0
    if data.state.get("finished"):
        state = f"finished ({data.state.get('stop_reason') or 'done'})"
    elif data.inflight_generation is not None:
        state = (f"live: generation {data.inflight_generation} in flight, "
                 f"{data.inflight_done} of {data.inflight_size} results so far (included)")
    else:
        state = "not finished (stopped or between generations)"
    lines = [f"# simtune report: {info.name}", "",
             f"`{data.run_dir.resolve()}` — {time.strftime('%Y-%m-%d %H:%M:%S')} — {state}", ""]
    best = best_rows(df)
    lines += ["| | |", "|---|---|",
              f"| evaluations | {n} in {n_gen} generations ({n - n_fail} ok, {n_fail} failed) |"]
    if best.empty:
        lines.append("| best total score | none: no successful evaluation |")
    else:
        b = best.iloc[0]
        lines += [(f"| best total score | **{b['total_score']:.6g}** (generation "
                   f"{int(b['generation'])}, individual {int(b['individual'])}) |"),
                  f"| best evaluation | `{b.get('eval_dir')}` |"]
    saved = aborted_savings(df)
    if saved is not None:
        est = ("" if not math.isfinite(saved["saved_s"]) else
               f"; ~{saved['saved_s']:.0f} s of simulation saved (median finished evaluation "
               f"{saved['median_ok_runtime_s']:.3g} s)")
        lines.append(f"| aborted by gates | {saved['aborted']:.0f} evaluations, "
                     f"{saved['runtime_s']:.0f} s spent{est} |")
    if not info.from_config:
        lines.append("| note | config not loadable: bounds and max scores inferred from results |")
    lines.append("")
    if not best.empty:
        b = best.iloc[0]
        lines += ["**Best parameters** (`simtune export` writes them as JSON/YAML)", "",
                  "| parameter | value | kind | bounds |", "|---|---|---|---|"]
        for p in info.params:
            bounds = f"[{p.low:g}, {p.high:g}]" + (" log" if p.log else "") if p.free else ""
            lines.append(f"| {p.name} | {_fmt(b.get(f'param.{p.name}'))} | {p.kind} | "
                         f"{bounds} |")
        lines += ["", "| target | value | target value | score / max |", "|---|---|---|---|"]
        for t in info.targets:
            tv = t.target_value
            tv_s = f"[{tv[0]:g}, {tv[1]:g}]" if isinstance(tv, (tuple, list)) else (
                "?" if tv is None else f"{t.kind.replace('_', ' ')} {tv:g}")
            lines.append(f"| {t.name} | {_fmt(b.get(f'value.{t.name}'))} | {tv_s} | "
                         f"{_fmt(b.get(f'score.{t.name}'))} / {t.max_score:g} |")
        lines.append("")
    undefined = _undefined_targets(data)
    if undefined:
        lines += [("**Targets never measured** (undefined in every successful evaluation; "
                   "check one data store with `simtune score`)"), "",
                  "| target | reason |", "|---|---|"]
        lines += [f"| {name} | {why} |" for name, why in undefined]
        lines.append("")
    if n_fail:
        counts = df.loc[~ok_mask(df), "reason"].fillna("unknown").value_counts()
        lines += ["**Failures by reason**", "", "| reason | evaluations |", "|---|---|"]
        lines += [f"| {k} | {v} |" for k, v in counts.items()]
        lines.append("")
    if failed:
        lines += [(f"**Figures that could not be drawn**: {', '.join(failed)} (see "
                   "`simtune.log`)"), ""]
    for fname, heading, caption in figures:
        lines += [f"## {heading}", "", caption, "", f"![{heading}]({fname})", ""]
    return "\n".join(lines)


def _undefined_targets(data: RunData) -> list[tuple[str, str]]:
    """Targets with no value in any successful evaluation, and their most common reason."""
    df = data.results
    rows = ok_mask(df).to_numpy(dtype=bool, na_value=False) if len(df) else np.zeros(0, bool)
    out: list[tuple[str, str]] = []
    if not rows.any():
        return out
    for t in data.info.targets:
        col = f"value.{t.name}"
        # column by column: selecting the ok rows of the whole table copies every column
        if col in df.columns and df[col][rows].isna().all():
            why = df[f"why.{t.name}"][rows] if f"why.{t.name}" in df.columns else None
            reason = (str(why.dropna().value_counts().index[0])
                      if why is not None and why.notna().any() else "no value")
            out.append((t.name, reason))
    return out


@dataclass
class Report:
    """What :func:`write_report` wrote: the index, and the figures that failed to draw."""

    index: Path
    failed: list[str] = field(default_factory=list)


def write_report(run_dir: str | os.PathLike[str], log_scale: bool = False,
                 jobs: int | None = None) -> Report:
    """Write every figure and ``index.md`` into ``RUN_DIR/report/`` (atomically, each).

    A figure whose function raises is replaced by a placeholder that names the error, so the
    others are still written; the failures are returned (and the CLI exits 1 for them).

    Parameters
    ----------
    run_dir
        A run directory (live or finished; no lock is taken).
    log_scale
        Symmetric-log score axis in the score plot (a score of 0 stays visible).
    jobs
        Processes drawing figures at once (:func:`_draw_all`); default: the CPU count, at most
        :data:`MAX_JOBS`. 1 draws them in this process.

    Raises
    ------
    FileNotFoundError
        ``run_dir`` is not a run directory.
    """
    run_dir = Path(run_dir)
    if not (run_dir / "run.json").exists() and not (run_dir / "results.jsonl").exists():
        raise FileNotFoundError(f"{run_dir} is not a simtune run directory")
    data = load_run(run_dir)
    out = run_dir / REPORT_DIR
    out.mkdir(exist_ok=True)
    done, failed = [], []
    scratch = Path(tempfile.mkdtemp(prefix=".drawing-", dir=out))
    try:
        drawn = _draw_all(data, log_scale, jobs, scratch)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    for (fname, heading, caption, _), (png, ok) in zip(FIGURES, drawn):
        if not ok:
            failed.append(fname)
        atomic_write_bytes(out / fname, png)
        done.append((fname, heading, caption))
    index = out / "index.md"
    atomic_write_text(index, summary_markdown(data, done, failed))
    return Report(index, failed)


def _draw(k: int, data: RunData, log_scale: bool) -> tuple[bytes, bool]:
    """Figure ``k`` of :data:`FIGURES` as PNG bytes, and whether it was drawn (a figure whose
    function raises becomes a placeholder naming the error, so the others are still written)."""
    fname, heading, _caption, fn = FIGURES[k]
    ok = True
    try:
        fig = fn(data, log_scale=log_scale) if fn is plot_scores else fn(data)
    except Exception as exc:  # one broken figure must not cost the others
        log.exception("report: %s failed", fname)
        ok = False
        fig = empty_figure(heading, f"could not draw this figure: {type(exc).__name__}: {exc}")
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=DPI)
    return buf.getvalue(), ok


def _draw_all(data: RunData, log_scale: bool, jobs: int | None,
              scratch: Path) -> list[tuple[bytes, bool]]:
    """Every figure, in :data:`FIGURES` order.

    matplotlib's layout and rendering (~0.1-1.5 s a figure, whatever the number of rows) is
    most of a report's time and runs on one core, so the figures are shared out (most expensive
    first, each to the least loaded) among ``jobs`` forked processes, which inherit the loaded run
    (copy-on-write) and write each PNG atomically into ``scratch`` (``<k>.png``, after a
    ``<k>.failed`` marker for a placeholder); no pipe, so nothing can block on a reader that is
    gone. The main process waits for them, then draws here every figure they did not write (no
    fork on this platform, a drawing process that died).
    """
    n = jobs if jobs is not None else min(os.cpu_count() or 1, MAX_JOBS)
    todo = list(range(len(FIGURES)))
    if n > 1 and hasattr(os, "fork"):
        # most expensive first, each to the least loaded process (longest processing time)
        shares: list[list[int]] = [[] for _ in range(min(n, len(todo)))]
        load = [0] * len(shares)
        for k in sorted(todo, key=lambda k: -_COST.get(FIGURES[k][0], 1)):
            j = load.index(min(load))
            shares[j].append(k)
            load[j] += _COST.get(FIGURES[k][0], 1)
        pids = []
        for share in shares:
            pid = os.fork()
            if pid == 0:  # pragma: no cover - runs in the child, which never returns
                code = 1
                try:
                    for k in share:
                        png, ok = _draw(k, data, log_scale)
                        if not ok:
                            (scratch / f"{k}.failed").touch()
                        atomic_write_bytes(scratch / f"{k}.png", png)
                    code = 0
                finally:
                    os._exit(code)
            pids.append(pid)
        for pid in pids:
            _, status = os.waitpid(pid, 0)
            if status != 0:
                log.warning("report: a drawing process ended with status %d; its figures "
                            "are drawn here", status)
    out = []
    for k in todo:
        png_path = scratch / f"{k}.png"
        if png_path.exists():
            out.append((png_path.read_bytes(), not (scratch / f"{k}.failed").exists()))
        else:
            out.append(_draw(k, data, log_scale))
    return out


#: relative drawing cost of the figures (measured on 2*10^5 rows x 30 parameters x 30 targets)
_COST = {"population.png": 20, "failures.png": 14, "best_values.png": 13, "correlation.png": 12,
         "pareto.png": 5, "best_scores.png": 4, "covariance.png": 4}
