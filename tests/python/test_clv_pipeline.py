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

from ecom_growth.clv import fit_bgnbd, fit_gamma_gamma, pipeline, predict_clv
from ecom_growth.clv.bgnbd import time_to_next_purchase
from ecom_growth.clv.mbgnbd import fit_mbgnbd
from ecom_growth.clv.pareto_nbd import fit_pareto_nbd
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
# score_clv's vars (dbt_project.yml values; the trust thresholds at 1 so small fixtures count).
SCORING = {"gross_margin": 1.0, "next_order_probability": 0.5, "trusted_min_customers": 1, "trusted_min_repeat_buyers": 1}


def simulate_summary(n: int, *, holdout_days: float = 0.0, seed: int = 0) -> pl.DataFrame:
    """The SQL summary's columns (whole days, as the SQL's day occasions give) from an exact
    BG/NBD + Gamma-Gamma draw."""
    rng = np.random.default_rng(seed)
    lam = rng.gamma(0.75, 1 / 60.0, n)
    p_drop = rng.beta(0.9, 3.5, n)
    T = np.floor(rng.uniform(30, 700, n))
    end = T + holdout_days
    k = np.minimum(rng.geometric(p_drop), 400)
    owner = np.repeat(np.arange(n), k)
    cumulative = np.cumsum(rng.exponential(1.0, int(k.sum())) / lam[owner])
    start = np.cumsum(k) - k
    times = cumulative - np.concatenate([[0.0], cumulative])[start][owner]
    times = np.ceil(times)  # purchase days; day 0 is the first purchase
    in_cal = times <= T[owner]
    x = np.bincount(owner[in_cal], minlength=n)
    t_x = np.zeros(n)
    np.maximum.at(t_x, owner[in_cal], times[in_cal])
    holdout = np.bincount(owner[(times > T[owner]) & (times <= end[owner])], minlength=n)
    nu = rng.gamma(4.0, 1 / 60.0, n)
    holdout_revenue = np.where(holdout > 0, rng.gamma(4.0 * np.maximum(holdout, 1), 1 / nu), 0.0)
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
            "holdout_revenue": holdout_revenue,
            "holdout_days": np.full(n, holdout_days),
        }
    ).with_columns(pl.col("monetary_value").fill_nan(None))


@pytest.fixture(scope="module")
def summary() -> pl.DataFrame:
    return simulate_summary(4000, holdout_days=180.0, seed=11)


@pytest.fixture(scope="module")
def parameters(summary: pl.DataFrame) -> pl.DataFrame:
    return fit_clv_models(summary, time_unit_days=1.0, as_of=AS_OF)


@pytest.fixture(scope="module")
def weekly(summary: pl.DataFrame) -> pl.DataFrame:
    return fit_clv_models(summary, time_unit_days=7.0)


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
    modified = fit_mbgnbd(library_inputs(summary))
    pareto = fit_pareto_nbd(library_inputs(summary))
    spend = fit_gamma_gamma(library_inputs(summary))
    assert parameters.schema == pl.Schema(PARAMETERS_SCHEMA)
    assert parameters.select("model", "parameter").rows() == [
        ("bgnbd", "r"), ("bgnbd", "alpha"), ("bgnbd", "a"), ("bgnbd", "b"),
        ("mbgnbd", "r"), ("mbgnbd", "alpha"), ("mbgnbd", "a"), ("mbgnbd", "b"),
        ("pareto_nbd", "r"), ("pareto_nbd", "alpha"), ("pareto_nbd", "s"), ("pareto_nbd", "beta"),
        ("gamma_gamma", "p"), ("gamma_gamma", "q"), ("gamma_gamma", "gamma"),
    ]
    np.testing.assert_allclose(
        parameters["estimate"].to_numpy(), [*purchases.params, *modified.params, *pareto.params, *spend.params], rtol=1e-9
    )
    assert parameters["n_customers"].to_list() == [4000] * 12 + [spend.n_customers] * 3
    # Without a holdout ranking the registry order holds: BG/NBD is the one used.
    selected = parameters.filter(pl.col("is_selected"))["model"].unique().sort().to_list()
    assert selected == ["bgnbd", "gamma_gamma"]
    assert parameters["time_unit_days"].unique().to_list() == [1.0]
    assert parameters["as_of"].unique().to_list() == [AS_OF]
    correlation = parameters.filter(pl.col("model") == "gamma_gamma")["frequency_monetary_correlation"]
    assert correlation.to_list() == pytest.approx([spend.frequency_monetary_correlation] * 3)
    assert parameters.filter(pl.col("model") == "bgnbd")["frequency_monetary_correlation"].null_count() == 4


def test_the_first_usable_model_of_the_ranking_is_selected(summary):
    ranked = fit_clv_models(summary.head(1500), ranking=["pareto_nbd", "bgnbd", "mbgnbd"])
    chosen = ranked.filter(pl.col("is_selected") & (pl.col("model") != "gamma_gamma"))
    assert chosen["model"].unique().to_list() == ["pareto_nbd"]
    assert fits_from_parameters(ranked).purchase_model == "pareto_nbd"
    ranks = dict(ranked.select("model", "selection_rank").unique().drop_nulls().rows())
    assert ranks == {"pareto_nbd": 1, "bgnbd": 2, "mbgnbd": 3}


def test_fits_do_not_depend_on_the_row_order_of_the_input(summary, parameters):
    shuffled = summary.sample(fraction=1.0, shuffle=True, seed=2)
    assert fit_clv_models(shuffled, time_unit_days=1.0, as_of=AS_OF).equals(parameters)
    scored = score_clv(summary, parameters, horizon_days=365, discount_rate_annual=0.1, **SCORING)
    assert score_clv(shuffled, parameters, horizon_days=365, discount_rate_annual=0.1, **SCORING).equals(scored)


def test_time_unit_rescales_alpha_only(parameters, weekly):
    # BG/NBD in weeks is the same model with alpha (a time scale) divided by 7.
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
    assert parameters.height == 15
    assert parameters["estimate"].null_count() == 15
    assert not parameters["is_selected"].any()
    assert parameters["status"].unique().to_list() == ["degraded"]
    assert "no customer made a repeat purchase" in parameters.filter(pl.col("model") == "bgnbd")["status_reason"][0]
    assert "no repeat buyer" in parameters.filter(pl.col("model") == "gamma_gamma")["status_reason"][0]
    assert fits_from_parameters(parameters)[:3] == (None, None, 1.0)


def test_repeat_buyers_without_positive_spend_degrade_gamma_gamma_only(summary):
    free = summary.head(1500).with_columns(
        pl.when(pl.col("frequency") > 0).then(0.0).otherwise(None).alias("monetary_value")
    )
    parameters = fit_clv_models(free)
    statuses = dict(parameters.select("model", "status").unique().rows())
    assert statuses == {"bgnbd": "ok", "mbgnbd": "ok", "pareto_nbd": "ok", "gamma_gamma": "degraded"}
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
    np.testing.assert_allclose(fits.purchases.params, purchases.params, rtol=1e-12)
    np.testing.assert_allclose([fits.purchases.r_se, fits.purchases.b_se], [purchases.r_se, purchases.b_se], rtol=1e-12)
    np.testing.assert_allclose(fits.gamma_gamma.params, spend.params, rtol=1e-12)
    assert fits.gamma_gamma.frequency_monetary_correlation == pytest.approx(spend.frequency_monetary_correlation)
    assert (fits.purchases.n_customers, fits.purchases.converged) == (4000, purchases.converged)
    assert fits.time_unit_days == 1.0


def test_fits_from_an_empty_table_are_absent_and_degraded():
    fits = fits_from_parameters(pl.DataFrame(schema=PARAMETERS_SCHEMA))
    assert fits[:3] == (None, None, None)
    assert not fits.purchases_status.is_ok and not fits.gamma_gamma_status.is_ok


def test_a_degraded_model_is_not_rebuilt_even_with_estimates(parameters):
    flagged = parameters.with_columns(
        pl.when(pl.col("model") == "bgnbd").then(pl.lit("degraded")).otherwise(pl.col("status")).alias("status"),
        pl.when(pl.col("model") == "bgnbd").then(pl.lit("edited")).otherwise(pl.col("status_reason")).alias("status_reason"),
    )
    fits = fits_from_parameters(flagged)
    assert fits.purchases is None and fits.gamma_gamma is not None
    assert "edited" in fits.purchases_status.reason and fits.gamma_gamma_status.is_ok


def test_a_partial_model_is_refused(parameters):
    with pytest.raises(ValueError, match="bgnbd"):
        fits_from_parameters(parameters.filter(pl.col("parameter") != "b"))


def test_a_duplicated_parameter_is_refused(parameters):
    with pytest.raises(ValueError, match="gamma_gamma"):
        fits_from_parameters(pl.concat([parameters, parameters.filter(pl.col("parameter") == "q")]))


def test_unknown_models_and_mixed_units_are_refused(parameters):
    with pytest.raises(ValueError, match="unknown model"):
        fits_from_parameters(parameters.with_columns(pl.lit("nbd").alias("model")))
    mixed = parameters.with_columns(
        pl.when(pl.col("model") == "bgnbd").then(1.0).otherwise(7.0).alias("time_unit_days")
    )
    with pytest.raises(ValueError, match="time unit"):
        fits_from_parameters(mixed)


# --- score_clv ----------------------------------------------------------------------------------


def test_scores_equal_the_library_prediction_without_refitting(summary, parameters, monkeypatch):
    def no_refit(*args, **kwargs):
        raise AssertionError("score_clv must not fit")

    monkeypatch.setattr(pipeline, "fit_purchase_model", no_refit)
    monkeypatch.setattr(pipeline, "fit_gamma_gamma", no_refit)
    scored = score_clv(summary, parameters, horizon_days=365, discount_rate_annual=0.1, as_of=AS_OF, **SCORING)
    fits = fits_from_parameters(parameters)
    direct = predict_clv(
        library_inputs(summary), fits.purchases, fits.gamma_gamma, horizon_days=365, discount_rate_annual=0.1
    )
    assert scored.schema == pl.Schema(PREDICTIONS_SCHEMA)
    assert scored["customer_id"].to_list() == summary["customer_id"].to_list()
    for column in ("p_alive", "expected_purchases_30d", "expected_purchases_365d", "expected_average_order_value", "predicted_clv"):
        np.testing.assert_allclose(scored[column].to_numpy(), direct[column].to_numpy(), rtol=1e-12)
    assert scored["horizon_days"].unique().to_list() == [365]
    assert scored["as_of"].unique().to_list() == [AS_OF]


def test_scores_use_the_time_unit_stored_with_the_parameters(summary, parameters, weekly):
    # A weekly fit of the same data is the same model: predictions agree with the daily one.
    daily = score_clv(summary, parameters, horizon_days=365, discount_rate_annual=0.1, **SCORING)
    weekly = score_clv(summary, weekly, horizon_days=365, discount_rate_annual=0.1, **SCORING)
    np.testing.assert_allclose(weekly["p_alive"].to_numpy(), daily["p_alive"].to_numpy(), rtol=1e-3, atol=1e-6)
    np.testing.assert_allclose(weekly["predicted_clv"].to_numpy(), daily["predicted_clv"].to_numpy(), rtol=1e-3, atol=1e-6)


def test_horizon_and_discount_vars_are_applied(summary, parameters):
    undiscounted = score_clv(summary, parameters, horizon_days=730, discount_rate_annual=0.0, **SCORING)
    np.testing.assert_allclose(
        undiscounted["predicted_clv"].to_numpy(),
        (undiscounted["expected_average_order_value"] * undiscounted["expected_purchases_horizon"]).to_numpy(),
        rtol=1e-9,
    )
    discounted = score_clv(summary, parameters, horizon_days=730, discount_rate_annual=0.2, **SCORING)
    assert (discounted["predicted_clv"] <= undiscounted["predicted_clv"]).all()
    assert discounted["horizon_days"].unique().to_list() == [730]


def test_empty_population_scores_to_an_empty_table(parameters):
    scored = score_clv(tiny([]), parameters, horizon_days=365, discount_rate_annual=0.1, **SCORING)
    assert scored.height == 0
    assert scored.schema == pl.Schema(PREDICTIONS_SCHEMA)


def test_no_repeat_buyer_means_zero_future_purchases_at_the_population_mean_order_value():
    # Revenue 20 + 40 = 60 over 2 orders: population mean 30.
    one_timers = tiny([("a", 0, 0.0, 10.0, None, 20.0), ("b", 0, 0.0, 50.0, None, 40.0)])
    scored = score_clv(one_timers, fit_clv_models(one_timers), horizon_days=365, discount_rate_annual=0.1, **SCORING)
    assert scored["p_alive"].to_list() == [1.0, 1.0]
    assert scored["expected_purchases_365d"].to_list() == [0.0, 0.0]
    assert scored["predicted_clv"].to_list() == [0.0, 0.0]
    assert scored["expected_average_order_value"].to_list() == [30.0, 30.0]
    assert scored["status"].unique().to_list() == ["degraded"]
    reason = scored["status_reason"][0]
    assert "no customer made a repeat purchase" in reason and "; gamma_gamma: " in reason


def test_no_parameters_at_all_scores_with_the_fallback():
    # b: 2 repeat purchases in 50 days; pooled beta = (10 + 50) / 2 = 30 days per purchase,
    # so b's rate is (2 + 1) / (50 + 30) a day and a's (0 + 1) / (10 + 30).
    people = tiny([("a", 0, 0.0, 10.0, None, 20.0), ("b", 2, 40.0, 50.0, 45.0, 40.0)])
    scored = score_clv(people, pl.DataFrame(schema=PARAMETERS_SCHEMA), horizon_days=365, discount_rate_annual=0.0, **SCORING)
    assert scored["expected_purchases_30d"].to_list() == pytest.approx([30 / 40, 30 * 3 / 80])
    assert scored["predicted_clv"].to_list() == pytest.approx(
        [35.0 * 365 / 40, 35.0 * 365 * 3 / 80]  # population mean (20 + 3 x 40) / 4 = 35
    )
    assert "no bgnbd parameters stored" in scored["status_reason"][0]


def test_without_gamma_gamma_everybody_gets_the_population_mean_order_value(summary, parameters):
    bgnbd_only = parameters.filter(pl.col("model") != "gamma_gamma")
    scored = score_clv(summary, bgnbd_only, horizon_days=365, discount_rate_annual=0.1, **SCORING)
    mean = population_mean_order_value(summary)
    revenue = (summary["average_order_value"] * (summary["frequency"] + 1)).sum()
    assert mean == pytest.approx(revenue / (summary["frequency"] + 1).sum())
    assert scored["expected_average_order_value"].unique().to_list() == pytest.approx([mean])
    assert (scored["predicted_clv"] > 0).all()


# --- evaluate_clv_holdout -------------------------------------------------------------------------


def test_holdout_evaluation_fits_the_calibration_period(summary):
    full = evaluate_clv_holdout(summary, time_unit_days=1.0, as_of=AS_OF, gross_margin=1.0)
    assert full.schema == pl.Schema(EVALUATION_SCHEMA)
    table = full.filter((pl.col("model") == "bgnbd") & (pl.col("breakdown") == "frequency_bucket"))
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
    assert full["as_of"].unique().to_list() == [AS_OF]
    # Four candidates, one selected, each with 9 bucket and 10 decile rows (no months without occasions).
    assert full.group_by("model").len().sort("model").rows() == [
        ("bgnbd", 19), ("mbgnbd", 19), ("pareto_nbd", 19), ("poisson_baseline", 19)
    ]
    assert full.filter(pl.col("is_selected"))["model"].unique().to_list() == [full.filter(pl.col("selection_rank") == 1)["model"][0]]


def test_holdout_evaluation_of_an_empty_population_is_empty():
    empty = tiny([]).with_columns(
        pl.lit(0, pl.Int64).alias("holdout_purchases"), pl.lit(0.0).alias("holdout_revenue"), pl.lit(180.0).alias("holdout_days")
    )
    table = evaluate_clv_holdout(empty, as_of=AS_OF, gross_margin=1.0)
    assert table.height == 0
    assert table.schema == pl.Schema(EVALUATION_SCHEMA)


def test_holdout_evaluation_without_repeat_purchases_predicts_zero():
    one_timers = tiny([("a", 0, 0.0, 10.0, None, 20.0), ("b", 0, 0.0, 50.0, None, 40.0)]).with_columns(
        pl.Series("holdout_purchases", [1, 0]), pl.Series("holdout_revenue", [25.0, 0.0]), pl.lit(180.0).alias("holdout_days")
    )
    table = evaluate_clv_holdout(one_timers, as_of=AS_OF, gross_margin=1.0)
    # Every model is degraded: the Poisson baseline is what scores, and it is selected.
    assert table.filter(pl.col("is_selected"))["model"].unique().to_list() == ["poisson_baseline"]
    overall = table.filter((pl.col("model") == "bgnbd") & (pl.col("bucket") == "all")).row(0, named=True)
    assert (overall["actual_purchases_total"], overall["predicted_purchases_total"]) == (1.0, 0.0)
    assert overall["relative_error"] == -1.0
    assert overall["calibration_r"] is None and overall["calibration_converged"] is None
    assert table["status"].unique().to_list() == ["degraded"]


def test_holdout_days_must_be_one_value(summary):
    varying = summary.with_columns(pl.Series("holdout_days", np.arange(summary.height, dtype=float)))
    with pytest.raises(ValueError, match="holdout_days"):
        evaluate_clv_holdout(varying, gross_margin=1.0)


# --- the predictive profile and the value evaluation ---------------------------------------------


def test_profile_columns_follow_the_selected_model_and_the_vars(summary, parameters):
    scored = score_clv(summary, parameters, horizon_days=365, discount_rate_annual=0.1, as_of=AS_OF, **SCORING)
    half = score_clv(summary, parameters, horizon_days=365, discount_rate_annual=0.1, as_of=AS_OF,
                     **{**SCORING, "gross_margin": 0.5})
    np.testing.assert_allclose(half["predicted_clv"].to_numpy(), 0.5 * scored["predicted_clv"].to_numpy(), rtol=1e-12)
    assert scored["purchase_model"].unique().to_list() == ["bgnbd"]
    fits = fits_from_parameters(parameters)
    inputs = library_inputs(summary)
    days = time_to_next_purchase(fits.purchases, *(inputs[c].to_numpy().astype(float) for c in ("frequency", "recency", "T")),
                                 probability=0.5)
    np.testing.assert_allclose(scored["expected_days_to_next_order"].fill_null(np.nan).to_numpy(), days, rtol=1e-12)
    # Null exactly when the customer is more likely dead than alive.
    assert (scored["expected_next_order_at"].is_null() == (scored["p_alive"] <= 0.5)).all()
    gap = scored.select((pl.col("expected_next_order_at") - pl.lit(AS_OF)).dt.total_microseconds() / 86_400e6).to_series()
    np.testing.assert_allclose(gap.drop_nulls().to_numpy(), scored["expected_days_to_next_order"].drop_nulls().to_numpy(), atol=1e-5)
    expected_gap = (summary["recency_days"] / summary["frequency"]).to_numpy()
    np.testing.assert_allclose(scored["average_days_between_orders"].fill_null(np.nan).to_numpy(),
                               np.where(summary["frequency"].to_numpy() > 0, expected_gap, np.nan))
    assert scored["has_minimum_data"].unique().to_list() == [True]
    strict = score_clv(summary, parameters, horizon_days=365, discount_rate_annual=0.1,
                       **{**SCORING, "trusted_min_customers": 4001})
    assert strict["has_minimum_data"].unique().to_list() == [False]


def test_holdout_months_and_value_metrics(summary):
    occasions = pl.DataFrame({
        "customer_id": ["c00000", "c00001", "c00002"],
        "holdout_month": [dt.date(2025, 7, 1), dt.date(2025, 12, 1), dt.date(2025, 12, 1)],
        "occasion_value": [10.0, 20.0, 30.0],
    })
    table = evaluate_clv_holdout(summary, occasions, as_of=AS_OF, gross_margin=0.5)
    months = table.filter((pl.col("model") == "bgnbd") & (pl.col("breakdown") == "holdout_month")).sort("bucket")
    # (2025-07-05, 2026-01-01]: July (partial) .. December.
    assert months["bucket"].to_list() == ["2025-07", "2025-08", "2025-09", "2025-10", "2025-11", "2025-12"]
    assert months["actual_purchases_total"].to_list() == [1.0, 0.0, 0.0, 0.0, 0.0, 2.0]
    assert months["actual_revenue_total"].to_list() == [5.0, 0.0, 0.0, 0.0, 0.0, 25.0]  # gross margin 0.5
    overall = table.filter((pl.col("model") == "bgnbd") & (pl.col("bucket") == "all")).row(0, named=True)
    # The months split the holdout's predicted purchases exactly.
    assert months["predicted_purchases_total"].sum() == pytest.approx(overall["predicted_purchases_total"], rel=1e-9)
    assert overall["actual_revenue_total"] == pytest.approx(0.5 * summary["holdout_revenue"].sum())
    deciles = table.filter((pl.col("model") == "bgnbd") & (pl.col("breakdown") == "predicted_revenue_decile")).sort("bucket")
    assert deciles["n_customers"].to_list() == [400] * 10
    assert deciles["predicted_revenue_mean"].is_sorted(descending=True)
    # The models rank value better than chance and the baseline is beaten on purchases MAE.
    assert overall["revenue_spearman"] > 0.2 and overall["top20_revenue_capture"] > 0.2
    baseline = table.filter((pl.col("model") == "poisson_baseline") & (pl.col("bucket") == "all")).row(0, named=True)
    assert overall["purchases_mae"] < baseline["purchases_mae"]
