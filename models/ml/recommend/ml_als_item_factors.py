"""The final ALS model, fitted once per build on all interactions up to as_of: item factors + fit metadata."""

import polars as pl
from ecom_growth.recommend.settings import final_als_hyperparameters, fit_minimums
from ecom_growth.recommend.store import item_factor_table


def model(dbt, session):
    dbt.config(materialized="table")
    as_of = dbt.ref("int_as_of").pl().get_column("as_of")[0]
    params = final_als_hyperparameters(dbt.ref("ml_recommender_evaluation").pl())  # chosen on validation
    minimums = fit_minimums({
        "als_min_users": dbt.config.get("als_min_users"),
        "als_min_items": dbt.config.get("als_min_items"),
        "als_min_interactions": dbt.config.get("als_min_interactions"),
    })
    table = item_factor_table(dbt.ref("int_user_item_interactions").pl(), params, **minimums)
    return table.with_columns(pl.lit(as_of).alias("as_of"))
