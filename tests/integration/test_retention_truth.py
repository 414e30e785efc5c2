"""Planted-truth and consistency checks for the retention marts (fct_cohort_retention,
fct_retention_curves) on the simulated warehouse.

The simulator plants BG/NBD for COMPLETED orders with t = 0 at the first completed order and no
dropout before the first repeat purchase, so the time to the second completed order of a
customer with rate lambda is Exponential(lambda) and, with lambda ~ Gamma(r, rate=alpha) times
the channel's lambda_multiplier m, P(second order within t days) = 1 - (alpha / (alpha + m t))^r.
Seasonality is a time change with a yearly period, so over exactly 365 days it adds (almost)
nothing: the KM repurchase probability at day 365 must match that formula per channel, and the
channel mix of it overall. Satisfaction only moves dropout, which cannot act before the first
repeat. Tolerances are 4 Greenwood standard errors computed from the data plus a small allowance
for the bias seasonality leaves in a pooled KM (see _model_allowance).
"""

from __future__ import annotations

import math

import numpy as np
import pytest

OVERALL = "segment_type = 'overall'"


def _scalar(warehouse, sql: str):
    return warehouse.execute(sql).fetchone()[0]


# --- fct_cohort_retention -------------------------------------------------------------------


def test_period_zero_retention_is_exactly_one_for_every_cohort(warehouse):
    rows = warehouse.execute(
        """
        select count(*), count(*) filter (where retention_rate = 1.0 and active_customers = cohort_size)
        from marts.fct_cohort_retention where period_number = 0
        """
    ).fetchone()
    assert rows[0] > 0
    assert rows[1] == rows[0]


def test_rates_are_within_zero_and_one(warehouse):
    bad = _scalar(
        warehouse,
        """
        select count(*) from marts.fct_cohort_retention
        where retention_rate not between 0 and 1 or repeat_purchase_rate not between 0 and 1
           or retention_rate is null or repeat_purchase_rate is null
        """,
    )
    assert bad == 0


def test_cohort_sizes_add_up_to_the_customers_in_dim_customers(warehouse):
    customers = _scalar(warehouse, "select count(*) from marts.dim_customers where is_customer")
    assert customers > 1000
    sizes = dict(
        warehouse.execute(
            f"""
            select cohort_grain, sum(cohort_size) from marts.fct_cohort_retention
            where period_number = 0 and {OVERALL} group by cohort_grain
            """
        ).fetchall()
    )
    assert sizes == {"week": customers, "month": customers}
    # Every channel segment too: each segment_type partitions the cohort.
    by_channel = dict(
        warehouse.execute(
            """
            select segment_value, sum(cohort_size) from marts.fct_cohort_retention
            where period_number = 0 and cohort_grain = 'month' and segment_type = 'acquisition_channel'
            group by segment_value
            """
        ).fetchall()
    )
    expected = dict(
        warehouse.execute(
            """
            select coalesce(acquisition_channel, 'unknown'), count(*) from marts.dim_customers
            where is_customer group by 1
            """
        ).fetchall()
    )
    assert by_channel == expected


def test_revenue_and_orders_add_up_to_the_completed_orders(warehouse):
    expected_revenue, expected_orders = warehouse.execute(
        "select sum(revenue), sum(completed_orders) from marts.dim_customers where is_customer"
    ).fetchone()
    for grain in ("week", "month"):
        revenue, orders = warehouse.execute(
            f"""
            select sum(revenue), sum(orders) from marts.fct_cohort_retention
            where cohort_grain = '{grain}' and {OVERALL}
            """
        ).fetchone()
        assert revenue == expected_revenue
        assert orders == expected_orders


def test_grid_is_dense_up_to_the_period_containing_as_of(warehouse):
    """Periods 0..last with no gap; only the trailing period(s) are incomplete."""
    as_of = _scalar(warehouse, "select as_of from intermediate.int_as_of")
    rows = warehouse.execute(
        f"""
        select cohort_grain, cohort_start, count(*), max(period_number), min(period_number),
               max(period_start), bool_and(is_complete) filter (where period_number < max_period - 1)
        from (
            select *, max(period_number) over (partition by cohort_grain, cohort_start) as max_period
            from marts.fct_cohort_retention where {OVERALL}
        )
        group by cohort_grain, cohort_start
        """
    ).fetchall()
    assert rows
    for grain, cohort_start, n_rows, max_period, min_period, last_start, earlier_complete in rows:
        assert min_period == 0 and n_rows == max_period + 1, (grain, cohort_start)
        assert last_start <= as_of.date(), (grain, cohort_start)
        assert earlier_complete in (True, None), (grain, cohort_start)
    # The last period of every cohort contains as_of, so it is incomplete.
    complete_last = _scalar(
        warehouse,
        f"""
        select count(*) from marts.fct_cohort_retention
        where {OVERALL} and is_complete and (cohort_grain, cohort_start, period_number) in (
            select cohort_grain, cohort_start, max(period_number)
            from marts.fct_cohort_retention group by 1, 2)
        """,
    )
    assert complete_last == 0
    # Zero-activity periods are present (curves must not skip them) on realistic data.
    assert _scalar(warehouse, "select count(*) from marts.fct_cohort_retention where active_customers = 0") > 0


# --- fct_retention_curves: Kaplan-Meier ------------------------------------------------------


def _kaplan_meier(durations: np.ndarray, events: np.ndarray, days: np.ndarray):
    """Reference KM (numpy) on whole days rounded up: S and Greenwood variance read at each day."""
    times, inverse = np.unique(np.ceil(durations), return_inverse=True)
    d = np.bincount(inverse, weights=events.astype(float), minlength=times.size)
    exits = np.bincount(inverse, minlength=times.size).astype(float)
    n = durations.size - np.cumsum(exits) + exits
    survival = np.cumprod(1.0 - d / n)
    with np.errstate(divide="ignore", invalid="ignore"):
        greenwood = np.cumsum(np.where(n > d, d / (n * (n - d)), 0.0))
    idx = np.searchsorted(times, days, side="right") - 1
    s_at = np.where(idx >= 0, survival[np.maximum(idx, 0)], 1.0)
    var_at = np.where(idx >= 0, s_at**2 * greenwood[np.maximum(idx, 0)], 0.0)
    return s_at, var_at


def _first_to_second(warehouse, where: str = "true"):
    # Exact fractional days; the mart counts whole days rounded up, which gives the same counts
    # at every whole day (gap <= D iff ceil(gap) <= D) and is what the reference KM uses.
    rows = warehouse.execute(
        f"""
        select
            (epoch(coalesce(c.second_order_at, a.as_of)) - epoch(c.first_order_at)) / 86400.0,
            c.second_order_at is not null
        from intermediate.int_retention_customers c
        join staging.stg_shop__customers s using (customer_id)
        cross join intermediate.int_as_of a
        where {where}
        """
    ).fetchall()
    durations = np.array([r[0] for r in rows], dtype=float)
    events = np.array([r[1] for r in rows], dtype=bool)
    return durations, events


def _curve(warehouse, curve_type: str, segment_type: str, segment_value: str):
    rows = warehouse.execute(
        """
        select day, survival_probability, repurchase_probability, at_risk, events_cumulative,
               censored_cumulative, n_subjects
        from marts.fct_retention_curves
        where curve_type = ? and segment_type = ? and segment_value = ?
        order by day
        """,
        [curve_type, segment_type, segment_value],
    ).fetchall()
    assert rows, (curve_type, segment_type, segment_value)
    return rows


def test_km_matches_an_independent_reference_implementation(warehouse):
    durations, events = _first_to_second(warehouse)
    rows = _curve(warehouse, "first_to_second_order", "overall", "all")
    days = np.array([r[0] for r in rows], dtype=float)
    expected, _ = _kaplan_meier(durations, events, days)
    actual = np.array([r[1] for r in rows])
    np.testing.assert_allclose(actual, expected, atol=1e-9)
    for day, _, _, at_risk, events_cum, censored_cum, n_subjects in rows:
        assert n_subjects == durations.size
        assert events_cum == int(np.sum(events & (durations <= day)))
        assert censored_cum == int(np.sum(~events & (durations <= day)))
        assert at_risk == int(np.sum(durations > day))


def _model_allowance(truth: dict) -> float:
    """Bias allowed on top of sampling error. Without effects KM is unbiased (measured at 1M
    customers: 0.7694 vs 0.7697 at day 365). With effects, seasonal intensity combined with a
    growing, cohort-dependent censoring pattern biases the pooled KM by about -0.01 (measured at
    1M customers: -0.0085 overall, -0.003..-0.013 per channel)."""
    return 0.005 if truth["effects"] == "none" else 0.02


def _truth_repurchase(truth: dict, days: float, lambda_multiplier: float) -> float:
    r, alpha = truth["bgnbd"]["r"], truth["bgnbd"]["alpha"]
    return 1.0 - (alpha / (alpha + lambda_multiplier * days)) ** r


def test_km_repurchase_at_365_days_recovers_bgnbd_truth_per_channel(warehouse, truth):
    day = 365
    checked = 0
    for channel, planted in truth["channels"].items():
        durations, events = _first_to_second(warehouse, f"s.acquisition_channel = '{channel}'")
        if durations.size < 500 or np.sum(durations > day) < 100:
            continue  # too few customers observed for a year to say anything (tiny datasets)
        _, var = _kaplan_meier(durations, events, np.array([float(day)]))
        (row,) = [r for r in _curve(warehouse, "first_to_second_order", "acquisition_channel", channel) if r[0] == day]
        expected = _truth_repurchase(truth, day, planted["lambda_multiplier"])
        tolerance = 4.0 * math.sqrt(var[0]) + _model_allowance(truth)
        assert row[2] == pytest.approx(expected, abs=tolerance), (channel, row[2], expected, tolerance)
        checked += 1
    assert checked >= 3


def test_km_repurchase_at_365_days_recovers_bgnbd_truth_overall(warehouse, truth):
    """Overall = the channel mix of the planted curves (censoring does not depend on channel)."""
    day = 365
    mix = dict(
        warehouse.execute(
            """
            select segment_value, n_customers from marts.fct_retention_curves
            where curve_type = 'first_to_second_order' and segment_type = 'acquisition_channel' and day = ?
            """,
            [day],
        ).fetchall()
    )
    total = sum(mix.values())
    assert set(mix) <= set(truth["channels"])
    expected = sum(
        n / total * _truth_repurchase(truth, day, truth["channels"][c]["lambda_multiplier"]) for c, n in mix.items()
    )
    durations, events = _first_to_second(warehouse)
    _, var = _kaplan_meier(durations, events, np.array([float(day)]))
    (row,) = [r for r in _curve(warehouse, "first_to_second_order", "overall", "all") if r[0] == day]
    tolerance = 4.0 * math.sqrt(var[0]) + _model_allowance(truth)
    assert row[2] == pytest.approx(expected, abs=tolerance), (row[2], expected, tolerance)
    # And within the loose bound of the plain (no-effects) BG/NBD formula.
    assert row[2] == pytest.approx(_truth_repurchase(truth, day, 1.0), abs=0.1)


def test_km_curve_without_effects_matches_truth_at_every_day(warehouse, truth):
    """With --effects none the process is plain BG/NBD in calendar time: every day is exact."""
    rows = _curve(warehouse, "first_to_second_order", "overall", "all")
    durations, events = _first_to_second(warehouse)
    days = np.array([r[0] for r in rows], dtype=float)
    _, var = _kaplan_meier(durations, events, days)
    if truth["effects"] == "none":
        for (day, _, repurchase, *_), v in zip(rows, var):
            expected = _truth_repurchase(truth, day, 1.0)
            assert repurchase == pytest.approx(expected, abs=4.0 * math.sqrt(v) + _model_allowance(truth)), day
    else:
        # With effects, at least the shape: rising, well below 1 at a week, most of it by a year.
        repurchase = [r[2] for r in rows]
        assert repurchase == sorted(repurchase)
        assert 0.0 < repurchase[0] < 0.3


def test_between_orders_curve_is_consistent(warehouse):
    """The inter-purchase curve has one subject per completed order of a cohort customer."""
    orders = _scalar(
        warehouse,
        """
        select count(*) from intermediate.int_orders o
        join intermediate.int_retention_customers c using (customer_id) where o.is_completed
        """,
    )
    rows = _curve(warehouse, "between_orders", "overall", "all")
    assert all(r[6] == orders for r in rows)
    assert all(r[3] + r[4] + r[5] == orders for r in rows)
    # The inter-purchase curve rises with the day like any KM repurchase curve.
    repurchase = [r[2] for r in rows]
    assert repurchase == sorted(repurchase) and 0.0 < repurchase[-1] < 1.0
