"""Clickstream sessions consistent with the orders.

* Every order (any status) comes from a session: the customer viewed the purchased products
  and some of the other candidates of the same choices (what the shop showed them), added the
  purchased products to the cart, and a purchase event per order line at the order time.
  A few extra viewed candidates are added to the cart and abandoned.
* Browse-only sessions: one right after signup (non-converting signups browse too) plus
  Poisson more, more for customers who order more; each focuses on 1 + Poisson products chosen
  by the same taste model, with extra views, and adds the focused product to the cart with a
  channel-specific probability (never purchased: cart abandonment).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from ecom_growth.simulator.baskets import Baskets
from ecom_growth.simulator.catalogue import Catalogue
from ecom_growth.simulator.config import SimulationConfig
from ecom_growth.simulator.ids import FixedWidthIds, format_ids, take_strings
from ecom_growth.simulator.purchases import Orders
from ecom_growth.simulator.taste import CategoryMix, choose_items
from ecom_growth.simulator.timeline import US_PER_MINUTE, Window

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
        self.session.append(np.asarray(session, dtype=np.int32))
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


def draw_events(
    rng: np.random.Generator, config: SimulationConfig, window: Window, catalogue: Catalogue,
    factors: np.ndarray, mix: CategoryMix, signup_days: np.ndarray, channel: np.ndarray,
    orders: Orders, baskets: Baskets, customer_ids: FixedWidthIds, product_ids: FixedWidthIds,
    event_offset: int, session_offset: int,
) -> tuple[pa.Table, int]:
    """The chunk's events table and its number of sessions (to offset the next chunk's ids)."""
    funnel = config.funnel
    n_customers = signup_days.size
    n_orders = orders.customer.size
    events = _Events([], [], [], [], [])
    signup_us = window.to_us(signup_days)
    order_us = window.to_us(orders.days)
    last_us = window.end_us_exclusive - 1  # events near the end stay inside the window

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
               np.minimum(shown_us[carted] + _minutes(rng, 1 / 12, 1, int(carted.sum())), last_us))

    # --- browse-only sessions ---
    orders_per_customer = np.bincount(orders.customer, minlength=n_customers)
    last_order_days = np.full(n_customers, -np.inf)
    np.maximum.at(last_order_days, orders.customer, orders.days)
    browse_mean = np.array([c.browse_sessions_mean for c in config.channels])[channel]
    n_sessions = 1 + rng.poisson(browse_mean + funnel.browse_sessions_per_order * orders_per_customer)
    session_customer = np.repeat(np.arange(n_customers), n_sessions)
    first_session = np.zeros(session_customer.size, dtype=bool)
    first_session[np.cumsum(n_sessions) - n_sessions] = True
    horizon = np.minimum(np.maximum(signup_days, last_order_days) + funnel.browse_horizon_days, window.days)
    lo = signup_days[session_customer]
    session_days = np.where(first_session, lo, lo + rng.random(lo.size) * (horizon[session_customer] - lo))
    session_us = window.to_us(session_days)
    session_number = n_orders + np.arange(session_customer.size)

    focus_per = 1 + rng.poisson(funnel.browse_focus_mean, session_customer.size)
    focus_session = np.repeat(np.arange(session_customer.size), focus_per)
    focus_customer = session_customer[focus_session]
    focus_product, candidates, chosen_column = choose_items(
        rng, config, catalogue, factors, mix, focus_customer, window.week(session_days[focus_session]),
    )
    focus_us = np.minimum(session_us[focus_session] + _minutes(rng, 0, 20, focus_session.size), last_us)
    events.add(focus_customer, session_number[focus_session], VIEW, focus_product, focus_us)
    cart_probability = np.array([c.add_to_cart_probability for c in config.channels])[channel[focus_customer]]
    carted = rng.random(focus_session.size) < cart_probability
    events.add(focus_customer[carted], session_number[focus_session][carted], ADD_TO_CART, focus_product[carted],
               np.minimum(focus_us[carted] + _minutes(rng, 1 / 12, 1, int(carted.sum())), last_us))
    row, shown = _other_candidates(rng, candidates, chosen_column, np.arange(focus_session.size), funnel.browse_extra_views_mean)
    events.add(focus_customer[row], session_number[focus_session][row], VIEW, shown,
               np.minimum(session_us[focus_session][row] + _minutes(rng, 0, 20, row.size), last_us))

    customer = np.concatenate(events.customer)
    session = np.concatenate(events.session)
    kind = np.concatenate(events.kind)
    product = np.concatenate(events.product)
    at_us = np.concatenate(events.at_us)

    # Session ids follow session start order; event ids follow time order.
    all_session_us = np.concatenate([order_us, session_us])
    session_rank = np.empty(all_session_us.size, dtype=np.int64)
    session_rank[np.lexsort((np.arange(all_session_us.size), all_session_us))] = np.arange(all_session_us.size)
    order = np.argsort(at_us, kind="stable")  # ties keep construction order (view, cart, purchase)
    table = pa.table(
        {
            "event_id": format_ids("E", event_offset + np.arange(order.size), 11),
            "customer_id": customer_ids.take(customer[order]),
            "session_id": FixedWidthIds("S", session_offset + session_rank, 11).take(session[order]),
            "event_type": take_strings(EVENT_LABELS, kind[order]),
            "product_id": product_ids.take(product[order]),
            "occurred_at": pa.array(at_us[order], type=pa.timestamp("us")),
        }
    )
    return table, int(all_session_us.size)
