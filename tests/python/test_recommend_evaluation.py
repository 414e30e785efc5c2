"""Temporal holdout evaluation: repeat-purchase handling, output shape, determinism, and ALS
recovering planted low-rank taste better than popularity."""

from __future__ import annotations

import json

import polars as pl
import pytest

from ecom_growth.recommend import (
    EVALUATION_SCHEMA,
    evaluate_recommenders,
    relevant_items,
    synthetic_purchases,
    temporal_split,
)


@pytest.fixture(scope="module")
def synthetic_split() -> tuple[pl.DataFrame, pl.DataFrame]:
    # 3000 customers, 500 products, rank-8 taste, Zipf popularity; last 20% of time = holdout
    events = synthetic_purchases(3000, 500, rank=8, taste_strength=8.0, zipf_exponent=1.0, seed=11)
    return temporal_split(events, cutoff=0.8, time_col="purchased_at")


def test_temporal_split_aggregates_train_and_dedupes_holdout():
    events = pl.DataFrame(
        {
            "customer_id": ["a", "a", "a", "b", "b"],
            "product_id": ["x", "x", "y", "x", "x"],
            "ordered_at": [1, 2, 5, 6, 7],
        }
    )
    train, test = temporal_split(events, cutoff=5)
    assert train.rows() == [("a", "x", 2, 2.0)]
    assert train.columns == ["customer_id", "product_id", "purchase_count", "strength"]
    assert test.rows() == [("a", "y"), ("b", "x")]


def test_relevant_items_drop_repeats_and_cold_customers_only_when_filtering():
    train = pl.DataFrame(
        {"customer_id": ["u", "u"], "product_id": ["A", "V"], "strength": [1.0, 1.0], "purchase_count": [1, 0]}
    )
    test = pl.DataFrame({"customer_id": ["u", "u", "u", "new"], "product_id": ["A", "B", "V", "A"]})
    assert relevant_items(train, test).rows() == [("u", "B"), ("u", "V")]  # V was only viewed
    assert relevant_items(train, test, filter_purchased=False).rows() == [("u", "A"), ("u", "B"), ("u", "V")]


def test_als_beats_most_popular_on_planted_low_rank_taste(synthetic_split):
    train, test = synthetic_split
    table = evaluate_recommenders(train, test, ks=(5, 10, 20), als_params={"factors": 16})
    ndcg10 = dict(
        table.filter((pl.col("k") == 10) & (pl.col("metric") == "ndcg")).select("model", "value").rows()
    )
    assert ndcg10["als"] >= 1.5 * ndcg10["most_popular"], ndcg10
    ratio = table.filter(
        (pl.col("model") == "als") & (pl.col("k") == 10) & (pl.col("metric") == "ndcg")
    ).get_column("value_vs_most_popular")
    assert ratio.item() == pytest.approx(ndcg10["als"] / ndcg10["most_popular"])
    # shape of the table: 3 models x 3 ks x 5 metrics, one configuration each
    assert table.schema == pl.Schema(EVALUATION_SCHEMA)
    assert table.height == 3 * 3 * 5
    assert table.get_column("is_selected").all()
    assert table.get_column("users_evaluated").n_unique() == 1
    users = table.get_column("users_evaluated")[0]
    assert users == relevant_items(train, test).get_column("customer_id").n_unique()
    popular = table.filter(pl.col("model") == "most_popular").get_column("value_vs_most_popular")
    assert popular.drop_nulls().to_list() == [1.0] * popular.drop_nulls().len()
    # ALS spreads recommendations over far more of the catalogue than popularity
    coverage = dict(
        table.filter((pl.col("k") == 10) & (pl.col("metric") == "coverage")).select("model", "value").rows()
    )
    assert coverage["als"] > 5 * coverage["most_popular"]


def test_grid_selects_best_ndcg_and_records_hyperparameters():
    events = synthetic_purchases(600, 80, rank=4, taste_strength=8.0, seed=2)
    train, test = temporal_split(events, cutoff=0.8, time_col="purchased_at")
    grid = [{"factors": 4, "alpha": 1.0}, {"factors": 8, "regularization": 1.0, "alpha": 3.0}]
    table = evaluate_recommenders(train, test, ks=(10,), grid=grid, random_state=1)
    als = table.filter((pl.col("model") == "als") & (pl.col("metric") == "ndcg"))
    assert als.height == 2
    params = [json.loads(h) for h in als.get_column("hyperparameters")]
    assert [(p["factors"], p["alpha"], p["regularization"]) for p in params] == [(4, 1.0, 0.1), (8, 3.0, 1.0)]
    best = als.sort("value", descending=True).get_column("hyperparameters")[0]
    assert als.filter(pl.col("is_selected")).get_column("hyperparameters").to_list() == [best]
    # every metric row of a configuration carries the same selection flag
    flags = table.filter(pl.col("model") == "als").group_by("hyperparameters").agg(pl.col("is_selected").n_unique())
    assert flags.get_column("is_selected").to_list() == [1, 1]


def test_evaluation_is_deterministic():
    events = synthetic_purchases(500, 60, rank=4, seed=3)
    train, test = temporal_split(events, cutoff=0.75, time_col="purchased_at")
    first = evaluate_recommenders(train, test, ks=(5,), als_params={"factors": 8, "iterations": 5})
    second = evaluate_recommenders(train, test, ks=(5,), als_params={"factors": 8, "iterations": 5})
    assert first.equals(second)


def test_empty_inputs_give_empty_table_with_schema():
    empty_train = pl.DataFrame(
        schema={"customer_id": pl.String, "product_id": pl.String, "strength": pl.Float64}
    )
    empty_test = pl.DataFrame(schema={"customer_id": pl.String, "product_id": pl.String})
    table = evaluate_recommenders(empty_train, empty_test)
    assert table.height == 0 and table.schema == pl.Schema(EVALUATION_SCHEMA)
    # training data but no holdout purchase by a known customer
    train = pl.DataFrame({"customer_id": ["a"], "product_id": ["x"], "strength": [1.0]})
    test = pl.DataFrame({"customer_id": ["b"], "product_id": ["x"]})
    assert evaluate_recommenders(train, test).height == 0


def test_unknown_hyperparameter_is_rejected():
    train = pl.DataFrame({"customer_id": ["a"], "product_id": ["x"], "strength": [1.0]})
    test = pl.DataFrame({"customer_id": ["a"], "product_id": ["y"]})
    with pytest.raises(ValueError, match="unknown hyperparameter"):
        evaluate_recommenders(train, test, grid=[{"factor": 3}])
