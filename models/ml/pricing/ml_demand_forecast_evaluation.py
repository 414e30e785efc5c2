"""Rolling-origin backtest of the demand forecast: WAPE and MASE per split, model and horizon
against seasonal naive, and the selected model. See ecom_growth.pricing.forecast.
Its fits choose the served model (and its dispersion), so it is a stored fit: with var
ml_retrain_after_days a later build with the same forecast_* settings keeps it (a degraded
backtest is retried); ml_demand_forecast forecasts from the kept choice on every build."""

from ecom_growth.model_store import kept_fit, settings_digest, with_content_fit
from ecom_growth.pricing.forecast import PANEL_COLUMNS, backtest_table, settings_from_vars


def model(dbt, session):
    dbt.config(materialized="table")
    as_of = dbt.ref("int_as_of").pl().item(0, "as_of")
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
    settings = settings_from_vars(values.get)
    digest = settings_digest(vars(settings))
    kept = kept_fit(session, dbt.this, as_of=as_of, retrain_after_days=int(dbt.config.get("ml_retrain_after_days")),
                    settings=digest)
    if kept is not None:
        return kept
    weekly = dbt.ref("fct_product_weekly_demand").project(", ".join(PANEL_COLUMNS)).pl()
    return with_content_fit(backtest_table(weekly, settings), fitted_at=as_of, settings=digest)
