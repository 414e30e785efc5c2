"""Choice and report of the purchase models (BG/NBD, MBG/NBD, Pareto/NBD, Poisson baseline):
fitted before each split's window, chosen on the validation window, reported on the later test
window (vars clv_validation_days, clv_test_days): purchases and value, by frequency bucket,
predicted-value decile and month. See ecom_growth.clv.pipeline.evaluate_clv_holdout.
Its fits choose the final model, so it is kept with the stored parameters (var
ml_retrain_after_days, same settings, a purchase model chosen) and rerun when they are refitted."""

from ecom_growth.clv.pipeline import clv_evaluation_is_usable, evaluate_clv_holdout
from ecom_growth.model_store import kept_fit, settings_digest, with_content_fit


def model(dbt, session):
    dbt.config(materialized="table")
    as_of = dbt.ref("int_as_of").pl().item(0, "as_of")
    # dbt only passes config keys read literally with dbt.config.get
    settings = {
        "clv_time_unit_days": float(dbt.config.get("clv_time_unit_days")),
        "clv_min_customers": int(dbt.config.get("clv_min_customers")),
        "clv_min_repeat_buyers": int(dbt.config.get("clv_min_repeat_buyers")),
        "clv_gross_margin": float(dbt.config.get("clv_gross_margin")),
        "clv_validation_days": int(dbt.config.get("clv_validation_days")),
        "clv_test_days": int(dbt.config.get("clv_test_days")),
        "clv_purchase_period": str(dbt.config.get("clv_purchase_period")),
    }
    digest = settings_digest(settings)
    kept = kept_fit(session, dbt.this, as_of=as_of, retrain_after_days=int(dbt.config.get("ml_retrain_after_days")),
                    require_status_ok=False, settings=digest)
    if kept is not None and clv_evaluation_is_usable(kept):
        return kept
    evaluation = evaluate_clv_holdout(
        dbt.ref("int_clv_calibration_summary").pl(),
        dbt.ref("int_clv_holdout_purchases").pl(),
        time_unit_days=settings["clv_time_unit_days"],
        as_of=as_of,
        min_customers=settings["clv_min_customers"],
        min_repeat_buyers=settings["clv_min_repeat_buyers"],
        gross_margin=settings["clv_gross_margin"],
    )
    return with_content_fit(evaluation, fitted_at=as_of, settings=digest)
