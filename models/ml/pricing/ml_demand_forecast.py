"""Weekly demand forecast per product and category at the current price, by the model chosen
on the backtest's validation split. See ecom_growth.pricing.forecast."""

from ecom_growth.pricing.forecast import demand_forecast, settings_from_vars


def model(dbt, session):
    dbt.config(materialized="table")
    return demand_forecast(dbt.ref("fct_product_weekly_demand").pl(), dbt.ref("ml_demand_forecast_evaluation").pl(),
                           settings_from_vars(dbt.config.get))
