"""BG/NBD, MBG/NBD, Pareto/NBD and Gamma-Gamma, fitted ONCE on every customer's purchase
occasions up to as_of; the purchase model ranked best on the holdout (ml_clv_evaluation) and
not degraded here is_selected. ml_clv_predictions rebuilds it from this table."""

from ecom_growth.clv.pipeline import fit_clv_models, selection_order


def model(dbt, session):
    dbt.config(materialized="table")
    return fit_clv_models(
        dbt.ref("int_clv_customer_summary").pl(),
        time_unit_days=float(dbt.config.get("clv_time_unit_days")),
        as_of=dbt.ref("int_as_of").pl().item(0, "as_of"),
        min_customers=int(dbt.config.get("clv_min_customers")),
        min_repeat_buyers=int(dbt.config.get("clv_min_repeat_buyers")),
        ranking=selection_order(dbt.ref("ml_clv_evaluation").pl()),
    )
