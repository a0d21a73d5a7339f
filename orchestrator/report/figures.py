"""The figures of ``simtune report``: one ``plot_*`` function each, from a :class:`RunData`.

Every function returns a :class:`matplotlib.figure.Figure` built with the object-oriented API (no
:mod:`matplotlib.pyplot`: no GUI backend, no global figure registry), so saving renders with Agg
on a headless node and a notebook's backend is left alone. Names are wrapped over lines, never
cut short; counts get integer ticks; what a figure's title says is what its axes show.
"""

from __future__ import annotations

import math
import re
import textwrap
from typing import Any, Callable

import numpy as np
import pandas as pd
from matplotlib import colormaps
from matplotlib.colors import Normalize
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from orchestrator.report.data import (
    PARETO_POOL,
    RunData,
    TargetInfo,
    best_rows,
    correlation_matrix,
    failure_table,
    gen_bins,
    generation_table,
    pareto_data,
    population_histograms,
    search_correlation,
    slot_occupancy,
    utilisation,
)
from orchestrator.results import ok_mask

__all__ = ["DPI", "FIGURES", "empty_figure", "plot_best_scores", "plot_best_values",
           "plot_correlation", "plot_covariance", "plot_failures", "plot_pareto",
           "plot_population", "plot_scores", "plot_sigma", "plot_slots", "wrap"]

DPI = 100


# -- helpers ----------------------------------------------------------------------------------
def wrap(name: str, width: int = 22) -> str:
    """``name`` over lines of at most ``width`` characters where it can be broken (between
    CamelCase words, before ``[``, after ``_``), never shortened.

    >>> wrap("OrientationTuningPreferenceTarget[V1_Exc_L4]", 20)
    'OrientationTuning\\nPreferenceTarget\\n[V1_Exc_L4]'
    """
    if len(name) <= width:
        return name
    tokens = re.findall(r"\[[^\]]*\]?|[A-Z]+[a-z0-9]*|[^A-Z\[_]+_?|_", name)
    if "".join(tokens) != name:  # pragma: no cover - the pattern covers every character
        return "\n".join(textwrap.wrap(name, width, break_on_hyphens=False))
    lines, cur = [], ""
    for tok in tokens:
        if cur and len(cur) + len(tok) > width:
            lines.append(cur)
            cur = ""
        cur += tok
    lines.append(cur)
    return "\n".join(line for part in lines for line in
                     (textwrap.wrap(part, width) if len(part) > 2 * width else [part]))


def _lines(names: list[str], width: int) -> int:
    return max((wrap(n, width).count("\n") + 1 for n in names), default=1)


def _note(ax: Any, text: str) -> None:
    ax.text(0.5, 0.5, text, ha="center", va="center", transform=ax.transAxes, fontsize=10,
            color="0.35", wrap=True)
    ax.set_xticks([])
    ax.set_yticks([])


def empty_figure(title: str, text: str, size: tuple[float, float] = (6.0, 3.0)) -> Figure:
    """A figure that says why there is nothing to plot."""
    fig = Figure(figsize=size, dpi=DPI, layout="constrained")
    ax = fig.add_subplot()
    ax.set_title(title)
    _note(ax, text)
    return fig


def _int_axis(axis: Any) -> None:
    axis.set_major_locator(MaxNLocator(integer=True))


def _mappable(cmap: Any, lo: float = 0.0, hi: float = 1.0) -> Any:
    from matplotlib.cm import ScalarMappable

    return ScalarMappable(norm=Normalize(lo, hi), cmap=cmap)


# -- figures ------------------------------------------------------------------------------------
def plot_scores(data: RunData, log_scale: bool = False) -> Figure:
    """Total score per generation: min, median, max (all evaluations) and best so far."""
    title = "Total score per generation"
    t = generation_table(data.results)
    if t.empty:
        return empty_figure(title, "no evaluation recorded yet")
    fig = Figure(figsize=(7.0, 4.0), dpi=DPI, layout="constrained")
    ax = fig.add_subplot()
    x = t.index.to_numpy()
    ax.fill_between(x, t["min"], t["max"], color="tab:blue", alpha=0.12, lw=0,
                    label="min – max")
    ax.plot(x, t["max"], color="tab:blue", lw=0.8, alpha=0.6, label="max")
    ax.plot(x, t["median"], color="tab:blue", lw=1.5, label="median")
    ax.plot(x, t["min"], color="tab:green", lw=1.0, marker="." if len(x) < 60 else None,
            label="min")
    if t["best_so_far"].notna().any():
        ax.step(x, t["best_so_far"], where="post", color="black", lw=2, label="best so far (ok)")
    if data.inflight_generation is not None and data.inflight_done:
        ax.axvspan(data.inflight_generation - 0.5, data.inflight_generation + 0.5,
                   color="orange", alpha=0.15,
                   label=f"in flight ({data.inflight_done}/{data.inflight_size})")
    total_max = sum(tg.max_score for tg in data.info.targets)
    if total_max:
        ax.axhline(total_max, color="red", ls=":", lw=1, label="sum of max_score")
    if log_scale:
        vals = t[["min", "median", "max"]].to_numpy(dtype=float)
        pos = vals[np.isfinite(vals) & (vals > 0)]
        # symlog: a perfect score of 0 stays on the plot; linear below the smallest positive
        ax.set_yscale("symlog", linthresh=float(pos.min()) if pos.size else 1e-3)
    _int_axis(ax.xaxis)
    ax.set_xlabel("generation")
    ax.set_ylabel("total score (lower is better)")
    ax.set_title(title)
    ax.legend(fontsize=8, loc="upper right")
    ax.grid(alpha=0.3)
    return fig


def plot_sigma(data: RunData) -> Figure:
    """CMA-ES step size per generation (unit-cube coordinates)."""
    title = "CMA-ES step size"
    g = data.generations
    if g.empty or "sigma" not in g.columns:
        return empty_figure(title, "no generation finished yet")
    fig = Figure(figsize=(7.0, 3.0), dpi=DPI, layout="constrained")
    ax = fig.add_subplot()
    s = pd.to_numeric(g["sigma"], errors="coerce").to_numpy(dtype=float)
    ax.plot(g["generation"], s, marker="." if len(g) < 60 else None, label="sigma (sampling)")
    if "sigma_after" in g.columns:
        ax.plot(g["generation"], pd.to_numeric(g["sigma_after"], errors="coerce"), ls="--",
                lw=0.8, color="0.4", label="sigma after update")
    if np.all(s[np.isfinite(s)] > 0) and np.isfinite(s).any():
        ax.set_yscale("log")
    _int_axis(ax.xaxis)
    ax.set_xlabel("generation")
    ax.set_ylabel("sigma (unit cube)")
    ax.set_title(title)
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3, which="both")
    return fig


def plot_best_scores(data: RunData) -> Figure:
    """The best evaluation's score per target: bar length = score, colour from green (on target)
    to red (at max_score); the red tick marks each target's max_score."""
    title = "Best evaluation: score per target"
    targets = data.info.targets
    best = best_rows(data.results)
    if best.empty or not targets:
        return empty_figure(title, "no successful evaluation yet")
    row = best.iloc[0]
    names = [t.name for t in targets]
    scores = np.array([row.get(f"score.{n}", np.nan) for n in names], dtype=float)
    maxes = np.array([t.max_score for t in targets], dtype=float)
    frac = np.clip(scores / maxes, 0, 1)
    cmap = colormaps["RdYlGn_r"]
    lines = _lines(names, 28)
    fig = Figure(figsize=(7.5, 1.2 + 0.16 * lines * len(names) + 0.12 * len(names)), dpi=DPI,
                 layout="constrained")
    ax = fig.add_subplot()
    y = np.arange(len(names))
    ax.barh(y, np.nan_to_num(scores), color=cmap(np.nan_to_num(frac, nan=1.0)),
            edgecolor="0.3", lw=0.5)
    ax.scatter(maxes, y, marker="|", s=120, color="red", label="max_score", zorder=3)
    for yi, s in zip(y, scores):
        ax.text(float(s) if np.isfinite(s) else 0.0, float(yi), f" {s:.3g}", va="center",
                fontsize=7)
    ax.set_yticks(y, [wrap(n, 28) for n in names], fontsize=8)
    ax.invert_yaxis()
    ax.set_xlabel("score (0 = on target)")
    ax.set_title(f"{title}\n(generation {int(row['generation'])}, individual "
                 f"{int(row['individual'])}, total {row['total_score']:.4g})", fontsize=10)
    fig.colorbar(_mappable(cmap), ax=ax, label="score / max_score", fraction=0.05)
    ax.legend(fontsize=7, loc="lower right")
    return fig


def _target_zone(t: TargetInfo) -> tuple[float, float] | None:
    tv = t.target_value
    if tv is None:
        return None
    if isinstance(tv, (tuple, list)):
        return float(tv[0]), float(tv[1])
    v = float(tv)
    if t.kind == "at_least":
        return v, math.inf
    if t.kind == "at_most":
        return -math.inf, v
    return v, v


def plot_best_values(data: RunData) -> Figure:
    """What the best evaluation did (marker) against what it should do (green zone), per target.

    One panel per target in the target's own units. The grey strip is the range of values over
    all successful evaluations, for scale.
    """
    title = "Best evaluation: target values vs targets"
    targets = data.info.targets
    best = best_rows(data.results)
    if best.empty or not targets:
        return empty_figure(title, "no successful evaluation yet")
    row = best.iloc[0]
    ok_rows = ok_mask(data.results).to_numpy(dtype=bool, na_value=False)
    n = len(targets)
    ncols = min(3, n)
    nrows = math.ceil(n / ncols)
    lines = _lines([t.name for t in targets], 30)
    fig = Figure(figsize=(3.6 * ncols, (1.1 + 0.14 * lines) * nrows + 0.6), dpi=DPI,
                 layout="constrained")
    axes = fig.subplots(nrows, ncols, squeeze=False)
    for k, t in enumerate(targets):
        ax = axes[k // ncols][k % ncols]
        v = float(row.get(f"value.{t.name}", np.nan))
        s = float(row.get(f"score.{t.name}", np.nan))
        zone = _target_zone(t)
        col = f"value.{t.name}"
        allv = (data.results[col].to_numpy(dtype=float, na_value=np.nan)[ok_rows]
                if col in data.results.columns else np.empty(0))
        allv = allv[np.isfinite(allv)]
        pts = [x for x in ([v] + ([z for z in zone if math.isfinite(z)] if zone else []))
               if math.isfinite(x)]
        if allv.size:
            pts += [float(allv.min()), float(allv.max())]
        if not pts:
            ax.set_title(wrap(t.name, 30), fontsize=8)
            why = row.get(f"why.{t.name}")
            _note(ax, f"no value{': ' + str(why) if isinstance(why, str) and why else ''}")
            continue
        lo, hi = min(pts), max(pts)
        pad = max((hi - lo) * 0.15, t.norm, 1e-12)
        lo, hi = lo - pad, hi + pad
        if allv.size:
            ax.axvspan(float(allv.min()), float(allv.max()), ymin=0.42, ymax=0.58,
                       color="0.85", lw=0, label="all ok evaluations")
        if zone is not None:
            a, b = max(zone[0], lo), min(zone[1], hi)
            if a == b:
                ax.axvline(a, color="tab:green", lw=2.5)
            else:
                ax.axvspan(a, b, color="tab:green", alpha=0.35, lw=0)
        if math.isfinite(v):
            std = row.get(f"std.{t.name}", np.nan)
            ax.errorbar([v], [0.5], xerr=[std] if np.isfinite(std) else None, fmt="o",
                        color="black", ms=6, capsize=3)
        else:
            why = row.get(f"why.{t.name}")
            ax.text(0.5, 0.8, f"no value{': ' + str(why) if isinstance(why, str) else ''}",
                    transform=ax.transAxes, ha="center", fontsize=7, color="red")
        ax.set_xlim(lo, hi)
        ax.set_ylim(0, 1)
        ax.set_yticks([])
        ax.tick_params(axis="x", labelsize=7)
        ax.set_title(f"{wrap(t.name, 30)}\nvalue {v:.4g}, score {s:.3g} of {t.max_score:g}",
                     fontsize=8)
    for k in range(n, nrows * ncols):
        axes[k // ncols][k % ncols].set_visible(False)
    fig.suptitle(f"{title}\n(green: target; marker: best; grey: all ok evaluations)",
                 fontsize=10)
    return fig


def plot_correlation(data: RunData) -> Figure:
    """Heat map of the signed Pearson r between free parameters and target scores (blank:
    undefined): red = a larger parameter gives a worse score, blue = a better one."""
    title = "Pearson r: free parameter vs target score"
    r = correlation_matrix(data.results, data.info)
    if r.empty:
        return empty_figure(title, "no free parameters or no targets")
    p, t = r.shape
    lines = _lines(list(r.columns), 20)
    fig = Figure(figsize=(max(5.5, 2.4 + 0.5 * t), max(3.0, 1.6 + 0.32 * p + 0.13 * lines)),
                 dpi=DPI, layout="constrained")
    ax = fig.add_subplot()
    cmap = colormaps["RdBu_r"].with_extremes(bad="white")
    im = ax.imshow(np.ma.masked_invalid(r.to_numpy()), cmap=cmap, vmin=-1, vmax=1,
                   aspect="auto", interpolation="nearest")
    ax.set_xticks(range(t), [wrap(c, 20) for c in r.columns], rotation=60, ha="right",
                  rotation_mode="anchor", fontsize=7)
    ax.set_yticks(range(p), [wrap(c, 24) for c in r.index], fontsize=7)
    if p * t <= 200:
        for i in range(p):
            for j in range(t):
                v = r.iat[i, j]
                if np.isfinite(v):
                    ax.text(j, i, f"{v:+.2f}", ha="center", va="center", fontsize=6,
                            color="white" if abs(v) > 0.6 else "black")
    n = int(len(data.results))
    note = "" if np.isfinite(r.to_numpy()).any() else " — undefined (constant scores)"
    ax.set_title(f"{title}\n({n} evaluations{note})", fontsize=10)
    fig.colorbar(im, ax=ax, label="r (score rises with the parameter: > 0)")
    return fig


def plot_covariance(data: RunData) -> Figure:
    """The CMA-ES search distribution at the last generation: the signed correlation matrix of
    its covariance (sigma^2 C, unit cube), each parameter's standard deviation in its label."""
    title = "CMA-ES search distribution: correlation of the parameters"
    names = [p.name for p in data.info.free]
    if data.covariance is None:
        return empty_figure(title, "no covariance recorded (no generation finished, or too "
                                   "many parameters to record it)")
    gen, cov = data.covariance
    d = cov.shape[0]
    if len(names) != d:
        names = [f"x{i}" for i in range(d)]
    corr, std = search_correlation(cov)
    labels = [f"{wrap(n, 20)} (sd {s:.2g})" for n, s in zip(names, std)]
    fig = Figure(figsize=(max(5.0, 2.6 + 0.38 * d), max(4.0, 1.8 + 0.36 * d)), dpi=DPI,
                 layout="constrained")
    ax = fig.add_subplot()
    cmap = colormaps["RdBu_r"].with_extremes(bad="white")
    im = ax.imshow(np.ma.masked_invalid(corr), cmap=cmap, vmin=-1, vmax=1,
                   interpolation="nearest")
    ax.set_xticks(range(d), labels, rotation=60, ha="right", rotation_mode="anchor",
                  fontsize=7)
    ax.set_yticks(range(d), labels, fontsize=7)
    ax.set_title(f"{title}\nafter generation {gen} (sd: standard deviation, fraction of the "
                 "bounds)", fontsize=10)
    fig.colorbar(im, ax=ax, label="correlation C_ij / sqrt(C_ii C_jj)")
    return fig


def plot_population(data: RunData) -> Figure:
    """Distribution of the population over generations, per free parameter, as a fraction of
    its bounds (0 = low bound, 1 = high bound, given in each panel's title; log parameters on a
    log scale); line: the CMA-ES mean."""
    title = "Population per generation (0 = low bound, 1 = high bound)"
    free = data.info.free
    if data.results.empty or not free:
        return empty_figure(title, "no evaluation recorded yet" if free
                            else "no free parameters")
    edges, _ybins, hists = population_histograms(data.results, data.info)
    n = len(free)
    ncols = 1 if n <= 4 else (2 if n <= 12 else 4)
    nrows = math.ceil(n / ncols)
    fig = Figure(figsize=(max(7.0, 4.2 * ncols), 1.8 * nrows + 0.6), dpi=DPI,
                 layout="constrained")
    axes = fig.subplots(nrows, ncols, squeeze=False, sharex=True)
    cmap = colormaps["Blues"].with_extremes(bad="white")
    means = None
    g = data.generations
    if not g.empty and "mean" in g.columns:
        m = [r if isinstance(r, list) and len(r) == n else None for r in g["mean"]]
        if all(r is not None for r in m) and m:
            means = (g["generation"].to_numpy(dtype=float), np.asarray(m, dtype=float))
    im = None
    for k, p in enumerate(free):
        ax = axes[k // ncols][k % ncols]
        im = ax.imshow(np.ma.masked_invalid(hists[p.name]), origin="lower", aspect="auto",
                       cmap=cmap, extent=(edges[0], edges[-1], 0, 1), vmin=0, vmax=1,
                       interpolation="nearest")
        if means is not None:
            ax.plot(means[0], means[1][:, k], color="tab:red", lw=1)
        ax.set_ylim(0, 1)
        ax.set_yticks([0, 0.5, 1], ["0", "0.5", "1"], fontsize=7)
        ax.set_title(f"{wrap(p.name, 40)} in [{p.low:.3g}, {p.high:.3g}]"
                     + (" (log)" if p.log else ""), fontsize=8)
        ax.tick_params(axis="x", labelsize=7)
    for k in range(n, nrows * ncols):
        axes[k // ncols][k % ncols].set_visible(False)
    for ax in axes[-1]:
        ax.set_xlabel("generation", fontsize=8)
        _int_axis(ax.xaxis)
    if im is not None:
        fig.colorbar(im, ax=axes, label="fraction of the generation", fraction=0.03)
    fig.suptitle(title + ("; red: CMA-ES mean" if means is not None else ""), fontsize=10)
    return fig


def plot_failures(data: RunData) -> Figure:
    """Failed evaluations per generation, stacked by reason (integer counts)."""
    title = "Failed evaluations per generation, by reason"
    t = failure_table(data.results)
    if t.empty and len(t.index) == 0:
        return empty_figure(title, "no evaluation recorded yet")
    if t.shape[1] == 0:
        return empty_figure(title, f"no failed evaluation (of {len(data.results)})")
    gen = t.index.to_numpy(dtype=float)
    edges, idx = gen_bins(gen, int(gen.max()))
    counts = np.zeros((len(edges) - 1, t.shape[1]))
    np.add.at(counts, idx, t.to_numpy(dtype=float))
    centres, width = (edges[:-1] + edges[1:]) / 2, np.diff(edges)
    fig = Figure(figsize=(7.0, 3.5), dpi=DPI, layout="constrained")
    ax = fig.add_subplot()
    cmap = colormaps["tab20"]
    bottom = np.zeros(len(centres))
    for j in np.argsort(-counts.sum(axis=0), kind="stable"):
        ax.bar(centres, counts[:, j], width=width * 0.9, bottom=bottom, color=cmap(j % 20),
               label=f"{t.columns[j]} ({int(counts[:, j].sum())})")
        bottom += counts[:, j]
    ax.set_xlabel("generation" + (" (binned)" if len(centres) < len(gen) else ""))
    ax.set_ylabel("failed evaluations")
    _int_axis(ax.xaxis)
    _int_axis(ax.yaxis)
    ax.set_title(f"{title} ({int(counts.sum())} of {len(data.results)})", fontsize=10)
    ax.legend(fontsize=8, title="reason", title_fontsize=8)
    ax.grid(alpha=0.3, axis="y")
    return fig


def plot_pareto(data: RunData) -> Figure:
    """The Pareto front over the per-target scores (non-dominated successful evaluations).

    Two targets: every successful evaluation in the plane of their scores, the front joined.
    Three: the same plane coloured by the third score. More: a parallel-coordinates plot of the
    front (score / max_score per target; the best 50 by total drawn, darkest = lowest total),
    with the front's size stated.
    """
    title = "Pareto front over the target scores"
    front, cols, pool = pareto_data(data)
    if not cols or pool == 0 or len(cols) < 2:
        return empty_figure(title, "needs successful evaluations and at least two targets")
    ok = data.results[cols][ok_mask(data.results).to_numpy(dtype=bool, na_value=False)]
    among = f" among the best {PARETO_POOL} by total" if len(ok) > pool else ""
    names = [c[6:] for c in cols]
    if len(cols) <= 3:
        fig = Figure(figsize=(7.0, 5.0), dpi=DPI, layout="constrained")
        ax = fig.add_subplot()
        if len(cols) == 3:
            sc = ax.scatter(ok[cols[0]], ok[cols[1]], s=8, c=ok[cols[2]], cmap="viridis",
                            label="all successful")
        else:
            sc = ax.scatter(ok[cols[0]], ok[cols[1]], s=8, color="0.7", label="all successful")
        f = front.sort_values(cols[0])
        ax.plot(f[cols[0]], f[cols[1]], "o", mfc="none", mec="tab:red", ms=7,
                label=f"front ({len(front)}{among})")
        if len(cols) == 2:
            ax.plot(f[cols[0]], f[cols[1]], "-", color="tab:red", lw=1)
        else:
            fig.colorbar(sc, ax=ax, label=wrap(names[2], 40))
        ax.set_xlabel(wrap(names[0], 50))
        ax.set_ylabel(wrap(names[1], 40))
        ax.legend(fontsize=8)
        ax.set_title(f"{title}: {len(front)} of {len(ok)} successful evaluations", fontsize=10)
    else:
        lines = _lines(names, 18)
        fig = Figure(figsize=(max(7.0, 1.0 + 0.75 * len(cols)), 4.2 + 0.13 * lines), dpi=DPI,
                     layout="constrained")
        ax = fig.add_subplot()
        maxes = np.array([t.max_score for t in data.info.targets if f"score.{t.name}" in cols])
        vals = front[cols].to_numpy(dtype=float) / maxes
        shown = vals[:50]
        cmap = colormaps["viridis"]
        x = np.arange(len(cols))
        for j, row in enumerate(shown):
            ax.plot(x, row, color=cmap(j / max(len(shown) - 1, 1)), lw=1, alpha=0.8)
        ax.set_xticks(x, [wrap(nm, 18) for nm in names], rotation=60, ha="right",
                      rotation_mode="anchor", fontsize=7)
        ax.set_ylabel("score / max_score")
        ax.set_ylim(-0.02, 1.02)
        ax.set_title(f"{title}: {len(front)} evaluations on the front{among}"
                     + (", the best 50 drawn" if len(front) > 50 else "")
                     + "\n(one line per evaluation; darkest = lowest total)", fontsize=10)
    ax.grid(alpha=0.3)
    return fig


#: (file name, heading, what it tells a modeller, function)
def plot_slots(data: RunData) -> Figure:
    """Evaluations running and pending over time (:func:`slot_occupancy`), against the slots.

    The utilisation in the title is the record's: summed ``runtime_s`` over
    ``slots x (last finished_at - first submitted_at)``."""
    title = "Slots busy over time"
    occ = slot_occupancy(data.results)
    if occ.empty:
        return empty_figure(title, "no evaluation with submission and finish times yet")
    scale, unit = (3600.0, "h") if occ["time_s"].iloc[-1] > 3 * 3600 else (
        (60.0, "min") if occ["time_s"].iloc[-1] > 180 else (1.0, "s"))
    t = occ["time_s"].to_numpy() / scale
    fig = Figure(figsize=(7.0, 3.3), dpi=DPI, layout="constrained")
    ax = fig.add_subplot()
    ax.step(t, occ["running"], where="post", color="tab:green", lw=1.2, label="running")
    ax.step(t, occ["pending"], where="post", color="tab:orange", lw=1.0, label="pending")
    slots = data.info.slots
    if slots:
        ax.axhline(slots, color="black", ls="--", lw=0.8, label=f"slots ({slots})")
        u = utilisation(data.results, slots)
        if math.isfinite(u):
            title += f": {u:.0%} of the slots busy"
    ax.set_xlabel(f"time since the first submission ({unit})")
    ax.set_ylabel("evaluations")
    _int_axis(ax.yaxis)
    ax.set_ylim(bottom=0)
    ax.set_title(title, fontsize=10)
    ax.legend(fontsize=8, loc="upper right")
    ax.grid(alpha=0.3)
    return fig


FIGURES: list[tuple[str, str, str, Callable[..., Figure]]] = [
    ("scores.png", "Total score per generation",
     ("Is the search still improving? Best so far (black) should fall; a median far above the "
      "minimum is normal for CMA-ES, a max at the cap means failures."), plot_scores),
    ("sigma.png", "Step size",
     "CMA-ES sigma: shrinking = converging; growing = the mean is still travelling.",
     plot_sigma),
    ("best_scores.png", "Best evaluation: score per target",
     ("Which targets the best parameter set still misses: the longer and redder a bar, the "
      "further from its target (red tick: max_score)."), plot_best_scores),
    ("best_values.png", "Best evaluation: values vs targets",
     "What the model did (black marker) against what it should do (green).", plot_best_values),
    ("correlation.png", "Pearson r: parameters vs target scores",
     ("Which parameters drive which targets: red = the score worsens as the parameter grows, "
      "blue = it improves; blank = undefined (constant column)."), plot_correlation),
    ("covariance.png", "CMA-ES search distribution",
     ("Red/blue off-diagonal entries = parameters the search moves together / against each "
      "other; a small sd = a well-determined parameter."), plot_covariance),
    ("population.png", "Population over generations",
     ("Where the search looks, per parameter, from its low (0) to its high (1) bound; a "
      "population pressed against 0 or 1 wants wider bounds."), plot_population),
    ("failures.png", "Failures by reason",
     "Which failure modes happen, and when.", plot_failures),
    ("pareto.png", "Pareto front",
     ("The trade-offs between targets: no evaluation on the front can improve one target "
      "without worsening another (with optimizer.algorithm: nsga2 this is what is searched)."),
     plot_pareto),
    ("slots.png", "Slots busy over time",
     ("Is the allocation used? Running (green) should stay at the slots line; gaps below it "
      "are slots idle while a generation waits for its slowest job (optimizer.mode: async keeps "
      "them busy); pending (orange) is time in the scheduler's queue."), plot_slots),
]
