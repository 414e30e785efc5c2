"""Top-N similar products per product (cosine of the stored final ALS item factors).

With var ml_retrain_after_days > 0 a build whose ALS fit was kept keeps the stored table when it
was computed from that very fit (fit_id, fitted_at) with the same top-N and is 'ok': the ok path
reads the item factors only, so recomputing would give the same rows; only as_of moves. A
degraded table (its fallback reads interactions and products) is always recomputed."""

import polars as pl

from ecom_growth.model_store import kept_with_fit, settings_digest, with_fit_of, with_settings_digest
from ecom_growth.recommend.serve import similar_products_table
from ecom_growth.recommend.store import STATUS_OK, item_factor_status, serving_columns


def model(dbt, session):
    dbt.config(materialized="table")
    as_of = dbt.ref("int_as_of").pl().get_column("as_of")[0]
    item_factors = dbt.ref("ml_als_item_factors").pl()
    n = dbt.config.get("similar_products_top_n")
    digest = settings_digest({"similar_products_top_n": n})
    kept = kept_with_fit(session, dbt.this, item_factors, retrain_after_days=int(dbt.config.get("ml_retrain_after_days")),
                         settings=digest, require_status_ok=True)
    if kept is not None:
        return kept.with_columns(pl.lit(as_of).alias("as_of"))
    interactions = None  # only the degraded fallback (most-bought in the category) reads them
    if item_factor_status(item_factors)[0] != STATUS_OK:
        relation = dbt.ref("int_user_item_interactions")
        interactions = relation.select(*serving_columns(relation.columns)).pl()
    similar = similar_products_table(
        item_factors,
        dbt.ref("dim_products").select("product_id", "category").pl(),
        interactions,
        n=n,
    )
    similar = with_settings_digest(with_fit_of(similar, item_factors), digest)
    return similar.with_columns(pl.lit(as_of).alias("as_of"))
