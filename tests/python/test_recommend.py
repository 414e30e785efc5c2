"""Recommendations: id maps, confidence weighting, ALS fit, top-N with filtering and fallback,
similar products. Tiny hand-made data with exact expectations."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest
import scipy.sparse as sp
from implicit.cpu.als import AlternatingLeastSquares
from implicit.nearest_neighbours import CosineRecommender

from ecom_growth.recommend import (
    RECOMMENDATION_SCHEMA,
    SIMILAR_SCHEMA,
    fit_als,
    fit_item_knn,
    fit_recommender,
    indicator_matrix,
    interaction_matrix,
    popularity,
    purchased_pairs,
    recommend_top_n,
    similar_products,
    synthetic_purchases,
)
from ecom_growth.recommend.evaluation import temporal_split
from ecom_growth.recommend.topn import _pairs_in, factor_top_n


def interactions(rows: list[tuple[str, str, float, int]]) -> pl.DataFrame:
    return pl.DataFrame(
        rows,
        schema={
            "customer_id": pl.String,
            "product_id": pl.String,
            "strength": pl.Float64,
            "purchase_count": pl.Int64,
        },
        orient="row",
    )


# a bought p1 and viewed p2; b bought p1; c bought p3 and p4
SHOP = interactions(
    [("a", "p1", 1.0, 1), ("a", "p2", 2.0, 0), ("b", "p1", 3.0, 1), ("c", "p3", 1.0, 1), ("c", "p4", 1.0, 1)]
)


def fixed_model(item_scores: list[float], n_users: int) -> AlternatingLeastSquares:
    """A one-factor ALS whose score for every user is the item's factor: exact expectations."""
    model = AlternatingLeastSquares(factors=1, random_state=0)
    model.item_factors = np.array(item_scores, dtype=np.float32)[:, None]
    model.user_factors = np.ones((n_users, 1), dtype=np.float32)
    return model


def rows_of(recs: pl.DataFrame, customer: str) -> list[tuple[str, str]]:
    return recs.filter(pl.col("customer_id") == customer).sort("rank").select("product_id", "source").rows()


# ---------------------------------------------------------------- ids and matrix


def test_ids_are_sorted_and_round_trip():
    matrix, maps = interaction_matrix(SHOP, weighting="alpha")
    assert maps.user_ids.to_list() == ["a", "b", "c"]
    assert maps.item_ids.to_list() == ["p1", "p2", "p3", "p4"]
    assert maps.user_index(pl.Series(["c", "a", "nobody"])).to_list() == [2, 0, None]
    assert maps.item_index(pl.Series(["p4", "p1"])).to_list() == [3, 0]
    assert maps.user_id(np.array([2, 0])).to_list() == ["c", "a"]
    assert maps.item_id(maps.item_index(maps.item_ids)).to_list() == maps.item_ids.to_list()
    assert isinstance(matrix, sp.csr_matrix) and matrix.dtype == np.float32
    # same ids in another row order -> same mapping and same matrix
    matrix2, maps2 = interaction_matrix(SHOP.reverse(), weighting="alpha")
    assert maps2.user_ids.to_list() == maps.user_ids.to_list()
    assert (matrix2 != matrix).nnz == 0


def test_alpha_weighting_is_one_plus_alpha_strength_and_sums_duplicates():
    frame = interactions([("u", "x", 1.0, 1), ("u", "x", 2.0, 1), ("v", "y", 0.5, 0)])
    matrix, maps = interaction_matrix(frame, weighting="alpha", alpha=2.0)
    np.testing.assert_allclose(matrix.toarray(), [[1 + 2 * 3.0, 0], [0, 1 + 2 * 0.5]])


def test_log_weighting():
    frame = interactions([("u", "x", 3.0, 1), ("u", "y", 0.5, 1)])
    matrix, _ = interaction_matrix(frame, weighting="log", alpha=4.0, log_eps=0.5)
    np.testing.assert_allclose(
        matrix.toarray(), [[1 + 4 * np.log(1 + 3.0 / 0.5), 1 + 4 * np.log(1 + 0.5 / 0.5)]], rtol=1e-6
    )


def test_bm25_weighting_matches_the_formula_on_items_by_users():
    rng = np.random.default_rng(3)
    dense = (rng.random((4, 9)) < 0.4) * rng.integers(1, 5, size=(4, 9)).astype(float)
    dense[0, 0] = 2.0
    users, items = np.nonzero(dense)
    frame = pl.DataFrame(
        {
            "customer_id": [f"u{u}" for u in users],
            "product_id": [f"i{i}" for i in items],
            "strength": dense[users, items],
        }
    )
    matrix, maps = interaction_matrix(frame, weighting="bm25", alpha=0.5, bm25_k1=1.2, bm25_b=0.75)
    # BM25 with items as documents and users as terms, written out by hand
    kept_items = np.flatnonzero(dense.sum(axis=0) > 0)
    x = dense[:, kept_items].T  # items x users, item order = sorted "i<n>" ids
    order = np.argsort([f"i{i}" for i in kept_items])
    x = x[order]
    n_docs = x.shape[0]
    idf = np.log(n_docs) - np.log1p((x > 0).sum(axis=0))
    length = x.sum(axis=1)
    norm = 0.25 + 0.75 * length / length.mean()
    bm25 = x * 2.2 / (1.2 * norm[:, None] + x) * idf[None, :]
    expected = np.where(x > 0, 1 + 0.5 * np.maximum(bm25, 0), 0).T
    np.testing.assert_allclose(matrix.toarray(), expected, rtol=1e-5)
    assert matrix.data.min() >= 1.0  # confidence of an observed pair never below 1


def test_integer_ids_stay_integers_other_ids_become_strings():
    # integer ids (the evaluation's order-preserving codes) keep their type and numeric order
    frame = pl.DataFrame({"customer_id": [10, 2], "product_id": [7, 7], "strength": [1.0, 1.0]})
    _, maps = interaction_matrix(frame)
    assert maps.user_ids.to_list() == [2, 10]
    assert maps.user_index(pl.Series([10, 3])).to_list() == [1, None]
    dated = frame.with_columns(pl.col("customer_id").cast(pl.Float64))
    _, maps = interaction_matrix(dated)
    assert maps.user_ids.dtype == pl.String


@pytest.mark.parametrize(
    ("frame", "message"),
    [
        (pl.DataFrame({"customer_id": ["a"], "product_id": ["x"]}), "missing column"),
        (pl.DataFrame({"customer_id": [None, "a"], "product_id": ["x", "y"], "strength": [1.0, 1.0]}), "null"),
        (pl.DataFrame({"customer_id": ["a"], "product_id": ["x"], "strength": [0.0]}), "> 0"),
        (pl.DataFrame({"customer_id": ["a"], "product_id": ["x"], "strength": [float("nan")]}), "> 0"),
    ],
)
def test_bad_interactions_raise_clear_errors(frame, message):
    with pytest.raises(ValueError, match=message):
        interaction_matrix(frame)


def test_unknown_weighting_raises():
    with pytest.raises(ValueError, match="weighting"):
        interaction_matrix(SHOP, weighting="tfidf")


def test_purchased_pairs_and_indicator_matrix():
    assert purchased_pairs(SHOP).sort("customer_id", "product_id").rows() == [
        ("a", "p1"),
        ("b", "p1"),
        ("c", "p3"),
        ("c", "p4"),
    ]
    _, maps = interaction_matrix(SHOP)
    pairs = pl.DataFrame({"customer_id": ["a", "a", "zz"], "product_id": ["p2", "p2", "p1"]})
    np.testing.assert_array_equal(indicator_matrix(pairs, maps).toarray()[0], [0, 1, 0, 0])
    assert indicator_matrix(pairs, maps).nnz == 1  # duplicates once, unknown customer dropped


# ---------------------------------------------------------------- ALS fit


def test_als_is_deterministic_across_threads():
    events = synthetic_purchases(400, 60, seed=5)
    train, _ = temporal_split(events, cutoff=1.0, time_col="purchased_at")
    matrix, maps = interaction_matrix(train)
    one = fit_als(matrix, factors=8, iterations=5, random_state=7, num_threads=1)
    many = fit_als(matrix, factors=8, iterations=5, random_state=7, num_threads=0)
    np.testing.assert_array_equal(one.user_factors, many.user_factors)
    np.testing.assert_array_equal(one.item_factors, many.item_factors)
    other_seed = fit_als(matrix, factors=8, iterations=5, random_state=8)
    assert not np.array_equal(one.item_factors, other_seed.item_factors)
    first = recommend_top_n(one, matrix, maps, interactions=train, n=5)
    second = recommend_top_n(many, matrix, maps, interactions=train, n=5)
    assert first.equals(second)


def test_fit_recommender_learns_the_planted_pairs():
    # two taste groups: {x1, x2} and {y1, y2}; a customer who bought x1 should get x2 first
    rows = []
    for i in range(30):
        rows += [(f"x{i}", "x1", 1.0, 1), (f"x{i}", "x2", 1.0, 1), (f"y{i}", "y1", 1.0, 1), (f"y{i}", "y2", 1.0, 1)]
    rows += [("new_x", "x1", 1.0, 1), ("new_y", "y2", 1.0, 1)]
    frame = interactions(rows)
    fitted = fit_recommender(frame, factors=4, regularization=0.1, iterations=10)
    recs = recommend_top_n(fitted.model, fitted.matrix, fitted.maps, interactions=frame, n=1)
    assert rows_of(recs, "new_x") == [("x2", "als")]
    assert rows_of(recs, "new_y") == [("y1", "als")]


@pytest.mark.parametrize("n", [1, 5, 40])
def test_fast_filtered_top_n_equals_implicit_recommend(n):
    rng = np.random.default_rng(n)
    n_users, n_items = 300, 40
    model = AlternatingLeastSquares(factors=6)
    model.user_factors = rng.normal(size=(n_users, 6)).astype(np.float32)
    model.item_factors = rng.normal(size=(n_items, 6)).astype(np.float32)
    # filtered counts from 0 to every item (some users have bought the whole catalogue)
    blocked = sp.random(n_users, n_items, density=0.2, format="csr", random_state=1, dtype=np.float32)
    blocked.data[:] = 1
    blocked = sp.vstack([blocked[:-3], sp.csr_matrix(np.ones((3, n_items), dtype=np.float32))]).tocsr()
    users = rng.permutation(n_users)[:200]
    users = np.concatenate([users, [n_users - 1]])
    ids, scores = factor_top_n(model, users, n, blocked)
    ref_ids, ref_scores = model.recommend(users, blocked[users], N=n, filter_already_liked_items=True)
    valid = ref_scores > -1e37
    np.testing.assert_array_equal(np.where(valid, ref_ids, -1), ids)
    np.testing.assert_allclose(ref_scores[valid], scores[valid], rtol=1e-6)  # BLAS batch shapes differ
    assert (ids[-1] == -1).all()  # the user who bought everything gets nothing from the model
    unfiltered, _ = factor_top_n(model, users, n, None)
    ref_unfiltered, _ = model.recommend(users, None, N=n, filter_already_liked_items=False)
    np.testing.assert_array_equal(unfiltered, ref_unfiltered)


def test_fit_on_empty_matrix_gives_empty_factors():
    model = fit_als(sp.csr_matrix((0, 0), dtype=np.float32), factors=4)
    assert model.user_factors.shape == (0, 4) and model.item_factors.shape == (0, 4)


# ---------------------------------------------------------------- top-N


CUSTOMERS = pl.DataFrame(
    {
        "customer_id": ["a", "b", "c", "new_ads", "new_none", "new_tv"],
        "acquisition_channel": ["ads", "seo", "ads", "ads", None, "tv"],
    }
)


def test_filters_purchased_but_not_merely_viewed_items():
    matrix, maps = interaction_matrix(SHOP)
    model = fixed_model([4.0, 3.0, 2.0, 1.0], maps.n_users)
    recs = recommend_top_n(model, matrix, maps, CUSTOMERS, interactions=SHOP, n=2)
    assert rows_of(recs, "a") == [("p2", "als"), ("p3", "als")]  # p1 bought, p2 only viewed
    assert rows_of(recs, "c") == [("p1", "als"), ("p2", "als")]  # p3, p4 bought


def test_repurchase_allowed_when_not_filtering():
    matrix, maps = interaction_matrix(SHOP)
    model = fixed_model([4.0, 3.0, 2.0, 1.0], maps.n_users)
    recs = recommend_top_n(model, matrix, maps, CUSTOMERS, interactions=SHOP, n=2, filter_purchased=False)
    assert rows_of(recs, "c") == [("p1", "als"), ("p2", "als")]
    assert rows_of(recs, "a") == [("p1", "als"), ("p2", "als")]


def test_explicit_purchased_frame_overrides_purchase_count():
    matrix, maps = interaction_matrix(SHOP)
    model = fixed_model([4.0, 3.0, 2.0, 1.0], maps.n_users)
    bought = pl.DataFrame({"customer_id": ["a"], "product_id": ["p2"]})
    recs = recommend_top_n(model, matrix, maps, CUSTOMERS, interactions=SHOP, n=2, purchased=bought)
    assert rows_of(recs, "a") == [("p1", "als"), ("p3", "als")]
    assert rows_of(recs, "b") == [("p1", "als"), ("p2", "als")]


def test_cold_start_uses_channel_popularity_then_global():
    matrix, maps = interaction_matrix(SHOP)
    model = fixed_model([4.0, 3.0, 2.0, 1.0], maps.n_users)
    recs = recommend_top_n(model, matrix, maps, CUSTOMERS, interactions=SHOP, n=4)
    # ads customers a and c bought p1, p3, p4 (one purchaser each): ties -> product_id
    assert rows_of(recs, "new_ads") == [
        ("p1", "popular_in_channel"),
        ("p3", "popular_in_channel"),
        ("p4", "popular_in_channel"),
        ("p2", "popular_global"),
    ]
    # global: p1 has 2 purchasers, p3 and p4 one, p2 none (only viewed)
    expected_global = [("p1", "popular_global"), ("p3", "popular_global"), ("p4", "popular_global"), ("p2", "popular_global")]
    assert rows_of(recs, "new_none") == expected_global
    assert rows_of(recs, "new_tv") == expected_global  # a channel with no purchases yet
    scores = recs.filter(pl.col("customer_id") == "new_none").get_column("score").to_list()
    assert scores == [2.0, 1.0, 1.0, 0.0]


def test_popularity_by_strength():
    pop = popularity(SHOP, by="strength")
    assert pop.filter(pl.col("acquisition_channel").is_null()).select("product_id", "popularity").rows() == [
        ("p1", 4.0),
        ("p2", 2.0),
        ("p3", 1.0),
        ("p4", 1.0),
    ]


def test_every_customer_gets_exactly_min_n_catalogue_minus_filtered_rows():
    matrix, maps = interaction_matrix(SHOP)
    model = fixed_model([4.0, 3.0, 2.0, 1.0], maps.n_users)
    for n in (1, 3, 4, 50):
        recs = recommend_top_n(model, matrix, maps, CUSTOMERS, interactions=SHOP, n=n)
        counts = dict(recs.group_by("customer_id").len().rows())
        assert counts == {
            "a": min(n, 3),
            "b": min(n, 3),
            "c": min(n, 2),
            "new_ads": min(n, 4),
            "new_none": min(n, 4),
            "new_tv": min(n, 4),
        }
        assert recs.schema == pl.Schema(RECOMMENDATION_SCHEMA)
        # ranks 1..k, no duplicate product per customer
        check = recs.group_by("customer_id").agg(
            (pl.col("rank").sort() == pl.int_range(1, pl.len() + 1)).all().alias("ok"),
            pl.col("product_id").n_unique().alias("distinct"),
            pl.len(),
        )
        assert check.get_column("ok").all()
        assert (check.get_column("distinct") == check.get_column("len")).all()


def test_item_item_model_is_topped_up_from_popularity_without_duplicates():
    matrix, maps = interaction_matrix(SHOP, weighting="alpha")
    model = CosineRecommender(K=2)
    # only p1 -> p2 is a neighbour pair; everything else has no evidence
    model.similarity = sp.csr_matrix(
        (np.array([0.5]), (np.array([0]), np.array([1]))), shape=(4, 4)
    )
    recs = recommend_top_n(model, matrix, maps, CUSTOMERS, interactions=SHOP, n=3, source="item_cosine")
    # b bought p1: p2 from the model, then seo's popular (p1, filtered), then global p3, p4
    assert rows_of(recs, "b") == [("p2", "item_cosine"), ("p3", "popular_global"), ("p4", "popular_global")]
    # a: p2 scored but a's own row has p1 (bought) and p2 (viewed); ads channel list = p1, p3, p4
    assert rows_of(recs, "a") == [("p2", "item_cosine"), ("p3", "popular_in_channel"), ("p4", "popular_in_channel")]
    # c: no neighbour evidence at all -> ads popularity minus bought p3, p4 -> p1, then global p2
    assert rows_of(recs, "c") == [("p1", "popular_in_channel"), ("p2", "popular_global")]


def test_real_item_knn_model_runs_and_filters():
    matrix, maps = interaction_matrix(SHOP, weighting="alpha")
    model = fit_item_knn(matrix, neighbours=3, shrinkage=1.0)
    recs = recommend_top_n(model, matrix, maps, interactions=SHOP, n=3, source="item_knn")
    bought = purchased_pairs(SHOP)
    assert recs.join(bought, on=["customer_id", "product_id"], how="semi").height == 0
    assert sorted(recs.get_column("customer_id").unique().to_list()) == ["a", "b", "c"]


def test_ties_break_by_product_id():
    frame = interactions([("u", "p9", 1.0, 0), ("u", "p1", 1.0, 0), ("u", "p5", 1.0, 0), ("u", "p3", 1.0, 0)])
    matrix, maps = interaction_matrix(frame)
    model = fixed_model([1.0, 2.0, 1.0, 1.0], maps.n_users)  # p1, p3, p5, p9
    recs = recommend_top_n(model, matrix, maps, interactions=frame, n=4)
    assert recs.get_column("product_id").to_list() == ["p3", "p1", "p5", "p9"]


def test_one_user_and_no_model():
    frame = interactions([("solo", "x", 1.0, 1), ("solo", "y", 2.0, 0)])
    matrix, maps = interaction_matrix(frame)
    recs = recommend_top_n(None, matrix, maps, interactions=frame, n=5)
    assert recs.rows() == [("solo", 1, "y", 0.0, "popular_global")]


def test_empty_interactions_give_empty_frames_with_schema():
    empty = interactions([])
    matrix, maps = interaction_matrix(empty)
    assert matrix.shape == (0, 0)
    model = fit_als(matrix, factors=4)
    recs = recommend_top_n(model, matrix, maps, CUSTOMERS, interactions=empty, n=10)
    assert recs.height == 0 and recs.schema == pl.Schema(RECOMMENDATION_SCHEMA)
    similar = similar_products(model, maps, n=5)
    assert similar.height == 0 and similar.schema == pl.Schema(SIMILAR_SCHEMA)


def test_customer_and_argument_validation():
    matrix, maps = interaction_matrix(SHOP)
    model = fixed_model([4.0, 3.0, 2.0, 1.0], maps.n_users)
    with pytest.raises(ValueError, match="unique"):
        recommend_top_n(model, matrix, maps, pl.DataFrame({"customer_id": ["a", "a"]}), interactions=SHOP)
    with pytest.raises(ValueError, match="n must be"):
        recommend_top_n(model, matrix, maps, interactions=SHOP, n=-1)
    with pytest.raises(ValueError, match="do not match"):
        recommend_top_n(fixed_model([1.0, 2.0], maps.n_users), matrix, maps, interactions=SHOP)
    with pytest.raises(TypeError, match="unsupported model"):
        recommend_top_n(object(), matrix, maps, interactions=SHOP)


# ---------------------------------------------------------------- similar products


def test_similar_products_by_factor_cosine_excluding_self():
    _, maps = interaction_matrix(
        interactions([("u", "p1", 1.0, 1), ("u", "p2", 1.0, 1), ("u", "p3", 1.0, 1), ("u", "p4", 1.0, 1)])
    )
    model = AlternatingLeastSquares(factors=2)
    model.item_factors = np.array([[1, 0], [2, 0.2], [0, 1], [-1, 0]], dtype=np.float32)
    model.user_factors = np.ones((1, 2), dtype=np.float32)
    similar = similar_products(model, maps, n=2)
    p1 = similar.filter(pl.col("product_id") == "p1")
    assert p1.select("rank", "similar_product_id").rows() == [(1, "p2"), (2, "p3")]
    np.testing.assert_allclose(p1.get_column("score").to_list(), [2 / np.hypot(2, 0.2), 0.0], atol=1e-6)
    p4 = similar.filter(pl.col("product_id") == "p4")
    assert p4.get_column("similar_product_id").to_list() == ["p3", "p2"]  # cos 0, then -0.995
    assert similar.filter(pl.col("product_id") == pl.col("similar_product_id")).height == 0
    assert similar.height == 8
    # n larger than the catalogue: everything but itself
    assert similar_products(model, maps, n=10).group_by("product_id").len().get_column("len").to_list() == [3] * 4


def test_with_half_life_takes_that_strength_column_and_drops_zero_evidence():
    from ecom_growth.recommend.matrix import strength_column, with_half_life

    frame = pl.DataFrame({"customer_id": ["a", "b"], "product_id": ["x", "x"], "strength": [1.0, 0.0],
                          "strength_half_life_7d": [0.5, 0.0], "purchase_count": [1, 1]})
    assert strength_column(7) == "strength_half_life_7d"
    assert with_half_life(frame, 7).select("customer_id", "strength").rows() == [("a", 0.5)]
    assert with_half_life(frame, None).get_column("strength").to_list() == [1.0]
    with pytest.raises(ValueError, match="strength_half_life_14d"):
        with_half_life(frame, 14)


@pytest.mark.parametrize("k", [1, 5, 12])
def test_norm_pruned_top_k_equals_brute_force(k, caplog):
    import logging

    from implicit.cpu.topk import topk

    from ecom_growth.recommend.topn import _norm_pruned_topk

    rng = np.random.default_rng(k)
    # a few long item vectors (popular products) that settle most users on the head
    items = (rng.standard_normal((1000, 8)) * rng.pareto(2.0, (1000, 1))).astype(np.float32)
    users = rng.standard_normal((300, 8)).astype(np.float32)
    expected_ids, expected_scores = topk(items, users, k)
    with caplog.at_level(logging.INFO, logger="ecom_growth.recommend.topn"):
        ids, scores = _norm_pruned_topk(items, users, k, threads=0, head_items=200)
    assert np.array_equal(ids, expected_ids)
    # the head is a gemm of another shape: some CPUs (AMD EPYC) round it 1-2 float32 ulps apart
    np.testing.assert_allclose(scores, expected_scores, rtol=1e-6, atol=0)
    settled = int(caplog.text.split(" of 300 users settled")[0].rsplit(" ", 1)[-1])
    assert settled > 0  # the head settled some users (the flat-norm test below: none)
    # a head too small for k, or a catalogue too small to prune: plain top-k
    for head in (k - 1, 400):
        ids, scores = _norm_pruned_topk(items, users, k, threads=0, head_items=head)
        assert np.array_equal(ids, expected_ids) and np.array_equal(scores, expected_scores)


def test_norm_pruned_top_k_needs_the_full_scoring_when_norms_are_flat(caplog):
    import logging

    from implicit.cpu.topk import topk

    from ecom_growth.recommend.topn import _norm_pruned_topk

    rng = np.random.default_rng(0)
    items = rng.standard_normal((400, 8)).astype(np.float32)
    items /= np.linalg.norm(items, axis=1, keepdims=True)  # equal norms: no user can be settled early
    users = rng.standard_normal((50, 8)).astype(np.float32)
    with caplog.at_level(logging.INFO, logger="ecom_growth.recommend.topn"):
        ids, scores = _norm_pruned_topk(items, users, 3, threads=0, head_items=64)
    assert "0 of 50 users settled" in caplog.text
    expected_ids, expected_scores = topk(items, users, 3)
    assert np.array_equal(ids, expected_ids) and np.array_equal(scores, expected_scores)


def test_pairs_in_finds_stored_entries_whatever_the_index_order() -> None:
    # row 0 stores columns 3 and 1 (unsorted, one explicit zero), row 1 nothing, row 2 column 0
    csr = sp.csr_matrix((np.array([1.0, 0.0, 2.0]), np.array([3, 1, 0]), np.array([0, 2, 2, 3])), shape=(3, 4))
    assert not csr.has_sorted_indices
    rows = np.array([0, 0, 0, 1, 2, 2])
    items = np.array([1, 3, 2, 1, 0, 3])
    assert _pairs_in(csr, rows, items).tolist() == [True, True, False, False, True, False]
    assert not csr.has_sorted_indices  # the caller's matrix is not re-ordered
    # broadcasting: a column of rows against a matrix of candidate items
    got = _pairs_in(csr, np.arange(3)[:, None], np.array([[1, 2], [0, 1], [0, 3]]))
    assert got.tolist() == [[True, False], [False, False], [True, False]]
    # nothing stored: nothing found, shape kept
    assert _pairs_in(sp.csr_matrix((3, 4)), np.arange(3)[:, None], np.zeros((3, 2), dtype=np.int64)).shape == (3, 2)
    assert not _pairs_in(sp.csr_matrix((3, 4)), np.array([0]), np.array([0])).any()
