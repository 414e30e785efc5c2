"""Uplift per customer and action as of the build, from the learner refitted on every past send."""

from ecom_growth.uplift import UpliftParams, score_uplift


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
    return score_uplift(dbt.ref("int_campaign_send_features").pl(), dbt.ref("int_uplift_scoring_features").pl(), params)
