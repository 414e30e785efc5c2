"""Experiments on existing customers in the simulator (simulator/experiments.py)."""

from __future__ import annotations

from datetime import date

import numpy as np
import pytest

from ecom_growth.simulator.config import build_config
from ecom_growth.simulator.experiments import (
    CONTROL,
    NOT_ASSIGNED,
    TREATMENT,
    CustomerArms,
    accumulate_customer_metrics,
    assign_customer_experiments,
    customer_experiment_start_days,
    customer_experiments_truth,
    period_treatment_orders,
)
from ecom_growth.simulator.purchases import COMPLETED, RETURNED, Traits
from ecom_growth.simulator.timeline import PurchaseClock, Window

CONFIG = build_config(1000, 1)
WINDOW = Window(CONFIG.start, CONFIG.end)
CLOCK = PurchaseClock(WINDOW, 0.0, 0.0, 800)


def _traits(n: int, lam: float) -> Traits:
    return Traits(np.zeros(n), np.full(n, lam), np.zeros(n), np.ones(n), np.zeros(n, np.int64))


def _arms(arm: list[int], assigned: float) -> CustomerArms:
    n = len(CONFIG.customer_experiments)
    return CustomerArms(np.tile(np.array(arm, np.int8), (n, 1)), np.full((n, len(arm)), assigned))


def test_treatment_adds_orders_at_the_planted_rates_inside_the_window_only():
    n = 200_000
    arms = _arms([TREATMENT] * n, 10.0)
    orders = period_treatment_orders(np.random.default_rng(0), CONFIG, CLOCK, _traits(n, 0.01), arms,
                                     np.full(n, np.nan), 0.0, 100.0, n)
    lifts = [(e.completed_rate_lift, e.returned_rate_lift, e.metric_window_days) for e in CONFIG.customer_experiments]
    expected_completed = sum(n * 0.01 * w * c for c, _, w in lifts)
    expected_returned = sum(n * 0.01 * w * CONFIG.status.returned_per_completed * r for _, r, w in lifts)
    counts = np.bincount(orders.status, minlength=3)
    assert counts[COMPLETED] == pytest.approx(expected_completed, abs=4 * np.sqrt(expected_completed))
    assert counts[RETURNED] == pytest.approx(expected_returned, abs=4 * np.sqrt(expected_returned))
    assert orders.days.min() >= 10.0 and orders.days.max() <= 10.0 + max(w for _, _, w in lifts)
    assert not orders.is_first.any()


def test_no_orders_for_control_unenrolled_dead_or_outside_the_period():
    arms = _arms([CONTROL, NOT_ASSIGNED, TREATMENT, TREATMENT], 10.0)
    death = np.array([np.nan, np.nan, 5.0, np.nan])  # the third died before enrolment
    orders = period_treatment_orders(np.random.default_rng(0), CONFIG, CLOCK, _traits(4, 50.0), arms, death, 0.0, 100.0, 4)
    assert set(orders.customer.tolist()) == {3}
    later = period_treatment_orders(np.random.default_rng(0), CONFIG, CLOCK, _traits(4, 50.0), arms, death, 60.0, 80.0, 4)
    assert later.customer.size == 0  # every window closed at day 40


def test_only_customers_with_a_first_order_before_enrolment_are_enrolled():
    slots = 10_000
    start = customer_experiment_start_days(CONFIG, CONFIG.customer_experiments[0], WINDOW)
    first = np.full(slots, np.nan)
    first[: slots // 2] = start - 1.0  # converted before: eligible
    first[slots // 2: 3 * slots // 4] = start + 100.0  # converts after the enrolment window
    arms = assign_customer_experiments(np.random.default_rng(5), CONFIG, WINDOW, first, slots)
    assert (arms.arm[:, slots // 2:] == NOT_ASSIGNED).all()
    enrolled = arms.arm[:, : slots // 2] != NOT_ASSIGNED
    experiment = CONFIG.customer_experiments[0]
    assert enrolled.mean() == pytest.approx(experiment.enrolment_probability, abs=0.03)
    assert (arms.arm[:, : slots // 2][enrolled] == TREATMENT).mean() == pytest.approx(experiment.treatment_share, abs=0.03)
    assert (arms.assigned_days[0] >= start).all() and (arms.assigned_days[0] < start + experiment.enrolment_days).all()
    again = assign_customer_experiments(np.random.default_rng(5), CONFIG, WINDOW, first, slots)
    assert np.array_equal(arms.arm, again.arm)


def test_a_start_without_a_pre_period_moves_into_the_horizon():
    late = CONFIG.customer_experiments[0].__class__("x", date(2040, 1, 1), 0.0, 0.0, fallback_fraction=0.5)
    assert customer_experiment_start_days(CONFIG, late, WINDOW) == 0.5 * CONFIG.signups.scale_days


def test_truth_moments_are_the_per_arm_pre_and_window_sums():
    # Customer 0 (control): 1 completed order of 10 before and 2 (5 + 7) after; customer 1
    # (treatment): one returned order after. Customer 2 has no full window by the end.
    arms = _arms([CONTROL, TREATMENT, CONTROL], 100.0)
    arms.assigned_days[:, 2] = 1000.0
    customer = np.array([0, 0, 0, 1, 2])
    days = np.array([90.0, 101.0, 120.0, 105.0, 1001.0])
    status = np.array([COMPLETED, COMPLETED, COMPLETED, RETURNED, COMPLETED], np.int8)
    cents = np.array([1000, 500, 700, 900, 100])
    sums: dict = {}
    accumulate_customer_metrics(sums, CONFIG, arms, customer, days, status, cents, end_days=500.0)
    truth = customer_experiments_truth(CONFIG, WINDOW, sums)
    realised = truth[CONFIG.customer_experiments[0].experiment_id]["realised"]
    assert realised["control"]["revenue"] == {
        "users_with_full_window": 1, "mean_pre_period": 10.0, "mean_metric_window": 12.0, "pre_post_correlation": None,
    }
    assert realised["control"]["completed_orders"]["mean_metric_window"] == 2.0
    assert realised["treatment"]["returned_orders"]["mean_metric_window"] == 1.0
    assert realised["treatment"]["revenue"]["mean_metric_window"] == 0.0


def test_effects_none_plants_no_treatment_effect():
    plain = build_config(1000, 1, effects="none")
    assert all(e.completed_rate_lift == 0 and e.returned_rate_lift == 0 for e in plain.customer_experiments)
    arms = CustomerArms(np.full((len(plain.customer_experiments), 5), TREATMENT, np.int8),
                        np.full((len(plain.customer_experiments), 5), 10.0))
    orders = period_treatment_orders(np.random.default_rng(0), plain, CLOCK, _traits(5, 50.0), arms,
                                     np.full(5, np.nan), 0.0, 100.0, 5)
    assert orders.customer.size == 0
