"""strength_matrix: the raw, unweighted matrix the evaluation shares between weightings."""

import numpy as np
import polars as pl
import pytest

from ecom_growth.recommend.matrix import confidence, interaction_matrix, strength_matrix

FRAME = pl.DataFrame({
    "customer_id": ["b", "a", "a", "b", "c"],
    "product_id": ["y", "x", "y", "y", "x"],
    "strength": [1.0, 2.0, 0.5, 3.0, 4.0],
})


def test_duplicates_are_summed_and_ids_sorted():
    raw, maps = strength_matrix(FRAME)
    assert maps.user_ids.to_list() == ["a", "b", "c"] and maps.item_ids.to_list() == ["x", "y"]
    np.testing.assert_array_equal(raw.toarray(), [[2.0, 0.5], [0.0, 4.0], [4.0, 0.0]])


@pytest.mark.parametrize("weighting", ["alpha", "log", "bm25"])
def test_confidence_of_it_is_the_interaction_matrix(weighting):
    raw, maps = strength_matrix(FRAME)
    expected, expected_maps = interaction_matrix(FRAME, weighting=weighting, alpha=3.0)
    got = confidence(raw, weighting=weighting, alpha=3.0)
    assert maps.user_ids.equals(expected_maps.user_ids)
    np.testing.assert_array_equal(got.toarray(), expected.toarray())
    np.testing.assert_array_equal(raw.toarray(), strength_matrix(FRAME)[0].toarray())  # not weighted in place


def test_bad_strength_raises_and_empty_is_empty():
    with pytest.raises(ValueError, match="finite and > 0"):
        strength_matrix(FRAME.with_columns(strength=pl.lit(0.0)))
    with pytest.raises(ValueError, match="null"):
        strength_matrix(FRAME.with_columns(strength=pl.lit(None, pl.Float64)))
    raw, maps = strength_matrix(FRAME.head(0))
    assert raw.shape == (0, 0) and maps.n_users == 0


def test_evaluation_cache_eviction_drops_one_decay_only():
    from ecom_growth.recommend.evaluation import _evict

    cache = {"purchased": 1, "knn_grid": 2, "train_30": 3, "raw_30": 4, "knn_30": 5, "train_None": 6,
             '{"half_life_days": 30, "weighting": "log"}': 7, '{"half_life_days": null, "weighting": "alpha"}': 8}
    _evict(cache, 30)
    assert sorted(cache) == sorted(["purchased", "knn_grid", "train_None", '{"half_life_days": null, "weighting": "alpha"}'])
    _evict(cache, None)
    assert sorted(cache) == ["knn_grid", "purchased"]


def test_relevant_items_with_precomputed_purchases_equals_without():
    from ecom_growth.recommend.evaluation import relevant_items
    from ecom_growth.recommend.matrix import purchased_pairs

    train = FRAME.with_columns(purchase_count=pl.Series([1, 0, 2, 0, 1]))
    labels = pl.DataFrame({"customer_id": ["a", "a", "b", "z"], "product_id": ["x", "y", "y", "x"]})
    expected = relevant_items(train, labels)
    assert expected.rows() == [("a", "x")]  # a bought y and b bought y; a only viewed x; z is cold
    assert relevant_items(train, labels, purchased=purchased_pairs(train)).equals(expected)
