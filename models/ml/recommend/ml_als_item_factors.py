"""The final ALS model, fitted once per build on all interactions up to as_of: item factors + fit metadata."""

import polars as pl

from ecom_growth.recommend.settings import final_als_hyperparameters, fit_minimums
from ecom_growth.recommend.store import item_factor_table


def model(dbt, session):
    dbt.config(materialized="table")
    as_of = dbt.ref("int_as_of").pl().get_column("as_of")[0]
    params = final_als_hyperparameters(dbt.ref("ml_recommender_evaluation").pl(), dbt.config)
    table = item_factor_table(dbt.ref("int_user_item_interactions").pl(), params, **fit_minimums(dbt.config))
    return table.with_columns(pl.lit(as_of).alias("as_of"))
