"""Pricing library: PPML elasticity with fixed effects and the recommendation guard rails."""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np
import polars as pl
import pytest

from ecom_growth.pricing.elasticity import (
    between_product_variance,
    count_price_changes,
    elasticity_recovery,
    fit_ppml_two_way,
    pooled_recovery,
    price_elasticities,
    with_blocks,
)
from ecom_growth.pricing.recommend import (
    CURRENT_PRICE_COLUMNS,
    allowed_neighbours,
    current_prices,
    price_recommendations,
)

REC_ARGS = {"max_step": 0.10, "price_endings_cents": [99], "min_price_changes": 3, "min_improvement": 0.0}


def _panel(rng: np.random.Generator, beta: float, n_products: int, n_weeks: int, category: str = "c",
           vary: bool = True) -> pl.DataFrame:
    """Weekly units ~ Poisson(exp(a_i + g_t + beta log p)), prices stepping at random weeks."""
    a = rng.normal(1.0, 0.5, n_products)
    g = 0.3 * np.sin(np.arange(n_weeks) / 8.0)
    steps = rng.normal(0, 0.2, (n_products, n_weeks)) * (rng.random((n_products, n_weeks)) < 0.08) * vary
    log_price = np.log(20.0) + np.cumsum(steps, axis=1)
    units = rng.poisson(np.exp(a[:, None] + g[None, :] + beta * (log_price - np.log(20.0))))
    weeks = [date(2025, 1, 6) + timedelta(weeks=int(w)) for w in range(n_weeks)]
    return pl.DataFrame({
        "product_id": np.repeat([f"{category}{i:03d}" for i in range(n_products)], n_weeks),
        "category": category,
        "week_start": weeks * n_products,
        "units": units.ravel(),
        "list_price": np.round(np.exp(log_price.ravel()), 2),
    })


def test_ppml_recovers_the_slope_with_product_and_week_effects():
    rng = np.random.default_rng(1)
    panel = _panel(rng, -1.7, 300, 80)
    product = np.unique(panel["product_id"].to_numpy(), return_inverse=True)[1]
    week = np.unique(panel["week_start"].to_numpy(), return_inverse=True)[1]
    fit = fit_ppml_two_way(panel["units"].to_numpy(), np.log(panel["list_price"].to_numpy()), product, week, 50, 1e-10,
                           cluster=product)
    assert fit.converged
    assert abs(fit.beta + 1.7) < 3 * fit.std_error
    assert 0.005 < fit.std_error < 0.2


def test_ppml_without_price_variation_returns_nan():
    rng = np.random.default_rng(2)
    panel = _panel(rng, -1.0, 20, 30, vary=False)
    product = np.unique(panel["product_id"].to_numpy(), return_inverse=True)[1]
    week = np.unique(panel["week_start"].to_numpy(), return_inverse=True)[1]
    fit = fit_ppml_two_way(panel["units"].to_numpy(), np.log(panel["list_price"].to_numpy()), product, week, 20, 1e-8,
                           cluster=product)
    assert np.isnan(fit.beta)


def test_elasticity_table_has_category_and_product_rows_and_degrades_without_variation():
    rng = np.random.default_rng(3)
    weekly = pl.concat([_panel(rng, -2.0, 200, 60, "a"), _panel(rng, -1.0, 30, 60, "b", vary=False)])
    table = price_elasticities(weekly, min_price_changes_category=20, min_price_changes_product=3,
                               confidence_level=0.95, max_iterations=50, tolerance=1e-8, block_weeks=13)
    assert table.height == 2 + 230
    a = table.filter((pl.col("level") == "category") & (pl.col("category") == "a")).row(0, named=True)
    assert a["status"] == "ok" and abs(a["elasticity"] + 2.0) < 3 * a["std_error"] and a["is_significant"]
    b = table.filter((pl.col("level") == "category") & (pl.col("category") == "b")).row(0, named=True)
    assert b["status"] == "degraded" and b["elasticity"] is None and "price changes" in b["status_reason"]
    products_b = table.filter((pl.col("level") == "product") & (pl.col("category") == "b"))
    assert products_b["is_category_fallback"].all() and products_b["elasticity"].is_null().all()
    products_a = table.filter((pl.col("level") == "product") & (pl.col("category") == "a"))
    # products with too few changes take the category estimate exactly
    fallback = products_a.filter(pl.col("is_category_fallback"))
    assert fallback.height > 0 and (fallback["elasticity"] == a["elasticity"]).all()
    assert (products_a.filter(~pl.col("is_category_fallback"))["n_price_changes"] >= 3).all()


def test_block_levels_keep_a_demand_level_driven_by_past_prices_out_of_the_slope():
    # Demand = short-run response to today's price x a slowly built base that past cheap weeks
    # grew (as first-time buyers come back): one level per product attributes the base to the
    # current price (prices are persistent); product x 13-week levels leave the short-run slope.
    rng = np.random.default_rng(5)
    n, weeks, beta = 300, 104, -1.5
    steps = rng.normal(0, 0.2, (n, weeks)) * (rng.random((n, weeks)) < 0.06)
    log_ratio = np.cumsum(steps, axis=1)
    base = np.zeros((n, weeks))
    for t in range(1, weeks):
        base[:, t] = 0.95 * base[:, t - 1] + 0.05 * log_ratio[:, t - 1]
    units = rng.poisson(np.exp(rng.normal(1.0, 0.5, n)[:, None] + beta * log_ratio - 1.5 * base))
    weekly = pl.DataFrame({
        "product_id": np.repeat([f"p{i:03d}" for i in range(n)], weeks), "category": "c",
        "week_start": [date(2025, 1, 6) + timedelta(weeks=w) for w in range(weeks)] * n,
        "units": units.ravel(), "list_price": np.round(20.0 * np.exp(log_ratio.ravel()), 2),
    })
    args = {"min_price_changes_category": 20, "min_price_changes_product": 3, "confidence_level": 0.95,
            "max_iterations": 50, "tolerance": 1e-8}
    blocks, single = (price_elasticities(weekly, **args, block_weeks=b).filter(pl.col("level") == "category")["elasticity"][0]
                      for b in (13, weeks))
    assert single < beta - 0.4  # the confounded slope
    assert abs(blocks - beta) < 0.3 * abs(single - beta)


def test_price_changes_at_a_block_boundary_do_not_count():
    weekly = pl.DataFrame({
        "product_id": "p", "week_start": [date(2025, 1, 6) + timedelta(weeks=w) for w in range(6)],
        "list_price": [10.0, 10.0, 12.0, 12.0, 11.0, 11.0],
    })
    # blocks of 2 weeks back from the last: (w4, w5), (w2, w3), (w0, w1): the changes at w2 and
    # w4 open new blocks; blocks of 4: (w2..w5), (w0, w1): only the change at w4 is inside one
    assert count_price_changes(with_blocks(weekly, 2))["n_price_changes"].to_list() == [0]
    assert count_price_changes(with_blocks(weekly, 4))["n_price_changes"].to_list() == [1]
    assert count_price_changes(with_blocks(weekly, 6))["n_price_changes"].to_list() == [2]
    with pytest.raises(ValueError, match="block_weeks"):
        with_blocks(weekly, 0)


def _products(**overrides) -> pl.DataFrame:
    row = {"product_id": "p1", "category": "c", "current_price": 50.0, "unit_cost": 20.0, "baseline_weekly_units": 10.0}
    row.update(overrides)
    return pl.DataFrame([row], schema_overrides={"unit_cost": pl.Float64})


def _elasticity(e: float, low: float, high: float, changes: int = 10, status: str = "ok") -> pl.DataFrame:
    return pl.DataFrame([{
        "level": "product", "product_id": "p1", "elasticity": e, "ci_low": low, "ci_high": high,
        "n_price_changes": changes, "is_significant": not (low <= 0.0 <= high), "status": status, "status_reason": None,
    }], schema_overrides={"status_reason": pl.String})


def test_inelastic_demand_raises_the_price_by_at_most_the_max_step_on_a_99_ending():
    row = price_recommendations(_products(), _elasticity(-0.5, -0.8, -0.2), **REC_ARGS).row(0, named=True)
    assert row["is_recommended"] and row["recommended_price"] == pytest.approx(54.99)
    assert row["price_change_pct"] <= 0.10 and row["expected_margin_change"] > 0
    assert row["margin_change_low"] <= row["expected_margin_change"] <= row["margin_change_high"]


def test_never_below_cost_even_when_elastic_demand_pulls_the_price_down():
    # e = -6: the unconstrained optimum is cost x 6/5 = 57.6 > current 50: price rises...
    row = price_recommendations(_products(unit_cost=48.0), _elasticity(-6.0, -7.0, -5.0), **REC_ARGS).row(0, named=True)
    assert row["recommended_price"] >= 48.0
    # ...and when cost is above every allowed price, the product is held
    held = price_recommendations(_products(unit_cost=56.0), _elasticity(-6.0, -7.0, -5.0), **REC_ARGS).row(0, named=True)
    assert not held["is_recommended"] and held["recommended_price"] == 50.0
    assert "no allowed price" in held["hold_reason"]


def test_max_step_binds_both_ways():
    down = price_recommendations(_products(unit_cost=1.0), _elasticity(-4.0, -4.5, -3.5), **REC_ARGS).row(0, named=True)
    assert down["is_recommended"] and 0.90 * 50.0 <= down["recommended_price"] < 50.0
    for step in (0.05, 0.2):
        row = price_recommendations(_products(), _elasticity(-0.5, -0.8, -0.2), **{**REC_ARGS, "max_step": step})
        assert row["recommended_price"][0] <= 50.0 * (1 + step) + 1e-9


def test_no_recommendation_without_evidence():
    cases = [
        (_elasticity(-0.5, -1.2, 0.2), "interval includes 0"),
        (_elasticity(-0.5, -0.8, -0.2, changes=2), "fewer than 3 price changes"),
        (_elasticity(-0.5, -0.8, -0.2, status="degraded"), "no usable elasticity"),
    ]
    for elasticity, reason in cases:
        row = price_recommendations(_products(), elasticity, **REC_ARGS).row(0, named=True)
        assert not row["is_recommended"] and reason in row["hold_reason"]
        assert row["recommended_price"] == row["current_price"] and row["expected_margin_change"] == 0.0


def test_missing_cost_optimises_revenue_and_says_so():
    row = price_recommendations(_products(unit_cost=None), _elasticity(-2.0, -2.5, -1.5), **REC_ARGS).row(0, named=True)
    assert row["objective"].startswith("revenue") and row["recommended_price"] < 50.0
    assert row["expected_revenue_change"] > 0 and row["expected_margin_change"] is None


def test_at_the_optimum_the_product_is_held():
    # e = -2, cost 25: p* = 50 = current price
    row = price_recommendations(_products(current_price=49.99, unit_cost=25.0), _elasticity(-2.0, -2.2, -1.8),
                                **REC_ARGS).row(0, named=True)
    assert not row["is_recommended"] and "already the best" in row["hold_reason"]


def test_allowed_neighbours_bracket_the_target():
    below, above = allowed_neighbours(np.array([5050.0, 4999.0, 120.0]), np.array([49.0, 99.0]))
    assert below.tolist() == [5049.0, 4999.0, 99.0] and above.tolist() == [5099.0, 4999.0, 149.0]


def _forecast_panel(n_products: int = 60, n_weeks: int = 90, seed: int = 4):
    """A stationary shop: each product sells Poisson(rate) units every week (no seasonality)."""
    from ecom_growth.pricing.forecast import Panel

    rng = np.random.default_rng(seed)
    rate = rng.gamma(4.0, 2.0, n_products)  # a few units a week: the mean beats one noisy week in L1 too
    weeks = np.array([date(2024, 1, 1) + timedelta(weeks=w) for w in range(n_weeks)], dtype="datetime64[D]")
    return Panel(np.array([f"p{i:02d}" for i in range(n_products)]), np.array(["a", "b"] * (n_products // 2), dtype=object),
                 weeks, rng.poisson(rate[:, None], (n_products, n_weeks)).astype(float),
                 np.full((n_products, n_weeks), np.log(10.0)), np.zeros((n_products, n_weeks)))


def test_predictive_median_is_the_absolute_error_optimum_below_a_skewed_mean():
    from ecom_growth.pricing.forecast import predictive_median

    # Poisson: median of mean 0.3 is 0 (P(0) = 0.74), of mean 2 is 2; the negative binomial's
    # right tail pulls its median (1 at mean 2, dispersion 1) below the mean
    assert predictive_median(np.array([0.0, 0.3, 2.0, 50.0]), 0.0).tolist() == [0.0, 0.0, 2.0, 50.0]
    assert predictive_median(np.array([2.0]), 1.0).tolist() == [1.0]


def test_trailing_mean_reads_only_the_weeks_up_to_the_origin():
    from ecom_growth.pricing.forecast import trailing_mean

    panel = _forecast_panel()
    panel.units[:, 41:] = 1000.0  # the future
    assert np.allclose(trailing_mean(panel, 40, 13), panel.units[:, 28:41].mean(axis=1))
    assert np.allclose(trailing_mean(panel, 3, 13), panel.units[:, :4].mean(axis=1))  # short history


def test_features_never_read_units_after_the_origin():
    from ecom_growth.pricing.forecast import features

    panel = _forecast_panel()
    before = features(panel, 70, 4)
    panel.units[:, 71:] = 1000.0
    assert np.array_equal(before, features(panel, 70, 4), equal_nan=True)


def test_backtest_reports_every_model_and_serves_a_median_that_beats_seasonal_naive_on_a_stationary_shop():
    from ecom_growth.pricing.forecast import ForecastSettings, backtest

    settings = ForecastSettings(horizon_weeks=4, origin_step_weeks=4, validation_origins=2, test_origins=2,
                                max_training_rows=4000, boosting_iterations=20, interval_level=0.9, seed=1,
                                trailing_mean_weeks=13)
    table = backtest(_forecast_panel(), settings)
    # 2 splits x (3 expected-units rows + 2 medians) x 4 horizons
    assert table.height == 2 * 5 * 4
    assert set(table.filter(pl.col("point_forecast") == "median")["model"]) == {"gradient_boosting", "trailing_mean"}
    assert table.filter(pl.col("model") == "seasonal_naive")["nb_dispersion"].is_null().all()
    assert (table.filter(pl.col("model") != "seasonal_naive")["nb_dispersion"] >= 0).all()
    # the served forecast: one model's predictive median, on both splits and every horizon
    selected = table.filter(pl.col("is_selected"))
    assert selected["model"].n_unique() == 1 and selected["point_forecast"].unique().to_list() == ["median"]
    assert selected.height == 2 * 4
    wape = {(r["model"], r["point_forecast"]): r["wape"] for r in table.filter(
        (pl.col("split") == "test") & (pl.col("horizon_weeks") == 4)).iter_rows(named=True)}
    # one noisy week (seasonal naive) against a 13-week mean of a stationary rate
    assert wape[("trailing_mean", "mean")] < 0.9 * wape[("seasonal_naive", "mean")]
    assert selected.filter((pl.col("split") == "test") & (pl.col("horizon_weeks") == 4))["wape_vs_baseline"][0] < -0.1
    trailing = table.filter((pl.col("model") == "trailing_mean") & (pl.col("point_forecast") == "mean"))
    assert trailing["bias"].abs().max() < 0.15  # the mean forecast of a stationary shop is unbiased


def test_clustered_errors_match_the_spread_of_estimates_with_zipf_sellers_and_overdispersion():
    # 40 shops: Zipf-like product sizes (a few sellers carry most of the information), gamma-
    # Poisson noise with serially correlated product shocks; the reported errors must match the
    # estimates' actual spread (the plain sandwich understated it by ~10% on the simulator).
    rng = np.random.default_rng(8)
    n_products, n_weeks, beta = 80, 52, -1.2
    size = np.log(30.0 / np.arange(1, n_products + 1) ** 0.9)
    product = np.repeat(np.arange(n_products), n_weeks)
    week = np.tile(np.arange(n_weeks), n_products)
    estimates, errors = [], []
    for _ in range(40):
        steps = rng.normal(0, 0.15, (n_products, n_weeks)) * (rng.random((n_products, n_weeks)) < 0.05)
        log_price = np.cumsum(steps, axis=1)
        shock = np.cumsum(rng.normal(0, 0.1, (n_products, n_weeks)), axis=1) * 0.5
        mean = np.exp(size[:, None] + beta * log_price + shock) * rng.gamma(2.0, 0.5, (n_products, n_weeks))
        fit = fit_ppml_two_way(rng.poisson(mean).ravel().astype(float), log_price.ravel(), product, week, 50, 1e-10,
                               cluster=product)
        estimates.append(fit.beta)
        errors.append(fit.std_error)
    spread = float(np.std(estimates, ddof=1))
    assert abs(np.mean(estimates) - beta) < 3 * spread / np.sqrt(40)
    # CR3: 0.93 of the spread here; the plain CR1 sandwich: 0.84
    assert 0.88 < float(np.sqrt(np.mean(np.square(errors)))) / spread < 1.35


def _category_rows(rows: list[tuple[str, float, float, str]]) -> pl.DataFrame:
    """ml_price_elasticity category rows (category, estimate, std_error, status); 95% intervals."""
    return pl.DataFrame(rows, schema=["category", "elasticity", "std_error", "status"], orient="row").with_columns(
        level=pl.lit("category"), ci_low=pl.col("elasticity") - 1.96 * pl.col("std_error"),
        ci_high=pl.col("elasticity") + 1.96 * pl.col("std_error"))


def test_recovery_counts_a_missing_or_degraded_category_as_a_miss():
    fitted = _category_rows([("a", -1.1, 0.1, "ok"), ("b", -3.0, 0.5, "ok"), ("c", None, None, "degraded")])
    fitted = pl.concat([fitted, fitted.with_columns(level=pl.lit("product"), elasticity=pl.lit(-1.0))], how="vertical")
    rows = elasticity_recovery(fitted, {"a": -1.0, "b": -1.5, "c": -1.0, "d": -2.0})
    assert rows["category"].to_list() == ["a", "b", "c", "d"]
    assert rows["is_inside"].to_list() == [True, False, False, False]
    assert rows["z"].to_list()[:2] == pytest.approx([-1.0, -3.0])
    assert rows["abs_error"].to_list()[:2] == pytest.approx([0.1, 1.5])
    assert rows["width"][0] == pytest.approx(2 * 1.96 * 0.1)


def test_pooled_recovery_coverage_and_its_exact_binomial_interval():
    from scipy.stats import binomtest

    rows = pl.DataFrame({"dataset": ["x"] * 4 + ["y"] * 2, "is_inside": [True, True, True, False, True, True],
                         "z": [1.0, -1.0, 0.5, 2.5, 0.0, 0.0], "abs_error": [0.1] * 6, "width": [1.0] * 6})
    table = pooled_recovery(rows, by="dataset", confidence_level=0.95)
    x, y = table.row(0, named=True), table.row(1, named=True)
    assert (x["n"], x["inside"], x["coverage"]) == (4, 3, 0.75)
    exact = binomtest(3, 4).proportion_ci(0.95, method="exact")
    assert (x["coverage_low"], x["coverage_high"]) == pytest.approx((exact.low, exact.high))
    assert x["z_mean"] == pytest.approx(0.75) and x["z_sd"] == pytest.approx(np.std([1, -1, 0.5, 2.5], ddof=1))
    # all inside: the upper end is 1 exactly, the lower the one-sided exact bound
    assert y["coverage_high"] == 1.0 and y["coverage_low"] == pytest.approx(0.025 ** 0.5)


def test_between_product_variance_is_zero_when_unequal_noise_explains_the_spread():
    # the products' true slopes are all -1.5; their errors range 0.05..2 (best sellers and thin
    # sellers). The spread of the slopes is large, but each is within its own noise.
    rng = np.random.default_rng(3)
    se = np.exp(rng.uniform(np.log(0.05), np.log(2.0), 400))
    slope = -1.5 + se * rng.standard_normal(400)
    assert between_product_variance(slope, se, -1.5) < 0.01


def test_between_product_variance_recovers_real_heterogeneity_despite_wild_slopes():
    rng = np.random.default_rng(4)
    n, tau = 2000, 0.5
    se = np.exp(rng.uniform(np.log(0.1), np.log(0.6), n))
    slope = -1.0 + tau * rng.standard_normal(n) + se * rng.standard_normal(n)
    slope[:40] = rng.choice([-40.0, 40.0], 40)  # thinly sold products with absurd slopes
    assert between_product_variance(slope, se, -1.0) == pytest.approx(tau**2, rel=0.2)


def test_between_product_variance_edge_cases():
    assert between_product_variance(np.array([]), np.array([]), -1.0) == 0.0
    assert between_product_variance(np.full(5, -1.0), np.full(5, 0.1), -1.0) == 0.0
    # slopes all 1 away with tiny errors: tau^2 so that 1 / sqrt(tau^2) x 1.4826 = 1
    assert between_product_variance(np.full(5, 0.0), np.full(5, 1e-6), -1.0) == pytest.approx(1.4826**2, rel=1e-6)


def test_an_elasticity_table_is_kept_only_if_it_estimated_a_category():
    from ecom_growth.pricing.elasticity import elasticity_is_usable

    table = pl.DataFrame({"level": ["category", "category", "product"], "status": ["degraded", "ok", "ok"]})
    assert elasticity_is_usable(table)
    # every category degraded (a product row alone does not count), empty, or not this table's shape: refit
    assert not elasticity_is_usable(table.with_columns(status=pl.when(pl.col("level") == "category")
                                                       .then(pl.lit("degraded")).otherwise(pl.col("status"))))
    assert not elasticity_is_usable(table.head(0))
    assert not elasticity_is_usable(table.drop("status"))


def test_product_missing_from_the_elasticity_table_is_degraded_with_a_reason():
    # e.g. a product first sold after a kept ml_price_elasticity fit: held, degraded, and says why
    other = _elasticity(-2.0, -2.5, -1.5).with_columns(pl.lit("P_OTHER").alias("product_id"))
    row = price_recommendations(_products(), other, **REC_ARGS).row(0, named=True)
    assert row["status"] == "degraded" and "not in ml_price_elasticity" in row["status_reason"]
    assert not row["is_recommended"] and "no usable elasticity" in row["hold_reason"]
    assert row["recommended_price"] == row["current_price"]
    kept = price_recommendations(_products(), _elasticity(-2.0, -2.5, -1.5), **REC_ARGS).row(0, named=True)
    assert kept["status"] == "ok" and kept["status_reason"] is None


def test_current_price_is_the_latest_regular_week_and_the_baseline_its_last_regular_weeks():
    weeks = [date(2026, 1, 5) + timedelta(weeks=i) for i in range(5)]
    weekly = pl.DataFrame({
        "product_id": ["a"] * 5 + ["b"] * 2, "category": ["c"] * 7, "week_start": weeks + weeks[:2],
        "units": [1, 2, 3, 4, 50, 7, 9], "list_price": [10.0, 10.0, 12.0, 12.0, 8.0, 5.0, 5.5],
        "is_promotion": [False, False, False, None, True, False, False],
        "revenue": [0.0] * 7,  # a column current_prices does not read (the dbt model leaves it out)
    })
    costs = pl.DataFrame({"product_id": ["a"], "unit_cost": [4]})
    out = current_prices(weekly, costs, baseline_weeks=2)
    # a: the promotional week 5 is skipped (null counts as regular); b: no cost row
    assert out.rows() == [("a", "c", 12.0, 3.5, 4.0), ("b", "c", 5.5, 8.0, None)]
    assert current_prices(weekly.select(CURRENT_PRICE_COLUMNS), costs, baseline_weeks=2).equals(out)
    with pytest.raises(pl.exceptions.ColumnNotFoundError):
        current_prices(weekly.drop("is_promotion"), costs, baseline_weeks=2)
