"""Item-item kNN with shrunk cosine similarity (the neighbourhood baseline ALS must beat).

Why not ``implicit``'s ``CosineRecommender`` (the project's first ``item_cosine`` baseline):
plain cosine ``|A and B| / sqrt(|A| |B|)`` is largest for items with very few buyers - an item
bought once, by someone who also bought X, has cosine 1/sqrt(|X|) with X, higher than most
well-supported neighbours of X. With K = 20 neighbours per item the neighbour lists fill up
with such one-buyer items, so the scores push the long tail and the baseline loses to plain
popularity on popularity-heavy data (public ratings sets). The standard cure (Sarwar et al.
2001; the tuned ItemKNN of Dacrema et al. 2019) is a shrinkage term ``h`` in the denominator,
``sim = |A and B| / (sqrt(|A| |B|) + h)``, which discounts similarities supported by few
co-buyers, plus a neighbourhood large enough (K in the hundreds) that a user's items share
neighbours. Both are tuned on the validation window. The similarity is computed on the
binary bought/interacted matrix: confidence weights (BM25, decay) belong to ALS's loss,
while in a kNN sum they re-weight the user's history a second time.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from ecom_growth.recommend.rowtopk import top_k_per_row


@dataclass(frozen=True)
class ItemKNN:
    """Fitted item-item model: ``similarity[j, i]`` = weight of neighbour ``i`` of item ``j``.

    Scoring a user is ``user_row @ similarity`` (see ``topn.model_scores``), so the row of a
    history item holds its K nearest neighbours; the diagonal is zero.
    """

    similarity: sp.csr_matrix
    neighbours: int
    shrinkage: float


_BLOCK_CELLS = 4_000_000  # dense item x item cells per block (32 MB of float64): bounds memory at any scale
# a block whose co-buy counts fill at least this share of its cells is ranked dense (one partition
# per row, cost ~ cells); a sparser one by partitioning each row's pairs (cost ~ pairs): large,
# sparse catalogues (or the evaluation's user sample) must not pay items^2
_DENSE_SHARE = 0.25


def _item_blocks(n_items: int) -> list[range]:
    """Consecutive item ranges of at most ~_BLOCK_CELLS co-occurrence cells each."""
    rows = max(1, _BLOCK_CELLS // max(n_items, 1))
    return [range(lo, min(n_items, lo + rows)) for lo in range(0, n_items, rows)]


def _top_k_mask(sim: np.ndarray, k: int) -> np.ndarray:
    """Per row, the ``k`` largest positive entries; ties at the boundary go to the lower column.

    One ``np.partition`` per row block finds each row's k-th largest value; entries above it
    are kept, and of those equal to it the first ones by column until k are reached (an
    order-free selection: the similarity is stored as CSR, so no sort is needed).
    """
    positive = sim > 0
    if sim.shape[1] <= k:
        return positive
    kth = -np.partition(-sim, k - 1, axis=1)[:, k - 1 : k]
    above = sim > kth
    tied = sim == kth
    room = k - above.sum(axis=1)
    keep = above | tied
    cut = np.flatnonzero(tied.sum(axis=1) > room)  # rows with more ties than room: first by column
    if cut.size:
        keep[cut] = above[cut] | (tied[cut] & (np.cumsum(tied[cut], axis=1) <= room[cut, None]))
    return positive & keep


_Kept = dict[tuple[int, float], list[tuple[np.ndarray, np.ndarray, np.ndarray]]]


def _rank_dense(count: np.ndarray, support: np.ndarray, block: range, pairs: list, kept: _Kept) -> None:
    """Append each (K, h)'s neighbours of the block's items from its dense co-buy counts."""
    norm = np.sqrt(support[block.start : block.stop, None] * support[None, :])
    for h in sorted({h for _, h in pairs}):
        with np.errstate(invalid="ignore", divide="ignore"):
            sim = np.where(count > 0, count / (norm + h), 0.0)
        for k in sorted({k for k, hh in pairs if hh == h}):
            row, col = np.nonzero(_top_k_mask(sim, k))
            kept[(k, h)].append((row + block.start, col, sim[row, col]))


def _rank_sparse(co: sp.csr_matrix, support: np.ndarray, block: range, pairs: list, kept: _Kept) -> None:
    """The same selection from the block's co-buy pairs (CSR, column indices in any order): per
    h the shrunk similarities, per K each row's K largest (``rowtopk.top_k_per_row``: one
    partition per long row, ties to the lower neighbour index, as in ``_top_k_mask``)."""
    local = np.repeat(np.arange(len(block), dtype=np.int64), np.diff(co.indptr))
    row = local + block.start
    col = co.indices.astype(np.int64)
    norm = np.sqrt(support[row] * support[col])
    for h in sorted({h for _, h in pairs}):
        sim = co.data / (norm + h)
        for k in sorted({k for k, hh in pairs if hh == h}):
            top = top_k_per_row(co.indptr, co.indices, sim, k)
            kept[(k, h)].append((row[top], col[top], sim[top]))


def fit_item_knn(matrix: sp.csr_matrix, *, neighbours: int, shrinkage: float) -> ItemKNN:
    """Shrunk-cosine item kNN on the users x items pattern of ``matrix`` (values ignored).

    Co-occurrences ``X^T X`` are computed one block of items at a time (one sparse product
    each, densified per block: item x item, never user x item) and only the top
    ``neighbours`` per item are kept, so memory stays bounded at any scale. Ties: lower item
    index first (deterministic).
    """
    return fit_item_knn_grid(matrix, neighbours=[neighbours], shrinkage=[shrinkage])[(neighbours, float(shrinkage))]


def fit_item_knn_grid(
    matrix: sp.csr_matrix, *, neighbours: Sequence[int], shrinkage: Sequence[float]
) -> dict[tuple[int, float], ItemKNN]:
    """Every (neighbours, shrinkage) model of the grid from one pass over the co-occurrences.

    The co-buy counts ``X^T X`` (the expensive part) do not depend on K or h: each block is
    multiplied once, then shrunk and cut for each pair. Each model equals ``fit_item_knn``
    with its values.
    """
    pairs = sorted({(int(k), float(h)) for k in neighbours for h in shrinkage})
    if not pairs or min(k for k, _ in pairs) < 1 or min(h for _, h in pairs) < 0:
        raise ValueError(f"need neighbours >= 1 and shrinkage >= 0, got {list(neighbours)}, {list(shrinkage)}")
    binary = sp.csr_matrix(matrix, dtype=np.float64, copy=True)
    binary.data[:] = 1.0
    n_items = binary.shape[1]
    support = np.asarray(binary.sum(axis=0)).ravel()
    columns = binary.tocsc()
    kept: _Kept = {p: [] for p in pairs}
    for block in _item_blocks(n_items):  # blocks of rows of X^T X, not a loop over items
        co = (columns[:, block.start : block.stop].T @ binary).tocsr()
        co.setdiag(0.0, k=block.start)  # no self-similarity: item block.start + i is row i
        co.eliminate_zeros()
        if co.nnz >= _DENSE_SHARE * len(block) * n_items:
            _rank_dense(co.toarray(), support, block, pairs, kept)
        else:
            _rank_sparse(co, support, block, pairs, kept)
    models = {}
    for (k, h), parts in kept.items():
        if parts:
            row, col, value = (np.concatenate(x) for x in zip(*parts, strict=True))
        else:  # an empty catalogue
            row, col, value = np.empty(0, np.int64), np.empty(0, np.int64), np.empty(0)
        similarity = sp.csr_matrix((value, (row, col)), shape=(n_items, n_items))
        similarity.sort_indices()
        models[(k, h)] = ItemKNN(similarity=similarity, neighbours=k, shrinkage=h)
    return models
