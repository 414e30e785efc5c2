"""Behavioural customer segments by k-means on standardised log features.

RFM rules encode what marketing already believes; clustering shows the groups the data
actually has. Customer features are heavy-tailed (a few customers have 100x the median
revenue), so each feature is log1p-transformed and standardised before k-means, otherwise
the clusters would just split off the top 1% of spenders.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence

import numpy as np
import polars as pl
from sklearn.cluster import KMeans
from sklearn.metrics import silhouette_score
from threadpoolctl import threadpool_limits

logger = logging.getLogger(__name__)

# Words used in cluster labels for well-known feature names: (when low, when high).
DEFAULT_FEATURE_LABELS: dict[str, tuple[str, str]] = {
    "revenue": ("low value", "high value"),
    "monetary_value": ("low value", "high value"),
    "predicted_clv": ("low predicted value", "high predicted value"),
    "completed_orders": ("infrequent", "frequent"),
    "frequency": ("infrequent", "frequent"),
    "days_since_last_order": ("recent", "lapsed"),
    "average_order_value": ("small baskets", "big baskets"),
    "days_since_first_order": ("new", "long-standing"),
    "tenure_days": ("new", "long-standing"),
}
LABEL_Z_THRESHOLD = 0.5
LABEL_MAX_FEATURES = 2


def _signed_log1p(values: np.ndarray) -> np.ndarray:
    """log1p for non-negative values, mirrored for negative ones (refunds), so the
    transform is defined everywhere and monotone."""
    return np.sign(values) * np.log1p(np.abs(values))


def _empty_outputs(
    customer_dtype: pl.DataType, feature_columns: Sequence[str]
) -> tuple[pl.DataFrame, pl.DataFrame]:
    assignments = pl.DataFrame(
        schema={"customer_id": customer_dtype, "cluster_id": pl.Int32, "distance_to_centroid": pl.Float64}
    )
    profiles = pl.DataFrame(schema=_profile_schema(feature_columns))
    return assignments, profiles


def _profile_schema(feature_columns: Sequence[str]) -> dict[str, pl.DataType]:
    return {
        "cluster_id": pl.Int32,
        "n_customers": pl.Int64,
        "share": pl.Float64,
        **{f"mean_{c}": pl.Float64 for c in feature_columns},
        "silhouette": pl.Float64,
        "k": pl.Int32,
        "label": pl.String,
    }


def kmeans_segments(
    features: pl.DataFrame,
    *,
    feature_columns: Sequence[str],
    customer_id: str = "customer_id",
    k: int | None = None,
    k_range: tuple[int, int] = (3, 8),
    seed: int = 42,
    sample_size: int = 50_000,
    silhouette_sample_size: int = 5_000,
    n_init: int = 4,
    feature_labels: Mapping[str, tuple[str, str]] | None = None,
    n_threads: int | None = 1,
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Cluster customers; returns (assignments, profiles).

    assignments: customer_id (named as the input column), cluster_id, distance_to_centroid
    (Euclidean, in the standardised log space the clustering used).
    profiles: cluster_id, n_customers, share, mean_<feature> (raw units) for each feature,
    silhouette (of the chosen k, on the silhouette sample; null when undefined), k, label.

    Steps: signed log1p of each feature, z-score (a constant column becomes all zeros and
    plays no part); k-means (k-means++, ``n_init`` restarts, ``random_state=seed``) fitted on
    a deterministic random sample of ``sample_size`` customers, then every customer is
    assigned to the nearest centroid. With ``k=None``, k is the value in ``k_range``
    (inclusive) with the best silhouette on a ``silhouette_sample_size`` subsample of that
    sample (ties go to the smaller k).

    Cluster ids are ordered by size (0 = largest) so they are stable across runs. Labels
    come from the centroid z-scores: up to two features with |z| >= 0.5, strongest first,
    worded with ``feature_labels`` (merged over ``DEFAULT_FEATURE_LABELS``; otherwise
    "high <feature>" / "low <feature>"), e.g. "high value, frequent"; "average" when no
    feature stands out. Duplicate labels get " (2)", " (3)" appended.

    Fewer distinct customers than clusters: k is reduced to the number of distinct feature
    rows (logged), because k-means cannot make more non-empty clusters than there are
    distinct points; with a single distinct point everybody is cluster 0 and silhouette is
    null. Nulls, NaN, non-numeric features or duplicate customer ids raise ValueError naming
    the column. Empty input returns empty frames with the output schemas.

    ``n_threads`` caps the OpenMP/BLAS threads scikit-learn uses (None = library default).
    One thread is the default because k-means on a busy machine (dbt running models in
    parallel) slows down >10x when its threads are oversubscribed; on an idle machine more
    threads help a little.
    """
    what = "kmeans_segments"
    feature_columns = list(feature_columns)
    if not feature_columns:
        raise ValueError(f"{what}: feature_columns is empty")
    missing = [c for c in [customer_id, *feature_columns] if c not in features.columns]
    if missing:
        raise ValueError(f"{what}: missing column(s) {missing}; got {features.columns}")
    if k is not None and k < 1:
        raise ValueError(f"{what}: k must be >= 1")
    if k_range[0] < 2 or k_range[1] < k_range[0]:
        raise ValueError(f"{what}: k_range must be (low, high) with 2 <= low <= high")
    for column in feature_columns:
        series = features.get_column(column)
        if not series.dtype.is_numeric():
            raise ValueError(f"{what}: feature {column!r} must be numeric, got {series.dtype}")
        if series.null_count():
            raise ValueError(f"{what}: feature {column!r} has {series.null_count()} null value(s)")
    ids = features.get_column(customer_id)
    if ids.null_count():
        raise ValueError(f"{what}: column {customer_id!r} has null values")
    if features.height == 0:
        assignments, profiles = _empty_outputs(ids.dtype, feature_columns)
        return assignments.rename({"customer_id": customer_id}) if customer_id != "customer_id" else assignments, profiles
    if ids.n_unique() != features.height:
        raise ValueError(f"{what}: column {customer_id!r} has duplicate values")

    raw = features.select(pl.col(c).cast(pl.Float64) for c in feature_columns).to_numpy()
    if not np.all(np.isfinite(raw)):
        bad = [c for j, c in enumerate(feature_columns) if not np.all(np.isfinite(raw[:, j]))]
        raise ValueError(f"{what}: feature(s) {bad} have NaN or infinite values")
    z = _standardise(_signed_log1p(raw), feature_columns)

    n = len(z)
    rng = np.random.default_rng(seed)
    fit_rows = np.sort(rng.choice(n, size=sample_size, replace=False)) if n > sample_size else np.arange(n)
    z_fit = z[fit_rows]
    n_distinct = len(np.unique(z_fit, axis=0))

    silhouette_rows = (
        np.sort(rng.choice(len(z_fit), size=silhouette_sample_size, replace=False))
        if len(z_fit) > silhouette_sample_size
        else np.arange(len(z_fit))
    )
    z_silhouette = z_fit[silhouette_rows]

    def fit(n_clusters: int) -> KMeans:
        with threadpool_limits(limits=n_threads):
            return KMeans(n_clusters=n_clusters, n_init=n_init, random_state=seed).fit(z_fit)

    def silhouette(model: KMeans) -> float | None:
        labels = model.labels_[silhouette_rows]
        if len(np.unique(labels)) < 2 or len(np.unique(labels)) >= len(labels):
            return None
        with threadpool_limits(limits=n_threads):
            return float(silhouette_score(z_silhouette, labels))

    if k is not None:
        chosen_k = min(k, n_distinct)
        if chosen_k < k:
            logger.warning("%s: k=%d reduced to %d (distinct customers)", what, k, chosen_k)
        model = fit(chosen_k)
        chosen_silhouette = silhouette(model)
    else:
        candidates = [c for c in range(k_range[0], k_range[1] + 1) if c <= n_distinct]
        if not candidates:
            chosen_k = n_distinct
            logger.warning("%s: only %d distinct customers; k=%d", what, n_distinct, chosen_k)
            model = fit(chosen_k)
            chosen_silhouette = silhouette(model)
        else:
            best: tuple[float, int, KMeans, float | None] | None = None
            for candidate in candidates:
                candidate_model = fit(candidate)
                score = silhouette(candidate_model)
                logger.info("%s: k=%d silhouette=%s", what, candidate, score)
                key = -np.inf if score is None else score
                if best is None or key > best[0]:
                    best = (key, candidate, candidate_model, score)
            assert best is not None
            _, chosen_k, model, chosen_silhouette = best

    centroids = model.cluster_centers_
    with threadpool_limits(limits=n_threads):
        labels = _nearest_centroid(z, centroids)
    labels, centroids = _order_by_size(labels, centroids)
    distance = np.sqrt(np.sum((z - centroids[labels]) ** 2, axis=1))

    assignments = pl.DataFrame(
        {
            customer_id: ids,
            "cluster_id": pl.Series(labels, dtype=pl.Int32),
            "distance_to_centroid": distance,
        }
    )
    words = {**DEFAULT_FEATURE_LABELS, **(feature_labels or {})}
    counts = np.bincount(labels, minlength=len(centroids))
    sums = np.stack([np.bincount(labels, weights=raw[:, j], minlength=len(centroids)) for j in range(raw.shape[1])], axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        means = np.where(counts[:, None] > 0, sums / counts[:, None], np.nan)
    profiles = pl.DataFrame(
        {
            "cluster_id": pl.Series(np.arange(len(centroids)), dtype=pl.Int32),
            "n_customers": counts.astype(np.int64),
            "share": counts / n,
            **{f"mean_{col}": means[:, j] for j, col in enumerate(feature_columns)},
            "silhouette": [chosen_silhouette] * len(centroids),
            "k": pl.Series([len(centroids)] * len(centroids), dtype=pl.Int32),
            "label": _labels(centroids, feature_columns, words),
        },
        schema=_profile_schema(feature_columns),
    ).with_columns(pl.col(f"mean_{col}").fill_nan(None) for col in feature_columns)
    return assignments, profiles


def _standardise(x: np.ndarray, feature_columns: Sequence[str]) -> np.ndarray:
    mean = x.mean(axis=0)
    std = x.std(axis=0)
    constant = std <= 1e-12 * np.maximum(1.0, np.abs(mean))
    if np.any(constant):
        logger.warning(
            "kmeans_segments: constant feature(s) %s take no part in the clustering",
            [c for c, is_constant in zip(feature_columns, constant) if is_constant],
        )
    return np.where(constant, 0.0, (x - mean) / np.where(constant, 1.0, std))


def _nearest_centroid(z: np.ndarray, centroids: np.ndarray, chunk: int = 200_000) -> np.ndarray:
    """Index of the nearest centroid, in chunks so memory stays at chunk x k."""
    out = np.empty(len(z), dtype=np.int64)
    for start in range(0, len(z), chunk):
        block = z[start : start + chunk]
        d2 = (block**2).sum(axis=1)[:, None] - 2 * block @ centroids.T + (centroids**2).sum(axis=1)[None, :]
        out[start : start + chunk] = np.argmin(d2, axis=1)
    return out


def _order_by_size(labels: np.ndarray, centroids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Renumber clusters by descending size (ties: centroid coordinates) for stable ids."""
    counts = np.bincount(labels, minlength=len(centroids))
    order = sorted(range(len(centroids)), key=lambda c: (-counts[c], *centroids[c].tolist()))
    new_id = np.empty(len(centroids), dtype=np.int64)
    new_id[order] = np.arange(len(centroids))
    return new_id[labels], centroids[order]


def _labels(
    centroids: np.ndarray, feature_columns: Sequence[str], words: Mapping[str, tuple[str, str]]
) -> list[str]:
    labels: list[str] = []
    seen: dict[str, int] = {}
    for centroid in centroids:
        strongest = sorted(
            (j for j in range(len(feature_columns)) if abs(centroid[j]) >= LABEL_Z_THRESHOLD),
            key=lambda j: (-abs(centroid[j]), j),
        )[:LABEL_MAX_FEATURES]
        parts = []
        for j in strongest:
            column = feature_columns[j]
            low, high = words.get(column, (f"low {column}", f"high {column}"))
            parts.append(high if centroid[j] > 0 else low)
        label = ", ".join(parts) if parts else "average"
        seen[label] = seen.get(label, 0) + 1
        labels.append(label if seen[label] == 1 else f"{label} ({seen[label]})")
    return labels
