"""``simtune report RUN_DIR``: figures and a one-page summary of a run, from what is on disk.

:func:`write_report` writes PNG figures and ``RUN_DIR/report/index.md`` (Markdown that embeds
them). It takes no lock and works on a live run: it reads ``results.jsonl`` and
``generations.jsonl`` (a torn last line is skipped) and adds the ``result.json`` files of the
generation in flight. A run whose evaluations all failed still gets every figure (annotated where
there is nothing to plot).

Every figure is made by a ``plot_*`` function that takes the loaded tables and returns a
:class:`matplotlib.figure.Figure`; the analysis notebook calls the same functions. Figures are
built with the object-oriented API (no :mod:`matplotlib.pyplot`, so no GUI backend, no global
figure registry): saving renders with Agg on a headless node, and a notebook's backend is left
alone. Everything is vectorised; the population plot uses 2-D histograms, so the figures of
10^5 evaluations take ~12 CPU seconds, reading the files about as much
(``benchmarks/bench_report.py``, ``docs/benchmarks.md``).
"""

from __future__ import annotations

import logging
import math
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np
import pandas as pd
from matplotlib import colormaps
from matplotlib.colors import Normalize
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from orchestrator.results import load_results, records_frame

__all__ = [
    "FIGURES",
    "ParamInfo",
    "RunData",
    "RunInfo",
    "TargetInfo",
    "load_run",
    "plot_best_scores",
    "plot_best_values",
    "plot_correlation",
    "plot_covariance",
    "plot_failures",
    "plot_pareto",
    "plot_population",
    "plot_scores",
    "plot_sigma",
    "read_generations",
    "write_report",
]

log = logging.getLogger("simtune")

REPORT_DIR = "report"
#: the Pareto figure's front is computed among this many best evaluations (by total score)
PARETO_POOL = 2000
#: generations are grouped into at most this many bins in the histogram and failure plots
MAX_GEN_BINS = 200
DPI = 100


# -- what the report knows about a run --------------------------------------------------------
@dataclass(frozen=True)
class ParamInfo:
    """One parameter: free ones have bounds (``log``: searched on a log scale)."""

    name: str
    free: bool
    low: float | None = None
    high: float | None = None
    log: bool = False
    integer: bool = False
    kind: str = "free"  # free | constant | derived


@dataclass(frozen=True)
class TargetInfo:
    """One target as configured (``target_value`` is a number or ``(low, high)``)."""

    name: str
    kind: str
    target_value: float | tuple[float, float] | None
    norm: float
    max_score: float


@dataclass(frozen=True)
class RunInfo:
    """A run's name, parameters and targets (from its config, or inferred from its results)."""

    name: str
    params: list[ParamInfo]
    targets: list[TargetInfo]
    from_config: bool = True

    @property
    def free(self) -> list[ParamInfo]:
        return [p for p in self.params if p.free]


@dataclass
class RunData:
    """Everything the figures need: the results table, generation rows and run description."""

    run_dir: Path
    info: RunInfo
    results: pd.DataFrame
    generations: pd.DataFrame
    inflight_generation: int | None = None  # a generation being evaluated right now
    inflight_done: int = 0  # its evaluations that already have a result (included in results)
    inflight_size: int = 0
    state: dict[str, Any] = field(default_factory=dict)


def _info_from_config(run_dir: Path) -> RunInfo:
    from orchestrator.rundir import open_run

    cfg, meta = open_run(run_dir)
    params = []
    for p in cfg.space.params:
        kind = "free" if p.free else ("derived" if p.expr is not None else "constant")
        params.append(ParamInfo(p.name, p.free, p.low, p.high, p.log, p.integer, kind))
    targets = [TargetInfo(t.name, t.kind, t.target_value, t.norm, t.max_score)
               for t in cfg.targets]
    return RunInfo(cfg.name or meta.get("name", run_dir.name), params, targets)


def _info_from_results(run_dir: Path, df: pd.DataFrame) -> RunInfo:
    """Fallback when the config cannot be loaded: bounds = observed range, max = worst score."""
    params = []
    for c in [c for c in df.columns if c.startswith("param.")]:
        x = pd.to_numeric(df[c], errors="coerce").to_numpy(dtype=float)
        x = x[np.isfinite(x)]
        lo, hi = (float(x.min()), float(x.max())) if x.size else (0.0, 1.0)
        free = hi > lo
        params.append(ParamInfo(c[6:], free, lo if free else None, hi if free else None,
                                kind="free" if free else "constant"))
    targets = []
    for c in [c for c in df.columns if c.startswith("score.")]:
        s = df[c].to_numpy(dtype=float)
        m = float(np.nanmax(s)) if np.isfinite(s).any() else 1.0
        targets.append(TargetInfo(c[6:], "unknown", None, 1.0, m if m > 0 else 1.0))
    return RunInfo(run_dir.name, params, targets, from_config=False)


def _inflight_rows(run_dir: Path, df: pd.DataFrame) -> tuple[pd.DataFrame, int | None, int, int]:
    """Add the finished evaluations of the generation in flight (their ``result.json``)."""
    from simtune_core.io import read_json

    path = run_dir / "inflight.json"
    try:
        inflight = read_json(path)
    except (OSError, ValueError):
        return df, None, 0, 0
    g = inflight.get("generation")
    if not isinstance(g, int) or g < 0:
        return df, None, 0, 0
    if len(df) and (df["generation"] == g).any():
        return df, None, 0, 0  # already recorded: the controller is between two writes
    n = len(inflight.get("points") or [])
    rows = []
    for i in range(n):
        try:
            rec = read_json(run_dir / "evals" / f"g{g:04d}" / f"i{i:03d}" / "result.json")
        except (OSError, ValueError):
            continue
        if rec.get("generation") == g and rec.get("individual") == i:
            rows.append(rec)
    if rows:
        extra = records_frame(rows)
        df = extra if df.empty else pd.concat([df, extra], ignore_index=True)
    return df, g, len(rows), n


def read_generations(run_dir: str | os.PathLike[str]) -> pd.DataFrame:
    """``generations.jsonl`` like :func:`orchestrator.load_generations`, but the covariance is
    parsed only for the last generation that has one (the other rows hold ``None``).

    The covariance is most of the file (d^2 numbers a generation); the report needs only the
    last, so the text after the ``"covariance"`` key is kept unparsed until it is needed.
    """
    import json

    key = b', "covariance": '
    rows: list[dict[str, Any]] = []
    last_cov: tuple[int, bytes] | None = None
    try:
        fh = open(Path(run_dir) / "generations.jsonl", "rb")  # noqa: SIM115 - `with fh` below
    except FileNotFoundError:
        return pd.DataFrame()
    with fh:
        for line in fh:
            if not line.endswith(b"\n"):
                break  # torn last line
            pos = line.rfind(key)
            try:
                if pos > 0:
                    row = json.loads(line[:pos] + b"}")
                    cov = line[pos + len(key):].rstrip()[:-1].strip()
                    if not (cov == b"null" or (cov.startswith(b"[") and cov.endswith(b"]"))):
                        raise json.JSONDecodeError("covariance is not the last key", "", 0)
                    row["covariance"] = None
                    if cov.strip() != b"null":
                        last_cov = (len(rows), cov)
                else:
                    row = json.loads(line)
            except json.JSONDecodeError:
                try:
                    row = json.loads(line)
                except json.JSONDecodeError:
                    continue
            rows.append(row)
    if last_cov is not None:
        try:
            rows[last_cov[0]]["covariance"] = json.loads(last_cov[1])
        except json.JSONDecodeError:
            pass
    df = pd.DataFrame.from_records(rows)
    if not df.empty:
        df = df.drop_duplicates("generation", keep="first").sort_values("generation")
    return df.reset_index(drop=True)


def load_run(run_dir: str | os.PathLike[str], include_inflight: bool = True) -> RunData:
    """Read a run (live or finished) for the figures; takes no lock.

    ``include_inflight`` adds the evaluations of the generation in flight that already have a
    ``result.json``.
    """
    run_dir = Path(run_dir)
    df = load_results(run_dir)
    gens = read_generations(run_dir)
    g_in, done, size = None, 0, 0
    if include_inflight:
        df, g_in, done, size = _inflight_rows(run_dir, df)
    try:
        info = _info_from_config(run_dir)
    except Exception as exc:  # noqa: BLE001 - a report must not need the user's modules
        log.warning("report: config of %s not loadable (%s); inferring from results",
                    run_dir, exc)
        info = _info_from_results(run_dir, df)
    for t in info.targets:  # every figure can rely on these columns
        for pre in ("value.", "score."):
            if f"{pre}{t.name}" not in df.columns:
                df[f"{pre}{t.name}"] = np.nan
    for p in info.params:
        if f"param.{p.name}" not in df.columns:
            df[f"param.{p.name}"] = np.nan
    if "total_score" in df.columns:
        df["total_score"] = pd.to_numeric(df["total_score"], errors="coerce")
    state: dict[str, Any] = {}
    try:
        from orchestrator.checkpoint import load_checkpoint

        cp = load_checkpoint(run_dir)
        if cp is not None:
            state = {"finished": bool(cp.finished), "stop_reason": cp.stop_reason,
                     "max_ngen": cp.max_ngen, "next_generation": cp.next_generation}
    except Exception as exc:  # noqa: BLE001 - being replaced right now, or unreadable
        log.warning("report: checkpoint of %s not readable (%s)", run_dir, exc)
    return RunData(run_dir, info, df.reset_index(drop=True), gens, g_in, done, size, state)


# -- helpers ----------------------------------------------------------------------------------
def _ok(df: pd.DataFrame) -> pd.DataFrame:
    return df[df["status"] == "ok"] if len(df) else df


def best_rows(df: pd.DataFrame, k: int = 1) -> pd.DataFrame:
    """The ``k`` successful evaluations with the smallest total score (ties: earliest first)."""
    ok = _ok(df)
    if ok.empty:
        return ok
    ok = ok[np.isfinite(ok["total_score"].to_numpy(dtype=float))]
    return ok.sort_values(["total_score", "generation", "individual"], kind="stable").head(k)


def _note(ax: Any, text: str) -> None:
    ax.text(0.5, 0.5, text, ha="center", va="center", transform=ax.transAxes, fontsize=10,
            color="0.35", wrap=True)
    ax.set_xticks([])
    ax.set_yticks([])


def _empty(title: str, text: str, size: tuple[float, float] = (6.0, 3.0)) -> Figure:
    fig = Figure(figsize=size, dpi=DPI, layout="constrained")
    ax = fig.add_subplot()
    ax.set_title(title)
    _note(ax, text)
    return fig


def _int_x(ax: Any) -> None:
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))


def _short(name: str, n: int = 28) -> str:
    return name if len(name) <= n else name[: n - 1] + "…"


def _gen_bins(gen: np.ndarray, g_max: int) -> tuple[np.ndarray, np.ndarray]:
    """Bin edges over generations 0..g_max (one per generation up to MAX_GEN_BINS) and the
    bin index of each entry of ``gen``."""
    n_gen = g_max + 1
    n_bins = min(n_gen, MAX_GEN_BINS)
    edges = np.linspace(-0.5, g_max + 0.5, n_bins + 1)
    idx = np.clip(np.searchsorted(edges, gen, side="right") - 1, 0, n_bins - 1)
    return edges, idx


def _unit(values: np.ndarray, p: ParamInfo) -> np.ndarray:
    """Physical values -> [0, 1] of the parameter's bounds (log bounds for log parameters)."""
    lo, hi = float(p.low), float(p.high)  # type: ignore[arg-type]
    with np.errstate(divide="ignore", invalid="ignore"):
        if p.log and lo > 0:
            u = (np.log(values) - math.log(lo)) / (math.log(hi) - math.log(lo))
        else:
            u = (values - lo) / (hi - lo)
    return u


# -- figures ------------------------------------------------------------------------------------
def generation_table(df: pd.DataFrame) -> pd.DataFrame:
    """Per generation: min, median, max total score (all evaluations) and best so far (ok)."""
    if df.empty:
        return pd.DataFrame(columns=["min", "median", "max", "best_ok", "best_so_far", "n"])
    g = df.groupby("generation")["total_score"]
    out = pd.DataFrame({"min": g.min(), "median": g.median(), "max": g.max(), "n": g.size()})
    ok = _ok(df)
    out["best_ok"] = ok.groupby("generation")["total_score"].min().reindex(out.index)
    out["best_so_far"] = out["best_ok"].cummin().ffill()
    return out


def plot_scores(data: RunData, log_scale: bool = False) -> Figure:
    """Total score per generation: min, median, max (all evaluations) and best so far."""
    title = "Total score per generation"
    t = generation_table(data.results)
    if t.empty:
        return _empty(title, "no evaluation recorded yet")
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
    _int_x(ax)
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
        return _empty(title, "no generation finished yet")
    fig = Figure(figsize=(7.0, 3.0), dpi=DPI, layout="constrained")
    ax = fig.add_subplot()
    s = pd.to_numeric(g["sigma"], errors="coerce").to_numpy(dtype=float)
    ax.plot(g["generation"], s, marker="." if len(g) < 60 else None, label="sigma (sampling)")
    if "sigma_after" in g.columns:
        ax.plot(g["generation"], pd.to_numeric(g["sigma_after"], errors="coerce"), ls="--",
                lw=0.8, color="0.4", label="sigma after update")
    if np.all(s[np.isfinite(s)] > 0) and np.isfinite(s).any():
        ax.set_yscale("log")
    _int_x(ax)
    ax.set_xlabel("generation")
    ax.set_ylabel("sigma (unit cube)")
    ax.set_title(title)
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3, which="both")
    return fig


def plot_best_scores(data: RunData) -> Figure:
    """The best evaluation's score per target, coloured by score / max_score."""
    title = "Best evaluation: score per target"
    targets = data.info.targets
    best = best_rows(data.results)
    if best.empty or not targets:
        return _empty(title, "no successful evaluation yet")
    row = best.iloc[0]
    names = [t.name for t in targets]
    scores = np.array([row.get(f"score.{n}", np.nan) for n in names], dtype=float)
    maxes = np.array([t.max_score for t in targets], dtype=float)
    frac = np.clip(scores / maxes, 0, 1)
    cmap = colormaps["RdYlGn_r"]
    fig = Figure(figsize=(7.0, 1.2 + 0.28 * len(names)), dpi=DPI, layout="constrained")
    ax = fig.add_subplot()
    y = np.arange(len(names))
    ax.barh(y, np.nan_to_num(scores), color=cmap(np.nan_to_num(frac, nan=1.0)),
            edgecolor="0.3", lw=0.5)
    ax.scatter(maxes, y, marker="|", s=120, color="red", label="max_score", zorder=3)
    for yi, s in zip(y, scores):
        ax.text(s if np.isfinite(s) else 0, yi, f" {s:.3g}", va="center", fontsize=7)
    ax.set_yticks(y, [_short(n) for n in names], fontsize=8)
    ax.invert_yaxis()
    ax.set_xlabel("score (0 = on target)")
    ax.set_title(f"{title} (generation {int(row['generation'])}, individual "
                 f"{int(row['individual'])}, total {row['total_score']:.4g})", fontsize=10)
    fig.colorbar(mappable(cmap), ax=ax, label="score / max_score", fraction=0.05)
    ax.legend(fontsize=7, loc="lower right")
    return fig


def mappable(cmap: Any) -> Any:
    from matplotlib.cm import ScalarMappable

    return ScalarMappable(norm=Normalize(0, 1), cmap=cmap)


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
        return _empty(title, "no successful evaluation yet")
    row = best.iloc[0]
    ok = _ok(data.results)
    n = len(targets)
    ncols = min(3, n)
    nrows = math.ceil(n / ncols)
    fig = Figure(figsize=(3.4 * ncols, 1.25 * nrows + 0.6), dpi=DPI, layout="constrained")
    axes = fig.subplots(nrows, ncols, squeeze=False)
    for k, t in enumerate(targets):
        ax = axes[k // ncols][k % ncols]
        v = float(row.get(f"value.{t.name}", np.nan))
        s = float(row.get(f"score.{t.name}", np.nan))
        zone = _target_zone(t)
        allv = ok[f"value.{t.name}"].to_numpy(dtype=float)
        allv = allv[np.isfinite(allv)]
        pts = [x for x in ([v] + ([z for z in zone if math.isfinite(z)] if zone else []))
               if math.isfinite(x)]
        if allv.size:
            pts += [float(allv.min()), float(allv.max())]
        if not pts:
            ax.set_title(_short(t.name, 34), fontsize=8)
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
        frac = s / t.max_score if t.max_score else np.nan
        colour = colormaps["RdYlGn_r"](np.clip(frac, 0, 1)) if np.isfinite(frac) else "0.5"
        ax.set_title(f"{_short(t.name, 30)}\nvalue {v:.4g}, score {s:.3g}/{t.max_score:g}",
                     fontsize=8, color="black", backgroundcolor=(*colour[:3], 0.25)
                     if isinstance(colour, tuple) else None)
    for k in range(n, nrows * ncols):
        axes[k // ncols][k % ncols].set_visible(False)
    fig.suptitle(f"{title} (green: target; marker: best; grey: all ok evaluations)", fontsize=10)
    return fig


def correlation_matrix(df: pd.DataFrame, info: RunInfo) -> pd.DataFrame:
    """|Pearson r| between each free parameter (rows) and each target score (columns).

    Over every evaluation (failed ones score max_score on every target). A constant column gives
    NaN. Vectorised: one matrix product.
    """
    pnames = [p.name for p in info.free]
    tnames = [t.name for t in info.targets]
    out = pd.DataFrame(np.nan, index=pnames, columns=tnames, dtype=float)
    if df.empty or not pnames or not tnames:
        return out
    X = df[[f"param.{p}" for p in pnames]].apply(pd.to_numeric, errors="coerce").to_numpy(float)
    Y = df[[f"score.{t}" for t in tnames]].to_numpy(dtype=float)
    keep = np.isfinite(X).all(axis=1) & np.isfinite(Y).all(axis=1)
    X, Y = X[keep], Y[keep]
    if X.shape[0] < 2:
        return out
    Xc, Yc = X - X.mean(axis=0), Y - Y.mean(axis=0)
    sx, sy = np.sqrt((Xc**2).sum(axis=0)), np.sqrt((Yc**2).sum(axis=0))
    sx[np.ptp(X, axis=0) == 0] = np.nan  # constant: no correlation defined
    sy[np.ptp(Y, axis=0) == 0] = np.nan
    with np.errstate(divide="ignore", invalid="ignore"):
        r = (Xc.T @ Yc) / np.outer(sx, sy)
    out.loc[:, :] = np.clip(np.abs(r), 0, 1)
    return out


def plot_correlation(data: RunData) -> Figure:
    """Heat map of |Pearson r| between free parameters and target scores (blank: undefined)."""
    title = "|Pearson r|: free parameter vs target score"
    r = correlation_matrix(data.results, data.info)
    if r.empty:
        return _empty(title, "no free parameters or no targets")
    p, t = r.shape
    fig = Figure(figsize=(max(5.0, 1.8 + 0.42 * t), max(3.0, 1.6 + 0.32 * p)), dpi=DPI,
                 layout="constrained")
    ax = fig.add_subplot()
    cmap = colormaps["viridis"].with_extremes(bad="white")
    im = ax.imshow(np.ma.masked_invalid(r.to_numpy()), cmap=cmap, vmin=0, vmax=1,
                   aspect="auto", interpolation="nearest")
    ax.set_xticks(range(t), [_short(c, 24) for c in r.columns], rotation=60, ha="right",
                  fontsize=7)
    ax.set_yticks(range(p), [_short(c, 24) for c in r.index], fontsize=7)
    if p * t <= 200:
        for i in range(p):
            for j in range(t):
                v = r.iat[i, j]
                if np.isfinite(v):
                    ax.text(j, i, f"{v:.2f}", ha="center", va="center", fontsize=6,
                            color="white" if v < 0.6 else "black")
    n = int(len(data.results))
    note = "" if np.isfinite(r.to_numpy()).any() else " — undefined (constant scores)"
    ax.set_title(f"{title}\n({n} evaluations{note})", fontsize=10)
    fig.colorbar(im, ax=ax, label="|r|")
    return fig


def plot_covariance(data: RunData) -> Figure:
    """log10 |C| of the CMA-ES covariance (sigma^2 C, unit cube) at the last generation."""
    title = "CMA-ES covariance, log10 |sigma² C|"
    g = data.generations
    names = [p.name for p in data.info.free]
    cov = None
    gen = None
    if not g.empty and "covariance" in g.columns:
        for _, row in g.iloc[::-1].iterrows():
            c = row["covariance"]
            if isinstance(c, list) and c:
                cov, gen = np.asarray(c, dtype=float), int(row["generation"])
                break
    if cov is None:
        return _empty(title, "no covariance recorded (no generation finished, or too many "
                             "parameters to record it)")
    d = cov.shape[0]
    if len(names) != d:
        names = [f"x{i}" for i in range(d)]
    fig = Figure(figsize=(max(4.5, 1.8 + 0.35 * d), max(3.8, 1.2 + 0.35 * d)), dpi=DPI,
                 layout="constrained")
    ax = fig.add_subplot()
    with np.errstate(divide="ignore"):
        lc = np.log10(np.abs(cov))
    cmap = colormaps["magma"].with_extremes(bad="white")
    im = ax.imshow(np.ma.masked_invalid(lc), cmap=cmap, interpolation="nearest")
    ax.set_xticks(range(d), [_short(n, 20) for n in names], rotation=60, ha="right",
                  fontsize=7)
    ax.set_yticks(range(d), [_short(n, 20) for n in names], fontsize=7)
    ax.set_title(f"{title}\nafter generation {gen}", fontsize=10)
    fig.colorbar(im, ax=ax, label="log10 |C_ij|")
    return fig


def population_histograms(df: pd.DataFrame, info: RunInfo, n_bins: int = 25
                          ) -> tuple[np.ndarray, np.ndarray, dict[str, np.ndarray]]:
    """Per free parameter, a 2-D histogram (value bin x generation bin) of the population,
    each generation bin normalised to fractions; values normalised to the bounds."""
    gen = pd.to_numeric(df["generation"], errors="coerce").to_numpy(dtype=float)
    good = np.isfinite(gen)
    g_max = int(gen[good].max()) if good.any() else 0
    edges, gidx = _gen_bins(gen[good], g_max)
    ybins = np.linspace(0, 1, n_bins + 1)
    out = {}
    for p in info.free:
        x = pd.to_numeric(df[f"param.{p.name}"], errors="coerce").to_numpy(dtype=float)[good]
        u = np.clip(_unit(x, p), 0, 1)
        ok = np.isfinite(u)
        yi = np.clip((u[ok] * n_bins).astype(int), 0, n_bins - 1)
        h = np.zeros((n_bins, len(edges) - 1))
        np.add.at(h, (yi, gidx[ok]), 1)
        with np.errstate(invalid="ignore", divide="ignore"):
            h = h / h.sum(axis=0, keepdims=True)
        out[p.name] = h
    return edges, ybins, out


def plot_population(data: RunData) -> Figure:
    """Distribution of the population over generations, per free parameter, normalised to its
    bounds (0 = low, 1 = high; log parameters on a log scale); line: the CMA-ES mean."""
    title = "Population per generation (normalised to bounds)"
    free = data.info.free
    if data.results.empty or not free:
        return _empty(title, "no evaluation recorded yet" if free else "no free parameters")
    edges, _ybins, hists = population_histograms(data.results, data.info)
    n = len(free)
    ncols = 1 if n <= 4 else (2 if n <= 12 else 4)
    nrows = math.ceil(n / ncols)
    fig = Figure(figsize=(max(7.0, 4.2 * ncols), 1.7 * nrows + 0.6), dpi=DPI, layout="constrained")
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
        h = hists[p.name]
        im = ax.imshow(np.ma.masked_invalid(h), origin="lower", aspect="auto", cmap=cmap,
                       extent=(edges[0], edges[-1], 0, 1), vmin=0, vmax=1,
                       interpolation="nearest")
        if means is not None:
            ax.plot(means[0], means[1][:, k], color="tab:red", lw=1)
        ax.set_ylim(0, 1)
        ax.set_yticks([0, 1], [f"{p.low:.3g}", f"{p.high:.3g}"], fontsize=7)
        ax.set_title(_short(p.name, 40) + (" (log)" if p.log else ""), fontsize=8)
        ax.tick_params(axis="x", labelsize=7)
    for k in range(n, nrows * ncols):
        axes[k // ncols][k % ncols].set_visible(False)
    for ax in axes[-1]:
        ax.set_xlabel("generation", fontsize=8)
        _int_x(ax)
    if im is not None:
        fig.colorbar(im, ax=axes, label="fraction of the generation", fraction=0.03)
    fig.suptitle(title + ("; red: CMA-ES mean" if means is not None else ""), fontsize=10)
    return fig


def failure_table(df: pd.DataFrame) -> pd.DataFrame:
    """Failed evaluations per generation (rows, every generation present) and reason (columns)."""
    if df.empty:
        return pd.DataFrame()
    gens = np.arange(int(df["generation"].min()), int(df["generation"].max()) + 1)
    bad = df[df["status"] != "ok"]
    if bad.empty:
        return pd.DataFrame(index=gens)
    t = pd.crosstab(bad["generation"], bad["reason"].fillna("unknown"))
    return t.reindex(gens, fill_value=0)


def plot_failures(data: RunData) -> Figure:
    """Failed evaluations per generation, stacked by reason."""
    title = "Failed evaluations per generation, by reason"
    t = failure_table(data.results)
    if t.empty and len(t.index) == 0:
        return _empty(title, "no evaluation recorded yet")
    if t.shape[1] == 0:
        return _empty(title, f"no failed evaluation (of {len(data.results)})")
    gen = t.index.to_numpy(dtype=float)
    edges, idx = _gen_bins(gen, int(gen.max()))
    counts = np.zeros((len(edges) - 1, t.shape[1]))
    np.add.at(counts, idx, t.to_numpy(dtype=float))
    centres, width = (edges[:-1] + edges[1:]) / 2, np.diff(edges)
    fig = Figure(figsize=(7.0, 3.5), dpi=DPI, layout="constrained")
    ax = fig.add_subplot()
    cmap = colormaps["tab20"]
    bottom = np.zeros(len(centres))
    order = np.argsort(-counts.sum(axis=0))
    for j in order:
        ax.bar(centres, counts[:, j], width=width * 0.9, bottom=bottom, color=cmap(j % 20),
               label=f"{t.columns[j]} ({int(counts[:, j].sum())})")
        bottom += counts[:, j]
    ax.set_xlabel("generation" + (" (binned)" if len(centres) < len(gen) else ""))
    ax.set_ylabel("failed evaluations")
    _int_x(ax)
    ax.set_title(f"{title} ({int(counts.sum())} of {len(data.results)})", fontsize=10)
    ax.legend(fontsize=8, title="reason", title_fontsize=8)
    ax.grid(alpha=0.3, axis="y")
    return fig


def plot_pareto(data: RunData) -> Figure:
    """The Pareto front over the per-target scores (non-dominated successful evaluations).

    Two targets: every successful evaluation in the plane of their scores, the front joined.
    More: one line per front member across the targets (score / max_score), best total darkest.
    """
    from orchestrator.pareto import pareto_front

    title = "Pareto front over the target scores"
    targets = data.info.targets
    ok = _ok(data.results)
    cols = [f"score.{t.name}" for t in targets if f"score.{t.name}" in ok.columns]
    if ok.empty or len(cols) < 2:
        return _empty(title, "needs successful evaluations and at least two targets")
    # the figure shows trade-offs among good evaluations: the front of the best PARETO_POOL by
    # total (exact and cheap there; over 10^5 evaluations of 31 weakly correlated targets almost
    # every row is non-dominated). `simtune export --pareto` gives the exact front of all.
    pool = ok.nsmallest(PARETO_POOL, "total_score") if len(ok) > PARETO_POOL else ok
    front = pareto_front(pool, cols).sort_values("total_score")
    fig = Figure(figsize=(7.0, 4.0), dpi=DPI, layout="constrained")
    ax = fig.add_subplot()
    if len(cols) == 2:
        ax.scatter(ok[cols[0]], ok[cols[1]], s=6, color="0.7", label="all successful")
        f = front.sort_values(cols[0])
        ax.plot(f[cols[0]], f[cols[1]], "o-", color="tab:red", ms=4,
                label=f"front ({len(front)})")
        ax.set_xlabel(_short(cols[0][6:]))
        ax.set_ylabel(_short(cols[1][6:]))
    else:
        maxes = np.array([t.max_score for t in targets if f"score.{t.name}" in cols])
        vals = front[cols].to_numpy(dtype=float) / maxes
        shown = vals[:50]
        cmap = colormaps["viridis"]
        x = np.arange(len(cols))
        for j, row in enumerate(shown):
            ax.plot(x, row, color=cmap(j / max(len(shown) - 1, 1)), lw=1, alpha=0.8)
        ax.set_xticks(x, [_short(c[6:], 16) for c in cols], rotation=60, ha="right",
                      fontsize=7)
        ax.set_ylabel("score / max_score")
        ax.set_ylim(-0.02, 1.02)
        ax.text(0.01, 0.98, f"{len(front)} on the front" + (", best 50 shown"
                if len(front) > 50 else "") + "; dark = lowest total",
                transform=ax.transAxes, va="top", fontsize=8)
    ax.set_title(title + (f" (among the best {PARETO_POOL} by total)" if len(ok) > PARETO_POOL
                          else ""), fontsize=10)
    ax.grid(alpha=0.3)
    if len(cols) == 2:
        ax.legend(fontsize=8)
    return fig


#: (file name, heading, what it tells a modeller, function)
FIGURES: list[tuple[str, str, str, Callable[..., Figure]]] = [
    ("scores.png", "Total score per generation",
     ("Is the search still improving? Best so far (black) should fall; a median far above the "
      "minimum is normal for CMA-ES, a max at the cap means failures."), plot_scores),
    ("sigma.png", "Step size",
     "CMA-ES sigma: shrinking = converging; growing = the mean is still travelling.",
     plot_sigma),
    ("best_scores.png", "Best evaluation: score per target",
     "Which targets the best parameter set still misses (red bars).", plot_best_scores),
    ("best_values.png", "Best evaluation: values vs targets",
     "What the model did (marker) against what it should do (green).", plot_best_values),
    ("correlation.png", "|Pearson r|: parameters vs target scores",
     "Which parameters drive which targets; blank = undefined (constant column).",
     plot_correlation),
    ("covariance.png", "CMA-ES covariance",
     ("Large off-diagonal entries = coupled parameters; a tiny diagonal entry = a "
      "well-determined parameter."), plot_covariance),
    ("population.png", "Population over generations",
     ("Where the search looks, per parameter; a population pressed against 0 or 1 wants wider "
      "bounds."), plot_population),
    ("failures.png", "Failures by reason",
     "Which failure modes happen, and when.", plot_failures),
    ("pareto.png", "Pareto front",
     ("The trade-offs between targets: no evaluation on the front can improve one target "
      "without worsening another (with optimizer.algorithm: nsga2 this is what is searched)."),
     plot_pareto),
]


def _fmt(v: Any) -> str:
    if isinstance(v, (float, np.floating)):
        return f"{float(v):.6g}"
    return str(v)


def summary_markdown(data: RunData, figures: Sequence[tuple[str, str, str]]) -> str:
    """The text of ``index.md``: summary tables, then each figure with one line on reading it."""
    df, info = data.results, data.info
    n = len(df)
    n_fail = int((df["status"] != "ok").sum()) if n else 0
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
    if n_fail:
        counts = df.loc[df["status"] != "ok", "reason"].fillna("unknown").value_counts()
        lines += ["**Failures by reason**", "", "| reason | evaluations |", "|---|---|"]
        lines += [f"| {k} | {v} |" for k, v in counts.items()]
        lines.append("")
    for fname, heading, caption in figures:
        lines += [f"## {heading}", "", caption, "", f"![{heading}]({fname})", ""]
    return "\n".join(lines)


def write_report(run_dir: str | os.PathLike[str], log_scale: bool = False) -> Path:
    """Write every figure and ``index.md`` into ``RUN_DIR/report/``; returns the index path.

    Parameters
    ----------
    run_dir
        A run directory (live or finished; no lock is taken).
    log_scale
        Symmetric-log score axis in the score plot (a score of 0 stays visible).

    Returns
    -------
    Path
        ``RUN_DIR/report/index.md``.
    """
    run_dir = Path(run_dir)
    if not (run_dir / "run.json").exists() and not (run_dir / "results.jsonl").exists():
        raise FileNotFoundError(f"{run_dir} is not a simtune run directory")
    data = load_run(run_dir)
    out = run_dir / REPORT_DIR
    out.mkdir(exist_ok=True)
    done = []
    for fname, heading, caption, fn in FIGURES:
        try:
            fig = fn(data, log_scale=log_scale) if fn is plot_scores else fn(data)
        except Exception as exc:  # one broken figure must not cost the others
            log.exception("report: %s failed", fname)
            fig = _empty(heading, f"could not draw this figure: {type(exc).__name__}: {exc}")
        tmp = out / (fname + ".tmp")
        fig.savefig(tmp, format="png", dpi=DPI)
        os.replace(tmp, out / fname)
        done.append((fname, heading, caption))
    index = out / "index.md"
    tmp = out / "index.md.tmp"
    tmp.write_text(summary_markdown(data, done), encoding="utf-8")
    os.replace(tmp, index)
    return index
