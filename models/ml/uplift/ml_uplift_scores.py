"""Uplift per customer and action as of the build, from the stored learner of ml_uplift_model (no refit)."""

from ecom_growth.model_store import with_fit_of
from ecom_growth.uplift import score_uplift, uplift_model_from_table


def model(dbt, session):
    dbt.config(materialized="table")
    stored = dbt.ref("ml_uplift_model").pl()
    scores = score_uplift(dbt.ref("int_campaign_send_features").pl(), dbt.ref("int_uplift_scoring_features").pl(),
                          uplift_model_from_table(stored), n_threads=int(dbt.config.get("uplift_n_threads")))
    return with_fit_of(scores, stored)
