"""What the report knows about a run, and the reductions its figures plot.

:func:`load_run` reads a run (live or finished; no lock): the results table
(:func:`orchestrator.results.load_results`) plus the ``result.json`` files of the generation in
flight, the generation rows, the run's parameters and targets from its config (inferred from the
results where the config cannot be loaded), the last search covariance and the checkpoint state.
The reductions (:func:`generation_table`, :func:`best_rows`, :func:`correlation_matrix`,
:func:`search_correlation`, :func:`population_histograms`, :func:`failure_table`,
:func:`pareto_data`) are plain tables: the figures draw them, the notebook shows them, and the
tests check them.
"""

from __future__ import annotations

import logging
import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from orchestrator.checkpoint import load_inflight
from orchestrator.results import (
    COVARIANCE_FILE,
    GENERATIONS_FILE,
    iter_jsonl,
    load_results,
    ok_mask,
    records_frame,
)
from simtune_core.io import read_json
from simtune_core.record import RESULT_FILE

__all__ = ["MAX_GEN_BINS", "PARETO_POOL", "ParamInfo", "RunData", "RunInfo", "TargetInfo",
           "aborted_savings", "best_rows", "correlation_matrix", "failure_table", "gen_bins",
           "generation_table",
           "last_covariance", "load_run", "pareto_data", "population_histograms",
           "read_generations", "search_correlation", "slot_occupancy", "unit",
           "utilisation"]

log = logging.getLogger("simtune")

#: the Pareto figure's front is computed among this many best evaluations (by total score)
PARETO_POOL = 2000
#: generations are grouped into at most this many bins in the histogram and failure plots
MAX_GEN_BINS = 200
#: the slot occupancy is sampled at this many instants
OCCUPANCY_POINTS = 600


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
    slots: int | None = None  # executor.max_parallel, else offspring_size (None: not known)

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
    covariance: tuple[int, np.ndarray] | None = None  # (generation, sigma^2 C) of the last one


def _info_from_config(run_dir: Path) -> RunInfo:
    from orchestrator.rundir import open_run

    cfg, meta = open_run(run_dir)
    params = []
    for p in cfg.space.params:
        kind = "free" if p.free else ("derived" if p.expr is not None else "constant")
        params.append(ParamInfo(p.name, p.free, p.low, p.high, p.log, p.integer, kind))
    targets = [TargetInfo(t.name, t.kind, t.target_value, t.norm, t.max_score)
               for t in cfg.targets]
    return RunInfo(cfg.name or meta.get("name", run_dir.name), params, targets,
                   slots=cfg.executor.max_parallel or cfg.optimizer.offspring_size)


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
    try:
        inflight = load_inflight(run_dir)
    except (OSError, ValueError):
        return df, None, 0, 0
    if not isinstance(inflight, dict):
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
            rec = read_json(run_dir / "evals" / f"g{g:04d}" / f"i{i:03d}" / RESULT_FILE)
        except (OSError, ValueError):
            continue
        if rec.get("generation") == g and rec.get("individual") == i:
            rows.append(rec)
    if rows:
        extra = records_frame(rows)
        df = extra if df.empty else pd.concat([df, extra], ignore_index=True)
    return df, g, len(rows), n


def read_generations(run_dir: str | os.PathLike[str]) -> pd.DataFrame:
    """``generations.jsonl`` as a table, one row per generation (a torn last line skipped).

    Rows of runs written before the covariance had its own file carry it as a key; it is dropped
    here (:func:`last_covariance` reads it)."""
    rows = []
    for row in iter_jsonl(Path(run_dir) / GENERATIONS_FILE):
        row.pop("covariance", None)
        rows.append(row)
    df = pd.DataFrame.from_records(rows)
    if not df.empty:
        df = df.drop_duplicates("generation", keep="first").sort_values("generation")
    return df.reset_index(drop=True)


def last_covariance(run_dir: str | os.PathLike[str]) -> tuple[int, np.ndarray] | None:
    """(generation, sigma^2 C) of the last generation whose search covariance was recorded."""
    run_dir = Path(run_dir)
    try:
        data = read_json(run_dir / COVARIANCE_FILE)
        return int(data["generation"]), np.asarray(data["covariance"], dtype=float)
    except FileNotFoundError:
        pass
    except (OSError, ValueError, KeyError, TypeError):
        return None
    last = None  # an older run: the covariance is a key of its generation rows
    for row in iter_jsonl(run_dir / GENERATIONS_FILE):
        cov = row.get("covariance")
        if isinstance(cov, list) and cov:
            last = (int(row["generation"]), np.asarray(cov, dtype=float))
    return last


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
    missing = {}
    for t in info.targets:  # every figure can rely on these columns
        for pre in ("value.", "score."):
            if f"{pre}{t.name}" not in df.columns:
                missing[f"{pre}{t.name}"] = np.nan
    for p in info.params:
        if f"param.{p.name}" not in df.columns:
            missing[f"param.{p.name}"] = np.nan
    if missing:
        df = df.assign(**missing)
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
    return RunData(run_dir, info, df.reset_index(drop=True), gens, g_in, done, size, state,
                   last_covariance(run_dir))


# -- reductions -----------------------------------------------------------------------------
def _ok_array(df: pd.DataFrame) -> np.ndarray:
    """:func:`ok_mask` as a NumPy bool array (a missing status is not ok)."""
    return ok_mask(df).to_numpy(dtype=bool, na_value=False)


def smallest_ok(df: pd.DataFrame, k: int) -> pd.DataFrame:
    """The ok rows with a finite total among the ``k`` smallest totals (ties at the k-th kept),
    in record order. Only those rows are copied: selecting all ok rows of a 10^6-row table
    first copies every column (seconds per call on 135 columns)."""
    if not len(df) or k < 1:
        return df.iloc[:0]
    total = df["total_score"].to_numpy(dtype=float, na_value=np.nan)
    pos = np.flatnonzero(_ok_array(df) & np.isfinite(total))
    if len(pos) > k:
        kth = np.partition(total[pos], k - 1)[k - 1]
        pos = pos[total[pos] <= kth]
    return df.iloc[pos]


def best_rows(df: pd.DataFrame, k: int = 1) -> pd.DataFrame:
    """The ``k`` successful evaluations with the smallest total score (ties: earliest first)."""
    ok = smallest_ok(df, k)
    return ok.sort_values(["total_score", "generation", "individual"], kind="stable").head(k)


def gen_bins(gen: np.ndarray, g_max: int) -> tuple[np.ndarray, np.ndarray]:
    """Bin edges over generations 0..g_max (one per generation up to MAX_GEN_BINS) and the
    bin index of each entry of ``gen``."""
    n_bins = min(g_max + 1, MAX_GEN_BINS)
    edges = np.linspace(-0.5, g_max + 0.5, n_bins + 1)
    idx = np.clip(np.searchsorted(edges, gen, side="right") - 1, 0, n_bins - 1)
    return edges, idx


def unit(values: np.ndarray, p: ParamInfo) -> np.ndarray:
    """Physical values -> [0, 1] of the parameter's bounds (log bounds for log parameters)."""
    lo, hi = float(p.low or 0.0), float(p.high if p.high is not None else 1.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        if p.log and lo > 0:
            return (np.log(values) - math.log(lo)) / (math.log(hi) - math.log(lo))
        return (values - lo) / (hi - lo)


def generation_table(df: pd.DataFrame) -> pd.DataFrame:
    """Per generation: min, median, max total score (all evaluations) and best so far (ok)."""
    if df.empty:
        return pd.DataFrame(columns=["min", "median", "max", "best_ok", "best_so_far", "n"])
    g = df.groupby("generation")["total_score"]
    out = pd.DataFrame({"min": g.min(), "median": g.median(), "max": g.max(), "n": g.size()})
    ok = df[["generation", "total_score"]][_ok_array(df)]  # two columns, not all of them
    out["best_ok"] = ok.groupby("generation")["total_score"].min().reindex(out.index)
    out["best_so_far"] = out["best_ok"].cummin().ffill()
    return out


def correlation_matrix(df: pd.DataFrame, info: RunInfo) -> pd.DataFrame:
    """Signed Pearson r between each free parameter (rows) and each target score (columns).

    Over every evaluation (failed ones score max_score on every target); a constant column gives
    NaN. Vectorised: one matrix product, ``r = Xc^T Yc / (|Xc| |Yc|)``.
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
    out.loc[:, :] = np.clip(r, -1, 1)
    return out


def search_correlation(cov: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The search distribution's correlation matrix ``C_ij / sqrt(C_ii C_jj)`` (signed) and
    its standard deviations ``sqrt(C_ii)`` (unit cube), from a covariance matrix."""
    std = np.sqrt(np.clip(np.diag(cov), 0, None))
    with np.errstate(divide="ignore", invalid="ignore"):
        corr = cov / np.outer(std, std)
    return np.clip(corr, -1, 1), std


def population_histograms(df: pd.DataFrame, info: RunInfo, n_bins: int = 25
                          ) -> tuple[np.ndarray, np.ndarray, dict[str, np.ndarray]]:
    """Per free parameter, a 2-D histogram (value bin x generation bin) of the population,
    each generation bin normalised to fractions; values as fractions of the bounds."""
    gen = pd.to_numeric(df["generation"], errors="coerce").to_numpy(dtype=float)
    good = np.isfinite(gen)
    g_max = int(gen[good].max()) if good.any() else 0
    edges, gidx = gen_bins(gen[good], g_max)
    ybins = np.linspace(0, 1, n_bins + 1)
    out = {}
    n_g = len(edges) - 1
    for p in info.free:
        x = pd.to_numeric(df[f"param.{p.name}"], errors="coerce").to_numpy(dtype=float)[good]
        u = np.clip(unit(x, p), 0, 1)
        ok = np.isfinite(u)
        yi = np.clip((u[ok] * n_bins).astype(int), 0, n_bins - 1)
        h = np.bincount(yi * n_g + gidx[ok], minlength=n_bins * n_g).reshape(n_bins, n_g)
        with np.errstate(invalid="ignore", divide="ignore"):
            out[p.name] = h / h.sum(axis=0, keepdims=True)
    return edges, ybins, out


def failure_table(df: pd.DataFrame) -> pd.DataFrame:
    """Failed evaluations per generation (rows, every generation present) and reason (columns)."""
    if df.empty:
        return pd.DataFrame()
    gens = np.arange(int(df["generation"].min()), int(df["generation"].max()) + 1)
    bad = df[~ok_mask(df)]
    if bad.empty:
        return pd.DataFrame(index=gens)
    t = pd.crosstab(bad["generation"], bad["reason"].fillna("unknown"))
    return t.reindex(gens, fill_value=0)


def pareto_data(data: RunData) -> tuple[pd.DataFrame, list[str], int]:
    """The Pareto front over the per-target scores among the best :data:`PARETO_POOL` successful
    evaluations by total (the exact front of all: ``simtune export --pareto``): the front's rows
    sorted by total, the score columns, and the size of the pool."""
    from orchestrator.pareto import pareto_front

    pool = smallest_ok(data.results, PARETO_POOL)
    cols = [f"score.{t.name}" for t in data.info.targets if f"score.{t.name}" in pool.columns]
    if pool.empty or len(cols) < 2:
        return pool.iloc[:0], cols, 0
    if len(pool) > PARETO_POOL:  # ties at the cut
        pool = pool.nsmallest(PARETO_POOL, "total_score")
    return pareto_front(pool, cols).sort_values("total_score"), cols, len(pool)


def slot_occupancy(df: pd.DataFrame, points: int = OCCUPANCY_POINTS) -> pd.DataFrame:
    """Evaluations pending and running over the run, from the record's time stamps.

    At each of ``points`` instants ``t`` from the first submission to the last result::

        pending(t) = #{submitted_at <= t < started_at}    (a job that never started: until
                                                           its finished_at)
        running(t) = #{started_at <= t < finished_at}

    computed with two sorted arrays and :func:`numpy.searchsorted` per state (``O(n log n)``,
    no Python loop over evaluations). Rows without ``submitted_at`` (older runs) count from
    ``started_at``; rows without ``finished_at`` are left out. Evaluations still in flight
    have no row yet and are not counted.

    Returns
    -------
    pandas.DataFrame
        Columns ``time_s`` (seconds since the first submission), ``pending``, ``running``;
        empty when no row has the stamps.
    """
    cols = ["time_s", "pending", "running"]
    if df.empty or "finished_at" not in df.columns or "started_at" not in df.columns:
        return pd.DataFrame(columns=cols)
    end = pd.to_numeric(df["finished_at"], errors="coerce").to_numpy(dtype=float)
    start = pd.to_numeric(df["started_at"], errors="coerce").to_numpy(dtype=float)
    sub = (pd.to_numeric(df["submitted_at"], errors="coerce").to_numpy(dtype=float)
           if "submitted_at" in df.columns else np.full(len(df), np.nan))
    sub = np.where(np.isfinite(sub), sub, start)
    keep = np.isfinite(end) & np.isfinite(sub)
    if not keep.any():
        return pd.DataFrame(columns=cols)
    end, start, sub = end[keep], start[keep], sub[keep]
    start = np.where(np.isfinite(start), np.clip(start, sub, end), end)  # never started: pending
    t0, t1 = float(sub.min()), float(end.max())
    t = np.linspace(t0, t1, max(points, 2))

    def alive(a: np.ndarray, b: np.ndarray) -> np.ndarray:  # #{a <= t < b}
        return (np.searchsorted(np.sort(a), t, side="right")
                - np.searchsorted(np.sort(b), t, side="right"))

    return pd.DataFrame({"time_s": t - t0, "pending": alive(sub, start),
                         "running": alive(start, end)})


def utilisation(df: pd.DataFrame, slots: int) -> float:
    """The fraction of ``slots`` kept busy: summed ``runtime_s`` over ``slots x`` the span
    from the first submission to the last result (NaN when the span is empty)::

        utilisation = sum(runtime_s) / (slots * (max(finished_at) - min(submitted_at)))
    """
    if df.empty or "submitted_at" not in df.columns:
        return math.nan
    span = float(df["finished_at"].max() - df["submitted_at"].min())
    busy = float(pd.to_numeric(df["runtime_s"], errors="coerce").fillna(0).sum())
    return busy / (slots * span) if span > 0 else math.nan


def aborted_savings(df: pd.DataFrame) -> dict[str, float] | None:
    """How many evaluations a gate aborted and the simulation time that saved, estimated from
    the median run time of the finished (ok) ones (None when nothing was aborted)::

        saved_s = n_aborted * median(runtime_s of ok) - sum(runtime_s of aborted)

    ``saved_s`` is NaN while no evaluation has finished (nothing to compare with)."""
    if df.empty or "reason" not in df.columns:
        return None
    aborted = df["reason"] == "aborted"
    n = int(aborted.sum())
    if not n:
        return None
    runtime = pd.to_numeric(df["runtime_s"], errors="coerce")
    spent = float(runtime[aborted].fillna(0).sum())
    finished = runtime[df["status"] == "ok"].dropna()
    median = float(finished.median()) if len(finished) else math.nan
    return {"aborted": float(n), "runtime_s": spent, "median_ok_runtime_s": median,
            "saved_s": max(n * median - spent, 0.0) if len(finished) else math.nan}
