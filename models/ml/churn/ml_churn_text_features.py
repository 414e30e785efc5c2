"""Text features of every churn snapshot row, strictly before the snapshot: review sentiment
(latest, mean) and negative aspect mentions from ml_review_sentiment, tickets and unresolved
tickets and unresolved complaints (ml_ticket_intents) of the last 90 days. The churn models join them to int_churn_snapshots."""

from ecom_growth.text.churn_features import churn_text_features


def model(dbt, session):
    dbt.config(materialized="table")
    return churn_text_features(
        # only the keys are used: the other 25 columns of ~2M rows at 1M customers stay in the warehouse
        dbt.ref("int_churn_snapshots").select("customer_id, snapshot_date").pl(),
        dbt.ref("ml_review_sentiment").pl(),
        dbt.ref("int_support_tickets_in_window").pl(),
        dbt.ref("ml_ticket_intents").pl(),
    )
