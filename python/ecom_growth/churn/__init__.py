"""Churn prediction on the snapshot table ``int_churn_snapshots``.

Churn definition (implemented in SQL, used here): at a snapshot date the population is every
customer with >= 1 completed order in the previous ``churn_lookback_days`` (default 365);
``is_churned`` = 1 when that customer places no completed order in the following
``churn_window_days`` (default 90). Monthly labelled snapshots lie before
``as_of - churn_window_days``; the scoring snapshot at ``as_of`` has a null label.

A dbt Python model needs three lines::

    from ecom_growth.churn import train_and_score
    result = train_and_score(dbt.ref("int_churn_snapshots").pl(), risk_tiers={"high": 0.6, "medium": 0.3})
    return result.scores        # or result.evaluation

``result.scores`` is ``ml_churn_scores`` (:data:`SCORES_SCHEMA`), ``result.evaluation`` is
``ml_churn_model_evaluation`` (:data:`EVALUATION_SCHEMA`). Same input, same output.
"""

from ecom_growth.churn.evaluation import (
    EVALUATION_SCHEMA,
    best_f1_threshold,
    binary_metrics,
    reliability_table,
)
from ecom_growth.churn.features import (
    CATEGORICAL_FEATURES,
    FEATURE_NAMES,
    FEATURES,
    NUMERIC_FEATURES,
    REQUIRED_COLUMNS,
    Feature,
    FeatureReference,
    feature_spec_frame,
    prepare_features,
    reference_values,
    validate_snapshots,
)
from ecom_growth.churn.models import (
    default_models,
    make_hist_gradient_boosting,
    make_logistic_regression,
    make_recency_baseline,
)
from ecom_growth.churn.reasons import predict_churn_probability, reason_contributions, top_reasons
from ecom_growth.churn.train import (
    DEFAULT_RISK_TIERS,
    SCORES_SCHEMA,
    ChurnResult,
    assign_risk_tiers,
    score_snapshot,
    train_and_score,
)

__all__ = [
    "CATEGORICAL_FEATURES",
    "DEFAULT_RISK_TIERS",
    "EVALUATION_SCHEMA",
    "FEATURES",
    "FEATURE_NAMES",
    "NUMERIC_FEATURES",
    "REQUIRED_COLUMNS",
    "SCORES_SCHEMA",
    "ChurnResult",
    "Feature",
    "FeatureReference",
    "assign_risk_tiers",
    "best_f1_threshold",
    "binary_metrics",
    "default_models",
    "feature_spec_frame",
    "make_hist_gradient_boosting",
    "make_logistic_regression",
    "make_recency_baseline",
    "predict_churn_probability",
    "prepare_features",
    "reason_contributions",
    "reference_values",
    "reliability_table",
    "score_snapshot",
    "top_reasons",
    "train_and_score",
    "validate_snapshots",
]
