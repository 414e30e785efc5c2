"""Offline comparison of ALS with the baselines on a temporal holdout.

Protocol (point in time, no leakage): every model is fitted on interactions before a cutoff
and asked for its top max(ks) products; the truth is what customers bought after the cutoff.

* Users evaluated: customers present in the training interactions with >= 1 relevant holdout
  purchase. Customers new in the holdout are cold start (popularity for every model) and are
  left out, so they do not dilute the comparison.
* Repeat purchases: with ``filter_purchased=True`` (the production default) recommendations
  never contain products the customer already bought, so holdout purchases of such products
  are removed from the truth for every model - otherwise the filtered models would be charged
  for hits they are not allowed to make. With ``filter_purchased=False`` nothing is filtered
  and repeats count as hits for every model.
* Holdout purchases of products outside the training catalogue stay in the truth: no model
  can recommend them, which is a real (shared) miss.
* Every model's list is what production would ship: model rows topped up from popularity.
* Grid search (optional) picks the ALS configuration with the best NDCG@10 (or NDCG at the
  largest k when 10 is not among ``ks``) on this same holdout; the winner's score is therefore
  slightly optimistic - keep the grid small, and compare configurations, not decimals.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import polars as pl

from ecom_growth.recommend.als import fit_als
from ecom_growth.recommend.baselines import PopularityBy, fit_item_cosine
from ecom_growth.recommend.matrix import (
    ITEM_COL,
    USER_COL,
    interaction_matrix,
    purchased_pairs,
    require_columns,
)
from ecom_growth.recommend.metrics import _check_ks, ranking_metrics
from ecom_growth.recommend.topn import recommend_top_n

log = logging.getLogger(__name__)

EVALUATION_SCHEMA = {
    "model": pl.String,
    "k": pl.Int32,
    "metric": pl.String,
    "value": pl.Float64,
    "users_evaluated": pl.Int64,
    "hyperparameters": pl.String,
    "is_selected": pl.Boolean,
    "value_vs_most_popular": pl.Float64,
}
DEFAULT_ALS_PARAMS: dict[str, Any] = {
    "factors": 32,
    "regularization": 0.1,
    "iterations": 15,
}
DEFAULT_WEIGHTING_PARAMS: dict[str, Any] = {"alpha": 1.0, "log_eps": 1.0, "bm25_k1": 100.0, "bm25_b": 0.8}
_FIT_KEYS = ("factors", "regularization", "iterations")
_WEIGHT_KEYS = ("alpha", "log_eps", "bm25_k1", "bm25_b")


def temporal_split(
    purchases: pl.DataFrame,
    *,
    cutoff: Any,
    time_col: str = "ordered_at",
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Purchase events -> (train interactions before ``cutoff``, holdout pairs from ``cutoff`` on).

    ``purchases``: one row per purchase event with customer_id, product_id and ``time_col``
    (e.g. order_items joined to completed orders). Train interactions have one row per pair with
    ``strength`` = ``purchase_count`` = number of purchase events (the shape the SQL
    interactions table has); holdout is distinct (customer_id, product_id).
    """
    require_columns(purchases, (USER_COL, ITEM_COL, time_col), "purchases")
    events = purchases.select(
        pl.col(USER_COL).cast(pl.String), pl.col(ITEM_COL).cast(pl.String), pl.col(time_col)
    )
    train = (
        events.filter(pl.col(time_col) < cutoff)
        .group_by(USER_COL, ITEM_COL)
        .agg(pl.len().cast(pl.Int64).alias("purchase_count"))
        .with_columns(strength=pl.col("purchase_count").cast(pl.Float64))
        .sort(USER_COL, ITEM_COL)
    )
    test = events.filter(pl.col(time_col) >= cutoff).select(USER_COL, ITEM_COL).unique().sort(USER_COL, ITEM_COL)
    return train, test


def relevant_items(
    train_interactions: pl.DataFrame, test_purchases: pl.DataFrame, *, filter_purchased: bool = True
) -> pl.DataFrame:
    """Holdout (customer_id, product_id) that count as hits (see module docstring)."""
    require_columns(test_purchases, (USER_COL, ITEM_COL), "test_purchases")
    test = test_purchases.select(pl.col(USER_COL).cast(pl.String), pl.col(ITEM_COL).cast(pl.String)).unique()
    known = train_interactions.select(pl.col(USER_COL).cast(pl.String)).unique()
    test = test.join(known, on=USER_COL, how="semi")
    if filter_purchased:
        test = test.join(purchased_pairs(train_interactions), on=[USER_COL, ITEM_COL], how="anti")
    return test.sort(USER_COL, ITEM_COL)


def _json(params: Mapping[str, Any]) -> str:
    return json.dumps(dict(params), sort_keys=True)


def evaluate_recommenders(
    train_interactions: pl.DataFrame,
    test_purchases: pl.DataFrame,
    *,
    ks: Iterable[int] = (5, 10, 20),
    als_params: Mapping[str, Any] | None = None,
    weighting: str = "bm25",
    weighting_params: Mapping[str, Any] | None = None,
    filter_purchased: bool = True,
    grid: Sequence[Mapping[str, Any]] | None = None,
    cosine_neighbours: int = 20,
    popularity_by: PopularityBy = "purchasers",
    random_state: int = 42,
    num_threads: int = 0,
) -> pl.DataFrame:
    """Compare ALS, most-popular and item-item cosine on a temporal holdout.

    ``als_params``: factors, regularization, iterations (defaults ``DEFAULT_ALS_PARAMS``);
    ``weighting_params``: alpha, log_eps, bm25_k1, bm25_b for :func:`interaction_matrix`
    (``alpha`` is the confidence scale ``1 + alpha * f(strength)``; it is accepted in either
    mapping since it is usually thought of as an ALS parameter).
    ``grid``: optional list of overrides of either (e.g. ``[{"factors": 32, "alpha": 2.0}]``),
    each fitted and scored; the best by NDCG@10 gets ``is_selected``. Without a grid the single
    ALS configuration is selected. Baselines have one configuration each, always selected, so
    ``filter(is_selected)`` gives one row per model x k x metric.

    Returns one row per model ("als", "most_popular", "item_cosine") x configuration x k x
    metric (precision, recall, ndcg, map, coverage) with columns model, k, metric, value,
    users_evaluated, hyperparameters (JSON), is_selected, value_vs_most_popular (value divided
    by the most-popular baseline's value for the same k and metric; e.g. the ALS / popular
    NDCG@10 ratio).
    """
    ks = _check_ks(ks)
    require_columns(train_interactions, (USER_COL, ITEM_COL, "strength"), "train_interactions")
    # alpha etc. may come in either mapping: they are split by name, not by argument
    given = {**(weighting_params or {}), **(als_params or {})}
    unknown = set(given) - set(_FIT_KEYS) - set(_WEIGHT_KEYS)
    for override in grid or []:
        unknown |= set(override) - set(_FIT_KEYS) - set(_WEIGHT_KEYS)
    base_fit = {k: given.get(k, DEFAULT_ALS_PARAMS[k]) for k in _FIT_KEYS}
    base_weight = {k: given.get(k, DEFAULT_WEIGHTING_PARAMS[k]) for k in _WEIGHT_KEYS}
    if unknown:
        raise ValueError(f"unknown hyperparameter(s) {sorted(unknown)}; use {_FIT_KEYS + _WEIGHT_KEYS}")

    relevant = relevant_items(train_interactions, test_purchases, filter_purchased=filter_purchased)
    users = relevant.select(USER_COL).unique().sort(USER_COL)
    if train_interactions.height == 0 or users.height == 0:
        log.warning("nothing to evaluate: %d train rows, %d users with holdout purchases",
                    train_interactions.height, users.height)
        return pl.DataFrame(schema=EVALUATION_SCHEMA)
    n = ks[-1]
    selection_k = 10 if 10 in ks else ks[-1]
    log.info("evaluating on %d users, %d relevant pairs, n=%d", users.height, relevant.height, n)

    matrices: dict[str, tuple] = {}

    def matrix_for(weights: Mapping[str, Any]):
        key = _json(weights)
        if key not in matrices:
            matrices[key] = interaction_matrix(train_interactions, weighting=weighting, **weights)
        return matrices[key]

    matrix, maps = matrix_for(base_weight)
    catalogue = maps.n_items

    def score(model, source: str, matrix, maps) -> pl.DataFrame:
        recs = recommend_top_n(
            model,
            matrix,
            maps,
            users,
            interactions=train_interactions,
            n=n,
            filter_purchased=filter_purchased,
            popularity_by=popularity_by,
            source=source,
        )
        return ranking_metrics(recs, relevant, ks=ks, catalogue_size=catalogue)

    results: list[pl.DataFrame] = []

    def add(metrics: pl.DataFrame, model: str, params: Mapping[str, Any], selected: bool) -> None:
        results.append(
            metrics.with_columns(
                pl.lit(model).alias("model"),
                pl.lit(_json(params)).alias("hyperparameters"),
                pl.lit(selected).alias("is_selected"),
            )
        )

    add(score(None, "most_popular", matrix, maps), "most_popular", {"by": popularity_by}, True)
    # Item-item scores sum the user's weights over neighbours; BM25's per-item length norm
    # nearly zeroes popular items' weights there (measured: half the NDCG of linear weights),
    # so the baseline uses plain confidence 1 + strength, whatever ALS uses.
    cosine_matrix, _ = interaction_matrix(train_interactions, weighting="alpha", alpha=1.0)
    cosine = fit_item_cosine(cosine_matrix, neighbours=cosine_neighbours, num_threads=num_threads)
    add(
        score(cosine, "item_cosine", cosine_matrix, maps),
        "item_cosine",
        {"neighbours": cosine_neighbours, "weighting": "alpha", "alpha": 1.0},
        True,
    )

    configs = [dict(override) for override in grid] if grid else [{}]
    als_rows: list[tuple[dict, pl.DataFrame]] = []
    for override in configs:  # a handful of configurations, each a full fit
        fit_params = {**base_fit, **{k: v for k, v in override.items() if k in _FIT_KEYS}}
        weights = {**base_weight, **{k: v for k, v in override.items() if k in _WEIGHT_KEYS}}
        m, mp = matrix_for(weights)
        model = fit_als(m, random_state=random_state, num_threads=num_threads, **fit_params)
        metrics = score(model, "als", m, mp)
        params = {**fit_params, "weighting": weighting, **weights, "random_state": random_state}
        als_rows.append((params, metrics))
        log.info("ALS %s: NDCG@%d = %s", _json(params), selection_k, _value(metrics, "ndcg", selection_k))
    best = max(
        range(len(als_rows)),
        key=lambda i: (_value(als_rows[i][1], "ndcg", selection_k) or 0.0, -i),
    )
    for i, (params, metrics) in enumerate(als_rows):
        add(metrics, "als", params, i == best)

    table = pl.concat([r.select(list(EVALUATION_SCHEMA)[:-1]) for r in results])
    baseline = table.filter(pl.col("model") == "most_popular").select(
        "k", "metric", pl.col("value").alias("_base")
    )
    return (
        table.join(baseline, on=["k", "metric"], how="left", maintain_order="left")
        .with_columns(
            value_vs_most_popular=pl.when(pl.col("_base") > 0).then(pl.col("value") / pl.col("_base"))
        )
        .drop("_base")
        .cast(EVALUATION_SCHEMA)
    )


def _value(metrics: pl.DataFrame, metric: str, k: int) -> float | None:
    row = metrics.filter((pl.col("metric") == metric) & (pl.col("k") == k))
    return row.get_column("value").item() if row.height else None
