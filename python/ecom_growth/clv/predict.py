"""Predicted customer lifetime value over a horizon, and a holdout check of the purchase model.

Both take the per-customer summary the models were fitted on (one row per customer:
customer_id, frequency, recency, T and, for CLV, monetary_value) and return polars frames
ready to be a dbt model.
"""

from __future__ import annotations

import logging
import math

import numpy as np
import polars as pl

from ecom_growth.clv._common import numeric_column, require_columns
from ecom_growth.clv.bgnbd import BGNBDFit, expected_purchases, p_alive
from ecom_growth.clv.gamma_gamma import GammaGammaFit, expected_average_order_value

logger = logging.getLogger(__name__)

DAYS_PER_YEAR = 365.0
DAYS_PER_MONTH = DAYS_PER_YEAR / 12
FIXED_WINDOWS_DAYS = (30, 90, 365)
FREQUENCY_BUCKETS = ("0", "1", "2", "3", "4", "5", "6", "7+")


def _rfm_arrays(
    summary: pl.DataFrame, frequency: str, recency: str, T: str, *, what: str
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    return (
        numeric_column(summary, frequency, what=what),
        numeric_column(summary, recency, what=what),
        numeric_column(summary, T, what=what),
    )


def _distinct_rows(*columns: np.ndarray) -> tuple[list[np.ndarray], np.ndarray]:
    """Distinct rows of the stacked columns and the inverse index back to all rows.

    Predictions depend on (x, t_x, T) only, and day-level summaries repeat those triples a
    lot, so the hypergeometric functions are evaluated once per distinct triple.
    """
    stacked = np.column_stack(columns)
    unique, inverse = np.unique(stacked, axis=0, return_inverse=True)
    return [unique[:, j] for j in range(unique.shape[1])], inverse.reshape(-1)


def _clv_schema(customer_dtype: pl.DataType) -> dict[str, pl.DataType]:
    return {
        "customer_id": customer_dtype,
        "p_alive": pl.Float64,
        "expected_purchases_30d": pl.Float64,
        "expected_purchases_90d": pl.Float64,
        "expected_purchases_365d": pl.Float64,
        "expected_purchases_horizon": pl.Float64,
        "expected_average_order_value": pl.Float64,
        "predicted_clv": pl.Float64,
        "horizon_days": pl.Int64,
    }


def predict_clv(
    summary: pl.DataFrame,
    bgnbd_fit: BGNBDFit,
    gg_fit: GammaGammaFit | None = None,
    *,
    horizon_days: int = 365,
    discount_rate_annual: float = 0.10,
    time_unit_days: float = 1.0,
    step_days: float = DAYS_PER_MONTH,
    profit_margin: float = 1.0,
    population_mean_order_value: float | None = None,
    customer_id: str = "customer_id",
    frequency: str = "frequency",
    recency: str = "recency",
    T: str = "T",
    monetary_value: str = "monetary_value",
) -> pl.DataFrame:
    """Per-customer p_alive, expected purchases and discounted expected value over a horizon.

    Output columns: customer_id (named as the input column ``customer_id``), p_alive,
    expected_purchases_30d, expected_purchases_90d, expected_purchases_365d,
    expected_purchases_horizon, expected_average_order_value, predicted_clv, horizon_days.

    predicted_clv = margin * AOV * sum_{k=1..K} [E(t_k) - E(t_{k-1})] / (1 + d)^(t_k / 365)

    where E(t) is the BG/NBD conditional expected number of purchases in (T, T+t], t_k =
    min(k * step_days, horizon_days) (monthly steps by default, K = ceil(horizon/step)), d the
    annual discount rate and AOV the Gamma-Gamma conditional expected order value. Each
    step's purchases are discounted from the end of the step (slightly conservative), so
    with d = 0 it is exactly margin * AOV * E(horizon). Spend and purchase count are taken as
    independent, as the Gamma-Gamma model assumes.

    The summary's times are in units of ``time_unit_days`` (the unit the BG/NBD fit used);
    the windows are given in days and converted.

    AOV: ``gg_fit`` when given (customers with frequency 0 get the population mean
    p*gamma/(q-1), and their monetary_value may be null). Without ``gg_fit`` (e.g. the
    Gamma-Gamma fit was impossible because nobody has a repeat purchase yet), everybody gets
    ``population_mean_order_value``, which is then required; it is also the fallback for
    frequency-0 customers when the fit has q <= 1 (no finite population mean).

    Empty summary -> empty frame with the output schema.
    """
    what = "predict_clv"
    require_columns(summary, [customer_id, frequency, recency, T], what=what)
    if horizon_days <= 0 or step_days <= 0:
        raise ValueError(f"{what}: horizon_days and step_days must be > 0")
    if time_unit_days <= 0:
        raise ValueError(f"{what}: time_unit_days must be > 0")
    if discount_rate_annual <= -1:
        raise ValueError(f"{what}: discount_rate_annual must be > -1")
    if gg_fit is None and population_mean_order_value is None:
        raise ValueError(f"{what}: pass gg_fit or population_mean_order_value")
    if population_mean_order_value is not None and not (
        math.isfinite(population_mean_order_value) and population_mean_order_value >= 0
    ):
        raise ValueError(f"{what}: population_mean_order_value must be finite and >= 0")
    if gg_fit is not None:
        require_columns(summary, [monetary_value], what=what)
    schema = _clv_schema(summary.schema[customer_id])
    if summary.height == 0:
        return pl.DataFrame(schema=schema)
    ids = summary.get_column(customer_id)
    if ids.null_count():
        raise ValueError(f"{what}: column {customer_id!r} has null values")

    x, t_x, age = _rfm_arrays(summary, frequency, recency, T, what=what)
    (ux, utx, uT), inverse = _distinct_rows(x, t_x, age)

    def purchases_within(days: float) -> np.ndarray:
        return expected_purchases(bgnbd_fit, days / time_unit_days, ux, utx, uT)

    alive = p_alive(bgnbd_fit, ux, utx, uT)
    windows = {days: purchases_within(days) for days in FIXED_WINDOWS_DAYS}
    n_steps = math.ceil(horizon_days / step_days - 1e-9)
    previous = np.zeros_like(ux)
    discounted = np.zeros_like(ux)
    for k in range(1, n_steps + 1):
        t_k = min(k * step_days, float(horizon_days))
        cumulative = purchases_within(t_k)
        discounted += (cumulative - previous) / (1 + discount_rate_annual) ** (t_k / DAYS_PER_YEAR)
        previous = cumulative
    at_horizon = previous

    aov = _average_order_value(summary, x, gg_fit, population_mean_order_value, monetary_value)
    clv = profit_margin * aov * discounted[inverse]
    logger.info("predict_clv: %d customers, %d distinct (x, t_x, T)", len(x), len(ux))
    return pl.DataFrame(
        {
            "customer_id": ids,
            "p_alive": alive[inverse],
            "expected_purchases_30d": windows[30][inverse],
            "expected_purchases_90d": windows[90][inverse],
            "expected_purchases_365d": windows[365][inverse],
            "expected_purchases_horizon": at_horizon[inverse],
            "expected_average_order_value": aov,
            "predicted_clv": clv,
            "horizon_days": np.full(len(x), int(horizon_days), dtype=np.int64),
        },
        schema=schema,
    ).rename({"customer_id": customer_id} if customer_id != "customer_id" else {})


def discounted_days(
    horizon_days: float, discount_rate_annual: float, step_days: float = DAYS_PER_MONTH
) -> float:
    """sum_k (t_k - t_{k-1}) / (1 + d)^(t_k / 365) on the step grid of ``predict_clv``: the
    discounted length of the horizon, so a constant purchase rate r per day yields
    r * discounted_days expected discounted purchases (the fallback's predicted CLV)."""
    if horizon_days <= 0 or step_days <= 0 or discount_rate_annual <= -1:
        raise ValueError("discounted_days: horizon_days and step_days must be > 0, discount_rate_annual > -1")
    n_steps = math.ceil(horizon_days / step_days - 1e-9)
    ends = np.minimum(np.arange(1, n_steps + 1) * step_days, float(horizon_days))
    lengths = np.diff(ends, prepend=0.0)
    return float(np.sum(lengths / (1 + discount_rate_annual) ** (ends / DAYS_PER_YEAR)))


def _average_order_value(
    summary: pl.DataFrame,
    x: np.ndarray,
    gg_fit: GammaGammaFit | None,
    fallback: float | None,
    monetary_value: str,
) -> np.ndarray:
    if gg_fit is None:
        return np.full(len(x), float(fallback))
    money = summary.get_column(monetary_value)
    if not money.dtype.is_numeric():
        raise ValueError(f"predict_clv: column {monetary_value!r} must be numeric")
    m = money.cast(pl.Float64).fill_nan(None).to_numpy()  # nulls become NaN
    bad = (x > 0) & ~(np.isfinite(m) & (m >= 0))
    if np.any(bad):
        raise ValueError(
            f"predict_clv: column {monetary_value!r} must be a number >= 0 for every "
            f"customer with frequency > 0 ({int(bad.sum())} are null or negative)"
        )
    if gg_fit.q > 1:
        return expected_average_order_value(gg_fit, x, m)
    if fallback is None and np.any(x == 0):
        raise ValueError(
            "predict_clv: the Gamma-Gamma fit has q <= 1 (infinite population mean order "
            "value); pass population_mean_order_value for customers with frequency 0"
        )
    aov = np.full(len(x), np.nan if fallback is None else float(fallback))
    repeat = x > 0
    aov[repeat] = expected_average_order_value(gg_fit, x[repeat], m[repeat])
    return aov


def holdout_evaluation(
    calibration_summary: pl.DataFrame,
    holdout_actuals: pl.DataFrame,
    bgnbd_fit: BGNBDFit,
    holdout_days: float,
    *,
    time_unit_days: float = 1.0,
    customer_id: str = "customer_id",
    frequency: str = "frequency",
    recency: str = "recency",
    T: str = "T",
    actual_purchases: str = "holdout_purchases",
) -> pl.DataFrame:
    """Predicted vs actual purchases in a holdout period after the calibration period.

    The classic BG/NBD check (figure 5 of the paper): customers are grouped by their number
    of calibration repeat purchases into buckets "0".."6", "7+", plus an "all" row, and the
    mean and total of actual and predicted holdout purchases are compared.

    ``holdout_actuals`` has one row per customer with the number of purchases in
    (calibration end, calibration end + holdout_days]; customers missing from it made none;
    rows for customers not in the calibration summary (acquired later) are ignored.

    Columns: frequency_bucket, n_customers, actual_purchases_mean, actual_purchases_total,
    predicted_purchases_mean, predicted_purchases_total, error_mean (predicted - actual),
    error_total, relative_error (error_total / actual_total; null when actual_total is 0).
    All nine rows are always present; an empty bucket has n_customers 0, totals 0 and null
    means, so the table shape is stable for dashboards.
    """
    what = "holdout_evaluation"
    require_columns(calibration_summary, [customer_id, frequency, recency, T], what=what)
    require_columns(holdout_actuals, [customer_id, actual_purchases], what=f"{what} (holdout_actuals)")
    if holdout_days < 0 or time_unit_days <= 0:
        raise ValueError(f"{what}: holdout_days must be >= 0 and time_unit_days > 0")
    x, t_x, age = _rfm_arrays(calibration_summary, frequency, recency, T, what=what)
    predicted = expected_purchases(bgnbd_fit, holdout_days / time_unit_days, x, t_x, age)
    return holdout_table(
        calibration_summary, holdout_actuals, predicted,
        customer_id=customer_id, frequency=frequency, actual_purchases=actual_purchases,
    )


def holdout_table(
    calibration_summary: pl.DataFrame,
    holdout_actuals: pl.DataFrame,
    predicted: np.ndarray,
    *,
    customer_id: str = "customer_id",
    frequency: str = "frequency",
    actual_purchases: str = "holdout_purchases",
) -> pl.DataFrame:
    """The bucket table of ``holdout_evaluation`` for any per-customer predicted holdout
    purchases (aligned with ``calibration_summary``'s rows), e.g. a fallback's."""
    what = "holdout_table"
    require_columns(calibration_summary, [customer_id, frequency], what=what)
    require_columns(holdout_actuals, [customer_id, actual_purchases], what=f"{what} (holdout_actuals)")
    for frame, column, label in (
        (calibration_summary, customer_id, "calibration_summary"),
        (holdout_actuals, customer_id, "holdout_actuals"),
    ):
        if frame.get_column(column).null_count():
            raise ValueError(f"{what}: {label} column {column!r} has null values")
        if frame.get_column(column).n_unique() != frame.height:
            raise ValueError(f"{what}: {label} has duplicate {column!r} values")
    actual_values = numeric_column(holdout_actuals, actual_purchases, what=f"{what} (holdout_actuals)")
    if np.any(actual_values < 0):
        raise ValueError(f"{what}: {actual_purchases!r} must be >= 0")

    x = numeric_column(calibration_summary, frequency, what=what)
    if len(predicted) != calibration_summary.height:
        raise ValueError(f"{what}: one prediction per calibration customer is needed")
    actuals = holdout_actuals.select(
        pl.col(customer_id), pl.col(actual_purchases).cast(pl.Float64).alias("_actual")
    )
    per_customer = (
        calibration_summary.select(pl.col(customer_id))
        .with_columns(
            pl.Series("_predicted", predicted),
            pl.Series("_bucket", _frequency_bucket(x)),
        )
        .join(actuals, on=customer_id, how="left", maintain_order="left")
        .with_columns(pl.col("_actual").fill_null(0.0))
    )
    by_bucket = per_customer.group_by("_bucket").agg(
        pl.len().cast(pl.Int64).alias("n_customers"),
        pl.col("_actual").sum().alias("actual_purchases_total"),
        pl.col("_predicted").sum().alias("predicted_purchases_total"),
    )
    overall = per_customer.select(
        pl.lit("all").alias("_bucket"),
        pl.len().cast(pl.Int64).alias("n_customers"),
        pl.col("_actual").sum().alias("actual_purchases_total"),
        pl.col("_predicted").sum().alias("predicted_purchases_total"),
    )
    skeleton = pl.DataFrame({"frequency_bucket": [*FREQUENCY_BUCKETS, "all"]})
    return (
        skeleton.join(
            pl.concat([by_bucket, overall]).rename({"_bucket": "frequency_bucket"}),
            on="frequency_bucket",
            how="left",
            maintain_order="left",
        )
        .with_columns(
            pl.col("n_customers").fill_null(0),
            pl.col("actual_purchases_total").fill_null(0.0),
            pl.col("predicted_purchases_total").fill_null(0.0),
        )
        .with_columns(
            _mean_or_null("actual_purchases_total").alias("actual_purchases_mean"),
            _mean_or_null("predicted_purchases_total").alias("predicted_purchases_mean"),
            (pl.col("predicted_purchases_total") - pl.col("actual_purchases_total")).alias("error_total"),
        )
        .with_columns(
            (pl.col("predicted_purchases_mean") - pl.col("actual_purchases_mean")).alias("error_mean"),
            pl.when(pl.col("actual_purchases_total") > 0)
            .then(pl.col("error_total") / pl.col("actual_purchases_total"))
            .otherwise(None)
            .alias("relative_error"),
        )
        .select(
            "frequency_bucket",
            "n_customers",
            "actual_purchases_mean",
            "actual_purchases_total",
            "predicted_purchases_mean",
            "predicted_purchases_total",
            "error_mean",
            "error_total",
            "relative_error",
        )
    )


def _mean_or_null(total: str) -> pl.Expr:
    return pl.when(pl.col("n_customers") > 0).then(pl.col(total) / pl.col("n_customers")).otherwise(None)


def _frequency_bucket(x: np.ndarray) -> np.ndarray:
    labels = np.array(FREQUENCY_BUCKETS)
    return labels[np.clip(x, 0, 7).astype(np.int64)]
