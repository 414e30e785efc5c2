"""Sentiment score, label and aspects of every review up to as_of; the text model is fitted
ONCE here on the reviews before the holdout cutoff (star ratings as weak labels)."""

from ecom_growth.text import review_sentiment_table


def model(dbt, session):
    dbt.config(materialized="table")
    return review_sentiment_table(
        dbt.ref("int_reviews_in_window").pl(),
        as_of=dbt.ref("int_as_of").pl().item(0, "as_of"),
        holdout_days=int(dbt.config.get("text_holdout_days")),
        ngram_max=int(dbt.config.get("text_ngram_max")),
        max_features=int(dbt.config.get("text_max_features")),
        regularization_c=float(dbt.config.get("text_regularization_c")),
        min_training_reviews=int(dbt.config.get("text_min_training_reviews")),
        max_training_reviews=int(dbt.config.get("text_max_training_reviews")),
        random_state=int(dbt.config.get("text_random_state")),
    )
