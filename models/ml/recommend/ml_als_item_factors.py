"""The final ALS model, fitted once per build on all interactions up to as_of: item factors + fit
metadata. With var ml_retrain_after_days > 0 a stored fit younger than that is kept (no refit)."""

import polars as pl

from ecom_growth.model_store import kept_fit, settings_digest, stored_fit, with_settings_digest
from ecom_growth.recommend.settings import final_als_hyperparameters, fit_minimums, hyperparameters_from_config
from ecom_growth.recommend.store import fit_columns, item_factor_table, read_coded_interactions


def model(dbt, session):
    dbt.config(materialized="table")
    as_of = dbt.ref("int_as_of").pl().get_column("as_of")[0]
    evaluation = dbt.ref("ml_recommender_evaluation").pl()
    # dbt only passes config keys read literally with dbt.config.get
    configured = hyperparameters_from_config({
        "als_weighting": dbt.config.get("als_weighting"),
        "interaction_half_life_days": dbt.config.get("interaction_half_life_days"),
        "als_factors": dbt.config.get("als_factors"),
        "als_regularization": dbt.config.get("als_regularization"),
        "als_iterations": dbt.config.get("als_iterations"),
        "als_alpha": dbt.config.get("als_alpha"),
        "als_bm25_k1": dbt.config.get("als_bm25_k1"),
        "als_bm25_b": dbt.config.get("als_bm25_b"),
        "als_log_eps": dbt.config.get("als_log_eps"),
    })
    # chosen on validation; the configured vars when the evaluation could not choose
    params = final_als_hyperparameters(evaluation, configured)
    minimums = fit_minimums({
        "als_min_users": dbt.config.get("als_min_users"),
        "als_min_items": dbt.config.get("als_min_items"),
        "als_min_interactions": dbt.config.get("als_min_interactions"),
    })
    digest = settings_digest({**configured, **minimums})
    kept = kept_fit(session, dbt.this, as_of=as_of, retrain_after_days=int(dbt.config.get("ml_retrain_after_days")),
                    settings=digest)
    # keep the stored fit only together with the evaluation that chose it (same fitted_at)
    if kept is not None and stored_fit(kept)[1] == (stored_fit(evaluation) or (None, None))[1]:
        return kept
    interactions = dbt.ref("int_user_item_interactions")  # only the columns the fit reads, ids as int codes
    columns = fit_columns(interactions.columns, params.get("half_life_days"))
    table = item_factor_table(read_coded_interactions(interactions, columns), params, fitted_at=as_of, **minimums)
    return with_settings_digest(table.with_columns(pl.lit(as_of).alias("as_of")), digest)
