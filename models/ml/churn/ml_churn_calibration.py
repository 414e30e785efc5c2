"""Reliability table (mean predicted vs observed churn per probability bin) of every stored
churn candidate on the validation and test snapshots, for a calibration plot in BI."""

from ecom_growth.churn import calibration_table


def model(dbt, session):
    dbt.config(materialized="table")
    return calibration_table(
        dbt.ref("ml_churn_model").pl(),
        dbt.ref("int_churn_snapshots").pl(),
        n_bins=int(dbt.config.get("churn_calibration_bins")),
        n_threads=int(dbt.config.get("churn_threads")),
    )
