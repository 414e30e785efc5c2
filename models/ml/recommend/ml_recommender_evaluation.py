"""ALS vs most-popular vs item-item cosine on a temporal holdout (optionally a small grid)."""

from ecom_growth.recommend import evaluate_recommenders
from ecom_growth.recommend.settings import hyperparameters_from_config, split_hyperparameters


def model(dbt, session):
    dbt.config(materialized="table")
    train = dbt.ref("int_user_item_interactions_before_holdout").pl()
    test = dbt.ref("int_holdout_purchases").pl()
    fit_params, weighting, weight_params = split_hyperparameters(hyperparameters_from_config(dbt.config))
    return evaluate_recommenders(
        train,
        test,
        ks=tuple(dbt.config.get("recommender_eval_ks")),
        als_params=fit_params,
        weighting=weighting,
        weighting_params=weight_params,
        filter_purchased=dbt.config.get("recommender_filter_purchased"),
        grid=dbt.config.get("recommender_grid"),
        random_state=dbt.config.get("als_random_state"),
    )
