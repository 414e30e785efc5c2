"""Per-customer (frequency, recency, T, monetary_value) summary from order-level data.

The dbt project computes the same summary in SQL; this is the reference implementation the
tests (and a SQL unit test) can be compared with, and the convenient path for notebooks.
"""

from __future__ import annotations

import datetime as dt

import polars as pl

from ecom_growth.clv._common import require_columns

SECONDS_PER_DAY = 86_400.0


def _as_day_number(value: dt.date | dt.datetime, *, merge_same_day: bool) -> float:
    """Days since 1970-01-01: whole days when merging by calendar date, fractional otherwise."""
    if isinstance(value, dt.datetime):
        if merge_same_day:
            return float((value.date() - dt.date(1970, 1, 1)).days)
        epoch = dt.datetime(1970, 1, 1, tzinfo=None if value.tzinfo is None else dt.UTC)
        return (value - epoch).total_seconds() / SECONDS_PER_DAY
    if isinstance(value, dt.date):
        return float((value - dt.date(1970, 1, 1)).days)
    raise ValueError(f"expected a date or datetime, got {type(value).__name__}")


def _day_number_expr(column: str, dtype: pl.DataType, *, merge_same_day: bool) -> pl.Expr:
    col = pl.col(column)
    if dtype == pl.Date:
        return col.cast(pl.Int64).cast(pl.Float64)
    if isinstance(dtype, pl.Datetime):
        if merge_same_day:
            return col.dt.date().cast(pl.Int64).cast(pl.Float64)
        return col.dt.epoch("us").cast(pl.Float64) / (SECONDS_PER_DAY * 1e6)
    raise ValueError(f"customer_summary: column {column!r} must be a date or datetime, got {dtype}")


def customer_summary(
    transactions: pl.DataFrame,
    *,
    calibration_end: dt.date | dt.datetime,
    holdout_end: dt.date | dt.datetime | None = None,
    customer_id: str = "customer_id",
    ordered_at: str = "ordered_at",
    order_value: str = "order_total",
    time_unit_days: float = 1.0,
    merge_same_day: bool = True,
) -> pl.DataFrame:
    """BG/NBD / Gamma-Gamma inputs from one row per purchase (e.g. completed orders).

    Returns customer_id, frequency (repeat purchases up to ``calibration_end``), recency
    (first to last purchase), T (first purchase to ``calibration_end``), monetary_value
    (mean value of the repeat purchases; null when frequency = 0), and with ``holdout_end``
    also holdout_purchases and holdout_revenue: purchases in (calibration_end, holdout_end].
    Times are in units of ``time_unit_days`` (1 = days, 7 = weeks).

    ``merge_same_day=True`` counts all purchases on one calendar date as one purchase with
    the summed value and measures time in whole days (as in the CDNOW analyses: a second
    order minutes after the first is usually a forgotten item, not a new purchase
    occasion); False keeps every row and uses exact timestamps.

    Only customers with a purchase on or before ``calibration_end`` appear; later first
    purchases belong to customers not yet acquired at the cutoff.
    """
    what = "customer_summary"
    require_columns(transactions, [customer_id, ordered_at, order_value], what=what)
    if time_unit_days <= 0:
        raise ValueError(f"{what}: time_unit_days must be > 0")
    for column in (customer_id, ordered_at, order_value):
        nulls = transactions.get_column(column).null_count()
        if nulls:
            raise ValueError(f"{what}: column {column!r} has {nulls} null value(s)")
    if not transactions.schema[order_value].is_numeric():
        raise ValueError(f"{what}: column {order_value!r} must be numeric")
    cutoff = _as_day_number(calibration_end, merge_same_day=merge_same_day)
    end = None if holdout_end is None else _as_day_number(holdout_end, merge_same_day=merge_same_day)
    if end is not None and end < cutoff:
        raise ValueError(f"{what}: holdout_end is before calibration_end")

    purchases = transactions.select(
        pl.col(customer_id).alias("_customer"),
        _day_number_expr(ordered_at, transactions.schema[ordered_at], merge_same_day=merge_same_day).alias("_day"),
        pl.col(order_value).cast(pl.Float64).alias("_value"),
    )
    if merge_same_day:
        purchases = purchases.group_by("_customer", "_day").agg(pl.col("_value").sum())

    calibration = (
        purchases.filter(pl.col("_day") <= cutoff)
        .sort("_customer", "_day", "_value")
        .group_by("_customer", maintain_order=True)
        .agg(
            pl.len().alias("_n"),
            pl.col("_day").first().alias("_first"),
            pl.col("_day").last().alias("_last"),
            pl.col("_value").first().alias("_first_value"),
            pl.col("_value").sum().alias("_total"),
        )
    )
    summary = calibration.select(
        pl.col("_customer").alias(customer_id),
        (pl.col("_n") - 1).cast(pl.Int64).alias("frequency"),
        ((pl.col("_last") - pl.col("_first")) / time_unit_days).alias("recency"),
        ((cutoff - pl.col("_first")) / time_unit_days).alias("T"),
        pl.when(pl.col("_n") > 1)
        .then((pl.col("_total") - pl.col("_first_value")) / (pl.col("_n") - 1))
        .otherwise(None)
        .alias("monetary_value"),
    )
    if end is not None:
        holdout = (
            purchases.filter((pl.col("_day") > cutoff) & (pl.col("_day") <= end))
            .group_by("_customer")
            .agg(pl.len().cast(pl.Int64).alias("holdout_purchases"), pl.col("_value").sum().alias("holdout_revenue"))
            .rename({"_customer": customer_id})
        )
        summary = summary.join(holdout, on=customer_id, how="left").with_columns(
            pl.col("holdout_purchases").fill_null(0),
            pl.col("holdout_revenue").fill_null(0.0),
        )
    return summary.sort(customer_id)
