"""What the dbt CLV models call: evaluate the candidates, fit once, score from the stored fit.

The warehouse computes one row per customer (``int_clv_customer_summary``: customer_id,
frequency, recency_days, t_days, monetary_value, average_order_value; purchase OCCASIONS up
to as_of, see macros/clv/clv_summary.sql) and the same up to each evaluation cutoff
(``int_clv_calibration_summary``: one block per evaluation split, see below).
Times there are DAYS; the models work in units of ``time_unit_days`` (var
clv_time_unit_days), converted here and nowhere else.

* ``evaluate_clv_holdout``  calibration summaries -> every purchase model (BG/NBD, MBG/NBD,
                            Pareto/NBD) and the Poisson baseline fitted on each split's
                            calibration period and scored on its label window, in purchases
                            and in value; ranked on the validation split (``selection_rank``),
                            the best one ``is_selected``, reported on the later test split
* ``fit_clv_models``        summary + that ranking -> long parameter table of every model
                            fitted on all data up to as_of (ml_clv_model_parameters)
* ``fits_from_parameters``  parameter table -> the selected fitted models (no second fit)
* ``score_clv``             summary + parameter table -> per-customer predictions

Evaluation windows (vars clv_validation_days, clv_test_days; relative to as_of): the
candidates are fitted on the occasions up to as_of - test - validation and scored on the
VALIDATION window (as_of - test - validation, as_of - test]; the choice is made there. They are
fitted again on the occasions up to as_of - test and scored on the TEST window (as_of - test,
as_of], which the choice never saw and whose labels do not overlap the validation labels: the
test rows are the honest report of the chosen model (and of the others, for comparison). The
predictions use the chosen model fitted on everything up to as_of.

Selection (documented criterion, on the validation split): among the candidates that are not
degraded, the lowest mean SQUARED error of purchases per customer wins; candidates whose mean
squared error is within two paired standard errors of the best one cannot be told apart by the
window, and among those the highest calibration log-likelihood wins (all have four
parameters, so this is AIC). Squared, not absolute, error: the models predict EXPECTED
purchases, and the squared error is the scoring function consistent for an expectation; the
absolute error is consistent for the median, which is 0 for most customers, so it rewards a
model that under-predicts the inactive majority (seen on the simulator's default scenario,
20k customers, seed 7: Pareto/NBD, which lets one-time buyers die, won on absolute error with
a larger bias, and its p_alive summed to 19% fewer live customers than were planted). Without a validation split (history
shorter than both windows) BG/NBD, then MBG/NBD, then Pareto/NBD is the order
(``default_ranking``).

Degenerate populations never crash a build. No customers: every function returns an empty
frame with its schema. Otherwise every table carries ``status`` ('ok' | 'degraded') and
``status_reason`` (words; null when ok): each model is checked on the data before its fit and
on the fit after it (``ecom_growth.clv.status``); a degraded candidate is never selected, and
when all are, predictions come from the documented fallback (purchases: the no-dropout
Poisson estimate with p_alive 1, 0 expected purchases when nobody has a repeat purchase;
spend: each customer's own average order value when order values do not vary within
customers, else the population mean). The optional summary column
``repeat_order_value_stddev`` lets the spend check see constant order values before fitting.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable, Sequence
from typing import NamedTuple, TypeVar

import numpy as np
import polars as pl

from ecom_growth.clv._common import FIT_FRAME_SCHEMA, numeric_column, require_columns
from ecom_growth.clv.evaluation import METRIC_SCHEMA, group_metrics, value_decile
from ecom_growth.clv.gamma_gamma import PARAMETER_NAMES as GAMMA_GAMMA_PARAMETERS
from ecom_growth.clv.gamma_gamma import GammaGammaFit, fit_gamma_gamma
from ecom_growth.clv.predict import (
    DAYS_PER_MONTH,
    FREQUENCY_BUCKETS,
    _average_order_value,
    _frequency_bucket,
    discounted_days,
)
from ecom_growth.clv.purchase_models import (
    PURCHASE_MODELS,
    PurchaseFit,
    build_fit,
    expected_purchases,
    p_alive,
    time_to_next_purchase,
)
from ecom_growth.clv.status import (
    BGNBD_FALLBACK,
    ModelStatus,
    bgnbd_data_problem,
    combined_status,
    fallback_order_value,
    fallback_purchase_rate,
    gamma_gamma_data_problem,
    gamma_gamma_fit_problem,
    order_values_are_constant_within_customers,
    purchase_fit_problem,
    spend_fallback_words,
    within_customer_cv,
)

logger = logging.getLogger(__name__)
FitT = TypeVar("FitT")

BASELINE = "poisson_baseline"  # the purchase fallback, evaluated beside the models as a baseline
SUMMARY_COLUMNS = ("customer_id", "frequency", "recency_days", "t_days", "monetary_value", "average_order_value")
STDDEV_COLUMN = "repeat_order_value_stddev"  # optional
STATUS_SCHEMA: dict[str, pl.DataType] = {"status": pl.String, "status_reason": pl.String}
CALIBRATION_COLUMNS = (
    "split", *SUMMARY_COLUMNS, "holdout_purchases", "holdout_revenue", "holdout_days", "calibration_end_at", "holdout_end_at"
)
# ml_clv_evaluation's splits, in time order: the model is chosen on the first, reported on the second.
VALIDATION, TEST = "validation", "test"
SPLITS = (VALIDATION, TEST)
MODEL_PARAMETERS = {**{name: m.parameters for name, m in PURCHASE_MODELS.items()}, "gamma_gamma": GAMMA_GAMMA_PARAMETERS}
# How many paired standard errors of the squared-error difference count as "the window cannot tell".
SELECTION_TIE_STANDARD_ERRORS = 2.0

PARAMETERS_SCHEMA: dict[str, pl.DataType] = {
    **FIT_FRAME_SCHEMA,
    "frequency_monetary_correlation": pl.Float64,
    "is_selected": pl.Boolean,
    "selection_rank": pl.Int64,
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
    "expected_days_to_next_order": pl.Float64,
    "expected_next_order_at": pl.Datetime("us"),
    "average_days_between_orders": pl.Float64,
    "purchase_model": pl.String,
    "gross_margin": pl.Float64,
    "has_minimum_data": pl.Boolean,
    "as_of": pl.Datetime("us"),
    **STATUS_SCHEMA,
}

# Model minus Poisson baseline, per customer, on the 'all' row: mean and 95% interval (paired,
# normal approximation; thousands of customers). Negative = the model is better.
BASELINE_COMPARISON_SCHEMA: dict[str, pl.DataType] = {
    f"baseline_{metric}_difference{suffix}": pl.Float64
    for metric in ("purchases_squared_error", "revenue_absolute_error")
    for suffix in ("", "_ci_low", "_ci_high")
}
Z_95 = 1.959963984540054

EVALUATION_SCHEMA: dict[str, pl.DataType] = {
    "split": pl.String,
    "model": pl.String,
    "is_selected": pl.Boolean,
    "selection_rank": pl.Int64,
    "breakdown": pl.String,
    "bucket": pl.String,
    "frequency_bucket": pl.String,
    **METRIC_SCHEMA,
    **BASELINE_COMPARISON_SCHEMA,
    "holdout_days": pl.Float64,
    "calibration_end_at": pl.Datetime("us"),
    "holdout_end_at": pl.Datetime("us"),
    "calibration_r": pl.Float64,
    "calibration_alpha": pl.Float64,
    "calibration_a": pl.Float64,
    "calibration_b": pl.Float64,
    "calibration_s": pl.Float64,
    "calibration_beta": pl.Float64,
    "calibration_log_likelihood": pl.Float64,
    "calibration_converged": pl.Boolean,
    "gross_margin": pl.Float64,
    "time_unit_days": pl.Float64,
    "as_of": pl.Datetime("us"),
    **STATUS_SCHEMA,
}


class ClvFits(NamedTuple):
    """The selected purchase model and the spend model rebuilt from the parameter table; None
    where absent or degraded (the status then says why and scoring uses the fallback)."""

    purchases: PurchaseFit | None
    gamma_gamma: GammaGammaFit | None
    time_unit_days: float | None
    purchases_status: ModelStatus = ModelStatus.ok()
    gamma_gamma_status: ModelStatus = ModelStatus.ok()
    purchase_model: str | None = None


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


def _checked_fit(
    label: str, data_problem: str | None, fit: Callable[[], FitT], fit_problem: Callable[[FitT], str | None], fallback: str
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
    logger.warning("%s degraded: %s", label, problem)
    return result, ModelStatus.degraded(f"{problem}; fell back to {fallback}")


def fit_purchase_model(
    inputs: pl.DataFrame, *, min_customers: int, min_repeat_buyers: int, model: str = "bgnbd"
) -> tuple[PurchaseFit | None, ModelStatus]:
    """One purchase model on the model inputs (None when the data check rules the fit out) and its status."""
    spec = PURCHASE_MODELS[model]
    problem = bgnbd_data_problem(_array(inputs, "frequency"), min_customers=min_customers, min_repeat_buyers=min_repeat_buyers)
    return _checked_fit(spec.label, problem, lambda: spec.fit(inputs), purchase_fit_problem, BGNBD_FALLBACK)


def _parameter_rows(model: str, fit: PurchaseFit | GammaGammaFit | None, status: ModelStatus, n_customers: int) -> pl.DataFrame:
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


def selection_order(evaluation: pl.DataFrame) -> list[str]:
    """Purchase models in the order ml_clv_evaluation ranked them (best first); the registry
    order (BG/NBD first) when there was no holdout to rank on."""
    if evaluation.height == 0 or "selection_rank" not in evaluation.columns:
        return list(PURCHASE_MODELS)
    ranked = (
        evaluation.filter(pl.col("model").is_in(list(PURCHASE_MODELS)))
        .group_by("model").agg(pl.col("selection_rank").min())
        .sort("selection_rank", "model")
        .get_column("model").to_list()
    )
    return ranked + [m for m in PURCHASE_MODELS if m not in ranked]


def fit_clv_models(
    summary: pl.DataFrame,
    *,
    time_unit_days: float,
    as_of: dt.datetime | None = None,
    min_customers: int,
    min_repeat_buyers: int,
    ranking: Sequence[str] | None = None,
) -> pl.DataFrame:
    """Fit every purchase model (BG/NBD, MBG/NBD, Pareto/NBD) and Gamma-Gamma once on all data
    up to as_of; return the long parameter table.

    Columns: model ('bgnbd' | 'mbgnbd' | 'pareto_nbd' | 'gamma_gamma'), parameter (r, alpha,
    a, b | r, alpha, s, beta | p, q, gamma), estimate, standard_error (null when the Hessian
    was singular), log_likelihood and n_customers of the fit, converged,
    frequency_monetary_correlation (Gamma-Gamma rows), is_selected (the purchase model used
    for the predictions: the first of ``ranking`` -- ml_clv_evaluation's holdout ranking --
    that is not degraded here; Gamma-Gamma when not degraded), selection_rank (position in
    ``ranking``; null for Gamma-Gamma), time_unit_days, as_of, status, status_reason.

    A model the data check rules out has null estimates; one whose fit is diagnosed as
    unusable keeps its estimates for inspection; either way it is 'degraded' with the reason
    and never selected. No purchase model selected = the purchase fallback scores.
    """
    what = "fit_clv_models"
    inputs = _model_inputs(summary, time_unit_days, what=what)
    if inputs.height == 0:
        return pl.DataFrame(schema=PARAMETERS_SCHEMA)
    order = list(ranking) if ranking else list(PURCHASE_MODELS)
    frames = []
    selected = None
    for model in order:
        fit, status = fit_purchase_model(inputs, min_customers=min_customers, min_repeat_buyers=min_repeat_buyers, model=model)
        if selected is None and status.is_ok:
            selected = model
        frames.append(
            _parameter_rows(model, fit, status, inputs.height).with_columns(
                pl.lit(model == selected).alias("is_selected"),
                pl.lit(order.index(model) + 1, pl.Int64).alias("selection_rank"),
            )
        )
    spend, spend_status = fit_spend_model(inputs, min_repeat_buyers=min_repeat_buyers)
    spenders = inputs.filter((pl.col("frequency") > 0) & (pl.col("monetary_value") > 0)).height
    frames.append(
        _parameter_rows("gamma_gamma", spend, spend_status, spenders).with_columns(
            pl.lit(spend_status.is_ok).alias("is_selected"), pl.lit(None, pl.Int64).alias("selection_rank")
        )
    )
    return (
        pl.concat(frames, how="diagonal_relaxed")
        .with_columns(
            pl.lit(float(time_unit_days), pl.Float64).alias("time_unit_days"),
            pl.lit(as_of, pl.Datetime("us")).alias("as_of"),
        )
        .select(list(PARAMETERS_SCHEMA))
    )


def clv_evaluation_is_usable(evaluation: pl.DataFrame) -> bool:
    """Whether a stored ``evaluate_clv_holdout`` table chose a purchase model (not the Poisson
    baseline, which is selected only when every model is degraded): only then may a later build
    keep it under var ml_retrain_after_days; otherwise the choice is retried."""
    if evaluation.height == 0 or not {"model", "is_selected"} <= set(evaluation.columns):
        return False
    selected = set(evaluation.filter(pl.col("is_selected")).get_column("model").to_list())
    return bool(selected & set(PURCHASE_MODELS))


def clv_fit_is_usable(parameters: pl.DataFrame) -> bool:
    """Whether a stored ``fit_clv_models`` table scores without a fallback: a purchase model
    and Gamma-Gamma are selected (a fit that needs a fallback is not kept by a later build
    under var ml_retrain_after_days: it is retried)."""
    if parameters.height == 0 or not {"model", "is_selected"} <= set(parameters.columns):
        return False
    selected = set(parameters.filter(pl.col("is_selected")).get_column("model").to_list())
    return "gamma_gamma" in selected and bool(selected & set(PURCHASE_MODELS))


def _table_status(subset: pl.DataFrame, model: str) -> ModelStatus:
    if subset.height == 0:
        return ModelStatus.degraded(f"no {model} parameters stored; fell back to the documented estimate")
    if "status" not in subset.columns:
        return ModelStatus.ok()
    statuses = subset.select("status", "status_reason").unique().rows()
    if len(statuses) != 1:
        raise ValueError(f"fits_from_parameters: model {model!r} has more than one status {statuses}")
    return ModelStatus(*statuses[0])


def _model_rows(parameters: pl.DataFrame, model: str) -> tuple[dict[str, dict] | None, ModelStatus]:
    """A model's rows by parameter name if it is usable (status ok), and its status."""
    what = "fits_from_parameters"
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


def _se(row: dict) -> float:
    return float("nan") if row["standard_error"] is None else float(row["standard_error"])


def _selected_purchase_model(parameters: pl.DataFrame) -> tuple[str | None, ModelStatus]:
    """The purchase model marked is_selected (tables without the column: 'bgnbd'), or None
    with a status naming every candidate's reason."""
    present = [m for m in PURCHASE_MODELS if m in set(parameters.get_column("model").to_list())]
    if "is_selected" in parameters.columns:
        chosen = parameters.filter(pl.col("is_selected") & pl.col("model").is_in(list(PURCHASE_MODELS)))
        names = chosen.get_column("model").unique().to_list()
        if len(names) > 1:
            raise ValueError(f"fits_from_parameters: more than one selected purchase model {sorted(names)}")
        if names:
            return names[0], ModelStatus.ok()
    elif "bgnbd" in present:
        return "bgnbd", _table_status(parameters.filter(pl.col("model") == "bgnbd"), "bgnbd")
    statuses = {m: _table_status(parameters.filter(pl.col("model") == m), m) for m in present or ["bgnbd"]}
    # Already prefixed by model ('bgnbd: ...; mbgnbd: ...'): every candidate's reason.
    return None, ModelStatus.degraded(combined_status(statuses).reason or "bgnbd: no purchase model selected")


def fits_from_parameters(parameters: pl.DataFrame) -> ClvFits:
    """Rebuild the selected purchase model and Gamma-Gamma from the ``fit_clv_models`` table.

    A model is rebuilt only if its status is 'ok' (a table without a status column counts as
    ok) and all its parameters are present, exactly once; a partial or duplicated model, an
    unknown model name, two selected purchase models or mixed time units raise ValueError (the
    table was edited or two builds were mixed). The statuses come back beside the fits.
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
    for model in set(parameters.get_column("model").to_list()):
        _model_rows(parameters, model)  # validates every stored model, selected or not

    purchases = None
    model, purchases_status = _selected_purchase_model(parameters)
    if model is not None:
        rows, purchases_status = _model_rows(parameters, model)
        if rows is not None:
            names = PURCHASE_MODELS[model].parameters
            first = rows[names[0]]
            purchases = build_fit(
                model, [float(rows[n]["estimate"]) for n in names], [_se(rows[n]) for n in names],
                log_likelihood=float(first["log_likelihood"]), n_customers=int(first["n_customers"]),
                converged=bool(first["converged"]),
            )
        else:
            model = None
    gamma_gamma = None
    g, gamma_gamma_status = _model_rows(parameters, "gamma_gamma")
    if g is not None:
        first = g["p"]
        correlation = first.get("frequency_monetary_correlation")
        gamma_gamma = GammaGammaFit(
            *(float(g[name]["estimate"]) for name in GAMMA_GAMMA_PARAMETERS),
            *(_se(g[name]) for name in GAMMA_GAMMA_PARAMETERS),
            log_likelihood=float(first["log_likelihood"]),
            n_customers=int(first["n_customers"]),
            converged=bool(first["converged"]),
            frequency_monetary_correlation=float("nan") if correlation is None else float(correlation),
        )
    unit = float(units[0]) if units else None
    return ClvFits(purchases, gamma_gamma, unit, purchases_status, gamma_gamma_status, model)




def _purchase_columns(
    fit: PurchaseFit | None, inputs: pl.DataFrame, *, horizon_days: int, discount_rate_annual: float,
    unit: float, next_order_probability: float,
) -> dict[str, np.ndarray]:
    """Per-customer purchase predictions (value per unit order value in ``discounted``) from the
    selected model, or from the purchase fallback when ``fit`` is None. Windows in days."""
    x, t_x, T = (_array(inputs, c) for c in ("frequency", "recency", "T"))
    if fit is None:
        rate = fallback_purchase_rate(x, T) / unit  # per day
        with np.errstate(divide="ignore"):
            days_to_next = np.where(rate > 0, -np.log1p(-next_order_probability) / np.where(rate > 0, rate, 1.0), np.nan)
        return {
            "p_alive": np.ones(len(x)),
            **{f"expected_purchases_{w}d": rate * w for w in (30, 90, 365)},
            "expected_purchases_horizon": rate * horizon_days,
            "discounted": rate * discounted_days(horizon_days, discount_rate_annual),
            "expected_days_to_next_order": days_to_next,
        }
    (ux, utx, uT), inverse = _distinct_rows(x, t_x, T)

    def within(days: float) -> np.ndarray:
        return expected_purchases(fit, days / unit, ux, utx, uT)

    # Monthly steps, each discounted from its end (as predict_clv): with d = 0 it is E(horizon).
    n_steps = int(np.ceil(horizon_days / DAYS_PER_MONTH - 1e-9))
    previous = np.zeros_like(ux)
    discounted = np.zeros_like(ux)
    for k in range(1, n_steps + 1):
        t_k = min(k * DAYS_PER_MONTH, float(horizon_days))
        cumulative = within(t_k)
        discounted += (cumulative - previous) / (1 + discount_rate_annual) ** (t_k / 365.0)
        previous = cumulative
    columns = {
        "p_alive": p_alive(fit, ux, utx, uT),
        **{f"expected_purchases_{w}d": within(w) for w in (30, 90, 365)},
        "expected_purchases_horizon": previous,
        "discounted": discounted,
        "expected_days_to_next_order": time_to_next_purchase(fit, ux, utx, uT, probability=next_order_probability) * unit,
    }
    return {name: values[inverse] for name, values in columns.items()}


def _distinct_rows(*columns: np.ndarray) -> tuple[list[np.ndarray], np.ndarray]:
    """Distinct (x, t_x, T) rows and the inverse index: predictions depend on them only."""
    unique, inverse = np.unique(np.column_stack(columns), axis=0, return_inverse=True)
    return [unique[:, j] for j in range(unique.shape[1])], inverse.reshape(-1)


def score_clv(
    summary: pl.DataFrame,
    parameters: pl.DataFrame,
    *,
    horizon_days: int,
    discount_rate_annual: float,
    gross_margin: float,
    next_order_probability: float,
    trusted_min_customers: int,
    trusted_min_repeat_buyers: int,
    as_of: dt.datetime | None = None,
) -> pl.DataFrame:
    """Per-customer predictions from the stored parameters (the fits are rebuilt, not redone).

    Columns: customer_id, p_alive, expected_purchases_30d / _90d / _365d / _horizon (repeat
    purchase occasions expected in the next 30/90/365/horizon days), expected_average_order_value
    (Gamma-Gamma conditional mean value per occasion), predicted_clv (gross_margin x discounted
    expected value over the horizon, monthly discounting, see ``predict_clv``), horizon_days,
    expected_days_to_next_order / expected_next_order_at (when P(at least one more purchase)
    reaches ``next_order_probability``; null when p_alive is not above it, see
    ``purchase_models.time_to_next_purchase``; under the fallback -log(1-p)/rate), average
    days between purchase occasions (recency / frequency; null without a repeat), purchase_model
    (the selected model; null under the fallback), gross_margin, has_minimum_data (at least
    ``trusted_min_customers`` customers and ``trusted_min_repeat_buyers`` repeat buyers: below
    that the fit is legal but not to be trusted), as_of, status and status_reason.
    """
    what = "score_clv"
    if not 0 < next_order_probability < 1 or gross_margin < 0:
        raise ValueError(f"{what}: next_order_probability must be in (0, 1) and gross_margin >= 0")
    fits = fits_from_parameters(parameters)
    unit = fits.time_unit_days or 1.0
    inputs = _model_inputs(summary, unit, what=what)
    if inputs.height == 0:
        return pl.DataFrame(schema={**PREDICTIONS_SCHEMA, "customer_id": summary.schema["customer_id"]})
    status = _prediction_status(fits)
    columns = _purchase_columns(
        fits.purchases, inputs, horizon_days=int(horizon_days), discount_rate_annual=float(discount_rate_annual),
        unit=unit, next_order_probability=float(next_order_probability),
    )
    order_value = _order_values(inputs, fits, population_mean_order_value(inputs))
    x = _array(inputs, "frequency")
    repeat_buyers = int(np.count_nonzero(x > 0))
    days_to_next = pl.Series("expected_days_to_next_order", columns.pop("expected_days_to_next_order")).fill_nan(None)
    discounted = columns.pop("discounted")
    return inputs.select("customer_id").with_columns(
        *(pl.Series(name, values) for name, values in columns.items()),
        pl.Series("expected_average_order_value", order_value),
        pl.Series("predicted_clv", float(gross_margin) * order_value * discounted),
        pl.lit(int(horizon_days), pl.Int64).alias("horizon_days"),
        days_to_next,
        (pl.lit(as_of, pl.Datetime("us")) + pl.duration(microseconds=(days_to_next * 86_400e6).round())).alias("expected_next_order_at"),
        pl.Series("average_days_between_orders", _days_between_occasions(x, _array(inputs, "recency") * unit)).fill_nan(None),
        pl.lit(fits.purchase_model, pl.String).alias("purchase_model"),
        pl.lit(float(gross_margin), pl.Float64).alias("gross_margin"),
        pl.lit(inputs.height >= trusted_min_customers and repeat_buyers >= trusted_min_repeat_buyers).alias("has_minimum_data"),
        pl.lit(as_of, pl.Datetime("us")).alias("as_of"),
        pl.lit(status.status, pl.String).alias("status"),
        pl.lit(status.reason, pl.String).alias("status_reason"),
    ).select(list(PREDICTIONS_SCHEMA))


def _prediction_status(fits: ClvFits) -> ModelStatus:
    """'bgnbd: ...; mbgnbd: ...; pareto_nbd: ...; gamma_gamma: ...' for what is degraded: the
    purchase part names every candidate when none could be used (their reasons come prefixed)."""
    reasons = [] if fits.purchases_status.is_ok else [str(fits.purchases_status.reason)]
    if fits.purchases is not None and not fits.purchases_status.is_ok:
        reasons = [f"{fits.purchase_model}: {fits.purchases_status.reason}"]
    if not fits.gamma_gamma_status.is_ok:
        reasons.append(f"gamma_gamma: {fits.gamma_gamma_status.reason}")
    return ModelStatus.degraded("; ".join(reasons)) if reasons else ModelStatus.ok()


def _days_between_occasions(x: np.ndarray, recency_days: np.ndarray) -> np.ndarray:
    return np.where(x > 0, recency_days / np.maximum(x, 1), np.nan)


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


def _month_boundaries(start: dt.datetime, end: dt.datetime) -> list[tuple[str, dt.datetime, dt.datetime]]:
    """Calendar months overlapping (start, end], clipped to it: (label 'YYYY-MM', from, to)."""
    months = []
    cursor = start
    while cursor < end:
        next_month = dt.datetime(cursor.year + cursor.month // 12, cursor.month % 12 + 1, 1)
        months.append((f"{cursor.year:04d}-{cursor.month:02d}", cursor, min(next_month, end)))
        cursor = next_month
    return months


def _candidate_predictions(
    inputs: pl.DataFrame, holdout_days: float, time_unit_days: float, *, min_customers: int, min_repeat_buyers: int
) -> dict[str, tuple[PurchaseFit | None, ModelStatus, Callable[[float], np.ndarray]]]:
    """Every purchase model and the Poisson baseline fitted on the calibration period, each with
    a function days -> expected purchases per customer in (cutoff, cutoff + days]. A degraded
    model is scored through the fallback (what the build would use in its place)."""
    x, t_x, T = (_array(inputs, c) for c in ("frequency", "recency", "T"))
    rate = fallback_purchase_rate(x, T)  # per time unit

    def baseline(days: float) -> np.ndarray:
        return rate * days / time_unit_days

    candidates: dict[str, tuple[PurchaseFit | None, ModelStatus, Callable[[float], np.ndarray]]] = {}
    for model in PURCHASE_MODELS:
        fit, status = fit_purchase_model(inputs, min_customers=min_customers, min_repeat_buyers=min_repeat_buyers, model=model)
        if status.is_ok:
            (ux, utx, uT), inverse = _distinct_rows(x, t_x, T)

            def predict(days: float, fit: PurchaseFit = fit, ux=ux, utx=utx, uT=uT, inverse=inverse) -> np.ndarray:
                return expected_purchases(fit, days / time_unit_days, ux, utx, uT)[inverse]

            candidates[model] = (fit, status, predict)
        else:
            candidates[model] = (fit, status, baseline)
    statuses = [s for _, s, _ in candidates.values()]
    all_degraded = not any(s.is_ok for s in statuses)
    baseline_status = (
        ModelStatus.degraded("every purchase model is degraded: " + "; ".join(f"{m}: {s.reason}" for m, (_, s, _) in candidates.items()))
        if all_degraded else ModelStatus.ok()
    )
    candidates[BASELINE] = (None, baseline_status, baseline)
    return candidates


def rank_candidates(
    losses: dict[str, np.ndarray], log_likelihoods: dict[str, float | None], ok: dict[str, bool]
) -> list[str]:
    """The selection rule (module docstring) on per-customer ``losses`` (squared errors of the
    window's purchases): lowest mean loss among ok models; within SELECTION_TIE_STANDARD_ERRORS
    paired standard errors of the best, the highest calibration log-likelihood; then the other
    ok models by mean loss, then the degraded ones, the Poisson baseline last -- or first when
    every model is degraded (it is then what scores)."""
    models = [m for m in losses if m != BASELINE]
    usable = sorted((m for m in models if ok[m]), key=lambda m: (float(losses[m].mean()), m))
    if usable:
        best = usable[0]
        n = len(losses[best])

        def tied(m: str) -> bool:
            difference = losses[m] - losses[best]
            se = float(difference.std(ddof=1) / np.sqrt(n)) if n > 1 else 0.0
            return float(difference.mean()) <= SELECTION_TIE_STANDARD_ERRORS * se

        ties = sorted((m for m in usable if tied(m)), key=lambda m: (-(log_likelihoods[m] or -np.inf), m))
        usable = ties + [m for m in usable if m not in ties]
    degraded = [m for m in models if not ok[m]]
    return [*usable, *degraded, BASELINE] if usable else [BASELINE, *degraded]


def _calibration_columns(fit: PurchaseFit | None) -> dict[str, float | bool | None]:
    names = ("r", "alpha", "a", "b", "s", "beta")
    values: dict[str, float | bool | None] = {f"calibration_{n}": getattr(fit, n, None) for n in names}
    values["calibration_log_likelihood"] = None if fit is None else fit.log_likelihood
    values["calibration_converged"] = None if fit is None else fit.converged
    return values


class SplitEvaluation(NamedTuple):
    """One split's rows per model (without the selection columns), its ranking and which
    purchase models (and the baseline) were usable on it."""

    rows: dict[str, pl.DataFrame]
    ranking: list[str]
    ok: dict[str, bool]


def default_ranking(ok: dict[str, bool]) -> list[str]:
    """The ranking without a validation split (too little history): the usable models in
    registry order (BG/NBD first), then the degraded ones; the Poisson baseline last, or first
    when every model is degraded."""
    models = [m for m in ok if m != BASELINE]
    usable = [m for m in models if ok[m]]
    degraded = [m for m in models if not ok[m]]
    return [*usable, *degraded, BASELINE] if usable else [BASELINE, *degraded]


def evaluate_clv_holdout(
    calibration_summary: pl.DataFrame,
    holdout_occasions: pl.DataFrame | None = None,
    *,
    time_unit_days: float,
    as_of: dt.datetime | None,
    min_customers: int,
    min_repeat_buyers: int,
    gross_margin: float,
) -> pl.DataFrame:
    """Choose the purchase model on the validation split, report every candidate on both splits.

    ``calibration_summary`` holds one block per ``split`` ('validation', 'test'; see
    int_clv_calibration_summary): each customer's summary up to the split's
    ``calibration_end_at`` and their occasions in the label window (calibration_end_at,
    holdout_end_at]. On each split every candidate is fitted on the calibration period and
    scored on the label window (``evaluate_split``); the VALIDATION ranking
    (``rank_candidates``) sets is_selected / selection_rank on the rows of both splits, so the
    test rows report the chosen model on a later window its choice never saw. Without
    validation rows (a short history) the ranking is ``default_ranking`` of the test fits.

    Long table, one row per split x model x breakdown x bucket (see ``evaluate_split``).
    """
    what = "evaluate_clv_holdout"
    inputs = _model_inputs(calibration_summary, time_unit_days, what=what, columns=CALIBRATION_COLUMNS)
    if inputs.height == 0:
        return pl.DataFrame(schema=EVALUATION_SCHEMA)
    unknown = set(inputs.get_column("split").unique().to_list()) - set(SPLITS)
    if unknown:
        raise ValueError(f"{what}: split must be one of {list(SPLITS)}, got {sorted(map(str, unknown))}")
    if holdout_occasions is not None:
        require_columns(holdout_occasions, ["split"], what=f"{what} (holdout_occasions)")
    results = {}
    for split in SPLITS:
        part = inputs.filter(pl.col("split") == split)
        if part.height:
            occasions = None if holdout_occasions is None else holdout_occasions.filter(pl.col("split") == split)
            results[split] = evaluate_split(
                part, occasions, time_unit_days=time_unit_days, min_customers=min_customers,
                min_repeat_buyers=min_repeat_buyers, gross_margin=gross_margin,
            )
    if VALIDATION in results:
        ranking = results[VALIDATION].ranking
    else:
        ranking = default_ranking(results[TEST].ok)
    frames = [
        rows.with_columns(
            pl.lit(split).alias("split"),
            pl.lit(model).alias("model"),
            pl.lit(ranking[0] == model).alias("is_selected"),
            pl.lit(ranking.index(model) + 1, pl.Int64).alias("selection_rank"),
        )
        for split, result in results.items()
        for model, rows in result.rows.items()
    ]
    return pl.concat(frames, how="diagonal_relaxed").with_columns(
        pl.lit(float(gross_margin), pl.Float64).alias("gross_margin"),
        pl.lit(float(time_unit_days), pl.Float64).alias("time_unit_days"),
        pl.lit(as_of, pl.Datetime("us")).alias("as_of"),
    ).select(list(EVALUATION_SCHEMA)).cast(EVALUATION_SCHEMA)


def _one_value(inputs: pl.DataFrame, column: str, *, what: str) -> object:
    values = inputs.get_column(column).unique().to_list()
    if len(values) != 1 or values[0] is None:
        raise ValueError(f"{what}: {column} must be one non-null value per split, got {values[:5]}")
    return values[0]


def evaluate_split(
    inputs: pl.DataFrame,
    holdout_occasions: pl.DataFrame | None,
    *,
    time_unit_days: float,
    min_customers: int,
    min_repeat_buyers: int,
    gross_margin: float,
) -> SplitEvaluation:
    """Fit every candidate on one split's calibration period; compare predicted and actual
    label-window purchases AND value; rank the candidates (``rank_candidates``).

    Rows per model ('bgnbd', 'mbgnbd', 'pareto_nbd', and 'poisson_baseline': the fallback, the
    simple baseline every model must beat) x breakdown x bucket:

    * breakdown 'frequency_bucket': calibration repeat purchases '0'..'6', '7+' and 'all'
      (also in frequency_bucket) -- every row always present;
    * 'predicted_revenue_decile': '01' (highest predicted value) .. '10', the calibration
      table of value (predicted vs actual mean per decile);
    * 'holdout_month': calendar month 'YYYY-MM' of the label window (needs
      ``holdout_occasions`` with holdout_month and occasion_value): predicted vs actual
      purchases and value per month, so a seasonal bias is visible (the models have no season).

    Value = gross_margin x (Gamma-Gamma expected order value x expected purchases) against
    gross_margin x actual completed revenue in the window (undiscounted). Per-customer metrics
    (MAE, RMSE, Spearman, top-20% capture) are null on month rows. The calibration fit's parameters
    sit on every row of its model (calibration_*); they are NOT the ones used for scoring
    (ml_clv_model_parameters, fitted on all data up to as_of).
    """
    what = "evaluate_clv_holdout"
    holdout_days = float(_one_value(inputs, "holdout_days", what=what))
    if not holdout_days >= 0:
        raise ValueError(f"{what}: holdout_days must be >= 0, got {holdout_days}")
    calibration_end = _one_value(inputs, "calibration_end_at", what=what)
    holdout_end = _one_value(inputs, "holdout_end_at", what=what)

    candidates = _candidate_predictions(
        inputs, holdout_days, time_unit_days, min_customers=min_customers, min_repeat_buyers=min_repeat_buyers
    )
    spend, spend_status = fit_spend_model(inputs, min_repeat_buyers=min_repeat_buyers)
    population_mean = population_mean_order_value(inputs)
    order_value = _order_values(inputs, ClvFits(None, spend if spend_status.is_ok else None, time_unit_days), population_mean)
    actual_purchases = _array(inputs, "holdout_purchases")
    actual_value = float(gross_margin) * _array(inputs, "holdout_revenue")
    predicted = {m: predict(holdout_days) for m, (_, _, predict) in candidates.items()}
    ok = {m: status.is_ok for m, (_, status, _) in candidates.items()}
    ranking = rank_candidates(
        {m: (p - actual_purchases) ** 2 for m, p in predicted.items()},
        {m: (fit.log_likelihood if fit is not None else None) for m, (fit, _, _) in candidates.items()},
        ok,
    )
    months = [] if holdout_occasions is None else _month_boundaries(calibration_end, holdout_end)
    actual_months = _actual_by_month(holdout_occasions, gross_margin) if months else None

    rows = {}
    for model, (fit, status, predict) in candidates.items():
        per_customer = inputs.select(
            "customer_id",
            pl.Series("frequency_bucket", _frequency_bucket(_array(inputs, "frequency"))),
            pl.Series("predicted_purchases", predicted[model]),
            pl.Series("actual_purchases", actual_purchases),
            pl.Series("predicted_value", float(gross_margin) * order_value * predicted[model]),
            pl.Series("actual_value", actual_value),
        )
        per_customer = per_customer.with_columns(
            value_decile(per_customer["predicted_value"], per_customer["customer_id"]).alias("_decile")
        )
        sections = [
            _bucket_rows(per_customer),
            group_metrics(per_customer, "_decile").sort("_decile").select(
                pl.lit("predicted_revenue_decile").alias("breakdown"),
                pl.format("{}", pl.col("_decile").cast(pl.String).str.zfill(2)).alias("bucket"),
                pl.lit(None, pl.String).alias("frequency_bucket"),
                *METRIC_SCHEMA,
            ),
        ]
        if months:
            sections.append(_month_rows(months, calibration_end, predict, order_value, gross_margin, actual_months))
        row_status = combined_status({model: status, "gamma_gamma": spend_status})
        comparison = {} if model == BASELINE else _baseline_comparison(
            predicted[model], predicted[BASELINE], actual_purchases, float(gross_margin) * order_value, actual_value
        )
        overall = (pl.col("breakdown") == "frequency_bucket") & (pl.col("bucket") == "all")
        rows[model] = pl.concat(sections, how="diagonal_relaxed").with_columns(
            *(pl.when(overall).then(pl.lit(comparison.get(k), v)).alias(k) for k, v in BASELINE_COMPARISON_SCHEMA.items()),
            *(pl.lit(v, EVALUATION_SCHEMA[k]).alias(k) for k, v in _calibration_columns(fit).items()),
            pl.lit(holdout_days, pl.Float64).alias("holdout_days"),
            pl.lit(calibration_end, pl.Datetime("us")).alias("calibration_end_at"),
            pl.lit(holdout_end, pl.Datetime("us")).alias("holdout_end_at"),
            pl.lit(row_status.status, pl.String).alias("status"),
            pl.lit(row_status.reason, pl.String).alias("status_reason"),
        )
    return SplitEvaluation(rows, ranking, ok)


def _baseline_comparison(
    predicted: np.ndarray, baseline: np.ndarray, actual: np.ndarray, order_value: np.ndarray, actual_value: np.ndarray
) -> dict[str, float | None]:
    """Per-customer differences model - baseline of the purchases squared error and the value
    absolute error: mean and 95% interval (paired standard error, normal approximation)."""
    differences = {
        "purchases_squared_error": (predicted - actual) ** 2 - (baseline - actual) ** 2,
        "revenue_absolute_error": np.abs(order_value * predicted - actual_value) - np.abs(order_value * baseline - actual_value),
    }
    values: dict[str, float | None] = {}
    for metric, d in differences.items():
        mean = float(d.mean()) if d.size else None
        half = Z_95 * float(d.std(ddof=1)) / np.sqrt(d.size) if d.size > 1 else None
        key = f"baseline_{metric}_difference"
        values[key] = mean
        values[f"{key}_ci_low"] = None if half is None else mean - half
        values[f"{key}_ci_high"] = None if half is None else mean + half
    return values


def _bucket_rows(per_customer: pl.DataFrame) -> pl.DataFrame:
    """Frequency buckets '0'..'7+' and 'all', every one present (empty: n_customers 0)."""
    by_bucket = group_metrics(per_customer, "frequency_bucket")
    overall = group_metrics(per_customer.with_columns(pl.lit("all").alias("frequency_bucket")), "frequency_bucket")
    skeleton = pl.DataFrame({"frequency_bucket": [*FREQUENCY_BUCKETS, "all"]})
    return skeleton.join(pl.concat([by_bucket, overall]), on="frequency_bucket", how="left", maintain_order="left").with_columns(
        pl.col("n_customers").fill_null(0),
        *(pl.col(c).fill_null(0.0) for c in ("actual_purchases_total", "predicted_purchases_total", "error_total",
                                             "actual_revenue_total", "predicted_revenue_total")),
    ).select(pl.lit("frequency_bucket").alias("breakdown"), pl.col("frequency_bucket").alias("bucket"), "frequency_bucket", *METRIC_SCHEMA)


def _actual_by_month(holdout_occasions: pl.DataFrame, gross_margin: float) -> dict[str, tuple[float, float]]:
    require_columns(holdout_occasions, ["customer_id", "holdout_month", "occasion_value"], what="evaluate_clv_holdout (holdout_occasions)")
    # Same input, same bits: the warehouse returns rows in any order, so sum in a fixed order
    # (exactly, when the values are decimals) before converting.
    ordered = holdout_occasions.sort("customer_id", "holdout_month", "occasion_value")
    table = ordered.group_by(pl.col("holdout_month").dt.strftime("%Y-%m").alias("month"), maintain_order=True).agg(
        pl.len().alias("n"), pl.col("occasion_value").sum().cast(pl.Float64).alias("value")
    )
    return {row["month"]: (float(row["n"]), float(gross_margin) * row["value"]) for row in table.iter_rows(named=True)}


def _month_rows(
    months: list[tuple[str, dt.datetime, dt.datetime]],
    calibration_end: dt.datetime,
    predict: Callable[[float], np.ndarray],
    order_value: np.ndarray,
    gross_margin: float,
    actual: dict[str, tuple[float, float]],
) -> pl.DataFrame:
    """Predicted (difference of the cumulative expectation) vs actual purchases and value per month."""
    rows = []
    n = len(order_value)
    for label, begin, end in months:
        start_days = (begin - calibration_end).total_seconds() / 86_400
        end_days = (end - calibration_end).total_seconds() / 86_400
        increment = predict(end_days) - predict(start_days)
        actual_n, actual_value = actual.get(label, (0.0, 0.0))
        rows.append({
            "bucket": label, "n_customers": n,
            "actual_purchases_total": actual_n, "predicted_purchases_total": float(increment.sum()),
            "actual_revenue_total": actual_value,
            "predicted_revenue_total": float(gross_margin * np.dot(order_value, increment)),
        })
    return pl.DataFrame(rows).with_columns(
        pl.lit("holdout_month").alias("breakdown"),
        (pl.col("actual_purchases_total") / pl.col("n_customers")).alias("actual_purchases_mean"),
        (pl.col("predicted_purchases_total") / pl.col("n_customers")).alias("predicted_purchases_mean"),
        (pl.col("predicted_purchases_total") - pl.col("actual_purchases_total")).alias("error_total"),
        (pl.col("actual_revenue_total") / pl.col("n_customers")).alias("actual_revenue_mean"),
        (pl.col("predicted_revenue_total") / pl.col("n_customers")).alias("predicted_revenue_mean"),
    ).with_columns(
        (pl.col("predicted_purchases_mean") - pl.col("actual_purchases_mean")).alias("error_mean"),
        pl.when(pl.col("actual_purchases_total") > 0)
        .then(pl.col("error_total") / pl.col("actual_purchases_total"))
        .alias("relative_error"),
        pl.when(pl.col("actual_revenue_total") > 0)
        .then((pl.col("predicted_revenue_total") - pl.col("actual_revenue_total")) / pl.col("actual_revenue_total"))
        .alias("revenue_relative_error"),
    )
