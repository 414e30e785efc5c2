"""Top-N products per customer from ALS trained on everything up to as_of, with cold start."""

import polars as pl

from ecom_growth.recommend import fit_recommender, recommend_top_n
from ecom_growth.recommend.settings import hyperparameters_from_config, selected_hyperparameters, split_hyperparameters


def model(dbt, session):
    dbt.config(materialized="table")
    interactions = dbt.ref("int_user_item_interactions").pl()
    customers = dbt.ref("dim_customers").pl().select("customer_id", "acquisition_channel")
    evaluation = dbt.ref("ml_recommender_evaluation").pl()
    as_of = dbt.ref("int_as_of").pl().get_column("as_of")[0]

    params = selected_hyperparameters(evaluation, hyperparameters_from_config(dbt.config))
    fit_params, weighting, weight_params = split_hyperparameters(params)
    fitted = fit_recommender(
        interactions, weighting=weighting, **weight_params, **fit_params, random_state=dbt.config.get("als_random_state")
    )
    recommendations = recommend_top_n(
        fitted.model,
        fitted.matrix,
        fitted.maps,
        customers,
        interactions=interactions,
        n=dbt.config.get("recommender_top_n"),
        filter_purchased=dbt.config.get("recommender_filter_purchased"),
    )
    return recommendations.with_columns(pl.lit(as_of).alias("as_of"))
