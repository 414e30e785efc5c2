"""Pricing outputs against the simulator's planted demand (price_elasticity in _truth.json)."""

from __future__ import annotations

import numpy as np
import polars as pl
from scipy.stats import binom, chi2

from ecom_growth.pricing.recommend import allowed_neighbours


def test_category_elasticities_are_recovered_inside_their_intervals(warehouse, truth):
    planted = truth["price_elasticity"]["by_category"]
    fitted = warehouse.sql(
        "select category, elasticity, std_error, ci_low, ci_high from ml.ml_price_elasticity"
        " where level = 'category' and status = 'ok'"
    ).pl().with_columns(planted=pl.col("category").replace_strict(planted, return_dtype=pl.Float64))
    assert fitted.height == len(planted)
    for row in fitted.sort("category").iter_rows(named=True):
        print(f"{row['category']}: planted {row['planted']:.2f}, estimate {row['elasticity']:.3f}"
              f" [{row['ci_low']:.3f}, {row['ci_high']:.3f}]")
    inside = ((fitted["ci_low"] <= fitted["planted"]) & (fitted["planted"] <= fitted["ci_high"])).mean()
    mae = (fitted["elasticity"] - fitted["planted"]).abs().mean()
    print(f"elasticity: {inside:.0%} of categories inside the 95% interval, MAE {mae:.3f}")
    # The bar is >= 90% inside on simulated data. With 12 categories even exact 95%
    # intervals give >= 11/12 inside only 88% of the time, so as a CI gate on one dataset that bar
    # would fail a correct estimator one seed in eight. The gate is the binomial one instead: more
    # than 2 misses of 12 has probability 2% for calibrated intervals (the 90% bar is reported in
    # the closing note, pooled over datasets, not asserted per seed).
    misses = int(fitted.height - round(inside * fitted.height))
    assert binom.sf(misses - 1, fitted.height, 0.05) > 0.02, f"{misses} of {fitted.height} planted values outside"
    # jointly: the errors against the plant are the size the standard errors say (sum of squared
    # z ~ chi-square with one degree per category; a biased estimator or too small errors fail)
    z2 = float((((fitted["elasticity"] - fitted["planted"]) / fitted["std_error"]) ** 2).sum())
    print(f"sum of squared z: {z2:.1f} on {fitted.height} categories")
    assert z2 < chi2.ppf(0.999, fitted.height)


def _true_margin_effect(recs: pl.DataFrame, truth_products: pl.DataFrame, planted: dict[str, float], step: float) -> dict:
    """The simulator's demand curve (catalogue.py): a product's expected units are proportional
    to w_i / Z_c with w_i = popularity_i x (price_i / reference_i) ** e_c and Z_c the sum of w
    over its category, so a price change moves its own units by (p1 / p0) ** e x Z0 / Z1 and,
    through Z, those of its category peers (substitution). Units are scaled by each product's
    baseline, costs are the true ones. Returns weekly margins of the recommended products:
    before; after, one product at a time (peers at their prices); the per-product true optimum
    within the same max step (continuous prices, no endings, same curve); and after applying
    every recommendation at once (joint), plus the joint change over the whole catalogue."""
    # every product of the category is in Z: those without a recommendation row keep their price
    catalogue = truth_products.join(recs.select("product_id", "current_price", "recommended_price", "unit_cost",
                                                "baseline_weekly_units", "is_recommended"), on="product_id", how="left")
    catalogue = catalogue.with_columns(pl.col("current_price").fill_null(pl.col("last_price")),
                                       pl.col("recommended_price", "unit_cost", "baseline_weekly_units").fill_null(0.0),
                                       pl.col("is_recommended").fill_null(False))
    e = catalogue["category"].replace_strict(planted, return_dtype=pl.Float64).to_numpy()
    p0, p1, c, u = (catalogue[k].to_numpy() for k in ("current_price", "recommended_price", "unit_cost", "baseline_weekly_units"))
    ref, pop = catalogue["reference_price"].to_numpy(), catalogue["popularity"].to_numpy()
    chosen = catalogue["is_recommended"].to_numpy()
    p1 = np.where(chosen, p1, p0)
    cat = np.unique(catalogue["category"].to_numpy(), return_inverse=True)[1]
    w0 = pop * (p0 / ref) ** e
    z0 = np.bincount(cat, weights=w0)[cat]

    def alone(price: np.ndarray) -> np.ndarray:  # units when only this product's price changes
        ratio = (price / p0[:, None]) ** e[:, None]
        return u[:, None] * ratio * z0[:, None] / (z0[:, None] + w0[:, None] * (ratio - 1.0))

    before = u * (p0 - c)
    single = alone(p1[:, None])[:, 0] * (p1 - c)
    grid = np.linspace(np.maximum(p0 * (1 - step), c), p0 * (1 + step), 401, axis=1)
    best = np.max(alone(grid) * (grid - c[:, None]), axis=1)
    z1 = np.bincount(cat, weights=pop * (p1 / ref) ** e)[cat]
    joint = u * (p1 / p0) ** e * (z0 / z1) * (p1 - c)
    return {"n": int(chosen.sum()), "before": float(before[chosen].sum()), "single": float(single[chosen].sum()),
            "optimum": float(best[chosen].sum()), "joint": float(joint[chosen].sum()),
            "catalogue_joint_change": float((joint - before).sum())}


def test_recommended_prices_raise_true_expected_margin(warehouse, truth, raw_path):
    """Evaluated on the simulator's true demand curves and true unit costs (raw product_costs)."""
    planted = truth["price_elasticity"]["by_category"]
    recs = warehouse.sql(
        "select product_id, current_price, recommended_price, baseline_weekly_units, is_recommended"
        " from ml.ml_price_recommendations where baseline_weekly_units > 0"
    ).pl()
    last_price = pl.read_parquet(raw_path / "_truth_prices.parquet").sort("valid_from").group_by("product_id").agg(
        pl.col("list_price").last().alias("last_price"))
    products = pl.read_parquet(raw_path / "_truth_products.parquet").select(
        "product_id", "category", "popularity", "reference_price").join(last_price, on="product_id")
    costs = pl.read_parquet(raw_path / "product_costs.parquet").select("product_id", "unit_cost")
    recs = recs.join(costs, on="product_id")
    r = _true_margin_effect(recs, products, planted, step=0.10)
    gain, possible = r["single"] - r["before"], r["optimum"] - r["before"]
    print(f"true weekly margin of the {r['n']} recommended products: {r['before']:.1f} -> {r['single']:.1f}"
          f" one at a time ({gain / r['before']:+.2%}); true optimum within the max step {r['optimum']:.1f}"
          f" ({possible / r['before']:+.2%}): {gain / possible:.0%} of the attainable gain; all at once"
          f" {r['joint']:.1f} ({r['joint'] / r['before'] - 1:+.2%}), whole catalogue {r['catalogue_joint_change']:+.1f}")
    # the skeptic's baseline: raise every one of these products by the max step (onto a x.x9 price)
    raised, _ = allowed_neighbours(np.round(recs["current_price"].to_numpy() * 110.0, 6), np.arange(9.0, 100.0, 10.0))
    b = _true_margin_effect(recs.with_columns(recommended_price=pl.Series(raised / 100.0)), products, planted, step=0.10)
    print(f"baseline, every recommended product +10%: {(b['single'] - b['before']) / possible:.0%} of the attainable"
          f" gain one at a time, all at once {b['joint'] / b['before'] - 1:+.2%}")
    assert r["n"] > 20
    assert gain > 0 and r["joint"] > r["before"]
    assert r["single"] <= r["optimum"] + 1e-6  # the optimum is an upper bound (a check on this evaluation)
    # versus the true optimum within the same rails (97% on the CI data, 98% on the demo). Not a
    # test of skill beyond the baseline: with unit costs at 40-75% of the price the true optimum
    # sits at the +10% rail for most products, so the blanket raise above scores nearly as well
    # (95% / 89%); the estimates decide which products go down and which are held. The bar
    # catches wrong moves: on the CI data the same recommendations with 20% of them reversed
    # score 66%, at half their step 51%.
    assert gain >= 0.75 * possible, f"{gain / possible:.0%} of the attainable gain"


def test_no_recommendation_below_cost(warehouse):
    below = warehouse.sql("select count(*) from ml.ml_price_recommendations where is_recommended"
                          " and recommended_price < unit_cost").fetchall()[0][0]
    assert below == 0


def test_no_recommendation_beyond_the_max_step_or_off_the_price_endings(warehouse):
    bad = warehouse.sql(
        "select count(*) from ml.ml_price_recommendations where is_recommended"
        " and (abs(recommended_price / current_price - 1) > 0.10 + 1e-9 or round(recommended_price * 100) % 10 <> 9)"
    ).fetchall()[0][0]
    assert bad == 0


def test_no_recommendation_without_evidence(warehouse):
    counts = warehouse.sql(
        """
        select
            count(*) filter (where is_recommended and (n_price_changes < 4
                or (elasticity_ci_low <= 0 and elasticity_ci_high >= 0) or status <> 'ok')),
            count(*) filter (where not is_recommended
                and (hold_reason like '%price changes%' or hold_reason like '%interval includes 0%'))
        from ml.ml_price_recommendations
        """
    ).fetchall()[0]
    assert counts[0] == 0
    assert counts[1] > 0  # the rail is exercised: some products are held for lack of evidence


def test_forecast_beats_seasonal_naive_on_the_test_split(warehouse):
    rows = warehouse.sql(
        "select horizon_weeks, model || '_' || point_forecast as forecast, wape, bias, is_selected, wape_vs_baseline,"
        " wape_vs_baseline_low, wape_vs_baseline_high"
        " from ml.ml_demand_forecast_evaluation where split = 'test' order by 1, 2"
    ).pl()
    wape = rows.pivot(on="forecast", index="horizon_weeks", values="wape")
    improvement = wape.select("horizon_weeks", *[
        (1 - pl.col(c) / pl.col("seasonal_naive_mean")).alias(c) for c in wape.columns if c not in ("horizon_weeks",)])
    served = rows.filter(pl.col("is_selected")).sort("horizon_weeks")
    with pl.Config(tbl_cols=10, tbl_width_chars=200):
        print("served forecast (test):", served, "WAPE improvement over seasonal naive (test):", improvement,
              "bias (test):", rows.pivot(on="forecast", index="horizon_weeks", values="bias"), sep="\n")
    # The bar, on the forecast ml_demand_forecast serves (the selected model's point
    # forecast WAPE scores: its predictive median): at least 15% lower WAPE at 4 weeks.
    assert served["forecast"].n_unique() == 1 and served.height == rows["horizon_weeks"].n_unique()
    at4 = served.filter(pl.col("horizon_weeks") == 4).row(0, named=True)
    assert at4["wape_vs_baseline"] <= -0.15
    assert at4["wape_vs_baseline_high"] < 0  # better than seasonal naive beyond the products' sampling noise
    assert (served["wape_vs_baseline"] < 0).all()  # and better than seasonal naive at every horizon


def test_forecast_model_is_chosen_on_validation_only(warehouse):
    from ecom_growth.pricing.forecast import select_model, served_point

    table = warehouse.sql("select * from ml.ml_demand_forecast_evaluation").pl()
    selected = table.filter(pl.col("is_selected"))
    model = selected["model"][0]
    assert selected["model"].n_unique() == 1 and set(selected["point_forecast"]) == {served_point(model)}
    assert set(selected["split"]) == {"validation", "test"}
    # restated in SQL: the lowest mean validation WAPE among the served points
    best = warehouse.sql(
        """
        select model from ml.ml_demand_forecast_evaluation
        where split = 'validation'
          and point_forecast = case when model = 'seasonal_naive' then 'mean' else 'median' end
        group by model order by avg(wape), model limit 1
        """
    ).fetchall()[0][0]
    assert model == best
    # the test split cannot move the choice: give the worst validation model a perfect test score
    loser = (table.filter((pl.col("split") == "validation") & (pl.col("model") != model))
             .group_by("model").agg(pl.col("wape").max()).sort("wape")["model"][-1])
    rigged = table.with_columns(pl.when((pl.col("split") == "test") & (pl.col("model") == loser)).then(0.0)
                                .otherwise(pl.col("wape")).alias("wape"))
    assert select_model(rigged) == model
    # ... while the same rigging of validation does (so the check above can fail)
    rigged = table.with_columns(pl.when((pl.col("split") == "validation") & (pl.col("model") == loser)).then(0.0)
                                .otherwise(pl.col("wape")).alias("wape"))
    assert select_model(rigged) == loser
    served = warehouse.sql("select distinct model from ml.ml_demand_forecast").fetchall()
    assert served == [(model,)]
