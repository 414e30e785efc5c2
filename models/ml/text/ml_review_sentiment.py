"""Sentiment score, label and aspects of every review up to as_of, from the stored model of
ml_review_text_model (no refit); is_holdout marks the reviews written on or after its
training cutoff. With var ml_retrain_after_days > 0 only the reviews new or changed since this
table's last build are scored (same fit and settings; the rest is kept: identical to a full
rescore, see ecom_growth.text.store.rescore_changed)."""

from ecom_growth.model_store import previous_relation
from ecom_growth.text import rescore_reviews


def model(dbt, session):
    dbt.config(materialized="table")
    daily = int(dbt.config.get("ml_retrain_after_days")) > 0
    return rescore_reviews(dbt.ref("int_reviews_in_window").pl(), dbt.ref("ml_review_text_model").pl(),
                           previous_relation(session, dbt.this) if daily else None,
                           as_of=dbt.ref("int_as_of").pl().item(0, "as_of"))
