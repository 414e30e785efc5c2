"""``ml_churn_model_evaluation`` and ``ml_churn_calibration`` from the stored models.

Both read ``ml_churn_model`` (nothing is refitted): each candidate's 'validation' model
predicts the validation snapshot and its 'test' model the test snapshot (see
:mod:`ecom_growth.churn.fit` for the splits). The selection was made on validation log loss;
the test rows are the honest report. Every row also compares the model with the strongest
baseline (the baseline with the lowest validation log loss, the same one on both splits):
the paired bootstrap interval of the difference in log loss and Brier score says whether the
model beats it beyond resampling noise (negative = better than the baseline).

The decision threshold (``threshold``, best F1) is chosen on the validation snapshot and
applied unchanged on the test snapshot, so the test's precision / recall are honest too.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import polars as pl
from threadpoolctl import threadpool_limits

from ecom_growth.churn.ablation import with_text_model_name
from ecom_growth.churn.evaluation import (
    DIFF_METRICS,
    METRICS,
    best_f1_threshold,
    binary_metrics,
    bootstrap_metrics,
    log_loss_score,
    percentile_interval,
    reliability_table,
)
from ecom_growth.churn.features import prepare_features, validate_snapshots
from ecom_growth.churn.models import BASELINES
from ecom_growth.churn.store import load_model

SPLITS: tuple[str, ...] = ("validation", "test")

EVALUATION_SCHEMA: dict[str, pl.DataType] = {
    "model": pl.String,
    "split": pl.String,
    "is_selected": pl.Boolean,
    "is_baseline": pl.Boolean,
    "is_calibrated": pl.Boolean,
    "calibration_method": pl.String,
    **{name: pl.Float64 for m in METRICS for name in (m, f"{m}_ci_lower", f"{m}_ci_upper")},
    "brier_score_base_rate": pl.Float64,
    "top_decile_lift": pl.Float64,
    "top_decile_precision": pl.Float64,
    "threshold": pl.Float64,
    "precision_at_threshold": pl.Float64,
    "recall_at_threshold": pl.Float64,
    "f1_at_threshold": pl.Float64,
    "baseline_model": pl.String,
    **{name: pl.Float64 for m in DIFF_METRICS
       for name in (f"{m}_diff_vs_baseline", f"{m}_diff_ci_lower", f"{m}_diff_ci_upper")},
    "n_bootstrap": pl.Int64,
    "n_train": pl.Int64,
    "n_evaluation": pl.Int64,
    "positive_rate_train": pl.Float64,
    "positive_rate_evaluation": pl.Float64,
    "train_snapshot_dates": pl.String,
    "evaluation_snapshot_date": pl.Date,
    "status": pl.String,
    "status_reason": pl.String,
}
"""Columns of ``ml_churn_model_evaluation``: one row per candidate x split."""

CALIBRATION_SCHEMA: dict[str, pl.DataType] = {
    "model": pl.String,
    "split": pl.String,
    "is_selected": pl.Boolean,
    "bin": pl.Int64,
    "bin_lower": pl.Float64,
    "bin_upper": pl.Float64,
    "n": pl.Int64,
    "mean_predicted": pl.Float64,
    "observed_rate": pl.Float64,
    "evaluation_snapshot_date": pl.Date,
    "status": pl.String,
    "status_reason": pl.String,
}
"""Columns of ``ml_churn_calibration``: reliability bins per candidate x split."""


@dataclass(frozen=True)
class _Prediction:
    model: str
    split: str
    row: dict
    y: np.ndarray
    p: np.ndarray | None


def evaluation_snapshot_dates(model_table: pl.DataFrame) -> list:
    """The snapshot dates the stored validation / test models predict (sorted): the only labelled
    rows ``evaluate_models`` and ``calibration_table`` read, so a caller may load just these."""
    return sorted(model_table.filter(pl.col("role").is_in(SPLITS))
                  .get_column("target_snapshot_date").drop_nulls().unique().to_list())


def snapshot_date_predicate(dates: list) -> str:
    """SQL predicate keeping the rows of ``dates`` (``false`` for none): pushed into the
    warehouse read of int_churn_snapshots / ml_churn_text_features, whose other snapshots
    (a dozen at 1M customers, most of the table) these tables never look at."""
    if not dates:
        return "false"
    return "snapshot_date in (" + ", ".join(f"date '{d.isoformat()}'" for d in dates) + ")"


def stored_predictions(model_table: pl.DataFrame, snapshots: pl.DataFrame, n_threads: int | None
                       ) -> list[_Prediction]:
    """Each stored validation / test model's predictions on its own target snapshot.

    ``n_threads`` caps OpenMP/BLAS threads while predicting (gradient boosting's OpenMP threads
    slow down by an order of magnitude on shared cores).
    """
    with threadpool_limits(limits=n_threads):
        return _stored_predictions(model_table, snapshots)


def _stored_predictions(model_table: pl.DataFrame, snapshots: pl.DataFrame) -> list[_Prediction]:
    table = validate_snapshots(snapshots).filter(~pl.col("is_scoring_snapshot"))
    by_date: dict = {}  # target date -> (labels, features): every model of a split shares them
    out = []
    for row in model_table.filter(pl.col("role").is_in(SPLITS)).sort("role", "model").iter_rows(named=True):
        target = row["target_snapshot_date"]
        if target not in by_date:
            rows = table.filter(pl.col("snapshot_date") == target).sort("customer_id")
            by_date[target] = (rows.get_column("is_churned").cast(pl.Int64).to_numpy(), prepare_features(rows))
        y, features = by_date[target]
        p = None
        if row["estimator"] is not None:
            p = load_model(row["estimator"], row["estimator_sha256"]).predict(features)
        out.append(_Prediction(row["model"], row["role"], row, y, p))
    return out


def _strongest_baseline(model_table: pl.DataFrame) -> str | None:
    candidates = model_table.filter(
        (pl.col("role") == "validation") & pl.col("model").is_in(BASELINES)
        & pl.col("selection_log_loss").is_not_null()
    ).sort("selection_log_loss", maintain_order=True)
    return candidates.get_column("model")[0] if candidates.height else None


def _not_evaluated(model_table: pl.DataFrame) -> pl.DataFrame:
    """Degraded build: one row per stored fallback model, no metrics, its reason."""
    rows = [
        {"model": r["model"], "split": "not_evaluated", "is_selected": r["is_selected"],
         "is_baseline": r["model"] in BASELINES, "is_calibrated": False, "n_train": r["n_train_rows"],
         "status": "degraded",
         "status_reason": r["status_reason"] or "no validation or test split"}
        for r in model_table.iter_rows(named=True)
    ]
    return pl.DataFrame(rows, schema=EVALUATION_SCHEMA)


def evaluate_models(
    model_table: pl.DataFrame, snapshots: pl.DataFrame, *, n_bootstrap: int, random_state: int,
    n_threads: int | None,
) -> pl.DataFrame:
    """``ml_churn_model_evaluation`` (:data:`EVALUATION_SCHEMA`) from ``ml_churn_model``."""
    predictions = stored_predictions(model_table, snapshots, n_threads)
    if not predictions:
        return _not_evaluated(model_table)
    baseline = _strongest_baseline(model_table)
    thresholds: dict[str, float] = {}
    rows = []
    for split in SPLITS:  # validation first: its thresholds are applied on test
        split_preds = [q for q in predictions if q.split == split]
        usable = {q.model: q.p for q in split_preds if q.p is not None}
        y = split_preds[0].y if split_preds else np.zeros(0)
        two_classes = len(np.unique(y)) == 2
        boot = (bootstrap_metrics(y, usable, n_bootstrap=n_bootstrap, random_state=random_state)
                if two_classes and usable else {})
        base_rate = next((float(np.mean(q.p)) for q in split_preds
                          if q.model == "base_rate" and q.p is not None), None)
        baseline_point = ({"log_loss": log_loss_score(y, usable[baseline]),
                           "brier_score": float(np.mean((usable[baseline] - y) ** 2))}
                          if baseline in usable else {})
        for q in split_preds:
            reference, reference_point = baseline, baseline_point
            with_text = with_text_model_name(q.model)
            if with_text in usable:  # the text ablation: compared with the same model WITH text
                reference = with_text
                reference_point = {"log_loss": log_loss_score(y, usable[with_text]),
                                   "brier_score": float(np.mean((usable[with_text] - y) ** 2))}
                if with_text in thresholds:
                    thresholds[q.model] = thresholds[with_text]
            rows.append(_evaluation_row(q, y, boot, reference, reference_point, base_rate,
                                        thresholds, n_bootstrap, two_classes))
    return pl.DataFrame(rows, schema=EVALUATION_SCHEMA)


def _evaluation_row(q: _Prediction, y: np.ndarray, boot: dict, baseline: str | None,
                    baseline_point: dict[str, float], base_rate: float | None,
                    thresholds: dict[str, float], n_bootstrap: int, two_classes: bool) -> dict:
    r = q.row
    row = {
        "model": q.model, "split": q.split, "is_selected": r["is_selected"],
        "is_baseline": q.model in BASELINES,
        "is_calibrated": r["calibration_method"] is not None,
        "calibration_method": r["calibration_method"], "baseline_model": baseline,
        "n_bootstrap": n_bootstrap if boot else 0, "n_train": r["n_train_rows"],
        "n_evaluation": len(y), "positive_rate_train": r["positive_rate_train"],
        "positive_rate_evaluation": float(np.mean(y)) if len(y) else None,
        "train_snapshot_dates": r["train_snapshot_dates"],
        "evaluation_snapshot_date": r["target_snapshot_date"],
        "status": r["status"], "status_reason": r["status_reason"],
    }
    if q.p is None or not two_classes:
        row["status"] = "degraded"
        row["status_reason"] = r["status_reason"] or (
            f"{q.split} snapshot has a single churn class: metrics undefined")
        return row
    threshold = thresholds.get(q.model) if q.split == "test" else None
    if threshold is None:
        threshold = best_f1_threshold(y, q.p)
        thresholds[q.model] = threshold
    metrics = binary_metrics(y, q.p, base_rate=base_rate if base_rate is not None
                             else float(np.mean(y)), threshold=threshold)
    row.update(metrics)
    for m in METRICS:
        row[f"{m}_ci_lower"], row[f"{m}_ci_upper"] = percentile_interval(boot[q.model][m])
    if baseline in boot and baseline_point:
        for m in DIFF_METRICS:
            row[f"{m}_diff_vs_baseline"] = metrics[m] - baseline_point[m]
            diff = boot[q.model][m] - boot[baseline][m]
            row[f"{m}_diff_ci_lower"], row[f"{m}_diff_ci_upper"] = percentile_interval(diff)
    return row


def calibration_table(model_table: pl.DataFrame, snapshots: pl.DataFrame, *, n_bins: int,
                      n_threads: int | None) -> pl.DataFrame:
    """``ml_churn_calibration`` (:data:`CALIBRATION_SCHEMA`): reliability bins per model x split."""
    frames = []
    for q in stored_predictions(model_table, snapshots, n_threads):
        if q.p is None or len(q.y) == 0:
            continue
        table = reliability_table(q.y, q.p, n_bins=n_bins)
        frames.append(table.with_columns(
            pl.lit(q.model).alias("model"), pl.lit(q.split).alias("split"),
            pl.lit(q.row["is_selected"]).alias("is_selected"),
            pl.lit(q.row["target_snapshot_date"], dtype=pl.Date).alias("evaluation_snapshot_date"),
            pl.lit(q.row["status"]).alias("status"),
            pl.lit(q.row["status_reason"], dtype=pl.String).alias("status_reason"),
        ))
    if not frames:
        return pl.DataFrame(schema=CALIBRATION_SCHEMA)
    return pl.concat(frames).select(
        [pl.col(c).cast(t) for c, t in CALIBRATION_SCHEMA.items()]
    ).sort("split", "model", "bin")
