"""The final uplift learner (two-model, HistGradientBoosting per arm), fitted ONCE per build on
every past campaign send and stored as a row (pickled learner, checksum, versions, fit_id,
fitted_at, settings_digest); ml_uplift_scores scores with it. With var ml_retrain_after_days > 0
a stored fit younger than that, made with the same settings, is kept (no refit)."""

from ecom_growth.model_store import kept_fit, library_versions, settings_digest
from ecom_growth.uplift import UpliftParams, fit_uplift, uplift_model_table


def model(dbt, session):
    dbt.config(materialized="table")
    as_of = dbt.ref("int_as_of").pl().item(0, "as_of")
    # dbt passes a Python model only the config keys its source names literally.
    params = UpliftParams(
        max_iter=int(dbt.config.get("uplift_max_iter")),
        learning_rate=float(dbt.config.get("uplift_learning_rate")),
        max_depth=int(dbt.config.get("uplift_max_depth")),
        min_samples_leaf=int(dbt.config.get("uplift_min_samples_leaf")),
        min_sends_per_arm=int(dbt.config.get("uplift_min_sends_per_arm")),
        random_state=int(dbt.config.get("uplift_random_state")),
        n_threads=int(dbt.config.get("uplift_n_threads")),
    )
    digest = settings_digest({**vars(params), "campaign_effect_window_days": int(dbt.config.get("campaign_effect_window_days")),
                              "library_versions": library_versions()})
    kept = kept_fit(session, dbt.this, as_of=as_of, retrain_after_days=int(dbt.config.get("ml_retrain_after_days")),
                    settings=digest)
    if kept is not None:
        return kept
    sends = dbt.ref("int_campaign_send_features").pl()
    return uplift_model_table(fit_uplift(sends, params), train_sends=sends.height, fitted_at=as_of, settings=digest)
