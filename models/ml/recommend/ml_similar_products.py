"""Top-N similar products per product (cosine of the stored final ALS item factors)."""

import polars as pl

from ecom_growth.recommend.serve import similar_products_table
from ecom_growth.recommend.store import serving_columns


def model(dbt, session):
    dbt.config(materialized="table")
    as_of = dbt.ref("int_as_of").pl().get_column("as_of")[0]
    interactions = dbt.ref("int_user_item_interactions")  # only the columns the fallback reads
    similar = similar_products_table(
        dbt.ref("ml_als_item_factors").pl(),
        dbt.ref("dim_products").pl().select("product_id", "category"),
        interactions.select(*serving_columns(interactions.columns)).pl(),
        n=dbt.config.get("similar_products_top_n"),
    )
    return similar.with_columns(pl.lit(as_of).alias("as_of"))
