"""Candidate churn models and the fitted-model objects that are stored in ``ml_churn_model``.

Five candidates, all deterministic for a given ``random_state``; the first three are the
baselines a skeptic would propose:

- ``base_rate``: the training churn rate for everyone (the prior; no ranking at all).
- ``recency_baseline``: logistic regression on ``log1p(days_since_last_order)`` alone: "does
  the model beat 'has not ordered for a while'?".
- ``bgnbd_baseline``: the BG/NBD probability of no purchase in the churn window
  (:mod:`ecom_growth.churn.bgnbd`), fitted on purchase histories before the snapshot, no labels.
- ``logistic_regression``: all features; numerics signed-log1p (heavy-tailed ones), median
  imputation with missing indicators ("no reviews" is a signal), standardised; categoricals
  one-hot with unknown categories ignored.
- ``hist_gradient_boosting``: all features, NaN handled natively, categoricals as native
  splits, risk constrained to rise with ``days_since_last_order``. Early stopping uses a
  held-out set of whole CUSTOMERS (a customer appears in several snapshots, so a random row
  split would leak a customer's other months into the stopping set), at most
  :data:`HGB_MAX_ITER` rounds.

Every fitted model has ``predict(features) -> P(churn)`` on the output of
:func:`~ecom_growth.churn.features.prepare_features`, so evaluation, reasons and scoring
treat them alike, and every one pickles (``ml_churn_model`` stores them).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import polars as pl
from sklearn.base import BaseEstimator, TransformerMixin, clone
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.impute import SimpleImputer
from sklearn.isotonic import IsotonicRegression
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import (
    FunctionTransformer,
    OneHotEncoder,
    OrdinalEncoder,
    StandardScaler,
)

from ecom_growth.churn.features import (
    CATEGORICAL_FEATURES,
    LOG_SCALED_FEATURES,
    MONOTONE,
    NUMERIC_FEATURES,
)

MAX_CATEGORIES = 64
"""Rare categories beyond this are pooled: keeps one-hot width and HGB bins bounded."""

BASE_RATE = "base_rate"
BASELINE = "recency_baseline"
BGNBD = "bgnbd_baseline"
LOGISTIC = "logistic_regression"
GRADIENT_BOOSTING = "hist_gradient_boosting"
CANDIDATES: tuple[str, ...] = (BASE_RATE, BASELINE, BGNBD, LOGISTIC, GRADIENT_BOOSTING)
"""Simplest first: ties in the selection score go to the earlier (simpler) one."""
BASELINES: tuple[str, ...] = (BASE_RATE, BASELINE, BGNBD)
LABEL_TRAINED: tuple[str, ...] = (BASELINE, LOGISTIC, GRADIENT_BOOSTING)
"""Candidates fitted on labels with scikit-learn (and therefore calibratable)."""

HGB_MAX_ITER = 200
HGB_EARLY_STOPPING_SHARE = 0.15
"""Share of training CUSTOMERS held out to stop boosting early."""
CALIBRATION_METHODS: tuple[str, ...] = ("sigmoid", "isotonic")
_EPS = 1e-6


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

    def fit(self, X, y=None):
        X = np.asarray(X, dtype=np.float64)
        self.empty_ = np.all(np.isnan(X), axis=0) if X.shape[0] else np.zeros(X.shape[1], bool)
        self.n_features_in_ = X.shape[1]
        return self

    def transform(self, X):
        X = np.array(X, dtype=np.float64)
        X[:, self.empty_] = 0.0
        return X

    def get_feature_names_out(self, input_features=None):
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


def make_logistic_regression(random_state: int, *, C: float = 1.0) -> Pipeline:
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


def make_hist_gradient_boosting(random_state: int) -> Pipeline:
    """Gradient-boosted trees with native NaN and categorical handling (see module docstring).

    Conservative settings (shallow-ish trees, leaf minimum, L2) because the label is noisy and
    snapshots repeat customers; early stopping on held-out customers (:func:`fit_estimator`).
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
        learning_rate=0.1,
        max_iter=HGB_MAX_ITER,
        max_leaf_nodes=15,
        min_samples_leaf=40,
        l2_regularization=1.0,
        early_stopping=True,
        n_iter_no_change=10,
        # categoricals come first out of the ColumnTransformer, then numerics in spec order
        categorical_features=list(range(len(CATEGORICAL_FEATURES))),
        monotonic_cst=[0] * len(CATEGORICAL_FEATURES) + [MONOTONE.get(c, 0) for c in NUMERIC_FEATURES],
        random_state=random_state,
    )
    return Pipeline([("prep", prep), ("model", model)])


def make_recency_baseline(random_state: int) -> Pipeline:
    """Logistic regression on log1p(days_since_last_order) only: the bar to beat."""
    prep = ColumnTransformer(
        [("recency", _numeric_branch(["days_since_last_order"], log=True),
          ["days_since_last_order"])],
    )
    model = LogisticRegression(max_iter=1000, random_state=random_state)
    return Pipeline([("prep", prep), ("model", model)])


def sklearn_candidates(random_state: int) -> dict[str, Pipeline]:
    """The label-trained candidates (unfitted), simplest first."""
    return {
        BASELINE: make_recency_baseline(random_state),
        LOGISTIC: make_logistic_regression(random_state),
        GRADIENT_BOOSTING: make_hist_gradient_boosting(random_state),
    }


def customer_holdout(customer_id: pl.Series, share: float, random_state: int) -> np.ndarray:
    """Boolean mask: rows of a deterministic ``share`` of customers (all rows of a customer together)."""
    key = customer_id.cast(pl.String).hash(seed=random_state).to_numpy()
    return (key % 10_000) < round(share * 10_000)


def fit_estimator(
    estimator: Pipeline, X: pl.DataFrame, y: np.ndarray, customer_id: pl.Series, random_state: int,
) -> Pipeline:
    """Fit a clone of a candidate pipeline. Gradient boosting stops early on held-out customers.

    The other pipelines are fitted on all rows. Both classes must be present in ``y``.
    """
    model = clone(estimator)
    last = model.steps[-1][1]
    if not isinstance(last, HistGradientBoostingClassifier):
        return model.fit(X, y)
    held_out = customer_holdout(customer_id, HGB_EARLY_STOPPING_SHARE, random_state)
    if len(np.unique(y[held_out])) < 2 or len(np.unique(y[~held_out])) < 2:
        held_out = np.zeros(len(y), dtype=bool)
    prep = model.steps[0][1]
    if not held_out.any():  # too few customers to hold any out: a fixed number of rounds
        last.set_params(early_stopping=False, max_iter=HGB_MAX_ITER // 2)
        return model.fit(X, y)
    mask = pl.Series(held_out)
    prep.fit(X.filter(~mask), y[~held_out])
    last.fit(prep.transform(X.filter(~mask)), y[~held_out],
             X_val=prep.transform(X.filter(mask)), y_val=y[held_out])
    return model


@dataclass(frozen=True)
class Calibrator:
    """A monotone map of raw probabilities, fitted on out-of-time predictions.

    ``sigmoid`` is Platt scaling on the logit (a logistic regression of the label on
    logit(p)); ``isotonic`` a non-decreasing step function clipped to [0, 1].
    """

    method: str
    model: object

    def apply(self, p: np.ndarray) -> np.ndarray:
        if self.method == "sigmoid":
            return self.model.predict_proba(_logit(p))[:, 1]
        return np.clip(self.model.predict(p), 0.0, 1.0)


def _logit(p: np.ndarray) -> np.ndarray:
    p = np.clip(np.asarray(p, dtype=np.float64), _EPS, 1 - _EPS)
    return np.log(p / (1 - p)).reshape(-1, 1)


def fit_calibrator(method: str, p: np.ndarray, y: np.ndarray) -> Calibrator:
    """Fit a ``sigmoid`` or ``isotonic`` calibrator of predictions ``p`` against labels ``y``."""
    if method == "sigmoid":
        return Calibrator(method, LogisticRegression(C=1e6, max_iter=1000).fit(_logit(p), y))
    if method == "isotonic":
        return Calibrator(method, IsotonicRegression(out_of_bounds="clip", y_min=0.0,
                                                     y_max=1.0).fit(p, y))
    raise ValueError(f"unknown calibration method {method!r}; use {list(CALIBRATION_METHODS)}")


@dataclass(frozen=True)
class SklearnChurnModel:
    """A fitted candidate pipeline plus its optional calibrator: what ``ml_churn_model`` stores."""

    estimator: Pipeline
    calibrator: Calibrator | None = None

    @property
    def calibration_method(self) -> str | None:
        return None if self.calibrator is None else self.calibrator.method

    def predict_raw(self, features: pl.DataFrame) -> np.ndarray:
        if features.height == 0:
            return np.zeros(0, dtype=np.float64)
        proba = self.estimator.predict_proba(features)
        return np.asarray(proba[:, list(self.estimator.classes_).index(1)], dtype=np.float64)

    def predict(self, features: pl.DataFrame) -> np.ndarray:
        return self.calibrate(self.predict_raw(features))

    def calibrate(self, p: np.ndarray) -> np.ndarray:
        """The calibrated probabilities from raw ones (``predict`` = ``calibrate(predict_raw)``):
        variants sharing one estimator predict once and calibrate each."""
        return p if self.calibrator is None or len(p) == 0 else self.calibrator.apply(p)


@dataclass(frozen=True)
class BaseRateModel:
    """The training churn rate for everyone (the ``base_rate`` candidate and a fallback)."""

    rate: float

    def predict(self, features: pl.DataFrame) -> np.ndarray:
        return np.full(features.height, float(self.rate), dtype=np.float64)
