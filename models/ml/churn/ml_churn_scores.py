"""Churn probability, risk tier and top-3 reasons for every customer of the scoring snapshot,
from the stored final model of ml_churn_model (no refit)."""

from ecom_growth.churn import score_customers, snapshot_date_predicate
from ecom_growth.text.churn_features import with_text_features


def model(dbt, session):
    dbt.config(materialized="table")
    # only the scoring snapshot is read (the labelled ones are most of the table)
    snapshots = dbt.ref("int_churn_snapshots").filter("is_scoring_snapshot").pl()
    text = dbt.ref("ml_churn_text_features").filter(
        snapshot_date_predicate(snapshots.get_column("snapshot_date").unique().to_list())).pl()
    return score_customers(
        dbt.ref("ml_churn_model").pl(),
        with_text_features(snapshots, text),
        risk_tiers=dbt.config.get("churn_risk_tiers"),
        min_reason_delta=float(dbt.config.get("churn_min_reason_delta")),
        n_threads=int(dbt.config.get("churn_threads")),
    )
