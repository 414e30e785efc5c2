"""Uplift targeting judged on the latest campaign (trained on earlier ones) against churn-risk and
random targeting: Qini coefficient and uplift at k with bootstrap intervals."""

from ecom_growth.uplift import UpliftParams, evaluate_uplift


def model(dbt, session):
    dbt.config(materialized="table")
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
    return evaluate_uplift(
        dbt.ref("int_campaign_send_features").pl(),
        params,
        effect_window_days=int(dbt.config.get("campaign_effect_window_days")),
        ks=[float(k) for k in ks.strip("[]").split(",")],
        n_bootstrap=int(dbt.config.get("uplift_bootstrap_samples")),
    )
