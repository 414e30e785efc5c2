"""Sentiment score, label and aspects of every review up to as_of, from the stored model of
ml_review_text_model (no refit); is_holdout marks the reviews written on or after its
training cutoff."""

from ecom_growth.model_store import with_fit_of
from ecom_growth.text import score_reviews, text_fit_from_table


def model(dbt, session):
    dbt.config(materialized="table")
    stored = dbt.ref("ml_review_text_model").pl()
    scored = score_reviews(dbt.ref("int_reviews_in_window").pl(), text_fit_from_table(stored),
                           as_of=dbt.ref("int_as_of").pl().item(0, "as_of"))
    return with_fit_of(scored, stored)
