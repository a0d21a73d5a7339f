"""Pareto fronts of evaluation tables (for export and reports)."""

from __future__ import annotations

from typing import Sequence

import numpy as np
import pandas as pd

__all__ = ["pareto_front", "non_dominated_mask"]


def non_dominated_mask(F: np.ndarray) -> np.ndarray:
    """Boolean mask of the rows of ``F`` (n x k, minimised) no other row dominates.

    A row dominates another when it is no worse in every column and better in one. Rows with a
    non-finite value are never on the front. Duplicated rows are all kept.
    """
    F = np.asarray(F, dtype=float)
    if F.ndim != 2:
        raise ValueError("F must be 2-D (rows x objectives)")
    ok = np.all(np.isfinite(F), axis=1)
    mask = np.zeros(F.shape[0], dtype=bool)
    idx = np.flatnonzero(ok)
    # a row that dominates another has a strictly smaller sum: visiting rows by increasing sum,
    # only rows already on the front can dominate the next one (O(n * front size), not O(n^2))
    order = idx[np.argsort(F[idx].sum(axis=1), kind="stable")]
    front = np.empty((max(len(order), 1), F.shape[1]))
    n = 0
    for i in order:
        row = F[i]
        f = front[:n]
        if n and np.any(np.all(f <= row, axis=1) & np.any(f < row, axis=1)):
            continue
        mask[i] = True
        front[n] = row
        n += 1
    return mask


def pareto_front(df: pd.DataFrame, score_columns: Sequence[str]) -> pd.DataFrame:
    """The rows of ``df`` on the first non-dominated front of ``score_columns`` (all minimised,
    e.g. the per-target scores). Rows with a missing/non-finite score are excluded. Returns a
    view-like copy of those rows (all columns, original index and order)."""
    cols = list(score_columns)
    if df.empty:
        return df.copy()
    F = df[cols].to_numpy(dtype=float)
    return df.loc[non_dominated_mask(F)].copy()
