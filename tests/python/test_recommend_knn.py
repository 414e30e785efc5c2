"""Item kNN (shrunk cosine), the Poisson bootstrap, and diversity / novelty."""

from __future__ import annotations

import math

import numpy as np
import polars as pl
import pytest
import scipy.sparse as sp

from ecom_growth.recommend import (
    fit_item_knn,
    interaction_matrix,
    ranking_metrics,
    recommend_top_n,
    relevant_items,
)
from ecom_growth.recommend.bootstrap import bootstrap_means
from ecom_growth.recommend.evaluation import temporal_split
from ecom_growth.recommend.knn import fit_item_knn_grid
from ecom_growth.recommend.metrics import list_diversity_novelty

# ------------------------------------------------------------------ item kNN


def test_similarity_is_shrunk_cosine_of_buyer_sets_without_diagonal():
    # users x items: item 0 bought by u0,u1,u2; item 1 by u0,u1; item 2 by u2 only
    x = sp.csr_matrix(np.array([[1, 5, 0], [1, 1, 0], [2, 0, 1]], dtype=np.float32))  # values ignored
    model = fit_item_knn(x, neighbours=5, shrinkage=1.0)
    sim = model.similarity.toarray()
    assert np.all(np.diag(sim) == 0)
    assert sim[0, 1] == pytest.approx(2 / (math.sqrt(3 * 2) + 1))
    assert sim[0, 2] == pytest.approx(1 / (math.sqrt(3 * 1) + 1))
    assert sim[1, 2] == 0  # never bought together
    assert np.allclose(sim, sim.T)


def test_only_the_k_best_neighbours_are_kept_ties_by_item_index():
    x = sp.csr_matrix(np.ones((2, 4), dtype=np.float32))  # every pair equally similar
    sim = fit_item_knn(x, neighbours=2, shrinkage=0.0).similarity.toarray()
    assert (sim > 0).sum(axis=1).tolist() == [2, 2, 2, 2]
    assert np.flatnonzero(sim[0]).tolist() == [1, 2] and np.flatnonzero(sim[3]).tolist() == [0, 1]


def test_bad_knn_arguments_raise():
    x = sp.csr_matrix(np.ones((2, 2), dtype=np.float32))
    with pytest.raises(ValueError):
        fit_item_knn(x, neighbours=0, shrinkage=0.0)
    with pytest.raises(ValueError):
        fit_item_knn(x, neighbours=3, shrinkage=-1.0)


def long_tail_purchases(seed: int) -> pl.DataFrame:
    """Two taste groups of 10 products; each customer buys 2 of their group's products, most
    also one one-off product nobody else bought (a long tail, as in public ratings data), and
    later a third product of their group (the holdout)."""
    rng = np.random.default_rng(seed)
    rows = []
    for u in range(400):
        core = [f"g{u % 2}_{i}" for i in range(10)]
        picks = rng.choice(core, size=3, replace=False)
        rows += [(f"u{u}", str(picks[0]), 0.1), (f"u{u}", str(picks[1]), 0.2), (f"u{u}", str(picks[2]), 0.9)]
        if u < 300:
            rows.append((f"u{u}", f"tail{u}", 0.3))
    return pl.DataFrame(rows, schema=["customer_id", "product_id", "purchased_at"], orient="row")


def test_shrinkage_keeps_one_off_products_out_of_the_neighbourhoods():
    train, test = temporal_split(long_tail_purchases(0), cutoff=0.5, time_col="purchased_at")
    relevant = relevant_items(train, test)
    matrix, maps = interaction_matrix(train, weighting="alpha")
    matrix.data[:] = 1.0

    def ndcg(shrinkage: float) -> float:
        model = fit_item_knn(matrix, neighbours=5, shrinkage=shrinkage)
        recs = recommend_top_n(model, matrix, maps, relevant.select("customer_id").unique(), interactions=train, n=3)
        table = ranking_metrics(recs, relevant, ks=(3,))
        return table.filter(pl.col("metric") == "ndcg").get_column("value").item()

    plain, shrunk = ndcg(0.0), ndcg(20.0)
    # a group product X has ~40 buyers and ~4 co-buyers with each other group product:
    # cosine ~ 4/40 = 0.1, below a one-off product's 1/sqrt(40) = 0.16, so plain cosine
    # fills X's 5 neighbours with one-off products; shrinkage 20 reverses the order
    # (4/60 vs 1/26) and the group products come back
    assert shrunk > 1.3 * plain, (plain, shrunk)


# ------------------------------------------------------------------ bootstrap


def test_bootstrap_interval_brackets_the_mean_and_narrows_with_more_users():
    rng = np.random.default_rng(0)
    small = rng.random((100, 1))
    large = rng.random((10_000, 1))
    lo_s, hi_s = bootstrap_means(small, samples=500, confidence_level=0.95, seed=1)
    lo_l, hi_l = bootstrap_means(large, samples=500, confidence_level=0.95, seed=1)
    assert lo_s[0] < small.mean() < hi_s[0]
    assert lo_l[0] < large.mean() < hi_l[0]
    # the width follows the standard error: 10x the users, about 1/sqrt(10) the width
    assert (hi_l[0] - lo_l[0]) / (hi_s[0] - lo_s[0]) == pytest.approx(1 / math.sqrt(100), rel=0.35)
    # a 95% normal interval of a uniform mean: +-1.96 * sqrt(1/12) / sqrt(n)
    assert hi_l[0] - lo_l[0] == pytest.approx(2 * 1.96 * math.sqrt(1 / 12) / 100, rel=0.15)


def test_bootstrap_is_deterministic_paired_and_skips_nan():
    x = np.column_stack([np.arange(50.0), np.arange(50.0), np.r_[np.full(10, np.nan), np.ones(40)]])
    first = bootstrap_means(x, samples=200, confidence_level=0.9, seed=3)
    second = bootstrap_means(x, samples=200, confidence_level=0.9, seed=3)
    assert np.array_equal(first[0], second[0]) and np.array_equal(first[1], second[1])
    assert first[0][0] == first[0][1]  # same users, same weights: identical columns, identical bounds
    assert first[0][2] == first[1][2] == 1.0  # NaN users left out of the third column
    lo, hi = bootstrap_means(np.zeros((0, 2)), samples=10, confidence_level=0.9, seed=0)
    assert np.isnan(lo).all() and np.isnan(hi).all()
    with pytest.raises(ValueError):
        bootstrap_means(x, samples=0, confidence_level=0.9, seed=0)


# ------------------------------------------------------------------ diversity and novelty


def test_diversity_and_novelty_by_hand():
    recs = pl.DataFrame({
        "customer_id": ["a", "a", "a", "b", "b", "b", "c"],
        "product_id": ["x", "y", "z", "x", "w", "v", "x"],
        "rank": [1, 2, 3, 1, 2, 3, 1],
    })
    categories = pl.DataFrame({"product_id": ["x", "y", "z", "w", "v"], "category": ["A", "A", "B", "B", "C"]})
    item_users = pl.DataFrame({"product_id": ["x", "y", "z", "w"], "users": [7, 3, 1, 0]})  # v unseen
    table = list_diversity_novelty(recs, categories, item_users, 7, ks=(2, 3)).sort("customer_id")
    row = {r["customer_id"]: r for r in table.iter_rows(named=True)}
    # a@3: categories A, A, B -> 2 of 3 pairs differ; b@3: A, B, C -> all differ; c: one item
    assert row["a"]["diversity_3"] == pytest.approx(2 / 3)
    assert row["b"]["diversity_3"] == pytest.approx(1.0)
    assert row["a"]["diversity_2"] == pytest.approx(0.0)
    assert row["c"]["diversity_3"] is None
    info = {p: -math.log2((u + 1) / 8) for p, u in {"x": 7, "y": 3, "z": 1, "w": 0, "v": 0}.items()}
    assert row["a"]["novelty_3"] == pytest.approx((info["x"] + info["y"] + info["z"]) / 3)
    assert row["b"]["novelty_2"] == pytest.approx((info["x"] + info["w"]) / 2)
    assert row["c"]["novelty_3"] == pytest.approx(0.0)  # bought by every training customer


def test_blocked_computation_equals_one_block(monkeypatch):
    from ecom_growth.recommend import knn

    rng = np.random.default_rng(2)
    x = sp.csr_matrix((rng.random((200, 60)) < 0.1).astype(np.float32))
    whole = fit_item_knn(x, neighbours=7, shrinkage=3.0).similarity
    monkeypatch.setattr(knn, "_BLOCK_CELLS", 50)  # dozens of blocks
    assert len(knn._item_blocks(60)) > 10
    blocked = fit_item_knn(x, neighbours=7, shrinkage=3.0).similarity
    assert (whole != blocked).nnz == 0


def _reference_knn(x: np.ndarray, neighbours: int, shrinkage: float) -> np.ndarray:
    """Row by row: shrunk cosine, then the best ``neighbours`` positive entries by (-sim, column)."""
    binary = (x != 0).astype(np.float64)
    support = binary.sum(axis=0)
    out = np.zeros((x.shape[1], x.shape[1]))
    for j in range(x.shape[1]):
        count = binary[:, j] @ binary
        count[j] = 0
        with np.errstate(invalid="ignore", divide="ignore"):
            sim = np.where(count > 0, count / (np.sqrt(support[j] * support) + shrinkage), 0.0)
        order = [i for i in np.lexsort((np.arange(sim.size), -sim)) if sim[i] > 0][:neighbours]
        out[j, order] = sim[order]
    return out


@pytest.mark.parametrize("dense_share", [0.0, 2.0])  # every block ranked dense / sparse
def test_top_k_selection_matches_a_row_by_row_reference_with_many_ties(monkeypatch, dense_share):
    from ecom_growth.recommend import knn
    from ecom_growth.recommend.knn import fit_item_knn_grid

    monkeypatch.setattr(knn, "_DENSE_SHARE", dense_share)
    monkeypatch.setattr(knn, "_BLOCK_CELLS", 300)  # several blocks

    rng = np.random.default_rng(5)
    x = (rng.random((40, 30)) < 0.15).astype(np.float32)  # small counts: many exactly tied similarities
    x[:, 29] = 0  # an item nobody bought: no neighbours, never a neighbour
    grid = fit_item_knn_grid(sp.csr_matrix(x), neighbours=[1, 3, 50], shrinkage=[0.0, 2.0])
    assert sorted(grid) == [(1, 0.0), (1, 2.0), (3, 0.0), (3, 2.0), (50, 0.0), (50, 2.0)]
    for (k, h), model in grid.items():
        assert np.array_equal(model.similarity.toarray(), _reference_knn(x, k, h)), (k, h)
        assert (model.similarity != fit_item_knn(sp.csr_matrix(x), neighbours=k, shrinkage=h).similarity).nnz == 0
    assert grid[(50, 0.0)].similarity[29].nnz == 0 and grid[(50, 0.0)].similarity[:, 29].nnz == 0


def test_item_item_scores_in_blocks_equal_one_block(monkeypatch):
    # blocks bound memory at scale; each user is in one block, so the lists must not change
    from ecom_growth.recommend import topn

    rng = np.random.default_rng(3)
    matrix = sp.random(40, 15, density=0.3, format="csr", random_state=rng, dtype=np.float64)
    matrix.data[:] = 1.0
    model = fit_item_knn(matrix, neighbours=5, shrinkage=0.0)
    users = np.array([7, 3, 0, 39, 12, 25, 3 + 1], dtype=np.int32)
    whole = topn.model_scores(model, matrix, users, n=4, filter_matrix=matrix)
    monkeypatch.setattr(topn, "_ITEM_ITEM_BLOCK_USERS", 2)
    blocked = topn.model_scores(model, matrix, users, n=4, filter_matrix=matrix)
    assert whole.height > 0 and blocked.equals(whole)


def test_co_buy_counts_equal_x_transpose_x_in_every_block(monkeypatch):
    from ecom_growth.recommend import knn

    rng = np.random.default_rng(4)
    x = (rng.random((50, 23)) < 0.2).astype(np.float32)
    x[7] = 0  # a customer without items
    x[:, 5] = 0  # an item nobody bought: an empty row
    x[:, 6] = 0
    x[3, 6] = 2.5  # an item with one buyer (values are ignored: the pattern counts)
    monkeypatch.setattr(knn, "_BLOCK_CELLS", 23 * 4)  # blocks of 4 items: 6 blocks, the last one short
    blocks = knn._item_blocks(23)
    assert len(blocks) == 6 and len(blocks[-1]) == 3
    counts = (x != 0).astype(np.int64).T @ (x != 0).astype(np.int64)
    counter = knn._CoBuyCounter(sp.csr_matrix(x), blocks)
    for block in blocks:  # the buffers are reused: each block is checked before the next is counted
        co = counter.rows(block)
        got = sp.csr_matrix((co.counts, co.indices, co.indptr), shape=(len(block), 23)).toarray()
        assert np.array_equal(got, counts[block.start : block.stop]), block


def test_empty_catalogue_one_item_and_no_customers():
    for shape in [(3, 0), (0, 4), (0, 0)]:
        grid = fit_item_knn_grid(sp.csr_matrix(shape, dtype=np.float32), neighbours=[1, 2], shrinkage=[0.0])
        assert all(m.similarity.shape == (shape[1], shape[1]) and m.similarity.nnz == 0 for m in grid.values())
    one_item = fit_item_knn(sp.csr_matrix(np.ones((3, 1), dtype=np.float32)), neighbours=5, shrinkage=1.0)
    assert one_item.similarity.shape == (1, 1) and one_item.similarity.nnz == 0  # no self-similarity


@pytest.mark.parametrize("dense_share", [0.0, 2.0])
def test_ties_at_the_k_boundary_go_to_the_lowest_items_in_every_block(monkeypatch, dense_share):
    from ecom_growth.recommend import knn

    monkeypatch.setattr(knn, "_DENSE_SHARE", dense_share)
    monkeypatch.setattr(knn, "_BLOCK_CELLS", 12)  # blocks of 2 items
    x = sp.csr_matrix(np.ones((3, 6), dtype=np.float32))  # every pair equally similar
    grid = fit_item_knn_grid(x, neighbours=[2, 4], shrinkage=[0.0, 1.0])
    for (k, _), model in grid.items():
        sim = model.similarity
        assert sim.has_sorted_indices
        for j in range(6):
            assert sim[j].indices.tolist() == [i for i in range(6) if i != j][:k], (k, j)


def _reference_item_item(matrix: np.ndarray, sim: np.ndarray, filtered: np.ndarray, users, n: int) -> list:
    """Dense: scores = history @ similarity, filtered items and scores <= 0 dropped, then the n
    best by (-score, item)."""
    out = []
    for u in users:
        scores = matrix[u] @ sim
        items = [i for i in np.lexsort((np.arange(scores.size), -scores)) if scores[i] > 0 and not filtered[u, i]]
        out += [(int(u), int(i), float(scores[i]), p) for p, i in enumerate(items[:n])]
    return out


@pytest.mark.parametrize("n", [1, 3, 8])
def test_item_item_scores_equal_a_dense_reference_when_the_best_items_are_filtered(n):
    from ecom_growth.recommend import topn

    rng = np.random.default_rng(9)
    matrix = (rng.random((30, 12)) < 0.3).astype(np.float64)
    sim = rng.integers(0, 3, size=(12, 12)).astype(np.float64)  # small integers: tied scores
    sim[:, :4] = 5.0  # items 0-3 score highest for everyone ...
    filtered = np.zeros_like(matrix, dtype=bool)
    filtered[:20, :4] = True  # ... and are filtered for most users: their n best come from further down
    filtered[matrix > 0] = True
    filtered[25] = True  # a user with everything filtered
    users = np.array([0, 5, 25, 29, 3, 17], dtype=np.int32)
    got = topn.model_scores(SimpleModel(sp.csr_matrix(sim)), sp.csr_matrix(matrix), users, n=n,
                            filter_matrix=sp.csr_matrix(filtered.astype(np.float32)))
    expected = _reference_item_item(matrix, sim, filtered, sorted(users.tolist()), n)
    assert got.rows() == expected and 25 not in got.get_column("user_idx").to_list()
    unfiltered = topn.model_scores(SimpleModel(sp.csr_matrix(sim)), sp.csr_matrix(matrix), users, n=n,
                                   filter_matrix=None)
    assert unfiltered.rows() == _reference_item_item(matrix, sim, np.zeros_like(filtered), sorted(users.tolist()), n)


class SimpleModel:
    """An item-item model: only its similarity matrix."""

    def __init__(self, similarity: sp.csr_matrix) -> None:
        self.similarity = similarity
