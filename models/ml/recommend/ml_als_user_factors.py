"""User factors of the final ALS model: the exact least-squares solve against the stored item factors."""

from ecom_growth.recommend.store import read_coded_interactions, serving_columns, user_factor_table


def model(dbt, session):
    dbt.config(materialized="table")
    interactions = dbt.ref("int_user_item_interactions")  # only the columns the solve reads, ids as int codes
    return user_factor_table(read_coded_interactions(interactions, serving_columns(interactions.columns)),
                             dbt.ref("ml_als_item_factors").pl())
