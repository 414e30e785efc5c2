"""Metrics for churn probabilities on one evaluation snapshot, with bootstrap intervals.

Why these metrics: the probabilities drive risk tiers and expected-churner counts, so models
are SELECTED by a proper scoring rule (log loss; Brier reported beside it); churn lists are
also worked top-down by a CRM team, so ranking quality is reported too (ROC-AUC, PR-AUC,
top-decile precision and lift).

Confidence intervals: percentile bootstrap over the customers of the evaluation snapshot
(each customer appears once in a snapshot, so resampling rows resamples customers), with the
same resamples for every model so differences between models are paired. Weighted versions of
each metric make one resample a vector of counts instead of a copied frame.
"""

from __future__ import annotations

import math

import numpy as np
import polars as pl
from sklearn.metrics import (
    average_precision_score,
    brier_score_loss,
    log_loss,
    precision_recall_curve,
    roc_auc_score,
)

_EPS = 1e-15


def log_loss_score(y_true: np.ndarray, p: np.ndarray) -> float:
    """Mean log loss with probabilities clipped to [1e-15, 1 - 1e-15] (a 0 or 1 forecast that is
    wrong costs a large finite amount instead of infinity)."""
    return float(np.mean(_row_log_loss(np.asarray(y_true, dtype=np.float64), p)))


def _row_log_loss(y: np.ndarray, p: np.ndarray) -> np.ndarray:
    q = np.clip(np.asarray(p, dtype=np.float64), _EPS, 1 - _EPS)
    return -(y * np.log(q) + (1 - y) * np.log1p(-q))


def best_f1_threshold(y_true: np.ndarray, p: np.ndarray) -> float:
    """Probability cut-off that maximises F1 on (y_true, p).

    Chosen on the validation snapshot itself, so the F1 reported at it is optimistic; it is a
    starting point for a campaign cut-off, not a tuned business rule (pass a fixed threshold
    when the business has one). Ties go to the highest threshold (smaller, surer target list).
    """
    precision, recall, thresholds = precision_recall_curve(y_true, p)
    precision, recall = precision[:-1], recall[:-1]
    denom = precision + recall
    f1 = np.divide(2 * precision * recall, denom, out=np.zeros_like(denom), where=denom > 0)
    best = np.flatnonzero(f1 == f1.max())
    return float(thresholds[best[-1]])


def top_decile(y_true: np.ndarray, p: np.ndarray) -> tuple[float, float]:
    """(precision, lift) among the 10% highest-scored customers (at least one).

    Ties in p are broken by row order (stable sort), so the result is deterministic.
    """
    n = len(y_true)
    k = max(1, math.ceil(0.1 * n))
    order = np.argsort(-p, kind="stable")[:k]
    precision = float(np.mean(y_true[order]))
    base = float(np.mean(y_true))
    return precision, (precision / base if base > 0 else float("nan"))


def binary_metrics(
    y_true: np.ndarray,
    p: np.ndarray,
    *,
    base_rate: float,
    threshold: float | None = None,
) -> dict[str, float]:
    """Every metric column of the evaluation table for one model on one validation set.

    ``base_rate`` is the training positive rate: ``brier_score_base_rate`` is the Brier score
    of always predicting it, the forecast to beat. ``threshold`` None means the F1-maximising
    cut-off (:func:`best_f1_threshold`). Requires both classes in ``y_true``.
    """
    y_true = np.asarray(y_true, dtype=np.int64)
    p = np.clip(np.asarray(p, dtype=np.float64), 0.0, 1.0)
    if len(np.unique(y_true)) < 2:
        raise ValueError("metrics need both churned and retained customers in the validation set")
    if threshold is None:
        threshold = best_f1_threshold(y_true, p)
    predicted = p >= threshold
    tp = float(np.sum(predicted & (y_true == 1)))
    n_pred = float(np.sum(predicted))
    n_pos = float(np.sum(y_true == 1))
    precision = tp / n_pred if n_pred > 0 else 0.0
    recall = tp / n_pos
    f1 = 2 * precision * recall / (precision + recall) if precision + recall > 0 else 0.0
    dec_precision, dec_lift = top_decile(y_true, p)
    return {
        "roc_auc": float(roc_auc_score(y_true, p)),
        "pr_auc": float(average_precision_score(y_true, p)),
        "brier_score": float(brier_score_loss(y_true, p)),
        "brier_score_base_rate": float(np.mean((y_true - base_rate) ** 2)),
        "log_loss": float(log_loss(y_true, np.clip(p, _EPS, 1 - _EPS), labels=[0, 1])),
        "top_decile_lift": dec_lift,
        "top_decile_precision": dec_precision,
        "threshold": float(threshold),
        "precision_at_threshold": precision,
        "recall_at_threshold": recall,
        "f1_at_threshold": f1,
    }


def reliability_table(y_true: np.ndarray, p: np.ndarray, *, n_bins: int = 10) -> pl.DataFrame:
    """Reliability (calibration) curve: predicted vs observed churn rate per probability bin.

    Equal-width bins on [0, 1] (bin k holds k/n_bins <= p < (k+1)/n_bins, the last bin
    includes 1); only non-empty bins are returned. A calibrated model has
    ``mean_predicted ~= observed_rate`` in every well-populated bin.
    """
    if n_bins < 1:
        raise ValueError(f"n_bins must be >= 1, got {n_bins}")
    p = np.clip(np.asarray(p, dtype=np.float64), 0.0, 1.0)
    frame = pl.DataFrame({"y": np.asarray(y_true, dtype=np.float64), "p": p})
    return (
        frame.with_columns(
            (pl.col("p") * n_bins).floor().cast(pl.Int64).clip(0, n_bins - 1).alias("bin")
        )
        .group_by("bin")
        .agg(
            pl.len().cast(pl.Int64).alias("n"),
            pl.col("p").mean().alias("mean_predicted"),
            pl.col("y").mean().alias("observed_rate"),
        )
        .with_columns(
            (pl.col("bin") / n_bins).alias("bin_lower"),
            ((pl.col("bin") + 1) / n_bins).alias("bin_upper"),
        )
        .sort("bin")
        .select("bin", "bin_lower", "bin_upper", "n", "mean_predicted", "observed_rate")
    )



# ------------------------------------------------------------------ weighted metrics, bootstrap

def weighted_ranking_metrics(y: np.ndarray, p: np.ndarray, w: np.ndarray, order: np.ndarray | None = None
                             ) -> tuple[np.ndarray, np.ndarray]:
    """(ROC-AUC, average precision) for each ROW of the weight matrix ``w`` (replicates x n).

    Equal to ``sklearn.metrics.roc_auc_score`` / ``average_precision_score`` with
    ``sample_weight=w[b]`` (ties in p count half for the AUC and form one threshold for AP).
    One sort serves both: runs of tied p are summed, the AUC accumulates negatives from the low
    end, average precision accumulates from the high end (the same runs, reversed).
    ``order`` is ``np.argsort(p, kind="stable")`` when the caller has it (one sort per model
    serves every chunk of bootstrap replicates). Replicates are rows so that every cumulative
    sum and reduction runs along contiguous memory (columns were 5x slower at 1M customers).
    """
    order = np.argsort(p, kind="stable") if order is None else order
    sorted_p = p[order]
    starts = np.flatnonzero(np.r_[True, sorted_p[1:] != sorted_p[:-1]])
    neg = w[:, order]
    pos = neg * np.asarray(y, dtype=neg.dtype)[order][None, :]
    neg -= pos
    if len(starts) < len(order):
        pos, neg = np.add.reduceat(pos, starts, axis=1), np.add.reduceat(neg, starts, axis=1)
    n_pos, n_neg = pos.sum(axis=1, dtype=np.float64), neg.sum(axis=1, dtype=np.float64)
    # in place where a buffer is no longer needed (the matrices are replicates x customers);
    # every value is an integer count, exact in float32 below 2**24
    below = np.cumsum(neg, axis=1)
    total_neg = below[:, -1:].copy()
    below -= neg
    work = neg * 0.5
    work += below
    work *= pos
    auc_num = work.sum(axis=1, dtype=np.float64)
    # positives / negatives at or above each threshold, from the same running sums
    ctp = np.cumsum(pos, axis=1, out=work)
    np.subtract(ctp[:, -1:].copy(), ctp, out=ctp)
    ctp += pos
    cfp = np.subtract(total_neg, below, out=below)
    total = np.add(ctp, cfp, out=cfp)
    precision = np.divide(ctp, total, out=ctp, where=total > 0)  # ctp is 0 where total is
    ap_num = np.sum(np.multiply(pos, precision, out=precision)[:, ::-1], axis=1, dtype=np.float64)
    den = n_pos * n_neg
    auc = np.divide(auc_num, den, out=np.full(len(den), np.nan), where=den > 0)
    ap = np.divide(ap_num, n_pos, out=np.full(len(n_pos), np.nan), where=n_pos > 0)
    return auc, ap


METRICS: tuple[str, ...] = ("log_loss", "brier_score", "roc_auc", "pr_auc")
DIFF_METRICS: tuple[str, ...] = ("log_loss", "brier_score")


def _replicate_metrics(y: np.ndarray, p: np.ndarray, w: np.ndarray, w_columns: np.ndarray,
                       order: np.ndarray) -> dict[str, np.ndarray]:
    """``w`` is replicates x n, ``w_columns`` the same counts as a C-ordered n x replicates
    copy: the float32 means are taken as ``v @ w_columns``, whose summation order (and so
    every last bit of the intervals) is the one this table has always had."""
    n = w.sum(axis=1, dtype=np.float64)
    auc, ap = weighted_ranking_metrics(y, p, w, order)
    return {
        "log_loss": _row_log_loss(y, p).astype(w.dtype) @ w_columns / n,
        "brier_score": ((p - y) ** 2).astype(w.dtype) @ w_columns / n,
        "roc_auc": auc,
        "pr_auc": ap,
    }


def bootstrap_metrics(
    y: np.ndarray, predictions: dict[str, np.ndarray], *, n_bootstrap: int, random_state: int,
    chunk: int = 32,
) -> dict[str, dict[str, np.ndarray]]:
    """Bootstrap replicates of :data:`METRICS` for every model, on the SAME resamples.

    Returns model -> metric -> array of ``n_bootstrap`` values. Resample b draws n customers
    with replacement (multinomial counts), seeded by ``random_state``; chunks of replicates
    keep memory at ``chunk x n`` floats. Counts and sums are float32 (half the memory traffic;
    integer counts and their running sums are exact there up to 16.7M rows, and an interval
    does not need more than six significant digits).
    """
    y = np.asarray(y, dtype=np.float64)
    n = len(y)
    rng = np.random.default_rng(random_state)
    out = {m: {k: np.empty(n_bootstrap) for k in METRICS} for m in predictions}
    predictions = {m: np.asarray(p, np.float64) for m, p in predictions.items()}
    orders = {m: np.argsort(p, kind="stable") for m, p in predictions.items()}
    for start in range(0, n_bootstrap, chunk):
        b = min(chunk, n_bootstrap - start)
        w = np.stack([np.bincount(rng.integers(0, n, n), minlength=n) for _ in range(b)]
                     ).astype(np.float32)
        w_columns = np.ascontiguousarray(w.T)
        for model, p in predictions.items():
            for metric, values in _replicate_metrics(y, p, w, w_columns, orders[model]).items():
                out[model][metric][start:start + b] = values
    return out


def percentile_interval(values: np.ndarray, level: float = 0.95) -> tuple[float | None, float | None]:
    """Percentile bootstrap interval, ignoring NaN replicates (a resample with one class)."""
    finite = values[np.isfinite(values)]
    if finite.size == 0:
        return None, None
    tail = (1 - level) / 2 * 100
    lo, hi = np.percentile(finite, [tail, 100 - tail])
    return float(lo), float(hi)
