"""Top-N similar products per product (cosine of the stored final ALS item factors)."""

import polars as pl

from ecom_growth.recommend.serve import similar_products_table
from ecom_growth.recommend.store import STATUS_OK, item_factor_status, serving_columns


def model(dbt, session):
    dbt.config(materialized="table")
    as_of = dbt.ref("int_as_of").pl().get_column("as_of")[0]
    item_factors = dbt.ref("ml_als_item_factors").pl()
    interactions = None  # only the degraded fallback (most-bought in the category) reads them
    if item_factor_status(item_factors)[0] != STATUS_OK:
        relation = dbt.ref("int_user_item_interactions")
        interactions = relation.select(*serving_columns(relation.columns)).pl()
    similar = similar_products_table(
        item_factors,
        dbt.ref("dim_products").pl().select("product_id", "category"),
        interactions,
        n=dbt.config.get("similar_products_top_n"),
    )
    return similar.with_columns(pl.lit(as_of).alias("as_of"))
