"""Raw data and truncation helpers for the churn leakage test (tests/integration/test_churn_leakage.py).

The raw data comes from the project simulator (`python -m ecom_growth generate`);
`snap_to_boundary` then puts many rows exactly on the tested snapshot boundary (and on the
last instant before it), where an off-by-one leak would show.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

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
