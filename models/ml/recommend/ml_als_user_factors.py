"""User factors of the final ALS model: the exact least-squares solve against the stored item factors."""

from ecom_growth.recommend.store import serving_columns, user_factor_table


def model(dbt, session):
    dbt.config(materialized="table")
    interactions = dbt.ref("int_user_item_interactions")  # only the columns the solve reads
    return user_factor_table(interactions.select(*serving_columns(interactions.columns)).pl(),
                             dbt.ref("ml_als_item_factors").pl())
