"""Demand forecast: model selection on validation, the served point forecast, dispersion and edge cases."""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np
import polars as pl
import pytest

from ecom_growth.pricing.forecast import (
    EVALUATION_SCHEMA,
    ForecastSettings,
    backtest,
    backtest_table,
    build_panel,
    demand_forecast,
    nb_dispersion,
    select_model,
    served_point,
)

SETTINGS = ForecastSettings(horizon_weeks=4, origin_step_weeks=4, validation_origins=2, test_origins=2,
                            max_training_rows=3000, boosting_iterations=15, interval_level=0.9, seed=3,
                            trailing_mean_weeks=13)


def _weekly(units: np.ndarray, categories: list[str] | None = None) -> pl.DataFrame:
    """The weekly rollup (fct_product_weekly_demand's columns the forecast reads) of a units matrix."""
    n_products, n_weeks = units.shape
    categories = categories or ["a"] * n_products
    return pl.DataFrame({
        "product_id": np.repeat([f"p{i:02d}" for i in range(n_products)], n_weeks),
        "category": np.repeat(categories, n_weeks),
        "week_start": [date(2024, 1, 1) + timedelta(weeks=w) for w in range(n_weeks)] * n_products,
        "units": units.ravel().astype(float),
        "list_price": 10.0,
        "is_promotion": False,
    })


def _poisson_units(n_products: int, n_weeks: int, seed: int = 5) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return rng.poisson(rng.gamma(3.0, 1.0, n_products)[:, None], (n_products, n_weeks)).astype(float)


def _evaluation(validation: dict[str, float], test: dict[str, float]) -> pl.DataFrame:
    """Evaluation rows with one WAPE per (model, point forecast) and split, two horizons."""
    rows = [{"split": split, "model": model, "point_forecast": point, "horizon_weeks": h, "wape": wape}
            for split, wapes in (("validation", validation), ("test", test))
            for key, wape in wapes.items() for model, point in [key.split(":")] for h in (1, 2)]
    return pl.DataFrame(rows)


def test_nb_dispersion_is_zero_for_poisson_counts_and_recovers_a_planted_dispersion():
    rng = np.random.default_rng(0)
    mean = rng.gamma(2.0, 2.0, 200_000)
    assert nb_dispersion(rng.poisson(mean), mean) < 0.01
    k = 0.5  # gamma-Poisson: variance = mean + k mean^2
    assert nb_dispersion(rng.poisson(mean * rng.gamma(1 / k, k, mean.size)), mean) == pytest.approx(k, rel=0.05)
    # underdispersed residuals clip at 0; no mean at all (all-zero forecasts) gives 0, not nan
    assert nb_dispersion(np.full(10, 2.0), np.full(10, 2.0)) == 0.0
    assert nb_dispersion(np.array([1.0, 0.0]), np.zeros(2)) == 0.0


def test_the_served_point_is_the_median_where_there_is_a_predictive_distribution():
    assert served_point("gradient_boosting") == "median" and served_point("trailing_mean") == "median"
    assert served_point("seasonal_naive") == "mean"  # one past week: no distribution around it


def test_selection_reads_the_served_points_on_validation_only():
    validation = {"gradient_boosting:mean": 0.70, "gradient_boosting:median": 0.62, "trailing_mean:mean": 0.65,
                  "trailing_mean:median": 0.60, "seasonal_naive:mean": 0.80}
    test = dict.fromkeys(validation, 0.7)
    assert select_model(_evaluation(validation, test)) == "trailing_mean"
    # test rows that favour gradient boosting by far cannot change the choice ...
    assert select_model(_evaluation(validation, test | {"gradient_boosting:median": 0.1})) == "trailing_mean"
    # ... validation rows can (the check above can fail)
    assert select_model(_evaluation(validation | {"gradient_boosting:median": 0.55}, test)) == "gradient_boosting"
    # the expected-units rows are not the served point: a better mean does not win
    assert select_model(_evaluation(validation | {"gradient_boosting:mean": 0.30}, test)) == "trailing_mean"
    # seasonal naive competes with its single value
    assert select_model(_evaluation(validation | {"seasonal_naive:mean": 0.5}, test)) == "seasonal_naive"


def test_selection_without_validation_rows_falls_back_to_seasonal_naive():
    rows = _evaluation({}, {"gradient_boosting:median": 0.1})
    assert select_model(rows.filter(pl.col("split") == "test")) == "seasonal_naive"
    assert select_model(pl.DataFrame(schema=EVALUATION_SCHEMA)) == "seasonal_naive"


def test_backtest_marks_the_validation_winner_and_its_dispersion_comes_from_its_own_residuals():
    table = backtest(build_panel(_weekly(_poisson_units(40, 80))), SETTINGS)
    selected = table.filter(pl.col("is_selected"))
    assert selected["point_forecast"].unique().to_list() == [served_point(selected["model"][0])]
    assert selected["model"][0] == select_model(table)
    # paired product-bootstrap intervals bracket the estimate; seasonal naive against itself is exactly 0
    assert (table["wape_vs_baseline_low"] <= table["wape_vs_baseline"] + 1e-12).all()
    assert (table["wape_vs_baseline"] <= table["wape_vs_baseline_high"] + 1e-12).all()
    baseline = table.filter(pl.col("model") == "seasonal_naive")
    assert (baseline["wape_vs_baseline_low"] == 0).all() and (baseline["wape_vs_baseline_high"] == 0).all()
    # the 13-week mean of a stationary rate beats one noisy week beyond the sampling noise
    trailing_4 = table.filter((pl.col("model") == "trailing_mean") & (pl.col("horizon_weeks") == 4))
    assert (trailing_4["wape_vs_baseline_high"] < 0).all()
    # Poisson counts around a fixed rate: the trailing mean's residuals are barely overdispersed
    trailing = table.filter(pl.col("model") == "trailing_mean")["nb_dispersion"].unique()
    assert trailing.len() == 1 and 0.0 <= trailing[0] < 0.1


def test_backtest_with_a_single_product_and_an_all_zero_product():
    units = np.vstack([_poisson_units(1, 80), np.zeros((1, 80))])
    panel = build_panel(_weekly(units))
    assert panel.units.shape == (1, 80)  # a product that never sold is no forecast row
    table = backtest(panel, SETTINGS)
    assert table.filter(pl.col("is_selected")).height == 2 * SETTINGS.horizon_weeks
    assert (table["n_forecasts"] == 2).all()  # one product x two origins per split


def test_short_history_degrades_to_seasonal_naive_served_as_its_own_point():
    weekly = _weekly(_poisson_units(5, 30))  # less than a season
    evaluation = backtest_table(weekly, SETTINGS)
    assert evaluation.height == 1 and evaluation["status"][0] == "degraded" and evaluation["is_selected"][0]
    forecast = demand_forecast(weekly, evaluation, SETTINGS)
    assert set(forecast["model"]) == {"seasonal_naive"} and set(forecast["status"]) == {"degraded"}
    products = forecast.filter(pl.col("level") == "product")
    assert products["median_units"].to_list() == products["forecast_units"].to_list()


def test_demand_forecast_serves_the_selected_models_mean_and_median():
    units = _poisson_units(30, 80)
    weekly = _weekly(units, ["a", "b"] * 15)
    evaluation = pl.DataFrame([
        {"split": "validation", "model": "trailing_mean", "point_forecast": "median", "horizon_weeks": 1,
         "is_selected": True, "nb_dispersion": 0.0, "status": "ok", "status_reason": None},
        {"split": "validation", "model": "gradient_boosting", "point_forecast": "median", "horizon_weeks": 1,
         "is_selected": False, "nb_dispersion": 0.7, "status": "ok", "status_reason": None},
    ])
    forecast = demand_forecast(weekly, evaluation, SETTINGS)
    products = forecast.filter((pl.col("level") == "product") & (pl.col("horizon_weeks") == 2)).sort("product_id")
    expected = units[:, -13:].mean(axis=1)
    assert np.allclose(products["forecast_units"].to_numpy(), expected)
    from scipy.stats import poisson  # the selected model's own dispersion (0: Poisson), not the other model's

    assert np.array_equal(products["median_units"].to_numpy(), poisson.median(expected))
    assert set(forecast["model"]) == {"trailing_mean"} and set(forecast["status"]) == {"ok"}
    categories = forecast.filter((pl.col("level") == "category") & (pl.col("horizon_weeks") == 2)).sort("category")
    assert np.allclose(categories["forecast_units"].to_numpy(), [expected[0::2].sum(), expected[1::2].sum()])


def test_the_forecast_is_a_function_of_the_panels_rows_not_their_order():
    """What lets ml_demand_forecast keep its table while the panel's rows (relation_digest: a
    multiset digest) are unchanged: boosting included, a shuffled panel gives the same forecast."""
    weekly = _weekly(_poisson_units(12, 80), ["a", "b"] * 6)
    evaluation = backtest_table(weekly, SETTINGS)
    assert "gradient_boosting" in set(evaluation["model"])
    boosting = evaluation.with_columns(is_selected=pl.col("model") == "gradient_boosting")
    for chosen in (evaluation, boosting):
        forecast = demand_forecast(weekly, chosen, SETTINGS)
        shuffled = demand_forecast(weekly.sample(fraction=1.0, shuffle=True, seed=8), chosen, SETTINGS)
        assert forecast.equals(shuffled)


def test_shop_season_ratio_separates_a_planted_season_from_growth():
    from ecom_growth.pricing.forecast import shop_season_ratio

    weeks = np.arange(104)
    season = 1.0 + 0.25 * np.cos(2 * np.pi * (weeks - 20) / 52.0)
    growth = np.exp(0.02 * weeks)  # the young shop's growth: ~2.8x over a year
    origin, horizon = 90, 4
    expected = season[origin + horizon - 52] / season[origin - 52 - 12: origin - 52 + 1].mean()
    assert shop_season_ratio(growth * season, origin, horizon) == pytest.approx(expected, rel=0.03)
    assert shop_season_ratio(growth, origin, horizon) == pytest.approx(1.0, abs=1e-9)  # growth alone is no season
    # the raw year-earlier ratio mixes in the growth
    raw = (growth * season)[origin + horizon - 52] / (growth * season)[origin - 64: origin - 51].mean()
    assert raw > 1.05 * expected


def test_shop_season_ratio_is_nan_without_a_detrendable_year_and_reads_nothing_after_the_origin():
    from ecom_growth.pricing.forecast import shop_season_ratio

    totals = np.exp(0.01 * np.arange(104))
    assert np.isnan(shop_season_ratio(totals, 40, 4))  # less than a season of history
    assert np.isnan(shop_season_ratio(totals, 50, 30))  # the target a year earlier needs half a year after it
    assert np.isnan(shop_season_ratio(np.zeros(104), 90, 4))  # a shop without sales
    future = totals.copy()
    future[91:] = 1e6
    assert shop_season_ratio(totals, 90, 8) == shop_season_ratio(future, 90, 8)


def test_boosting_on_the_level_ratio_is_unbiased_on_a_stationary_shop_with_sellers_of_every_size():
    from ecom_growth.pricing.forecast import _predict, build_panel, fit_model

    rng = np.random.default_rng(11)
    rate = np.concatenate([rng.gamma(1.0, 0.3, 40), rng.gamma(4.0, 5.0, 20), np.zeros(1)])  # tiny .. big, and zero
    units = rng.poisson(rate[:, None], (rate.size, 90)).astype(float)
    units[-1, 10] = 1.0  # one sale long ago: level 0 now, still forecast (no division by zero)
    panel = build_panel(_weekly(units))
    model = fit_model(panel, 85, 4, stride=2, max_rows=6000, seed=1, max_iter=30)
    forecast = _predict(model, panel, 85, 4)
    rate = rate[[int(p[1:]) for p in panel.products]]  # products that never sold have no row
    assert np.all(np.isfinite(forecast)) and np.all(forecast >= 0) and panel.products[-1] == "p60"
    assert forecast.sum() / rate.sum() == pytest.approx(1.0, abs=0.08)
    assert np.corrcoef(forecast, rate)[0, 1] > 0.95


def test_category_units_sum_the_products_of_each_category_in_sorted_order():
    from ecom_growth.pricing.forecast import _category_units

    units = np.arange(12.0).reshape(4, 3)
    panel = build_panel(_weekly(units + 1, ["b", "a", "b", "c"]))
    assert _category_units(panel).tolist() == [[4, 5, 6], [8, 10, 12], [10, 11, 12]]
