"""Tests for ecom_growth.segments.pipeline: what the dbt segment models call."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from ecom_growth.segments import DEFAULT_RFM_SEGMENT_RULES, rfm_segment_coverage
from ecom_growth.segments.pipeline import (
    PROFILES_SCHEMA,
    SEGMENTS_SCHEMA,
    cluster_profiles,
    parse_k,
    parse_k_range,
    segment_customers,
)

AS_OF = dt.datetime(2026, 1, 1)
SEED_FILE = Path(__file__).resolve().parents[2] / "seeds" / "rfm_segments.csv"


def dim_customers(rows: list[tuple]) -> pl.DataFrame:
    """dim_customers' relevant columns, revenue as the mart's decimal(18, 2)."""
    return pl.DataFrame(
        rows,
        schema={
            "customer_id": pl.String,
            "completed_orders": pl.Int64,
            "revenue": pl.Float64,
            "average_order_value": pl.Float64,
            "days_since_last_order": pl.Float64,
            "tenure_days": pl.Float64,
        },
        orient="row",
    ).with_columns(pl.col("revenue").cast(pl.Decimal(18, 2)), pl.col("average_order_value").cast(pl.Decimal(18, 2)))


TINY = dim_customers(
    [
        # id, orders, revenue, aov, days since last order, tenure days
        ("a", 1, 10.0, 10.0, 300.0, 300.0),
        ("b", 2, 40.0, 20.0, 200.0, 400.0),
        ("c", 3, 90.0, 30.0, 100.0, 500.0),
        ("d", 4, 160.0, 40.0, 50.0, 600.0),
        ("e", 5, 250.0, 50.0, 5.0, 700.0),
        ("never", 0, 0.0, None, None, None),  # signed up, never completed an order
    ]
)


def synthetic_customers(n: int, seed: int = 0) -> pl.DataFrame:
    """Three planted groups: lapsed one-timers, frequent big spenders, new recent buyers."""
    rng = np.random.default_rng(seed)
    group = rng.integers(0, 3, n)
    orders = np.where(group == 1, rng.integers(5, 20, n), 1 + rng.poisson(0.2, n))
    aov = rng.lognormal(np.where(group == 1, 5.0, 3.5), 0.3)
    tenure = np.where(group == 2, rng.uniform(1, 60, n), rng.uniform(300, 700, n))
    since_last = np.where(group == 0, tenure * rng.uniform(0.8, 1.0, n), tenure * rng.uniform(0, 0.2, n))
    return dim_customers(
        list(zip([f"c{i:05d}" for i in range(n)], orders.tolist(), (orders * aov).round(2).tolist(),
                 aov.round(2).tolist(), since_last.tolist(), tenure.tolist()))
    )


@pytest.fixture(scope="module")
def customers() -> pl.DataFrame:
    return synthetic_customers(3000, seed=5)


@pytest.fixture(scope="module")
def segments(customers: pl.DataFrame) -> pl.DataFrame:
    return segment_customers(customers, DEFAULT_RFM_SEGMENT_RULES, k=3, seed=1, as_of=AS_OF)


# --- segment_customers ------------------------------------------------------------------------


def test_tiny_customers_get_exact_scores_and_the_seed_segments():
    segments = segment_customers(TINY, DEFAULT_RFM_SEGMENT_RULES, k=2, as_of=AS_OF)
    assert segments.schema == pl.Schema(SEGMENTS_SCHEMA)
    # "never" has no order: not segmented. Five customers, one per quintile in every dimension.
    assert segments["customer_id"].to_list() == ["a", "b", "c", "d", "e"]
    assert segments["recency_score"].to_list() == [1, 2, 3, 4, 5]
    assert segments["frequency_score"].to_list() == [1, 2, 3, 4, 5]
    assert segments["monetary_score"].to_list() == [1, 2, 3, 4, 5]
    assert segments["rfm_score"].to_list() == ["111", "222", "333", "444", "555"]
    assert segments["rfm_segment"].to_list() == ["lost", "hibernating", "need_attention", "loyal", "champions"]
    assert segments["as_of"].unique().to_list() == [AS_OF]
    assert sorted(segments["cluster_id"].unique().to_list()) == [0, 1]
    assert (segments["distance_to_centroid"] >= 0).all()


def test_segments_come_from_the_rules_given_not_the_default():
    everyone = pl.DataFrame(
        {
            "segment_name": ["everyone"],
            "priority": [1],
            "recency_min": [1], "recency_max": [5],
            "frequency_min": [1], "frequency_max": [5],
            "monetary_min": [1], "monetary_max": [5],
        },
        schema_overrides={c: pl.Int32 for c in ("priority", "recency_min", "recency_max", "frequency_min",
                                                 "frequency_max", "monetary_min", "monetary_max")},
    )
    segments = segment_customers(TINY, everyone, k=2)
    assert segments["rfm_segment"].unique().to_list() == ["everyone"]


def test_cells_no_rule_covers_are_other():
    champions_only = DEFAULT_RFM_SEGMENT_RULES.filter(pl.col("segment_name") == "champions")
    segments = segment_customers(TINY, champions_only, k=2)
    assert segments["rfm_segment"].to_list() == ["other", "other", "other", "other", "champions"]


def test_clusters_find_the_planted_groups(customers, segments):
    assert segments.height == customers.height
    assert segments["customer_id"].n_unique() == customers.height
    assert segments["cluster_id"].n_unique() == 3
    # Each planted group lands (almost) entirely in one cluster.
    rng = np.random.default_rng(5)
    planted = rng.integers(0, 3, customers.height)
    crosstab = (
        segments.with_columns(pl.Series("planted", planted))
        .group_by("planted", "cluster_id").len()
        .group_by("planted").agg((pl.col("len").max() / pl.col("len").sum()).alias("purity"))
    )
    assert crosstab["purity"].min() > 0.95
    labels = set(segments["cluster_label"].unique().to_list())
    assert any("new" in label or "recent" in label for label in labels)


def test_segments_are_deterministic_and_k_is_chosen_in_range(customers):
    chosen = segment_customers(customers, DEFAULT_RFM_SEGMENT_RULES, k=None, k_range=(2, 4), seed=3)
    again = segment_customers(customers, DEFAULT_RFM_SEGMENT_RULES, k=None, k_range=(2, 4), seed=3)
    assert chosen.equals(again)
    assert 2 <= chosen["cluster_id"].n_unique() <= 4


def test_no_customer_with_an_order_gives_empty_tables():
    nobody = TINY.filter(pl.col("completed_orders") == 0)
    segments = segment_customers(nobody, DEFAULT_RFM_SEGMENT_RULES)
    assert segments.height == 0
    assert segments.schema == pl.Schema(SEGMENTS_SCHEMA)
    profiles = cluster_profiles(segments, nobody)
    assert profiles.height == 0
    assert profiles.schema == pl.Schema(PROFILES_SCHEMA)


def test_missing_feature_column_is_named():
    with pytest.raises(ValueError, match="tenure_days"):
        segment_customers(TINY.drop("tenure_days"), DEFAULT_RFM_SEGMENT_RULES)


# --- cluster_profiles ---------------------------------------------------------------------------


def test_profiles_summarise_the_assignments(customers, segments):
    profiles = cluster_profiles(segments, customers, seed=1)
    assert profiles.schema == pl.Schema(PROFILES_SCHEMA)
    assert profiles["cluster_id"].to_list() == [0, 1, 2]
    counts = dict(segments.group_by("cluster_id").len().rows())
    assert profiles["n_customers"].to_list() == [counts[i] for i in (0, 1, 2)]
    assert profiles["n_customers"].to_list() == sorted(profiles["n_customers"].to_list(), reverse=True)
    assert profiles["share"].sum() == pytest.approx(1.0)
    labels = dict(segments.select("cluster_id", "cluster_label").unique().rows())
    assert profiles["cluster_label"].to_list() == [labels[i] for i in (0, 1, 2)]
    means = (
        segments.join(customers, on="customer_id").group_by("cluster_id")
        .agg(pl.col("revenue").cast(pl.Float64).mean()).sort("cluster_id")
    )
    np.testing.assert_allclose(profiles["mean_revenue"].to_numpy(), means["revenue"].to_numpy())
    assert profiles["k"].unique().to_list() == [3]
    assert 0.3 < profiles["silhouette"][0] <= 1  # well-separated planted groups
    assert profiles["as_of"].unique().to_list() == [AS_OF]


def test_profiles_do_not_depend_on_row_order(customers, segments):
    shuffled = segments.sample(fraction=1.0, shuffle=True, seed=9)
    assert cluster_profiles(shuffled, customers).equals(cluster_profiles(segments, customers))


def test_tiny_profile_means_and_single_cluster_silhouette():
    segments = pl.DataFrame(
        {"customer_id": ["a", "b", "c"], "cluster_id": [0, 0, 1], "cluster_label": ["x", "x", "y"],
         "as_of": [AS_OF] * 3},
        schema_overrides={"cluster_id": pl.Int32},
    )
    profiles = cluster_profiles(segments, TINY)
    assert profiles["n_customers"].to_list() == [2, 1]
    assert profiles["share"].to_list() == pytest.approx([2 / 3, 1 / 3])
    assert profiles["mean_completed_orders"].to_list() == [1.5, 3.0]
    assert profiles["mean_tenure_days"].to_list() == [350.0, 500.0]
    single = cluster_profiles(segments.with_columns(pl.lit(0, pl.Int32).alias("cluster_id"), pl.lit("x").alias("cluster_label")), TINY)
    assert single["silhouette"].to_list() == [None]
    assert single["k"].to_list() == [1]


def test_profiles_refuse_customers_missing_from_the_features(segments):
    with pytest.raises(ValueError, match="without feature values"):
        cluster_profiles(segments, TINY)


def test_profiles_refuse_two_labels_for_one_cluster(segments, customers):
    broken = segments.with_columns(
        pl.when(pl.col("customer_id") == segments["customer_id"][0])
        .then(pl.lit("odd"))
        .otherwise(pl.col("cluster_label"))
        .alias("cluster_label")
    )
    with pytest.raises(ValueError, match="more than one cluster_label"):
        cluster_profiles(broken, customers)


# --- vars and the seed ------------------------------------------------------------------------


@pytest.mark.parametrize(("value", "expected"), [(None, None), ("None", None), ("", None), ("null", None), ("4", 4), (5, 5)])
def test_parse_k(value, expected):
    assert parse_k(value) == expected


def test_parse_k_rejects_zero():
    with pytest.raises(ValueError, match="segments_k"):
        parse_k("0")


@pytest.mark.parametrize("value", ["[3, 8]", "[3,8]", [3, 8], (3, 8)])
def test_parse_k_range(value):
    assert parse_k_range(value) == (3, 8)


def test_parse_k_range_needs_two_values():
    with pytest.raises(ValueError, match="segments_k_range"):
        parse_k_range("[3]")


def test_the_seed_covers_all_125_score_cells():
    rules = pl.read_csv(SEED_FILE)
    coverage = rfm_segment_coverage(rules)
    assert coverage.height == 125
    assert coverage.filter(pl.col("rfm_segment") == "other").height == 0
    assert set(coverage["rfm_segment"].unique().to_list()) <= set(rules["segment_name"].to_list())


def test_segments_do_not_depend_on_the_row_order_of_the_input(customers, segments):
    # A warehouse returns rows in no particular order; the clustering must not notice.
    shuffled = customers.sample(fraction=1.0, shuffle=True, seed=4)
    again = segment_customers(shuffled, DEFAULT_RFM_SEGMENT_RULES, k=3, seed=1, as_of=AS_OF)
    assert again.sort("customer_id").equals(segments.sort("customer_id"))
