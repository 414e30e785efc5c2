"""Weekly demand forecast per product and category at the current price, by the model chosen
on the backtest's validation split. See ecom_growth.pricing.forecast. Recomputed on every build
(the latest weeks), also when ml_demand_forecast_evaluation is a kept fit; carries its fit_id.
With var ml_retrain_after_days > 0 the stored table is kept when it was computed from the same
backtest (fit_id, fitted_at), settings and weekly panel (settings_digest covers a digest of the
panel's rows): the forecast is a function of those, so recomputing would give the same rows (the
panel only moves when a week completes or a product sells for the first time)."""

from ecom_growth.model_store import kept_with_fit, relation_digest, settings_digest, with_fit_of, with_settings_digest
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
    weekly = dbt.ref("fct_product_weekly_demand").project(", ".join(PANEL_COLUMNS))
    digest = settings_digest({**values, "panel": relation_digest(weekly)})
    kept = kept_with_fit(session, dbt.this, evaluation, retrain_after_days=int(dbt.config.get("ml_retrain_after_days")),
                         settings=digest)
    if kept is not None:
        return kept
    forecast = demand_forecast(weekly.pl(), evaluation, settings_from_vars(values.get))
    return with_settings_digest(with_fit_of(forecast, evaluation), digest)
