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

from ecom_growth.recommend.matrix import ITEM_COL, USER_COL, require_columns

METRICS: tuple[str, ...] = ("precision", "recall", "ndcg", "map", "coverage")
METRIC_SCHEMA = {"k": pl.Int32, "metric": pl.String, "value": pl.Float64, "users_evaluated": pl.Int64}


def _check_ks(ks: Iterable[int]) -> list[int]:
    ks = sorted({int(k) for k in ks})
    if not ks or ks[0] < 1:
        raise ValueError(f"ks must be positive integers, got {ks}")
    return ks


def ranking_metrics(
    recommendations: pl.DataFrame,
    relevant: pl.DataFrame,
    *,
    ks: Iterable[int] = (5, 10, 20),
    catalogue_size: int | None = None,
) -> pl.DataFrame:
    """precision, recall, NDCG, MAP (and coverage when ``catalogue_size`` is given) at each k.

    Returns long format: k, metric, value, users_evaluated (same for every row: the users
    in ``relevant``). Duplicate relevant pairs count once; duplicate ranks or products within
    a customer's recommendations are an error (they would inflate the hits).
    """
    ks = _check_ks(ks)
    require_columns(recommendations, (USER_COL, ITEM_COL, "rank"), "recommendations")
    require_columns(relevant, (USER_COL, ITEM_COL), "relevant")
    recs = recommendations.select(
        pl.col(USER_COL).cast(pl.String), pl.col(ITEM_COL).cast(pl.String), pl.col("rank").cast(pl.Int64)
    )
    if recs.get_column("rank").null_count() or (recs.get_column("rank") < 1).any():
        raise ValueError("recommendations.rank must be >= 1 and not null")
    if recs.select(pl.struct(USER_COL, "rank").is_duplicated().any()).item():
        raise ValueError("recommendations has duplicate (customer_id, rank)")
    if recs.select(pl.struct(USER_COL, ITEM_COL).is_duplicated().any()).item():
        raise ValueError("recommendations has duplicate (customer_id, product_id)")
    rel = relevant.select(pl.col(USER_COL).cast(pl.String), pl.col(ITEM_COL).cast(pl.String)).unique()
    n_rel = rel.group_by(USER_COL).agg(pl.len().alias("n_relevant"))
    users = n_rel.height
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
    rows: list[dict] = []
    for k in ks:  # loop over a handful of cut-offs, not over users
        capped = pl.min_horizontal(pl.col("n_relevant"), pl.lit(k))
        idcg = capped.map_batches(lambda s: pl.Series(ideal[s.to_numpy()]), return_dtype=pl.Float64)
        if users:
            per_k = per_user.select(
                (pl.col(f"hits_{k}") / k).alias("precision"),
                (pl.col(f"hits_{k}") / pl.col("n_relevant")).alias("recall"),
                (pl.col(f"dcg_{k}") / idcg).alias("ndcg"),
                (pl.col(f"ap_{k}") / capped).alias("map"),
            )
            # numpy's pairwise sum over a sorted column: bit-identical on every run
            means = {c: float(np.mean(per_k.get_column(c).to_numpy())) for c in per_k.columns}
        else:
            means = {"precision": None, "recall": None, "ndcg": None, "map": None}
        for metric in ("precision", "recall", "ndcg", "map"):
            rows.append({"k": k, "metric": metric, "value": means[metric], "users_evaluated": users})
        if catalogue_size is not None:
            covered = recs.filter(pl.col("rank") <= k).get_column(ITEM_COL).n_unique()
            value = covered / catalogue_size if catalogue_size > 0 else None
            rows.append({"k": k, "metric": "coverage", "value": value, "users_evaluated": users})
    return pl.DataFrame(rows, schema=METRIC_SCHEMA)
