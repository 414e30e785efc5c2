"""Customer segments: rule-based RFM segments and k-means behavioural clusters.

    scored = rfm_scores(customers)                      # + recency/frequency/monetary_score, rfm_score
    segmented = assign_rfm_segments(scored, rules)      # + rfm_segment (rules = seeds/rfm_segments.csv)
    assignments, profiles = kmeans_segments(features, feature_columns=[...])
"""

from ecom_growth.segments.clustering import DEFAULT_FEATURE_LABELS, kmeans_segments
from ecom_growth.segments.rfm import (
    DEFAULT_RFM_SEGMENT_RULES,
    DEFAULT_RFM_SEGMENT_RULES_CSV,
    assign_rfm_segments,
    rfm_scores,
    rfm_segment_coverage,
)

__all__ = [
    "DEFAULT_FEATURE_LABELS",
    "DEFAULT_RFM_SEGMENT_RULES",
    "DEFAULT_RFM_SEGMENT_RULES_CSV",
    "assign_rfm_segments",
    "kmeans_segments",
    "rfm_scores",
    "rfm_segment_coverage",
]
