"""Per-customer p_alive, expected purchases, next order date and predicted CLV from the
selected stored model (ml_clv_model_parameters; no second fit), on the customers' histories up
to this build's as_of (also when the stored fit is older). See ecom_growth.clv.pipeline.score_clv."""

from ecom_growth.clv.pipeline import score_clv
from ecom_growth.model_store import with_fit_of


def model(dbt, session):
    dbt.config(materialized="table")
    parameters = dbt.ref("ml_clv_model_parameters").pl()
    predictions = score_clv(
        dbt.ref("int_clv_customer_summary").pl(),
        parameters,
        horizon_days=int(float(dbt.config.get("clv_horizon_days"))),
        discount_rate_annual=float(dbt.config.get("clv_discount_rate_annual")),
        gross_margin=float(dbt.config.get("clv_gross_margin")),
        next_order_probability=float(dbt.config.get("clv_next_order_probability")),
        trusted_min_customers=int(dbt.config.get("clv_trusted_min_customers")),
        trusted_min_repeat_buyers=int(dbt.config.get("clv_trusted_min_repeat_buyers")),
        as_of=dbt.ref("int_as_of").pl().item(0, "as_of"),
    )
    return with_fit_of(predictions, parameters)
