"""Tests for ecom_growth.clv.pipeline: what the dbt CLV models call.

The pipeline must give exactly what the library gives when called directly (it only converts
units, stores and rebuilds), score from the stored parameters without refitting, and turn
degenerate populations into empty or documented fallback tables instead of errors.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import polars as pl
import pytest

from ecom_growth.clv import fit_bgnbd, fit_gamma_gamma, predict_clv
from ecom_growth.clv import pipeline
from ecom_growth.clv.pipeline import (
    EVALUATION_SCHEMA,
    PARAMETERS_SCHEMA,
    PREDICTIONS_SCHEMA,
    evaluate_clv_holdout,
    fit_clv_models,
    fits_from_parameters,
    population_mean_order_value,
    score_clv,
)

AS_OF = dt.datetime(2026, 1, 1)


def simulate_summary(n: int, *, holdout_days: float = 0.0, seed: int = 0) -> pl.DataFrame:
    """The SQL summary's columns (days) from an exact BG/NBD + Gamma-Gamma draw."""
    rng = np.random.default_rng(seed)
    lam = rng.gamma(0.75, 1 / 60.0, n)
    p_drop = rng.beta(0.9, 3.5, n)
    T = rng.uniform(30, 700, n)
    end = T + holdout_days
    k = np.minimum(rng.geometric(p_drop), 400)
    owner = np.repeat(np.arange(n), k)
    cumulative = np.cumsum(rng.exponential(1.0, int(k.sum())) / lam[owner])
    start = np.cumsum(k) - k
    times = cumulative - np.concatenate([[0.0], cumulative])[start][owner]
    in_cal = times <= T[owner]
    x = np.bincount(owner[in_cal], minlength=n)
    t_x = np.zeros(n)
    np.maximum.at(t_x, owner[in_cal], times[in_cal])
    holdout = np.bincount(owner[(times > T[owner]) & (times <= end[owner])], minlength=n)
    nu = rng.gamma(4.0, 1 / 60.0, n)
    repeat_spend = rng.gamma(4.0 * np.maximum(x, 1), 1 / nu)
    first = rng.gamma(4.0, 1 / nu)
    monetary = np.where(x > 0, repeat_spend / np.maximum(x, 1), np.nan)
    aov = (first + np.where(x > 0, repeat_spend, 0.0)) / (x + 1)
    return pl.DataFrame(
        {
            "customer_id": [f"c{i:05d}" for i in range(n)],
            "frequency": x.astype(np.int64),
            "recency_days": t_x,
            "t_days": T,
            "monetary_value": monetary,
            "average_order_value": aov,
            "holdout_purchases": holdout.astype(np.int64),
            "holdout_days": np.full(n, holdout_days),
        }
    ).with_columns(pl.col("monetary_value").fill_nan(None))


@pytest.fixture(scope="module")
def summary() -> pl.DataFrame:
    return simulate_summary(4000, holdout_days=180.0, seed=11)


@pytest.fixture(scope="module")
def parameters(summary: pl.DataFrame) -> pl.DataFrame:
    return fit_clv_models(summary, time_unit_days=1.0, as_of=AS_OF)


def library_inputs(summary: pl.DataFrame, unit: float = 1.0) -> pl.DataFrame:
    return summary.with_columns(
        (pl.col("recency_days") / unit).alias("recency"), (pl.col("t_days") / unit).alias("T")
    )


def tiny(rows: list[tuple[str, int, float, float, float | None, float]]) -> pl.DataFrame:
    return pl.DataFrame(
        rows,
        schema={
            "customer_id": pl.String,
            "frequency": pl.Int64,
            "recency_days": pl.Float64,
            "t_days": pl.Float64,
            "monetary_value": pl.Float64,
            "average_order_value": pl.Float64,
        },
        orient="row",
    )


# --- fit_clv_models ---------------------------------------------------------------------------


def test_parameters_are_the_direct_library_fits(summary, parameters):
    purchases = fit_bgnbd(library_inputs(summary))
    spend = fit_gamma_gamma(library_inputs(summary))
    assert parameters.schema == pl.Schema(PARAMETERS_SCHEMA)
    assert parameters.select("model", "parameter").rows() == [
        ("bgnbd", "r"), ("bgnbd", "alpha"), ("bgnbd", "a"), ("bgnbd", "b"),
        ("gamma_gamma", "p"), ("gamma_gamma", "q"), ("gamma_gamma", "gamma"),
    ]
    np.testing.assert_allclose(parameters["estimate"].to_numpy(), [*purchases.params, *spend.params], rtol=1e-9)
    assert parameters["n_customers"].to_list() == [4000] * 4 + [spend.n_customers] * 3
    assert parameters["time_unit_days"].unique().to_list() == [1.0]
    assert parameters["as_of"].unique().to_list() == [AS_OF]
    correlation = parameters.filter(pl.col("model") == "gamma_gamma")["frequency_monetary_correlation"]
    assert correlation.to_list() == pytest.approx([spend.frequency_monetary_correlation] * 3)
    assert parameters.filter(pl.col("model") == "bgnbd")["frequency_monetary_correlation"].null_count() == 4


def test_fits_do_not_depend_on_the_row_order_of_the_input(summary, parameters):
    shuffled = summary.sample(fraction=1.0, shuffle=True, seed=2)
    assert fit_clv_models(shuffled, time_unit_days=1.0, as_of=AS_OF).equals(parameters)
    scored = score_clv(summary, parameters, horizon_days=365, discount_rate_annual=0.1)
    assert score_clv(shuffled, parameters, horizon_days=365, discount_rate_annual=0.1).equals(scored)


def test_time_unit_rescales_alpha_only(summary, parameters):
    # BG/NBD in weeks is the same model with alpha (a time scale) divided by 7.
    weekly = fit_clv_models(summary, time_unit_days=7.0)
    days = dict(parameters.filter(pl.col("model") == "bgnbd").select("parameter", "estimate").rows())
    weeks = dict(weekly.filter(pl.col("model") == "bgnbd").select("parameter", "estimate").rows())
    assert weeks["alpha"] == pytest.approx(days["alpha"] / 7, rel=1e-4)
    for name in ("r", "a", "b"):
        assert weeks[name] == pytest.approx(days[name], rel=1e-4)
    assert weekly["time_unit_days"].unique().to_list() == [7.0]
    assert weekly["as_of"].null_count() == weekly.height


def test_empty_population_gives_an_empty_parameter_table():
    empty = tiny([])
    assert fit_clv_models(empty).schema == pl.Schema(PARAMETERS_SCHEMA)
    assert fit_clv_models(empty).height == 0


def test_no_repeat_buyer_gives_degraded_rows_without_estimates():
    one_timers = tiny([("a", 0, 0.0, 10.0, None, 20.0), ("b", 0, 0.0, 50.0, None, 40.0)])
    parameters = fit_clv_models(one_timers)
    assert parameters.height == 7
    assert parameters["estimate"].null_count() == 7
    assert parameters["status"].unique().to_list() == ["degraded"]
    assert "no customer made a repeat purchase" in parameters.filter(pl.col("model") == "bgnbd")["status_reason"][0]
    assert "no repeat buyer" in parameters.filter(pl.col("model") == "gamma_gamma")["status_reason"][0]
    assert fits_from_parameters(parameters)[:3] == (None, None, 1.0)


def test_repeat_buyers_without_positive_spend_degrade_gamma_gamma_only(summary):
    free = summary.with_columns(
        pl.when(pl.col("frequency") > 0).then(0.0).otherwise(None).alias("monetary_value")
    )
    parameters = fit_clv_models(free)
    statuses = dict(parameters.select("model", "status").unique().rows())
    assert statuses == {"bgnbd": "ok", "gamma_gamma": "degraded"}
    gamma_gamma = parameters.filter(pl.col("model") == "gamma_gamma")
    assert gamma_gamma["estimate"].null_count() == 3
    assert gamma_gamma["status_reason"][0].startswith("no repeat buyer with a positive repeat order value")


@pytest.mark.parametrize("column", ["recency_days", "average_order_value"])
def test_missing_column_is_named(summary, column):
    with pytest.raises(ValueError, match=column):
        fit_clv_models(summary.drop(column))


def test_bad_time_unit_is_rejected(summary):
    with pytest.raises(ValueError, match="time_unit_days"):
        fit_clv_models(summary, time_unit_days=0)


# --- fits_from_parameters ---------------------------------------------------------------------


def test_fits_round_trip_through_the_table(summary, parameters):
    fits = fits_from_parameters(parameters)
    purchases = fit_bgnbd(library_inputs(summary))
    spend = fit_gamma_gamma(library_inputs(summary))
    np.testing.assert_allclose(fits.bgnbd.params, purchases.params, rtol=1e-12)
    np.testing.assert_allclose([fits.bgnbd.r_se, fits.bgnbd.b_se], [purchases.r_se, purchases.b_se], rtol=1e-12)
    np.testing.assert_allclose(fits.gamma_gamma.params, spend.params, rtol=1e-12)
    assert fits.gamma_gamma.frequency_monetary_correlation == pytest.approx(spend.frequency_monetary_correlation)
    assert (fits.bgnbd.n_customers, fits.bgnbd.converged) == (4000, purchases.converged)
    assert fits.time_unit_days == 1.0


def test_fits_from_an_empty_table_are_absent_and_degraded():
    fits = fits_from_parameters(pl.DataFrame(schema=PARAMETERS_SCHEMA))
    assert fits[:3] == (None, None, None)
    assert not fits.bgnbd_status.is_ok and not fits.gamma_gamma_status.is_ok


def test_a_degraded_model_is_not_rebuilt_even_with_estimates(parameters):
    flagged = parameters.with_columns(
        pl.when(pl.col("model") == "bgnbd").then(pl.lit("degraded")).otherwise(pl.col("status")).alias("status"),
        pl.when(pl.col("model") == "bgnbd").then(pl.lit("edited")).otherwise(pl.col("status_reason")).alias("status_reason"),
    )
    fits = fits_from_parameters(flagged)
    assert fits.bgnbd is None and fits.gamma_gamma is not None
    assert fits.bgnbd_status.reason == "edited" and fits.gamma_gamma_status.is_ok


def test_a_partial_model_is_refused(parameters):
    with pytest.raises(ValueError, match="bgnbd"):
        fits_from_parameters(parameters.filter(pl.col("parameter") != "b"))


def test_a_duplicated_parameter_is_refused(parameters):
    with pytest.raises(ValueError, match="gamma_gamma"):
        fits_from_parameters(pl.concat([parameters, parameters.filter(pl.col("parameter") == "q")]))


def test_unknown_models_and_mixed_units_are_refused(parameters):
    with pytest.raises(ValueError, match="unknown model"):
        fits_from_parameters(parameters.with_columns(pl.lit("pareto_nbd").alias("model")))
    mixed = parameters.with_columns(
        pl.when(pl.col("model") == "bgnbd").then(1.0).otherwise(7.0).alias("time_unit_days")
    )
    with pytest.raises(ValueError, match="time unit"):
        fits_from_parameters(mixed)


# --- score_clv ----------------------------------------------------------------------------------


def test_scores_equal_the_library_prediction_without_refitting(summary, parameters, monkeypatch):
    def no_refit(*args, **kwargs):
        raise AssertionError("score_clv must not fit")

    monkeypatch.setattr(pipeline, "fit_bgnbd", no_refit)
    monkeypatch.setattr(pipeline, "fit_gamma_gamma", no_refit)
    scored = score_clv(summary, parameters, horizon_days=365, discount_rate_annual=0.1, as_of=AS_OF)
    fits = fits_from_parameters(parameters)
    direct = predict_clv(
        library_inputs(summary), fits.bgnbd, fits.gamma_gamma, horizon_days=365, discount_rate_annual=0.1
    )
    assert scored.schema == pl.Schema(PREDICTIONS_SCHEMA)
    assert scored["customer_id"].to_list() == summary["customer_id"].to_list()
    for column in ("p_alive", "expected_purchases_30d", "expected_purchases_365d", "expected_average_order_value", "predicted_clv"):
        np.testing.assert_allclose(scored[column].to_numpy(), direct[column].to_numpy(), rtol=1e-12)
    assert scored["horizon_days"].unique().to_list() == [365]
    assert scored["as_of"].unique().to_list() == [AS_OF]


def test_scores_use_the_time_unit_stored_with_the_parameters(summary, parameters):
    # A weekly fit of the same data is the same model: predictions agree with the daily one.
    daily = score_clv(summary, parameters, horizon_days=365, discount_rate_annual=0.1)
    weekly = score_clv(summary, fit_clv_models(summary, time_unit_days=7.0), horizon_days=365, discount_rate_annual=0.1)
    np.testing.assert_allclose(weekly["p_alive"].to_numpy(), daily["p_alive"].to_numpy(), rtol=1e-3, atol=1e-6)
    np.testing.assert_allclose(weekly["predicted_clv"].to_numpy(), daily["predicted_clv"].to_numpy(), rtol=1e-3, atol=1e-6)


def test_horizon_and_discount_vars_are_applied(summary, parameters):
    undiscounted = score_clv(summary, parameters, horizon_days=730, discount_rate_annual=0.0)
    np.testing.assert_allclose(
        undiscounted["predicted_clv"].to_numpy(),
        (undiscounted["expected_average_order_value"] * undiscounted["expected_purchases_horizon"]).to_numpy(),
        rtol=1e-9,
    )
    discounted = score_clv(summary, parameters, horizon_days=730, discount_rate_annual=0.2)
    assert (discounted["predicted_clv"] <= undiscounted["predicted_clv"]).all()
    assert discounted["horizon_days"].unique().to_list() == [730]


def test_empty_population_scores_to_an_empty_table(parameters):
    scored = score_clv(tiny([]), parameters, horizon_days=365, discount_rate_annual=0.1)
    assert scored.height == 0
    assert scored.schema == pl.Schema(PREDICTIONS_SCHEMA)


def test_no_repeat_buyer_means_zero_future_purchases_at_the_population_mean_order_value():
    # Revenue 20 + 40 = 60 over 2 orders: population mean 30.
    one_timers = tiny([("a", 0, 0.0, 10.0, None, 20.0), ("b", 0, 0.0, 50.0, None, 40.0)])
    scored = score_clv(one_timers, fit_clv_models(one_timers), horizon_days=365, discount_rate_annual=0.1)
    assert scored["p_alive"].to_list() == [1.0, 1.0]
    assert scored["expected_purchases_365d"].to_list() == [0.0, 0.0]
    assert scored["predicted_clv"].to_list() == [0.0, 0.0]
    assert scored["expected_average_order_value"].to_list() == [30.0, 30.0]
    assert scored["status"].unique().to_list() == ["degraded"]
    reason = scored["status_reason"][0]
    assert reason.startswith("bgnbd: no customer made a repeat purchase") and "; gamma_gamma: " in reason


def test_no_parameters_at_all_scores_with_the_fallback():
    # b: 2 repeat purchases in 50 days; pooled beta = (10 + 50) / 2 = 30 days per purchase,
    # so b's rate is (2 + 1) / (50 + 30) a day and a's (0 + 1) / (10 + 30).
    people = tiny([("a", 0, 0.0, 10.0, None, 20.0), ("b", 2, 40.0, 50.0, 45.0, 40.0)])
    scored = score_clv(people, pl.DataFrame(schema=PARAMETERS_SCHEMA), horizon_days=365, discount_rate_annual=0.0)
    assert scored["expected_purchases_30d"].to_list() == pytest.approx([30 / 40, 30 * 3 / 80])
    assert scored["predicted_clv"].to_list() == pytest.approx(
        [35.0 * 365 / 40, 35.0 * 365 * 3 / 80]  # population mean (20 + 3 x 40) / 4 = 35
    )
    assert scored["status_reason"][0].startswith("bgnbd: no bgnbd parameters stored")


def test_without_gamma_gamma_everybody_gets_the_population_mean_order_value(summary, parameters):
    bgnbd_only = parameters.filter(pl.col("model") == "bgnbd")
    scored = score_clv(summary, bgnbd_only, horizon_days=365, discount_rate_annual=0.1)
    mean = population_mean_order_value(summary)
    revenue = (summary["average_order_value"] * (summary["frequency"] + 1)).sum()
    assert mean == pytest.approx(revenue / (summary["frequency"] + 1).sum())
    assert scored["expected_average_order_value"].unique().to_list() == pytest.approx([mean])
    assert (scored["predicted_clv"] > 0).all()


# --- evaluate_clv_holdout -------------------------------------------------------------------------


def test_holdout_evaluation_fits_the_calibration_period(summary):
    table = evaluate_clv_holdout(summary, time_unit_days=1.0, as_of=AS_OF)
    assert table.schema == pl.Schema(EVALUATION_SCHEMA)
    assert table["frequency_bucket"].to_list() == ["0", "1", "2", "3", "4", "5", "6", "7+", "all"]
    overall = table.row(8, named=True)
    assert overall["n_customers"] == 4000
    assert overall["actual_purchases_total"] == summary["holdout_purchases"].sum()
    assert table.head(8)["predicted_purchases_total"].sum() == pytest.approx(overall["predicted_purchases_total"])
    # The planted process is BG/NBD exactly: the total is right within sampling noise.
    assert abs(overall["relative_error"]) < 0.1
    direct = fit_bgnbd(library_inputs(summary))
    assert [overall[f"calibration_{k}"] for k in ("r", "alpha", "a", "b")] == pytest.approx(list(direct.params), rel=1e-9)
    assert overall["calibration_converged"] is True
    assert overall["holdout_days"] == 180.0
    assert overall["calibration_end_at"] == AS_OF - dt.timedelta(days=180)
    assert table["as_of"].unique().to_list() == [AS_OF]


def test_holdout_evaluation_of_an_empty_population_is_empty():
    empty = tiny([]).with_columns(pl.lit(0, pl.Int64).alias("holdout_purchases"), pl.lit(180.0).alias("holdout_days"))
    table = evaluate_clv_holdout(empty, as_of=AS_OF)
    assert table.height == 0
    assert table.schema == pl.Schema(EVALUATION_SCHEMA)


def test_holdout_evaluation_without_repeat_purchases_predicts_zero():
    one_timers = tiny([("a", 0, 0.0, 10.0, None, 20.0), ("b", 0, 0.0, 50.0, None, 40.0)]).with_columns(
        pl.Series("holdout_purchases", [1, 0]), pl.lit(180.0).alias("holdout_days")
    )
    table = evaluate_clv_holdout(one_timers, as_of=AS_OF)
    overall = table.row(8, named=True)
    assert (overall["actual_purchases_total"], overall["predicted_purchases_total"]) == (1.0, 0.0)
    assert overall["relative_error"] == -1.0
    assert overall["calibration_r"] is None and overall["calibration_converged"] is None
    assert table["status"].unique().to_list() == ["degraded"]


def test_holdout_days_must_be_one_value(summary):
    varying = summary.with_columns(pl.Series("holdout_days", np.arange(summary.height, dtype=float)))
    with pytest.raises(ValueError, match="holdout_days"):
        evaluate_clv_holdout(varying)
