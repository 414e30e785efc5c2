"""Margin-maximising price per product within the guard rails (max step, price endings, never
below cost, evidence). See ecom_growth.pricing.recommend. Recomputed on every build (current
prices and baseline demand), also when ml_price_elasticity is a kept fit; carries its fit_id.
With var ml_retrain_after_days > 0 the stored table is kept when it was computed from the same
elasticity fit (fit_id, fitted_at), settings, weekly panel and product costs (settings_digest
covers digests of both tables' rows): recomputing would give the same rows."""

from ecom_growth.model_store import kept_with_fit, relation_digest, settings_digest, with_fit_of, with_settings_digest
from ecom_growth.pricing.recommend import CURRENT_PRICE_COLUMNS, current_prices, parse_int_list, price_recommendations


def model(dbt, session):
    dbt.config(materialized="table")
    weekly, costs = dbt.ref("fct_product_weekly_demand"), dbt.ref("stg_shop__product_costs")
    settings = {
        "pricing_baseline_weeks": int(dbt.config.get("pricing_baseline_weeks")),
        "pricing_max_step": float(dbt.config.get("pricing_max_step")),
        "pricing_price_endings_cents": parse_int_list(dbt.config.get("pricing_price_endings_cents")),
        "pricing_min_price_changes_product": int(dbt.config.get("pricing_min_price_changes_product")),
        "pricing_min_improvement": float(dbt.config.get("pricing_min_improvement")),
    }
    elasticity = dbt.ref("ml_price_elasticity").pl()
    digest = settings_digest({**settings, "weekly": relation_digest(weekly), "costs": relation_digest(costs)})
    kept = kept_with_fit(session, dbt.this, elasticity, retrain_after_days=int(dbt.config.get("ml_retrain_after_days")),
                         settings=digest)
    if kept is not None:
        return kept
    panel = weekly.project(", ".join(CURRENT_PRICE_COLUMNS)).pl()  # only the columns it reads
    products = current_prices(panel, costs.pl(), baseline_weeks=settings["pricing_baseline_weeks"])
    recommendations = price_recommendations(
        products,
        elasticity,
        max_step=settings["pricing_max_step"],
        price_endings_cents=settings["pricing_price_endings_cents"],
        min_price_changes=settings["pricing_min_price_changes_product"],
        min_improvement=settings["pricing_min_improvement"],
    )
    return with_settings_digest(with_fit_of(recommendations, elasticity), digest)
