import numpy as np
import pytest
import scipy.sparse as sp

from ecom_growth.recommend.rowtopk import top_k_per_row


def _reference(matrix: sp.csr_matrix, k: int) -> set[tuple[int, int]]:
    """Per row: a stable sort by value descending, then column ascending; the first k."""
    kept = set()
    for r in range(matrix.shape[0]):
        cols = matrix.indices[matrix.indptr[r]:matrix.indptr[r + 1]]
        vals = matrix.data[matrix.indptr[r]:matrix.indptr[r + 1]]
        order = np.lexsort((cols, -vals))[:k]
        kept |= {(r, int(c)) for c in cols[order]}
    return kept


def _selected(matrix: sp.csr_matrix, k: int) -> set[tuple[int, int]]:
    return _selected_with(matrix, k)


def _selected_with(matrix: sp.csr_matrix, k: int | np.ndarray) -> set[tuple[int, int]]:
    mask = top_k_per_row(matrix.indptr, matrix.indices, matrix.data, k)
    rows = np.repeat(np.arange(matrix.shape[0]), np.diff(matrix.indptr))
    return set(zip(rows[mask].tolist(), matrix.indices[mask].tolist(), strict=True))


def _shuffled_within_rows(matrix: sp.csr_matrix, rng) -> sp.csr_matrix:
    out = matrix.copy()
    for r in range(out.shape[0]):
        lo, hi = out.indptr[r], out.indptr[r + 1]
        perm = rng.permutation(hi - lo)
        out.indices[lo:hi] = out.indices[lo:hi][perm]
        out.data[lo:hi] = out.data[lo:hi][perm]
    out.has_sorted_indices = False
    return out


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("k", [1, 2, 5, 40])
def test_matches_a_stable_sort_with_many_ties_and_unsorted_columns(seed, k):
    rng = np.random.default_rng(seed)
    dense = rng.integers(0, 4, size=(30, 25)).astype(np.float64)  # values 1..3: ties everywhere
    dense[rng.random(dense.shape) < 0.4] = 0
    dense[3] = 0  # an empty row
    dense[4, :2] = [2.0, 2.0]  # a short row
    dense[4, 2:] = 0
    matrix = _shuffled_within_rows(sp.csr_matrix(dense), rng)
    assert _selected(matrix, k) == _reference(matrix, k)
    per_row = np.bincount(np.repeat(np.arange(30), np.diff(matrix.indptr))[
        top_k_per_row(matrix.indptr, matrix.indices, matrix.data, k)], minlength=30)
    assert (per_row == np.minimum(np.diff(matrix.indptr), k)).all()


def test_distinct_values_keep_the_largest_and_ties_go_to_the_lowest_column():
    matrix = sp.csr_matrix(np.array([[0.1, 0.5, 0.5, 0.9, 0.5], [1.0, 0.0, 0.0, 0.0, 0.0]]))
    matrix = sp.csr_matrix((matrix.data[::-1].copy(), matrix.indices[::-1].copy(), [0, 1, 6]), shape=(2, 5))
    # row 0 is now [1.0 at col 0]; row 1 holds the five values in reverse column order
    assert _selected(matrix, 2) == {(0, 0), (1, 3), (1, 1)}
    assert _selected(matrix, 3) == {(0, 0), (1, 3), (1, 1), (1, 2)}


def test_negative_values_and_an_empty_matrix():
    matrix = sp.csr_matrix(np.array([[-1.0, -3.0, -2.0]]))
    assert _selected(matrix, 1) == {(0, 0)}
    empty = sp.csr_matrix((3, 4))
    assert top_k_per_row(empty.indptr, empty.indices, empty.data, 2).size == 0


def test_rejects_k_below_one_and_nan():
    matrix = sp.csr_matrix(np.array([[1.0, np.nan]]))
    with pytest.raises(ValueError, match="k must be"):
        top_k_per_row(matrix.indptr, matrix.indices, matrix.data, 0)
    with pytest.raises(ValueError, match="NaN"):
        top_k_per_row(matrix.indptr, matrix.indices, matrix.data, 1)


def test_a_k_per_row_matches_the_reference_row_by_row():
    rng = np.random.default_rng(11)
    dense = rng.integers(0, 4, size=(20, 15)).astype(np.float64)
    dense[rng.random(dense.shape) < 0.3] = 0
    matrix = _shuffled_within_rows(sp.csr_matrix(dense), rng)
    ks = rng.integers(1, 17, size=20)  # some rows longer than their k, some shorter
    selected = _selected_with(matrix, ks)
    assert selected == {(r, c) for r in range(20) for rr, c in _reference(matrix, int(ks[r])) if rr == r}
    assert selected != _selected(matrix, int(ks.max()))
    with pytest.raises(ValueError, match="k must be"):
        top_k_per_row(matrix.indptr, matrix.indices, matrix.data, np.where(ks == ks[0], 0, ks))
