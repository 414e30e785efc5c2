"""Weekly demand forecast per product and category at the current price, by the model chosen
on the backtest's validation split. See ecom_growth.pricing.forecast. Recomputed on every build
(the latest weeks), also when ml_demand_forecast_evaluation is a kept fit; carries its fit_id."""

from ecom_growth.model_store import with_fit_of
from ecom_growth.pricing.forecast import PANEL_COLUMNS, demand_forecast, settings_from_vars


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
    evaluation = dbt.ref("ml_demand_forecast_evaluation").pl()
    weekly = dbt.ref("fct_product_weekly_demand").project(", ".join(PANEL_COLUMNS)).pl()
    forecast = demand_forecast(weekly, evaluation, settings_from_vars(values.get))
    return with_fit_of(forecast, evaluation)
