"""Churn candidates (recency baseline, logistic regression, gradient boosting) validated on the
newest labelled snapshot; the row with is_selected is the model ml_churn_scores uses."""

from ecom_growth.churn import train_and_score


def model(dbt, session):
    dbt.config(materialized="table")
    snapshots = dbt.ref("int_churn_snapshots").pl()
    result = train_and_score(
        snapshots,
        risk_tiers=dbt.config.get("churn_risk_tiers"),
        random_state=dbt.config.get("churn_random_state"),
    )
    return result.evaluation
