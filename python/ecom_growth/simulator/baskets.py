"""Order lines: which products an order contains and what was paid for each.

The order total is planted first (Gamma-Gamma), so the basket is built to fit it:

1. An order wants 1 + Poisson products plus a few filler candidates; each is one taste choice
   with a per-line budget (total / wanted lines) that steers it towards affordable products.
2. Lines of repeat orders re-buy one of the customer's first-order products with a planted
   probability (favourite items).
3. Duplicates within an order merge into the quantity; the first line always has quantity 1.
4. Lines are kept, in order, while the list value so far is below the total; if even all of
   them fall short, the quantities of the non-first lines are scaled up.
5. Every line except the first is paid list price x total / list value, floored to the cent;
   the first line absorbs the remainder, so sum(quantity * unit_price) == order_total to the
   cent and discount_total == list value - order_total (>= 0 whenever the list value covers
   the total, which step 4 guarantees except for single-line baskets).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ecom_growth.simulator.catalogue import Catalogue
from ecom_growth.simulator.config import SimulationConfig
from ecom_growth.simulator.purchases import Orders
from ecom_growth.simulator.taste import CategoryMix, choose_items
from ecom_growth.simulator.timeline import Window

_MAX_LINES = 16  # positions are capped so that (order, product, position) packs into one int64 key


@dataclass
class Lines:
    """Final order lines of a chunk, sorted by (order, position)."""

    order: np.ndarray  # index into the chunk's Orders
    product: np.ndarray
    quantity: np.ndarray  # int64
    unit_cents: np.ndarray  # int64
    draw: np.ndarray  # index of the taste choice behind the line (for the session's views)


@dataclass
class Favourites:
    """Each customer's first-order products (re-bought by later orders), kept across periods."""

    start: np.ndarray  # per chunk customer: offset into product
    count: np.ndarray  # per chunk customer: number of favourites (0 before the first order)
    product: np.ndarray

    @staticmethod
    def empty(n_customers: int) -> Favourites:
        return Favourites(np.zeros(n_customers, np.int64), np.zeros(n_customers, np.int64), np.zeros(0, np.int32))

    def add(self, owner: np.ndarray, product: np.ndarray) -> None:
        """Record first-order products (each owner's first order appears in one period only)."""
        by_owner = np.argsort(owner, kind="stable")
        owners, first, counts = np.unique(owner[by_owner], return_index=True, return_counts=True)
        self.start[owners] = self.product.size + first
        self.count[owners] = counts
        self.product = np.concatenate([self.product, product[by_owner].astype(np.int32)])


@dataclass
class Baskets:
    lines: Lines
    list_cents: np.ndarray  # per order: list value at order time
    discount_cents: np.ndarray  # per order
    candidates: np.ndarray  # (n_draws, C) candidate products of every choice
    chosen_column: np.ndarray  # (n_draws,) column of the chosen candidate


def _first_in_group(group: np.ndarray, mask: np.ndarray, n_groups: int) -> np.ndarray:
    """Index of the first row with ``mask`` in each group (rows sorted by group), -1 if none."""
    rows = np.flatnonzero(mask)
    first = np.full(n_groups, -1, dtype=np.int64)
    groups, where = np.unique(group[rows], return_index=True)
    first[groups] = rows[where]
    return first


def draw_baskets(
    rng: np.random.Generator, config: SimulationConfig, window: Window, catalogue: Catalogue,
    factors: np.ndarray, mix: CategoryMix, orders: Orders, favourites: Favourites,
) -> Baskets:
    """Lines of ``orders`` (one period's); first orders add to ``favourites``, repeats re-buy them."""
    basket = config.basket
    if basket.max_lines > _MAX_LINES:
        raise ValueError(f"basket.max_lines must be at most {_MAX_LINES}")
    n_orders = orders.customer.size
    total = orders.total_cents
    week = window.week(orders.days)
    wanted = 1 + np.minimum(rng.poisson(basket.extra_lines_mean, n_orders), basket.max_lines - 1)
    coupon = np.where(
        rng.random(n_orders) < basket.coupon_share, rng.uniform(basket.coupon_min, basket.coupon_max, n_orders), 0.0
    )
    target = total / (1.0 - coupon)
    remaining = target.copy()
    enough = basket.stop_fraction * target

    parts: dict[str, list[np.ndarray]] = {k: [] for k in ("order", "position", "product", "units", "candidates", "column")}
    for phase, members in enumerate((np.flatnonzero(orders.is_first), np.flatnonzero(~orders.is_first))):
        phase_start = len(parts["order"])
        open_orders = members
        for position in range(basket.max_lines):
            if open_orders.size == 0:
                break
            budget = remaining[open_orders] / np.maximum(wanted[open_orders] - position, 1)
            customer = orders.customer[open_orders]
            product, candidates, column = choose_items(
                rng, config, catalogue, factors, mix, customer, week[open_orders],
                budget_log=np.log(np.maximum(budget, 1.0) / 100.0),
                price_cap=remaining[open_orders] * (1.0 + basket.max_overshoot) / 100.0,
            )
            if phase == 1:
                # A favourite is re-bought with probability rebuy_probability x its price weight
                # (the same rho ** e / Z-bar as the candidate draw: re-buys respond to price too).
                count = favourites.count[customer]
                pick = favourites.start[customer] + (rng.random(customer.size) * count).astype(np.int64)
                favourite = favourites.product[np.minimum(pick, max(favourites.product.size - 1, 0))] \
                    if favourites.product.size else np.zeros(customer.size, dtype=np.int32)
                blocks = catalogue.rebuy_weight.shape[1]
                weight = catalogue.rebuy_weight.reshape(-1)[favourite.astype(np.int64) * blocks + catalogue.block(week[open_orders])]
                rebuy = (count > 0) & (rng.random(customer.size) < config.taste.rebuy_probability * weight)
                product[rebuy] = favourite[rebuy]
            units = np.ones(open_orders.size, dtype=np.int64)
            if position > 0:
                units += rng.poisson(basket.extra_units_mean, open_orders.size)
            remaining[open_orders] -= units * catalogue.price_cents[product, week[open_orders]]
            for key, value in (("order", open_orders), ("position", np.full(open_orders.size, position)),
                               ("product", product), ("units", units), ("candidates", candidates), ("column", column)):
                parts[key].append(value)
            open_orders = open_orders[remaining[open_orders] > enough[open_orders]]
        if phase == 0 and len(parts["order"]) > phase_start:
            # Favourites: every product of the customer's first order.
            owner = orders.customer[np.concatenate(parts["order"][phase_start:])]
            favourites.add(owner, np.concatenate(parts["product"][phase_start:]))

    if not parts["order"]:  # no orders in this chunk
        empty = np.zeros(0, dtype=np.int64)
        return Baskets(
            lines=Lines(order=empty, product=empty, quantity=empty, unit_cents=empty, draw=empty),
            list_cents=empty, discount_cents=empty,
            candidates=np.zeros((0, config.taste.candidates), dtype=np.int32), chosen_column=np.zeros(0, dtype=np.int8),
        )
    draw_order = np.concatenate(parts["order"]).astype(np.int64)
    position = np.concatenate(parts["position"]).astype(np.int64)
    product = np.concatenate(parts["product"]).astype(np.int64)
    units = np.concatenate(parts["units"])
    candidates = np.concatenate(parts["candidates"])
    chosen_column = np.concatenate(parts["column"])

    # Merge duplicates within an order; the merged line keeps its earliest position.
    key = (draw_order * catalogue.n + product) * _MAX_LINES + position
    by_key = np.argsort(key)
    product_key = key[by_key] // _MAX_LINES
    leader = np.ones(by_key.size, dtype=bool)
    leader[1:] = product_key[1:] != product_key[:-1]
    group_start = np.flatnonzero(leader)
    line_draw = by_key[group_start]  # the earliest draw of each (order, product)
    line_units = np.add.reduceat(units[by_key], group_start)
    resort = np.lexsort((position[line_draw], draw_order[line_draw]))
    line_draw, line_units = line_draw[resort], line_units[resort]
    line_order = draw_order[line_draw]
    line_product = product[line_draw]
    line_price = catalogue.price_cents[line_product, week[line_order]]
    is_lead = np.ones(line_order.size, dtype=bool)
    is_lead[1:] = line_order[1:] != line_order[:-1]

    # One line with quantity 1 absorbs the cents; if a merge left none, the first line gets 1.
    absorbing = _first_in_group(line_order, line_units == 1, n_orders)
    lacking = np.flatnonzero(absorbing < 0)
    if lacking.size:
        first_line = np.flatnonzero(is_lead)
        line_units[first_line[lacking]] = 1
        absorbing[lacking] = first_line[lacking]
    is_absorbing = np.zeros(line_order.size, dtype=bool)
    is_absorbing[absorbing] = True

    # Rarely (a large total of cheap products) max_lines are not enough: scale the quantities
    # of the other lines so the list value reaches (1 - stop_fraction) x the total.
    value = line_units * line_price
    list_cents = np.bincount(line_order, weights=value, minlength=n_orders).round().astype(np.int64)
    other_value = np.bincount(line_order, weights=np.where(is_absorbing, 0, value), minlength=n_orders).round().astype(np.int64)
    floor_value = np.ceil((1.0 - basket.stop_fraction) * total).astype(np.int64)
    short = (list_cents < floor_value) & (other_value > 0)
    if short.any():
        factor = np.ones(n_orders, dtype=np.int64)
        factor[short] = -(-(floor_value[short] - (list_cents - other_value)[short]) // other_value[short])
        line_units = np.where(is_absorbing, line_units, line_units * factor[line_order])
        value = line_units * line_price
        list_cents = np.bincount(line_order, weights=value, minlength=n_orders).round().astype(np.int64)

    # Pay list x total / list value, floored to the cent; the absorbing line takes the rest.
    unit = (line_price * total[line_order]) // np.maximum(list_cents[line_order], 1)
    paid_by_others = np.bincount(line_order, weights=np.where(is_absorbing, 0, line_units * unit), minlength=n_orders)
    paid_by_others = paid_by_others.round().astype(np.int64)
    unit = np.where(is_absorbing, (total - paid_by_others)[line_order], unit)

    lines = Lines(order=line_order, product=line_product, quantity=line_units, unit_cents=unit, draw=line_draw)
    return Baskets(
        lines=lines,
        list_cents=list_cents,
        discount_cents=np.maximum(list_cents - total, 0),
        candidates=candidates,
        chosen_column=chosen_column,
    )
