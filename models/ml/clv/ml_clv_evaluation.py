"""Holdout check and ranking of the purchase models (BG/NBD, MBG/NBD, Pareto/NBD, Poisson
baseline) fitted on the calibration period (as_of - clv_holdout_days): purchases and value,
by frequency bucket, predicted-value decile and holdout month.
See ecom_growth.clv.pipeline.evaluate_clv_holdout."""

from ecom_growth.clv.pipeline import evaluate_clv_holdout


def model(dbt, session):
    dbt.config(materialized="table")
    return evaluate_clv_holdout(
        dbt.ref("int_clv_calibration_summary").pl(),
        dbt.ref("int_clv_holdout_purchases").pl(),
        time_unit_days=float(dbt.config.get("clv_time_unit_days")),
        as_of=dbt.ref("int_as_of").pl().item(0, "as_of"),
        min_customers=int(dbt.config.get("clv_min_customers")),
        min_repeat_buyers=int(dbt.config.get("clv_min_repeat_buyers")),
        gross_margin=float(dbt.config.get("clv_gross_margin")),
    )
