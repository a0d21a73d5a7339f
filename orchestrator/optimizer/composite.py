"""The composite surrogate (``surrogate: composite``): one model per target's *value*, composed
through the score function simtune knows exactly.

The total score of a point is (``targets.score_array``; the four kinds of ``targets/_base.py``
are one formula over the interval ``[lo_i, hi_i]`` of values that score 0)

.. math::

    T(x) = \\sum_i s_i(v_i(x)), \\qquad
    s_i(v) = \\min\\bigl(M_i,\\ (\\max(lo_i - v, 0) + \\max(v - hi_i, 0)) / n_i\\bigr).

The caps and kinks of :math:`s_i` make :math:`T` a non-smooth black box even where every value
:math:`v_i` is smooth in the parameters. Modelling the values and composing :math:`s_i` exactly
is "Bayesian optimization of composite functions" (Astudillo & Frazier, ICML 2019), here with
cheap regressions instead of Gaussian processes:

* **value models** :math:`\\hat v_i(x) = \\phi(x)^T \\beta_i`: features linear, then with the
  squares, then with every product, as data accumulate (the schedule of pycma's ``LQModel``: a
  richer model once there are ``MIN_RATIO`` x its coefficients of rows); weighted ridge least
  squares on the most recent ``WINDOW`` x coefficients rows where :math:`v_i` is defined. With
  ``repeats`` > 1 a row's weight is :math:`1 / (\\mathrm{std}_i^2 + (\\mathrm{FLOOR}\\,n_i)^2)`
  (the recorded spread over seeds; the floor keeps a zero spread from dominating);
* **feasibility** :math:`p_i(x) = P(v_i \\text{ defined} \\mid x)`: a value is undefined where
  the simulation gave nothing to compute it from (NaN, an infinite value, a missing one), and
  every value of a runaway (explosion, time-out, an early-abort gate) is. A logistic regression
  on the linear features (Newton's method with an L2 penalty), once both labels occur; 1 before.
  Undefined values never enter the value models;
* **prediction**: :math:`\\hat T(x) = \\sum_i p_i \\, s_i(\\hat v_i) + (1 - p_i) M_i`, the expected
  score when an undefined value scores :math:`M_i` (as it does).

Crashes (the job died, the simulator raised) say nothing about the point and are not added.
The model's uses are the lq model's (``orchestrator.optimizer.cma``): its best point within the
search distribution (:meth:`CompositeModel.candidate`) offered to CMA once per batch,
pre-screening, and the imputation of crashes (:meth:`CompositeModel.predict`).
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from targets import score_array, target_distance, target_interval

__all__ = ["CompositeModel", "MIN_RATIO", "WINDOW", "FLOOR"]

#: a model type is used once the rows where the value is defined reach this x its coefficients
MIN_RATIO = 1.2
#: the most recent WINDOW x (coefficients of the model type) rows fit a value model
WINDOW = 3.0
#: the spread floor of the noise weights, as a fraction of the target's norm
FLOOR = 0.1
#: rows kept (the most recent): the value models use a window of them; the feasibility
#: classifier and the optimizer state stay bounded on runs of many thousand evaluations
MAX_ROWS = 5000
#: ridge penalty, relative to the mean diagonal of the weighted normal equations
RIDGE = 1e-8
#: refinement stages of the model's candidate search (each at a quarter of the last scale)
REFINE = 8
#: the least-squares candidate stays within this many standard deviations per coordinate
TRUST = 3.0
#: the logistic regression's L2 penalty on the slopes
LOGIT_L2 = 0.01


def n_coefficients(dim: int, order: str) -> int:
    """Coefficients of the ``linear`` / ``diagonal`` / ``full`` quadratic model in ``dim``."""
    return {"linear": dim + 1, "diagonal": 2 * dim + 1,
            "full": (dim + 1) * (dim + 2) // 2}[order]


def features(Z: np.ndarray, order: str) -> np.ndarray:
    """``[1, z, z**2, z_j z_k (j < k)]`` up to ``order`` for the rows of ``Z`` (centred x)."""
    cols = [np.ones((len(Z), 1)), Z]
    if order != "linear":
        cols.append(Z**2)
    if order == "full":
        j, k = np.triu_indices(Z.shape[1], 1)
        cols.append(Z[:, j] * Z[:, k])
    return np.hstack(cols)


class CompositeModel:
    """Per-target value models and feasibility classifiers, composed into a predicted total.

    Parameters
    ----------
    terms
        One ``(kind, target_value, norm, max_score)`` per target, in the order of the values
        passed to :meth:`add` (``TargetConfig``'s fields).
    dim
        Dimension of the unit cube.
    """

    def __init__(self, terms: Sequence[tuple[str, object, float, float]], dim: int) -> None:
        iv = [target_interval(str(k), t) for k, t, _, _ in terms]  # type: ignore[arg-type]
        self.lo = np.array([a for a, _ in iv], dtype=float)
        self.hi = np.array([b for _, b in iv], dtype=float)
        self.norm = np.array([float(n) for _, _, n, _ in terms])
        self.max_score = np.array([float(m) for _, _, _, m in terms])
        self.dim = int(dim)
        self.X = np.empty((0, self.dim))
        self.V = np.empty((0, len(terms)))
        self.S = np.empty((0, len(terms)))  # std over seeds (NaN: not known)
        self.window, self.min_ratio = WINDOW, MIN_RATIO
        self._fitted: list[tuple[str, np.ndarray, np.ndarray] | None] | None = None
        self._logits: list[tuple[np.ndarray, np.ndarray] | float] | None = None

    @property
    def n_targets(self) -> int:
        return len(self.norm)

    @property
    def size(self) -> int:
        """Rows with at least one defined value."""
        return int(np.isfinite(self.V).any(axis=1).sum())

    @property
    def ready(self) -> bool:
        """Enough rows for a linear model of at least one value."""
        return bool(np.isfinite(self.V).sum(axis=0).max(initial=0) >= self.dim + 2)

    def rank_accuracy(self, X: np.ndarray, totals: np.ndarray) -> float | None:
        """Kendall's tau between the model's predictions for new evaluations (before it learns
        them) and their observed totals; None before the model is ready or with < 3 points."""
        if not self.ready or len(X) < 3:
            return None
        from scipy.stats import kendalltau

        tau = kendalltau(self.predict(np.asarray(X, dtype=float)), totals).statistic
        return None if not np.isfinite(tau) else float(tau)

    def add(self, x: np.ndarray, values: Sequence[float] | None,
            std: Sequence[float] | None = None) -> None:
        """One evaluation that was not a crash: its values (NaN where undefined; ``None`` for a
        runaway, all undefined) and their spread over seeds."""
        k = self.n_targets
        v = np.full(k, np.nan) if values is None else np.asarray(values, dtype=float)
        v = np.where(np.isfinite(v), v, np.nan)
        s = np.full(k, np.nan) if std is None else np.asarray(std, dtype=float)
        self.X = np.vstack([self.X[-MAX_ROWS + 1:], np.asarray(x, dtype=float)[None, :]])
        self.V = np.vstack([self.V[-MAX_ROWS + 1:], v[None, :]])
        self.S = np.vstack([self.S[-MAX_ROWS + 1:], s[None, :]])
        self._fitted = self._logits = None

    # -- fitting ----------------------------------------------------------------------------------
    def _fit_value(self, i: int) -> tuple[str, np.ndarray, np.ndarray] | None:
        rows = np.flatnonzero(np.isfinite(self.V[:, i]))
        m = len(rows)
        if m < self.dim + 2:
            return None
        order = next(o for o in ("full", "diagonal", "linear")
                     if m >= self.min_ratio * n_coefficients(self.dim, o) or o == "linear")
        rows = rows[-int(self.window * n_coefficients(self.dim, order)):]
        X, v = self.X[rows], self.V[rows, i]
        center = X.mean(axis=0)
        F = features(X - center, order)
        std = self.S[rows, i]
        w = np.where(np.isfinite(std), 1.0 / (np.nan_to_num(std) ** 2
                                              + (FLOOR * self.norm[i]) ** 2), 1.0)
        w = w / w.mean()
        A = F.T @ (F * w[:, None])
        A[np.diag_indices_from(A)] += RIDGE * max(float(np.trace(A)) / len(A), 1e-300)
        try:
            beta = np.linalg.solve(A, F.T @ (w * v))
        except np.linalg.LinAlgError:
            beta = np.linalg.lstsq(F * np.sqrt(w)[:, None], np.sqrt(w) * v, rcond=None)[0]
        return order, center, beta

    def _fit_feasible(self, y: np.ndarray) -> tuple[np.ndarray, np.ndarray] | float:
        """P(defined | x) as logistic regression on ``[1, x - mean]``; a constant while only one
        label occurs."""
        if y.all() or not y.any():
            return float(y.all())
        center = self.X.mean(axis=0)
        F = features(self.X - center, "linear")
        beta = np.zeros(F.shape[1])
        pen = np.full(F.shape[1], LOGIT_L2)
        pen[0] = 0.0
        for _ in range(25):  # Newton / IRLS on the penalised log-likelihood
            p = 1.0 / (1.0 + np.exp(-np.clip(F @ beta, -30, 30)))
            g = F.T @ (p - y) + pen * beta
            H = F.T @ (F * (p * (1 - p))[:, None]) + np.diag(pen + 1e-9)
            try:
                step = np.linalg.solve(H, g)
            except np.linalg.LinAlgError:  # degenerate rows: the observed fraction
                return float(y.mean())
            beta -= step
            if np.max(np.abs(step)) < 1e-8:
                break
        return center, beta

    def _fit(self) -> None:
        self._fitted = [self._fit_value(i) for i in range(self.n_targets)]
        defined = np.isfinite(self.V)
        cache: dict[bytes, tuple[np.ndarray, np.ndarray] | float] = {}
        self._logits = []
        for i in range(self.n_targets):
            key = defined[:, i].tobytes()
            if key not in cache:
                cache[key] = self._fit_feasible(defined[:, i].astype(float))
            self._logits.append(cache[key])

    # -- prediction -------------------------------------------------------------------------------
    def values(self, X: np.ndarray) -> np.ndarray:
        """The value models' predictions, shape ``(n, n_targets)`` (NaN: no model yet)."""
        if self._fitted is None:
            self._fit()
        assert self._fitted is not None
        X = np.atleast_2d(np.asarray(X, dtype=float))
        out = np.full((len(X), self.n_targets), np.nan)
        for i, fit in enumerate(self._fitted):
            if fit is not None:
                order, center, beta = fit
                out[:, i] = features(X - center, order) @ beta
        return out

    def feasible(self, X: np.ndarray) -> np.ndarray:
        """P(value i defined | x), shape ``(n, n_targets)``."""
        if self._logits is None:
            self._fit()
        assert self._logits is not None
        X = np.atleast_2d(np.asarray(X, dtype=float))
        out = np.empty((len(X), self.n_targets))
        for i, lg in enumerate(self._logits):
            if isinstance(lg, float):
                out[:, i] = lg
            else:
                center, beta = lg
                eta = np.clip(features(X - center, "linear") @ beta, -30, 30)
                out[:, i] = 1.0 / (1.0 + np.exp(-eta))
        return out

    def predict(self, X: np.ndarray) -> np.ndarray:
        """The expected total :math:`\\hat T` of each row of ``X`` (module docstring)."""
        V = self.values(X)
        S = score_array(np.nan_to_num(V), self.lo, self.hi, self.norm, self.max_score)
        S = np.where(np.isnan(V), self.max_score, S)  # a value without a model: its cap
        P = self.feasible(X)
        return np.asarray((P * S + (1.0 - P) * self.max_score).sum(axis=1), dtype=float)

    def residuals(self, X: np.ndarray) -> np.ndarray:
        """Each modelled target's distance to its interval over its norm, uncapped (NaN-free:
        0 for a value without a model), shape ``(n, n_targets)``."""
        raw = target_distance(self.values(X), self.lo, self.hi)
        return np.nan_to_num(raw / self.norm, nan=0.0, posinf=0.0)

    def candidate(self, mean: np.ndarray, sigma: float, C: np.ndarray,
                  rng: np.random.Generator, n: int = 1000) -> np.ndarray:
        """The model's best point within the search distribution ``N(mean, sigma^2 C)``.

        Two searches, the better by :meth:`predict` wins: ``n`` samples of the distribution
        refined by ``n / 4`` samples around the best so far at a quarter, a sixteenth, ...
        (``REFINE`` stages) of the step -- robust where the composition is kinked or the
        models disagree; and, from the best sample, the least-squares point of the models'
        residuals (:meth:`residuals`, ``scipy.optimize.least_squares`` within the box and
        ``TRUST`` standard deviations of the distribution per coordinate) -- the precise
        minimiser where the targets can all be met (every residual 0 at once)."""
        from scipy.optimize import least_squares

        A = np.linalg.cholesky(np.asarray(C, dtype=float))
        best = np.asarray(mean, dtype=float)
        for scale, m in [(1.0, n)] + [(0.25**k, n // 4) for k in range(1, REFINE + 1)]:
            Z = rng.standard_normal((m, self.dim))
            X = np.clip(best + scale * sigma * Z @ A.T, 0.0, 1.0)
            if scale < 1.0:
                X = np.vstack([best[None, :], X])
            pred = self.predict(X)
            best = X[int(np.argmin(pred))]
        half = TRUST * sigma * np.sqrt(np.diag(np.asarray(C, dtype=float)))
        lo = np.clip(np.asarray(mean) - half, 0.0, 1.0)
        hi = np.clip(np.asarray(mean) + half, 0.0, 1.0)
        start = np.clip(best, lo, hi)
        keep = hi - lo > 1e-12
        if keep.any():
            step = 1e-6 * np.maximum(half[keep], 1e-9)

            def res(z: np.ndarray) -> np.ndarray:
                x = start.copy()
                x[keep] = z
                return self.residuals(x[None, :])[0]

            def jac(z: np.ndarray) -> np.ndarray:  # forward differences in one model call
                Xd = np.repeat(start[None, :], len(z) + 1, axis=0)
                Xd[:, keep] = z
                Xd[1:, np.flatnonzero(keep)] += np.diag(step)
                R = self.residuals(Xd)
                return np.asarray(((R[1:] - R[0]) / step[:, None]).T)

            try:
                sol = least_squares(res, start[keep], jac=jac, bounds=(lo[keep], hi[keep]),
                                    max_nfev=20 * self.dim, x_scale=half[keep])
                x = start.copy()
                x[keep] = sol.x
                if self.predict(x[None, :])[0] < self.predict(best[None, :])[0]:
                    best = x
            except (ValueError, np.linalg.LinAlgError):  # a degenerate model: the sample
                pass
        return best
