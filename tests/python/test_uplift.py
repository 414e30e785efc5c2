"""Uplift library: Qini / uplift@k on hand-made data, the two-model learner, the time split."""

from __future__ import annotations

from datetime import datetime, timedelta

import numpy as np
import polars as pl
import pytest

from ecom_growth.uplift import (
    UpliftParams,
    evaluate_uplift,
    fit_two_model,
    fit_uplift,
    predict,
    qini_coefficient,
    qini_curve,
    score_uplift,
    time_split,
    uplift_at_k,
)

PARAMS = UpliftParams(max_iter=60, learning_rate=0.1, max_depth=3, min_samples_leaf=20, min_sends_per_arm=50,
                      random_state=0, n_threads=1)


def test_qini_curve_by_hand():
    # Ranked: (treated, converted) = (1,1), (0,0), (1,0), (0,1).
    converted = np.array([1, 0, 0, 1])
    treated = np.array([1, 0, 1, 0])
    score = np.array([4.0, 3.0, 2.0, 1.0])
    curve = qini_curve(converted, treated, score, grid=np.array([0.25, 0.5, 0.75, 1.0]))
    # Q = y_t - y_c n_t / n_c: top1 1 (no control yet: y_t); top2 1 - 0; top3 1 - 0 x 2/1; all 1 - 1 x 2/2.
    assert curve.tolist() == [1.0, 1.0, 1.0, 0.0]
    assert qini_coefficient(converted, treated, score, grid=np.array([0.25, 0.5, 0.75, 1.0])) == pytest.approx(0.75 / 2)


def test_perfect_ranking_beats_reversed_and_random_is_near_zero():
    rng = np.random.default_rng(0)
    n = 20_000
    persuadable = rng.random(n) < 0.3
    treated = rng.random(n) < 0.5
    converted = (treated & persuadable).astype(int)
    good, bad = persuadable.astype(float), -persuadable.astype(float)
    assert qini_coefficient(converted, treated, good) > 0.1 > 0 > qini_coefficient(converted, treated, bad)
    assert abs(qini_coefficient(converted, treated, rng.random(n))) < 0.01
    assert uplift_at_k(converted, treated, good, 0.2) == pytest.approx(1.0)
    assert uplift_at_k(converted, treated, bad, 0.2) == pytest.approx(0.0)


def test_uplift_at_k_is_nan_without_both_arms_in_the_top():
    assert np.isnan(uplift_at_k(np.array([1, 0]), np.array([1, 1]), np.array([1.0, 0.0]), 1.0))


def _sends(n: int, seed: int, campaign: str, at: datetime) -> pl.DataFrame:
    """Effect only for recency in 30..120 days (the planted persuadables)."""
    rng = np.random.default_rng(seed)
    recency = rng.uniform(1, 400, n)
    control = rng.random(n) < 0.5
    base = 0.05
    lift = np.where((recency > 30) & (recency < 120), 0.4, 0.0)
    converted = rng.random(n) < base + np.where(control, 0.0, lift)
    return pl.DataFrame({
        "campaign_id": campaign, "customer_id": [f"c{i}" for i in range(n)], "feature_at": at, "action": "coupon",
        "coupon_value": 10.0, "is_control": control, "is_converter": converted, "revenue": converted * 50.0,
        "days_since_last_order": recency, "completed_orders_before": 2.0, "revenue_before": 100.0,
        "average_order_value_before": 50.0, "orders_last_90_days": 0.0, "days_since_first_order": 500.0,
    })


def test_two_model_finds_the_planted_persuadables():
    model = fit_two_model(_sends(6000, 1, "a", datetime(2025, 1, 1)), PARAMS)
    assert model.status == "ok"
    test = _sends(3000, 2, "b", datetime(2025, 6, 1))
    uplift, treated = predict(model, test, 1)
    recency = test["days_since_last_order"].to_numpy()
    inside = (recency > 40) & (recency < 110)
    assert uplift[inside].mean() > 0.3 > 0.1 > uplift[recency > 150].mean()
    assert ((treated >= 0) & (treated <= 1)).all()


def test_too_few_sends_degrade_to_the_average_uplift():
    sends = _sends(60, 3, "a", datetime(2025, 1, 1))
    model = fit_two_model(sends, PARAMS)
    assert model.status == "degraded" and "fewer than 50" in model.status_reason
    uplift, treated = predict(model, sends, 1)
    observed = sends.filter(~pl.col("is_control"))["is_converter"].mean() - sends.filter(pl.col("is_control"))["is_converter"].mean()
    assert np.allclose(uplift, observed) and np.isnan(treated).all()


def test_time_split_trains_only_on_campaigns_closed_before_the_test():
    first = _sends(10, 1, "old", datetime(2025, 1, 1))
    overlapping = _sends(10, 2, "overlapping", datetime(2025, 5, 25))
    test = _sends(10, 3, "new", datetime(2025, 6, 1))
    train, held_out, test_id = time_split(pl.concat([first, overlapping, test]), effect_window_days=14)
    assert test_id == "new" and held_out.height == 10
    assert train["campaign_id"].unique().to_list() == ["old"]


def test_evaluation_and_scores_degrade_without_sends():
    empty = _sends(0, 1, "a", datetime(2025, 1, 1))
    evaluation = evaluate_uplift(empty, PARAMS, 14, [0.1], 10)
    assert evaluation["status"].to_list() == ["degraded"] and evaluation["value"].null_count() == 1
    customers = empty.select("customer_id", *[c for c in empty.columns if c.endswith(("_order", "_before", "_days"))])
    assert score_uplift(empty, customers, fit_uplift(empty, PARAMS), n_threads=1).height == 0


def test_evaluation_ranks_the_model_above_churn_risk_on_planted_data():
    sends = pl.concat([_sends(4000, 1, "a", datetime(2025, 1, 1)), _sends(4000, 2, "b", datetime(2025, 6, 1) + timedelta(days=1))])
    evaluation = evaluate_uplift(sends, PARAMS, 14, [0.1, 0.3], 50)
    qini = evaluation.filter(pl.col("metric") == "qini_coefficient")
    model = qini.filter(pl.col("targeting") == "uplift_model").row(0, named=True)
    churn = qini.filter(pl.col("targeting") == "churn_risk").row(0, named=True)
    assert model["status"] == "ok" and model["train_sends"] == 4000 and model["test_sends"] == 4000
    assert churn["model_margin"] > 0 and churn["model_margin_ci_low"] > 0


def test_a_shared_ranking_gives_the_metrics_of_their_own_sorts_ties_included():
    from ecom_growth.uplift.evaluation import ranking

    rng = np.random.default_rng(11)
    converted, treated = rng.random(500) < 0.2, rng.random(500) < 0.5
    score = np.round(rng.random(500), 1)  # many ties: order among them is by position
    order = ranking(score)
    assert qini_coefficient(converted, treated, score, order=order) == qini_coefficient(converted, treated, score)
    for k in (0.1, 0.3, 1.0):
        assert uplift_at_k(converted, treated, score, k, order=order) == uplift_at_k(converted, treated, score, k)
