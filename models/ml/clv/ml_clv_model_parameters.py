"""BG/NBD + Gamma-Gamma, fitted ONCE on every customer's completed orders up to as_of.

ml_clv_predictions rebuilds the fitted models from this table; see ecom_growth.clv.pipeline.
"""

from ecom_growth.clv.pipeline import fit_clv_models


def model(dbt, session):
    dbt.config(materialized="table")
    summary = dbt.ref("int_clv_customer_summary").pl()
    as_of = dbt.ref("int_as_of").pl().item(0, "as_of")
    return fit_clv_models(
        summary,
        time_unit_days=float(dbt.config.get("clv_time_unit_days")),
        as_of=as_of,
        min_customers=int(dbt.config.get("clv_min_customers")),
        min_repeat_buyers=int(dbt.config.get("clv_min_repeat_buyers")),
    )
