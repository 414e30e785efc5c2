"""User factors of the final ALS model: the exact least-squares solve against the stored item factors."""

from ecom_growth.recommend.store import user_factor_table


def model(dbt, session):
    dbt.config(materialized="table")
    return user_factor_table(dbt.ref("int_user_item_interactions").pl(), dbt.ref("ml_als_item_factors").pl())
