"""Planted-truth checks for measured retention offers: fct_campaign_results and the uplift model.

The simulator sends past campaigns to random customers with a randomised control; a treated send
adds orders in the next 14 days with an expected count that peaks for customers lapsing about two
months and is small for recent buyers and the long-gone (_truth.json "campaigns"). The mart must
count exactly the planted sends and find a positive effect of the coupon; the uplift model must
rank sends better than churn-risk and random targeting on the held-out latest campaign and find
the planted shape of the effect.
"""

from __future__ import annotations

import numpy as np


def _results(warehouse) -> list[dict]:
    cursor = warehouse.execute("select * from marts.fct_campaign_results order by campaign_id, action")
    names = [d[0] for d in cursor.description]
    return [dict(zip(names, row)) for row in cursor.fetchall()]


def test_sends_per_campaign_and_arm_equal_the_planted_ones(warehouse, truth):
    rows = _results(warehouse)
    for campaign_id, planted in truth["campaigns"]["campaigns"].items():
        mine = [r for r in rows if r["campaign_id"] == campaign_id]
        assert sum(r["treated_sends"] for r in mine) == planted["sends"]["treatment"], campaign_id
        assert sum(r["control_sends"] for r in mine) == planted["sends"]["control"], campaign_id


def test_the_coupon_has_a_positive_effect_larger_than_the_reminder(warehouse, truth):
    rows = _results(warehouse)
    actions = truth["campaigns"]["actions"]
    strongest = max(actions, key=lambda a: actions[a]["peak_uplift"])
    weakest = min(actions, key=lambda a: actions[a]["peak_uplift"])
    for row in rows:
        if row["action"] == strongest:
            assert row["incremental_conversion_ci_low"] > 0, row["campaign_id"]
            assert row["incremental_return_on_coupon_spend"] is not None
    pooled = {}
    for action in (strongest, weakest):
        mine = [r for r in rows if r["action"] == action]
        pooled[action] = sum(r["incremental_conversions"] for r in mine) / sum(r["treated_sends"] for r in mine)
    assert pooled[strongest] > pooled[weakest] > 0


def _evaluation(warehouse) -> dict[tuple[str, str, str], dict]:
    cursor = warehouse.execute("select * from ml.ml_uplift_evaluation")
    names = [d[0] for d in cursor.description]
    rows = [dict(zip(names, row)) for row in cursor.fetchall()]
    return {(r["targeting"], r["metric"], r["segment"]): r for r in rows}


def test_uplift_model_beats_churn_risk_and_random_targeting_on_the_later_campaign(warehouse):
    evaluation = _evaluation(warehouse)
    model = evaluation[("uplift_model", "qini_coefficient", "all")]
    assert model["status"] == "ok" and model["train_sends"] > 0 and model["test_sends"] > 0
    for baseline in ("churn_risk", "random"):
        row = evaluation[(baseline, "qini_coefficient", "all")]
        assert row["model_margin"] > 0 and row["model_margin_ci_low"] > 0, baseline


def test_uplift_model_recovers_where_the_planted_effect_is(warehouse, truth):
    evaluation = _evaluation(warehouse)
    predicted = [r["value"] for key, r in evaluation.items() if key[1] == "mean_predicted_uplift"]
    segments = [key[2] for key in evaluation if key[1] == "mean_predicted_uplift"]
    by_segment = dict(zip(segments, predicted, strict=True))
    # (truth bucket, evaluation segment) from the most recent buyers to the longest lapsed.
    segments = (("0-14", "0-14 days"), ("14-45", "14-45 days"), ("45-120", "45-120 days"), ("120-365", "120-365 days"),
                ("365-inf", "365+ days"))
    ordered = [by_segment[label] for _, label in segments]
    actions = truth["campaigns"]["actions"]
    coupon = max(actions, key=lambda a: actions[a]["peak_uplift"])
    planted = truth["campaigns"]["mean_planted_uplift_by_recency"][coupon]
    peak = int(np.argmax([planted[bucket]["mean_uplift"] for bucket, _ in segments]))
    # Direction: the medium-risk segment where the planted effect peaks gets more predicted uplift
    # than loyal (most recent) and long-gone (longest lapsed) customers.
    assert ordered[peak] > ordered[0] and ordered[peak] > ordered[-1]
