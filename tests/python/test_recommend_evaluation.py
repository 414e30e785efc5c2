"""Validation/test evaluation: choices on validation only, baselines, intervals, cold start,
degradation, and ALS recovering planted low-rank taste better than popularity."""

from __future__ import annotations

import dataclasses
import json

import polars as pl
import pytest

from ecom_growth.recommend import (
    EVALUATION_SCHEMA,
    EvaluationConfig,
    evaluate_recommenders,
    relevant_items,
    synthetic_purchases,
    temporal_split,
)
from ecom_growth.recommend.evaluation import served_model

CONFIG = EvaluationConfig(
    ks=(5, 10),
    filter_purchased=True,
    als={"weighting": "alpha", "factors": 16, "regularization": 0.1, "iterations": 10, "alpha": 1.0},
    als_grid=[{"factors": 8}, {"factors": 16}],
    knn_neighbours=[20, 100],
    knn_shrinkage=[0.0],
    bootstrap_samples=200,
    confidence_level=0.95,
    random_state=1,
    min_users=20,
    grid_max_users=None,
)


def splits(events: pl.DataFrame, *, validation_at: float, test_at: float) -> tuple[pl.DataFrame, pl.DataFrame]:
    """(train with split, labels with split) from purchase events timed in [0, 1)."""
    v_train, _ = temporal_split(events, cutoff=validation_at, time_col="purchased_at")
    t_train, t_labels = temporal_split(events, cutoff=test_at, time_col="purchased_at")
    v_labels = events.filter(
        (pl.col("purchased_at") >= validation_at) & (pl.col("purchased_at") < test_at)
    ).select("customer_id", "product_id").unique()
    train = pl.concat([v_train.with_columns(split=pl.lit("validation")), t_train.with_columns(split=pl.lit("test"))])
    labels = pl.concat([v_labels.with_columns(split=pl.lit("validation")), t_labels.with_columns(split=pl.lit("test"))])
    return train, labels


def catalogue_frames(events: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame]:
    customers = events.select("customer_id").unique().with_columns(
        acquisition_channel=pl.when(pl.col("customer_id").str.slice(1).cast(pl.Int64) % 2 == 0)
        .then(pl.lit("organic")).otherwise(pl.lit("paid"))
    )
    products = events.select("product_id").unique().with_columns(
        category=pl.format("cat{}", pl.col("product_id").str.slice(1).cast(pl.Int64) % 5)
    )
    return customers, products


@pytest.fixture(scope="module")
def synthetic():
    events = synthetic_purchases(1500, 200, rank=6, taste_strength=8.0, zipf_exponent=1.0, seed=11)
    train, labels = splits(events, validation_at=0.6, test_at=0.8)
    customers, products = catalogue_frames(events)
    table = evaluate_recommenders(train, labels, customers=customers, products=products, config=CONFIG)
    return train, labels, customers, products, table


def value(table: pl.DataFrame, split: str, model: str, metric: str = "ndcg", k: int = 10, population: str = "warm"):
    row = table.filter(
        (pl.col("split") == split) & (pl.col("population") == population) & (pl.col("model") == model)
        & (pl.col("metric") == metric) & (pl.col("k") == k) & (pl.col("is_selected") | (pl.col("model") == "als_minus_best_baseline"))
    )
    assert row.height == 1, row
    return row.row(0, named=True)


def test_temporal_split_aggregates_train_and_dedupes_holdout():
    events = pl.DataFrame(
        {"customer_id": ["a", "a", "a", "b", "b"], "product_id": ["x", "x", "y", "x", "x"], "ordered_at": [1, 2, 5, 6, 7]}
    )
    train, test = temporal_split(events, cutoff=5)
    assert train.rows() == [("a", "x", 2, 2.0)]
    assert test.rows() == [("a", "y"), ("b", "x")]


def test_relevant_items_drop_repeats_and_cold_customers_only_when_filtering():
    train = pl.DataFrame(
        {"customer_id": ["u", "u"], "product_id": ["A", "V"], "strength": [1.0, 1.0], "purchase_count": [1, 0]}
    )
    test = pl.DataFrame({"customer_id": ["u", "u", "u", "new"], "product_id": ["A", "B", "V", "A"]})
    assert relevant_items(train, test).rows() == [("u", "B"), ("u", "V")]  # V was only viewed
    assert relevant_items(train, test, filter_purchased=False).rows() == [("u", "A"), ("u", "B"), ("u", "V")]


def test_als_beats_popularity_on_planted_taste_and_the_table_is_complete(synthetic):
    *_, table = synthetic
    assert table.schema == pl.Schema(EVALUATION_SCHEMA)
    assert value(table, "test", "als")["value"] >= 1.5 * value(table, "test", "most_popular")["value"]
    families = set(table.filter(pl.col("population") == "warm").get_column("model"))
    assert families == {"als", "most_popular", "recent_popular", "item_knn", "als_minus_best_baseline"}
    # validation holds every configuration (2 ALS, 2 kNN), test only the chosen one per family
    ndcg = table.filter((pl.col("metric") == "ndcg") & (pl.col("k") == 10) & (pl.col("population") == "warm"))
    per_split = dict(ndcg.group_by("split").agg(pl.len()).rows())
    assert per_split == {"validation": 2 + 2 + 2 + 1, "test": 4 + 1}
    assert table.filter(pl.col("split") == "test").filter(
        ~pl.col("is_selected") & (pl.col("model") != "als_minus_best_baseline")
    ).height == 0
    assert set(table.get_column("status")) == {"ok"}


def test_intervals_bracket_the_means_and_coverage_has_none(synthetic):
    *_, table = synthetic
    bounded = table.filter(pl.col("metric") != "coverage").drop_nulls("ci_lower")
    assert bounded.height > 0
    assert (bounded.get_column("ci_lower") <= bounded.get_column("value") + 1e-12).all()
    assert (bounded.get_column("value") <= bounded.get_column("ci_upper") + 1e-12).all()
    assert table.filter(pl.col("metric") == "coverage").get_column("ci_lower").null_count() == \
        table.filter(pl.col("metric") == "coverage").height


def test_difference_is_als_minus_the_best_validation_baseline(synthetic):
    *_, table = synthetic
    baselines = ["most_popular", "recent_popular", "item_knn"]
    best = max(baselines, key=lambda m: value(table, "validation", m)["value"])
    for split in ("validation", "test"):
        diff = value(table, split, "als_minus_best_baseline")
        assert json.loads(diff["hyperparameters"])["baseline"] == best
        assert diff["value"] == pytest.approx(value(table, split, "als")["value"] - value(table, split, best)["value"])
        assert diff["ci_lower"] <= diff["value"] <= diff["ci_upper"]


def test_choices_do_not_depend_on_the_test_window(synthetic):
    train, labels, customers, products, table = synthetic
    # drop half of the test labels: validation rows and every choice must stay the same
    fewer = labels.filter((pl.col("split") == "validation") | (pl.col("customer_id").str.slice(1).cast(pl.Int64) % 2 == 0))
    other = evaluate_recommenders(train, fewer, customers=customers, products=products, config=CONFIG)
    assert other.filter(pl.col("split") == "validation").equals(table.filter(pl.col("split") == "validation"))
    def chosen(t: pl.DataFrame) -> pl.DataFrame:
        return t.filter(pl.col("is_selected")).select("split", "model", "hyperparameters").unique().sort(pl.all())

    assert chosen(other).equals(chosen(table))
    assert served_model(other) == served_model(table)


def test_served_model_is_the_best_validation_family(synthetic):
    *_, table = synthetic
    family, params = served_model(table)
    best = max(["most_popular", "recent_popular", "item_knn", "als"], key=lambda m: value(table, "validation", m)["value"])
    assert family == best
    assert params == json.loads(value(table, "validation", best)["hyperparameters"])


def test_beyond_accuracy_metrics_popularity_is_least_novel(synthetic):
    *_, table = synthetic
    novelty = {m: value(table, "test", m, "novelty")["value"] for m in ("most_popular", "als", "item_knn")}
    assert novelty["most_popular"] < novelty["als"] and novelty["most_popular"] < novelty["item_knn"]
    for model in ("most_popular", "als"):
        assert 0 <= value(table, "test", model, "diversity")["value"] <= 1


def test_cold_start_channel_popularity_beats_global_when_channels_differ():
    # channel a buys only a-products, channel b only b-products; b is bigger, so the global
    # list is b's; new a-customers are served a-products by their channel's list
    rows = []
    for c in range(60):
        channel = "a" if c < 20 else "b"
        for p in range(3):
            rows.append((f"{channel}{c}", f"{channel}p{(c + p) % 6}", 0.1 + 0.1 * p))
    old = pl.DataFrame(rows, schema=["customer_id", "product_id", "purchased_at"], orient="row")
    new = pl.DataFrame(
        [(f"new_{ch}{i}", f"{ch}p{i % 3}", 0.9) for ch in "ab" for i in range(30)],
        schema=["customer_id", "product_id", "purchased_at"], orient="row",
    )
    events = pl.concat([old, new])
    train, labels = splits(events, validation_at=0.5, test_at=0.8)
    customers = events.select("customer_id").unique().with_columns(
        acquisition_channel=pl.col("customer_id").str.replace("new_", "").str.slice(0, 1)
    )
    products = events.select("product_id").unique().with_columns(category=pl.lit("x"))
    config = dataclasses.replace(CONFIG, min_users=1, knn_neighbours=[5])
    table = evaluate_recommenders(train, labels, customers=customers, products=products, config=config)
    channel = value(table, "test", "channel_popular", k=5, population="cold_start")
    glob = value(table, "test", "most_popular", k=5, population="cold_start")
    assert channel["users_evaluated"] == 60
    assert channel["value"] > glob["value"]


def test_evaluation_is_deterministic():
    events = synthetic_purchases(400, 60, rank=4, seed=3)
    train, labels = splits(events, validation_at=0.5, test_at=0.75)
    customers, products = catalogue_frames(events)
    config = dataclasses.replace(CONFIG, als_grid=[{}], knn_neighbours=[20])
    first = evaluate_recommenders(train, labels, customers=customers, products=products, config=config)
    second = evaluate_recommenders(train, labels, customers=customers, products=products, config=config)
    assert first.equals(second)


def test_nothing_to_evaluate_gives_one_degraded_status_row():
    train = pl.DataFrame(schema={"split": pl.String, "customer_id": pl.String, "product_id": pl.String,
                                 "strength": pl.Float64})
    labels = pl.DataFrame(schema={"split": pl.String, "customer_id": pl.String, "product_id": pl.String})
    customers = pl.DataFrame(schema={"customer_id": pl.String, "acquisition_channel": pl.String})
    products = pl.DataFrame(schema={"product_id": pl.String, "category": pl.String})
    table = evaluate_recommenders(train, labels, customers=customers, products=products, config=CONFIG)
    assert table.height == 1 and table.schema == pl.Schema(EVALUATION_SCHEMA)
    row = table.row(0, named=True)
    assert row["status"] == "degraded" and "validation window has 0 evaluable customers" in row["status_reason"]
    assert row["value"] is None
    # the configured ALS is recorded (and served) so the final model still knows its settings
    family, params = served_model(table)
    assert family == "als" and params == {**CONFIG.als, **CONFIG.als_grid[0], "random_state": 1}


def test_too_few_users_is_degraded_but_still_evaluated():
    events = synthetic_purchases(60, 30, rank=2, seed=5)
    train, labels = splits(events, validation_at=0.5, test_at=0.75)
    customers, products = catalogue_frames(events)
    config = dataclasses.replace(CONFIG, min_users=1000, als_grid=[{}], knn_neighbours=[5])
    table = evaluate_recommenders(train, labels, customers=customers, products=products, config=config)
    assert set(table.get_column("status")) == {"degraded"}
    assert "(< 1000)" in table.get_column("status_reason")[0]
    assert table.filter(pl.col("split") == "test").height > 0


def test_unknown_hyperparameter_is_rejected():
    events = synthetic_purchases(50, 20, rank=2, seed=5)
    train, labels = splits(events, validation_at=0.5, test_at=0.75)
    customers, products = catalogue_frames(events)
    with pytest.raises(ValueError, match="unknown ALS hyperparameter"):
        evaluate_recommenders(train, labels, customers=customers, products=products,
                              config=dataclasses.replace(CONFIG, als_grid=[{"factor": 3}]))


def test_half_lives_in_the_interactions_are_tried_and_chosen_on_validation():
    events = synthetic_purchases(600, 80, rank=4, taste_strength=8.0, seed=4)
    train, labels = splits(events, validation_at=0.6, test_at=0.8)
    # two decays as the SQL macro writes them: the 1-day one keeps only the latest purchases
    train = train.with_columns(
        strength_half_life_1d=pl.when(pl.col("customer_id").str.slice(1).cast(pl.Int64) % 3 == 0)
        .then(pl.col("strength")).otherwise(0.0),
        strength_half_life_30d=pl.col("strength"),
    )
    customers, products = catalogue_frames(events)
    config = dataclasses.replace(CONFIG, als_grid=[{"half_life_days": 1}, {"half_life_days": 30}], knn_neighbours=[20])
    table = evaluate_recommenders(train, labels, customers=customers, products=products, config=config)
    tried = table.filter((pl.col("split") == "validation") & (pl.col("metric") == "ndcg") & (pl.col("k") == 10))
    recent = [json.loads(h)["half_life_days"] for h in tried.filter(pl.col("model") == "recent_popular").get_column("hyperparameters")]
    als = [json.loads(h)["half_life_days"] for h in tried.filter(pl.col("model") == "als").get_column("hyperparameters")]
    assert sorted(recent) == [1, 30] and sorted(als) == [1, 30]
    # the 1-day column drops two thirds of the customers' evidence: validation picks 30 days
    assert json.loads(value(table, "validation", "als")["hyperparameters"])["half_life_days"] == 30


def test_evaluation_columns_keep_what_the_evaluation_reads():
    from ecom_growth.recommend.evaluation import evaluation_columns

    columns = ["split", "customer_id", "product_id", "view_count", "purchase_count", "strength",
               "strength_half_life_14d", "strength_half_life_90d", "last_interaction_at"]
    assert evaluation_columns(columns) == ["split", "customer_id", "product_id", "purchase_count", "strength",
                                           "strength_half_life_14d", "strength_half_life_90d"]
    assert evaluation_columns([]) == []
