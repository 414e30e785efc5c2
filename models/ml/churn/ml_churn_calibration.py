"""Reliability table (mean predicted vs observed churn per probability bin) of every stored
churn candidate on the validation and test snapshots, for a calibration plot in BI. Kept while
the stored fit is kept."""

from ecom_growth.churn import calibration_table
from ecom_growth.model_store import previous_relation, reusable_with_fit, with_fit_of


def model(dbt, session):
    dbt.config(materialized="table")
    models = dbt.ref("ml_churn_model").pl()
    previous = previous_relation(session, dbt.this)
    if reusable_with_fit(previous, models, retrain_after_days=int(dbt.config.get("ml_retrain_after_days"))):
        return previous
    table = calibration_table(
        models,
        dbt.ref("int_churn_snapshots").pl(),
        n_bins=int(dbt.config.get("churn_calibration_bins")),
        n_threads=int(dbt.config.get("churn_threads")),
    )
    return with_fit_of(table, models)
