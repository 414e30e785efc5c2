"""Holdout quality of the text models next to trivial baselines. Reads ml_review_sentiment and
ml_ticket_intents; fits nothing. Intents are scored against int_ticket_intent_labels (the
simulator's planted intents) when it has rows, else against the keyword rules' weak labels."""

import polars as pl

from ecom_growth.text import evaluate_intents, evaluate_sentiment


def model(dbt, session):
    dbt.config(materialized="table")
    n_bootstrap = int(dbt.config.get("text_bootstrap_samples"))
    random_state = int(dbt.config.get("text_random_state"))
    labels = dbt.ref("int_ticket_intent_labels").pl()
    return pl.concat([
        evaluate_sentiment(dbt.ref("ml_review_sentiment").pl(), n_bootstrap=n_bootstrap, random_state=random_state),
        evaluate_intents(dbt.ref("ml_ticket_intents").pl(), labels if labels.height else None,
                         n_bootstrap=n_bootstrap, random_state=random_state),
    ])
