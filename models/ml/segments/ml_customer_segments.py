"""RFM scores and segments (rules from the seed rfm_segments, which marketing edits) plus
k-means behavioural clusters, one row per customer with a completed order. The clustering is
fitted here, once. See ecom_growth.segments.pipeline.segment_customers."""

from ecom_growth.segments.pipeline import parse_k, parse_k_range, segment_customers


def model(dbt, session):
    dbt.config(materialized="table")
    return segment_customers(
        dbt.ref("dim_customers").pl(),
        dbt.ref("rfm_segments").pl(),
        k=parse_k(dbt.config.get("segments_k")),
        k_range=parse_k_range(dbt.config.get("segments_k_range")),
        seed=int(dbt.config.get("segments_seed")),
        as_of=dbt.ref("int_as_of").pl().item(0, "as_of"),
        min_customers=int(dbt.config.get("segments_min_customers")),
    )
