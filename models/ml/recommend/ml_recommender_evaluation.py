"""Validation/test evaluation of ALS and the baselines (choose on validation, report on test)."""

from ecom_growth.recommend import evaluate_recommenders
from ecom_growth.recommend.settings import evaluation_config


def model(dbt, session):
    dbt.config(materialized="table")
    return evaluate_recommenders(
        dbt.ref("int_user_item_interactions_before_holdout").pl(),
        dbt.ref("int_holdout_purchases").pl(),
        customers=dbt.ref("dim_customers").pl().select("customer_id", "acquisition_channel"),
        products=dbt.ref("dim_products").pl().select("product_id", "category"),
        config=evaluation_config(dbt.config),
    )
