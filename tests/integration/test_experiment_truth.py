"""Planted-truth checks for fct_experiment_results on the simulated warehouse.

The simulator randomises signups in a window 50/50 into control / treatment (assigned_at =
signup_at) and multiplies the treatment's probability of ever placing a first completed order
by (1 + relative_lift), leaving the delay unchanged; so the ratio of "converted within 30 days
of assignment" rates estimates the same relative lift. _truth.json also records, per variant,
how many were assigned and converted within the metric window: the mart must count exactly
those (same population, same inclusive window), and its statistics must equal scipy's on them.
"""

from __future__ import annotations

import math

import pytest
from scipy import stats

CONFIDENCE_LEVEL = 0.95  # dbt_project.yml var experiment_confidence_level
SRM_P_VALUE_THRESHOLD = 0.001  # dbt_project.yml var srm_p_value_threshold


def _experiment(truth: dict) -> dict:
    assert len(truth["experiments"]) == 1
    return next(iter(truth["experiments"].values()))


def _rows(warehouse, experiment_id: str) -> dict[str, dict]:
    cursor = warehouse.execute(
        "select * from marts.fct_experiment_results where experiment_id = ? order by variant", [experiment_id]
    )
    names = [d[0] for d in cursor.description]
    return {row[names.index("variant")]: dict(zip(names, row)) for row in cursor.fetchall()}


def test_relative_lift_ci_contains_the_planted_lift_and_excludes_zero(warehouse, truth):
    """The issue's bar."""
    experiment = _experiment(truth)
    treatment = _rows(warehouse, experiment["experiment_id"])["treatment"]
    assert treatment["relative_lift_ci_low"] <= experiment["relative_lift"] <= treatment["relative_lift_ci_high"]
    assert treatment["relative_lift_ci_low"] > 0
    assert treatment["is_significant"] and treatment["p_value"] < 1 - CONFIDENCE_LEVEL


def test_no_sample_ratio_mismatch_for_the_planted_even_split(warehouse, truth):
    experiment = _experiment(truth)
    rows = _rows(warehouse, experiment["experiment_id"])
    assert experiment["treatment_share"] == 0.5
    for row in rows.values():
        assert row["srm_expected_share"] == pytest.approx(0.5)
        assert row["srm_p_value"] > SRM_P_VALUE_THRESHOLD
        assert not row["has_sample_ratio_mismatch"]


def test_users_and_converters_equal_the_simulated_counts(warehouse, truth):
    experiment = _experiment(truth)
    rows = _rows(warehouse, experiment["experiment_id"])
    assert set(rows) == set(experiment["variants"])
    assert rows["control"]["is_control"] and not rows["treatment"]["is_control"]
    for variant, realised in experiment["realised"].items():
        assert rows[variant]["users"] == realised["assigned"], variant
        assert rows[variant]["converters"] == realised["converted_within_metric_window"], variant


def test_statistics_equal_scipy_on_the_same_counts(warehouse, truth):
    rows = _rows(warehouse, _experiment(truth)["experiment_id"])
    n_c, x_c = rows["control"]["users"], rows["control"]["converters"]
    n_t, x_t = rows["treatment"]["users"], rows["treatment"]["converters"]
    p_c, p_t = x_c / n_c, x_t / n_t
    z_crit = stats.norm.ppf(1 - (1 - CONFIDENCE_LEVEL) / 2)
    se = math.sqrt(p_t * (1 - p_t) / n_t + p_c * (1 - p_c) / n_c)
    se_log = math.sqrt((1 - p_t) / x_t + (1 - p_c) / x_c)
    chi2, p_value, _, _ = stats.chi2_contingency([[x_t, n_t - x_t], [x_c, n_c - x_c]], correction=False)
    srm = stats.chisquare([n_c, n_t])
    t = rows["treatment"]
    expected = {
        "absolute_lift": p_t - p_c,
        "absolute_lift_ci_low": p_t - p_c - z_crit * se,
        "absolute_lift_ci_high": p_t - p_c + z_crit * se,
        "relative_lift": p_t / p_c - 1,
        "relative_lift_ci_low": math.exp(math.log(p_t / p_c) - z_crit * se_log) - 1,
        "relative_lift_ci_high": math.exp(math.log(p_t / p_c) + z_crit * se_log) - 1,
        "z_score": math.copysign(math.sqrt(chi2), p_t - p_c),
        "p_value": p_value,
        "srm_chi_square": srm.statistic,
        "srm_p_value": srm.pvalue,
    }
    for column, value in expected.items():
        assert t[column] == pytest.approx(value, rel=1e-9, abs=1e-12), column
    for column in ("absolute_lift", "relative_lift", "z_score", "p_value", "is_significant"):
        assert rows["control"][column] is None, column
