"""Own-price elasticity per category and per product (PPML with product and category x week
effects; products shrunk toward their category). See ecom_growth.pricing.elasticity.
A stored fit: with var ml_retrain_after_days a later build with the same pricing settings keeps
it while it estimated at least one category (elasticity_is_usable); ml_price_recommendations
prices from it on every build."""

from ecom_growth.model_store import kept_fit, settings_digest, with_content_fit
from ecom_growth.pricing.elasticity import PANEL_COLUMNS, elasticity_is_usable, price_elasticities


def model(dbt, session):
    dbt.config(materialized="table")
    as_of = dbt.ref("int_as_of").pl().item(0, "as_of")
    # dbt only passes config keys read literally with dbt.config.get
    settings = {
        "min_price_changes_category": int(dbt.config.get("pricing_min_price_changes_category")),
        "min_price_changes_product": int(dbt.config.get("pricing_min_price_changes_product")),
        "confidence_level": float(dbt.config.get("pricing_confidence_level")),
        "max_iterations": int(dbt.config.get("pricing_ppml_max_iterations")),
        "tolerance": float(dbt.config.get("pricing_ppml_tolerance")),
        "block_weeks": int(dbt.config.get("pricing_elasticity_block_weeks")),
    }
    digest = settings_digest(settings)
    kept = kept_fit(session, dbt.this, as_of=as_of, retrain_after_days=int(dbt.config.get("ml_retrain_after_days")),
                    require_status_ok=False, settings=digest)
    if kept is not None and elasticity_is_usable(kept):
        return kept
    weekly = dbt.ref("fct_product_weekly_demand").project(", ".join(PANEL_COLUMNS)).pl()
    return with_content_fit(price_elasticities(weekly, **settings), fitted_at=as_of, settings=digest)
