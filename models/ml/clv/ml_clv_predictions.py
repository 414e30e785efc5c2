"""Per-customer p_alive, expected purchases and predicted CLV from the stored parameters
(ml_clv_model_parameters; no second fit). See ecom_growth.clv.pipeline.score_clv."""

from ecom_growth.clv.pipeline import score_clv


def model(dbt, session):
    dbt.config(materialized="table")
    summary = dbt.ref("int_clv_customer_summary").pl()
    parameters = dbt.ref("ml_clv_model_parameters").pl()
    return score_clv(
        summary,
        parameters,
        horizon_days=int(float(dbt.config.get("clv_horizon_days"))),
        discount_rate_annual=float(dbt.config.get("clv_discount_rate_annual")),
        as_of=dbt.ref("int_as_of").pl().item(0, "as_of"),
    )
