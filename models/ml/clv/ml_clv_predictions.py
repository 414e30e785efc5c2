"""Per-customer p_alive, expected purchases, next order date and predicted CLV from the
selected stored model (ml_clv_model_parameters; no second fit). See ecom_growth.clv.pipeline.score_clv."""

from ecom_growth.clv.pipeline import score_clv


def model(dbt, session):
    dbt.config(materialized="table")
    return score_clv(
        dbt.ref("int_clv_customer_summary").pl(),
        dbt.ref("ml_clv_model_parameters").pl(),
        horizon_days=int(float(dbt.config.get("clv_horizon_days"))),
        discount_rate_annual=float(dbt.config.get("clv_discount_rate_annual")),
        gross_margin=float(dbt.config.get("clv_gross_margin")),
        next_order_probability=float(dbt.config.get("clv_next_order_probability")),
        trusted_min_customers=int(dbt.config.get("clv_trusted_min_customers")),
        trusted_min_repeat_buyers=int(dbt.config.get("clv_trusted_min_repeat_buyers")),
        as_of=dbt.ref("int_as_of").pl().item(0, "as_of"),
    )
