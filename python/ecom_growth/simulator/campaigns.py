"""Past retention campaigns with a randomised control, and their heterogeneous effect.

Each campaign (config.campaigns) is sent on one day to a random ``target_share`` of the customers
whose first order lies before that day (state known then). Each send gets an action (and its
coupon) uniformly at random and is a randomised control (recorded, not sent) with probability
``control_share``. A treated send adds, during ``effect_days`` after sent_at and while the
customer is alive, a Poisson process of completed orders whose expected count is the send's
planted uplift

    uplift = action.peak_uplift x exp(-ln(d / peak_days)^2 / (2 width^2)),

d = days since the customer's last completed order at send time (known then). So the effect is
largest for customers lapsing for about peak_days (medium churn risk), small for recent, loyal
buyers and for long-lapsed ones, and nil for the dead (the long-gone). The BG/NBD process and
death are unchanged (the added orders do not count towards them), so control and treatment
differ only by the added orders. Everything is decided from state before the send; the added
orders are drawn period by period from their own stream (prefix stability).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

import numpy as np
import pyarrow as pa

from ecom_growth.simulator.config import SimulationConfig
from ecom_growth.simulator.ids import FixedWidthIds, take_strings
from ecom_growth.simulator.purchases import COMPLETED, Orders, Traits
from ecom_growth.simulator.timeline import Window

# Stream purposes (see experiments.py for why they sit far from streams.py's range). Never renumber.
CAMPAIGN_SENDS, CAMPAIGN_ORDERS = 33, 34
# Days-since-last-order buckets of the truth summary (upper bounds, days).
RECENCY_BUCKETS = (14.0, 45.0, 120.0, 365.0, np.inf)


def campaign_send_days(config: SimulationConfig, window: Window) -> np.ndarray:
    """Send day of each campaign (days since the window start). A date outside [60 days, the
    signup scale horizon) moves to its ``fallback_fraction`` of that horizon (decided from the start only)."""
    scale = config.signups.scale_days
    days = []
    for campaign in config.campaigns:
        day = (campaign.send_date - window.start).days
        if day < 60 or day > scale:
            day = int(campaign.fallback_fraction * scale)
        days.append(float(day))
    return np.array(days)


@dataclass
class Sends:
    """Per campaign (rows) and chunk customer (columns)."""

    is_sent: np.ndarray  # bool: a send row exists (treated or control)
    is_control: np.ndarray  # bool
    action: np.ndarray  # int8 index into config.campaign_actions
    sent_days: np.ndarray  # float: send time, days since the window start
    days_since_last_order: np.ndarray  # float, filled in when the send period is simulated (nan before)


def draw_sends(rng: np.random.Generator, config: SimulationConfig, window: Window, first_days: np.ndarray,
               slots: int) -> Sends:
    """Who each campaign targets, their action and arm: four fixed-size draws per slot and campaign."""
    n, k = first_days.size, len(config.campaigns)
    send_days = campaign_send_days(config, window)
    shape = (k, n)
    sent, control = np.zeros(shape, bool), np.zeros(shape, bool)
    action, at = np.zeros(shape, np.int8), np.zeros(shape)
    for c, campaign in enumerate(config.campaigns):
        selected = rng.random(slots)[:n] < campaign.target_share
        control[c] = rng.random(slots)[:n] < campaign.control_share
        action[c] = rng.integers(0, len(config.campaign_actions), slots)[:n]
        at[c] = send_days[c] + (8.0 + 10.0 * rng.random(slots)[:n]) / 24.0  # office hours of the send day
        with np.errstate(invalid="ignore"):
            sent[c] = selected & (first_days < at[c])
    return Sends(sent, control, action, at, np.full(shape, np.nan))


def planted_uplift(config: SimulationConfig, action: np.ndarray, days_since_last_order: np.ndarray) -> np.ndarray:
    """Expected added completed orders of a treated send (alive customer), module docstring."""
    effect = config.campaign_effect
    peak = np.array([a.peak_uplift for a in config.campaign_actions])[action]
    d = np.maximum(days_since_last_order, 0.5)
    return peak * np.exp(-np.log(d / effect.peak_days) ** 2 / (2 * effect.width**2))


def record_recency_at_send(sends: Sends, last_completed_days: np.ndarray, placed: Orders, lo: float, hi: float) -> None:
    """For campaigns sent in [lo, hi): days since the last completed order before each send,
    from earlier periods (``last_completed_days``) and this period's orders before the send."""
    n = last_completed_days.size
    for c in np.flatnonzero((sends.sent_days[:, :n] >= lo).any(axis=1) & (sends.sent_days[:, :n] < hi).any(axis=1)):
        at = sends.sent_days[c, :n]
        before = (placed.status == COMPLETED) & (placed.days < at[placed.customer])
        last = last_completed_days.copy()
        np.fmax.at(last, placed.customer[before], placed.days[before])
        sends.days_since_last_order[c, :n] = np.where((at >= lo) & (at < hi), at - last, sends.days_since_last_order[c, :n])


def period_campaign_orders(
    rng: np.random.Generator, config: SimulationConfig, traits: Traits, sends: Sends, death_days: np.ndarray,
    lo: float, hi: float, n_active: int,
) -> Orders:
    """Completed orders the treated sends add in [lo, hi) (module docstring)."""
    effect_days = config.campaign_effect.effect_days
    parts = []
    for c in range(len(config.campaigns)):
        start = sends.sent_days[c, :n_active]
        stretch_lo, stretch_hi = np.maximum(start, lo), np.minimum(start + effect_days, hi)
        treated = sends.is_sent[c, :n_active] & ~sends.is_control[c, :n_active]
        who = np.flatnonzero(treated & (stretch_hi > stretch_lo) & ~np.isnan(sends.days_since_last_order[c, :n_active]))
        if who.size == 0:
            continue
        rate = planted_uplift(config, sends.action[c, who], sends.days_since_last_order[c, who]) / effect_days
        count = rng.poisson(rate * (stretch_hi[who] - stretch_lo[who]))
        segment = np.repeat(np.arange(who.size), count)
        days = stretch_lo[who][segment] + rng.random(segment.size) * (stretch_hi[who] - stretch_lo[who])[segment]
        owner = who[segment]
        with np.errstate(invalid="ignore"):
            alive = ~(death_days[owner] <= days)
        parts.append((owner[alive], days[alive]))
    if not parts:
        return Orders(*(np.zeros(0, t) for t in (np.int64, np.float64, np.int8, np.int64, bool)))
    customer = np.concatenate([p[0] for p in parts]).astype(np.int64)
    value = rng.gamma(config.gamma_gamma.p, 1.0, customer.size) / traits.nu[customer]
    return Orders(
        customer=customer,
        days=np.concatenate([p[1] for p in parts]),
        status=np.full(customer.size, COMPLETED, np.int8),
        total_cents=np.maximum(np.rint(value * 100.0).astype(np.int64), 1),
        is_first=np.zeros(customer.size, bool),
    )


def campaign_sends_table(config: SimulationConfig, window: Window, customer_ids: FixedWidthIds, sends: Sends,
                         end_days: float) -> pa.Table:
    """campaign_sends rows sent before ``end_days`` (campaign by campaign, customers in id order)."""
    tables = []
    n = len(customer_ids)
    for c, campaign in enumerate(config.campaigns):
        rows = np.flatnonzero(sends.is_sent[c, :n] & (sends.sent_days[c, :n] < end_days))
        action = sends.action[c, rows]
        tables.append(pa.table({
            "campaign_id": take_strings([campaign.campaign_id], np.zeros(rows.size, np.int64)),
            "customer_id": customer_ids.take(rows),
            "sent_at": pa.array(window.to_us(sends.sent_days[c, rows]), type=pa.timestamp("us")),
            "action": take_strings([a.name for a in config.campaign_actions], action),
            "coupon_value": pa.array(np.array([a.coupon_value for a in config.campaign_actions])[action], type=pa.float64()),
            "is_control": pa.array(sends.is_control[c, rows]),
        }))
    return pa.concat_tables(tables)


def accumulate_campaign_truth(sums: dict, config: SimulationConfig, sends: Sends, death_days: np.ndarray,
                              end_days: float) -> None:
    """Add the chunk's sends to ``sums``: per (campaign, arm) counts, and per (action, recency
    bucket, alive at send) the number of sends and the sum of their planted uplift (0 when dead)."""
    n = death_days.size
    for c, campaign in enumerate(config.campaigns):
        sent = sends.is_sent[c, :n] & (sends.sent_days[c, :n] < end_days)
        for arm, mask in (("control", sent & sends.is_control[c, :n]), ("treatment", sent & ~sends.is_control[c, :n])):
            sums[(campaign.campaign_id, arm)] = sums.get((campaign.campaign_id, arm), 0) + int(mask.sum())
        at = sends.sent_days[c, :n]
        with np.errstate(invalid="ignore"):
            alive = sent & ~(death_days <= at)
        recency = sends.days_since_last_order[c, :n]
        uplift = np.where(alive, planted_uplift(config, sends.action[c, :n], np.nan_to_num(recency, nan=1.0)), 0.0)
        bucket = np.searchsorted(RECENCY_BUCKETS, np.nan_to_num(recency, nan=0.0))
        for a in range(len(config.campaign_actions)):
            for b in range(len(RECENCY_BUCKETS)):
                mask = sent & (sends.action[c, :n] == a) & (bucket == b)
                key = ("uplift", a, b)
                count, total = sums.get(key, (0, 0.0))
                sums[key] = (count + int(mask.sum()), total + float(uplift[mask].sum()))


def campaigns_truth(config: SimulationConfig, window: Window, sums: dict) -> dict:
    """_truth.json section: the planted process and realised send counts."""
    days = campaign_send_days(config, window)
    effect = config.campaign_effect
    lower = (0.0, *RECENCY_BUCKETS[:-1])
    return {
        "process": __doc__.split("\n\n")[1].replace("\n", " "),
        "uplift_formula": "peak_uplift(action) * exp(-ln(days_since_last_order / peak_days)^2 / (2 width^2)); 0 when dead",
        "peak_days": effect.peak_days,
        "width": effect.width,
        "effect_days": effect.effect_days,
        "actions": {a.name: {"coupon_value": a.coupon_value, "peak_uplift": a.peak_uplift} for a in config.campaign_actions},
        "campaigns": {
            campaign.campaign_id: {
                "send_date": (window.start + timedelta(days=int(days[c]))).isoformat(),
                "target_share": campaign.target_share,
                "control_share": campaign.control_share,
                "sends": {arm: int(sums.get((campaign.campaign_id, arm), 0)) for arm in ("control", "treatment")},
            }
            for c, campaign in enumerate(config.campaigns)
        },
        "mean_planted_uplift_by_recency": {
            action.name: {
                f"{lower[b]:g}-{RECENCY_BUCKETS[b]:g}": {
                    "sends": sums.get(("uplift", a, b), (0, 0.0))[0],
                    "mean_uplift": (round(sums[("uplift", a, b)][1] / sums[("uplift", a, b)][0], 6)
                                    if sums.get(("uplift", a, b), (0, 0.0))[0] else None),
                }
                for b in range(len(RECENCY_BUCKETS))
            }
            for a, action in enumerate(config.campaign_actions)
        },
    }
