"""Uplift targeting judged on the latest campaign (trained on earlier ones) against churn-risk and
random targeting: Qini coefficient and uplift at k with bootstrap intervals. Its fit and
bootstrap are the expensive part of the uplift models, so with var ml_retrain_after_days > 0 a
stored evaluation younger than that, run with the same settings and not degraded, is kept
(like ml_uplift_model)."""

from ecom_growth.model_store import kept_fit, library_versions, settings_digest, with_content_fit
from ecom_growth.uplift import UpliftParams, evaluate_uplift


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
    ks = str(dbt.config.get("uplift_ks"))
    effect_window_days = int(dbt.config.get("campaign_effect_window_days"))
    n_bootstrap = int(dbt.config.get("uplift_bootstrap_samples"))
    # library versions too: its fits are gradient-boosting models like ml_uplift_model's, which an
    # upgrade refits, so a kept evaluation would otherwise describe the previous library's model
    digest = settings_digest({**vars(params), "uplift_ks": ks, "campaign_effect_window_days": effect_window_days,
                              "uplift_bootstrap_samples": n_bootstrap, "library_versions": library_versions()})
    kept = kept_fit(session, dbt.this, as_of=as_of, retrain_after_days=int(dbt.config.get("ml_retrain_after_days")),
                    settings=digest)
    if kept is not None:
        return kept
    evaluation = evaluate_uplift(
        dbt.ref("int_campaign_send_features").pl(),
        params,
        effect_window_days=effect_window_days,
        ks=[float(k) for k in ks.strip("[]").split(",")],
        n_bootstrap=n_bootstrap,
    )
    return with_content_fit(evaluation, fitted_at=as_of, settings=digest)
