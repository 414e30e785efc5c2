"""Ranking metrics on hand-computed cases."""

from __future__ import annotations

import math

import polars as pl
import pytest
from ecom_growth.recommend import ranking_metrics

RECS = pl.DataFrame(
    {
        "customer_id": ["u1", "u1", "u1", "u2", "u2", "u4"],
        "product_id": ["A", "B", "C", "X", "Y", "P"],
        "rank": [1, 2, 3, 1, 2, 1],
    }
)
# u3 has relevant items but no recommendations (counts as zeros); u4 has recommendations but
# nothing relevant (not evaluated).
RELEVANT = pl.DataFrame(
    {
        "customer_id": ["u1", "u1", "u1", "u2", "u3", "u1"],
        "product_id": ["A", "C", "D", "Y", "Z", "A"],  # duplicate (u1, A) counts once
    }
)


def values(table: pl.DataFrame, k: int) -> dict[str, float]:
    return dict(table.filter(pl.col("k") == k).select("metric", "value").rows())


def log2(x: float) -> float:
    return math.log(x, 2)


def test_metrics_at_2_by_hand():
    table = ranking_metrics(RECS, RELEVANT, ks=(2, 3), catalogue_size=10)
    got = values(table, 2)
    # u1: hit at rank 1 of 3 relevant; u2: hit at rank 2 of 1 relevant; u3: nothing
    ndcg_u1 = 1.0 / (1.0 + 1.0 / log2(3))
    ndcg_u2 = (1.0 / log2(3)) / 1.0
    assert got["precision"] == pytest.approx((0.5 + 0.5 + 0) / 3)
    assert got["recall"] == pytest.approx((1 / 3 + 1 + 0) / 3)
    assert got["ndcg"] == pytest.approx((ndcg_u1 + ndcg_u2) / 3)
    assert got["map"] == pytest.approx((0.5 * 1.0 + 1.0 * 0.5 + 0) / 3)
    assert got["coverage"] == pytest.approx(5 / 10)  # A, B, X, Y, P (u4 counts for coverage)
    assert table.get_column("users_evaluated").unique().to_list() == [3]


def test_metrics_at_3_by_hand():
    got = values(ranking_metrics(RECS, RELEVANT, ks=(3,), catalogue_size=10), 3)
    ndcg_u1 = (1.0 + 1.0 / log2(4)) / (1.0 + 1.0 / log2(3) + 1.0 / log2(4))
    ndcg_u2 = 1.0 / log2(3)
    assert got["precision"] == pytest.approx((2 / 3 + 1 / 3 + 0) / 3)  # u2's short list: still /3
    assert got["recall"] == pytest.approx((2 / 3 + 1 + 0) / 3)
    assert got["ndcg"] == pytest.approx((ndcg_u1 + ndcg_u2) / 3)
    assert got["map"] == pytest.approx(((1.0 + 2 / 3) / 3 + 0.5 + 0) / 3)
    assert got["coverage"] == pytest.approx(6 / 10)


def test_a_perfect_list_scores_one_and_row_order_does_not_matter():
    recs = pl.DataFrame({"customer_id": ["u"] * 3, "product_id": ["c", "a", "b"], "rank": [3, 1, 2]})
    relevant = pl.DataFrame({"customer_id": ["u", "u"], "product_id": ["b", "a"]})
    got = values(ranking_metrics(recs, relevant, ks=(2,)), 2)
    assert got == pytest.approx({"precision": 1.0, "recall": 1.0, "ndcg": 1.0, "map": 1.0})
    assert "coverage" not in got  # no catalogue size given


def test_ranks_not_rows_decide_ties():
    # two lists with the same items; only the rank column differs
    relevant = pl.DataFrame({"customer_id": ["u"], "product_id": ["b"]})
    first = pl.DataFrame({"customer_id": ["u", "u"], "product_id": ["a", "b"], "rank": [1, 2]})
    second = first.with_columns(rank=pl.Series([2, 1]))
    assert values(ranking_metrics(first, relevant, ks=(1,)), 1)["precision"] == 0.0
    assert values(ranking_metrics(second, relevant, ks=(1,)), 1)["precision"] == 1.0


def test_no_relevant_users_gives_null_values_not_a_crash():
    relevant = pl.DataFrame(schema={"customer_id": pl.String, "product_id": pl.String})
    table = ranking_metrics(RECS, relevant, ks=(5,), catalogue_size=3)
    assert table.filter(pl.col("metric") != "coverage").get_column("value").is_null().all()
    assert table.get_column("users_evaluated").to_list() == [0] * 5


def test_invalid_inputs():
    with pytest.raises(ValueError, match="duplicate"):
        ranking_metrics(RECS.with_columns(rank=pl.lit(1)), RELEVANT)
    with pytest.raises(ValueError, match="missing column"):
        ranking_metrics(RECS.drop("rank"), RELEVANT)
    with pytest.raises(ValueError, match="ks"):
        ranking_metrics(RECS, RELEVANT, ks=(0,))
