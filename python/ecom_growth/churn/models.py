"""Candidate churn models: scikit-learn pipelines that take the polars X of ``prepare_features``.

Three candidates, all with a fixed ``random_state`` so a rebuild gives the same scores:

- ``recency_baseline``: logistic regression on ``log1p(days_since_last_order)`` alone. The
  question every churn model must answer first is "does it beat 'has not ordered for a while'?";
  this row in the evaluation table answers it.
- ``logistic_regression``: all features; numerics signed-log1p (heavy-tailed ones), median
  imputation with missing indicators ("no reviews" is a signal), standardised; categoricals
  one-hot with unknown categories ignored. Interpretable and well calibrated when the log-odds
  are close to additive.
- ``hist_gradient_boosting``: all features, NaN handled natively (no imputation, so
  missingness can go either way at each split), categoricals as native categorical splits.
  Captures interactions (e.g. recency relative to the customer's own rhythm). Risk is
  constrained to rise with ``days_since_last_order`` (the spec's ``monotone``).

Each pipeline accepts exactly the columns of :data:`FEATURE_NAMES`, so any candidate can be
swapped, calibrated or perturbed (reasons) without knowing its internals.
"""

from __future__ import annotations

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import FunctionTransformer, OneHotEncoder, OrdinalEncoder, StandardScaler

from ecom_growth.churn.features import (
    CATEGORICAL_FEATURES,
    LOG_SCALED_FEATURES,
    MONOTONE,
    NUMERIC_FEATURES,
)

MAX_CATEGORIES = 64
"""Rare categories beyond this are pooled: keeps one-hot width and HGB bins bounded."""

BASELINE = "recency_baseline"
LOGISTIC = "logistic_regression"
GRADIENT_BOOSTING = "hist_gradient_boosting"


def signed_log1p(x: np.ndarray) -> np.ndarray:
    """sign(x) * log1p(|x|): compresses heavy tails, monotone, defined for negatives and NaN."""
    return np.sign(x) * np.log1p(np.abs(x))


class EmptyColumnsToZero(TransformerMixin, BaseEstimator):
    """Replace columns that are entirely NaN at fit time by zeros (same columns, same order).

    HistGradientBoosting cannot bin an all-NaN column (e.g. no events table, or a training
    fold from before events were collected); a constant column carries no information and
    never splits. Keeping the column (rather than dropping it) keeps column positions fixed,
    which ``categorical_features`` and ``monotonic_cst`` rely on.
    """

    def fit(self, X, y=None):  # noqa: D102 - sklearn protocol
        X = np.asarray(X, dtype=np.float64)
        self.empty_ = np.all(np.isnan(X), axis=0) if X.shape[0] else np.zeros(X.shape[1], bool)
        self.n_features_in_ = X.shape[1]
        return self

    def transform(self, X):  # noqa: D102 - sklearn protocol
        X = np.array(X, dtype=np.float64)
        X[:, self.empty_] = 0.0
        return X

    def get_feature_names_out(self, input_features=None):  # noqa: D102 - sklearn protocol
        return np.asarray(
            input_features if input_features is not None
            else [f"x{i}" for i in range(self.n_features_in_)], dtype=object
        )


def _numeric_branch(columns: list[str], log: bool) -> Pipeline:
    steps = [FunctionTransformer(signed_log1p, feature_names_out="one-to-one")] if log else []
    steps += [
        SimpleImputer(strategy="median", add_indicator=True, keep_empty_features=True),
        StandardScaler(),
    ]
    return make_pipeline(*steps)


def make_logistic_regression(random_state: int = 42, *, C: float = 1.0) -> Pipeline:
    """Regularised logistic regression over every feature (see module docstring)."""
    log_cols = [c for c in NUMERIC_FEATURES if c in LOG_SCALED_FEATURES]
    lin_cols = [c for c in NUMERIC_FEATURES if c not in LOG_SCALED_FEATURES]
    prep = ColumnTransformer(
        [
            ("log_numeric", _numeric_branch(log_cols, log=True), log_cols),
            ("numeric", _numeric_branch(lin_cols, log=False), lin_cols),
            ("categorical",
             OneHotEncoder(handle_unknown="infrequent_if_exist", max_categories=MAX_CATEGORIES),
             list(CATEGORICAL_FEATURES)),
        ],
        sparse_threshold=0.0,
    )
    model = LogisticRegression(C=C, max_iter=2000, random_state=random_state)
    return Pipeline([("prep", prep), ("model", model)])


def make_hist_gradient_boosting(random_state: int = 42) -> Pipeline:
    """Gradient-boosted trees with native NaN and categorical handling (see module docstring).

    Conservative settings (shallow-ish trees, leaf minimum, L2, early stopping on an internal
    split seeded by ``random_state``) because the label is noisy and snapshots repeat customers.
    """
    prep = ColumnTransformer(
        [
            ("categorical",
             OrdinalEncoder(handle_unknown="use_encoded_value", unknown_value=np.nan,
                            encoded_missing_value=np.nan, max_categories=MAX_CATEGORIES),
             list(CATEGORICAL_FEATURES)),
            ("numeric", EmptyColumnsToZero(), list(NUMERIC_FEATURES)),
        ],
        sparse_threshold=0.0,
    )
    model = HistGradientBoostingClassifier(
        learning_rate=0.08,
        max_iter=300,
        max_leaf_nodes=15,
        min_samples_leaf=40,
        l2_regularization=1.0,
        early_stopping=True,
        validation_fraction=0.15,
        n_iter_no_change=15,
        # categoricals come first out of the ColumnTransformer, then numerics in spec order
        categorical_features=list(range(len(CATEGORICAL_FEATURES))),
        monotonic_cst=[0] * len(CATEGORICAL_FEATURES) + [MONOTONE.get(c, 0) for c in NUMERIC_FEATURES],
        random_state=random_state,
    )
    return Pipeline([("prep", prep), ("model", model)])


def make_recency_baseline(random_state: int = 42) -> Pipeline:
    """Logistic regression on log1p(days_since_last_order) only: the bar to beat."""
    prep = ColumnTransformer(
        [("recency", _numeric_branch(["days_since_last_order"], log=True),
          ["days_since_last_order"])],
    )
    model = LogisticRegression(max_iter=1000, random_state=random_state)
    return Pipeline([("prep", prep), ("model", model)])


def default_models(random_state: int = 42) -> dict[str, Pipeline]:
    """The candidates compared by ``train_and_score``, simplest first (ties go to simpler)."""
    return {
        BASELINE: make_recency_baseline(random_state),
        LOGISTIC: make_logistic_regression(random_state),
        GRADIENT_BOOSTING: make_hist_gradient_boosting(random_state),
    }
