"""Weekly demand forecast per product and category at the current price, by the model chosen
on the backtest's validation split. See ecom_growth.pricing.forecast."""

from ecom_growth.pricing.forecast import demand_forecast, settings_from_vars


def model(dbt, session):
    dbt.config(materialized="table")
    # dbt finds the vars a Python model reads by its literal dbt.config.get calls
    values = {
        "forecast_horizon_weeks": dbt.config.get("forecast_horizon_weeks"),
        "forecast_origin_step_weeks": dbt.config.get("forecast_origin_step_weeks"),
        "forecast_validation_origins": dbt.config.get("forecast_validation_origins"),
        "forecast_test_origins": dbt.config.get("forecast_test_origins"),
        "forecast_max_training_rows": dbt.config.get("forecast_max_training_rows"),
        "forecast_boosting_iterations": dbt.config.get("forecast_boosting_iterations"),
        "forecast_interval_level": dbt.config.get("forecast_interval_level"),
        "forecast_seed": dbt.config.get("forecast_seed"),
        "forecast_trailing_mean_weeks": dbt.config.get("forecast_trailing_mean_weeks"),
    }
    return demand_forecast(dbt.ref("fct_product_weekly_demand").pl(), dbt.ref("ml_demand_forecast_evaluation").pl(),
                           settings_from_vars(values.get))
