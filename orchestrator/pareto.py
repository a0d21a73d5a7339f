"""The Pareto front of a run's evaluations over their per-target scores (all minimised).

A score vector ``a`` dominates ``b`` when ``a <= b`` on every target and ``a < b`` on at least
one. The front is the set of successful evaluations no other successful evaluation dominates;
evaluations with identical score vectors do not dominate each other, so all of them are kept.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
import pandas as pd

__all__ = ["non_dominated", "pareto_front"]


def non_dominated(scores: np.ndarray) -> np.ndarray:
    """Boolean mask of the rows of ``scores`` (n x m, minimised) that no other row dominates.

    Rows are visited in order of their sum, so a row can only be dominated by a row visited
    before it (a dominating row has a strictly smaller sum); each row is compared, vectorised,
    with the front found so far: O(n * front size).

    >>> non_dominated(np.array([[0, 1], [1, 0], [1, 1], [0, 1]])).tolist()
    [True, True, False, True]
    """
    s = np.asarray(scores, dtype=float)
    if s.ndim != 2:
        raise ValueError(f"scores must be a 2-D array (n x m), found shape {s.shape}")
    n = s.shape[0]
    mask = np.zeros(n, dtype=bool)
    if n == 0:
        return mask
    order = np.lexsort(s.T[::-1])  # ties in the sum broken lexicographically
    order = order[np.argsort(s[order].sum(axis=1), kind="stable")]
    front = np.empty((0, s.shape[1]))
    for i in order:
        row = s[i]
        if front.shape[0] and np.any(np.all(front <= row, axis=1) & np.any(front < row, axis=1)):
            continue
        mask[i] = True
        front = np.vstack([front, row])
    return mask


def pareto_front(df: pd.DataFrame, score_columns: Sequence[str] | None = None) -> pd.DataFrame:
    """The non-dominated successful evaluations of a results table.

    Parameters
    ----------
    df
        A table from :func:`orchestrator.load_results`.
    score_columns
        The columns to minimise; default: every ``score.<target>`` column.

    Returns
    -------
    DataFrame
        The rows of ``df`` with ``status == "ok"`` on the front, sorted by ``total_score``
        (then generation, individual). Rows with a missing score are left out.
    """
    cols = list(score_columns) if score_columns is not None else [
        c for c in df.columns if str(c).startswith("score.")]
    if df.empty or not cols:
        return df.iloc[0:0]
    ok = df[df["status"] == "ok"]
    ok = ok[np.isfinite(ok[cols].to_numpy(dtype=float)).all(axis=1)]
    front = ok[non_dominated(ok[cols].to_numpy(dtype=float))]
    return front.sort_values(["total_score", "generation", "individual"], kind="stable")
