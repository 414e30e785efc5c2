"""The simulator is causal: a run that ends earlier yields exactly the longer run's rows before
its end (prefix stability), for every raw table, ids included.

A generator that drew anything at time t from what happens after t (a session count from the
customer's later orders, a status from whether later orders exist, an id from a counter over the
window, a trend normalised over the window) would make the rows before the cut differ.
"""

from __future__ import annotations

import json
from datetime import date, datetime, timedelta
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from ecom_growth.simulator import (
    PRICE_HISTORY_FILE,
    PRODUCT_COSTS_FILE,
    TABLES,
    TRUTH_CUSTOMERS_FILE,
    TRUTH_FILE,
    TRUTH_PRICES_FILE,
    UNPARSEABLE_COLUMN,
    generate,
)
from ecom_growth.simulator.baskets import Favourites
from ecom_growth.simulator.core import TRUTH_PRODUCTS_FILE
from ecom_growth.simulator.ids import composite_numbers, rank_in_groups
from ecom_growth.simulator.streams import (
    LOOKAHEAD_DAYS,
    PERIOD,
    PERIOD_DAYS,
    n_periods,
    stream,
)

START, END = date(2024, 7, 1), date(2026, 6, 30)
# Cut points (the shorter runs' inclusive end dates): early and mid-period (periods are 28 days
# from the start), a period's last day, mid-experiment mid-week, and a day before the end.
CUTS = (date(2024, 8, 9), date(2025, 3, 16), date(2025, 6, 29), date(2025, 11, 20), date(2026, 6, 29))
EXPERIMENT_START = datetime(2025, 10, 1)
FIRST_CAMPAIGN = datetime(2025, 3, 3)  # config.DEFAULT_CAMPAIGNS
ARGS = {"customers": 3_000, "seed": 13, "start": START, "products": 300}
TIME_COLUMN = {
    "customers": "signup_at", "orders": "ordered_at", "events": "occurred_at", "reviews": "created_at",
    "marketing_spend": "spend_date", "experiment_assignments": "assigned_at", "campaign_sends": "sent_at",
    "support_tickets": "created_at",
}


def _read(path: Path, table: str) -> pl.DataFrame:
    return pl.read_parquet(path / f"{table}.parquet")


def _prefix(path: Path, table: str, cut: datetime) -> pl.DataFrame:
    """Rows of ``table`` before ``cut`` (order_items via their order), sorted on every column."""
    frame = _read(path, table)
    if table == "order_items":
        orders = _prefix(path, "orders", cut).select("order_id")
        frame = frame.join(orders, on="order_id", how="semi")
    elif table in TIME_COLUMN:
        frame = frame.filter(pl.col(TIME_COLUMN[table]).cast(pl.Datetime("us")) < cut)
    if table == "support_tickets":
        # status and resolved_at are what is known at the export: a resolution after the cut
        # is not known yet (the ticket is open then), everything else is the same row.
        later = pl.col("resolved_at") >= cut
        frame = frame.with_columns(pl.when(later).then(pl.lit("open")).otherwise(pl.col("status")).alias("status"),
                                   pl.when(later).then(None).otherwise(pl.col("resolved_at")).alias("resolved_at"))
    return frame.sort(frame.columns)


@pytest.fixture(scope="module")
def full(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("causal_full")
    generate(out=out, end=END, **ARGS)
    return out


@pytest.mark.parametrize("cut", CUTS, ids=str)
def test_a_shorter_window_yields_exactly_the_longer_runs_rows_before_its_end(full, tmp_path, cut):
    generate(out=tmp_path, end=cut, **ARGS)
    boundary = datetime(cut.year, cut.month, cut.day) + timedelta(days=1)
    for table in TABLES:
        if table == "products":
            continue
        short, long = _prefix(tmp_path, table, boundary), _prefix(full, table, boundary)
        assert short.height == _read(tmp_path, table).height, f"{table}: rows after the end"
        assert short.height > 0 or (table == "experiment_assignments" and boundary <= EXPERIMENT_START) \
        or (table == "campaign_sends" and boundary <= FIRST_CAMPAIGN), table
        assert short.equals(long), table


@pytest.mark.parametrize("cut", CUTS[1:3], ids=str)
def test_price_history_and_costs_are_prefix_stable(full, tmp_path, cut):
    generate(out=tmp_path, end=cut, **ARGS)
    boundary = datetime(cut.year, cut.month, cut.day) + timedelta(days=1)
    short, long = (pl.read_parquet(path / PRICE_HISTORY_FILE) for path in (tmp_path, full))
    assert short.height > 0 and short["valid_from"].max() < boundary
    early = long.filter(pl.col("valid_from") < boundary)
    assert short.sort(short.columns).equals(early.sort(early.columns))
    costs_short, costs_long = (pl.read_parquet(path / PRODUCT_COSTS_FILE) for path in (tmp_path, full))
    assert costs_short.equals(costs_long)


@pytest.mark.parametrize("cut", CUTS[1:3], ids=str)
def test_products_are_identical_except_the_price_at_export_time(full, tmp_path, cut):
    generate(out=tmp_path, end=cut, **ARGS)
    short, long = _read(tmp_path, "products"), _read(full, "products")
    assert short.drop("list_price").equals(long.drop("list_price"))
    # list_price is the price on the export date: the longer run's history at that date.
    prices = pl.read_parquet(full / TRUTH_PRICES_FILE).filter(pl.col("valid_from") < datetime(cut.year, cut.month, cut.day)
                                                              + timedelta(days=1))
    current = prices.sort("valid_from").group_by("product_id").last()
    joined = short.join(current, on="product_id", suffix="_history")
    assert joined.height == short.height
    assert (joined["list_price"] == joined["list_price_history"]).all()


def test_latent_truth_of_the_shorter_runs_customers_is_the_same(full, tmp_path):
    cut = CUTS[1]
    generate(out=tmp_path, end=cut, **ARGS)
    columns = ["customer_id", "acquisition_channel", "will_convert", "lambda_per_day", "p_dropout", "nu", "satisfaction",
               "repeats_before_death", "experiment_variant", "taste_factors"]
    short = pl.read_parquet(tmp_path / TRUTH_CUSTOMERS_FILE).filter(pl.col("is_converted")).select(columns)
    long = pl.read_parquet(full / TRUTH_CUSTOMERS_FILE).join(short.select("customer_id"), on="customer_id", how="semi")
    assert short.height > 0
    assert short.sort("customer_id").equals(long.select(columns).sort("customer_id"))
    # the planted per-product choice inputs do not depend on the window's end either
    assert pl.read_parquet(tmp_path / TRUTH_PRODUCTS_FILE).equals(pl.read_parquet(full / TRUTH_PRODUCTS_FILE))


def test_dirty_rows_leave_the_clean_rows_untouched(tmp_path):
    """Dirty rows are injected defects, not part of the process, so they are not prefix-stable
    (their number scales with the table and some are dated 2100); but they never change a clean
    row, and the clean rows, written first, are the prefix-stable dataset above."""
    generate(out=tmp_path / "clean", end=CUTS[1], **ARGS)
    generate(out=tmp_path / "dirty", end=CUTS[1], dirty_rate=0.05, **ARGS)
    truth = json.loads((tmp_path / "dirty" / TRUTH_FILE).read_text(encoding="utf-8"))
    for table in TABLES:
        clean = _read(tmp_path / "clean", table)
        dirty = _read(tmp_path / "dirty", table).head(truth["clean_rows"][table])
        text = UNPARSEABLE_COLUMN[table]  # kept as text in dirty files
        assert dirty.height == clean.height, table
        assert dirty.drop(text).equals(clean.drop(text)), table
        assert dirty[text].null_count() == clean[text].null_count() == 0, table


# --- the helpers behind it -------------------------------------------------------------------

def test_keyed_streams_repeat_for_the_same_key_and_differ_for_another():
    a, b, c = stream(7, PERIOD, 0, 3), stream(7, PERIOD, 0, 3), stream(7, PERIOD, 0, 4)
    first = a.random(5)
    assert np.array_equal(first, b.random(5))
    assert not np.array_equal(first, c.random(5))


def test_periods_cover_the_window_and_the_lookahead():
    assert n_periods(28 - LOOKAHEAD_DAYS) == 1
    assert n_periods(28) == 2  # the lookahead day spills into a second period
    assert n_periods(730) * PERIOD_DAYS >= 730 + LOOKAHEAD_DAYS


def test_rank_in_groups_counts_within_runs_of_equal_values():
    assert rank_in_groups(np.array([], dtype=np.int64)).tolist() == []
    assert rank_in_groups(np.array([5])).tolist() == [0]
    assert rank_in_groups(np.array([1, 1, 2, 2, 2, 1])).tolist() == [0, 1, 0, 1, 2, 0]


def test_composite_numbers_refuse_a_rank_that_does_not_fit():
    assert composite_numbers(np.array([42, 7]), np.array([3, 9999]), 4, "orders").tolist() == [420003, 79999]
    with pytest.raises(ValueError, match="orders"):
        composite_numbers(np.array([1]), np.array([10_000]), 4, "orders")


def test_favourites_keep_each_customers_first_order_products_across_periods():
    favourites = Favourites.empty(4)
    favourites.add(np.array([2, 0, 2]), np.array([10, 11, 12]))  # one period's first orders
    favourites.add(np.array([3]), np.array([13]))  # a later period's
    got = {c: favourites.product[favourites.start[c]: favourites.start[c] + favourites.count[c]].tolist() for c in range(4)}
    assert got == {0: [11], 1: [], 2: [10, 12], 3: [13]}
