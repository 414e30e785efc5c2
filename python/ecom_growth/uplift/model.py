"""Two-model (T-learner) uplift on past randomised campaign sends.

One gradient-boosted classifier learns P(convert | features, treated) on treated sends, another
P(convert | features, control) on the controls; the uplift of a send is their difference. The
action enters as a feature (its coupon value), so one pair of models covers every action, and
the uplift of any action can be scored for any customer. Features come from completed orders
strictly before the send (macro uplift_features), so nothing a send causes leaks into them.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import polars as pl
from sklearn.ensemble import HistGradientBoostingClassifier
from threadpoolctl import threadpool_limits

FEATURES = ("days_since_last_order", "completed_orders_before", "revenue_before", "average_order_value_before",
            "orders_last_90_days", "days_since_first_order", "coupon_value")


@dataclass(frozen=True)
class UpliftParams:
    """Hyperparameters and guards (dbt vars uplift_*)."""

    max_iter: int
    learning_rate: float
    max_depth: int
    min_samples_leaf: int
    min_sends_per_arm: int  # fewer treated or control sends (or converters) in a split: degraded
    random_state: int
    n_threads: int


@dataclass
class TwoModel:
    """A fitted T-learner, or a degraded one that predicts the observed average uplift per coupon value."""

    treated: HistGradientBoostingClassifier | None
    control: HistGradientBoostingClassifier | None
    fallback_uplift: dict[float, float]  # coupon_value -> treated rate - control rate (degraded only)
    status: str
    status_reason: str | None


def feature_matrix(frame: pl.DataFrame) -> np.ndarray:
    """The model's features as a float matrix (nulls, e.g. no earlier order, as NaN: HistGB handles them)."""
    return frame.select([pl.col(c).cast(pl.Float64) for c in FEATURES]).to_numpy()


def _insufficient(sends: pl.DataFrame, min_per_arm: int) -> str | None:
    counts = sends.group_by("is_control").agg(pl.len().alias("n"), pl.col("is_converter").sum().alias("y"))
    by_arm = {r["is_control"]: r for r in counts.iter_rows(named=True)}
    for arm, label in ((False, "treated"), (True, "control")):
        row = by_arm.get(arm)
        if row is None or row["n"] < min_per_arm:
            return f"fewer than {min_per_arm} {label} sends with a full effect window"
        if row["y"] == 0 or row["y"] == row["n"]:
            return f"the {label} sends all have the same outcome"
    return None


def average_uplift(sends: pl.DataFrame) -> dict[float, float]:
    """Treated minus control conversion rate per coupon value (the documented fallback)."""
    rates = sends.group_by("coupon_value", "is_control").agg(pl.col("is_converter").cast(pl.Float64).mean().alias("rate"))
    out: dict[float, float] = {}
    # in coupon order: the stored (pickled) fallback is then the same bytes on every build
    for (coupon,), group in rates.sort("coupon_value").group_by("coupon_value", maintain_order=True):
        by_arm = dict(zip(group["is_control"].to_list(), group["rate"].to_list(), strict=True))
        out[float(coupon)] = by_arm.get(False, 0.0) - by_arm.get(True, by_arm.get(False, 0.0))
    return out


def fit_two_model(sends: pl.DataFrame, params: UpliftParams) -> TwoModel:
    """Fit on sends (features, coupon_value, is_control, is_converter); degrade when too few."""
    sends = sends.with_columns(pl.col("coupon_value").cast(pl.Float64))
    reason = _insufficient(sends, params.min_sends_per_arm)
    if reason is not None:
        return TwoModel(None, None, average_uplift(sends) if sends.height else {}, "degraded", reason)
    fitted = []
    for is_control in (False, True):
        arm = sends.filter(pl.col("is_control") == is_control)
        model = HistGradientBoostingClassifier(
            max_iter=params.max_iter, learning_rate=params.learning_rate, max_depth=params.max_depth,
            min_samples_leaf=params.min_samples_leaf, random_state=params.random_state,
        )
        with threadpool_limits(limits=params.n_threads):
            model.fit(feature_matrix(arm), arm["is_converter"].cast(pl.Int8).to_numpy())
        fitted.append(model)
    return TwoModel(fitted[0], fitted[1], {}, "ok", None)


def predict(model: TwoModel, frame: pl.DataFrame, n_threads: int) -> tuple[np.ndarray, np.ndarray]:
    """(uplift, treated conversion probability) per row, for the row's coupon_value."""
    if model.treated is None or model.control is None:
        coupons = frame["coupon_value"].cast(pl.Float64)
        uplift = coupons.replace_strict(model.fallback_uplift, default=0.0, return_dtype=pl.Float64).to_numpy()
        return uplift, np.full(frame.height, np.nan)
    x = feature_matrix(frame)
    with threadpool_limits(limits=n_threads):
        treated = model.treated.predict_proba(x)[:, 1]
        control = model.control.predict_proba(x)[:, 1]
    return treated - control, treated
