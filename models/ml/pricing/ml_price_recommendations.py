"""Margin-maximising price per product within the guard rails (max step, price endings, never
below cost, evidence). See ecom_growth.pricing.recommend. Recomputed on every build (current
prices and baseline demand), also when ml_price_elasticity is a kept fit; carries its fit_id."""

from ecom_growth.model_store import with_fit_of
from ecom_growth.pricing.recommend import current_prices, parse_int_list, price_recommendations


def model(dbt, session):
    dbt.config(materialized="table")
    products = current_prices(
        dbt.ref("fct_product_weekly_demand").pl(),
        dbt.ref("stg_shop__product_costs").pl(),
        baseline_weeks=int(dbt.config.get("pricing_baseline_weeks")),
    )
    elasticity = dbt.ref("ml_price_elasticity").pl()
    recommendations = price_recommendations(
        products,
        elasticity,
        max_step=float(dbt.config.get("pricing_max_step")),
        price_endings_cents=parse_int_list(dbt.config.get("pricing_price_endings_cents")),
        min_price_changes=int(dbt.config.get("pricing_min_price_changes_product")),
        min_improvement=float(dbt.config.get("pricing_min_improvement")),
    )
    return with_fit_of(recommendations, elasticity)
