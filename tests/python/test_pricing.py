"""Pricing library: PPML elasticity with fixed effects and the recommendation guard rails."""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np
import polars as pl
import pytest

from ecom_growth.pricing.elasticity import fit_ppml_two_way, price_elasticities
from ecom_growth.pricing.recommend import allowed_neighbours, price_recommendations

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
    fit = fit_ppml_two_way(panel["units"].to_numpy(), np.log(panel["list_price"].to_numpy()), product, week, 50, 1e-10)
    assert fit.converged
    assert abs(fit.beta + 1.7) < 3 * fit.std_error
    assert 0.005 < fit.std_error < 0.2


def test_ppml_without_price_variation_returns_nan():
    rng = np.random.default_rng(2)
    panel = _panel(rng, -1.0, 20, 30, vary=False)
    product = np.unique(panel["product_id"].to_numpy(), return_inverse=True)[1]
    week = np.unique(panel["week_start"].to_numpy(), return_inverse=True)[1]
    fit = fit_ppml_two_way(panel["units"].to_numpy(), np.log(panel["list_price"].to_numpy()), product, week, 20, 1e-8)
    assert np.isnan(fit.beta)


def test_elasticity_table_has_category_and_product_rows_and_degrades_without_variation():
    rng = np.random.default_rng(3)
    weekly = pl.concat([_panel(rng, -2.0, 200, 60, "a"), _panel(rng, -1.0, 30, 60, "b", vary=False)])
    table = price_elasticities(weekly, min_price_changes_category=20, min_price_changes_product=3,
                               confidence_level=0.95, max_iterations=50, tolerance=1e-8)
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
