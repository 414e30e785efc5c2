"""Judging uplift targeting on randomised sends: Qini coefficient and uplift at k.

Sends are ranked by a score (highest first). For the top fraction f, with n_t / n_c treated /
control sends and y_t / y_c their converters among them, the Qini curve is
Q(f) = y_t - y_c x n_t / n_c (incremental conversions had only the top f been treated, in
treated-send units). Random targeting gives the straight line f x Q(1). The Qini coefficient is
the mean over a grid of f of (Q(f) - f Q(1)), divided by the treated sends: 0 for random
targeting in expectation, higher when the score puts the persuadable first. Uplift at k is the
treated minus control conversion rate among the top k of sends.
"""

from __future__ import annotations

import numpy as np

GRID = np.linspace(0.01, 1.0, 100)


def ranking(score: np.ndarray) -> np.ndarray:
    """Rows by score, highest first, ties by position (stable): the order every metric here uses."""
    return np.argsort(-score, kind="stable")


def qini_curve(converted: np.ndarray, treated: np.ndarray, score: np.ndarray, grid: np.ndarray = GRID,
               order: np.ndarray | None = None) -> np.ndarray:
    """Q(f) at each fraction of the grid (module docstring); ties broken by position (stable).
    ``order`` is ``ranking(score)`` when the caller already has it."""
    order = ranking(score) if order is None else order
    y, t = converted[order].astype(np.float64), treated[order].astype(np.float64)
    n_t, n_c = np.cumsum(t), np.cumsum(1 - t)
    y_t, y_c = np.cumsum(y * t), np.cumsum(y * (1 - t))
    at = np.maximum(np.ceil(grid * y.size).astype(np.int64) - 1, 0)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(n_c[at] > 0, y_t[at] - y_c[at] * n_t[at] / n_c[at], y_t[at])


def qini_coefficient(converted: np.ndarray, treated: np.ndarray, score: np.ndarray, grid: np.ndarray = GRID,
                     order: np.ndarray | None = None) -> float:
    """Mean gap between the Qini curve and random targeting, per treated send."""
    if converted.size == 0 or treated.sum() == 0:
        return float("nan")
    curve = qini_curve(converted, treated, score, grid, order)
    return float(np.mean(curve - grid * curve[-1]) / treated.sum())


def uplift_at_k(converted: np.ndarray, treated: np.ndarray, score: np.ndarray, k: float,
                order: np.ndarray | None = None) -> float:
    """Treated minus control conversion rate among the top fraction k of sends by score."""
    top = (ranking(score) if order is None else order)[: max(int(np.ceil(k * converted.size)), 1)]
    y, t = converted[top], treated[top].astype(bool)
    if t.sum() == 0 or (~t).sum() == 0:
        return float("nan")
    return float(y[t].mean() - y[~t].mean())
