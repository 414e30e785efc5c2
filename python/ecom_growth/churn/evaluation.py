"""Metrics for churn probabilities on a validation snapshot, and the evaluation table schema.

Why these metrics: churn lists are worked top-down by a CRM team, so ranking quality among the
riskiest matters most (PR-AUC, top-decile precision and lift); probabilities are also used as
numbers (expected churners, budget), so calibration matters too (Brier score against the
base-rate forecast, log loss).
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

EVALUATION_SCHEMA: dict[str, pl.DataType] = {
    "model": pl.String,
    "is_selected": pl.Boolean,
    "is_calibrated": pl.Boolean,
    "roc_auc": pl.Float64,
    "pr_auc": pl.Float64,
    "brier_score": pl.Float64,
    "brier_score_base_rate": pl.Float64,
    "log_loss": pl.Float64,
    "top_decile_lift": pl.Float64,
    "top_decile_precision": pl.Float64,
    "threshold": pl.Float64,
    "precision_at_threshold": pl.Float64,
    "recall_at_threshold": pl.Float64,
    "f1_at_threshold": pl.Float64,
    "n_train": pl.Int64,
    "n_validation": pl.Int64,
    "positive_rate_train": pl.Float64,
    "positive_rate_validation": pl.Float64,
    "train_snapshot_dates": pl.String,
    "validation_snapshot_date": pl.Date,
}
"""Columns of ``ml_churn_model_evaluation``, one row per candidate model (baseline included).

``train_snapshot_dates`` is a comma-separated list of ISO dates (a plain string, so any BI tool
reads it). The ``*_at_threshold`` metrics use ``threshold``: predict churn when
``churn_probability >= threshold``.
"""

_EPS = 1e-15


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
        .select("bin_lower", "bin_upper", "n", "mean_predicted", "observed_rate")
    )


def empty_evaluation() -> pl.DataFrame:
    """The evaluation table with no rows (and the right schema)."""
    return pl.DataFrame(schema=EVALUATION_SCHEMA)
