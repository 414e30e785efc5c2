"""Id mapping and the sparse users x items confidence matrix.

Ids are mapped to dense indices here and nowhere else, so every consumer (fit, evaluation,
recommendation, similar products) agrees on them. Both id lists are the *sorted* unique ids,
which makes the mapping a pure function of the set of ids (same input, same indices) and lets
"product index ascending" double as "product_id ascending" when breaking ties.

Confidence follows Hu, Koren & Volinsky (2008), in the convention of ``implicit``: the matrix
holds the confidence ``c_ui`` of every observed pair (implicit's ALS treats a stored value
``c > 0`` as preference 1 with confidence ``c`` and every unstored pair as preference 0 with
confidence 1). Every weighting below is ``c = 1 + alpha * f(strength)`` with ``f >= 0``, so an
observed pair is never trusted less than an unobserved one.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Literal

import numpy as np
import polars as pl
import scipy.sparse as sp

log = logging.getLogger(__name__)

Weighting = Literal["bm25", "alpha", "log"]
WEIGHTINGS: tuple[str, ...] = ("bm25", "alpha", "log")

USER_COL = "customer_id"
ITEM_COL = "product_id"


def require_columns(frame: pl.DataFrame, columns: tuple[str, ...] | list[str], name: str) -> None:
    """Raise a ValueError naming the missing columns (instead of a polars error later on)."""
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise ValueError(f"{name} is missing column(s) {missing}; it has {frame.columns}")


def as_ids(ids: pl.Series) -> pl.Series:
    """Ids as String, except integer ids, which stay integers: the evaluation codes its ids as
    integers whose order is the ids' order (``evaluation``), so every sort and tie-break on
    them agrees with the same sort on the original ids."""
    return ids if ids.dtype.is_integer() else ids.cast(pl.String)


def id_pairs(frame: pl.DataFrame) -> pl.DataFrame:
    """(customer_id, product_id) of ``frame`` through :func:`as_ids`."""
    return pl.DataFrame([as_ids(frame.get_column(USER_COL)), as_ids(frame.get_column(ITEM_COL))])


def id_column(frame: pl.DataFrame, column: str, name: str) -> pl.Series:
    """An id column as String (integer codes as they are, see :func:`as_ids`), refusing nulls
    (a null key cannot be mapped to an index)."""
    series = frame.get_column(column)
    if series.null_count():
        raise ValueError(f"{name}.{column} has {series.null_count()} null value(s)")
    return as_ids(series)


@dataclass(frozen=True)
class IdMaps:
    """Dense index <-> id for users (customer_id) and items (product_id).

    ``user_ids[i]`` is the customer_id of matrix row ``i``; ``item_ids[j]`` the product_id of
    column ``j``. Both are sorted ascending and unique.
    """

    user_ids: pl.Series
    item_ids: pl.Series

    @classmethod
    def from_ids(cls, user_ids: pl.Series, item_ids: pl.Series) -> IdMaps:
        """Build maps from any id columns (duplicates allowed; nulls are not)."""
        users = as_ids(user_ids).unique().sort().rename(USER_COL)
        items = as_ids(item_ids).unique().sort().rename(ITEM_COL)
        if users.null_count() or items.null_count():
            raise ValueError("ids must not be null")
        return cls(user_ids=users, item_ids=items)

    @property
    def n_users(self) -> int:
        return self.user_ids.len()

    @property
    def n_items(self) -> int:
        return self.item_ids.len()

    def user_index(self, ids: pl.Series) -> pl.Series:
        """Row index of each customer_id (Int32, null where the id is unknown), input order."""
        return _encode(ids, self.user_ids)

    def item_index(self, ids: pl.Series) -> pl.Series:
        """Column index of each product_id (Int32, null where the id is unknown), input order."""
        return _encode(ids, self.item_ids)

    def user_id(self, index: np.ndarray | pl.Series) -> pl.Series:
        """customer_id of each row index."""
        return self.user_ids.gather(_as_indices(index)).rename(USER_COL)

    def item_id(self, index: np.ndarray | pl.Series) -> pl.Series:
        """product_id of each column index."""
        return self.item_ids.gather(_as_indices(index)).rename(ITEM_COL)

    def encode_pairs(self, pairs: pl.DataFrame) -> pl.DataFrame:
        """(customer_id, product_id, ...) -> same frame plus user_idx, item_idx; unknown ids dropped."""
        return (
            pairs.with_columns(
                user_idx=self.user_index(pairs.get_column(USER_COL)),
                item_idx=self.item_index(pairs.get_column(ITEM_COL)),
            )
            .drop_nulls(["user_idx", "item_idx"])
        )


def _as_indices(index: np.ndarray | pl.Series) -> pl.Series:
    if isinstance(index, pl.Series):
        return index
    return pl.Series(np.asarray(index, dtype=np.int64))


def _encode(ids: pl.Series, sorted_ids: pl.Series) -> pl.Series:
    """Map ids to positions in ``sorted_ids`` with a hash join (fast on millions of strings)."""
    lookup = pl.DataFrame(
        {"_id": sorted_ids, "_idx": pl.int_range(0, sorted_ids.len(), dtype=pl.Int32, eager=True)}
    )
    return (
        pl.DataFrame({"_id": as_ids(ids)})
        .join(lookup, on="_id", how="left", maintain_order="left")
        .get_column("_idx")
    )


def confidence(
    matrix: sp.csr_matrix,
    *,
    weighting: Weighting = "bm25",
    alpha: float = 1.0,
    log_eps: float = 1.0,
    bm25_k1: float = 100.0,
    bm25_b: float = 0.8,
) -> sp.csr_matrix:
    """Turn a users x items strength matrix into confidences ``1 + alpha * f(strength)``.

    * ``"alpha"``: ``f(s) = s`` (Hu et al.'s linear scaling).
    * ``"log"``:   ``f(s) = log(1 + s / log_eps)`` (Hu et al.'s log scaling: damps heavy repeats).
    * ``"bm25"``:  ``f = implicit.nearest_neighbours.bm25_weight`` applied to the items x users
      matrix, as in implicit's own examples: the term frequency is the strength, each user's
      weight is damped by how many items they touched (idf over users) and each item's by its
      total strength relative to the average (length norm), so bulk buyers and blockbusters do
      not dominate the factors. BM25's idf can go negative for a user who touched (almost) every
      item; such weights are clipped to 0, i.e. confidence 1.
    """
    if weighting not in WEIGHTINGS:
        raise ValueError(f"weighting must be one of {WEIGHTINGS}, got {weighting!r}")
    if not np.isfinite(alpha) or alpha <= 0:
        raise ValueError(f"alpha must be a positive number, got {alpha}")
    out = matrix.tocsr().astype(np.float32, copy=True)
    if out.nnz == 0:
        return out
    if weighting == "alpha":
        f = out.data.astype(np.float64)
    elif weighting == "log":
        if log_eps <= 0:
            raise ValueError(f"log_eps must be positive, got {log_eps}")
        f = np.log1p(out.data.astype(np.float64) / log_eps)
    else:
        from implicit.nearest_neighbours import bm25_weight

        if bm25_k1 < 0 or not 0 <= bm25_b <= 1:
            raise ValueError(f"need bm25_k1 >= 0 and 0 <= bm25_b <= 1, got {bm25_k1}, {bm25_b}")
        # bm25_weight expects documents (items) as rows and terms (users) as columns; transpose
        # there and back. Its COO output keeps CSR order, so data lines up with out.data after
        # converting back (checked below by shape + nnz, and by the tests).
        weighted = bm25_weight(out.T.tocsr().astype(np.float64), K1=bm25_k1, B=bm25_b)
        weighted = weighted.T.tocsr()
        weighted.sort_indices()
        out.sort_indices()
        if weighted.nnz != out.nnz:
            raise AssertionError("bm25_weight changed the sparsity pattern")
        f = np.maximum(weighted.data, 0.0)
    out.data = (1.0 + alpha * f).astype(np.float32)
    return out


def interaction_matrix(
    interactions: pl.DataFrame,
    *,
    weighting: Weighting = "bm25",
    alpha: float = 1.0,
    log_eps: float = 1.0,
    bm25_k1: float = 100.0,
    bm25_b: float = 0.8,
    strength_col: str = "strength",
) -> tuple[sp.csr_matrix, IdMaps]:
    """Users x items CSR (float32) of confidence built from implicit-feedback strength.

    ``interactions`` has one row per (customer_id, product_id) with ``strength > 0`` (already
    weighted and time-decayed in SQL); other columns are ignored. Duplicate pairs are summed.
    Ids are cast to String and mapped through sorted unique ids (see :class:`IdMaps`), so the
    same interactions always give the same matrix. No dense matrix and no Python loop over rows.
    See :func:`confidence` for the weightings.
    """
    raw, maps = strength_matrix(interactions, strength_col=strength_col)
    matrix = confidence(
        raw, weighting=weighting, alpha=alpha, log_eps=log_eps, bm25_k1=bm25_k1, bm25_b=bm25_b
    )
    log.info(
        "interaction matrix: %d users x %d items, %d nonzeros, weighting=%s",
        maps.n_users,
        maps.n_items,
        matrix.nnz,
        weighting,
    )
    return matrix, maps


def strength_matrix(interactions: pl.DataFrame, *, strength_col: str = "strength") -> tuple[sp.csr_matrix, IdMaps]:
    """Users x items CSR (float32) of the raw strength, before any confidence weighting, and its
    id maps: the part of :func:`interaction_matrix` every weighting shares (the id mapping is
    most of its cost on millions of rows, so several weightings of one frame build it once).
    Duplicate pairs are summed; strengths must be finite and > 0."""
    require_columns(interactions, (USER_COL, ITEM_COL, strength_col), "interactions")
    users = id_column(interactions, USER_COL, "interactions")
    items = id_column(interactions, ITEM_COL, "interactions")
    strength = interactions.get_column(strength_col).cast(pl.Float64)
    if strength.len():
        if strength.null_count():
            raise ValueError(f"interactions.{strength_col} has {strength.null_count()} null(s)")
        values = strength.to_numpy()
        bad = ~np.isfinite(values) | (values <= 0)
        if bad.any():
            raise ValueError(
                f"interactions.{strength_col} must be finite and > 0; {int(bad.sum())} row(s) are not"
            )
    maps = IdMaps.from_ids(users, items)
    rows = maps.user_index(users).to_numpy()
    cols = maps.item_index(items).to_numpy()
    raw = sp.coo_matrix(
        (strength.to_numpy().astype(np.float32), (rows, cols)), shape=(maps.n_users, maps.n_items)
    ).tocsr()  # tocsr sums duplicate pairs
    raw.sum_duplicates()
    return raw, maps


def strength_column(half_life_days: int) -> str:
    """Name of the interactions column decayed with this half-life (macro user_item_interactions)."""
    return f"strength_half_life_{int(half_life_days)}d"


def with_half_life(interactions: pl.DataFrame, half_life_days: int | None) -> pl.DataFrame:
    """``interactions`` with ``strength`` taken from the column of this half-life (None: the
    ``strength`` column as it is).

    Rows whose strength at that half-life is 0 (signals too old to register at 18 decimals)
    are left out: they carry no evidence for the model. Purchase filtering does not depend on
    them (it reads purchase_count).
    """
    if half_life_days is not None:
        column = strength_column(half_life_days)
        require_columns(interactions, (column,), "interactions")
        interactions = interactions.with_columns(pl.col(column).alias("strength"))
    require_columns(interactions, ("strength",), "interactions")
    if interactions.get_column("strength").gt(0).all():  # nothing to drop: no copy of millions of rows
        return interactions
    return interactions.filter(pl.col("strength") > 0)


def indicator_matrix(pairs: pl.DataFrame, maps: IdMaps) -> sp.csr_matrix:
    """Binary users x items CSR of (customer_id, product_id) pairs in ``maps``' index space.

    Used for "already purchased" filters. Pairs whose customer or product is not in ``maps``
    are dropped: they cannot be recommended anyway.
    """
    require_columns(pairs, (USER_COL, ITEM_COL), "pairs")
    encoded = maps.encode_pairs(pairs.select(USER_COL, ITEM_COL)).unique(["user_idx", "item_idx"])
    data = np.ones(encoded.height, dtype=np.float32)
    matrix = sp.csr_matrix(
        (data, (encoded.get_column("user_idx").to_numpy(), encoded.get_column("item_idx").to_numpy())),
        shape=(maps.n_users, maps.n_items),
        dtype=np.float32,
    )
    matrix.sort_indices()
    return matrix


def purchased_pairs(interactions: pl.DataFrame) -> pl.DataFrame:
    """Distinct (customer_id, product_id) the customer bought: ``purchase_count > 0`` if that
    column exists, else every interaction row (interactions built from purchases only)."""
    require_columns(interactions, (USER_COL, ITEM_COL), "interactions")
    frame = interactions
    if "purchase_count" in frame.columns:
        frame = frame.filter(pl.col("purchase_count").fill_null(0) > 0)
    return id_pairs(frame).unique(maintain_order=True)
