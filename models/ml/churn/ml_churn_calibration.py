"""Reliability table (mean predicted vs observed churn per probability bin) of every stored
churn candidate on the validation and test snapshots, for a calibration plot in BI. Kept while
the stored fit is kept."""

from ecom_growth.churn import calibration_table, evaluation_snapshot_dates, snapshot_date_predicate
from ecom_growth.model_store import kept_with_fit, with_fit_of
from ecom_growth.text.churn_features import with_text_features


def model(dbt, session):
    dbt.config(materialized="table")
    models = dbt.ref("ml_churn_model").pl()
    kept = kept_with_fit(session, dbt.this, models, retrain_after_days=int(dbt.config.get("ml_retrain_after_days")))
    if kept is not None:
        return kept
    # only the snapshots the stored validation / test models predict are read
    only = snapshot_date_predicate(evaluation_snapshot_dates(models))
    table = calibration_table(
        models,
        with_text_features(dbt.ref("int_churn_snapshots").filter(only).pl(),
                           dbt.ref("ml_churn_text_features").filter(only).pl()),
        n_bins=int(dbt.config.get("churn_calibration_bins")),
        n_threads=int(dbt.config.get("churn_threads")),
    )
    return with_fit_of(table, models)
