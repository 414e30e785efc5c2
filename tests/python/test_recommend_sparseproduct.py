"""One-pass CSR products: the same matrix as scipy's ``@``, array for array."""

import numpy as np
import pytest
import scipy.sparse as sp

from ecom_growth.recommend.sparseproduct import csr_product, product_row_bounds


def _same_arrays(got: sp.csr_matrix, expected: sp.csr_matrix) -> bool:
    """Equal entries, values and order within rows (not only equal as matrices)."""
    return (got.shape == expected.shape and got.dtype == expected.dtype
            and np.array_equal(got.indptr, expected.indptr) and np.array_equal(got.indices, expected.indices)
            and np.array_equal(got.data, expected.data))


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("dtypes", [(np.float64, np.float64), (np.float32, np.float64), (np.int32, np.int32)])
def test_equals_scipy_product_array_for_array(seed, dtypes):
    rng = np.random.default_rng(seed)
    a = sp.random(60, 40, density=0.1, format="csr", random_state=rng)
    b = sp.random(40, 70, density=0.15, format="csr", random_state=rng)
    a.data, b.data = (rng.integers(-3, 4, size=m.nnz).astype(t) for m, t in ((a, dtypes[0]), (b, dtypes[1])))
    a = sp.diags((np.arange(60) != 5).astype(dtypes[0]), dtype=dtypes[0]) @ a  # row 5 empty
    # small integers: some products cancel to 0 and are dropped, as by @
    assert a.dtype == dtypes[0] and a.getrow(5).nnz == 0
    assert _same_arrays(csr_product(a, b), a @ b)


def test_empty_shapes():
    for a, b in [(sp.csr_matrix((0, 4)), sp.csr_matrix((4, 3))), (sp.csr_matrix((2, 0)), sp.csr_matrix((0, 3))),
                 (sp.csr_matrix((2, 4)), sp.csr_matrix((4, 0))), (sp.csr_matrix((2, 4)), sp.csr_matrix((4, 3)))]:
        product = csr_product(a, b)
        assert product.shape == (a.shape[0], b.shape[1]) and product.nnz == 0
    with pytest.raises(ValueError, match="dimension mismatch"):
        csr_product(sp.csr_matrix((2, 4)), sp.csr_matrix((3, 3)))


def test_row_bounds_hold_every_entry_and_never_exceed_the_columns():
    a = sp.csr_matrix(np.array([[1, 0, 0], [1, 1, 0], [0, 0, 0], [1, 1, 1]], dtype=np.float64))
    b = sp.csr_matrix(np.array([[1, 0, 0, 0], [0, 1, 1, 0], [1, 1, 1, 1]], dtype=np.float64))
    # multiply-adds per row: 1, 1 + 2, 0, 1 + 2 + 4 (capped at 4 columns)
    assert product_row_bounds(a, np.diff(b.indptr), 4).tolist() == [1, 3, 0, 4]
    rng = np.random.default_rng(7)
    a = sp.random(50, 30, density=0.2, format="csr", random_state=rng)
    b = sp.random(30, 40, density=0.1, format="csr", random_state=rng)
    assert (np.diff((a @ b).indptr) <= product_row_bounds(a, np.diff(b.indptr), 40)).all()


def test_reused_buffers_give_the_same_products_and_must_be_large_enough():
    rng = np.random.default_rng(1)
    b = sp.random(20, 25, density=0.3, format="csr", random_state=rng)
    buffers = (np.empty(500, dtype=np.int32), np.empty(500, dtype=np.float64))
    for _ in range(3):
        a = sp.random(8, 20, density=0.3, format="csr", random_state=rng)
        assert _same_arrays(csr_product(a, b, buffers=buffers), a @ b)
    a = sp.csr_matrix(np.ones((8, 20)))
    with pytest.raises(ValueError, match="buffers"):
        csr_product(a, b, buffers=(np.empty(10, dtype=np.int32), np.empty(10, dtype=np.float64)))
    with pytest.raises(ValueError, match="buffers"):  # values of another dtype than the product's
        csr_product(a, b, buffers=(np.empty(500, dtype=np.int32), np.empty(500, dtype=np.float32)))


def test_without_the_private_kernel_the_product_is_scipys(monkeypatch):
    from ecom_growth.recommend import sparseproduct

    monkeypatch.setattr(sparseproduct, "csr_matmat", None)
    rng = np.random.default_rng(3)
    a = sp.random(10, 8, density=0.3, format="csr", random_state=rng)
    b = sp.random(8, 9, density=0.3, format="csr", random_state=rng)
    assert _same_arrays(csr_product(a, b), a @ b)
