"""Holdout quality of the text models against the labels the shop has, next to trivial
baselines. Reads ml_review_sentiment; fits nothing."""

from ecom_growth.text import evaluate_sentiment


def model(dbt, session):
    dbt.config(materialized="table")
    return evaluate_sentiment(
        dbt.ref("ml_review_sentiment").pl(),
        n_bootstrap=int(dbt.config.get("text_bootstrap_samples")),
        random_state=int(dbt.config.get("text_random_state")),
    )
