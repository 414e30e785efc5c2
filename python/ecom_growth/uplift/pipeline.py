"""Uplift end to end: a time-based evaluation and the scores of the final model.

Evaluation: the test campaign is the latest one (by first send); the model is trained on the
sends of earlier campaigns whose effect windows closed before it, so no training outcome comes
from the test period. On the test sends it is compared with targeting by churn risk (the
longest time since the last order first: the project's strongest simple risk signal) and with
random targeting, by Qini coefficient and uplift at k, with bootstrap intervals over the test
sends of each value and of the model's margin over each baseline.
Scores: the same learner fitted once on every send (``fit_uplift``; stored in ml_uplift_model,
kept by later builds under var ml_retrain_after_days), applied to every customer as of the build
for every action seen in the campaigns.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import numpy as np
import polars as pl

from ecom_growth.model_store import estimator_table, stored_estimator
from ecom_growth.uplift.evaluation import qini_coefficient, ranking, uplift_at_k
from ecom_growth.uplift.model import TwoModel, UpliftParams, fit_two_model, predict

SEND_ORDER = ("campaign_id", "customer_id", "feature_at", "action")
UPLIFT_MODEL_SCHEMA: dict[str, pl.DataType] = {"train_sends": pl.Int64, "status": pl.String, "status_reason": pl.String}
RECENCY_SEGMENTS = ((0.0, 14.0, "0-14 days"), (14.0, 45.0, "14-45 days"), (45.0, 120.0, "45-120 days"),
                    (120.0, 365.0, "120-365 days"), (365.0, float("inf"), "365+ days"))
EVALUATION_SCHEMA = {
    "test_campaign_id": pl.String, "targeting": pl.String, "metric": pl.String, "segment": pl.String,
    "value": pl.Float64, "ci_low": pl.Float64, "ci_high": pl.Float64, "model_margin": pl.Float64,
    "model_margin_ci_low": pl.Float64, "model_margin_ci_high": pl.Float64, "train_sends": pl.Int64,
    "test_sends": pl.Int64, "status": pl.String, "status_reason": pl.String,
}


def time_split(sends: pl.DataFrame, effect_window_days: int) -> tuple[pl.DataFrame, pl.DataFrame, str | None]:
    """(train, test, test campaign): test = the latest campaign; train = earlier campaigns whose
    effect windows closed before its first send."""
    if sends.height == 0:
        return sends, sends, None
    starts = sends.group_by("campaign_id").agg(pl.col("feature_at").min().alias("first")).sort("first", "campaign_id")
    test_id, test_start = starts["campaign_id"][-1], starts["first"][-1]
    last_send = sends.group_by("campaign_id").agg(pl.col("feature_at").max().alias("last"))
    closed = last_send.filter(pl.col("last") + timedelta(days=effect_window_days) < test_start)["campaign_id"]
    return sends.filter(pl.col("campaign_id").is_in(closed.implode())), sends.filter(pl.col("campaign_id") == test_id), test_id


def _metrics(converted: np.ndarray, treated: np.ndarray, scores: dict[str, np.ndarray], ks: list[float]) -> dict:
    out = {}
    for name, score in scores.items():
        order = ranking(score)  # one sort per score serves every metric
        out[(name, "qini_coefficient")] = qini_coefficient(converted, treated, score, order=order)
        for k in ks:
            out[(name, f"uplift_at_{round(k * 100)}pct")] = uplift_at_k(converted, treated, score, k, order=order)
    return out


def _targeting_scores(test: pl.DataFrame, uplift: np.ndarray, rng: np.random.Generator) -> dict[str, np.ndarray]:
    # Never-ordered customers cannot be sent to (features need an order); a null recency ranks last.
    recency = test["days_since_last_order"].fill_null(-1.0).to_numpy()
    return {"uplift_model": uplift, "churn_risk": recency, "random": rng.random(test.height)}


def in_fixed_order(sends: pl.DataFrame) -> pl.DataFrame:
    """Sends sorted by campaign, customer, time and action, coupon values as floats: the
    learner's early-stopping split and the bootstrap pick rows by position, and a warehouse
    returns rows in no particular order, so without this the same data could fit differently."""
    return sends.with_columns(pl.col("coupon_value").cast(pl.Float64)).sort(SEND_ORDER)


def evaluate_uplift(sends: pl.DataFrame, params: UpliftParams, effect_window_days: int, ks: list[float],
                    n_bootstrap: int) -> pl.DataFrame:
    """The evaluation table (EVALUATION_SCHEMA): per targeting and metric on the test campaign."""
    sends = in_fixed_order(sends)
    train, test, test_id = time_split(sends, effect_window_days)
    model = fit_two_model(train, params)
    reason = model.status_reason
    if test_id is None:
        reason = "no campaign sends with a full effect window"
    elif model.status == "ok" and (test.filter(~pl.col("is_control")).height == 0 or test.filter(pl.col("is_control")).height == 0):
        reason = "the test campaign lacks a treated or a control arm"
    if reason is not None:
        return pl.DataFrame([{"test_campaign_id": test_id, "targeting": "uplift_model", "metric": "qini_coefficient",
                              "segment": "all", "train_sends": train.height, "test_sends": test.height,
                              "status": "degraded", "status_reason": reason}], schema=EVALUATION_SCHEMA)
    rng = np.random.default_rng(params.random_state)
    uplift, _ = predict(model, test, params.n_threads)
    scores = _targeting_scores(test, uplift, rng)
    converted = test["is_converter"].cast(pl.Int8).to_numpy()
    treated = (~test["is_control"]).to_numpy()
    point = _metrics(converted, treated, scores, ks)
    draws = {key: [] for key in point}
    for _ in range(n_bootstrap):
        pick = rng.integers(0, test.height, test.height)
        for key, value in _metrics(converted[pick], treated[pick], {k: v[pick] for k, v in scores.items()}, ks).items():
            draws[key].append(value)
    rows = []
    for (targeting, metric), value in point.items():
        sample = np.array(draws[(targeting, metric)])
        margin = np.array(draws[("uplift_model", metric)]) - sample
        rows.append({
            "test_campaign_id": test_id, "targeting": targeting, "metric": metric, "segment": "all", "value": value,
            "ci_low": float(np.nanpercentile(sample, 2.5)), "ci_high": float(np.nanpercentile(sample, 97.5)),
            "model_margin": point[("uplift_model", metric)] - value,
            "model_margin_ci_low": float(np.nanpercentile(margin, 2.5)),
            "model_margin_ci_high": float(np.nanpercentile(margin, 97.5)),
        })
    rows += _segment_rows(test, uplift, converted, treated, test_id)
    frame = pl.DataFrame(rows, schema={k: EVALUATION_SCHEMA[k] for k in rows[0]})
    return frame.with_columns(pl.lit(train.height, pl.Int64).alias("train_sends"), pl.lit(test.height, pl.Int64).alias("test_sends"),
                              pl.lit("ok").alias("status"), pl.lit(None, pl.String).alias("status_reason")).select(list(EVALUATION_SCHEMA))


def _segment_rows(test: pl.DataFrame, uplift: np.ndarray, converted: np.ndarray, treated: np.ndarray, test_id: str) -> list[dict]:
    """Mean predicted and observed (treated - control) uplift per recency segment: does the model
    find where the effect is?"""
    recency = test["days_since_last_order"].fill_null(float("inf")).to_numpy()
    rows = []
    for lo, hi, label in RECENCY_SEGMENTS:
        inside = (recency >= lo) & (recency < hi)
        t, c = inside & treated, inside & ~treated
        observed = float(converted[t].mean() - converted[c].mean()) if t.any() and c.any() else None
        rows.append({"test_campaign_id": test_id, "targeting": "uplift_model", "metric": "mean_predicted_uplift",
                     "segment": label, "value": float(uplift[inside].mean()) if inside.any() else None})
        rows.append({"test_campaign_id": test_id, "targeting": "randomised_control", "metric": "observed_uplift",
                     "segment": label, "value": observed})
    return rows


def fit_uplift(sends: pl.DataFrame, params: UpliftParams) -> TwoModel:
    """The final learner: the two-model fit on every past send (degraded: the average uplift)."""
    return fit_two_model(in_fixed_order(sends), params)


def uplift_model_table(model: TwoModel, *, train_sends: int, fitted_at: datetime, settings: str) -> pl.DataFrame:
    """``ml_uplift_model``: one row, the pickled learner (its fallback too when degraded; see
    ecom_growth.model_store for the trust boundary), the sends it was fitted on, its status."""
    columns = {"train_sends": train_sends, "status": model.status, "status_reason": model.status_reason}
    return estimator_table(model, columns, UPLIFT_MODEL_SCHEMA, fitted_at=fitted_at, settings=settings)


def uplift_model_from_table(table: pl.DataFrame) -> TwoModel:
    """The learner stored by :func:`uplift_model_table` (checksum checked before unpickling)."""
    model = stored_estimator(table)
    if not isinstance(model, TwoModel):
        raise ValueError(f"ml_uplift_model does not hold a two-model learner: {type(model).__name__}")
    return model


def score_uplift(sends: pl.DataFrame, customers: pl.DataFrame, model: TwoModel, *, n_threads: int) -> pl.DataFrame:
    """Per customer (scoring features) and action seen in the sends: uplift, treated conversion
    probability and expected incremental value = uplift x average order value - coupon value x
    P(convert | treated) (the coupon is paid on every treated conversion), from the fitted (or
    stored) ``model``."""
    sends = sends.with_columns(pl.col("coupon_value").cast(pl.Float64))
    actions = sends.group_by("action").agg(pl.col("coupon_value").max()).sort("action")
    grid = customers.join(actions, how="cross")
    uplift, treated = predict(model, grid, n_threads)
    value = grid["average_order_value_before"].fill_null(0.0).to_numpy()
    coupon = grid["coupon_value"].to_numpy()
    probability = np.where(np.isnan(treated), 0.0, treated)
    return grid.select("customer_id", "action", "coupon_value").with_columns(
        pl.Series("uplift", uplift, pl.Float64),
        pl.Series("treated_conversion_probability", treated, pl.Float64).fill_nan(None),
        pl.Series("expected_incremental_value", uplift * value - coupon * probability, pl.Float64),
        pl.lit(model.status).alias("status"),
        pl.lit(model.status_reason, pl.String).alias("status_reason"),
    )
