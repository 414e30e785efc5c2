"""What the dbt models ml_recommendations and ml_similar_products return, from stored models.

The served family is the evaluation's validation winner (``evaluation.served_model``): ALS
from the stored factor tables, or a baseline (popularity, recent popularity, item kNN), which
is cheap to compute and has no stored fit. When ALS is served but its fit is degraded, every
customer gets the popularity fallback and the rows say ``status = 'degraded'`` with the reason.
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import polars as pl
import scipy.sparse as sp

from ecom_growth.recommend.evaluation import served_model
from ecom_growth.recommend.knn import fit_item_knn
from ecom_growth.recommend.matrix import (
    ITEM_COL,
    interaction_matrix,
    purchased_pairs,
    with_half_life,
)
from ecom_growth.recommend.store import (
    STATUS_DEGRADED,
    STATUS_OK,
    CodedInteractions,
    as_coded,
    decoded,
    fit_columns,
    item_factor_status,
    purchase_rows,
    purchased_matrix,
    stored_fit_columns,
    stored_model,
)
from ecom_growth.recommend.topn import SIMILAR_SCHEMA, recommend_top_n, similar_products


def _with_status(frame: pl.DataFrame, status: str, reason: str | None) -> pl.DataFrame:
    return frame.with_columns(pl.lit(status).alias("status"), pl.lit(reason, pl.String).alias("status_reason"))


def recommendation_columns(available: list[str], evaluation: pl.DataFrame, item_factors: pl.DataFrame) -> list[str]:
    """The columns of the interactions table that ``serve_recommendations`` reads for the served
    family, in table order: the ids, ``purchase_count`` (the purchase filter and popularity by
    purchasers) and the one strength column that family ranks with (served ALS: the stored fit's
    half-life, which decides the customers it ranks; recent popularity: its chosen half-life;
    otherwise ``strength``). At 1M customers the other half-life columns were a third of the
    18M-row frame the model loads."""
    family, params = served_model(evaluation)
    if family == "als" and item_factor_status(item_factors)[0] == STATUS_OK:
        read = stored_fit_columns(available, item_factors)
    elif family == "recent_popular":
        read = fit_columns(available, params.get("half_life_days"))
    else:  # degraded ALS (popularity), most popular and item kNN read the undecayed strength
        read = fit_columns(available, None)
    return [c for c in available if c in read or c == "purchase_count"]


def serve_recommendations(
    interactions: pl.DataFrame | CodedInteractions,
    customers: pl.DataFrame,
    *,
    evaluation: pl.DataFrame,
    item_factors: pl.DataFrame,
    user_factors: pl.DataFrame,
    n: int,
    filter_purchased: bool,
    num_threads: int = 0,
) -> pl.DataFrame:
    """Top-``n`` rows per customer (``topn.RECOMMENDATION_SCHEMA``) plus served_model, status,
    status_reason.

    ``interactions``: string ids, or int codes (``store.read_coded_interactions``, what the dbt
    model passes). Served ALS works on the codes (matrix, purchase filter) and attaches the
    strings to the output rows only; a baseline decodes the strings first."""
    family, params = served_model(evaluation)
    status, reason = STATUS_OK, None
    popularity_by = "purchasers"
    model = None
    filter_matrix = None
    if family == "als":
        status, reason = item_factor_status(item_factors)
        if status == STATUS_OK:
            coded = as_coded(interactions)
            model, maps = stored_model(coded, item_factors, users=user_factors, num_threads=num_threads)
            # a factor model ranks from its factors: the matrix only gives the catalogue's shape
            matrix = sp.csr_matrix((maps.n_users, maps.n_items), dtype=np.float32)
            filter_matrix = purchased_matrix(coded, maps) if filter_purchased else None
            # a popularity top-up (customers the model leaves short) reads purchases only: the
            # pairs to skip and popularity by purchasers; strings only if some customer needs one
            interactions = decoded(purchase_rows(coded))
        else:
            reason = f"{reason}; serving most-popular products instead"
    purchased = None  # served ALS: filter_matrix (the top-up derives the pairs if it needs them)
    if model is None:
        if isinstance(interactions, CodedInteractions):
            interactions = decoded(interactions).collect()
        purchased = purchased_pairs(interactions)
        if family == "recent_popular":  # popularity of the decayed strength chosen on validation
            interactions = with_half_life(interactions, params.get("half_life_days"))
        else:
            interactions = with_half_life(interactions, None)
        matrix, maps = interaction_matrix(interactions, weighting="alpha", alpha=1.0)
        if family == "item_knn":
            matrix = matrix.copy()
            matrix.data[:] = 1.0
            model = fit_item_knn(matrix, neighbours=int(params["neighbours"]), shrinkage=float(params["shrinkage"]))
        elif family == "recent_popular":
            popularity_by = "strength"
    recs = recommend_top_n(model, matrix, maps, customers, interactions=interactions, n=n,
                           filter_purchased=filter_purchased, purchased=purchased, popularity_by=popularity_by,
                           source=family if model is not None else "als", filter_matrix=filter_matrix)
    return _with_status(recs.with_columns(pl.lit(family).alias("served_model")), status, reason)


def similar_products_table(
    item_factors: pl.DataFrame, products: pl.DataFrame, interactions: pl.DataFrame | None, *, n: int
) -> pl.DataFrame:
    """Top-``n`` similar products per product from the stored ALS item factors (cosine).

    Degraded fit: the fallback is the ``n`` most-bought other products of the same category
    (score = their distinct buyers), status degraded. ``products``: product_id, category.
    ``interactions`` are read by the fallback only: None is fine when the stored fit is ok (the
    dbt model then does not load them).
    """
    status, reason = item_factor_status(item_factors)
    schema = {**SIMILAR_SCHEMA, "status": pl.String, "status_reason": pl.String}
    if status == STATUS_OK:
        stored = item_factors.filter(pl.col(ITEM_COL).is_not_null()).sort("item_index")
        from ecom_growth.recommend.als import model_from_item_factors
        from ecom_growth.recommend.matrix import IdMaps

        params: dict[str, Any] = json.loads(stored.get_column("hyperparameters")[0])
        model = model_from_item_factors(stored.get_column("factors").to_numpy().astype(np.float32),
                                        regularization=float(params["regularization"]))
        maps = IdMaps.from_ids(pl.Series([], dtype=pl.String), stored.get_column(ITEM_COL))
        if maps.item_ids.to_list() != stored.get_column(ITEM_COL).to_list():
            raise ValueError("stored item factors are not in product_id order")
        model.user_factors = np.zeros((0, model.item_factors.shape[1]), dtype=np.float32)
        return _with_status(similar_products(model, maps, n=n), status, reason).cast(schema)
    if interactions is None:
        raise ValueError("the stored ALS fit is degraded: the similar-products fallback needs the interactions")
    buyers = purchased_pairs(interactions).group_by(ITEM_COL).agg(pl.len().cast(pl.Float64).alias("score"))
    catalogue = products.select(pl.col(ITEM_COL).cast(pl.String), pl.col("category").cast(pl.String)).join(
        buyers, on=ITEM_COL, how="inner"
    )
    # each category's n + 1 best sellers are enough: a product drops at most itself
    best = (
        catalogue.sort(["category", "score", ITEM_COL], descending=[False, True, False])
        .filter(pl.int_range(pl.len()).over("category") <= n)
        .select("category", pl.col(ITEM_COL).alias("similar_product_id"), "score")
    )
    fallback = (
        catalogue.select(ITEM_COL, "category")
        .join(best, on="category")
        .filter(pl.col(ITEM_COL) != pl.col("similar_product_id"))
        .sort([ITEM_COL, "score", "similar_product_id"], descending=[False, True, False])
        .with_columns(rank=(pl.int_range(pl.len()).over(ITEM_COL) + 1).cast(pl.Int32))
        .filter(pl.col("rank") <= n)
        .select(ITEM_COL, "rank", "similar_product_id", "score")
    )
    return _with_status(fallback, STATUS_DEGRADED, f"{reason}; similar = most-bought in the same category").cast(schema)
