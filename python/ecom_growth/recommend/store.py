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

Degraded fits (a tiny catalogue, too few users or interactions, nothing at all) write
``status = 'degraded'`` with the reason and null factors; consumers then use popularity. When
there is no product at all, a single row with null ids carries the status.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Mapping
from datetime import datetime
from importlib.metadata import version
from typing import Any

import numpy as np
import polars as pl

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
    interaction_matrix,
    require_columns,
    with_half_life,
)

log = logging.getLogger(__name__)

STATUS_OK = "ok"
STATUS_DEGRADED = "degraded"


def _factor_dtype(k: int) -> pl.DataType:
    return pl.Array(pl.Float32, k)


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
    interactions: pl.DataFrame,
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
    matrix, maps = interaction_matrix(with_half_life(interactions, params.get("half_life_days")),
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


def user_factor_table(interactions: pl.DataFrame, item_table: pl.DataFrame, *, num_threads: int = 0) -> pl.DataFrame:
    """customer_id, factors, status, status_reason: user factors solved against stored items."""
    status, reason = item_factor_status(item_table)
    k = int(item_table.get_column("factor_count")[0]) if item_table.height else 1
    fit_id = item_table.get_column(FIT_ID_COL)[0] if item_table.height and FIT_ID_COL in item_table.columns else None
    if status != STATUS_OK:
        return pl.DataFrame(
            {USER_COL: [None], "factors": [None], "status": [status], "status_reason": [reason]},
            schema={USER_COL: pl.String, "factors": _factor_dtype(k), "status": pl.String, "status_reason": pl.String},
        ).with_columns(pl.lit(fit_id, pl.String).alias(FIT_ID_COL))
    model, _, maps = stored_model(interactions, item_table, users=None, num_threads=num_threads)
    return pl.DataFrame(
        [maps.user_ids.rename(USER_COL), pl.Series("factors", model.user_factors, dtype=_factor_dtype(k))]
    ).with_columns(pl.lit(STATUS_OK).alias("status"), pl.lit(None, pl.String).alias("status_reason"),
                   pl.lit(fit_id, pl.String).alias(FIT_ID_COL))


def stored_model(
    interactions: pl.DataFrame,
    item_table: pl.DataFrame,
    *,
    users: pl.DataFrame | None,
    num_threads: int = 0,
):
    """(model, confidence matrix, maps) rebuilt from stored factors.

    ``users``: the user factor table (customer_id, factors); None solves them from the item
    factors (what ``user_factor_table`` stores, so both give identical factors).
    """
    status, reason, params = _status(item_table)
    if status != STATUS_OK:
        raise ValueError(f"the stored ALS model is {status}: {reason}")
    weighting = str(params["weighting"])
    interactions = known_products(interactions, item_table)
    matrix, maps = interaction_matrix(
        with_half_life(interactions, params.get("half_life_days")),
        weighting=weighting, **{k: params[k] for k in WEIGHT_KEYS if k in params},
    )
    model = model_from_item_factors(_stored_items(item_table, maps), regularization=float(params["regularization"]),
                                    num_threads=num_threads)
    if users is None:
        model.user_factors = solve_users(model, matrix, num_threads=num_threads)
    else:
        aligned = pl.DataFrame({USER_COL: maps.user_ids}).join(
            users.select(USER_COL, "factors"), on=USER_COL, how="left", maintain_order="left"
        )
        if aligned.get_column("factors").null_count():
            # customers new since the stored solve: fold them in with the same formula
            model.user_factors = solve_users(model, matrix, num_threads=num_threads)
        else:
            model.user_factors = aligned.get_column("factors").to_numpy().astype(np.float32)
    return model, matrix, maps


def known_products(interactions: pl.DataFrame, item_table: pl.DataFrame) -> pl.DataFrame:
    """Interactions with products that have stored factors.

    Right after a fit that is every row (returned as is, so the solve is bit-identical); a kept
    model (ml_retrain_after_days) has no factors for products first seen since its fit, and
    their interactions cannot enter the user solve until the next refit."""
    stored = item_table.filter(pl.col("factors").is_not_null()).get_column(ITEM_COL)
    seen = interactions.get_column(ITEM_COL).unique()
    if seen.is_in(stored.implode()).all():
        return interactions
    return interactions.filter(pl.col(ITEM_COL).is_in(stored.implode()))


def serving_columns(available: list[str]) -> list[str]:
    """The columns of an interactions table that the final model's fit, user solve, top-N and
    similar products read (ids, ``purchase_count``, ``strength`` and its half-life variants), in
    table order. The dbt models select only these before loading the table: at 1M customers it
    is 18M rows, and the other columns (counts, quantities, timestamps) roughly double its size."""
    kept = [c for c in available
            if c in (USER_COL, ITEM_COL, "purchase_count", "strength") or c.startswith("strength_half_life_")]
    missing = [c for c in (USER_COL, ITEM_COL) if c not in kept]
    if missing:
        raise ValueError(f"interactions are missing column(s) {missing}; they have {available}")
    return kept


def item_factor_status(item_table: pl.DataFrame) -> tuple[str, str | None]:
    """(status, status_reason) of the stored fit."""
    status, reason, _ = _status(item_table)
    return status, reason
