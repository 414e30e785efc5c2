"""Validation/test evaluation of ALS and the baselines (choose on validation, report on test).
Its fits choose the final model's configuration, so it is kept with the stored ALS model
(var ml_retrain_after_days) and rerun when the model is refitted or its inputs (the evaluation
snapshot, int_evaluation_snapshots) are rebuilt; it always evaluates at the snapshot's as_of."""

from ecom_growth.model_store import compute_fit_id, kept_fit, settings_digest, with_fit_metadata, with_settings_digest
from ecom_growth.recommend import evaluate_recommenders
from ecom_growth.recommend.evaluation import evaluation_snapshot, read_coded_inputs, same_snapshot, with_snapshot
from ecom_growth.recommend.settings import evaluation_config


def model(dbt, session):
    dbt.config(materialized="table")
    as_of = dbt.ref("int_as_of").pl().get_column("as_of")[0]
    snapshot = evaluation_snapshot(dbt.ref("int_evaluation_snapshots").pl())
    # dbt only passes config keys read literally with dbt.config.get
    settings = {
        "als_weighting": dbt.config.get("als_weighting"),
        "interaction_half_life_days": dbt.config.get("interaction_half_life_days"),
        "als_factors": dbt.config.get("als_factors"),
        "als_regularization": dbt.config.get("als_regularization"),
        "als_iterations": dbt.config.get("als_iterations"),
        "als_alpha": dbt.config.get("als_alpha"),
        "als_bm25_k1": dbt.config.get("als_bm25_k1"),
        "als_bm25_b": dbt.config.get("als_bm25_b"),
        "als_log_eps": dbt.config.get("als_log_eps"),
        "als_random_state": dbt.config.get("als_random_state"),
        "recommender_eval_ks": dbt.config.get("recommender_eval_ks"),
        "recommender_filter_purchased": dbt.config.get("recommender_filter_purchased"),
        "recommender_grid": dbt.config.get("recommender_grid"),
        "recommender_grid_max_users": dbt.config.get("recommender_grid_max_users"),
        "recommender_test_max_users": dbt.config.get("recommender_test_max_users"),
        "recommender_knn_neighbours": dbt.config.get("recommender_knn_neighbours"),
        "recommender_knn_shrinkage": dbt.config.get("recommender_knn_shrinkage"),
        "recommender_bootstrap_samples": dbt.config.get("recommender_bootstrap_samples"),
        "recommender_confidence_level": dbt.config.get("recommender_confidence_level"),
        "recommender_min_evaluation_users": dbt.config.get("recommender_min_evaluation_users"),
    }
    digest = settings_digest(settings)
    kept = kept_fit(session, dbt.this, as_of=as_of, retrain_after_days=int(dbt.config.get("ml_retrain_after_days")),
                    require_status_ok=False, settings=digest)
    if kept is not None and same_snapshot(kept, snapshot):
        return kept
    # ids read as integer codes that DuckDB assigns (same order as the ids, so the same table)
    inputs = read_coded_inputs(session, interactions=dbt.ref("int_user_item_interactions_before_holdout"),
                               labels=dbt.ref("int_holdout_purchases"), customers=dbt.ref("dim_customers"),
                               products=dbt.ref("dim_products"), snapshot=snapshot)
    evaluation = evaluate_recommenders(inputs.interactions, inputs.labels, customers=inputs.customers,
                                       products=inputs.products, config=evaluation_config(settings),
                                       user_ids=inputs.user_ids)
    evaluation = with_fit_metadata(evaluation, fit_id=compute_fit_id([evaluation.write_csv()]), fitted_at=as_of)
    return with_snapshot(with_settings_digest(evaluation, digest), snapshot)
