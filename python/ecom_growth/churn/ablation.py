"""The text-feature ablation of the churn model (issue 12): is the text worth its keep?

``fit_churn_models`` also stores the feature model (logistic regression or gradient boosting:
the baselines use no text) with the lowest validation log loss refitted on the test role's
training snapshots with the text features (features.TEXT_FEATURES) masked to missing, as model
``<name>_without_text_features``; ``evaluate_models`` scores it on the same test snapshot and
compares it with the same candidate WITH text features (its ``baseline_model``), so the
log-loss / Brier difference and its paired bootstrap interval (same resamples) measure what the
text adds. Nothing is chosen on the test snapshot. Masking (all missing) instead of dropping keeps one feature layout for every stored
model: an all-missing column never splits in gradient boosting and is zeroed before the
linear model (models.EmptyColumnsToZero), so it is the same model as one without the columns.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import polars as pl

from ecom_growth.churn.features import TEXT_FEATURE_NAMES
from ecom_growth.churn.models import BASELINES, LABEL_TRAINED

WITHOUT_TEXT_SUFFIX = "_without_text_features"


def without_text(features: pl.DataFrame) -> pl.DataFrame:
    """``features`` (prepare_features output) with every text feature set to missing (NaN)."""
    return features.with_columns(pl.lit(float("nan"), pl.Float64).alias(c) for c in TEXT_FEATURE_NAMES
                                 if c in features.columns)


def has_text_signal(features: pl.DataFrame) -> bool:
    """True when some text feature varies in ``features`` (else the ablation would be the same model)."""
    return any(features[c].fill_nan(None).drop_nulls().n_unique() > 1 for c in TEXT_FEATURE_NAMES
               if c in features.columns)


def ablation_candidate(validation_log_loss: dict[str, float | None]) -> str | None:
    """The label-trained feature model (not a baseline) with the lowest validation log loss."""
    scored = {m: v for m, v in validation_log_loss.items()
              if m in LABEL_TRAINED and m not in BASELINES and v is not None}
    return min(scored, key=scored.get) if scored else None


def with_text_model_name(model: str) -> str | None:
    """The with-text model an ablation row is compared with (None for any other model)."""
    return model.removesuffix(WITHOUT_TEXT_SUFFIX) if model.endswith(WITHOUT_TEXT_SUFFIX) else None


@dataclass(frozen=True)
class WithoutTextFeatures:
    """A churn model fitted on masked text features; it masks them when predicting too, so the
    stored estimator is self-contained (evaluation and calibration treat it like any other)."""

    model: object

    @property
    def calibration_method(self) -> str | None:
        return getattr(self.model, "calibration_method", None)

    def predict(self, features: pl.DataFrame) -> np.ndarray:
        return self.model.predict(without_text(features))
