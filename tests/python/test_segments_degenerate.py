"""Degenerate data for the customer segments (issue 9, part 4): k-means that cannot find the
clusters asked for is 'degraded' with a reason; RFM segments still come out and everybody is
in one cluster. Plus the crafted shops of tests/fixtures/degenerate_data.py."""

from __future__ import annotations

import sys
from pathlib import Path

import polars as pl
import pytest

from ecom_growth.segments import DEFAULT_RFM_SEGMENT_RULES
from ecom_growth.segments.pipeline import (
    PROFILES_SCHEMA,
    SEGMENTS_SCHEMA,
    SINGLE_CLUSTER_LABEL,
    cluster_profiles,
    clustering_problem,
    segment_customers,
)

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "fixtures"))
import degenerate_data as shops  # noqa: E402

MIN_CUSTOMERS = 50  # dbt_project.yml var segments_min_customers
FEATURES = ("days_since_last_order", "completed_orders", "revenue", "average_order_value", "tenure_days")


def _segment(customers: pl.DataFrame, **kwargs) -> tuple[pl.DataFrame, pl.DataFrame]:
    segments = segment_customers(
        customers, DEFAULT_RFM_SEGMENT_RULES, k_range=(3, 8), seed=42, min_customers=MIN_CUSTOMERS, **kwargs
    )
    return segments, cluster_profiles(segments, customers, seed=42)


def _identical(n: int) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "customer_id": [f"c{i:03d}" for i in range(n)],
            "completed_orders": [2] * n,
            "revenue": [50.0] * n,
            "average_order_value": [25.0] * n,
            "days_since_last_order": [30.0] * n,
            "tenure_days": [200.0] * n,
        }
    )


def _assert_single_cluster_fallback(segments: pl.DataFrame, profiles: pl.DataFrame, reason_start: str) -> None:
    assert segments.schema == pl.Schema(SEGMENTS_SCHEMA)
    assert profiles.schema == pl.Schema(PROFILES_SCHEMA)
    assert segments["status"].unique().to_list() == ["degraded"]
    reason = segments["status_reason"][0]
    assert reason.startswith(reason_start) and reason.endswith("fell back to the RFM segments and a single cluster")
    assert segments["cluster_id"].unique().to_list() == [0]
    assert segments["cluster_label"].unique().to_list() == [SINGLE_CLUSTER_LABEL]
    assert segments["rfm_segment"].null_count() == 0
    assert profiles.select("cluster_id", "n_customers", "share", "k", "status").rows() == [
        (0, segments.height, 1.0, 1, "degraded")
    ]
    assert profiles["status_reason"][0] == reason and profiles["silhouette"][0] is None


def test_a_single_customer_is_one_degraded_cluster():
    segments, profiles = _segment(_identical(1))
    _assert_single_cluster_fallback(segments, profiles, "only 1 customers with a completed order")


def test_identical_customers_are_one_degraded_cluster():
    segments, profiles = _segment(_identical(80))
    _assert_single_cluster_fallback(segments, profiles, "every clustering feature is constant; k-means needs at least 3")
    assert segments["distance_to_centroid"].unique().to_list() == [0.0]


def test_too_few_distinct_profiles_for_the_asked_k():
    other_kind = _identical(40).with_columns(pl.col("customer_id") + "x", pl.lit(9, pl.Int64).alias("completed_orders"))
    two_kinds = pl.concat([_identical(40), other_kind])
    segments, profiles = _segment(two_kinds, k=5)
    _assert_single_cluster_fallback(segments, profiles, "only 2 distinct customer profile(s); k-means needs at least 5")


def test_clustering_problem_is_none_for_a_clusterable_shop():
    features = shops.customer_features(shops.single_product())
    assert clustering_problem(features, FEATURES, k=None, k_range=(3, 8), min_customers=MIN_CUSTOMERS) is None
    few = clustering_problem(features.head(10), FEATURES, k=None, k_range=(3, 8), min_customers=MIN_CUSTOMERS)
    assert few.startswith("only 10 customers")


@pytest.mark.parametrize("case", sorted(shops.CASES))
def test_every_crafted_shop_is_segmented(case):
    # Every shop has 400 customers whose recency, revenue and tenure vary, so k-means is ok even
    # when orders are all alike (constant values, one order each): one constant feature takes no part.
    features = shops.customer_features(shops.CASES[case]())
    segments, profiles = _segment(features)
    assert segments.height == features.height == 400
    assert segments["status"].unique().to_list() == ["ok"] and segments["status_reason"].null_count() == 400
    assert profiles["k"][0] >= 3 and profiles["status"].unique().to_list() == ["ok"]


def test_profiles_of_segments_without_a_status_column_are_ok():
    segments, _ = _segment(shops.customer_features(shops.single_product()))
    profiles = cluster_profiles(segments.drop("status", "status_reason"), shops.customer_features(shops.single_product()), seed=42)
    assert profiles["status"].unique().to_list() == ["ok"]
