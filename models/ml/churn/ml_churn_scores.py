"""Churn probability, risk tier and top-3 reasons for every customer of the scoring snapshot,
from the stored final model of ml_churn_model (no refit)."""

from ecom_growth.churn import score_customers
from ecom_growth.text.churn_features import with_text_features


def model(dbt, session):
    dbt.config(materialized="table")
    return score_customers(
        dbt.ref("ml_churn_model").pl(),
        with_text_features(dbt.ref("int_churn_snapshots").pl(), dbt.ref("ml_churn_text_features").pl()),
        risk_tiers=dbt.config.get("churn_risk_tiers"),
        min_reason_delta=float(dbt.config.get("churn_min_reason_delta")),
        n_threads=int(dbt.config.get("churn_threads")),
    )
