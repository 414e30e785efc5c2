"""What the dbt CLV models call: fit once, store the parameters, score and check from them.

The warehouse computes one row per customer (``int_clv_customer_summary``: customer_id,
frequency, recency_days, t_days, monetary_value, average_order_value; completed orders up to
as_of) and the same up to as_of - holdout (``int_clv_calibration_summary``, plus
holdout_purchases and holdout_days). Times there are fractional DAYS; the models work in
units of ``time_unit_days`` (var clv_time_unit_days), converted here and nowhere else.

* ``fit_clv_models``        summary -> long parameter table (ml_clv_model_parameters)
* ``fits_from_parameters``  parameter table -> fitted model objects (no second fit)
* ``score_clv``             summary + parameter table -> per-customer predictions
* ``evaluate_clv_holdout``  calibration summary -> predicted vs actual holdout purchases

Degenerate populations never crash a build:

* no customers: every function returns an empty frame with its schema;
* nobody made a repeat purchase: neither model is identified (the BG/NBD likelihood keeps
  rising as the purchase rate goes to 0, Gamma-Gamma has no repeat spend to learn from), so
  the parameter table is empty and scoring uses the limit the BG/NBD fit tends to:
  p_alive = 1 (exact for frequency 0 under any parameters), 0 expected purchases, so
  predicted_clv = 0; expected_average_order_value is the population mean order value;
* repeat buyers but none with positive repeat spend: BG/NBD rows only; every customer's
  expected_average_order_value is the population mean order value (all completed orders'
  revenue / their number), which is also the fallback for one-time buyers when the
  Gamma-Gamma fit has q <= 1 (no finite population mean).
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import NamedTuple

import numpy as np
import polars as pl

from ecom_growth.clv._common import FIT_FRAME_SCHEMA, numeric_column, require_columns
from ecom_growth.clv.bgnbd import PARAMETER_NAMES as BGNBD_PARAMETERS
from ecom_growth.clv.bgnbd import BGNBDFit, fit_bgnbd
from ecom_growth.clv.gamma_gamma import PARAMETER_NAMES as GAMMA_GAMMA_PARAMETERS
from ecom_growth.clv.gamma_gamma import GammaGammaFit, fit_gamma_gamma
from ecom_growth.clv.predict import FREQUENCY_BUCKETS, holdout_evaluation, predict_clv

logger = logging.getLogger(__name__)

SUMMARY_COLUMNS = ("customer_id", "frequency", "recency_days", "t_days", "monetary_value", "average_order_value")
CALIBRATION_COLUMNS = (*SUMMARY_COLUMNS, "holdout_purchases", "holdout_days")
MODEL_PARAMETERS = {"bgnbd": BGNBD_PARAMETERS, "gamma_gamma": GAMMA_GAMMA_PARAMETERS}

PARAMETERS_SCHEMA: dict[str, pl.DataType] = {
    **FIT_FRAME_SCHEMA,
    "frequency_monetary_correlation": pl.Float64,
    "time_unit_days": pl.Float64,
    "as_of": pl.Datetime("us"),
}

PREDICTIONS_SCHEMA: dict[str, pl.DataType] = {
    "customer_id": pl.String,
    "p_alive": pl.Float64,
    "expected_purchases_30d": pl.Float64,
    "expected_purchases_90d": pl.Float64,
    "expected_purchases_365d": pl.Float64,
    "expected_purchases_horizon": pl.Float64,
    "expected_average_order_value": pl.Float64,
    "predicted_clv": pl.Float64,
    "horizon_days": pl.Int64,
    "as_of": pl.Datetime("us"),
}

EVALUATION_SCHEMA: dict[str, pl.DataType] = {
    "frequency_bucket": pl.String,
    "n_customers": pl.Int64,
    "actual_purchases_mean": pl.Float64,
    "actual_purchases_total": pl.Float64,
    "predicted_purchases_mean": pl.Float64,
    "predicted_purchases_total": pl.Float64,
    "error_mean": pl.Float64,
    "error_total": pl.Float64,
    "relative_error": pl.Float64,
    "holdout_days": pl.Float64,
    "calibration_end_at": pl.Datetime("us"),
    "calibration_r": pl.Float64,
    "calibration_alpha": pl.Float64,
    "calibration_a": pl.Float64,
    "calibration_b": pl.Float64,
    "calibration_converged": pl.Boolean,
    "time_unit_days": pl.Float64,
    "as_of": pl.Datetime("us"),
}


class ClvFits(NamedTuple):
    """Fitted models rebuilt from the parameter table; None where a model is absent."""

    bgnbd: BGNBDFit | None
    gamma_gamma: GammaGammaFit | None
    time_unit_days: float | None


def _model_inputs(
    summary: pl.DataFrame, time_unit_days: float, *, what: str, columns: tuple[str, ...] = SUMMARY_COLUMNS
) -> pl.DataFrame:
    """The library's (frequency, recency, T) in model time units, from the SQL summary in days."""
    require_columns(summary, list(columns), what=what)
    if not (np.isfinite(time_unit_days) and time_unit_days > 0):
        raise ValueError(f"{what}: time_unit_days must be a number > 0, got {time_unit_days!r}")
    # Sorted by customer so sums run in one order whatever order the warehouse returned rows
    # in: the same data then gives bit-identical fits.
    return summary.sort("customer_id").with_columns(
        pl.col("frequency").cast(pl.Int64),
        (pl.col("recency_days").cast(pl.Float64) / time_unit_days).alias("recency"),
        (pl.col("t_days").cast(pl.Float64) / time_unit_days).alias("T"),
        pl.col("monetary_value").cast(pl.Float64),
        pl.col("average_order_value").cast(pl.Float64),
    )


def _can_fit_gamma_gamma(inputs: pl.DataFrame) -> bool:
    return inputs.filter((pl.col("frequency") > 0) & (pl.col("monetary_value") > 0)).height > 0


def _has_repeat_purchase(inputs: pl.DataFrame) -> bool:
    return inputs.height > 0 and int(inputs.get_column("frequency").max()) > 0


def fit_clv_models(
    summary: pl.DataFrame, *, time_unit_days: float = 1.0, as_of: dt.datetime | None = None
) -> pl.DataFrame:
    """Fit BG/NBD and Gamma-Gamma once; return the long parameter table.

    Columns: model ('bgnbd' | 'gamma_gamma'), parameter (r, alpha, a, b | p, q, gamma),
    estimate, standard_error (null when the Hessian was singular), log_likelihood and
    n_customers of the fit, converged, frequency_monetary_correlation (Gamma-Gamma rows: the
    correlation the model assumes is ~0; null for BG/NBD), time_unit_days (alpha is in these
    units), as_of. A model that cannot be identified is absent (see the module docstring).
    """
    what = "fit_clv_models"
    inputs = _model_inputs(summary, time_unit_days, what=what)
    frames = []
    if not _has_repeat_purchase(inputs):
        logger.warning("%s: %d customers, none with a repeat purchase: no model fitted", what, inputs.height)
    else:
        purchases = fit_bgnbd(inputs)
        frames.append(purchases.to_frame().with_columns(pl.lit(None, pl.Float64).alias("frequency_monetary_correlation")))
        if _can_fit_gamma_gamma(inputs):
            spend = fit_gamma_gamma(inputs)
            frames.append(
                spend.to_frame().with_columns(
                    pl.lit(spend.frequency_monetary_correlation, pl.Float64).fill_nan(None).alias("frequency_monetary_correlation")
                )
            )
        else:
            logger.warning("%s: no repeat buyer with positive spend: Gamma-Gamma not fitted", what)
    if not frames:
        return pl.DataFrame(schema=PARAMETERS_SCHEMA)
    return (
        pl.concat(frames)
        .with_columns(
            pl.lit(float(time_unit_days), pl.Float64).alias("time_unit_days"),
            pl.lit(as_of, pl.Datetime("us")).alias("as_of"),
        )
        .select(list(PARAMETERS_SCHEMA))
    )


def fits_from_parameters(parameters: pl.DataFrame) -> ClvFits:
    """Rebuild the fitted models from the parameter table written by ``fit_clv_models``.

    A model is rebuilt only if all its parameters are present, exactly once; a partial or
    duplicated model, an unknown model name or mixed time units raise ValueError (the table
    was edited or two builds were mixed).
    """
    what = "fits_from_parameters"
    require_columns(
        parameters,
        ["model", "parameter", "estimate", "standard_error", "log_likelihood", "n_customers", "converged", "time_unit_days"],
        what=what,
    )
    unknown = set(parameters.get_column("model").unique().to_list()) - set(MODEL_PARAMETERS)
    if unknown:
        raise ValueError(f"{what}: unknown model(s) {sorted(map(str, unknown))}")
    units = parameters.get_column("time_unit_days").drop_nulls().unique().to_list()
    if len(units) > 1:
        raise ValueError(f"{what}: parameters in more than one time unit {units}")
    if parameters.height and not units:
        raise ValueError(f"{what}: time_unit_days is null")

    def rows(model: str) -> dict[str, dict] | None:
        subset = parameters.filter(pl.col("model") == model)
        if subset.height == 0:
            return None
        names = subset.get_column("parameter").to_list()
        expected = MODEL_PARAMETERS[model]
        if sorted(names) != sorted(expected):
            raise ValueError(f"{what}: model {model!r} needs parameters {list(expected)} once each, got {names}")
        by_name = {row["parameter"]: row for row in subset.iter_rows(named=True)}
        if any(row["estimate"] is None or not row["estimate"] > 0 for row in by_name.values()):
            raise ValueError(f"{what}: model {model!r} has a null or non-positive estimate")
        return by_name

    def se(row: dict) -> float:
        return float("nan") if row["standard_error"] is None else float(row["standard_error"])

    bgnbd = None
    if (b := rows("bgnbd")) is not None:
        first = b["r"]
        bgnbd = BGNBDFit(
            *(float(b[name]["estimate"]) for name in BGNBD_PARAMETERS),
            *(se(b[name]) for name in BGNBD_PARAMETERS),
            log_likelihood=float(first["log_likelihood"]),
            n_customers=int(first["n_customers"]),
            converged=bool(first["converged"]),
        )
    gamma_gamma = None
    if (g := rows("gamma_gamma")) is not None:
        first = g["p"]
        correlation = first.get("frequency_monetary_correlation")
        gamma_gamma = GammaGammaFit(
            *(float(g[name]["estimate"]) for name in GAMMA_GAMMA_PARAMETERS),
            *(se(g[name]) for name in GAMMA_GAMMA_PARAMETERS),
            log_likelihood=float(first["log_likelihood"]),
            n_customers=int(first["n_customers"]),
            converged=bool(first["converged"]),
            frequency_monetary_correlation=float("nan") if correlation is None else float(correlation),
        )
    return ClvFits(bgnbd, gamma_gamma, float(units[0]) if units else None)


def population_mean_order_value(summary: pl.DataFrame) -> float:
    """Revenue of all completed orders / their number, from the per-customer summary
    (average_order_value x (frequency + 1) is each customer's revenue). 0 when empty."""
    inputs = summary.select(
        (pl.col("frequency").cast(pl.Float64) + 1).alias("orders"),
        pl.col("average_order_value").cast(pl.Float64),
    )
    aov = numeric_column(inputs, "average_order_value", what="population_mean_order_value")
    orders = inputs.get_column("orders").to_numpy()
    return float(np.dot(aov, orders) / orders.sum()) if len(orders) else 0.0


def score_clv(
    summary: pl.DataFrame,
    parameters: pl.DataFrame,
    *,
    horizon_days: int,
    discount_rate_annual: float,
    as_of: dt.datetime | None = None,
) -> pl.DataFrame:
    """Per-customer predictions from the stored parameters (the fits are rebuilt, not redone).

    Columns: customer_id, p_alive, expected_purchases_30d / _90d / _365d /
    _horizon (repeat purchases expected in the next 30/90/365/horizon days), expected
    average_order_value (Gamma-Gamma conditional mean), predicted_clv (discounted expected
    revenue over the horizon, monthly discounting, see ``predict_clv``), horizon_days, as_of.
    The time unit is the one stored with the parameters.
    """
    what = "score_clv"
    fits = fits_from_parameters(parameters)
    inputs = _model_inputs(summary, fits.time_unit_days or 1.0, what=what)
    if inputs.height == 0:
        return pl.DataFrame(schema={**PREDICTIONS_SCHEMA, "customer_id": summary.schema["customer_id"]})
    fallback = population_mean_order_value(inputs)
    if fits.bgnbd is None:
        logger.warning("%s: no BG/NBD parameters: 0 expected purchases for everyone", what)
        zero = pl.lit(0.0, pl.Float64)
        scored = inputs.select(
            pl.col("customer_id"),
            pl.lit(1.0, pl.Float64).alias("p_alive"),
            *(zero.alias(f"expected_purchases_{w}") for w in ("30d", "90d", "365d", "horizon")),
            pl.lit(fallback, pl.Float64).alias("expected_average_order_value"),
            zero.alias("predicted_clv"),
            pl.lit(int(horizon_days), pl.Int64).alias("horizon_days"),
        )
    else:
        if fits.gamma_gamma is None:
            logger.warning("%s: no Gamma-Gamma parameters: population mean order value %.2f for everyone", what, fallback)
        scored = predict_clv(
            inputs,
            fits.bgnbd,
            fits.gamma_gamma,
            horizon_days=int(horizon_days),
            discount_rate_annual=float(discount_rate_annual),
            time_unit_days=fits.time_unit_days or 1.0,
            population_mean_order_value=fallback,
        )
    return scored.with_columns(pl.lit(as_of, pl.Datetime("us")).alias("as_of")).select(list(PREDICTIONS_SCHEMA))


def evaluate_clv_holdout(
    calibration_summary: pl.DataFrame, *, time_unit_days: float = 1.0, as_of: dt.datetime | None = None
) -> pl.DataFrame:
    """Fit BG/NBD on the calibration period; compare predicted and actual holdout purchases.

    One row per calibration frequency bucket "0".."6", "7+" and "all" (see
    ``holdout_evaluation``), plus the calibration fit beside every row: calibration_r,
    calibration_alpha, calibration_a, calibration_b, calibration_converged (null when the
    calibration period has no repeat purchase: predictions are then 0), holdout_days,
    calibration_end_at (as_of - holdout_days), time_unit_days, as_of.
    Empty calibration population -> empty frame.
    """
    what = "evaluate_clv_holdout"
    inputs = _model_inputs(calibration_summary, time_unit_days, what=what, columns=CALIBRATION_COLUMNS)
    if inputs.height == 0:
        return pl.DataFrame(schema=EVALUATION_SCHEMA)
    holdout = inputs.get_column("holdout_days").cast(pl.Float64).unique().to_list()
    if len(holdout) != 1 or holdout[0] is None or not holdout[0] >= 0:
        raise ValueError(f"{what}: holdout_days must be one value >= 0 for all rows, got {holdout[:5]}")
    holdout_days = float(holdout[0])

    if _has_repeat_purchase(inputs):
        fit = fit_bgnbd(inputs)
        params: dict[str, float | bool | None] = {
            "calibration_r": fit.r,
            "calibration_alpha": fit.alpha,
            "calibration_a": fit.a,
            "calibration_b": fit.b,
            "calibration_converged": fit.converged,
        }
    else:
        logger.warning("%s: no repeat purchase in the calibration period: predicting 0", what)
        # An effectively zero purchase rate: the limit the likelihood runs to.
        fit = BGNBDFit(1.0, 1e300, 2.0, 1.0, *[float("nan")] * 5, 0, False)
        params = dict.fromkeys(("calibration_r", "calibration_alpha", "calibration_a", "calibration_b", "calibration_converged"))
    table = holdout_evaluation(
        inputs,
        inputs.select("customer_id", "holdout_purchases"),
        fit,
        holdout_days,
        time_unit_days=time_unit_days,
    )
    calibration_end = None if as_of is None else as_of - dt.timedelta(days=holdout_days)
    assert table.get_column("frequency_bucket").to_list() == [*FREQUENCY_BUCKETS, "all"]
    return table.with_columns(
        pl.lit(holdout_days, pl.Float64).alias("holdout_days"),
        pl.lit(calibration_end, pl.Datetime("us")).alias("calibration_end_at"),
        *(pl.lit(value, EVALUATION_SCHEMA[name]).alias(name) for name, value in params.items()),
        pl.lit(float(time_unit_days), pl.Float64).alias("time_unit_days"),
        pl.lit(as_of, pl.Datetime("us")).alias("as_of"),
    ).select(list(EVALUATION_SCHEMA))
