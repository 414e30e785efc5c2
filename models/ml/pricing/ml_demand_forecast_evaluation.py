"""Rolling-origin backtest of the demand forecast: WAPE and MASE per split, model and horizon
against seasonal naive, and the selected model. See ecom_growth.pricing.forecast."""

from ecom_growth.pricing.forecast import backtest_table, settings_from_vars


def model(dbt, session):
    dbt.config(materialized="table")
    return backtest_table(dbt.ref("fct_product_weekly_demand").pl(), settings_from_vars(dbt.config.get))
