"""Tests for ecom_growth.segments: RFM scores, rule-based RFM segments, k-means clusters."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from ecom_growth.segments import (
    DEFAULT_RFM_SEGMENT_RULES,
    assign_rfm_segments,
    kmeans_segments,
    rfm_scores,
    rfm_segment_coverage,
)


def customers(recency, frequency, monetary) -> pl.DataFrame:
    n = len(recency)
    return pl.DataFrame(
        {
            "customer_id": [f"c{i:02d}" for i in range(n)],
            "days_since_last_order": recency,
            "completed_orders": frequency,
            "revenue": monetary,
        }
    )


# --------------------------------------------------------------------------------------
# rfm_scores
# --------------------------------------------------------------------------------------
def test_distinct_values_split_into_fifths_and_recent_scores_high():
    values = list(range(1, 11))
    scored = rfm_scores(customers(values, values, [float(v) for v in values]))
    assert scored["frequency_score"].to_list() == [1, 1, 2, 2, 3, 3, 4, 4, 5, 5]
    assert scored["monetary_score"].to_list() == [1, 1, 2, 2, 3, 3, 4, 4, 5, 5]
    # 1 day since the last order is the best recency.
    assert scored["recency_score"].to_list() == [5, 5, 4, 4, 3, 3, 2, 2, 1, 1]
    assert scored["rfm_score"].to_list()[:2] == ["511", "511"]
    assert scored["rfm_score"].to_list()[-1] == "155"
    assert scored.schema["recency_score"] == pl.Int32


def test_heavy_ties_share_a_score_and_one_time_buyers_score_lowest():
    # 7 of 10 customers bought once: they tie, so they all get 1; the 2-order customers
    # have 70% of customers strictly below them -> 1 + floor(5 * 0.7) = 4.
    frequency = [1, 1, 1, 1, 1, 1, 1, 2, 2, 5]
    scored = rfm_scores(customers([10] * 10, frequency, [5.0] * 10))
    assert scored["frequency_score"].to_list() == [1] * 7 + [4, 4, 5]
    # Everybody ties on recency and monetary: no information, everybody gets 1.
    assert scored["recency_score"].unique().to_list() == [1]
    assert scored["monetary_score"].unique().to_list() == [1]


def test_scores_do_not_depend_on_row_order():
    rng = np.random.default_rng(0)
    frame = customers(rng.integers(0, 30, 200).tolist(), rng.integers(1, 4, 200).tolist(), rng.gamma(2, 10, 200).tolist())
    shuffled = frame.sample(fraction=1.0, shuffle=True, seed=1)
    a = rfm_scores(frame).sort("customer_id")
    b = rfm_scores(shuffled).sort("customer_id")
    assert a.equals(b)


def test_one_customer_scores_111_and_empty_input_keeps_schema():
    assert rfm_scores(customers([3], [2], [10.0]))["rfm_score"].to_list() == ["111"]
    empty = rfm_scores(customers([3], [2], [10.0]).head(0))
    assert empty.height == 0
    assert empty.columns[-4:] == ["recency_score", "frequency_score", "monetary_score", "rfm_score"]


def test_rfm_scores_rejects_nulls_and_missing_columns_by_name():
    with pytest.raises(ValueError, match="days_since_last_order"):
        rfm_scores(customers([None, 3], [1, 2], [1.0, 2.0]))
    with pytest.raises(ValueError, match="revenue"):
        rfm_scores(customers([1, 3], [1, 2], [1.0, 2.0]).drop("revenue"))
    with pytest.raises(ValueError, match="completed_orders"):
        rfm_scores(customers([1, 3], ["a", "b"], [1.0, 2.0]))


def test_custom_column_names():
    frame = pl.DataFrame({"r": [1, 2], "f": [3, 1], "m": [1.0, 9.0]})
    scored = rfm_scores(frame, recency="r", frequency="f", monetary="m")
    # Two customers: the better one has half the customers strictly below -> 1 + floor(2.5) = 3.
    assert scored["rfm_score"].to_list() == ["331", "113"]


# --------------------------------------------------------------------------------------
# assign_rfm_segments and the default seed
# --------------------------------------------------------------------------------------
def test_default_rules_cover_all_125_cells_with_all_eleven_segments():
    coverage = rfm_segment_coverage()
    assert coverage.height == 125
    assert coverage.filter(pl.col("rfm_segment") == "other").height == 0
    assert set(coverage["rfm_segment"]) == {
        "champions",
        "loyal",
        "potential_loyalist",
        "new_customers",
        "promising",
        "need_attention",
        "about_to_sleep",
        "at_risk",
        "cant_lose_them",
        "hibernating",
        "lost",
    }
    assert DEFAULT_RFM_SEGMENT_RULES["priority"].to_list() == list(range(1, 12))


@pytest.mark.parametrize(
    ("cell", "segment"),
    [
        ("555", "champions"),
        ("541", "champions"),
        ("345", "loyal"),
        ("425", "potential_loyalist"),
        ("511", "new_customers"),
        ("411", "promising"),
        ("333", "need_attention"),
        ("312", "about_to_sleep"),
        ("155", "cant_lose_them"),
        ("253", "at_risk"),
        ("131", "at_risk"),
        ("211", "hibernating"),
        ("125", "lost"),
    ],
)
def test_default_rules_on_hand_picked_cells(cell, segment):
    scored = pl.DataFrame({name: [int(c)] for name, c in zip(("recency_score", "frequency_score", "monetary_score"), cell)})
    assert assign_rfm_segments(scored)["rfm_segment"].to_list() == [segment]


def test_first_rule_by_priority_wins_and_unmatched_get_default():
    rules = pl.DataFrame(
        {
            "segment_name": ["anyone_recent", "best"],
            "priority": [2, 1],
            "recency_min": [4, 5],
            "recency_max": [5, 5],
            "frequency_min": [1, 5],
            "frequency_max": [5, 5],
            "monetary_min": [1, 1],
            "monetary_max": [5, 5],
        }
    )
    scored = pl.DataFrame(
        {
            "customer_id": ["a", "b", "c", "d"],
            "recency_score": [5, 5, 4, 1],
            "frequency_score": [5, 1, 5, 5],
            "monetary_score": [5, 5, 1, 5],
        }
    )
    out = assign_rfm_segments(scored, rules, default_segment="unsegmented")
    assert out["customer_id"].to_list() == ["a", "b", "c", "d"]
    assert out["rfm_segment"].to_list() == ["best", "anyone_recent", "anyone_recent", "unsegmented"]
    assert rfm_segment_coverage(rules).filter(pl.col("rfm_segment") == "other").height == 125 - 50


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"priority": [1, 1]}, "unique"),
        ({"recency_min": [5, 5], "recency_max": [4, 5]}, "recency range"),
        ({"monetary_max": [6, 5]}, "monetary range"),
    ],
)
def test_bad_rules_are_rejected(change, message):
    rules = pl.DataFrame(
        {
            "segment_name": ["x", "y"],
            "priority": [1, 2],
            "recency_min": [1, 1],
            "recency_max": [5, 5],
            "frequency_min": [1, 1],
            "frequency_max": [5, 5],
            "monetary_min": [1, 1],
            "monetary_max": [5, 5],
        }
    ).with_columns(*(pl.Series(k, v) for k, v in change.items()))
    scored = pl.DataFrame({"recency_score": [1], "frequency_score": [1], "monetary_score": [1]})
    with pytest.raises(ValueError, match=message):
        assign_rfm_segments(scored, rules)


def test_scores_outside_1_to_5_are_rejected():
    scored = pl.DataFrame({"recency_score": [6], "frequency_score": [1], "monetary_score": [1]})
    with pytest.raises(ValueError, match="recency_score"):
        assign_rfm_segments(scored)


def test_scores_then_segments_end_to_end_on_a_small_shop():
    frame = customers([1, 2, 300, 400, 5, 200], [9, 1, 8, 1, 3, 2], [900.0, 20.0, 800.0, 10.0, 90.0, 50.0])
    out = assign_rfm_segments(rfm_scores(frame))
    by_id = dict(zip(out["customer_id"], out["rfm_segment"]))
    assert by_id["c00"] == "champions"  # ordered yesterday, most orders, most spend
    # Ordered 2 days ago, once: second-best recency of 6 -> 1 + floor(5 * 4/6) = 4, so "411".
    assert by_id["c01"] == "promising"
    assert by_id["c02"] == "cant_lose_them"  # big spender who went quiet
    assert by_id["c03"] == "lost"


# --------------------------------------------------------------------------------------
# kmeans_segments
# --------------------------------------------------------------------------------------
def planted_groups(noise: float = 0.0, seed: int = 0) -> pl.DataFrame:
    """Three groups of 40, 30 and 20 customers with clearly different behaviour."""
    rng = np.random.default_rng(seed)
    sizes = [40, 30, 20]
    centres = [(1.0, 20.0), (3.0, 300.0), (12.0, 3000.0)]  # (completed_orders, revenue)
    orders = np.concatenate([np.full(s, c[0]) for s, c in zip(sizes, centres)])
    revenue = np.concatenate([np.full(s, c[1]) for s, c in zip(sizes, centres)])
    revenue = revenue * np.exp(noise * rng.normal(size=len(revenue)))
    return pl.DataFrame(
        {
            "customer_id": [f"u{i:03d}" for i in range(len(orders))],
            "completed_orders": orders,
            "revenue": revenue,
            "group": np.repeat([0, 1, 2], sizes),
        }
    )


def test_kmeans_finds_planted_groups_exactly():
    frame = planted_groups()
    assignments, profiles = kmeans_segments(frame, feature_columns=["completed_orders", "revenue"], k_range=(2, 6))
    # Ids follow size: group sizes 40/30/20 become clusters 0/1/2.
    assert assignments["cluster_id"].to_list() == frame["group"].to_list()
    assert assignments["distance_to_centroid"].max() == pytest.approx(0.0, abs=1e-9)
    assert profiles["k"].to_list() == [3, 3, 3]
    assert profiles["n_customers"].to_list() == [40, 30, 20]
    assert profiles["share"].to_list() == pytest.approx([40 / 90, 30 / 90, 20 / 90])
    assert profiles["mean_completed_orders"].to_list() == pytest.approx([1.0, 3.0, 12.0])
    assert profiles["mean_revenue"].to_list() == pytest.approx([20.0, 300.0, 3000.0])
    assert profiles["silhouette"].to_list() == pytest.approx([1.0, 1.0, 1.0])
    # Centroid z-scores (log1p, standardised): group 0 orders -0.90, revenue -1.01; group 1
    # 0.06, 0.34 (nothing >= 0.5); group 2 orders 1.70, revenue 1.51. Strongest first.
    assert profiles["label"].to_list() == ["low value, infrequent", "average", "frequent, high value"]
    assert profiles.columns == ["cluster_id", "n_customers", "share", "mean_completed_orders", "mean_revenue", "silhouette", "k", "label"]


def test_kmeans_with_noise_and_sampling_is_deterministic_and_recovers_groups():
    frame = planted_groups(noise=0.15, seed=3)
    run = lambda: kmeans_segments(frame, feature_columns=["completed_orders", "revenue"], k_range=(2, 6), sample_size=60, seed=7)  # noqa: E731
    (a1, p1), (a2, p2) = run(), run()
    assert a1.equals(a2) and p1.equals(p2)
    assert a1.height == frame.height
    assert p1["k"][0] == 3
    # Each planted group lands in one cluster.
    purity = a1.join(frame, on="customer_id").group_by("group").agg(pl.col("cluster_id").n_unique())
    assert purity["cluster_id"].to_list() == [1, 1, 1]


def test_kmeans_custom_feature_labels():
    frame = planted_groups()
    _, profiles = kmeans_segments(
        frame,
        feature_columns=["completed_orders", "revenue"],
        k=3,
        feature_labels={"revenue": ("cheap", "premium"), "completed_orders": ("rare", "regular")},
    )
    assert profiles["label"].to_list() == ["cheap, rare", "average", "regular, premium"]


def test_k_is_reduced_to_the_number_of_distinct_customers():
    frame = planted_groups().filter(pl.col("customer_id").is_in(["u000", "u050"]))
    assignments, profiles = kmeans_segments(frame, feature_columns=["completed_orders", "revenue"], k=5)
    assert profiles["k"].to_list() == [2, 2]
    assert sorted(assignments["cluster_id"].to_list()) == [0, 1]
    assert profiles["silhouette"].null_count() == 2  # undefined with one customer per cluster


def test_single_customer_is_one_average_cluster():
    frame = planted_groups().head(1)
    assignments, profiles = kmeans_segments(frame, feature_columns=["completed_orders", "revenue"])
    assert assignments.to_dicts() == [{"customer_id": "u000", "cluster_id": 0, "distance_to_centroid": 0.0}]
    assert profiles.select("n_customers", "k", "label", "silhouette").to_dicts() == [
        {"n_customers": 1, "k": 1, "label": "average", "silhouette": None}
    ]


def test_constant_feature_takes_no_part_and_is_never_in_a_label():
    frame = planted_groups().with_columns(pl.lit(7.0).alias("tenure_days"))
    assignments, profiles = kmeans_segments(frame, feature_columns=["completed_orders", "revenue", "tenure_days"], k_range=(2, 6))
    assert assignments["cluster_id"].to_list() == frame["group"].to_list()
    assert profiles["mean_tenure_days"].to_list() == [7.0, 7.0, 7.0]
    assert not any("tenure" in label or "new" in label for label in profiles["label"])


def test_kmeans_empty_input_returns_empty_frames_with_schema():
    assignments, profiles = kmeans_segments(planted_groups().head(0), feature_columns=["completed_orders", "revenue"])
    assert assignments.height == 0 and profiles.height == 0
    assert assignments.columns == ["customer_id", "cluster_id", "distance_to_centroid"]
    assert "mean_revenue" in profiles.columns


@pytest.mark.parametrize(
    ("frame", "message"),
    [
        (planted_groups().with_columns(pl.when(pl.col("group") == 1).then(None).otherwise(pl.col("revenue")).alias("revenue")), "revenue"),
        (planted_groups().with_columns(pl.lit("u000").alias("customer_id")), "duplicate"),
        (planted_groups().with_columns(pl.lit(float("nan")).alias("revenue")), "revenue"),
        (planted_groups().drop("completed_orders"), "completed_orders"),
    ],
)
def test_kmeans_rejects_bad_input_naming_the_problem(frame, message):
    with pytest.raises(ValueError, match=message):
        kmeans_segments(frame, feature_columns=["completed_orders", "revenue"])
