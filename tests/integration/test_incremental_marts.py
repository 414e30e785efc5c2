"""Incremental marts of a daily refresh (issue 16): fct_product_daily_demand recomputes only the
days of its window and equals a full rebuild on the same raw files, EXCEPT ALL both ways.

Scenario "clean": raw data ending day one, then regenerated with one more day (the simulator is
prefix-stable, so a day is appended): the second build is incremental and equals a build from
scratch. Scenario "outranked": both exports hold an old purchase event on a product-day without
any other activity (a row of the panel whose only trace is that event) and the second export a
new row with its id that outranks it (staging turns the stored event into duplicate_id): an old
day changes without any view, sale or price change, so the proof of the stored days must see it
and the build recomputes every day. Then a build on tampered stored days (one change per check)
names every check that sees its change. Seven small builds, about 2 minutes on 2 cores.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import duckdb
import pytest
from hardening_support import dbt_env, run_dbt
from test_incremental_staging import DAY_ONE, DAY_TWO, generate, rewrite

MARTS = ("marts.fct_product_daily_demand",)
SELECT = ["-s", "+fct_product_daily_demand", "--indirect-selection", "cautious"]
INCREMENTAL_LOG = "fct_product_daily_demand: incremental, days from"
RECOMPUTED_LOG = "no longer match their inputs"
OLD_DAY = "2026-01-15"


def build(work: Path, raw: Path, db: Path, command: str = "run") -> str:
    env = {**dbt_env(work, raw, db), "ECOM_GROWTH_THREADS": "1"}
    result = run_dbt([command, *SELECT], env)
    assert result.returncode == 0, result.stdout[-4000:]
    return result.stdout


def differences(a: Path, b: Path, relations=MARTS) -> dict[str, tuple[int, int]]:
    """relation -> (rows only in a, rows only in b), for every differing relation."""
    out = {}
    with duckdb.connect() as con:
        con.execute(f"attach '{a}' as a (read_only)")
        con.execute(f"attach '{b}' as b (read_only)")
        for rel in relations:
            only_a = con.execute(f"select count(*) from (from a.{rel} except all from b.{rel})").fetchone()[0]
            only_b = con.execute(f"select count(*) from (from b.{rel} except all from a.{rel})").fetchone()[0]
            if only_a or only_b:
                out[rel] = (only_a, only_b)
    return out


def add_purchase_only_day(raw: Path, *, outranked: bool) -> tuple[str, str]:
    """An old purchase event 'E_PURCHASE_ONLY' of a product on OLD_DAY, a day on which that product
    has no other event, sale or price change; with ``outranked`` also a new-day row with its id
    that sorts first (staging keeps it, the stored one becomes duplicate_id). Returns the product
    and the day."""
    with duckdb.connect() as con:
        product = con.execute(f"""
            select min(product_id) from read_parquet('{raw}/products.parquet')
            where product_id not in (select product_id from read_parquet('{raw}/events.parquet')
                                     where cast(occurred_at as date) = date '{OLD_DAY}' and product_id is not null)
              and product_id not in (select i.product_id from read_parquet('{raw}/order_items.parquet') as i
                                     join read_parquet('{raw}/orders.parquet') as o on i.order_id = o.order_id
                                     where cast(o.ordered_at as date) = date '{OLD_DAY}')
              and product_id not in (select product_id from read_parquet('{raw}/price_history.parquet')
                                     where cast(valid_from as date) = date '{OLD_DAY}')""").fetchone()[0]
    assert product is not None
    # a customer and session of an earlier event; duplicates rank by (customer, session, ...): the
    # new row's session '0' sorts first
    source = f"(select * from t where occurred_at < timestamp '{OLD_DAY}' order by event_id limit 1)"
    rows = ["select * from t",
            f"select 'E_PURCHASE_ONLY', customer_id, session_id, 'purchase', '{product}', timestamp '{OLD_DAY} 10:00:00' "
            f"from {source}"]
    if outranked:
        rows.append(f"select 'E_PURCHASE_ONLY', customer_id, '0', 'view', '{product}', timestamp '{DAY_TWO} 12:00:00' "
                    f"from {source}")
    rewrite(raw, "events", " union all ".join(rows))
    return product, OLD_DAY


@pytest.fixture(scope="module")
def clean(tmp_path_factory) -> dict:
    work = tmp_path_factory.mktemp("incremental_marts_clean")
    before, after = generate(work / "raw_before", DAY_ONE), generate(work / "raw_after", DAY_TWO)
    daily, full = work / "daily.duckdb", work / "full.duckdb"
    build(work, before, daily)
    incremental = build(work, after, daily, command="build")  # with the marts' data tests
    build(work, after, full)
    return {"work": work, "after": after, "daily": daily, "full": full, "incremental": incremental}


@pytest.fixture(scope="module")
def outranked(tmp_path_factory) -> dict:
    work = tmp_path_factory.mktemp("incremental_marts_outranked")
    before, after = generate(work / "raw_before", DAY_ONE), generate(work / "raw_after", DAY_TWO)
    day = add_purchase_only_day(before, outranked=False)
    assert add_purchase_only_day(after, outranked=True) == day
    daily, full = work / "daily.duckdb", work / "full.duckdb"
    build(work, before, daily)
    with duckdb.connect(str(daily), read_only=True) as con:
        stored = con.execute("select views, add_to_carts, orders, has_price_change from marts.fct_product_daily_demand "
                             "where product_id = ? and demand_date = ?", list(day)).fetchall()
    incremental = build(work, after, daily)
    build(work, after, full)
    return {"daily": daily, "full": full, "incremental": incremental, "day": day, "stored": stored}


def test_a_daily_build_recomputes_only_its_window_and_equals_a_full_rebuild(clean):
    assert INCREMENTAL_LOG in clean["incremental"] and RECOMPUTED_LOG not in clean["incremental"]
    assert differences(clean["daily"], clean["full"]) == {}
    with duckdb.connect(str(clean["daily"]), read_only=True) as con:
        assert con.execute("select max(demand_date) from marts.fct_product_daily_demand").fetchone()[0].isoformat() == DAY_TWO


def test_an_old_day_that_changed_without_any_other_trace_is_recomputed(outranked):
    # day one: the purchase event alone made the row
    assert outranked["stored"] == [(0, 0, 0, False)]
    assert RECOMPUTED_LOG in outranked["incremental"] and "purchase_days differ" in outranked["incremental"]
    assert differences(outranked["daily"], outranked["full"]) == {}
    with duckdb.connect(str(outranked["daily"]), read_only=True) as con:
        assert con.execute("select count(*) from marts.fct_product_daily_demand where product_id = ? and demand_date = ?",
                           list(outranked["day"])).fetchone()[0] == 0


def test_every_check_of_the_stored_days_sees_its_change(clean):
    """One change per check on a copy of the stored table: each check names itself, and the
    recomputed table equals the full rebuild again."""
    work = clean["work"]
    db = work / "tampered.duckdb"
    shutil.copy(clean["daily"], db)
    table, old = "marts.fct_product_daily_demand", f"demand_date < date '{OLD_DAY}'"

    def one_row(where: str) -> str:
        return f"(product_id, demand_date) in (select product_id, demand_date from {table} where {old} and {where} order by all limit 1)"

    with duckdb.connect(str(db)) as con:
        con.execute(f"update {table} set views = views + 1 where {one_row('views > 0')}")
        con.execute(f"update {table} set units = units + 1 where {one_row('orders > 0')}")
        con.execute(f"update {table} set list_price = list_price + 1 where {one_row('has_price_change')}")
        con.execute(f"update {table} set category = 'another' where {one_row('true')}")
        con.execute(f"insert into {table} select * replace (date '2000-01-03' as demand_date, 0 as views, "
                    "0 as add_to_carts, 0 as units, 0 as orders, 0 as revenue, false as has_price_change) "
                    f"from {table} where {one_row('true')}")
    log = build(work, clean["after"], db)
    assert "(browsing, sales, price_changes, purchase_days, categories differ)" in log
    assert differences(db, clean["full"]) == {}
