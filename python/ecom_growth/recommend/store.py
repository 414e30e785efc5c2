"""The final ALS model as warehouse tables: fitted once per build, read by every consumer.

* ``item_factor_table`` fits ALS on all interactions up to as_of and returns one row per
  product: ``factors`` (fixed-size float32 array) plus the fit's metadata (hyperparameters
  JSON, users / items / interactions, fit seconds, library version) and status.
* ``user_factor_table`` derives user factors from the *stored* item factors by the exact
  least-squares user solve (``als.solve_users``). The fit itself ends with that same solve, so
  the stored tables reproduce the fitted model bit for bit, and a customer new since the fit
  is folded in by the same formula.
* ``stored_model`` turns the two tables back into an implicit model for top-N and similar
  products.

Every row carries ``fit_id`` (a digest of the hyperparameters and the factors: the same data
gives the same id) and ``fitted_at`` (the as_of of the fit); ``ml_als_user_factors`` repeats
the fit_id it was solved against. With var ``ml_retrain_after_days`` a later build keeps the
stored item factors (ecom_growth.model_store.reusable_fit) and only re-solves the users: every
customer, new ones included, by the same least-squares solve against the stored items, and
products new since the fit are left out of the solve (they have no factors yet).

Ids: the dbt models read the interactions through ``read_coded_interactions`` (DuckDB assigns
int32 codes in sorted-id order, the order ``IdMaps`` uses), build every matrix from the codes
(``coded_matrix``, ``purchased_matrix``) and attach the string ids to output rows by index. The
functions also take the string frame (``code_interactions`` codes it in polars): same result.

Degraded fits (a tiny catalogue, too few users or interactions, nothing at all) write
``status = 'degraded'`` with the reason and null factors; consumers then use popularity. When
there is no product at all, a single row with null ids carries the status.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from importlib.metadata import version
from typing import Any

import numpy as np
import polars as pl
import scipy.sparse as sp

from ecom_growth.model_store import FIT_ID_COL, compute_fit_id, with_fit_metadata
from ecom_growth.recommend.als import (
    FIT_KEYS,
    WEIGHT_KEYS,
    fit_als,
    model_from_item_factors,
    solve_users,
)
from ecom_growth.recommend.matrix import (
    ITEM_COL,
    USER_COL,
    IdMaps,
    confidence,
    id_column,
    require_columns,
    strength_column,
)

log = logging.getLogger(__name__)

STATUS_OK = "ok"
STATUS_DEGRADED = "degraded"


def _factor_dtype(k: int) -> pl.DataType:
    return pl.Array(pl.Float32, k)


@dataclass(frozen=True)
class CodedInteractions:
    """Interactions keyed by int32 codes instead of string ids.

    ``frame`` has ``user_idx`` / ``item_idx`` (positions in ``maps.user_ids`` / ``maps.item_ids``,
    the sorted unique ids, as in :class:`IdMaps`) and the value columns (purchase_count, strength,
    strength_half_life_<d>d). At 1M customers the two string columns of 18M rows were most of
    the memory, and mapping them to indices most of the CPU, of every consumer; with codes from
    DuckDB (:func:`read_coded_interactions`) the strings only come back on the output rows, by
    index into the id arrays.
    """

    frame: pl.DataFrame
    maps: IdMaps


CODE_COLS = ("user_idx", "item_idx")


def code_interactions(interactions: pl.DataFrame) -> CodedInteractions:
    """String-keyed interactions (customer_id, product_id, ...) -> :class:`CodedInteractions`
    (the polars twin of :func:`read_coded_interactions`; null ids are an error)."""
    require_columns(interactions, (USER_COL, ITEM_COL), "interactions")
    users = id_column(interactions, USER_COL, "interactions")
    items = id_column(interactions, ITEM_COL, "interactions")
    maps = IdMaps.from_ids(users, items)
    frame = interactions.drop(USER_COL, ITEM_COL).with_columns(
        user_idx=maps.user_index(users), item_idx=maps.item_index(items)
    )
    return CodedInteractions(frame=frame, maps=maps)


def as_coded(interactions: pl.DataFrame | CodedInteractions) -> CodedInteractions:
    """Either form of interactions as :class:`CodedInteractions`."""
    return interactions if isinstance(interactions, CodedInteractions) else code_interactions(interactions)


def read_coded_interactions(relation, columns: list[str]) -> CodedInteractions:
    """``columns`` of a DuckDB relation of interactions (a dbt model's ``dbt.ref(...)``) with the
    ids replaced by int32 codes that DuckDB assigns (row number in the sorted distinct ids, the
    order :class:`IdMaps` uses), plus the two id arrays. The only function of this module that
    reads: the dbt models call it instead of ``relation.pl()`` so no string column of the big
    frame ever reaches Python."""
    values = ", ".join(f'i."{c}"' for c in columns if c not in (USER_COL, ITEM_COL))
    ids = {
        col: f"select {col} from (select distinct {col} from interactions where {col} is not null) order by {col}"
        for col in (USER_COL, ITEM_COL)
    }
    coded = relation.query("interactions", f"""
        with u as (select {USER_COL}, (row_number() over (order by {USER_COL}) - 1)::integer as user_idx
                   from ({ids[USER_COL]})),
             p as (select {ITEM_COL}, (row_number() over (order by {ITEM_COL}) - 1)::integer as item_idx
                   from ({ids[ITEM_COL]}))
        select u.user_idx, p.item_idx{", " + values if values else ""}
        from interactions as i
        left join u on i.{USER_COL} = u.{USER_COL}
        left join p on i.{ITEM_COL} = p.{ITEM_COL}""").pl()
    for col, name in zip(CODE_COLS, (USER_COL, ITEM_COL), strict=True):
        if coded.get_column(col).null_count():  # a null id has no code (the string path raises the same)
            raise ValueError(f"interactions.{name} has {coded.get_column(col).null_count()} null value(s)")
    maps = IdMaps(
        user_ids=relation.query("interactions", ids[USER_COL]).pl().get_column(USER_COL).cast(pl.String),
        item_ids=relation.query("interactions", ids[ITEM_COL]).pl().get_column(ITEM_COL).cast(pl.String),
    )
    return CodedInteractions(frame=coded, maps=maps)


def decoded(coded: CodedInteractions) -> pl.LazyFrame:
    """The interactions with string ids again (customer_id, product_id, value columns), lazily:
    only what needs the strings (a popularity top-up, a baseline) collects it."""
    return coded.frame.lazy().select(
        pl.lit(coded.maps.user_ids).gather(pl.col("user_idx")).alias(USER_COL),
        pl.lit(coded.maps.item_ids).gather(pl.col("item_idx")).alias(ITEM_COL),
        pl.exclude(*CODE_COLS),
    )


def purchase_rows(coded: CodedInteractions) -> CodedInteractions:
    """The rows that are purchases (``purchase_count > 0``; every row without that column), codes
    unchanged: all that purchased pairs and popularity by purchasers read. At 1M customers they
    are about a sixth of the interaction rows, so decoding them for a popularity top-up costs
    that much less memory."""
    if "purchase_count" not in coded.frame.columns:
        return coded
    return CodedInteractions(coded.frame.filter(pl.col("purchase_count").fill_null(0) > 0), coded.maps)


def _used(codes: np.ndarray, size: int) -> tuple[np.ndarray, np.ndarray]:
    """(mask of the codes that occur, old code -> new dense code or -1)."""
    used = np.zeros(size, dtype=bool)
    used[codes] = True
    recode = np.full(size, -1, dtype=np.int64)
    recode[used] = np.arange(int(used.sum()))
    return used, recode


def compact(coded: CodedInteractions, rows: pl.Series | None = None) -> tuple[CodedInteractions, np.ndarray]:
    """The interactions of ``rows`` (boolean mask; None = all) re-coded densely over the ids they
    use - what building the maps from the filtered string frame gives - and the old -> new item
    code array (-1: gone), for re-coding other item-indexed data. Returns ``coded`` itself
    when nothing changes."""
    frame = coded.frame if rows is None else coded.frame.filter(rows)
    users = frame.get_column("user_idx").to_numpy()
    items = frame.get_column("item_idx").to_numpy()
    used_u, recode_u = _used(users, coded.maps.n_users)
    used_i, recode_i = _used(items, coded.maps.n_items)
    if frame.height == coded.frame.height and used_u.all() and used_i.all():
        return coded, recode_i
    maps = IdMaps(user_ids=coded.maps.user_ids.filter(used_u), item_ids=coded.maps.item_ids.filter(used_i))
    frame = frame.with_columns(
        user_idx=pl.Series(recode_u[users].astype(np.int32)), item_idx=pl.Series(recode_i[items].astype(np.int32))
    )
    return CodedInteractions(frame=frame, maps=maps), recode_i


def matrix_rows(
    coded: CodedInteractions, *, half_life_days: int | None, item_mask: np.ndarray | None = None
) -> tuple[CodedInteractions, np.ndarray]:
    """The rows of the confidence matrix (strength > 0 at ``half_life_days``, items of
    ``item_mask``), re-coded over the ids they use (``compact``): their maps are the matrix's
    maps. Only the codes and that one strength column are carried (at 1M customers the other
    value columns would double the copy). Also returns the full -> matrix item code array."""
    column = "strength" if half_life_days is None else strength_column(half_life_days)
    require_columns(coded.frame, (column,), "interactions")
    rows = pl.col(column) > 0
    if item_mask is not None:
        rows = rows & pl.lit(pl.Series(item_mask).gather(coded.frame.get_column("item_idx")))
    narrow = CodedInteractions(coded.frame.select(*CODE_COLS, column), coded.maps)
    return compact(narrow, narrow.frame.select(rows).to_series())


def coded_matrix(
    coded: CodedInteractions, *, half_life_days: int | None, weighting: str, item_mask: np.ndarray | None = None,
    **weights: Any,
) -> tuple[sp.csr_matrix, IdMaps, np.ndarray]:
    """Users x items confidence CSR, its maps and the full -> matrix item code array: the same
    matrix as ``matrix.interaction_matrix(matrix.with_half_life(frame, half_life_days), ...)`` on
    the string frame (rows with strength <= 0 at that half-life left out, ids re-coded over what
    remains), from the codes. ``item_mask``: only items whose mask is True (``known_products``)."""
    kept, recode_items = matrix_rows(coded, half_life_days=half_life_days, item_mask=item_mask)
    return rows_matrix(kept, half_life_days=half_life_days, weighting=weighting, **weights), kept.maps, recode_items


def rows_matrix(kept: CodedInteractions, *, half_life_days: int | None, weighting: str, **weights: Any) -> sp.csr_matrix:
    """The confidence CSR of ``matrix_rows``' rows (in their maps' index space)."""
    column = "strength" if half_life_days is None else strength_column(half_life_days)
    values = kept.frame.get_column(column).cast(pl.Float64).to_numpy()
    bad = ~np.isfinite(values)  # > 0 holds after the filter; infinities (and NaN) must not pass
    if bad.any():
        raise ValueError(f"interactions.{column} must be finite and > 0; {int(bad.sum())} row(s) are not")
    raw = sp.coo_matrix(
        (values.astype(np.float32),
         (kept.frame.get_column("user_idx").to_numpy(), kept.frame.get_column("item_idx").to_numpy())),
        shape=(kept.maps.n_users, kept.maps.n_items),
    ).tocsr()  # tocsr sums duplicate pairs
    raw.sum_duplicates()
    matrix = confidence(raw, weighting=weighting, **weights)
    log.info("interaction matrix: %d users x %d items, %d nonzeros, weighting=%s",
             kept.maps.n_users, kept.maps.n_items, matrix.nnz, weighting)
    return matrix


def purchased_matrix(coded: CodedInteractions, maps: IdMaps) -> sp.csr_matrix:
    """Binary users x items CSR of what each customer bought (``purchase_count > 0``, or every
    row without that column), in ``maps``' index space: ``matrix.indicator_matrix(
    purchased_pairs(...), maps)`` from the codes. Pairs outside ``maps`` are dropped."""
    frame = purchase_rows(coded).frame
    recode_u = _positions(coded.maps.user_ids, maps.user_ids)
    recode_i = _positions(coded.maps.item_ids, maps.item_ids)
    users = recode_u[frame.get_column("user_idx").to_numpy()]
    items = recode_i[frame.get_column("item_idx").to_numpy()]
    ok = (users >= 0) & (items >= 0)
    matrix = sp.csr_matrix(
        (np.ones(int(ok.sum()), dtype=np.float32), (users[ok], items[ok])),
        shape=(maps.n_users, maps.n_items), dtype=np.float32,
    )
    matrix.sum_duplicates()
    matrix.data[:] = 1.0
    matrix.sort_indices()
    return matrix


def _positions(ids: pl.Series, subset: pl.Series) -> np.ndarray:
    """Position of each of ``ids`` in ``subset`` (a subset of them, both sorted unique), -1 where
    absent."""
    if ids.len() == subset.len():
        return np.arange(ids.len(), dtype=np.int64)
    return (
        pl.DataFrame({"_id": ids})
        .join(pl.DataFrame({"_id": subset, "_idx": np.arange(subset.len(), dtype=np.int64)}), on="_id", how="left",
              maintain_order="left")
        .get_column("_idx").fill_null(-1).to_numpy()
    )


def fit_problem(n_users: int, n_items: int, n_interactions: int, *, min_users: int, min_items: int,
                min_interactions: int) -> str | None:
    """Why ALS cannot be fitted meaningfully on this data (None when it can)."""
    problems = []
    if n_users < min_users:
        problems.append(f"{n_users} customers with interactions (< {min_users})")
    if n_items < min_items:
        problems.append(f"{n_items} products with interactions (< {min_items})")
    if n_interactions < min_interactions:
        problems.append(f"{n_interactions} interactions (< {min_interactions})")
    return "too little data for ALS: " + ", ".join(problems) if problems else None


def item_factor_table(
    interactions: pl.DataFrame | CodedInteractions,
    params: Mapping[str, Any],
    *,
    min_users: int,
    min_items: int,
    min_interactions: int,
    num_threads: int = 0,
    fitted_at: datetime | None = None,
) -> pl.DataFrame:
    """Fit the final ALS model; one row per product (columns: see module docstring).

    ``params``: weighting, factors, regularization, iterations, alpha, bm25_k1, bm25_b,
    random_state and optionally half_life_days (which strength_half_life_<d>d column is the
    strength), e.g. the configuration the evaluation selected.
    """
    weighting = str(params["weighting"])
    weights = {k: params[k] for k in WEIGHT_KEYS if k in params}
    fit_params = {k: params[k] for k in FIT_KEYS}
    matrix, maps, _ = coded_matrix(as_coded(interactions), half_life_days=params.get("half_life_days"),
                                   weighting=weighting, **weights)
    k = int(fit_params["factors"])
    problem = fit_problem(maps.n_users, maps.n_items, matrix.nnz, min_users=min_users, min_items=min_items,
                          min_interactions=min_interactions)
    started = time.perf_counter()
    if problem is None:
        model = fit_als(matrix, random_state=int(params["random_state"]), num_threads=num_threads, **fit_params)
        factors = np.asarray(model.item_factors, dtype=np.float32)
        seconds = time.perf_counter() - started
        log.info("final ALS fitted in %.1fs", seconds)
    else:
        log.warning("ALS degraded: %s", problem)
        factors, seconds = None, None
    meta = {
        "hyperparameters": json.dumps({**dict(params)}, sort_keys=True),
        "weighting": weighting,
        "factor_count": k,
        "n_users": maps.n_users,
        "n_items": maps.n_items,
        "n_interactions": int(matrix.nnz),
        "fit_seconds": seconds,
        "library_version": f"implicit {version('implicit')}",
        "status": STATUS_OK if problem is None else STATUS_DEGRADED,
        "status_reason": problem,
    }
    n_rows = max(maps.n_items, 1)
    ids = maps.item_ids if maps.n_items else pl.Series(ITEM_COL, [None], pl.String)
    index = pl.Series("item_index", np.arange(maps.n_items, dtype=np.int32)) if maps.n_items else \
        pl.Series("item_index", [None], pl.Int32)
    column = (
        pl.Series("factors", factors, dtype=_factor_dtype(k))
        if factors is not None
        else pl.Series("factors", [None] * n_rows, dtype=_factor_dtype(k))
    )
    frame = pl.DataFrame([ids.rename(ITEM_COL), index, column])
    fit_id = compute_fit_id([meta["hyperparameters"], problem, None if factors is None else factors.tobytes(),
                             "\n".join(ids.fill_null("").to_list())])
    return with_fit_metadata(frame, fit_id=fit_id, fitted_at=fitted_at).with_columns(
        pl.lit(meta["hyperparameters"]).alias("hyperparameters"),
        pl.lit(meta["weighting"]).alias("weighting"),
        pl.lit(meta["factor_count"], pl.Int32).alias("factor_count"),
        pl.lit(meta["n_users"], pl.Int64).alias("n_users"),
        pl.lit(meta["n_items"], pl.Int64).alias("n_items"),
        pl.lit(meta["n_interactions"], pl.Int64).alias("n_interactions"),
        pl.lit(meta["fit_seconds"], pl.Float64).alias("fit_seconds"),
        pl.lit(meta["library_version"]).alias("library_version"),
        pl.lit(meta["status"]).alias("status"),
        pl.lit(meta["status_reason"], pl.String).alias("status_reason"),
    )


def _status(item_table: pl.DataFrame) -> tuple[str, str | None, dict[str, Any]]:
    require_columns(item_table, (ITEM_COL, "factors", "hyperparameters", "status", "status_reason"), "item factors")
    if item_table.height == 0:
        return STATUS_DEGRADED, "the ALS item factor table is empty", {}
    first = item_table.row(0, named=True)
    return first["status"], first["status_reason"], json.loads(first["hyperparameters"])


def _stored_items(item_table: pl.DataFrame, maps: IdMaps) -> np.ndarray:
    """Stored factors in ``maps``' item order; every product of the matrix must have factors."""
    aligned = pl.DataFrame({ITEM_COL: maps.item_ids}).join(
        item_table.select(ITEM_COL, "factors"), on=ITEM_COL, how="left", maintain_order="left"
    )
    missing = aligned.get_column("factors").null_count()
    if missing:
        raise ValueError(f"{missing} product(s) with interactions have no stored ALS factors; refit the model")
    return aligned.get_column("factors").to_numpy().astype(np.float32)


def user_factor_table(interactions: pl.DataFrame | CodedInteractions, item_table: pl.DataFrame, *, num_threads: int = 0) -> pl.DataFrame:
    """customer_id, factors, status, status_reason: user factors solved against stored items."""
    status, reason = item_factor_status(item_table)
    k = int(item_table.get_column("factor_count")[0]) if item_table.height else 1
    fit_id = item_table.get_column(FIT_ID_COL)[0] if item_table.height and FIT_ID_COL in item_table.columns else None
    if status != STATUS_OK:
        return pl.DataFrame(
            {USER_COL: [None], "factors": [None], "status": [status], "status_reason": [reason]},
            schema={USER_COL: pl.String, "factors": _factor_dtype(k), "status": pl.String, "status_reason": pl.String},
        ).with_columns(pl.lit(fit_id, pl.String).alias(FIT_ID_COL))
    model, maps = stored_model(interactions, item_table, users=None, num_threads=num_threads)
    return pl.DataFrame(
        [maps.user_ids.rename(USER_COL), pl.Series("factors", model.user_factors, dtype=_factor_dtype(k))]
    ).with_columns(pl.lit(STATUS_OK).alias("status"), pl.lit(None, pl.String).alias("status_reason"),
                   pl.lit(fit_id, pl.String).alias(FIT_ID_COL))


def stored_model(
    interactions: pl.DataFrame | CodedInteractions,
    item_table: pl.DataFrame,
    *,
    users: pl.DataFrame | None,
    num_threads: int = 0,
):
    """(model, maps) rebuilt from stored factors: the model ranks every customer of ``maps``
    from its factors (``topn.model_scores`` reads no confidence values).

    ``users``: the user factor table (customer_id, factors); None solves them from the item
    factors (what ``user_factor_table`` stores, so both give identical factors).
    """
    status, reason, params = _status(item_table)
    if status != STATUS_OK:
        raise ValueError(f"the stored ALS model is {status}: {reason}")
    coded = as_coded(interactions)
    half_life, item_mask = params.get("half_life_days"), known_products(coded.maps, item_table)
    rows, _ = matrix_rows(coded, half_life_days=half_life, item_mask=item_mask)
    maps = rows.maps
    model = model_from_item_factors(_stored_items(item_table, maps), regularization=float(params["regularization"]),
                                    num_threads=num_threads)
    factors = None
    if users is not None:
        aligned = pl.DataFrame({USER_COL: maps.user_ids}).join(
            users.select(USER_COL, "factors"), on=USER_COL, how="left", maintain_order="left"
        )
        if not aligned.get_column("factors").null_count():
            factors = aligned.get_column("factors").to_numpy().astype(np.float32)
    if factors is None:
        # no user table, or customers new since the stored solve: solve (everyone) with the same
        # formula; only then is the confidence matrix built (at 1M customers its transient copies
        # were a GB of the top-N model's peak)
        matrix = rows_matrix(rows, half_life_days=half_life, weighting=str(params["weighting"]),
                             **{k: params[k] for k in WEIGHT_KEYS if k in params})
        factors = solve_users(model, matrix, num_threads=num_threads)
    model.user_factors = factors
    return model, maps


def known_products(maps: IdMaps, item_table: pl.DataFrame) -> np.ndarray | None:
    """Mask over ``maps``' items: which have stored factors (None: all of them).

    Right after a fit that is every product (no filter, so the solve is bit-identical); a kept
    model (ml_retrain_after_days) has no factors for products first seen since its fit, and
    their interactions cannot enter the user solve until the next refit."""
    stored = item_table.filter(pl.col("factors").is_not_null()).get_column(ITEM_COL).cast(pl.String)
    mask = maps.item_ids.is_in(stored.implode()).to_numpy()
    return None if mask.all() else mask


def serving_columns(available: list[str]) -> list[str]:
    """The columns of an interactions table that the final model's fit, user solve, top-N and
    similar products read (ids, ``purchase_count``, ``strength`` and its half-life variants), in
    table order. The dbt models load only these (ids as codes): at 1M customers it is 18M rows,
    and the other columns (counts, quantities, timestamps) roughly double its size."""
    kept = [c for c in available
            if c in (USER_COL, ITEM_COL, "purchase_count", "strength") or c.startswith("strength_half_life_")]
    missing = [c for c in (USER_COL, ITEM_COL) if c not in kept]
    if missing:
        raise ValueError(f"interactions are missing column(s) {missing}; they have {available}")
    return kept


def fit_columns(available: list[str], half_life_days: int | None) -> list[str]:
    """The columns the final model's fit (``item_factor_table``) or user solve (``user_factor_table``)
    reads: the ids and the one strength column of ``half_life_days`` (None: ``strength``). The
    rest of ``serving_columns`` (purchase_count, the other half-lives) is not read by them: at 1M
    customers loading only these cuts the read and the matrix build by a fifth."""
    column = "strength" if half_life_days is None else strength_column(int(half_life_days))
    missing = [c for c in (USER_COL, ITEM_COL, column) if c not in available]
    if missing:
        raise ValueError(f"interactions are missing column(s) {missing}; they have {available}")
    return [USER_COL, ITEM_COL, column]


def stored_fit_columns(available: list[str], item_table: pl.DataFrame) -> list[str]:
    """``fit_columns`` of the stored fit's half-life (the ids alone when it is degraded: then
    ``user_factor_table`` reads no interactions)."""
    status, _, params = _status(item_table)
    if status != STATUS_OK:
        return fit_columns(available, None)[:2]
    return fit_columns(available, params.get("half_life_days"))


def item_factor_status(item_table: pl.DataFrame) -> tuple[str, str | None]:
    """(status, status_reason) of the stored fit."""
    status, reason, _ = _status(item_table)
    return status, reason
