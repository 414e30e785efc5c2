"""Churn prediction on the snapshot table ``int_churn_snapshots``.

Churn definition (implemented in SQL, used here): at a snapshot date the population is every
customer with >= 1 completed order in the previous ``churn_lookback_days``; ``is_churned`` = 1
when that customer places no completed order in the following ``churn_window_days``. Labelled
snapshots lie before ``as_of - churn_window_days``; the scoring snapshot has a null label.

Fit once, read many (three dbt Python models, a few lines each)::

    models = fit_churn_models(snapshots, bgnbd_summary, window_days=90, ...)   # ml_churn_model
    evaluation = evaluate_models(models, snapshots, n_bootstrap=200, ...)     # ml_churn_model_evaluation
    calibration = calibration_table(models, snapshots, n_bins=10)             # ml_churn_calibration
    scores = score_customers(models, snapshots, risk_tiers=..., ...)          # ml_churn_scores

:mod:`~ecom_growth.churn.fit` documents the splits (validation and test label windows never
overlap a training one), calibration, selection by log loss and degradation.
"""

from ecom_growth.churn.assessment import (
    CALIBRATION_SCHEMA,
    EVALUATION_SCHEMA,
    calibration_table,
    evaluate_models,
    evaluation_snapshot_dates,
    snapshot_date_predicate,
)
from ecom_growth.churn.bgnbd import BGNBDChurnModel, fit_bgnbd_churn, p_no_purchase
from ecom_growth.churn.evaluation import (
    binary_metrics,
    bootstrap_metrics,
    log_loss_score,
    reliability_table,
)
from ecom_growth.churn.features import (
    FEATURE_NAMES,
    FEATURES,
    NUMERIC_FEATURES,
    REASON_GROUPS,
    prepare_features,
    validate_snapshots,
)
from ecom_growth.churn.fit import (
    MODEL_TABLE_SCHEMA,
    fit_churn_models,
    forward_folds,
    plan_splits,
)
from ecom_growth.churn.reasons import reason_contributions, top_reasons
from ecom_growth.churn.scoring import SCORES_SCHEMA, assign_risk_tiers, score_customers
from ecom_growth.churn.store import dump_model, load_model

__all__ = [
    "CALIBRATION_SCHEMA",
    "EVALUATION_SCHEMA",
    "FEATURES",
    "FEATURE_NAMES",
    "MODEL_TABLE_SCHEMA",
    "NUMERIC_FEATURES",
    "REASON_GROUPS",
    "SCORES_SCHEMA",
    "BGNBDChurnModel",
    "assign_risk_tiers",
    "binary_metrics",
    "bootstrap_metrics",
    "calibration_table",
    "dump_model",
    "evaluate_models",
    "evaluation_snapshot_dates",
    "fit_bgnbd_churn",
    "fit_churn_models",
    "forward_folds",
    "load_model",
    "log_loss_score",
    "p_no_purchase",
    "plan_splits",
    "prepare_features",
    "reason_contributions",
    "reliability_table",
    "score_customers",
    "snapshot_date_predicate",
    "top_reasons",
    "validate_snapshots",
]
