"""Holdout metrics of a per-customer prediction: purchase counts AND value.

Input: one row per calibration customer with predicted and actual holdout purchases and value
(``predicted_purchases``, ``actual_purchases``, ``predicted_value``, ``actual_value``). Output
rows per group with: counts and totals, purchases MAE, value MAE, Spearman rank correlation
of predicted vs actual value, and the share of the actual value captured by the top 20% of
customers by predicted value. Ties in the predicted value are broken by customer_id, so the
top 20% and the deciles are the same set on every run.
"""

from __future__ import annotations

import numpy as np
import polars as pl

TOP_SHARE = 0.2
N_DECILES = 10

METRIC_SCHEMA: dict[str, pl.DataType] = {
    "n_customers": pl.Int64,
    "actual_purchases_mean": pl.Float64,
    "actual_purchases_total": pl.Float64,
    "predicted_purchases_mean": pl.Float64,
    "predicted_purchases_total": pl.Float64,
    "error_mean": pl.Float64,
    "error_total": pl.Float64,
    "relative_error": pl.Float64,
    "purchases_mae": pl.Float64,
    "actual_revenue_mean": pl.Float64,
    "actual_revenue_total": pl.Float64,
    "predicted_revenue_mean": pl.Float64,
    "predicted_revenue_total": pl.Float64,
    "revenue_relative_error": pl.Float64,
    "revenue_mae": pl.Float64,
    "revenue_spearman": pl.Float64,
    "top20_revenue_capture": pl.Float64,
}


def _mean(total: str) -> pl.Expr:
    return pl.when(pl.col("n_customers") > 0).then(pl.col(total) / pl.col("n_customers")).otherwise(None)


def _ratio(numerator: pl.Expr, denominator: str) -> pl.Expr:
    return pl.when(pl.col(denominator) > 0).then(numerator / pl.col(denominator)).otherwise(None)


def group_metrics(per_customer: pl.DataFrame, group: str) -> pl.DataFrame:
    """Metrics per value of ``group`` (one row per group present in ``per_customer``)."""
    ranked = per_customer.sort("predicted_value", "customer_id", descending=[True, False]).with_columns(
        pl.int_range(1, pl.len() + 1).over(group).alias("_position"),
        pl.len().over(group).alias("_n"),
        pl.col("predicted_value").rank("average").over(group).alias("_rank_predicted"),
        pl.col("actual_value").rank("average").over(group).alias("_rank_actual"),
    )
    top = pl.col("_position") <= (pl.col("_n") * TOP_SHARE).ceil()
    table = ranked.group_by(group).agg(
        pl.len().cast(pl.Int64).alias("n_customers"),
        pl.col("actual_purchases").sum().cast(pl.Float64).alias("actual_purchases_total"),
        pl.col("predicted_purchases").sum().alias("predicted_purchases_total"),
        (pl.col("predicted_purchases") - pl.col("actual_purchases")).abs().mean().alias("purchases_mae"),
        pl.col("actual_value").sum().alias("actual_revenue_total"),
        pl.col("predicted_value").sum().alias("predicted_revenue_total"),
        (pl.col("predicted_value") - pl.col("actual_value")).abs().mean().alias("revenue_mae"),
        pl.corr("_rank_predicted", "_rank_actual").alias("revenue_spearman"),
        pl.col("actual_value").filter(top).sum().alias("_top_actual"),
    )
    return table.with_columns(
        _mean("actual_purchases_total").alias("actual_purchases_mean"),
        _mean("predicted_purchases_total").alias("predicted_purchases_mean"),
        (pl.col("predicted_purchases_total") - pl.col("actual_purchases_total")).alias("error_total"),
        _mean("actual_revenue_total").alias("actual_revenue_mean"),
        _mean("predicted_revenue_total").alias("predicted_revenue_mean"),
        _ratio(pl.col("predicted_revenue_total") - pl.col("actual_revenue_total"), "actual_revenue_total").alias("revenue_relative_error"),
        _ratio(pl.col("_top_actual"), "actual_revenue_total").alias("top20_revenue_capture"),
        # A constant ranking has no rank correlation (polars gives NaN): null.
        pl.col("revenue_spearman").fill_nan(None),
    ).with_columns(
        (pl.col("predicted_purchases_mean") - pl.col("actual_purchases_mean")).alias("error_mean"),
        _ratio(pl.col("error_total"), "actual_purchases_total").alias("relative_error"),
    ).select(group, *METRIC_SCHEMA)


def value_decile(predicted_value: pl.Series, customer_id: pl.Series) -> pl.Series:
    """Decile 1 (highest predicted value) .. 10, equal-count by position (ties by customer_id)."""
    frame = pl.DataFrame({"v": predicted_value, "c": customer_id}).with_row_index("_row")
    ordered = frame.sort("v", "c", descending=[True, False]).with_row_index("_position")
    n = max(frame.height, 1)
    ordered = ordered.with_columns((pl.col("_position") * N_DECILES // n + 1).cast(pl.Int64).alias("decile"))
    return ordered.sort("_row").get_column("decile")


def spearman(a: np.ndarray, b: np.ndarray) -> float:
    """Spearman rank correlation with average ranks (reference for the tests and the selection)."""
    frame = pl.DataFrame({"a": a, "b": b}).with_columns(pl.col("a").rank("average"), pl.col("b").rank("average"))
    value = frame.select(pl.corr("a", "b")).item()
    return float("nan") if value is None else float(value)
