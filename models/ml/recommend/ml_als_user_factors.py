"""User factors of the final ALS model: the exact least-squares solve against the stored item factors."""

from ecom_growth.recommend.store import read_coded_interactions, stored_fit_columns, user_factor_table


def model(dbt, session):
    dbt.config(materialized="table")
    items = dbt.ref("ml_als_item_factors").pl()
    interactions = dbt.ref("int_user_item_interactions")  # only the columns the solve reads, ids as int codes
    return user_factor_table(read_coded_interactions(interactions, stored_fit_columns(interactions.columns, items)),
                             items)
