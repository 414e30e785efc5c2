"""What the dbt segment models call: RFM segments from the seed's rules + k-means clusters.

Input is ``dim_customers`` (one row per customer, with days_since_last_order,
completed_orders, revenue, average_order_value, tenure_days); only customers with at least
one completed order are segmented (the others have no recency, frequency or basket).

* ``segment_customers``  customers + seed rules -> one row per customer (ml_customer_segments):
  RFM scores and segment, k-means cluster. The clustering is fitted here, once.
* ``cluster_profiles``   those assignments + the customers' features -> one row per cluster
  (ml_customer_cluster_profiles), computed FROM the assignments, so the two tables agree by
  construction and k-means is not run a second time.

Both tables carry ``status`` ('ok' | 'degraded') and ``status_reason``. k-means is degraded
(``clustering_problem``) when there are fewer customers than ``min_customers`` (var
segments_min_customers) or fewer distinct feature profiles than the clusters asked for
(e.g. one customer, or every feature constant); the fallback is the RFM segments (computed
as always) with everybody in one cluster, cluster 0 'all customers', whose centroid is the
mean profile.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Sequence

import numpy as np
import polars as pl
from sklearn.metrics import silhouette_score
from threadpoolctl import threadpool_limits

from ecom_growth.segments.clustering import _signed_log1p, _standardise, kmeans_segments
from ecom_growth.segments.rfm import SCORE_DTYPE, assign_rfm_segments, rfm_scores

logger = logging.getLogger(__name__)

# Recency, frequency, monetary, basket size and tenure: k-means log-standardises each.
RFM_COLUMNS = ("days_since_last_order", "completed_orders", "revenue")
CLUSTER_FEATURES = ("days_since_last_order", "completed_orders", "revenue", "average_order_value", "tenure_days")
DEFAULT_SEGMENT = "other"
SINGLE_CLUSTER_LABEL = "all customers"
STATUS_SCHEMA: dict[str, pl.DataType] = {"status": pl.String, "status_reason": pl.String}

SEGMENTS_SCHEMA: dict[str, pl.DataType] = {
    "customer_id": pl.String,
    "recency_score": SCORE_DTYPE,
    "frequency_score": SCORE_DTYPE,
    "monetary_score": SCORE_DTYPE,
    "rfm_score": pl.String,
    "rfm_segment": pl.String,
    "cluster_id": pl.Int32,
    "cluster_label": pl.String,
    "distance_to_centroid": pl.Float64,
    "as_of": pl.Datetime("us"),
    **STATUS_SCHEMA,
}


def _profiles_schema(feature_columns: Sequence[str]) -> dict[str, pl.DataType]:
    return {
        "cluster_id": pl.Int32,
        "cluster_label": pl.String,
        "n_customers": pl.Int64,
        "share": pl.Float64,
        **{f"mean_{c}": pl.Float64 for c in feature_columns},
        "silhouette": pl.Float64,
        "k": pl.Int32,
        "as_of": pl.Datetime("us"),
        **STATUS_SCHEMA,
    }


PROFILES_SCHEMA = _profiles_schema(CLUSTER_FEATURES)


def parse_k(value: object) -> int | None:
    """var('segments_k') as rendered into a model config: None, 'None', '', 'null' or an int."""
    if value is None or (isinstance(value, str) and value.strip().lower() in ("", "none", "null")):
        return None
    k = int(value)  # type: ignore[arg-type]
    if k < 1:
        raise ValueError(f"segments_k must be >= 1 or null, got {value!r}")
    return k


def parse_k_range(value: object) -> tuple[int, int]:
    """var('segments_k_range') as rendered into a model config: [3, 8] or the string '[3, 8]'."""
    if isinstance(value, str):
        parts = [p for p in value.strip().strip("[]()").replace(" ", "").split(",") if p]
    else:
        parts = list(value)  # type: ignore[call-overload]
    if len(parts) != 2:
        raise ValueError(f"segments_k_range must be [low, high], got {value!r}")
    low, high = (int(p) for p in parts)
    return low, high


def clustering_problem(
    buyers: pl.DataFrame, feature_columns: Sequence[str], *, k: int | None, k_range: tuple[int, int], min_customers: int
) -> str | None:
    """Why k-means cannot find the clusters asked for in these customers, or None."""
    n = buyers.height
    if n < min_customers:
        return f"only {n} customers with a completed order (var segments_min_customers: {min_customers})"
    needed = k if k is not None else k_range[0]
    distinct = buyers.select(feature_columns).unique().height
    if distinct < needed:
        constant = distinct == 1 and n > 1
        detail = "every clustering feature is constant" if constant else f"only {distinct} distinct customer profile(s)"
        return f"{detail}; k-means needs at least {needed}"
    return None


def segment_customers(
    customers: pl.DataFrame,
    rules: pl.DataFrame,
    *,
    k: int | None = None,
    k_range: tuple[int, int] = (3, 8),
    seed: int = 42,
    as_of: dt.datetime | None = None,
    feature_columns: Sequence[str] = CLUSTER_FEATURES,
    min_customers: int = 1,
) -> pl.DataFrame:
    """RFM scores and segments plus k-means clusters for every customer with an order.

    Columns: customer_id, recency_score, frequency_score, monetary_score (1-5, quantile
    scores within these customers), rfm_score ("545"), rfm_segment (first matching rule of
    ``rules``, the seed; 'other' where no rule matches), cluster_id (0 = largest cluster),
    cluster_label, distance_to_centroid (in the log-standardised feature space), as_of,
    status, status_reason (see the module docstring for when k-means degrades to one cluster).

    ``cluster_profiles`` turns the result into the per-cluster table.

    ``k`` None picks the best silhouette in ``k_range`` (inclusive). Customers need the
    columns customer_id, completed_orders and ``feature_columns``; nulls in a feature of a
    customer with orders raise ValueError (from the library) naming the column.
    """
    what = "segment_customers"
    numeric = list(dict.fromkeys([*RFM_COLUMNS, *feature_columns]))
    missing = [c for c in ("customer_id", *numeric) if c not in customers.columns]
    if missing:
        raise ValueError(f"{what}: missing column(s) {missing}; got {customers.columns}")
    # Decimals (revenue) become floats: scores and k-means only need the order and the scale.
    # Sorted by customer: k-means' sample and k-means++ seeding pick rows by position, and a
    # warehouse returns rows in no particular order, so without this a rebuild of the same data
    # could move customers between clusters.
    buyers = (
        customers.filter(pl.col("completed_orders") > 0)
        .select(pl.col("customer_id"), *(pl.col(c).cast(pl.Float64) for c in numeric))
        .sort("customer_id")
    )
    logger.info("%s: %d of %d customers have a completed order", what, buyers.height, customers.height)

    scored = assign_rfm_segments(
        rfm_scores(buyers, recency="days_since_last_order", frequency="completed_orders", monetary="revenue"),
        rules,
        default_segment=DEFAULT_SEGMENT,
    )
    unmatched = scored.filter(pl.col("rfm_segment") == DEFAULT_SEGMENT).height
    if unmatched:
        logger.warning("%s: %d customers match no RFM rule (segment %r)", what, unmatched, DEFAULT_SEGMENT)

    problem = clustering_problem(buyers, feature_columns, k=k, k_range=k_range, min_customers=min_customers) if buyers.height else None
    status, reason = "ok", None
    if problem is None:
        assignments, profiles = kmeans_segments(
            buyers, feature_columns=list(feature_columns), k=k, k_range=k_range, seed=seed
        )
        labels = profiles.select("cluster_id", pl.col("label").alias("cluster_label"))
    else:
        status, reason = "degraded", f"{problem}; fell back to the RFM segments and a single cluster"
        logger.warning("%s: k-means degraded: %s", what, problem)
        assignments, profiles = kmeans_segments(buyers, feature_columns=list(feature_columns), k=1, seed=seed)
        labels = pl.DataFrame(
            {"cluster_id": [0], "cluster_label": [SINGLE_CLUSTER_LABEL]},
            schema={"cluster_id": pl.Int32, "cluster_label": pl.String},
        )
    logger.info("%s: k=%d, silhouette on the fit sample %s", what, profiles.height, profiles.get_column("silhouette").first())
    return (
        scored.join(assignments, on="customer_id", how="left", maintain_order="left")
        .join(labels, on="cluster_id", how="left", maintain_order="left")
        .with_columns(
            pl.lit(as_of, pl.Datetime("us")).alias("as_of"),
            pl.lit(status, pl.String).alias("status"),
            pl.lit(reason, pl.String).alias("status_reason"),
        )
        .select(list(SEGMENTS_SCHEMA))
        .cast({c: t for c, t in SEGMENTS_SCHEMA.items() if c != "customer_id"})
    )


def cluster_profiles(
    segments: pl.DataFrame,
    customers: pl.DataFrame,
    *,
    seed: int = 42,
    silhouette_sample_size: int = 5_000,
    feature_columns: Sequence[str] = CLUSTER_FEATURES,
) -> pl.DataFrame:
    """One row per cluster of ``segments`` (the output of ``segment_customers``).

    Columns: cluster_id, cluster_label, n_customers, share (of the segmented customers),
    mean_<feature> (raw units, from ``customers``), silhouette, k, as_of, status and
    status_reason (the clustering's, from ``segments``; 'ok' when it has no status column).

    silhouette is the mean silhouette of the final assignment (every customer, nearest
    centroid) on a seeded sample of ``silhouette_sample_size`` customers, in the same
    log1p-standardised space k-means used; null with fewer than two clusters. k is the number
    of clusters with customers. Empty segments -> empty frame.
    """
    what = "cluster_profiles"
    for frame, columns, label in (
        (segments, ("customer_id", "cluster_id", "cluster_label", "as_of"), "segments"),
        (customers, ("customer_id", *feature_columns), "customers"),
    ):
        missing = [c for c in columns if c not in frame.columns]
        if missing:
            raise ValueError(f"{what}: {label} is missing column(s) {missing}; got {frame.columns}")
    schema = _profiles_schema(feature_columns)
    if segments.height == 0:
        return pl.DataFrame(schema=schema)
    labels = segments.group_by("cluster_id").agg(pl.col("cluster_label").n_unique().alias("_labels"))
    if labels.get_column("_labels").max() != 1:
        raise ValueError(f"{what}: a cluster_id has more than one cluster_label")

    statuses = [pl.col(c) for c in STATUS_SCHEMA] if "status" in segments.columns else [
        pl.lit("ok", pl.String).alias("status"), pl.lit(None, pl.String).alias("status_reason")
    ]
    joined = segments.select("customer_id", "cluster_id", "cluster_label", "as_of", *statuses).join(
        customers.select("customer_id", *(pl.col(c).cast(pl.Float64) for c in feature_columns)),
        on="customer_id",
        how="left",
        maintain_order="left",
    )
    nulls = [c for c in feature_columns if joined.get_column(c).null_count()]
    if nulls:
        raise ValueError(f"{what}: customers of segments without feature values {nulls} in customers")
    joined = joined.sort("customer_id")  # sample below does not depend on the input order

    raw = joined.select(feature_columns).to_numpy()
    z = _standardise(_signed_log1p(raw), list(feature_columns))
    cluster = joined.get_column("cluster_id").to_numpy()
    rng = np.random.default_rng(seed)
    rows = np.sort(rng.choice(len(z), size=silhouette_sample_size, replace=False)) if len(z) > silhouette_sample_size else np.arange(len(z))
    n_labels = len(np.unique(cluster[rows]))
    silhouette = None
    if 2 <= n_labels < len(rows):
        with threadpool_limits(limits=1):
            silhouette = float(silhouette_score(z[rows], cluster[rows]))

    n_clusters = joined.get_column("cluster_id").n_unique()
    return (
        joined.group_by("cluster_id")
        .agg(
            pl.col("cluster_label").first(),
            pl.len().cast(pl.Int64).alias("n_customers"),
            *(pl.col(c).mean().alias(f"mean_{c}") for c in feature_columns),
            pl.col("as_of").first(),
            pl.col("status").first(),
            pl.col("status_reason").first(),
        )
        .with_columns(
            (pl.col("n_customers") / joined.height).alias("share"),
            pl.lit(silhouette, pl.Float64).alias("silhouette"),
            pl.lit(n_clusters, pl.Int32).alias("k"),
        )
        .sort("cluster_id")
        .select(list(schema))
        .cast(schema)
    )
