"""Top-N recommendations for every customer, and similar products.

One output row per (customer, rank). For customers in the matrix the model ranks the
catalogue (in batch, inside implicit / scipy, no loop over customers); products the customer
already bought are filtered unless ``filter_purchased=False`` (consumables). Whatever the model
cannot fill (a customer unknown to the model - cold start -, a tiny catalogue, an item-item
model without neighbours for the customer's items) is topped up from popularity: first the
products popular among customers of the same acquisition channel, then global popularity,
never repeating a product and never a product that is filtered. So every customer receives
exactly ``min(n, catalogue size - filtered products)`` rows, where the catalogue is the
products in the interaction matrix (a product nobody interacted with cannot be recommended).

Ties: rows are ordered by score descending then product_id ascending (product index order
equals product_id order, see ``IdMaps``), fallback rows by their popularity the same way.
"""

from __future__ import annotations

import logging

import numpy as np
import polars as pl
import scipy.sparse as sp
from threadpoolctl import threadpool_limits

from ecom_growth.recommend.baselines import CHANNEL_COL, PopularityBy, popularity
from ecom_growth.recommend.matrix import (
    ITEM_COL,
    USER_COL,
    IdMaps,
    indicator_matrix,
    purchased_pairs,
    require_columns,
)
from ecom_growth.recommend.rowtopk import top_k_per_row
from ecom_growth.recommend.sparseproduct import csr_product

log = logging.getLogger(__name__)

RECOMMENDATION_SCHEMA = {
    USER_COL: pl.String,
    "rank": pl.Int32,
    ITEM_COL: pl.String,
    "score": pl.Float64,
    "source": pl.String,
}
SIMILAR_SCHEMA = {
    ITEM_COL: pl.String,
    "rank": pl.Int32,
    "similar_product_id": pl.String,
    "score": pl.Float64,
}
SOURCE_CHANNEL = "popular_in_channel"
SOURCE_GLOBAL = "popular_global"
_INVALID_SCORE = -1e37  # implicit marks filtered / missing slots with -FLT_MAX


def _is_matrix_factorization(model) -> bool:
    return hasattr(model, "item_factors") and hasattr(model, "user_factors")


def _is_item_item(model) -> bool:
    return hasattr(model, "similarity") and getattr(model, "similarity", None) is not None


def _customer_frame(customers: pl.DataFrame | None, maps: IdMaps) -> pl.DataFrame:
    """customer_id, acquisition_channel (nullable), user_idx (null = not in the matrix)."""
    if customers is None:
        frame = pl.DataFrame({USER_COL: maps.user_ids}).with_columns(
            pl.lit(None, pl.String).alias(CHANNEL_COL)
        )
    else:
        require_columns(customers, (USER_COL,), "customers")
        ids = customers.get_column(USER_COL)
        if ids.null_count():
            raise ValueError(f"customers.customer_id has {ids.null_count()} null value(s)")
        channel = (
            pl.col(CHANNEL_COL).cast(pl.String)
            if CHANNEL_COL in customers.columns
            else pl.lit(None, pl.String).alias(CHANNEL_COL)
        )
        frame = customers.select(pl.col(USER_COL).cast(pl.String), channel)
        if frame.get_column(USER_COL).is_duplicated().any():
            raise ValueError("customers.customer_id must be unique")
    return frame.with_columns(user_idx=maps.user_index(frame.get_column(USER_COL)))


def _empty_scores() -> pl.DataFrame:
    return pl.DataFrame(
        schema={"user_idx": pl.Int32, "item_idx": pl.Int32, "score": pl.Float64, "position": pl.Int64}
    )


def _fix_ties(ids: np.ndarray, scores: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Rows come sorted by score desc; make equal scores ascend by item index (= product_id)."""
    if ids.shape[1] < 2:
        return ids, scores
    misordered = (scores[:, 1:] == scores[:, :-1]) & (ids[:, 1:] < ids[:, :-1])
    rows = np.flatnonzero(misordered.any(axis=1))
    if rows.size:  # only rows with exact float ties (rare): re-sort them all at once
        sub_ids, sub_scores = ids[rows], scores[rows]
        row_key = np.broadcast_to(np.arange(rows.size)[:, None], sub_ids.shape).ravel()
        order = np.lexsort((sub_ids.ravel(), -sub_scores.astype(np.float64).ravel(), row_key))
        ids[rows] = sub_ids.ravel()[order].reshape(sub_ids.shape)
        scores[rows] = sub_scores.ravel()[order].reshape(sub_scores.shape)
    return ids, scores


# exact top-k on the largest-norm items first (``_norm_pruned_topk``): how many, and how far
# above the Cauchy-Schwarz bound a k-th score must be to count as safe (float32 dot products of
# 16-64 terms round by far less than 1e-4 relative)
_HEAD_ITEMS = 4096
_BOUND_MARGIN = 1e-4


def _norm_pruned_topk(
    items: np.ndarray, users: np.ndarray, k: int, threads: int, head_items: int = _HEAD_ITEMS
) -> tuple[np.ndarray, np.ndarray]:
    """Same result as implicit's ``topk(items, users, k)``, most of it computed on a tenth of the
    catalogue. ``u.v <= |u| |v|``: score every user against the ``_HEAD_ITEMS`` items of largest
    norm (``head_items``, kept in index order) and keep that answer for users whose k-th best head score beats
    ``|u|`` times the largest norm outside the head (with a margin for rounding); only the other
    users are scored against every item. The head scores are the same dot products as the full
    ones, so the ids are the same and the scores equal up to BLAS rounding (the head is a gemm of
    another shape, which some CPUs' kernels round 1-2 float32 ulps differently: seen on AMD
    EPYC, not on Intel); at 1M customers x 50k products the brute-force scoring was most of
    ml_recommendations' CPU. Either way the same input gives the same output on one machine."""
    from implicit.cpu.topk import topk

    n_items = items.shape[0]
    if n_items <= 4 * head_items or users.shape[0] == 0 or k > head_items:
        return topk(items, users, k, num_threads=threads)
    norms = np.linalg.norm(items.astype(np.float64), axis=1)
    order = np.argsort(-norms, kind="stable")
    head = np.sort(order[:head_items]).astype(np.int32)
    tail_bound = norms[order[head_items]] * (1.0 + _BOUND_MARGIN)
    ids, scores = topk(np.ascontiguousarray(items[head]), users, k, num_threads=threads)
    ids = head[ids]
    user_norms = np.linalg.norm(users.astype(np.float64), axis=1)
    unsafe = np.flatnonzero(~(scores[:, -1].astype(np.float64) > user_norms * tail_bound + 1e-30))
    if unsafe.size:
        full_ids, full_scores = topk(items, np.ascontiguousarray(users[unsafe]), k, num_threads=threads)
        ids[unsafe], scores[unsafe] = full_ids, full_scores
    log.info("top-%d: %d of %d users settled on the %d largest-norm items", k, users.shape[0] - unsafe.size,
             users.shape[0], head_items)
    return ids, scores


def factor_top_n(
    model, user_idx: np.ndarray, n: int, filter_matrix: sp.csr_matrix | None
) -> tuple[np.ndarray, np.ndarray]:
    """Best ``n`` items per user from a factor model, skipping each user's filtered items.

    Same result as ``model.recommend(user_idx, filter_matrix[user_idx], N=n)``, computed
    faster: implicit's own filtering walks the users one by one in Python (a scipy row slice
    per user, under the GIL), which dominated the run time on a million users. Here users are
    grouped by how many items they have filtered (powers of two: a dozen groups at most),
    each group asks implicit's C top-k kernel for ``n + group size`` items without a filter,
    and the filtered ones are dropped with one vectorised sorted-key lookup.
    Returns (ids, scores) of shape (users, n'), n' = min(n, items); empty slots hold id -1 and
    score -FLT_MAX, like implicit.
    """
    items = np.ascontiguousarray(model.item_factors)
    n_items = items.shape[0]
    top = min(n, n_items)
    users = np.ascontiguousarray(model.user_factors[user_idx])
    threads = getattr(model, "num_threads", 0)
    if filter_matrix is None:
        return _norm_pruned_topk(items, users, top, threads)
    blocked = filter_matrix[user_idx].tocsr()
    blocked.sort_indices()
    n_blocked = np.diff(blocked.indptr)
    group = np.ceil(np.log2(n_blocked + 1)).astype(np.int64)  # 0, 1, 2, 3-4 -> 2, ...
    out_ids = np.full((user_idx.size, top), -1, dtype=np.int32)
    out_scores = np.full((user_idx.size, top), -np.finfo(np.float32).max, dtype=np.float32)
    for g in np.unique(group):  # a dozen groups at most, not a loop over users
        rows = np.flatnonzero(group == g)
        k = int(min(top + 2**g - 1, n_items))
        ids, scores = _norm_pruned_topk(items, np.ascontiguousarray(users[rows]), k, threads)
        is_blocked = _pairs_in(blocked[rows], np.arange(rows.size, dtype=np.int64)[:, None], ids)
        valid = ~is_blocked & (scores > _INVALID_SCORE)
        slot = np.cumsum(valid, axis=1) - 1
        keep = valid & (slot < top)
        r, c = np.nonzero(keep)
        out_ids[rows[r], slot[r, c]] = ids[r, c]
        out_scores[rows[r], slot[r, c]] = scores[r, c]
    return out_ids, out_scores


def _pairs_in(csr: sp.csr_matrix, rows: np.ndarray, items: np.ndarray) -> np.ndarray:
    """Whether each (rows[i], items[i]) is a stored entry of ``csr`` (rows and items broadcast
    together; any shape): one vectorised sorted-key lookup (key = row * n_columns + column)
    instead of a scipy lookup per pair."""
    rows, items = np.broadcast_arrays(np.asarray(rows, dtype=np.int64), np.asarray(items, dtype=np.int64))
    if csr.nnz == 0:
        return np.zeros(rows.shape, dtype=bool)
    csr = csr.tocsr()  # a copy only when not CSR already
    if not csr.has_sorted_indices:
        csr = csr.copy()
        csr.sort_indices()  # row-major keys with sorted columns are sorted: no np.sort
    n_columns = csr.shape[1]
    keys = np.repeat(np.arange(csr.shape[0], dtype=np.int64), np.diff(csr.indptr)) * n_columns + csr.indices
    wanted = rows * n_columns + items
    at = np.minimum(np.searchsorted(keys, wanted), keys.size - 1)
    return keys[at] == wanted


def model_scores(
    model,
    matrix: sp.csr_matrix,
    user_idx: np.ndarray,
    *,
    n: int,
    filter_matrix: sp.csr_matrix | None,
) -> pl.DataFrame:
    """Long frame (user_idx, item_idx, score, position) of each user's best <= n unfiltered
    items, position 0 = best.

    Matrix factorisation models (ALS) rank with implicit's C top-k kernel (``factor_top_n``);
    item-item models (CosineRecommender) score ``user_items @ similarity`` as one sparse
    product (implicit's own item-item ``recommend`` loops over users in Python).
    """
    n_items = matrix.shape[1]
    user_idx = np.asarray(user_idx, dtype=np.int32)
    if n <= 0 or n_items == 0 or user_idx.size == 0:
        return _empty_scores()
    if _is_matrix_factorization(model):
        if model.item_factors.shape[0] != n_items or model.user_factors.shape[0] != matrix.shape[0]:
            raise ValueError(
                "model factors do not match the matrix: "
                f"{model.user_factors.shape[0]}x{model.item_factors.shape[0]} vs {matrix.shape}"
            )
        with threadpool_limits(1, "blas"):
            ids, scores = factor_top_n(model, user_idx, n, filter_matrix)
        ids, scores = _fix_ties(np.asarray(ids).copy(), np.asarray(scores).copy())
        valid = scores > _INVALID_SCORE  # valid slots are a prefix of each row
        users = np.broadcast_to(user_idx[:, None], ids.shape)
        positions = np.broadcast_to(np.arange(ids.shape[1], dtype=np.int64)[None, :], ids.shape)
        return pl.DataFrame(
            {
                "user_idx": users[valid].astype(np.int32),
                "item_idx": ids[valid].astype(np.int32),
                "score": scores[valid].astype(np.float64),
                "position": positions[valid],
            }
        )
    if _is_item_item(model):
        sim = model.similarity
        if sim.shape != (n_items, n_items):
            raise ValueError(f"model similarity is {sim.shape}, matrix has {n_items} items")
        # one sparse product per block of users: all at once holds users x reachable items
        # (billions of entries at 500k customers with 200 neighbours); each user is in one block
        blocks = [
            _item_item_block(matrix, sim, user_idx[start:start + _ITEM_ITEM_BLOCK_USERS], n=n, filter_matrix=filter_matrix)
            for start in range(0, user_idx.size, _ITEM_ITEM_BLOCK_USERS)
        ]
        return pl.concat(blocks).sort(["user_idx", "score", "item_idx"], descending=[False, True, False])
    raise TypeError(
        f"unsupported model {type(model).__name__}: need an implicit matrix factorisation "
        "model (user_factors/item_factors) or an item-item model (similarity), or None"
    )


# users per sparse product: a block holds users x reachable items (thousands each with 200
# neighbours), ~300 MB at this size
_ITEM_ITEM_BLOCK_USERS = 4_096


def _item_item_block(
    matrix: sp.csr_matrix, sim: sp.csr_matrix, user_idx: np.ndarray, *, n: int, filter_matrix: sp.csr_matrix | None,
) -> pl.DataFrame:
    """Top ``n`` of ``user_items @ similarity`` for one block of distinct users (see
    model_scores): score > 0 only (0 = no neighbour evidence: left to the fallback), filtered
    items removed, ties to the lower item index. Each user's n best are selected in the sparse
    scores (``rowtopk``), so only n rows per user are ever sorted.

    The filter is applied after a first selection, not to every score: a user's n best
    unfiltered items are among the ``n + f`` best of all (``f`` = the user's filtered items), so
    only those candidates are looked up (removing the filtered items from the whole score matrix
    was a third of the scoring at 1M customers)."""
    scores = csr_product(matrix[user_idx], sim)  # = matrix[user_idx] @ sim (sparseproduct)
    scores.data[~(scores.data > 0)] = 0.0  # non-positive (and NaN) scores rank last and are dropped below
    seen = None if filter_matrix is None else sp.csr_matrix(filter_matrix[user_idx])
    room = n if seen is None else n + np.diff(seen.indptr)
    top = np.flatnonzero(top_k_per_row(scores.indptr, scores.indices, scores.data, room))
    rows = np.searchsorted(scores.indptr, top, side="right") - 1
    items = scores.indices[top].astype(np.int64)
    keep = scores.data[top] > 0
    if seen is not None:
        keep &= ~_pairs_in(seen, rows, items)
    top, rows, items = top[keep], rows[keep], items[keep]
    best = top_k_per_row(np.searchsorted(rows, np.arange(len(user_idx) + 1)), items, scores.data[top], n)
    return (
        pl.DataFrame(
            {
                "user_idx": np.asarray(user_idx, dtype=np.int32)[rows[best]],
                "item_idx": items[best].astype(np.int32),
                "score": scores.data[top[best]].astype(np.float64),
            }
        )
        .sort(["user_idx", "score", "item_idx"], descending=[False, True, False])
        .with_columns(position=pl.int_range(pl.len()).over("user_idx").cast(pl.Int64))
        .filter(pl.col("position") < n)  # a user listed twice is still one list of n
    )


def _fallback_lists(
    interactions: pl.DataFrame,
    customers: pl.DataFrame,
    maps: IdMaps,
    *,
    by: PopularityBy,
    channels_needed: pl.Series,
    length: int,
) -> pl.DataFrame:
    """Ranked fallback lists: list_key (channel, null = global), position, product_id, score, source.

    Each channel's list is its own popular products followed by the rest of the global list,
    truncated to ``length`` (enough for every customer that needs topping up).
    """
    schema = {
        CHANNEL_COL: pl.String,
        "position": pl.Int64,
        ITEM_COL: pl.String,
        "score": pl.Float64,
        "source": pl.String,
    }
    pop = popularity(interactions, by=by, channels=customers)
    catalogue = pl.DataFrame({ITEM_COL: maps.item_ids})
    global_list = (
        catalogue.join(
            pop.filter(pl.col(CHANNEL_COL).is_null()).select(ITEM_COL, "popularity"),
            on=ITEM_COL,
            how="left",
        )
        .with_columns(pl.col("popularity").fill_null(0.0))
        .sort(["popularity", ITEM_COL], descending=[True, False])
        .head(length)
        .with_row_index("position")
        .select(
            pl.lit(None, pl.String).alias(CHANNEL_COL),
            pl.col("position").cast(pl.Int64),
            ITEM_COL,
            pl.col("popularity").alias("score"),
            pl.lit(SOURCE_GLOBAL).alias("source"),
        )
    )
    channel_head = (
        pop.filter(pl.col(CHANNEL_COL).is_in(channels_needed.implode()))
        .join(catalogue, on=ITEM_COL, how="semi")
        .sort([CHANNEL_COL, "popularity", ITEM_COL], descending=[False, True, False])
        .with_columns(position=pl.int_range(pl.len()).over(CHANNEL_COL).cast(pl.Int64))
        .filter(pl.col("position") < length)
        .select(
            CHANNEL_COL,
            "position",
            ITEM_COL,
            pl.col("popularity").alias("score"),
            pl.lit(SOURCE_CHANNEL).alias("source"),
        )
    )
    head_len = channel_head.group_by(CHANNEL_COL).agg(pl.len().cast(pl.Int64).alias("head_len"))
    channel_tail = (
        head_len.join(global_list.drop(CHANNEL_COL), how="cross")
        .join(channel_head.select(CHANNEL_COL, ITEM_COL), on=[CHANNEL_COL, ITEM_COL], how="anti")
        .sort([CHANNEL_COL, "position"])
        .with_columns(
            position=pl.col("head_len") + pl.int_range(pl.len()).over(CHANNEL_COL).cast(pl.Int64)
        )
        .filter(pl.col("position") < length)
        .select(list(schema))
    )
    return pl.concat([global_list, channel_head, channel_tail]).cast(schema)


def rows_needed(customers: pl.DataFrame, scored: pl.DataFrame, n: int) -> pl.DataFrame:
    """Customers (customer_id, channel, user_idx) whose model list (``scored``: user_idx, one row
    per item) is shorter than ``n``: customer_id, channel, need (rows to top up), n_model."""
    counts = scored.group_by("user_idx").agg(pl.len().cast(pl.Int64).alias("n_model"))
    return (
        customers.join(counts, on="user_idx", how="left")
        .with_columns(need=pl.lit(n, pl.Int64) - pl.col("n_model").fill_null(0))
        .filter(pl.col("need") > 0)
        .select(USER_COL, CHANNEL_COL, "need", "n_model")
    )


def recommend_top_n(
    model,
    matrix: sp.csr_matrix,
    maps: IdMaps,
    customers: pl.DataFrame | None = None,
    *,
    interactions: pl.DataFrame | pl.LazyFrame,
    n: int = 10,
    filter_purchased: bool = True,
    purchased: pl.DataFrame | pl.LazyFrame | None = None,
    popularity_by: PopularityBy = "purchasers",
    source: str = "als",
    channels: pl.DataFrame | None = None,
    filter_matrix: sp.csr_matrix | None = None,
) -> pl.DataFrame:
    """Top-``n`` products for every customer in ``customers``.

    Arguments:
        model: a fitted implicit ALS model (``fit_als``), an item-item model
            (``fit_item_cosine``), or None for pure popularity (the most-popular baseline).
        matrix, maps: what the model was fitted on (``interaction_matrix``); the matrix's
            products are the catalogue.
        customers: customer_id and optionally acquisition_channel: everyone who must receive
            recommendations (None = every customer in the matrix, no channel).
        interactions: the frame the matrix was built from; gives popularity (for cold start
            and top-up) and, unless ``purchased`` is given, the purchased pairs to filter
            (``purchase_count > 0``, or every row when there is no purchase_count).
        filter_purchased: drop products the customer already bought (False: allow repurchase,
            e.g. consumables).
        source: label of model rows (``"als"``, ``"item_knn"``, ...).
        channels: customer_id, acquisition_channel of the customers whose purchases make up
            the channel popularity (None = ``customers``; pass every customer when
            ``customers`` holds only a few, e.g. the cold-start users of an evaluation).
        filter_matrix: the purchased pairs as a users x items indicator in ``maps``' index space
            (``indicator_matrix(purchased pairs, maps)``), when the caller has it already.
            ``interactions`` and ``purchased`` may then be LazyFrames: they are collected only
            when some customer needs a popularity top-up (at 1M customers nobody usually does,
            and the string frames are the biggest part of the memory).

    Returns columns customer_id, rank (1..), product_id, score, source, sorted by customer_id
    and rank. ``score`` is the model score for model rows and the popularity (distinct
    purchasers or total strength, in the channel or globally, see ``source``) for fallback
    rows: the two scales are not comparable.
    """
    if isinstance(n, bool) or not isinstance(n, int | np.integer) or n < 0:
        raise ValueError(f"n must be a non-negative integer, got {n!r}")
    require_columns(_header(interactions), (USER_COL, ITEM_COL), "interactions")
    if matrix.shape != (maps.n_users, maps.n_items):
        raise ValueError(f"matrix shape {matrix.shape} does not match maps {maps.n_users}x{maps.n_items}")
    if filter_matrix is not None and filter_matrix.shape != matrix.shape:
        raise ValueError(f"filter_matrix shape {filter_matrix.shape} does not match the matrix {matrix.shape}")
    cust = _customer_frame(customers, maps)

    def bought() -> pl.DataFrame:  # the purchased pairs as strings; only built when needed
        if purchased is None:
            return purchased_pairs(_collected(interactions))
        require_columns(_header(purchased), (USER_COL, ITEM_COL), "purchased")
        return _collected(purchased.select(pl.col(USER_COL).cast(pl.String), pl.col(ITEM_COL).cast(pl.String)))

    # 1. model rows for customers the model knows
    known = cust.filter(pl.col("user_idx").is_not_null()).sort("user_idx")  # = customer_id order
    if model is not None and known.height and maps.n_items and n:
        if not filter_purchased:
            filter_matrix = None
        elif filter_matrix is None:
            filter_matrix = indicator_matrix(bought(), maps)
        scored = model_scores(
            model, matrix, known.get_column("user_idx").to_numpy(), n=n, filter_matrix=filter_matrix
        )
    else:
        scored = _empty_scores()
    model_rows = pl.DataFrame(
        {
            USER_COL: maps.user_id(scored.get_column("user_idx")),
            ITEM_COL: maps.item_id(scored.get_column("item_idx")),
            "score": scored.get_column("score"),
            "source": pl.Series([source], dtype=pl.String).new_from_index(0, scored.height),
            "position": scored.get_column("position"),
        },
        schema={USER_COL: pl.String, ITEM_COL: pl.String, "score": pl.Float64, "source": pl.String,
                "position": pl.Int64},
    )

    # 2. how many rows each customer still needs, and what they must not receive
    needing = rows_needed(cust, scored, n)
    topup = pl.DataFrame(schema={USER_COL: pl.String, ITEM_COL: pl.String, "score": pl.Float64,
                                 "source": pl.String, "position": pl.Int64})
    if needing.height and maps.n_items:
        excluded = [model_rows.select(USER_COL, ITEM_COL).join(needing.select(USER_COL), on=USER_COL, how="semi")]
        if filter_purchased:
            excluded.append(bought())
        excluded = (
            pl.concat(excluded)
            .join(needing.select(USER_COL), on=USER_COL, how="semi")
            .join(pl.DataFrame({ITEM_COL: maps.item_ids}), on=ITEM_COL, how="semi")
            .unique()
        )
        n_excluded = excluded.group_by(USER_COL).agg(pl.len().cast(pl.Int64).alias("n_excluded"))
        needing = needing.join(n_excluded, on=USER_COL, how="left").with_columns(
            span=pl.min_horizontal(
                pl.col("need") + pl.col("n_excluded").fill_null(0), pl.lit(maps.n_items, pl.Int64)
            )
        )
        lists = _fallback_lists(
            _collected(interactions),
            cust if channels is None else channels,
            maps,
            by=popularity_by,
            channels_needed=needing.get_column(CHANNEL_COL).drop_nulls().unique(),
            length=int(needing.get_column("span").max()),
        )
        channels_with_list = lists.get_column(CHANNEL_COL).drop_nulls().unique()
        topup = (
            needing.with_columns(
                pl.when(pl.col(CHANNEL_COL).is_in(channels_with_list.implode()))
                .then(pl.col(CHANNEL_COL))
                .otherwise(None)
                .alias("list_key"),
                position=pl.int_ranges(0, pl.col("span"), dtype=pl.Int64),
            )
            .explode("position")
            .drop_nulls("position")
            .join(
                lists.rename({CHANNEL_COL: "list_key"}),
                on=["list_key", "position"],
                how="inner",
                nulls_equal=True,
            )
            .join(excluded, on=[USER_COL, ITEM_COL], how="anti")
            .sort([USER_COL, "position"])
            .filter(pl.int_range(pl.len()).over(USER_COL) < pl.col("need"))
            .with_columns(
                position=pl.col("n_model").fill_null(0)
                + pl.int_range(pl.len()).over(USER_COL).cast(pl.Int64)
            )
            .select(USER_COL, ITEM_COL, "score", "source", "position")
        )

    # model rows are already in (customer_id, position) order; only a top-up needs a re-sort
    combined = pl.concat([model_rows, topup]).sort([USER_COL, "position"]) if topup.height else model_rows
    out = (
        combined.select(
            USER_COL,
            (pl.col("position") + 1).cast(pl.Int32).alias("rank"),
            ITEM_COL,
            "score",
            "source",
        )
    )
    log.info(
        "recommendations: %d customers, %d rows (%d from the model, %d from popularity)",
        cust.height,
        out.height,
        model_rows.height,
        topup.height,
    )
    return out.cast(RECOMMENDATION_SCHEMA)


def _header(frame: pl.DataFrame | pl.LazyFrame) -> pl.DataFrame:
    """An empty frame with ``frame``'s columns (a LazyFrame's schema without collecting it)."""
    return pl.DataFrame(schema=frame.collect_schema())


def _collected(frame: pl.DataFrame | pl.LazyFrame) -> pl.DataFrame:
    return frame.collect() if isinstance(frame, pl.LazyFrame) else frame


def similar_products(model, maps: IdMaps, *, n: int = 10) -> pl.DataFrame:
    """For every product in the model, the ``n`` products with the most similar ALS item
    factors (cosine), excluding the product itself.

    Returns product_id, rank (1..n), similar_product_id, score (cosine in [-1, 1]). Products
    nobody interacted with have no factors, so they appear on neither side.
    """
    if isinstance(n, bool) or not isinstance(n, int | np.integer) or n < 0:
        raise ValueError(f"n must be a non-negative integer, got {n!r}")
    if not _is_matrix_factorization(model):
        raise TypeError("similar_products needs a matrix factorisation model (item_factors)")
    n_items = maps.n_items
    if model.item_factors.shape[0] != n_items:
        raise ValueError(
            f"model has {model.item_factors.shape[0]} item factors, maps has {n_items} products"
        )
    if n == 0 or n_items < 2:
        return pl.DataFrame(schema=SIMILAR_SCHEMA)
    top = min(n + 1, n_items)
    items = np.arange(n_items, dtype=np.int32)
    with threadpool_limits(1, "blas"):
        ids, scores = model.similar_items(items, N=top)
    ids, scores = _fix_ties(np.asarray(ids).copy(), np.asarray(scores).copy())
    keep = (ids != items[:, None]) & (scores > _INVALID_SCORE)
    keep &= np.cumsum(keep, axis=1) <= n
    rank = np.cumsum(keep, axis=1)
    source = np.broadcast_to(items[:, None], ids.shape)
    return pl.DataFrame(
        {
            ITEM_COL: maps.item_id(source[keep]),
            "rank": rank[keep].astype(np.int32),
            "similar_product_id": maps.item_id(ids[keep]),
            "score": scores[keep].astype(np.float64),
        },
        schema=SIMILAR_SCHEMA,
    )
