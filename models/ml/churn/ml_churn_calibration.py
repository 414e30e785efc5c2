"""Reliability table (mean predicted vs observed churn per probability bin) of every stored
churn candidate on the validation and test snapshots, for a calibration plot in BI."""

from ecom_growth.churn import calibration_table
from ecom_growth.text.churn_features import with_text_features


def model(dbt, session):
    dbt.config(materialized="table")
    return calibration_table(
        dbt.ref("ml_churn_model").pl(),
        with_text_features(dbt.ref("int_churn_snapshots").pl(), dbt.ref("ml_churn_text_features").pl()),
        n_bins=int(dbt.config.get("churn_calibration_bins")),
        n_threads=int(dbt.config.get("churn_threads")),
    )
