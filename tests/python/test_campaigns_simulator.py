"""Past campaigns in the simulator (simulator/campaigns.py): randomised sends, heterogeneous effect."""

from __future__ import annotations

import numpy as np
import pytest

from ecom_growth.simulator.campaigns import (
    Sends,
    campaign_send_days,
    draw_sends,
    period_campaign_orders,
    planted_uplift,
    record_recency_at_send,
)
from ecom_growth.simulator.config import build_config
from ecom_growth.simulator.purchases import COMPLETED, Orders, Traits
from ecom_growth.simulator.timeline import Window

CONFIG = build_config(1000, 1)
WINDOW = Window(CONFIG.start, CONFIG.end)


def _traits(n: int) -> Traits:
    return Traits(np.zeros(n), np.full(n, 0.01), np.zeros(n), np.ones(n), np.zeros(n, np.int64))


def test_uplift_peaks_at_medium_recency_and_is_small_for_loyal_and_long_gone():
    peak = CONFIG.campaign_effect.peak_days
    uplift = planted_uplift(CONFIG, np.zeros(3, np.int8), np.array([3.0, peak, 600.0]))
    assert uplift[1] == pytest.approx(CONFIG.campaign_actions[0].peak_uplift)
    assert uplift[0] < uplift[1] / 4 and uplift[2] < uplift[1] / 4
    coupon, email = planted_uplift(CONFIG, np.array([0, 1], np.int8), np.array([peak, peak]))
    assert coupon > email  # the coupon action has the larger planted peak


def test_sends_only_target_customers_with_an_earlier_first_order():
    slots = 20_000
    day = campaign_send_days(CONFIG, WINDOW)[0]
    first = np.where(np.arange(slots) < slots // 2, day - 10.0, np.nan)
    sends = draw_sends(np.random.default_rng(1), CONFIG, WINDOW, first, slots)
    assert not sends.is_sent[:, slots // 2:].any()
    campaign = CONFIG.campaigns[0]
    assert sends.is_sent[0, : slots // 2].mean() == pytest.approx(campaign.target_share, abs=0.02)
    assert sends.is_control[0][sends.is_sent[0]].mean() == pytest.approx(campaign.control_share, abs=0.02)
    assert (sends.sent_days[0] >= day).all() and (sends.sent_days[0] < day + 1).all()


def _one_send(control: bool, recency: float, n: int = 1) -> Sends:
    k = len(CONFIG.campaigns)
    sends = Sends(np.zeros((k, n), bool), np.full((k, n), control), np.zeros((k, n), np.int8), np.full((k, n), 100.0),
                  np.full((k, n), np.nan))
    sends.is_sent[0] = True
    sends.days_since_last_order[0] = recency
    return sends


def test_treated_sends_add_their_planted_uplift_and_controls_add_nothing():
    n = 100_000
    peak = CONFIG.campaign_effect.peak_days
    treated = period_campaign_orders(np.random.default_rng(0), CONFIG, _traits(n), _one_send(False, peak, n),
                                     np.full(n, np.nan), 0.0, 200.0, n)
    expected = n * CONFIG.campaign_actions[0].peak_uplift
    assert treated.customer.size == pytest.approx(expected, abs=4 * np.sqrt(expected))
    assert (treated.status == COMPLETED).all()
    assert treated.days.min() >= 100.0 and treated.days.max() <= 100.0 + CONFIG.campaign_effect.effect_days
    control = period_campaign_orders(np.random.default_rng(0), CONFIG, _traits(n), _one_send(True, peak, n),
                                     np.full(n, np.nan), 0.0, 200.0, n)
    assert control.customer.size == 0
    dead = period_campaign_orders(np.random.default_rng(0), CONFIG, _traits(n), _one_send(False, peak, n),
                                  np.full(n, 99.0), 0.0, 200.0, n)
    assert dead.customer.size == 0  # the long-gone do not come back


def test_recency_at_send_uses_only_orders_before_the_send():
    sends = _one_send(False, np.nan, 2)
    last = np.array([40.0, np.nan])
    placed = Orders(np.array([0, 0, 1]), np.array([95.0, 101.0, 99.0]), np.zeros(3, np.int8), np.ones(3, np.int64),
                    np.zeros(3, bool))
    record_recency_at_send(sends, last, placed, 84.0, 112.0)
    assert sends.days_since_last_order[0].tolist() == [5.0, 1.0]  # the order at 101 is after the send
