"""Holdout check of the purchase model: BG/NBD fitted on the calibration period
(as_of - clv_holdout_days), predicted vs actual completed orders in the holdout.
See ecom_growth.clv.pipeline.evaluate_clv_holdout."""

from ecom_growth.clv.pipeline import evaluate_clv_holdout


def model(dbt, session):
    dbt.config(materialized="table")
    calibration = dbt.ref("int_clv_calibration_summary").pl()
    return evaluate_clv_holdout(
        calibration,
        time_unit_days=float(dbt.config.get("clv_time_unit_days")),
        as_of=dbt.ref("int_as_of").pl().item(0, "as_of"),
        min_customers=int(dbt.config.get("clv_min_customers")),
        min_repeat_buyers=int(dbt.config.get("clv_min_repeat_buyers")),
    )
