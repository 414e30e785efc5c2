"""Uplift modelling on past randomised campaigns (two-model learner, Qini evaluation)."""

from ecom_growth.uplift.evaluation import qini_coefficient, qini_curve, uplift_at_k
from ecom_growth.uplift.model import FEATURES, TwoModel, UpliftParams, fit_two_model, predict
from ecom_growth.uplift.pipeline import (
    evaluate_uplift,
    fit_uplift,
    score_uplift,
    time_split,
    uplift_model_from_table,
    uplift_model_table,
)

__all__ = [
    "FEATURES", "TwoModel", "UpliftParams", "evaluate_uplift", "fit_two_model", "predict", "qini_coefficient",
    "qini_curve", "fit_uplift", "score_uplift", "time_split", "uplift_at_k", "uplift_model_from_table", "uplift_model_table",
]
