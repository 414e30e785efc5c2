"""Top-N similar products per product (cosine of the final ALS model's item factors)."""

import polars as pl

from ecom_growth.recommend import fit_recommender, similar_products
from ecom_growth.recommend.settings import hyperparameters_from_config, selected_hyperparameters, split_hyperparameters


def model(dbt, session):
    dbt.config(materialized="table")
    interactions = dbt.ref("int_user_item_interactions").pl()
    evaluation = dbt.ref("ml_recommender_evaluation").pl()
    as_of = dbt.ref("int_as_of").pl().get_column("as_of")[0]

    # Same data, hyperparameters and seed as ml_recommendations, so the same item factors.
    params = selected_hyperparameters(evaluation, hyperparameters_from_config(dbt.config))
    fit_params, weighting, weight_params = split_hyperparameters(params)
    fitted = fit_recommender(
        interactions, weighting=weighting, **weight_params, **fit_params, random_state=dbt.config.get("als_random_state")
    )
    similar = similar_products(fitted.model, fitted.maps, n=dbt.config.get("similar_products_top_n"))
    return similar.with_columns(pl.lit(as_of).alias("as_of"))
