"""Planted-truth checks for the multi-metric experiment tables and the next-best-action holdout.

The simulator runs two experiments on existing customers (simulator/experiments.py): one with
planted relative lifts on orders and revenue per user (average order value unchanged) and on
returned orders (a guardrail that worsens), and an A/A test. _truth.json records per arm the
users with a full metric window and the realised means and pre/post correlations, computed by
the simulator from its own orders: the mart must count the same users and measures, recover the
planted lifts within their intervals, and CUPED must shrink the CI by what the correlation implies.
"""

from __future__ import annotations

import hashlib
import math

import pytest
from scipy import stats

CONFIDENCE_LEVEL = 0.95  # dbt_project.yml var experiment_confidence_level
HOLDOUT_SHARE = 0.10  # dbt_project.yml var next_best_action_holdout_share
CAMPAIGN_KEY = "nba_2026"  # dbt_project.yml var next_best_action_campaign_key
TRUTH_METRIC = {"orders_per_user": "completed_orders", "revenue_per_user": "revenue",
                "returned_orders_per_user": "returned_orders"}


def _rows(warehouse, experiment_id: str) -> dict[tuple[str, str], dict]:
    cursor = warehouse.execute("select * from marts.fct_experiment_metric_results where experiment_id = ?", [experiment_id])
    names = [d[0] for d in cursor.description]
    return {(row[names.index("metric_name")], row[names.index("variant")]): dict(zip(names, row))
            for row in cursor.fetchall()}


def _experiments(truth: dict) -> list[dict]:
    experiments = list(truth["customer_experiments"].values())
    assert {e["is_aa_test"] for e in experiments} == {True, False}
    return experiments


def test_users_and_measures_per_arm_equal_the_simulators(warehouse, truth):
    for experiment in _experiments(truth):
        rows = _rows(warehouse, experiment["experiment_id"])
        for variant, realised in experiment["realised"].items():
            for metric, measure in TRUTH_METRIC.items():
                row, planted = rows[(metric, variant)], realised[measure]
                assert row["users"] == planted["users_with_full_window"], (experiment["experiment_id"], variant)
                assert row["metric_value"] == pytest.approx(planted["mean_metric_window"], rel=1e-5, abs=1e-6)
                assert row["pre_period_value"] == pytest.approx(planted["mean_pre_period"], rel=1e-5, abs=1e-6)


def test_planted_relative_lifts_lie_inside_their_simultaneous_intervals(warehouse, truth):
    # Every (experiment, metric) checked here is one interval of a family: Bonferroni over the
    # family keeps the chance of any miss at 5% (the mart's own CIs are 95% each).
    checks = []
    for experiment in _experiments(truth):
        planted = dict(experiment["planted_relative_lift"])
        if experiment["is_aa_test"]:
            planted["conversion"] = 0.0
        rows = _rows(warehouse, experiment["experiment_id"])
        checks += [(experiment["experiment_id"], metric, lift, rows[(metric, "treatment")]) for metric, lift in planted.items()]
    z95 = stats.norm.ppf(1 - (1 - CONFIDENCE_LEVEL) / 2)
    z_family = stats.norm.ppf(1 - (1 - CONFIDENCE_LEVEL) / (2 * len(checks)))
    for experiment_id, metric, lift, row in checks:
        standard_error = (row["relative_lift_ci_high"] - row["relative_lift_ci_low"]) / (2 * z95)
        assert abs(row["relative_lift"] - lift) <= z_family * standard_error, (experiment_id, metric, row["relative_lift"], lift)


def test_the_real_effect_is_significant_and_the_guardrail_flagged(warehouse, truth):
    experiment = next(e for e in _experiments(truth) if not e["is_aa_test"])
    rows = _rows(warehouse, experiment["experiment_id"])
    assert rows[("orders_per_user", "treatment")]["is_significant"]
    assert rows[("returned_orders_per_user", "treatment")]["is_guardrail_violation"]
    assert not rows[("average_order_value", "treatment")]["is_significant"]  # planted: unchanged


def test_cuped_shrinks_the_revenue_ci_by_what_the_covariate_correlation_implies(warehouse, truth):
    for experiment in _experiments(truth):
        row = _rows(warehouse, experiment["experiment_id"])[("revenue_per_user", "treatment")]
        arms = experiment["realised"].values()
        # The simulator's pre/post correlation (weighted over arms) implies a width ratio sqrt(1 - rho^2).
        weights = [a["revenue"]["users_with_full_window"] for a in arms]
        rho = sum(w * a["revenue"]["pre_post_correlation"] for w, a in zip(weights, arms)) / sum(weights)
        assert row["ci_width_ratio"] < 1
        assert row["ci_width_ratio"] == pytest.approx(math.sqrt(1 - rho**2), abs=0.02)
        assert row["ci_width_ratio"] == pytest.approx(row["expected_ci_width_ratio"], abs=0.01)


def test_aa_test_is_not_significant_even_when_peeking_daily(warehouse, truth):
    experiment = next(e for e in _experiments(truth) if e["is_aa_test"])
    rows = _rows(warehouse, experiment["experiment_id"])
    assert not any(r["is_significant"] for r in rows.values() if not r["is_control"])
    days, smallest = warehouse.execute(
        "select count(distinct days_since_start), min(always_valid_p_value) from marts.fct_experiment_sequential "
        "where experiment_id = ?", [experiment["experiment_id"]]
    ).fetchone()
    assert days >= experiment["metric_window_days"]
    assert smallest > 1 - CONFIDENCE_LEVEL


def test_holdout_is_the_documented_hash_and_close_to_the_control_share(warehouse):
    rows = warehouse.execute(
        "select customer_id, action, is_holdout from serving.fct_next_best_actions where action <> 'no_action'"
    ).fetchall()
    assert rows
    # Recomputed here from (campaign key, action, customer) alone: the same on every build.
    expected = [int(hashlib.md5(f"{CAMPAIGN_KEY}:{a}:{c}".encode()).hexdigest()[:8], 16) / 2**32 < HOLDOUT_SHARE
                for c, a, _ in rows]
    assert [h for _, _, h in rows] == expected
    held = sum(expected)
    assert abs(held / len(rows) - HOLDOUT_SHARE) <= 4 * math.sqrt(HOLDOUT_SHARE * (1 - HOLDOUT_SHARE) / len(rows))
    no_action_held = warehouse.execute(
        "select count(*) from serving.fct_next_best_actions where action = 'no_action' and is_holdout"
    ).fetchone()[0]
    assert no_action_held == 0
