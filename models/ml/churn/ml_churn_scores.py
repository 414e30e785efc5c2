"""Calibrated churn probability, risk tier and top-3 reasons for every customer of the scoring
snapshot, from the model ml_churn_model_evaluation selected, refit on all labelled snapshots."""

import polars as pl

from ecom_growth.churn import default_models, train_and_score


def model(dbt, session):
    dbt.config(materialized="table")
    snapshots = dbt.ref("int_churn_snapshots").pl()
    evaluation = dbt.ref("ml_churn_model_evaluation").pl()
    random_state = dbt.config.get("churn_random_state")

    # Re-run only the selected candidate (same data and seed, so the same calibration choice).
    selected = evaluation.filter(pl.col("is_selected")).get_column("model").to_list()
    candidates = default_models(random_state)
    models = {name: candidates[name] for name in selected if name in candidates} or None
    result = train_and_score(
        snapshots, risk_tiers=dbt.config.get("churn_risk_tiers"), random_state=random_state, models=models
    )
    return result.scores
