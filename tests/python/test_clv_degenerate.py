"""Degenerate data for the CLV models (issue 9, part 4): each case gets a status and a reason,
predictions come from the documented fallback, nothing raises.

The shops come from tests/fixtures/degenerate_data.py (also used by the end-to-end builds);
the summary is the polars twin of the SQL one (int_clv_customer_summary).
"""

from __future__ import annotations

import math
import sys
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from ecom_growth.clv import BGNBDFit, GammaGammaFit
from ecom_growth.clv.pipeline import evaluate_clv_holdout, fit_clv_models, population_mean_order_value, score_clv
from ecom_growth.clv.predict import discounted_days
from ecom_growth.clv.status import (
    ModelStatus,
    bgnbd_data_problem,
    bgnbd_fit_problem,
    combined_status,
    fallback_order_value,
    fallback_purchase_rate,
    gamma_gamma_fit_problem,
    within_customer_cv,
)

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "fixtures"))
import degenerate_data as shops  # noqa: E402

# The project's defaults (dbt_project.yml vars clv_min_customers, clv_min_repeat_buyers).
MINIMA = {"min_customers": 50, "min_repeat_buyers": 20}
SCORING = {"gross_margin": 1.0, "next_order_probability": 0.5, "trusted_min_customers": 500, "trusted_min_repeat_buyers": 100}
HORIZON = 365


def _fit_and_score(tables: dict[str, pl.DataFrame]) -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame]:
    summary = shops.clv_summary(tables)
    parameters = fit_clv_models(summary, **MINIMA, time_unit_days=1.0)
    scored = score_clv(summary, parameters, horizon_days=HORIZON, discount_rate_annual=0.1, **SCORING)
    return summary, parameters, scored


def _status(parameters: pl.DataFrame, model: str) -> ModelStatus:
    rows = parameters.filter(pl.col("model") == model).select("status", "status_reason").unique().rows()
    assert len(rows) == 1, rows
    return ModelStatus(*rows[0])


def _assert_valid_predictions(scored: pl.DataFrame) -> None:
    for column in ("p_alive", "expected_purchases_365d", "expected_average_order_value", "predicted_clv"):
        values = scored[column].to_numpy()
        assert np.all(np.isfinite(values)) and np.all(values >= 0), column
    assert (scored["p_alive"] <= 1).all()


# --- the five crafted shops ---------------------------------------------------------------------


def test_constant_order_value_degrades_spend_only_and_uses_each_customers_own_value():
    summary, parameters, scored = _fit_and_score(shops.constant_order_value())
    assert _status(parameters, "bgnbd").is_ok
    spend = _status(parameters, "gamma_gamma")
    assert spend.status == "degraded"
    assert spend.reason.startswith("order values do not vary within customers")
    assert "own average order value" in spend.reason
    assert parameters.filter(pl.col("model") == "gamma_gamma")["estimate"].null_count() == 3  # not fitted
    assert scored["expected_average_order_value"].unique().to_list() == [25.0]
    assert scored["status"].unique().to_list() == ["degraded"]
    assert "gamma_gamma: order values do not vary" in scored["status_reason"][0]
    _assert_valid_predictions(scored)


def test_constant_order_value_is_caught_by_the_fit_check_without_the_stddev_column():
    # A summary without repeat_order_value_stddev: the data check cannot see it, the fit can.
    summary = shops.clv_summary(shops.constant_order_value()).drop("repeat_order_value_stddev")
    spend = _status(fit_clv_models(summary, **MINIMA, time_unit_days=1.0), "gamma_gamma")
    assert spend.status == "degraded"
    assert "not identified" in spend.reason and "population mean order value (25.00)" in spend.reason


def test_no_repeat_buyers_degrade_both_models_to_zero_purchases_at_the_population_mean():
    tables = shops.no_repeat_buyers()
    summary, parameters, scored = _fit_and_score(tables)
    assert _status(parameters, "bgnbd").reason.startswith("no customer made a repeat purchase (400 customers)")
    assert _status(parameters, "gamma_gamma").reason.startswith("no repeat buyer with a positive repeat order value")
    assert parameters["estimate"].null_count() == 15
    mean = float(tables["orders"]["order_total"].mean())
    assert scored["p_alive"].unique().to_list() == [1.0]
    assert scored["expected_purchases_365d"].unique().to_list() == [0.0]
    assert scored["predicted_clv"].unique().to_list() == [0.0]
    assert scored["expected_average_order_value"].to_list() == pytest.approx([mean] * 400)


def test_no_dropout_degrades_bgnbd_and_the_fallback_buys_at_the_steady_pace():
    summary, parameters, scored = _fit_and_score(shops.no_dropout())
    purchases = _status(parameters, "bgnbd")
    assert purchases.reason.startswith("nobody appears to drop out")
    assert "no-dropout Poisson estimate" in purchases.reason
    assert _status(parameters, "gamma_gamma").is_ok
    # Everybody buys every 14 days (+-20%): about 26 purchases a year, and alive.
    assert scored["p_alive"].unique().to_list() == [1.0]
    assert scored["expected_purchases_365d"].mean() == pytest.approx(365 / 14, rel=0.1)
    _assert_valid_predictions(scored)


def test_single_product_leaves_the_clv_models_ok():
    tables = shops.single_product()
    assert tables["products"].height == 1 and tables["order_items"]["product_id"].n_unique() == 1
    _, parameters, scored = _fit_and_score(tables)
    # BG/NBD, MBG/NBD and Gamma-Gamma are fine; Pareto/NBD may not be (its dropout heterogeneity
    # runs to a point mass here, s and beta -> infinity): it is then degraded and not selected.
    statuses = dict(parameters.select("model", "status").unique().rows())
    assert {m: statuses[m] for m in ("bgnbd", "mbgnbd", "gamma_gamma")} == {"bgnbd": "ok", "mbgnbd": "ok", "gamma_gamma": "ok"}
    assert parameters.filter(pl.col("is_selected"))["status"].unique().to_list() == ["ok"]
    assert scored["status"].unique().to_list() == ["ok"] and scored["status_reason"].null_count() == scored.height


def test_single_churn_class_shop_has_no_90_day_gap_and_no_dropout_to_learn():
    tables = shops.single_churn_class()
    orders = shops.completed_orders(tables).sort("customer_id", "ordered_at")
    gaps = orders.with_columns(
        (pl.col("ordered_at").shift(-1).over("customer_id").fill_null(shops.END) - pl.col("ordered_at")).alias("gap")
    )
    assert gaps["gap"].dt.total_days().max() < 90  # nobody can be labelled churned
    _, parameters, _ = _fit_and_score(tables)
    assert _status(parameters, "bgnbd").reason.startswith("nobody appears to drop out")


def test_too_few_customers_degrade_bgnbd():
    tables = shops.single_product(n_customers=30)
    summary = shops.clv_summary(tables)
    parameters = fit_clv_models(summary, **MINIMA, time_unit_days=1.0)
    assert _status(parameters, "bgnbd").reason.startswith("only 30 customers with a completed order")
    repeat_buyers = int((summary["frequency"] > 0).sum())
    assert _status(parameters, "gamma_gamma").is_ok  # enough repeat buyers for spend (>= 20)
    stricter = fit_clv_models(summary, min_customers=1, min_repeat_buyers=repeat_buyers + 1, time_unit_days=1.0)
    assert _status(stricter, "gamma_gamma").reason.startswith(f"only {repeat_buyers} repeat buyers with positive spend")
    assert _status(stricter, "bgnbd").reason.startswith(f"only {repeat_buyers} repeat buyers")


def test_the_holdout_evaluation_of_a_degraded_fit_measures_the_fallback():
    tables = shops.no_dropout()
    cutoff = shops.END - (shops.END - shops.START) / 4
    calibration = shops.clv_summary(tables, cutoff)
    holdout = (
        shops.completed_orders(tables)
        .filter(pl.col("ordered_at") > cutoff)
        .group_by("customer_id")
        .agg(pl.len().cast(pl.Int64).alias("holdout_purchases"), pl.col("order_total").sum().alias("holdout_revenue"))
    )
    holdout_days = (shops.END - cutoff).total_seconds() / 86_400
    calibration = calibration.join(holdout, on="customer_id", how="left").with_columns(
        pl.col("holdout_purchases").fill_null(0), pl.col("holdout_revenue").fill_null(0.0), pl.lit(holdout_days).alias("holdout_days"),
        pl.lit("test").alias("split"), pl.lit(cutoff).alias("calibration_end_at"), pl.lit(shops.END).alias("holdout_end_at"),
    )
    table = evaluate_clv_holdout(calibration, **MINIMA, time_unit_days=1.0, as_of=shops.END, gross_margin=1.0)
    overall = table.filter((pl.col("model") == "bgnbd") & (pl.col("bucket") == "all")).row(0, named=True)
    assert overall["status"] == "degraded" and overall["status_reason"].startswith("bgnbd: nobody appears to drop out")
    # The fallback predicts the steady buyers' holdout purchases well (they are Poisson-like).
    assert abs(overall["relative_error"]) < 0.15


# --- the checks and fallbacks themselves ------------------------------------------------------------


def test_model_status_requires_a_reason_exactly_when_degraded():
    assert ModelStatus.ok().is_ok and ModelStatus.ok().reason is None
    with pytest.raises(ValueError):
        ModelStatus("degraded")
    with pytest.raises(ValueError):
        ModelStatus("ok", "why")
    with pytest.raises(ValueError):
        ModelStatus("broken", "why")


def test_combined_status_prefixes_each_degraded_model():
    assert combined_status({"a": ModelStatus.ok(), "b": ModelStatus.ok()}).is_ok
    both = combined_status({"a": ModelStatus.degraded("x"), "b": ModelStatus.ok(), "c": ModelStatus.degraded("y")})
    assert both == ModelStatus("degraded", "a: x; c: y")


@pytest.mark.parametrize(
    "x, expected",
    [
        ([0, 0, 0], "no customer made a repeat purchase (3 customers)"),
        ([1] * 10, "only 10 customers"),
        ([0] * 95 + [1] * 5, "only 5 repeat buyers"),
        ([0] * 50 + [1] * 50, None),
    ],
)
def test_bgnbd_data_problem(x, expected):
    problem = bgnbd_data_problem(np.array(x, dtype=float), min_customers=50, min_repeat_buyers=20)
    assert problem == expected if expected is None else problem.startswith(expected)


def test_within_customer_cv_pools_the_variances_by_degrees_of_freedom():
    # Customer 1: 3 repeat orders, sd 2; customer 2: 5 repeat orders, sd 4; customer 3 (x=1) ignored.
    x = np.array([3.0, 5.0, 1.0])
    m = np.array([10.0, 30.0, 99.0])
    sd = np.array([2.0, 4.0, np.nan])
    expected = math.sqrt((2 * 4 + 4 * 16) / 6) / 20.0
    assert within_customer_cv(x, m, sd) == pytest.approx(expected)
    assert within_customer_cv(x, m, None) is None
    assert within_customer_cv(np.array([1.0]), np.array([5.0]), np.array([np.nan])) is None


def _bgnbd(r=0.7, alpha=50.0, a=0.9, b=3.5, se=0.1, converged=True) -> BGNBDFit:
    return BGNBDFit(r, alpha, a, b, se, se, se, se, -100.0, 100, converged)


def test_bgnbd_fit_problem_names_the_runaway():
    assert bgnbd_fit_problem(_bgnbd()) is None
    assert bgnbd_fit_problem(_bgnbd(a=1e-6, b=50.0)).startswith("nobody appears to drop out")
    assert "r -> infinity" in bgnbd_fit_problem(_bgnbd(r=math.exp(20)))
    assert "alpha -> 0" in bgnbd_fit_problem(_bgnbd(alpha=math.exp(-20)))
    assert "Hessian is singular" in bgnbd_fit_problem(_bgnbd(se=float("nan")))
    assert bgnbd_fit_problem(_bgnbd(converged=False)) == "the optimiser did not converge"


def test_gamma_gamma_fit_problem_names_the_runaway():
    fit = GammaGammaFit(4.0, 3.0, 60.0, 0.1, 0.1, 0.1, -10.0, 50, True, 0.0)
    assert gamma_gamma_fit_problem(fit) is None
    runaway = GammaGammaFit(math.exp(20), 3.0, 60.0, 0.1, 0.1, 0.1, -10.0, 50, False, 0.0)
    assert "p -> infinity" in gamma_gamma_fit_problem(runaway)
    # stopped short of the box with finite standard errors (one CPU's rounding on constant order
    # values): a within-customer CV 1/sqrt(p) under 1% is the same degeneracy
    stalled = GammaGammaFit(19906.0, 65099.0, 81.8, 8245.0, 26760.0, 13.1, -10.0, 50, True, 0.0)
    assert "not identified" in gamma_gamma_fit_problem(stalled)
    assert "1/sqrt(p) = 7.1e-03" in gamma_gamma_fit_problem(stalled)
    edge = GammaGammaFit(9999.0, 3.0, 60.0, 0.1, 0.1, 0.1, -10.0, 50, True, 0.0)  # CV 1.0001%: usable
    assert gamma_gamma_fit_problem(edge) is None


def test_fallback_purchase_rate_shrinks_to_the_pooled_rate():
    x = np.array([0.0, 4.0, 2.0])
    T = np.array([10.0, 100.0, 50.0])
    beta = 160.0 / 6.0  # mean time per repeat purchase
    np.testing.assert_allclose(fallback_purchase_rate(x, T), (x + 1) / (T + beta))
    # Long-observed customers converge to their own rate; nobody repeating -> rate 0.
    assert fallback_purchase_rate(np.array([100.0, 0.0]), np.array([1000.0, 1000.0]))[0] == pytest.approx(0.1, rel=0.01)
    assert fallback_purchase_rate(np.zeros(3), np.ones(3)).tolist() == [0.0, 0.0, 0.0]
    # Observed for no time at all: still finite.
    assert np.all(np.isfinite(fallback_purchase_rate(np.array([1.0]), np.array([0.0]))))


def test_fallback_order_value():
    aov = np.array([10.0, 30.0])
    assert fallback_order_value(aov, 20.0, constant_within_customers=True).tolist() == [10.0, 30.0]
    assert fallback_order_value(aov, 20.0, constant_within_customers=False).tolist() == [20.0, 20.0]


def test_discounted_days_is_the_horizon_without_discounting_and_shrinks_with_it():
    assert discounted_days(365, 0.0) == pytest.approx(365.0)
    assert discounted_days(365, 0.1) < 365.0
    # Twelve monthly steps, each discounted from its end.
    steps = np.arange(1, 13) * 365 / 12
    assert discounted_days(365, 0.1) == pytest.approx(float(np.sum(365 / 12 / 1.1 ** (steps / 365))))
    with pytest.raises(ValueError):
        discounted_days(0, 0.1)


def test_fallback_clv_is_rate_times_discounted_days_times_order_value():
    summary, parameters, scored = _fit_and_score(shops.no_repeat_buyers())
    # Make one customer a repeat buyer; the rest still have rate 0 under the fallback.
    summary = summary.with_columns(
        pl.when(pl.col("customer_id") == "C00000").then(2).otherwise(pl.col("frequency")).alias("frequency"),
        pl.when(pl.col("customer_id") == "C00000").then(pl.col("t_days") / 2).otherwise(pl.col("recency_days")).alias("recency_days"),
    )
    scored = score_clv(summary, parameters, horizon_days=HORIZON, discount_rate_annual=0.1, **SCORING)
    row = scored.filter(pl.col("customer_id") == "C00000").row(0, named=True)
    first = summary.filter(pl.col("customer_id") == "C00000").row(0, named=True)
    rate = (2 + 1) / (first["t_days"] + summary["t_days"].sum() / 2)
    assert row["expected_purchases_365d"] == pytest.approx(rate * 365)
    assert row["expected_average_order_value"] == pytest.approx(population_mean_order_value(summary))
    assert row["predicted_clv"] == pytest.approx(rate * discounted_days(HORIZON, 0.1) * row["expected_average_order_value"])
