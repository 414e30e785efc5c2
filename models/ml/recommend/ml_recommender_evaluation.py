"""Validation/test evaluation of ALS and the baselines (choose on validation, report on test).
Its fits choose the final model's configuration, so it is kept with the stored ALS model
(var ml_retrain_after_days) and rerun when the model is refitted."""

import dataclasses

import polars as pl

from ecom_growth.model_store import compute_fit_id, kept_fit, settings_digest, with_fit_metadata, with_settings_digest
from ecom_growth.recommend import evaluate_recommenders
from ecom_growth.recommend.evaluation import SPLITS, code_map, coded_sql, distinct_ids_sql, evaluation_columns
from ecom_growth.recommend.sampling import cap_from_var
from ecom_growth.recommend.settings import evaluation_config


def model(dbt, session):
    dbt.config(materialized="table")
    as_of = dbt.ref("int_as_of").pl().get_column("as_of")[0]
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
    if kept is not None:
        return kept
    interactions, labels = dbt.ref("int_user_item_interactions_before_holdout"), dbt.ref("int_holdout_purchases")
    customers, products = dbt.ref("dim_customers"), dbt.ref("dim_products")
    # DuckDB turns the ids into integer codes (same order as the ids, same table: see
    # code_map): the evaluation never holds tens of millions of id strings
    codes = {"customer_id": "receval_customer_codes", "product_id": "receval_product_codes"}
    user_codes, item_codes = (
        code_map(session.sql(distinct_ids_sql(column, [r.sql_query() for r in sources])).pl().to_series())
        for column, sources in (("customer_id", (interactions, labels, customers)),
                                ("product_id", (interactions, labels, products))))
    session.register(codes["customer_id"], user_codes)
    session.register(codes["product_id"], item_codes)
    # one split after the other, not rechunked: the evaluation slices each split without a copy
    frames = [pl.concat([session.sql(coded_sql(interactions.sql_query(), evaluation_columns(interactions.columns),
                                               codes, split=split)).pl() for split in SPLITS], rechunk=False)]
    frames += [session.sql(coded_sql(relation.sql_query(), columns, codes)).pl() for relation, columns in (
        (labels, ["split", "customer_id", "product_id"]), (customers, ["customer_id", "acquisition_channel"]),
        (products, ["product_id", "category"]))]
    for table in codes.values():
        session.unregister(table)
    config = dataclasses.replace(evaluation_config(settings),  # 0 or null: score every test customer
                                 test_max_users=cap_from_var(settings["recommender_test_max_users"]))
    evaluation = evaluate_recommenders(frames.pop(0), frames.pop(0), customers=frames.pop(0), products=frames.pop(0),
                                       config=config, user_ids=user_codes.get_column("customer_id"))
    evaluation = with_fit_metadata(evaluation, fit_id=compute_fit_id([evaluation.write_csv()]), fitted_at=as_of)
    return with_settings_digest(evaluation, digest)
