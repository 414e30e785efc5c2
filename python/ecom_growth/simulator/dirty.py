"""Dirty rows: appended to each raw table, exactly one defect per row, counts recorded.

For each applicable defect class, round(dirty_rate x clean rows) rows are appended (round half
up). Each is built from a random clean row (a template) and changed in exactly one way, so the
reason staging should give it is unambiguous:

* null_key          the key column is null (order_items: order_id; marketing_spend: channel;
                    experiment_assignments: customer_id)
* duplicate_id      an exact copy of a clean row
* negative_amount   the amount is negative (orders.order_total, order_items.unit_price,
                    products.list_price, marketing_spend.spend)
* future_timestamp  a timestamp in 2100, after any possible build time
* orphan_fk         a foreign key pointing at an id that exists nowhere (orders/events/
                    experiment_assignments.customer_id, order_items/reviews.product_id)
* unparseable_value a value that cannot be cast, in the table's text column (see
                    writer.UNPARSEABLE_COLUMN)

Rows other than duplicates get new ids (or, for tables keyed by a combination, a key that no
clean row has), and no clean row references them, so nothing cascades. The class names match
staging's rejected_reason vocabulary.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import date

import numpy as np
import polars as pl
import pyarrow as pa
import pyarrow.compute as pc

from ecom_growth.simulator.ids import format_ids, take_strings
from ecom_growth.simulator.timeline import US_PER_DAY, date_to_us
from ecom_growth.simulator.writer import (
    SCHEMAS,
    UNPARSEABLE_COLUMN,
    conform,
    output_schema,
)

NULL_KEY, DUPLICATE_ID, NEGATIVE_AMOUNT = "null_key", "duplicate_id", "negative_amount"
FUTURE_TIMESTAMP, ORPHAN_FK, UNPARSEABLE_VALUE = "future_timestamp", "orphan_fk", "unparseable_value"

CLASSES: dict[str, tuple[str, ...]] = {
    "customers": (NULL_KEY, DUPLICATE_ID, FUTURE_TIMESTAMP, UNPARSEABLE_VALUE),
    "products": (NULL_KEY, DUPLICATE_ID, NEGATIVE_AMOUNT, UNPARSEABLE_VALUE),
    "orders": (NULL_KEY, DUPLICATE_ID, NEGATIVE_AMOUNT, FUTURE_TIMESTAMP, ORPHAN_FK, UNPARSEABLE_VALUE),
    "order_items": (NULL_KEY, DUPLICATE_ID, NEGATIVE_AMOUNT, ORPHAN_FK, UNPARSEABLE_VALUE),
    "events": (NULL_KEY, DUPLICATE_ID, FUTURE_TIMESTAMP, ORPHAN_FK, UNPARSEABLE_VALUE),
    "reviews": (NULL_KEY, DUPLICATE_ID, FUTURE_TIMESTAMP, ORPHAN_FK, UNPARSEABLE_VALUE),
    "marketing_spend": (NULL_KEY, DUPLICATE_ID, NEGATIVE_AMOUNT, FUTURE_TIMESTAMP, UNPARSEABLE_VALUE),
    "experiment_assignments": (NULL_KEY, DUPLICATE_ID, FUTURE_TIMESTAMP, ORPHAN_FK, UNPARSEABLE_VALUE),
}

NULL_KEY_COLUMN = {
    "customers": "customer_id", "products": "product_id", "orders": "order_id", "order_items": "order_id",
    "events": "event_id", "reviews": "review_id", "marketing_spend": "channel", "experiment_assignments": "customer_id",
}
NEGATIVE_COLUMN = {"orders": "order_total", "order_items": "unit_price", "products": "list_price", "marketing_spend": "spend"}
FUTURE_COLUMN = {
    "customers": "signup_at", "orders": "ordered_at", "events": "occurred_at", "reviews": "created_at",
    "marketing_spend": "spend_date", "experiment_assignments": "assigned_at",
}
ORPHAN_COLUMN = {
    "orders": "customer_id", "order_items": "product_id", "events": "customer_id", "reviews": "product_id",
    "experiment_assignments": "customer_id",
}
UNPARSEABLE_TEXT = {
    "customers": ("31/02/2025", "2025-13-45 25:61:00", "last tuesday"),
    "products": ("free", "N/A", "12,99 EUR"),
    "orders": ("12,50 EUR", "ninety-nine", "1.299,00 EUR"),
    "order_items": ("two", "1 pc", "x3"),
    "events": ("yesterday", "not a date", "2025-02-30 10:00:00"),
    "reviews": ("five", "4 stars", "***"),
    "marketing_spend": ("n/a", "1,234.56 USD", "-"),
    "experiment_assignments": ("??", "unknown", "31/12/2025 25:00"),
}
# Tables whose own id is replaced by a new one (the others get a new composite key instead).
ID_PREFIX = {
    "customers": ("customer_id", "C", 8), "products": ("product_id", "P", 6), "orders": ("order_id", "O", 12),
    "events": ("event_id", "E", 15), "reviews": ("review_id", "R", 12),
}
# Fresh ids of dirty rows use customer numbers no simulated customer can have (see
# config.MAX_CUSTOMERS), in the same composite layout as the clean ids (core.py).
DIRTY_CUSTOMER_BASE = 98_000_000
FRESH_ID_BASE = {
    "customers": DIRTY_CUSTOMER_BASE, "orders": DIRTY_CUSTOMER_BASE * 10**4,
    "events": DIRTY_CUSTOMER_BASE * 10**7, "reviews": DIRTY_CUSTOMER_BASE * 10**4,
}
ORPHAN_CUSTOMER_BASE = 99_000_000
ORPHAN_PRODUCT_BASE = 990_000
FUTURE_START_US = date_to_us(date(2100, 1, 1))


def dirty_count(rate: float, clean_rows: int) -> int:
    """round(rate x clean rows), halves rounded up (Python's round() rounds halves to even)."""
    return math.floor(rate * clean_rows + 0.5)


@dataclass
class DirtyPool:
    """Random clean rows kept while streaming, to serve as templates for dirty rows."""

    rate: float
    tables: dict[str, list[pa.Table]] = field(default_factory=dict)
    alt_customers: list[pa.Array] = field(default_factory=list)

    def pool_size(self, table: str, rows: int) -> int:
        return min(rows, math.ceil(self.rate * rows * len(CLASSES[table]) * 1.2) + 2 * len(CLASSES[table]) + 5)

    def offer(self, rng: np.random.Generator, table: str, rows: pa.Table, extra: dict[str, pa.Array] | None = None) -> None:
        """Keep a random sample of a clean chunk (``extra`` columns ride along, e.g. alt keys)."""
        if self.rate <= 0 or rows.num_rows == 0:
            return
        pick = np.sort(rng.choice(rows.num_rows, size=self.pool_size(table, rows.num_rows), replace=False))
        sample = rows.take(pa.array(pick))
        for name, values in (extra or {}).items():
            sample = sample.append_column(name, values.take(pa.array(pick)))
        self.tables.setdefault(table, []).append(sample)

    def offer_alt_customers(self, rng: np.random.Generator, customer_ids: pa.Array, n_assigned: int) -> None:
        """Valid customers NOT in the experiment, for experiment rows that need a fresh key."""
        if self.rate <= 0 or len(customer_ids) == 0:
            return
        size = min(len(customer_ids), math.ceil(self.rate * n_assigned * 2 * 1.2) + 10)
        pick = np.sort(rng.choice(len(customer_ids), size=size, replace=False))
        self.alt_customers.append(customer_ids.take(pa.array(pick)))


@dataclass(frozen=True)
class DirtyContext:
    """Totals the dirty rows need to invent ids that exist nowhere else."""

    clean_rows: dict[str, int]
    n_products: int
    start_us: int


def _set(table: pa.Table, column: str, values: pa.Array) -> pa.Table:
    index = table.schema.get_field_index(column)
    return table.set_column(index, table.schema.field(column).with_type(values.type), values)


def _future(rng: np.random.Generator, n: int, type_: pa.DataType) -> pa.Array:
    us = FUTURE_START_US + (rng.random(n) * 365 * US_PER_DAY).astype(np.int64)
    if pa.types.is_date(type_):
        # Distinct days: two future rows of one (channel, spend) on the same day would be duplicates too.
        days = FUTURE_START_US // US_PER_DAY + rng.permutation(max(365, n))[:n]
        return pa.array(days.astype(np.int32), type=pa.date32())
    return pa.array(us, type=pa.timestamp("us"))


def _negative(values: pa.ChunkedArray | pa.Array) -> pa.Array:
    numbers = np.abs(np.asarray(pc.cast(values, pa.float64()).to_numpy(zero_copy_only=False)))
    return pa.array(-(numbers + 0.01), type=pa.float64())


def _distinct_amounts(table: str, rows: pa.Table) -> pa.Table:
    """Without its key, a row may equal another null-key row (two orders can hold the same
    product at the same price), which would add a second defect (duplicate): add a cent per
    earlier copy to the amount so each stays a single-defect row."""
    if table not in NEGATIVE_COLUMN or rows.num_rows < 2:
        return rows
    columns = [c for c in rows.column_names if not c.startswith("_")]  # not the helper columns
    copies = pl.from_arrow(rows.select(columns)).select(pl.int_range(pl.len()).over(columns))
    column = NEGATIVE_COLUMN[table]
    amount = pc.add(pc.cast(rows[column], pa.float64()), pa.array(copies.to_series().to_numpy() / 100.0))
    return _set(rows, column, pc.round(amount, 2))


def build_dirty_rows(
    rng: np.random.Generator, table: str, pool: DirtyPool, context: DirtyContext, rate: float,
) -> tuple[pa.Table | None, dict[str, int]]:
    """The dirty rows to append to ``table`` (in the file schema) and their counts per class."""
    schema = output_schema(table, dirty=True)
    classes = CLASSES[table]
    wanted = {c: dirty_count(rate, context.clean_rows[table]) for c in classes}
    parts = pool.tables.get(table, [])
    if not parts or sum(wanted.values()) == 0:
        return None, {c: 0 for c in classes}
    templates = pa.concat_tables(parts)
    templates = templates.take(pa.array(rng.permutation(templates.num_rows)))
    alt_customers = pa.concat_arrays(pool.alt_customers) if pool.alt_customers else pa.array([], pa.string())
    alt_customers = alt_customers.take(pa.array(rng.permutation(len(alt_customers))))

    needs_fresh_key = table in ("order_items", "experiment_assignments", "marketing_spend")
    counts: dict[str, int] = {}
    pieces: list[pa.Table] = []
    used = 0
    new_ids = 0
    orphans = 0
    alt_used = 0
    market_keys = 0
    for cls in classes:
        n = min(wanted[cls], templates.num_rows - used)
        if table == "experiment_assignments" and cls in (FUTURE_TIMESTAMP, UNPARSEABLE_VALUE):
            n = min(n, len(alt_customers) - alt_used)
        n = max(n, 0)
        rows = templates.slice(used, n)
        used += n
        counts[cls] = n
        if n == 0:
            continue
        if cls == DUPLICATE_ID:
            pieces.append(rows)
            continue
        # A fresh key, so the row's only defect is the class's one.
        if table in ID_PREFIX:
            column, prefix, width = ID_PREFIX[table]
            base = FRESH_ID_BASE.get(table, context.n_products)
            rows = _set(rows, column, format_ids(prefix, base + new_ids + np.arange(n), width))
            new_ids += n
        elif needs_fresh_key and cls != NULL_KEY:
            if table == "order_items" and cls != ORPHAN_FK:
                rows = _set(rows, "product_id", rows["_alt_product_id"].combine_chunks())
            elif table == "experiment_assignments" and cls != ORPHAN_FK:
                rows = _set(rows, "customer_id", alt_customers.slice(alt_used, n))
                alt_used += n
            elif table == "marketing_spend" and cls != FUTURE_TIMESTAMP:
                # Days before the window start: a (date, channel) key no clean row has.
                day = context.start_us // US_PER_DAY - 1 - (market_keys + np.arange(n))
                rows = _set(rows, "spend_date", pa.array(day.astype(np.int32), type=pa.date32()))
                market_keys += n
        if cls == NULL_KEY:
            rows = _distinct_amounts(table, _set(rows, NULL_KEY_COLUMN[table], pa.nulls(n, pa.string())))
        elif cls == NEGATIVE_AMOUNT:
            rows = _set(rows, NEGATIVE_COLUMN[table], _negative(rows[NEGATIVE_COLUMN[table]]))
        elif cls == FUTURE_TIMESTAMP:
            column = FUTURE_COLUMN[table]
            rows = _set(rows, column, _future(rng, n, SCHEMAS[table].field(column).type))
        elif cls == ORPHAN_FK:
            column = ORPHAN_COLUMN[table]
            if column == "customer_id":
                ids = format_ids("C", ORPHAN_CUSTOMER_BASE + orphans + np.arange(n), 8)
            else:
                ids = format_ids("P", ORPHAN_PRODUCT_BASE + orphans + np.arange(n), 6)
            orphans += n
            rows = _set(rows, column, ids)
        elif cls == UNPARSEABLE_VALUE:
            text = UNPARSEABLE_TEXT[table]
            rows = rows.append_column("_unparseable", take_strings(text, np.arange(n) % len(text)))
        pieces.append(rows)

    if not pieces:
        return None, counts
    conformed = []
    for rows in pieces:
        garbage = rows["_unparseable"] if "_unparseable" in rows.column_names else None
        typed = conform(rows, schema)
        if garbage is not None:
            typed = _set(typed, UNPARSEABLE_COLUMN[table], garbage.combine_chunks())
        conformed.append(typed)
    dirty = pa.concat_tables(conformed)
    return dirty.take(pa.array(rng.permutation(dirty.num_rows))), counts
