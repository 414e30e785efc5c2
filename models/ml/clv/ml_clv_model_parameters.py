"""BG/NBD, MBG/NBD, Pareto/NBD and Gamma-Gamma, fitted ONCE on every customer's purchase
occasions up to as_of; the purchase model ranked best on the validation window (ml_clv_evaluation) and
not degraded here is_selected. ml_clv_predictions rebuilds it from this table. With var
ml_retrain_after_days > 0 a stored usable fit younger than that, made with the same settings
and chosen by the evaluation kept beside it, is kept (no refit)."""

from ecom_growth.clv.pipeline import clv_fit_is_usable, fit_clv_models, selection_order
from ecom_growth.model_store import kept_fit, settings_digest, stored_fit, with_content_fit


def model(dbt, session):
    dbt.config(materialized="table")
    as_of = dbt.ref("int_as_of").pl().item(0, "as_of")
    evaluation = dbt.ref("ml_clv_evaluation").pl()
    # dbt only passes config keys read literally with dbt.config.get
    settings = {
        "clv_time_unit_days": float(dbt.config.get("clv_time_unit_days")),
        "clv_min_customers": int(dbt.config.get("clv_min_customers")),
        "clv_min_repeat_buyers": int(dbt.config.get("clv_min_repeat_buyers")),
        "clv_purchase_period": str(dbt.config.get("clv_purchase_period")),
    }
    digest = settings_digest(settings)
    kept = kept_fit(session, dbt.this, as_of=as_of, retrain_after_days=int(dbt.config.get("ml_retrain_after_days")),
                    require_status_ok=False, settings=digest)
    # keep a usable fit, and only together with the evaluation that ranked it (same fitted_at)
    if kept is not None and clv_fit_is_usable(kept) and stored_fit(kept)[1] == (stored_fit(evaluation) or (None, None))[1]:
        return kept
    table = fit_clv_models(
        dbt.ref("int_clv_customer_summary").pl(),
        time_unit_days=settings["clv_time_unit_days"],
        as_of=as_of,
        min_customers=settings["clv_min_customers"],
        min_repeat_buyers=settings["clv_min_repeat_buyers"],
        ranking=selection_order(evaluation),
    )
    return with_content_fit(table, fitted_at=as_of, settings=digest)
