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
from ecom_growth.recommend.sparseproduct import csr_product, product_row_bounds


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


@dataclass(frozen=True)
class _CoBuys:
    """Rows ``block`` of the co-buy counts ``X^T X`` as CSR pieces: ``indptr`` (from 0),
    ``indices`` (column order within a row unspecified) and integer ``counts``. The diagonal
    (an item with itself) is still in: each item with a buyer has it (its support), the rankers
    leave it out."""

    block: range
    indptr: np.ndarray
    indices: np.ndarray
    counts: np.ndarray

    @property
    def nnz(self) -> int:
        return int(self.indptr[-1])


class _CoBuyCounter:
    """``X^T X`` for the items of ``blocks``, one block at a time, for the users x items pattern
    ``X`` of ``pattern``: one pass of scipy's product kernel per block (``sparseproduct``: row j
    has at most its buyers' basket sizes summed entries, known for every item up front), into
    buffers reused across blocks. Counts are int32 (int64 from 2^31 on), equal to the float64
    counts of a float product."""

    def __init__(self, pattern: sp.csr_matrix, blocks: list[range]) -> None:
        n_users, n_items = pattern.shape
        by_user = sp.csr_matrix((np.ones(pattern.nnz, dtype=np.int32), pattern.indices, pattern.indptr),
                                shape=pattern.shape)
        by_item = by_user.tocsc().T  # X^T as CSR: each item's buyers
        self._row_bound = product_row_bounds(by_item, np.diff(by_user.indptr), n_items)
        capacity = max((int(self._row_bound[b.start : b.stop].sum()) for b in blocks), default=0)
        index = np.int64 if max(pattern.nnz, n_users, n_items, capacity) >= np.iinfo(np.int32).max else np.int32
        self._by_user, self._by_item = by_user.astype(index, copy=False), by_item.astype(index, copy=False)
        self._buffers = (np.empty(capacity, dtype=index), np.empty(capacity, dtype=index))

    def rows(self, block: range) -> _CoBuys:
        """The co-buy counts of items ``block`` (valid until the next call: shared buffers)."""
        product = csr_product(self._by_item[block.start : block.stop], self._by_user,
                              capacity=int(self._row_bound[block.start : block.stop].sum()), buffers=self._buffers)
        return _CoBuys(block, product.indptr, product.indices, product.data)


def _rank_dense(co: _CoBuys, support: np.ndarray, pairs: list, kept: _Kept) -> None:
    """Append each (K, h)'s neighbours of the block's items from its dense co-buy counts."""
    block, n_items = co.block, support.size
    count = sp.csr_matrix((co.counts, co.indices, co.indptr), shape=(len(block), n_items)).toarray()
    count[np.arange(len(block)), np.arange(block.start, block.stop)] = 0  # no self-similarity
    norm = np.sqrt(support[block.start : block.stop, None] * support[None, :])
    for h in sorted({h for _, h in pairs}):
        with np.errstate(invalid="ignore", divide="ignore"):
            sim = np.where(count > 0, count / (norm + h), 0.0)
        for k in sorted({k for k, hh in pairs if hh == h}):
            row, col = np.nonzero(_top_k_mask(sim, k))
            kept[(k, h)].append((row + block.start, col, sim[row, col]))


def _rank_sparse(co: _CoBuys, support: np.ndarray, pairs: list, kept: _Kept) -> None:
    """The same selection from the block's co-buy pairs: per h the shrunk similarities, per K
    each row's K largest (``rowtopk.top_k_per_row``: one partition per long row, ties to the
    lower neighbour index, as in ``_top_k_mask``).

    The diagonal gets similarity 0: below every co-bought item, so it never takes a neighbour's
    place, and it is dropped with the zeros. A smaller K is cut from the largest K's neighbours,
    not from the whole row: the best k of a row are the best k of its best K (one order, value
    descending then index)."""
    block = co.block
    lengths = np.diff(co.indptr)
    item = np.repeat(np.arange(block.start, block.stop, dtype=co.indices.dtype), lengths)
    norm = support[co.indices]
    norm *= np.repeat(support[block.start : block.stop], lengths)  # = sqrt(s_j * s_i), as dense
    np.sqrt(norm, out=norm)
    diagonal = np.flatnonzero(co.indices == item)
    for h in sorted({h for _, h in pairs}):
        sim = norm + h
        np.divide(co.counts, sim, out=sim)
        sim[diagonal] = 0.0
        ks = sorted({k for k, hh in pairs if hh == h}, reverse=True)
        top = np.flatnonzero(top_k_per_row(co.indptr, co.indices, sim, ks[0]))
        top = top[sim[top] > 0]
        for k in ks:
            if k < ks[0]:
                best = top[top_k_per_row(np.searchsorted(top, co.indptr), co.indices[top], sim[top], k)]
            else:
                best = top
            kept[(k, h)].append((item[best], co.indices[best], sim[best]))


def fit_item_knn(matrix: sp.csr_matrix, *, neighbours: int, shrinkage: float) -> ItemKNN:
    """Shrunk-cosine item kNN on the users x items pattern of ``matrix`` (values ignored).

    Co-occurrences ``X^T X`` are computed one block of items at a time (one sparse product
    each, ranked sparse or, when dense enough, densified: item x item, never user x item) and only the top
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
    pattern = sp.csr_matrix(matrix)  # only the stored entries' positions are read
    n_items = pattern.shape[1]
    support = np.bincount(pattern.indices, minlength=n_items).astype(np.float64)  # buyers per item
    blocks = _item_blocks(n_items)
    counter = _CoBuyCounter(pattern, blocks)
    kept: _Kept = {p: [] for p in pairs}
    for block in blocks:  # blocks of rows of X^T X, not a loop over items
        co = counter.rows(block)
        off_diagonal = co.nnz - np.count_nonzero(support[block.start : block.stop])  # see _CoBuys
        if off_diagonal >= _DENSE_SHARE * len(block) * n_items:
            _rank_dense(co, support, pairs, kept)
        else:
            _rank_sparse(co, support, pairs, kept)
    return {(k, h): ItemKNN(similarity=_similarity(parts, n_items), neighbours=k, shrinkage=h)
            for (k, h), parts in kept.items()}


def _similarity(parts: list[tuple[np.ndarray, np.ndarray, np.ndarray]], n_items: int) -> sp.csr_matrix:
    """The items x items CSR of the kept (item, neighbour, similarity) triples, neighbours
    ascending within a row. The parts come in item order (blocks in order, rows in order within
    one), so the row pointer is a count per item, no COO conversion."""
    if parts:
        row, col, value = (np.concatenate(x) for x in zip(*parts, strict=True))
    else:  # an empty catalogue
        row, col, value = np.empty(0, np.int64), np.empty(0, np.int64), np.empty(0)
    index = np.int64 if max(value.size, n_items) >= np.iinfo(np.int32).max else np.int32
    indptr = np.zeros(n_items + 1, dtype=index)
    np.cumsum(np.bincount(row, minlength=n_items), out=indptr[1:])
    similarity = sp.csr_matrix((value, col.astype(index), indptr), shape=(n_items, n_items))
    similarity.sort_indices()
    return similarity
