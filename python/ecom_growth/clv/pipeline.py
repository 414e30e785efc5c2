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

Degenerate populations never crash a build. No customers: every function returns an empty
frame with its schema. Otherwise every table carries ``status`` ('ok' | 'degraded') and
``status_reason`` (words; null when ok): each model is checked on the data before its fit and
on the fit after it (``ecom_growth.clv.status``), and a degraded model's predictions come
from the documented fallback there (purchases: the no-dropout Poisson estimate with p_alive 1,
0 expected purchases when nobody has a repeat purchase; spend: each customer's own average
order value when order values do not vary within customers, else the population mean).
The optional summary column ``repeat_order_value_stddev`` (sample standard deviation of a
customer's repeat order values) lets the spend check see constant order values before fitting.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable
from typing import NamedTuple, TypeVar

import numpy as np
import polars as pl

from ecom_growth.clv._common import FIT_FRAME_SCHEMA, numeric_column, require_columns
from ecom_growth.clv.bgnbd import PARAMETER_NAMES as BGNBD_PARAMETERS
from ecom_growth.clv.bgnbd import BGNBDFit, fit_bgnbd
from ecom_growth.clv.gamma_gamma import PARAMETER_NAMES as GAMMA_GAMMA_PARAMETERS
from ecom_growth.clv.gamma_gamma import GammaGammaFit, fit_gamma_gamma
from ecom_growth.clv.predict import (
    FREQUENCY_BUCKETS,
    _average_order_value,
    discounted_days,
    holdout_evaluation,
    holdout_table,
    predict_clv,
)
from ecom_growth.clv.status import (
    BGNBD_FALLBACK,
    ModelStatus,
    bgnbd_data_problem,
    bgnbd_fit_problem,
    combined_status,
    fallback_order_value,
    fallback_purchase_rate,
    gamma_gamma_data_problem,
    gamma_gamma_fit_problem,
    order_values_are_constant_within_customers,
    spend_fallback_words,
    within_customer_cv,
)

logger = logging.getLogger(__name__)
FitT = TypeVar("FitT", BGNBDFit, GammaGammaFit)

SUMMARY_COLUMNS = ("customer_id", "frequency", "recency_days", "t_days", "monetary_value", "average_order_value")
STDDEV_COLUMN = "repeat_order_value_stddev"  # optional
STATUS_SCHEMA: dict[str, pl.DataType] = {"status": pl.String, "status_reason": pl.String}
CALIBRATION_COLUMNS = (*SUMMARY_COLUMNS, "holdout_purchases", "holdout_days")
MODEL_PARAMETERS = {"bgnbd": BGNBD_PARAMETERS, "gamma_gamma": GAMMA_GAMMA_PARAMETERS}

PARAMETERS_SCHEMA: dict[str, pl.DataType] = {
    **FIT_FRAME_SCHEMA,
    "frequency_monetary_correlation": pl.Float64,
    "time_unit_days": pl.Float64,
    "as_of": pl.Datetime("us"),
    **STATUS_SCHEMA,
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
    **STATUS_SCHEMA,
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
    **STATUS_SCHEMA,
}


class ClvFits(NamedTuple):
    """Fitted models rebuilt from the parameter table; None where a model is absent or degraded
    (its status then says why and scoring uses the fallback)."""

    bgnbd: BGNBDFit | None
    gamma_gamma: GammaGammaFit | None
    time_unit_days: float | None
    bgnbd_status: ModelStatus = ModelStatus.ok()
    gamma_gamma_status: ModelStatus = ModelStatus.ok()


def _model_inputs(
    summary: pl.DataFrame, time_unit_days: float, *, what: str, columns: tuple[str, ...] = SUMMARY_COLUMNS
) -> pl.DataFrame:
    """The library's (frequency, recency, T) in model time units, from the SQL summary in days."""
    require_columns(summary, list(columns), what=what)
    if not (np.isfinite(time_unit_days) and time_unit_days > 0):
        raise ValueError(f"{what}: time_unit_days must be a number > 0, got {time_unit_days!r}")
    optional = [pl.col(STDDEV_COLUMN).cast(pl.Float64)] if STDDEV_COLUMN in summary.columns else []
    # Sorted by customer so sums run in one order whatever order the warehouse returned rows
    # in: the same data then gives bit-identical fits.
    return summary.sort("customer_id").with_columns(
        pl.col("frequency").cast(pl.Int64),
        (pl.col("recency_days").cast(pl.Float64) / time_unit_days).alias("recency"),
        (pl.col("t_days").cast(pl.Float64) / time_unit_days).alias("T"),
        pl.col("monetary_value").cast(pl.Float64),
        pl.col("average_order_value").cast(pl.Float64),
        *optional,
    )


def _array(inputs: pl.DataFrame, column: str) -> np.ndarray:
    return inputs.get_column(column).cast(pl.Float64).fill_null(float("nan")).to_numpy()


def _within_cv(inputs: pl.DataFrame) -> float | None:
    stddev = _array(inputs, STDDEV_COLUMN) if STDDEV_COLUMN in inputs.columns else None
    return within_customer_cv(_array(inputs, "frequency"), _array(inputs, "monetary_value"), stddev)


def _checked_fit(
    model: str, data_problem: str | None, fit: Callable[[], FitT], fit_problem: Callable[[FitT], str | None], fallback: str
) -> tuple[FitT | None, ModelStatus]:
    """Fit only if the data check passed, then check the fit; either problem degrades the model.
    The fit is returned even when its diagnostics degrade it, so its estimates can be shown."""
    result = None
    problem = data_problem
    if problem is None:
        result = fit()
        problem = fit_problem(result)
    if problem is None:
        return result, ModelStatus.ok()
    logger.warning("%s degraded: %s", model, problem)
    return result, ModelStatus.degraded(f"{problem}; fell back to {fallback}")


def fit_purchase_model(
    inputs: pl.DataFrame, *, min_customers: int, min_repeat_buyers: int
) -> tuple[BGNBDFit | None, ModelStatus]:
    """BG/NBD on the model inputs (None when the data check rules the fit out) and its status."""
    problem = bgnbd_data_problem(_array(inputs, "frequency"), min_customers=min_customers, min_repeat_buyers=min_repeat_buyers)
    return _checked_fit("BG/NBD", problem, lambda: fit_bgnbd(inputs), bgnbd_fit_problem, BGNBD_FALLBACK)


def fit_spend_model(inputs: pl.DataFrame, *, min_repeat_buyers: int) -> tuple[GammaGammaFit | None, ModelStatus]:
    """Gamma-Gamma on the repeat buyers (None when the data check rules the fit out) and its status."""
    cv = _within_cv(inputs)
    problem = gamma_gamma_data_problem(
        _array(inputs, "frequency"), _array(inputs, "monetary_value"), cv, min_repeat_buyers=min_repeat_buyers
    )
    fallback = spend_fallback_words(
        population_mean_order_value(inputs), constant_within_customers=order_values_are_constant_within_customers(cv)
    )
    return _checked_fit("Gamma-Gamma", problem, lambda: fit_gamma_gamma(inputs), gamma_gamma_fit_problem, fallback)


def _parameter_rows(
    model: str, fit: BGNBDFit | GammaGammaFit | None, status: ModelStatus, n_customers: int
) -> pl.DataFrame:
    if fit is not None:
        frame = fit.to_frame()
        correlation = getattr(fit, "frequency_monetary_correlation", None)
    else:
        # Not fitted: the parameter names with null estimates, so the status still has rows.
        names = MODEL_PARAMETERS[model]
        frame = pl.DataFrame(
            {"model": [model] * len(names), "parameter": list(names), "n_customers": [n_customers] * len(names),
             "converged": [False] * len(names)},
        ).with_columns(pl.lit(None, FIT_FRAME_SCHEMA[c]).alias(c) for c in ("estimate", "standard_error", "log_likelihood"))
        correlation = None
    return frame.select(list(FIT_FRAME_SCHEMA)).cast(FIT_FRAME_SCHEMA).with_columns(
        pl.lit(correlation, pl.Float64).fill_nan(None).alias("frequency_monetary_correlation"),
        pl.lit(status.status, pl.String).alias("status"),
        pl.lit(status.reason, pl.String).alias("status_reason"),
    )


def fit_clv_models(
    summary: pl.DataFrame,
    *,
    time_unit_days: float = 1.0,
    as_of: dt.datetime | None = None,
    min_customers: int = 1,
    min_repeat_buyers: int = 1,
) -> pl.DataFrame:
    """Fit BG/NBD and Gamma-Gamma once; return the long parameter table.

    Columns: model ('bgnbd' | 'gamma_gamma'), parameter (r, alpha, a, b | p, q, gamma),
    estimate, standard_error (null when the Hessian was singular), log_likelihood and
    n_customers of the fit, converged, frequency_monetary_correlation (Gamma-Gamma rows: the
    correlation the model assumes is ~0; null for BG/NBD), time_unit_days (alpha is in these
    units), as_of, status, status_reason.

    Both models always have their rows (unless there are no customers at all). A model the
    data check rules out has null estimates; one whose fit is diagnosed as unusable keeps its
    estimates for inspection. Either way its status is 'degraded' with the reason, and
    ``fits_from_parameters`` does not rebuild it. ``min_customers`` and ``min_repeat_buyers``
    (vars clv_min_customers, clv_min_repeat_buyers; 1 = no minimum beyond the mathematical
    one) set how little data still counts as enough.
    """
    what = "fit_clv_models"
    inputs = _model_inputs(summary, time_unit_days, what=what)
    if inputs.height == 0:
        return pl.DataFrame(schema=PARAMETERS_SCHEMA)
    purchases, purchases_status = fit_purchase_model(inputs, min_customers=min_customers, min_repeat_buyers=min_repeat_buyers)
    spend, spend_status = fit_spend_model(inputs, min_repeat_buyers=min_repeat_buyers)
    spenders = inputs.filter((pl.col("frequency") > 0) & (pl.col("monetary_value") > 0)).height
    return (
        pl.concat(
            [
                _parameter_rows("bgnbd", purchases, purchases_status, inputs.height),
                _parameter_rows("gamma_gamma", spend, spend_status, spenders),
            ]
        )
        .with_columns(
            pl.lit(float(time_unit_days), pl.Float64).alias("time_unit_days"),
            pl.lit(as_of, pl.Datetime("us")).alias("as_of"),
        )
        .select(list(PARAMETERS_SCHEMA))
    )


def _table_status(subset: pl.DataFrame, model: str) -> ModelStatus:
    if subset.height == 0:
        return ModelStatus.degraded(f"no {model} parameters stored; fell back to the documented estimate")
    if "status" not in subset.columns:
        return ModelStatus.ok()
    statuses = subset.select("status", "status_reason").unique().rows()
    if len(statuses) != 1:
        raise ValueError(f"fits_from_parameters: model {model!r} has more than one status {statuses}")
    return ModelStatus(*statuses[0])


def fits_from_parameters(parameters: pl.DataFrame) -> ClvFits:
    """Rebuild the fitted models from the parameter table written by ``fit_clv_models``.

    A model is rebuilt only if its status is 'ok' (a table without a status column counts as
    ok) and all its parameters are present, exactly once; a partial or duplicated model, an
    unknown model name or mixed time units raise ValueError (the table was edited or two
    builds were mixed). The statuses come back beside the fits.
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

    def rows(model: str) -> tuple[dict[str, dict] | None, ModelStatus]:
        subset = parameters.filter(pl.col("model") == model)
        status = _table_status(subset, model)
        if subset.height == 0:
            return None, status
        names = subset.get_column("parameter").to_list()
        expected = MODEL_PARAMETERS[model]
        if sorted(names) != sorted(expected):
            raise ValueError(f"{what}: model {model!r} needs parameters {list(expected)} once each, got {names}")
        if not status.is_ok:
            return None, status
        by_name = {row["parameter"]: row for row in subset.iter_rows(named=True)}
        if any(row["estimate"] is None or not row["estimate"] > 0 for row in by_name.values()):
            raise ValueError(f"{what}: model {model!r} has a null or non-positive estimate")
        return by_name, status

    def se(row: dict) -> float:
        return float("nan") if row["standard_error"] is None else float(row["standard_error"])

    bgnbd = None
    b, bgnbd_status = rows("bgnbd")
    if b is not None:
        first = b["r"]
        bgnbd = BGNBDFit(
            *(float(b[name]["estimate"]) for name in BGNBD_PARAMETERS),
            *(se(b[name]) for name in BGNBD_PARAMETERS),
            log_likelihood=float(first["log_likelihood"]),
            n_customers=int(first["n_customers"]),
            converged=bool(first["converged"]),
        )
    gamma_gamma = None
    g, gamma_gamma_status = rows("gamma_gamma")
    if g is not None:
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
    return ClvFits(bgnbd, gamma_gamma, float(units[0]) if units else None, bgnbd_status, gamma_gamma_status)


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


def _order_values(inputs: pl.DataFrame, fits: ClvFits, population_mean: float) -> np.ndarray:
    """Expected order value per customer: Gamma-Gamma when usable, else the spend fallback."""
    x = _array(inputs, "frequency")
    if fits.gamma_gamma is not None:
        return _average_order_value(inputs, x, fits.gamma_gamma, population_mean, "monetary_value")
    return fallback_order_value(
        _array(inputs, "average_order_value"),
        population_mean,
        constant_within_customers=order_values_are_constant_within_customers(_within_cv(inputs)),
    )


def _fallback_purchases(inputs: pl.DataFrame, *, horizon_days: int, discount_rate_annual: float, unit: float) -> pl.DataFrame:
    """The purchase fallback's columns (see ecom_growth.clv.status), value per unit order value."""
    rate = fallback_purchase_rate(_array(inputs, "frequency"), _array(inputs, "T")) / unit  # per day
    return inputs.select(
        pl.col("customer_id"),
        pl.lit(1.0, pl.Float64).alias("p_alive"),
        *(pl.Series(f"expected_purchases_{w}d", rate * w) for w in (30, 90, 365)),
        pl.Series("expected_purchases_horizon", rate * horizon_days),
        pl.Series("predicted_clv", rate * discounted_days(horizon_days, discount_rate_annual)),
        pl.lit(int(horizon_days), pl.Int64).alias("horizon_days"),
    )


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
    revenue over the horizon, monthly discounting, see ``predict_clv``), horizon_days, as_of,
    status and status_reason (degraded if either model is; then the fallback of
    ``ecom_growth.clv.status`` replaces that model's part). The time unit is the one stored
    with the parameters.
    """
    what = "score_clv"
    fits = fits_from_parameters(parameters)
    unit = fits.time_unit_days or 1.0
    inputs = _model_inputs(summary, unit, what=what)
    if inputs.height == 0:
        return pl.DataFrame(schema={**PREDICTIONS_SCHEMA, "customer_id": summary.schema["customer_id"]})
    status = combined_status({"bgnbd": fits.bgnbd_status, "gamma_gamma": fits.gamma_gamma_status})
    population_mean = population_mean_order_value(inputs)
    # Purchases per unit order value (predict_clv with an order value of 1), times the order value.
    if fits.bgnbd is not None:
        per_unit = predict_clv(
            inputs,
            fits.bgnbd,
            None,
            horizon_days=int(horizon_days),
            discount_rate_annual=float(discount_rate_annual),
            time_unit_days=unit,
            population_mean_order_value=1.0,
        )
    else:
        per_unit = _fallback_purchases(inputs, horizon_days=int(horizon_days), discount_rate_annual=float(discount_rate_annual), unit=unit)
    order_value = pl.Series("expected_average_order_value", _order_values(inputs, fits, population_mean))
    return per_unit.with_columns(
        order_value,
        (pl.col("predicted_clv") * order_value).alias("predicted_clv"),
        pl.lit(as_of, pl.Datetime("us")).alias("as_of"),
        pl.lit(status.status, pl.String).alias("status"),
        pl.lit(status.reason, pl.String).alias("status_reason"),
    ).select(list(PREDICTIONS_SCHEMA))


def evaluate_clv_holdout(
    calibration_summary: pl.DataFrame,
    *,
    time_unit_days: float = 1.0,
    as_of: dt.datetime | None = None,
    min_customers: int = 1,
    min_repeat_buyers: int = 1,
) -> pl.DataFrame:
    """Fit BG/NBD on the calibration period; compare predicted and actual holdout purchases.

    One row per calibration frequency bucket "0".."6", "7+" and "all" (see
    ``holdout_evaluation``), plus the calibration fit beside every row: calibration_r,
    calibration_alpha, calibration_a, calibration_b, calibration_converged (null when the
    data check ruled the fit out), holdout_days, calibration_end_at (as_of - holdout_days),
    time_unit_days, as_of, status, status_reason. A degraded calibration fit is evaluated
    through the purchase fallback (what scoring would use), so the table measures what the
    build actually predicts. Empty calibration population -> empty frame.
    """
    what = "evaluate_clv_holdout"
    inputs = _model_inputs(calibration_summary, time_unit_days, what=what, columns=CALIBRATION_COLUMNS)
    if inputs.height == 0:
        return pl.DataFrame(schema=EVALUATION_SCHEMA)
    holdout = inputs.get_column("holdout_days").cast(pl.Float64).unique().to_list()
    if len(holdout) != 1 or holdout[0] is None or not holdout[0] >= 0:
        raise ValueError(f"{what}: holdout_days must be one value >= 0 for all rows, got {holdout[:5]}")
    holdout_days = float(holdout[0])

    fit, status = fit_purchase_model(inputs, min_customers=min_customers, min_repeat_buyers=min_repeat_buyers)
    names = ("calibration_r", "calibration_alpha", "calibration_a", "calibration_b", "calibration_converged")
    values = (None,) * 5 if fit is None else (fit.r, fit.alpha, fit.a, fit.b, fit.converged)
    actuals = inputs.select("customer_id", "holdout_purchases")
    if status.is_ok:
        table = holdout_evaluation(inputs, actuals, fit, holdout_days, time_unit_days=time_unit_days)
    else:
        predicted = fallback_purchase_rate(_array(inputs, "frequency"), _array(inputs, "T")) * holdout_days / time_unit_days
        table = holdout_table(inputs, actuals, predicted)
    calibration_end = None if as_of is None else as_of - dt.timedelta(days=holdout_days)
    assert table.get_column("frequency_bucket").to_list() == [*FREQUENCY_BUCKETS, "all"]
    return table.with_columns(
        pl.lit(holdout_days, pl.Float64).alias("holdout_days"),
        pl.lit(calibration_end, pl.Datetime("us")).alias("calibration_end_at"),
        *(pl.lit(value, EVALUATION_SCHEMA[name]).alias(name) for name, value in zip(names, values)),
        pl.lit(float(time_unit_days), pl.Float64).alias("time_unit_days"),
        pl.lit(as_of, pl.Datetime("us")).alias("as_of"),
        pl.lit(status.status, pl.String).alias("status"),
        pl.lit(status.reason, pl.String).alias("status_reason"),
    ).select(list(EVALUATION_SCHEMA))
