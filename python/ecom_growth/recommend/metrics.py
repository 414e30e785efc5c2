"""Top-k ranking metrics from long frames, vectorised over users (polars joins, no user loop).

Inputs: ``recommendations`` (customer_id, product_id, rank: 1 = best, unique per customer) and
``relevant`` (customer_id, product_id: what each customer actually bought in the holdout).

Definitions (binary relevance; averaged over the users in ``relevant``, i.e. users with at
least one relevant item - a user with nothing relevant has undefined recall/NDCG and is not
counted; a relevant user with no recommendations counts as 0 everywhere):

* precision@k = hits@k / k (k even when fewer than k items were recommended: a short list
  is not rewarded).
* recall@k = hits@k / |relevant|. The standard definition; note it cannot reach 1 when
  |relevant| > k (the variant dividing by min(k, |relevant|) is the denominator of MAP below).
* NDCG@k = DCG@k / IDCG@k, DCG@k = sum over hits at rank r <= k of 1 / log2(r + 1), IDCG@k =
  the DCG of a perfect list: sum_{r=1}^{min(k, |relevant|)} 1 / log2(r + 1).
* MAP@k = mean over users of AP@k = (1 / min(k, |relevant|)) * sum over hits at rank r <= k of
  precision@r (the usual "apk" definition).
* coverage@k = distinct products in anyone's top k / catalogue size, over every customer in
  ``recommendations`` (pass only the evaluated customers' lists to match the other metrics).
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import polars as pl

from ecom_growth.recommend.matrix import ITEM_COL, USER_COL, as_ids, id_pairs, require_columns

METRICS: tuple[str, ...] = ("precision", "recall", "ndcg", "map", "coverage")
USER_METRICS: tuple[str, ...] = ("precision", "recall", "ndcg", "map")
LIST_METRICS: tuple[str, ...] = ("diversity", "novelty")
METRIC_SCHEMA = {"k": pl.Int32, "metric": pl.String, "value": pl.Float64, "users_evaluated": pl.Int64}


def _check_ks(ks: Iterable[int]) -> list[int]:
    ks = sorted({int(k) for k in ks})
    if not ks or ks[0] < 1:
        raise ValueError(f"ks must be positive integers, got {ks}")
    return ks


def per_user_metrics(
    recommendations: pl.DataFrame,
    relevant: pl.DataFrame,
    *,
    ks: Iterable[int],
) -> pl.DataFrame:
    """One row per user in ``relevant`` (sorted by customer_id): n_relevant and, for each k,
    ``precision_{k}``, ``recall_{k}``, ``ndcg_{k}``, ``map_{k}`` (definitions above).

    The per-user values are what a bootstrap over users resamples; their means are
    :func:`ranking_metrics`. Duplicate relevant pairs count once; duplicate ranks or products
    within a customer's recommendations are an error (they would inflate the hits).
    """
    ks = _check_ks(ks)
    require_columns(recommendations, (USER_COL, ITEM_COL, "rank"), "recommendations")
    require_columns(relevant, (USER_COL, ITEM_COL), "relevant")
    recs = _checked_recs(recommendations)
    rel = id_pairs(relevant).unique()
    n_rel = rel.group_by(USER_COL).agg(pl.len().alias("n_relevant"))
    k_max = ks[-1]
    hits = (
        recs.filter(pl.col("rank") <= k_max)
        .join(n_rel, on=USER_COL, how="semi")
        .join(rel.with_columns(hit=pl.lit(1, pl.Int64)), on=[USER_COL, ITEM_COL], how="left")
        .with_columns(pl.col("hit").fill_null(0))
        .sort([USER_COL, "rank"])
        .with_columns(cum_hits=pl.col("hit").cum_sum().over(USER_COL))
        .with_columns(
            gain=pl.col("hit") / (pl.col("rank") + 1).cast(pl.Float64).log(2),
            ap_term=pl.col("hit") * pl.col("cum_hits") / pl.col("rank"),
        )
    )
    per_user = n_rel.join(
        hits.group_by(USER_COL).agg(
            *[pl.col("hit").filter(pl.col("rank") <= k).sum().alias(f"hits_{k}") for k in ks],
            *[pl.col("gain").filter(pl.col("rank") <= k).sum().alias(f"dcg_{k}") for k in ks],
            *[pl.col("ap_term").filter(pl.col("rank") <= k).sum().alias(f"ap_{k}") for k in ks],
        ),
        on=USER_COL,
        how="left",
    ).fill_null(0).sort(USER_COL)  # fixed order: float means must not depend on hash order

    # ideal DCG for r relevant items, r = 0..k_max (index r-1 -> sum of the first r discounts)
    ideal = np.concatenate([[0.0], np.cumsum(1.0 / np.log2(np.arange(2, k_max + 2)))])
    columns = [pl.col(USER_COL), pl.col("n_relevant")]
    for k in ks:  # a handful of cut-offs, not a loop over users
        capped = pl.min_horizontal(pl.col("n_relevant"), pl.lit(k))
        idcg = capped.map_batches(lambda s: pl.Series(ideal[s.to_numpy()]), return_dtype=pl.Float64)
        columns += [
            (pl.col(f"hits_{k}") / k).cast(pl.Float64).alias(f"precision_{k}"),
            (pl.col(f"hits_{k}") / pl.col("n_relevant")).cast(pl.Float64).alias(f"recall_{k}"),
            (pl.col(f"dcg_{k}") / idcg).alias(f"ndcg_{k}"),
            (pl.col(f"ap_{k}") / capped).cast(pl.Float64).alias(f"map_{k}"),
        ]
    return per_user.select(columns)


def _checked_recs(recommendations: pl.DataFrame) -> pl.DataFrame:
    recs = id_pairs(recommendations).with_columns(recommendations.get_column("rank").cast(pl.Int64))
    if recs.get_column("rank").null_count() or (recs.get_column("rank") < 1).any():
        raise ValueError("recommendations.rank must be >= 1 and not null")
    if recs.select(pl.struct(USER_COL, "rank").is_duplicated().any()).item():
        raise ValueError("recommendations has duplicate (customer_id, rank)")
    if recs.select(pl.struct(USER_COL, ITEM_COL).is_duplicated().any()).item():
        raise ValueError("recommendations has duplicate (customer_id, product_id)")
    return recs


def ranking_metrics(
    recommendations: pl.DataFrame,
    relevant: pl.DataFrame,
    *,
    ks: Iterable[int] = (5, 10, 20),
    catalogue_size: int | None = None,
) -> pl.DataFrame:
    """precision, recall, NDCG, MAP (and coverage when ``catalogue_size`` is given) at each k.

    Returns long format: k, metric, value, users_evaluated (same for every row: the users
    in ``relevant``); the values are the means of :func:`per_user_metrics`.
    """
    ks = _check_ks(ks)
    per_user = per_user_metrics(recommendations, relevant, ks=ks)
    users = per_user.height
    rows: list[dict] = []
    for k in ks:
        for metric in ("precision", "recall", "ndcg", "map"):
            # numpy's pairwise sum over a sorted column: bit-identical on every run
            value = float(np.mean(per_user.get_column(f"{metric}_{k}").to_numpy())) if users else None
            rows.append({"k": k, "metric": metric, "value": value, "users_evaluated": users})
        if catalogue_size is not None:
            rows.append({"k": k, "metric": "coverage", "value": coverage(recommendations, k, catalogue_size),
                         "users_evaluated": users})
    return pl.DataFrame(rows, schema=METRIC_SCHEMA)


def coverage(recommendations: pl.DataFrame, k: int, catalogue_size: int) -> float | None:
    """Distinct products in anyone's top k / catalogue size (None for an empty catalogue)."""
    if catalogue_size <= 0:
        return None
    return recommendations.filter(pl.col("rank") <= k).get_column(ITEM_COL).n_unique() / catalogue_size


def list_diversity_novelty(
    recommendations: pl.DataFrame,
    categories: pl.DataFrame,
    item_users: pl.DataFrame,
    n_users: int,
    *,
    ks: Iterable[int],
) -> pl.DataFrame:
    """Beyond-accuracy metrics per customer: ``diversity_{k}`` and ``novelty_{k}`` for each k.

    * diversity@k (intra-list diversity by category): the share of pairs of products in the
      customer's top k whose categories differ (0 = one category, 1 = all different). From
      category counts c_j: 1 - sum c_j (c_j - 1) / (m (m - 1)), m = list length (null if m < 2).
    * novelty@k: mean self-information -log2 p_i of the top k, p_i = (buyers of i + 1) /
      (n_users + 1) in training (smoothed so a product nobody bought has finite novelty).

    ``categories``: product_id, category (unknown products form their own null category);
    ``item_users``: product_id, users (distinct training customers per product).
    """
    ks = _check_ks(ks)
    require_columns(categories, (ITEM_COL, "category"), "categories")
    require_columns(item_users, (ITEM_COL, "users"), "item_users")
    recs = _checked_recs(recommendations).join(
        pl.DataFrame([as_ids(categories.get_column(ITEM_COL)), categories.get_column("category").cast(pl.String)]),
        on=ITEM_COL, how="left",
    ).join(pl.DataFrame([as_ids(item_users.get_column(ITEM_COL)), item_users.get_column("users")]),
           on=ITEM_COL, how="left")
    recs = recs.with_columns(
        info=-((pl.col("users").fill_null(0) + 1) / (n_users + 1)).log(2),
    ).sort([USER_COL, "rank"])  # joins do not keep row order: fix it, so float means are reproducible
    frames = []
    for k in ks:
        top = recs.filter(pl.col("rank") <= k)
        same = (
            top.group_by(USER_COL, "category").agg(pl.len().alias("c"))
            .group_by(USER_COL).agg((pl.col("c") * (pl.col("c") - 1)).sum().alias("same"), pl.col("c").sum().alias("m"))
        )
        div = same.select(
            USER_COL,
            pl.when(pl.col("m") >= 2).then(1 - pl.col("same") / (pl.col("m") * (pl.col("m") - 1)))
            .cast(pl.Float64).alias(f"diversity_{k}"),
        )
        nov = top.group_by(USER_COL).agg(pl.col("info").mean().alias(f"novelty_{k}"))
        frames.append(div.join(nov, on=USER_COL, how="full", coalesce=True))
    out = frames[0]
    for frame in frames[1:]:
        out = out.join(frame, on=USER_COL, how="full", coalesce=True)
    return out.sort(USER_COL)
