"""Own-price elasticity per category and per product (PPML with product and category x week
effects; products shrunk toward their category). See ecom_growth.pricing.elasticity."""

from ecom_growth.pricing.elasticity import price_elasticities


def model(dbt, session):
    dbt.config(materialized="table")
    return price_elasticities(
        dbt.ref("fct_product_weekly_demand").pl(),
        min_price_changes_category=int(dbt.config.get("pricing_min_price_changes_category")),
        min_price_changes_product=int(dbt.config.get("pricing_min_price_changes_product")),
        confidence_level=float(dbt.config.get("pricing_confidence_level")),
        max_iterations=int(dbt.config.get("pricing_ppml_max_iterations")),
        tolerance=float(dbt.config.get("pricing_ppml_tolerance")),
        block_weeks=int(dbt.config.get("pricing_elasticity_block_weeks")),
    )
