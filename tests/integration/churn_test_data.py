"""Raw data and truncation helpers for the churn leakage test (tests/integration/test_churn_leakage.py).

The test prefers the project simulator (`python -m ecom_growth generate`); `write_fallback_raw`
is a small, self-contained stand-in with the same raw contract, used while the simulator's CLI
is not available. `snap_to_boundary` then puts many rows exactly on the tested snapshot
boundary (and on the last instant before it), where an off-by-one leak would show.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
import polars as pl

# Which column dates each raw table, for truncation ("keep rows strictly before s").
# order_items have no timestamp: they follow their order. products are a catalogue: kept whole.
TIMESTAMP_COLUMNS: dict[str, str] = {
    "customers": "signup_at",
    "orders": "ordered_at",
    "events": "occurred_at",
    "reviews": "created_at",
    "marketing_spend": "spend_date",
    "experiment_assignments": "assigned_at",
}
RAW_TABLES = ("customers", "products", "orders", "order_items", "events", "reviews",
              "marketing_spend", "experiment_assignments")

_CHANNELS = ["organic", "paid_search", "paid_social", "affiliate", "email", "referral"]
_COUNTRIES = ["US", "GB", "DE", "FR", "CN", "BR"]
_CATEGORIES = ["books", "beauty", "electronics", "fashion", "grocery", "home", "sports", "toys"]


def _hours(start: datetime, hours: np.ndarray) -> pl.Series:
    """Whole hours after `start` as a timestamp series."""
    return pl.Series(np.datetime64(start, "us") + hours.astype("int64") * np.timedelta64(1, "h"))


def write_fallback_raw(out: Path, customers: int, seed: int, start: datetime = datetime(2024, 1, 1),
                       days: int = 730) -> None:
    """A small BG/NBD-like shop: signups, repeat purchases with dropout, items, sessions, reviews.

    Vectorised numpy; deterministic in `seed`. Not a substitute for the simulator's planted truth,
    only realistic enough (churn rates, gaps, cancellations, carts) to exercise every feature.
    """
    rng = np.random.default_rng(seed)
    out.mkdir(parents=True, exist_ok=True)
    horizon_h = days * 24

    customer_ids = np.array([f"C{i:07d}" for i in range(customers)])
    signup_h = rng.integers(0, horizon_h, customers)
    pl.DataFrame({
        "customer_id": customer_ids,
        "signup_at": _hours(start, signup_h),
        "email": [f"user{i}@example.com" for i in range(customers)],
        "country": rng.choice(_COUNTRIES, customers),
        "acquisition_channel": rng.choice(_CHANNELS, customers),
    }).write_parquet(out / "customers.parquet")

    n_products = 200
    product_ids = np.array([f"P{i:06d}" for i in range(n_products)])
    pl.DataFrame({
        "product_id": product_ids,
        "category": rng.choice(_CATEGORIES, n_products),
        "brand": rng.choice(["acme", "globex", "initech"], n_products),
        "list_price": np.round(rng.lognormal(3.0, 0.6, n_products), 2),
    }).write_parquet(out / "products.parquet")

    # Purchases: converters buy at rate lambda (per hour) until they drop out after a transaction.
    converts = rng.random(customers) < 0.6
    rate_h = rng.gamma(0.9, 1 / 45, customers) / 24
    dropout = rng.beta(1.0, 3.0, customers)
    n_tx = np.where(converts, np.minimum(rng.geometric(np.clip(dropout, 0.02, 1)), 60), 0)
    owner = np.repeat(np.arange(customers), n_tx)
    gaps = rng.exponential(1 / rate_h[owner])
    first_in_run = np.r_[0, np.cumsum(n_tx)[:-1]][n_tx > 0]
    gaps[first_in_run] = rng.exponential(24 * 5, first_in_run.size)  # signup -> first order delay
    cum = np.cumsum(gaps)
    offsets = np.repeat(cum[first_in_run] - gaps[first_in_run], n_tx[n_tx > 0])
    order_h = np.floor(signup_h[owner] + cum - offsets).astype("int64")
    keep = order_h < horizon_h
    owner, order_h = owner[keep], order_h[keep]
    n_orders = owner.size
    order_ids = np.array([f"O{i:08d}" for i in range(n_orders)])
    status = rng.choice(["completed", "cancelled", "returned"], n_orders, p=[0.9, 0.06, 0.04])
    total = np.round(rng.gamma(4.0, 12.0, n_orders), 2)
    discount = np.where(rng.random(n_orders) < 0.3, np.round(total * rng.uniform(0.05, 0.3, n_orders), 2), 0.0)
    pl.DataFrame({
        "order_id": order_ids,
        "customer_id": customer_ids[owner],
        "ordered_at": _hours(start, order_h),
        "status": status,
        "order_total": total,
        "discount_total": discount,
    }).write_parquet(out / "orders.parquet")

    # Items: 1 + Poisson distinct products per order.
    n_items = 1 + rng.poisson(0.6, n_orders)
    item_order = np.repeat(np.arange(n_orders), n_items)
    item_product = rng.integers(0, n_products, item_order.size)
    items = pl.DataFrame({
        "order_id": order_ids[item_order],
        "product_id": product_ids[item_product],
        "quantity": rng.integers(1, 4, item_order.size),
        "unit_price": np.round(rng.lognormal(3.0, 0.5, item_order.size), 2),
    }).unique(subset=["order_id", "product_id"], keep="first", maintain_order=True)
    items.write_parquet(out / "order_items.parquet")

    # Events: every order has a session (view, add_to_cart, purchase, an hour apart; the purchase
    # may be an hour after the order when the order sits at 23:00, so sessions straddle midnight);
    # plus browse sessions, some with an abandoned cart.
    n_browse = rng.poisson(4.0, customers)
    browse_owner = np.repeat(np.arange(customers), n_browse)
    browse_h = rng.integers(0, horizon_h, browse_owner.size)
    browse_h = np.maximum(browse_h, signup_h[browse_owner])
    has_cart = rng.random(browse_owner.size) < 0.35
    sess_owner = np.r_[owner, browse_owner]
    sess_h = np.r_[order_h - 1, browse_h]
    sess_cart = np.r_[np.ones(n_orders, bool), has_cart]
    sess_buy = np.r_[np.ones(n_orders, bool), np.zeros(browse_owner.size, bool)]
    n_sess = sess_owner.size
    session_ids = np.array([f"S{i:08d}" for i in range(n_sess)])
    view_rep = 1 + rng.poisson(1.5, n_sess)
    ev_sess = [np.repeat(np.arange(n_sess), view_rep), np.flatnonzero(sess_cart), np.flatnonzero(sess_buy)]
    ev_type = np.concatenate([np.full(ev_sess[0].size, "view"), np.full(ev_sess[1].size, "add_to_cart"),
                              np.full(ev_sess[2].size, "purchase")])
    ev_offset = np.concatenate([np.zeros(ev_sess[0].size, "int64"), np.ones(ev_sess[1].size, "int64"),
                                np.full(ev_sess[2].size, 2, "int64")])
    ev_s = np.concatenate(ev_sess)
    ev_h = sess_h[ev_s] + ev_offset
    keep = (ev_h < horizon_h) & (ev_h >= 0)
    ev_s, ev_type, ev_h = ev_s[keep], ev_type[keep], ev_h[keep]
    pl.DataFrame({
        "event_id": [f"E{i:09d}" for i in range(ev_s.size)],
        "customer_id": customer_ids[sess_owner[ev_s]],
        "session_id": session_ids[ev_s],
        "event_type": ev_type,
        "product_id": product_ids[rng.integers(0, n_products, ev_s.size)],
        "occurred_at": _hours(start, ev_h),
    }).write_parquet(out / "events.parquet")

    # Reviews: a quarter of items of completed orders, a few days after the order.
    completed_items = items.join(
        pl.DataFrame({"order_id": order_ids, "owner": owner, "order_h": order_h, "status": status}),
        on="order_id").filter(pl.col("status") == "completed")
    reviewed = completed_items.filter(pl.Series(rng.random(completed_items.height) < 0.25))
    review_h = reviewed["order_h"].to_numpy() + rng.integers(24, 24 * 20, reviewed.height)
    keep = review_h < horizon_h
    reviewed, review_h = reviewed.filter(pl.Series(keep)), review_h[keep]
    pl.DataFrame({
        "review_id": [f"R{i:08d}" for i in range(reviewed.height)],
        "customer_id": customer_ids[reviewed["owner"].to_numpy()],
        "product_id": reviewed["product_id"],
        "rating": rng.integers(1, 6, reviewed.height),
        "review_text": "fine",
        "created_at": _hours(start, review_h),
    }).write_parquet(out / "reviews.parquet")


def snap_to_boundary(raw: Path, boundary: datetime, days_after: int = 2, days_before: int = 1) -> dict[str, int]:
    """Rewrite orders, events and reviews so that many rows sit exactly on `boundary` or on the
    last microsecond before it.

    Rows in [boundary, boundary + days_after) move to `boundary`; rows in
    [boundary - days_before, boundary) move to boundary - 1 microsecond. An off-by-one at the
    snapshot boundary (`<=` instead of `<`, a date cast, an as_of that drops the last instant
    before the scoring snapshot) then changes features. Returns the moved row count per table.
    """
    before_edge = boundary - timedelta(microseconds=1)
    moved: dict[str, int] = {}
    for table in ("orders", "events", "reviews"):
        path = raw / f"{table}.parquet"
        column = TIMESTAMP_COLUMNS[table]
        if not path.exists():
            continue
        frame = pl.read_parquet(path)
        ts = pl.col(column)
        after = (ts >= boundary) & (ts < boundary + timedelta(days=days_after))
        before = (ts >= boundary - timedelta(days=days_before)) & (ts < boundary)
        moved[table] = frame.filter(after | before).height
        frame.with_columns(
            pl.when(after).then(pl.lit(boundary, dtype=frame.schema[column]))
            .when(before).then(pl.lit(before_edge, dtype=frame.schema[column]))
            .otherwise(ts).alias(column)
        ).write_parquet(path)
    return moved


def truncate_raw(raw: Path, out: Path, before: datetime) -> dict[str, int]:
    """Copy of the raw data keeping only rows dated strictly before `before`.

    Orders by ordered_at and their items, events, reviews, spend, assignments by their dates,
    customers by signup_at; products whole. Returns the kept row count per table.
    """
    out.mkdir(parents=True, exist_ok=True)
    kept: dict[str, int] = {}
    frames: dict[str, pl.DataFrame] = {}
    for table in RAW_TABLES:
        path = raw / f"{table}.parquet"
        if not path.exists():
            continue
        frame = pl.read_parquet(path)
        column = TIMESTAMP_COLUMNS.get(table)
        if column is not None:
            dtype = frame.schema[column]
            bound = before.date() if dtype == pl.Date else before
            if dtype == pl.String:  # a raw export may keep timestamps as text
                frame = frame.filter(pl.col(column).str.to_datetime(strict=False) < before)
            else:
                frame = frame.filter(pl.col(column) < pl.lit(bound))
        frames[table] = frame
    if "order_items" in frames:
        frames["order_items"] = frames["order_items"].join(
            frames["orders"].select("order_id"), on="order_id", how="semi")
    for table, frame in frames.items():
        frame.write_parquet(out / f"{table}.parquet")
        kept[table] = frame.height
    for extra in raw.glob("_*.json"):
        (out / extra.name).write_bytes(extra.read_bytes())
    return kept


def midnight(day) -> datetime:
    return datetime(day.year, day.month, day.day)


def last_instant_before(day) -> str:
    """The as_of that makes `day` the scoring snapshot: the last microsecond of the previous day."""
    return (midnight(day) - timedelta(microseconds=1)).isoformat(sep=" ")
