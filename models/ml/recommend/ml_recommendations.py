"""Top-N products per customer from the served model (stored ALS factors, or the validation-winning baseline)."""

import polars as pl

from ecom_growth.recommend.serve import recommendation_columns, serve_recommendations
from ecom_growth.recommend.store import read_coded_interactions


def model(dbt, session):
    dbt.config(materialized="table")
    as_of = dbt.ref("int_as_of").pl().get_column("as_of")[0]
    evaluation = dbt.ref("ml_recommender_evaluation").pl()
    item_factors = dbt.ref("ml_als_item_factors").pl()
    interactions = dbt.ref("int_user_item_interactions")  # only the columns the served family reads, ids as int codes
    recommendations = serve_recommendations(
        read_coded_interactions(interactions, recommendation_columns(interactions.columns, evaluation, item_factors)),
        dbt.ref("dim_customers").select("customer_id", "acquisition_channel").pl(),
        evaluation=evaluation,
        item_factors=item_factors,
        user_factors=dbt.ref("ml_als_user_factors").pl(),
        n=dbt.config.get("recommender_top_n"),
        filter_purchased=dbt.config.get("recommender_filter_purchased"),
    )
    return recommendations.with_columns(pl.lit(as_of).alias("as_of"))
