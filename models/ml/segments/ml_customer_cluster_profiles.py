"""One row per k-means cluster of ml_customer_segments: size, share, mean features, label,
silhouette. Computed from the assignments (no second k-means), so the two tables agree.
See ecom_growth.segments.pipeline.cluster_profiles."""

from ecom_growth.segments.pipeline import cluster_profiles


def model(dbt, session):
    dbt.config(materialized="table")
    return cluster_profiles(
        dbt.ref("ml_customer_segments").pl(),
        dbt.ref("dim_customers").pl(),
        seed=int(dbt.config.get("segments_seed")),
    )
