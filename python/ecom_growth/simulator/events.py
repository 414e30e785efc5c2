"""Clickstream sessions consistent with the orders.

* Every order (any status) comes from a session: the customer viewed the purchased products
  and some of the other candidates of the same choices (what the shop showed them), added the
  purchased products to the cart, and a purchase event per order line at the order time.
  A few extra viewed candidates are added to the cart and abandoned.
* Browse-only sessions (see ``_browse_sessions``): one at signup (non-converting signups browse
  too), a burst of signup interest, and, once a buyer, a Poisson process whose rate is
  proportional to the purchase rate while the customer is alive (and a while after death).
  Never a count derived from realised orders, so browsing carries no future information.
  Each focuses on 1 + Poisson products chosen by the same taste model, with extra views, and
  adds the focused product to the cart with a channel-specific probability (cart abandonment).
* Events are generated period by period; ids are assigned by the caller (core.py) from the
  customer, the session's rank among the customer's sessions and the event's rank within it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ecom_growth.simulator.baskets import Baskets
from ecom_growth.simulator.catalogue import Catalogue
from ecom_growth.simulator.config import SimulationConfig
from ecom_growth.simulator.purchases import Conversion, Lifecycle, Orders, Traits
from ecom_growth.simulator.taste import CategoryMix, choose_items
from ecom_growth.simulator.timeline import US_PER_MINUTE, PurchaseClock, Window

VIEW, ADD_TO_CART, PURCHASE = 0, 1, 2
EVENT_LABELS = ("view", "add_to_cart", "purchase")


@dataclass
class _Events:
    customer: list[np.ndarray]
    session: list[np.ndarray]
    kind: list[np.ndarray]
    product: list[np.ndarray]
    at_us: list[np.ndarray]

    def add(self, customer: np.ndarray, session: np.ndarray, kind: int, product: np.ndarray, at_us: np.ndarray) -> None:
        self.customer.append(np.asarray(customer, dtype=np.int32))
        self.session.append(np.asarray(session, dtype=np.int64))
        self.kind.append(np.full(np.size(at_us), kind, dtype=np.int8))
        self.product.append(np.asarray(product, dtype=np.int32))
        self.at_us.append(np.asarray(at_us, dtype=np.int64))


def _other_candidates(rng: np.random.Generator, candidates: np.ndarray, chosen_column: np.ndarray, draw: np.ndarray, mean: float):
    """For each draw row: (row index, product) of Poisson(mean) other candidates it showed."""
    n_others = candidates.shape[1] - 1
    count = np.minimum(rng.poisson(mean, draw.size), n_others)
    row = np.repeat(np.arange(draw.size), count)
    j = np.arange(row.size) - np.repeat(np.cumsum(count) - count, count)
    column = j + (j >= chosen_column[draw[row]])
    return row, candidates[draw[row], column]


def _minutes(rng: np.random.Generator, low: float, high: float, n: int) -> np.ndarray:
    return (rng.uniform(low, high, n) * US_PER_MINUTE).astype(np.int64)


@dataclass
class PeriodEvents:
    """One period's events (construction order); ``session`` is period-local: order i's session
    is i, browse sessions follow the orders."""

    customer: np.ndarray  # int32 chunk-local
    session: np.ndarray  # int64
    kind: np.ndarray  # int8
    product: np.ndarray  # int32
    at_us: np.ndarray  # int64 epoch microseconds (may lie past the window end: the caller filters)
    session_anchor_us: np.ndarray  # per session: the order time or the browse start


def _uniform_in(rng: np.random.Generator, lo: np.ndarray, hi: np.ndarray, count: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(owner row, value) of ``count`` uniform points in [lo, hi) per row."""
    row = np.repeat(np.arange(count.size), count)
    return row, lo[row] + rng.random(row.size) * (hi - lo)[row]


def _browse_sessions(
    rng: np.random.Generator, config: SimulationConfig, clock: PurchaseClock, signup_days: np.ndarray,
    channel: np.ndarray, traits: Traits, conversion: Conversion, life: Lifecycle, lo: float, hi: float,
) -> tuple[np.ndarray, np.ndarray]:
    """(chunk customer, start day) of the browse-only sessions starting in [lo, hi).

    Three processes, each driven by latent state and the past only: a session at signup; signup
    interest, Poisson(channel browse_sessions_mean) sessions spread uniformly over the
    browse_horizon_days after signup; and, once a buyer, sessions at rate browse_sessions_per_order
    x lambda (seasonal, like purchases) until browse_horizon_days after death (forever if alive).
    """
    funnel = config.funnel
    horizon = funnel.browse_horizon_days
    at_signup = np.flatnonzero(signup_days >= lo)
    interested = np.flatnonzero(signup_days >= lo - horizon)
    start = np.maximum(signup_days[interested], lo)
    stop = np.minimum(signup_days[interested] + horizon, hi)
    mean = np.array([c.browse_sessions_mean for c in config.channels])[channel[interested]]
    row, interest_days = _uniform_in(rng, start, stop, rng.poisson(mean * np.maximum(stop - start, 0.0) / horizon))
    interest_customer = interested[row]

    first = conversion.first_days[: signup_days.size]
    engaged_until = np.where(np.isnan(life.death_days[: signup_days.size]), np.inf, life.death_days[: signup_days.size] + horizon)
    with np.errstate(invalid="ignore"):
        engaged = np.flatnonzero((first < hi) & (engaged_until > lo))
    s_start = clock.operational(np.maximum(first[engaged], lo))
    s_stop = clock.operational(np.minimum(engaged_until[engaged], hi))
    rate = funnel.browse_sessions_per_order * traits.lam[engaged]
    row, s = _uniform_in(rng, s_start, s_stop, rng.poisson(rate * np.maximum(s_stop - s_start, 0.0)))
    customer = np.concatenate([at_signup, interest_customer, engaged[row]])
    days = np.concatenate([signup_days[at_signup], interest_days, clock.calendar(s)])
    return customer, days


def period_events(
    rng: np.random.Generator, config: SimulationConfig, window: Window, clock: PurchaseClock, catalogue: Catalogue,
    factors: np.ndarray, mix: CategoryMix, signup_days: np.ndarray, channel: np.ndarray, traits: Traits,
    conversion: Conversion, life: Lifecycle, orders: Orders, baskets: Baskets, lo: float, hi: float,
) -> PeriodEvents:
    """Sessions of one period [lo, hi): those of its orders and the browse-only ones.

    ``signup_days`` holds the customers active in the period (a prefix of the chunk).
    """
    funnel = config.funnel
    n_orders = orders.customer.size
    events = _Events([], [], [], [], [])
    signup_us = window.to_us(signup_days)
    order_us = window.to_us(orders.days)

    # --- order sessions (session number = order index) ---
    # Minutes before the order; never before signup (a first order can follow it closely).
    lines = baskets.lines
    line_us = order_us[lines.order]
    line_customer = orders.customer[lines.order]
    not_before = signup_us[line_customer]
    events.add(line_customer, lines.order, VIEW, lines.product, np.maximum(line_us - _minutes(rng, 2, 30, line_us.size), not_before))
    events.add(line_customer, lines.order, ADD_TO_CART, lines.product,
               np.maximum(line_us - _minutes(rng, 1 / 6, 2, line_us.size), not_before))
    events.add(line_customer, lines.order, PURCHASE, lines.product, line_us)
    row, shown = _other_candidates(rng, baskets.candidates, baskets.chosen_column, lines.draw, funnel.order_extra_views_mean)
    shown_us = np.maximum(line_us[row] - _minutes(rng, 2, 30, row.size), not_before[row])
    events.add(line_customer[row], lines.order[row], VIEW, shown, shown_us)
    carted = rng.random(row.size) < funnel.order_abandoned_cart_probability
    events.add(line_customer[row][carted], lines.order[row][carted], ADD_TO_CART, shown[carted],
               shown_us[carted] + _minutes(rng, 1 / 12, 1, int(carted.sum())))

    # --- browse-only sessions ---
    session_customer, session_days = _browse_sessions(
        rng, config, clock, signup_days, channel, traits, conversion, life, lo, hi,
    )
    session_us = window.to_us(session_days)
    session_number = n_orders + np.arange(session_customer.size)
    focus_per = 1 + rng.poisson(funnel.browse_focus_mean, session_customer.size)
    focus_session = np.repeat(np.arange(session_customer.size), focus_per)
    focus_customer = session_customer[focus_session]
    focus_product, candidates, chosen_column = choose_items(
        rng, config, catalogue, factors, mix, focus_customer, window.week(session_days[focus_session]),
    )
    focus_us = session_us[focus_session] + _minutes(rng, 0, 20, focus_session.size)
    events.add(focus_customer, session_number[focus_session], VIEW, focus_product, focus_us)
    cart_probability = np.array([c.add_to_cart_probability for c in config.channels])[channel[focus_customer]]
    carted = rng.random(focus_session.size) < cart_probability
    events.add(focus_customer[carted], session_number[focus_session][carted], ADD_TO_CART, focus_product[carted],
               focus_us[carted] + _minutes(rng, 1 / 12, 1, int(carted.sum())))
    row, shown = _other_candidates(rng, candidates, chosen_column, np.arange(focus_session.size), funnel.browse_extra_views_mean)
    events.add(focus_customer[row], session_number[focus_session][row], VIEW, shown,
               session_us[focus_session][row] + _minutes(rng, 0, 20, row.size))

    return PeriodEvents(
        customer=np.concatenate(events.customer),
        session=np.concatenate(events.session),
        kind=np.concatenate(events.kind),
        product=np.concatenate(events.product),
        at_us=np.concatenate(events.at_us),
        session_anchor_us=np.concatenate([order_us, session_us]),
    )
