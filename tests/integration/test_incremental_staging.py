"""Incremental staging (issue 16): a daily load of the append-only raw tables gives exactly what a
full refresh on the same raw files gives.

Two warehouses: one built on raw data ending day one and then loaded incrementally with the raw
data regenerated with one more day (plus hand-made dirt), one built from scratch on the second raw
data. Every staging relation (base_, stg_, stg_*_rejected, raw row counts) and
fct_raw_reconciliation must be equal, EXCEPT ALL both ways. The dirt: a duplicate of an old
event id that outranks the stored row, a genuine duplicate in the new day, a late event inside the
lookback window, a changed event and a changed order inside it, a customer and an order that
arrive only with the second export (their rows stored as orphan_fk must turn clean), null keys,
null timestamps, a future timestamp. Then a late event older than the window: the incremental
load fails naming --full-refresh and leaves the table as it was; --full-refresh rebuilds it.
The simulator's own dirt is not prefix-stable (it re-draws dirty rows), so the raw data here is
clean and the dirt is added the same way to both exports. Five small builds, about 2 minutes on 2 cores.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest
from hardening_support import REPO, dbt_env, run_dbt

CUSTOMERS = 1500
DAY_ONE, DAY_TWO = "2026-06-29", "2026-06-30"
# the staging models, the reconciliation mart, and only the tests between them
SELECT = ["-s", "path:models/staging", "fct_raw_reconciliation", "--indirect-selection", "cautious"]
INCREMENTAL = ("base_shop__events", "base_shop__orders", "base_shop__order_items")


def generate(out: Path, end: str) -> Path:
    subprocess.run([sys.executable, "-m", "ecom_growth", "-q", "generate", "--customers", str(CUSTOMERS),
                    "--seed", "5", "--end", end, "--out", str(out)],
                   check=True, capture_output=True, env={**os.environ, "PYTHONPATH": str(REPO / "python")})
    return out


def rewrite(raw: Path, table: str, sql: str) -> None:
    """Replace raw/<table>.parquet by `sql`, which reads the current file as `t`."""
    path = raw / f"{table}.parquet"
    with duckdb.connect() as con:
        con.execute(f"create table t as select * from read_parquet('{path}')")
        con.execute(f"copy ({sql}) to '{path}' (format parquet)")


def pick(where: str, offset: int = 0) -> str:
    """One raw row of `t`, chosen by a condition (deterministic: by id)."""
    return f"(select * from t where {where} order by 1 limit 1 offset {offset})"


def add_dirt(raw: Path, *, second_export: bool) -> None:
    """The same dirt in both exports, plus what the second one adds (module docstring)."""
    old = "occurred_at < timestamp '2026-01-15'"
    rest = "customer_id, session_id, event_type, product_id"  # an event's columns between id and time
    events = [
        "select * from t",
        # null key, null timestamp, future timestamp, an orphan: quarantined, both exports
        f"select null, {rest}, occurred_at from {pick(old)}",
        f"select 'E_NULL_TS', {rest}, null from {pick('true')}",
        f"select 'E_FUTURE', {rest}, timestamp '2100-01-01' from {pick('true')}",
        f"select 'E_ORPHAN', 'C_NOBODY', session_id, event_type, product_id, occurred_at from {pick(old)}",
        # an old duplicate that sorts after the kept row (session_id 'zzz'): duplicate_id in both
        f"select event_id, customer_id, 'zzz', event_type, product_id, occurred_at from {pick(old, 5)}",
    ]
    day_before = f"between timestamp '{DAY_ONE}' - interval 1 day and timestamp '{DAY_ONE}'"
    if second_export:
        changed_event = f"(select min(event_id) from t where occurred_at {day_before})"
        events[0] = (f"select event_id, customer_id, session_id, case when event_id = {changed_event} then 'purchase' "
                     "else event_type end as event_type, product_id, occurred_at from t")  # changed inside the window
        events += [
            # the id of an old row, sorting first (session '0'): kept; the stored row becomes duplicate_id
            f"select event_id, customer_id, '0', event_type, product_id, timestamp '{DAY_TWO} 12:00:00' from {pick(old, 9)}",
            # late inside the lookback window (3 days)
            f"select 'E_LATE', {rest}, timestamp '{DAY_ONE}' - interval 1 day from {pick('true')}",
            # a genuine duplicate in the file: an exact copy of a new-day row
            f"select * from {pick(f'occurred_at >= timestamp {DAY_TWO!r}')}",
        ]
        changed_order = f"(select min(order_id) from t where ordered_at {day_before} and status = 'completed')"
        orders = [  # a changed order inside the window, and a new row with the id of an old order
            f"select order_id, customer_id, ordered_at, case when order_id = {changed_order} then 'returned' else status end "
            "as status, order_total, discount_total from t",
            f"select order_id, customer_id, timestamp '{DAY_TWO} 08:00:00', status, order_total, discount_total "
            f"from {pick(old.replace('occurred_at', 'ordered_at'))}",
        ]
    else:
        # a customer and an order that arrive only with the second export
        first_customer = f"(select min(customer_id) from read_parquet('{raw}/events.parquet') where {old})"
        rewrite(raw, "customers", f"select * from t where customer_id <> {first_customer}")
        orders = [f"select * from t where order_id <> (select min(order_id) from t where ordered_at {day_before})"]
    rewrite(raw, "events", " union all ".join(events))
    rewrite(raw, "orders", " union all ".join(orders))


def staging_relations(db: Path) -> list[str]:
    with duckdb.connect(str(db), read_only=True) as con:
        names = [r[0] for r in con.execute(
            "select table_name from information_schema.tables where table_schema = 'staging' order by 1").fetchall()]
    return [f"staging.{n}" for n in names] + ["marts.fct_raw_reconciliation"]


def differences(a: Path, b: Path) -> dict[str, tuple[int, int]]:
    """relation -> (rows only in a, rows only in b), EXCEPT ALL, for every differing relation."""
    out = {}
    with duckdb.connect() as con:
        con.execute(f"attach '{a}' as a (read_only)")
        con.execute(f"attach '{b}' as b (read_only)")
        for rel in staging_relations(a):
            only_a = con.execute(f"select count(*) from (from a.{rel} except all from b.{rel})").fetchone()[0]
            only_b = con.execute(f"select count(*) from (from b.{rel} except all from a.{rel})").fetchone()[0]
            if only_a or only_b:
                out[rel] = (only_a, only_b)
    return out


def build(work: Path, raw: Path, db: Path, *extra: str, command: str = "run") -> subprocess.CompletedProcess:
    """dbt run (or build: with the data tests) of the staging models and the reconciliation."""
    env = {**dbt_env(work, raw, db), "ECOM_GROWTH_THREADS": "1"}
    return run_dbt([command, *SELECT, *extra], env)


@pytest.fixture(scope="module")
def loads(tmp_path_factory) -> dict:
    work = tmp_path_factory.mktemp("incremental_staging")
    before, after = generate(work / "raw_before", DAY_ONE), generate(work / "raw_after", DAY_TWO)
    add_dirt(before, second_export=False)
    add_dirt(after, second_export=True)
    daily, full = work / "daily.duckdb", work / "full.duckdb"
    first = build(work, before, daily)
    assert first.returncode == 0, first.stdout[-4000:]
    with duckdb.connect(str(daily), read_only=True) as con:
        stored_before = {t: con.execute(f"select count(*) from staging.{t}").fetchone()[0] for t in INCREMENTAL}
    incremental = build(work, after, daily, command="build")  # the reconciliation tests too
    from_scratch = build(work, after, full)
    return {"work": work, "after": after, "daily": daily, "full": full, "incremental": incremental,
            "from_scratch": from_scratch, "stored_before": stored_before}


def test_an_incremental_load_equals_a_full_refresh_on_the_same_raw_files(loads):
    assert loads["incremental"].returncode == 0, loads["incremental"].stdout[-4000:]
    assert loads["from_scratch"].returncode == 0, loads["from_scratch"].stdout[-4000:]
    for table in INCREMENTAL:  # the second load really was incremental
        assert f"{table}: incremental load of the window from" in loads["incremental"].stdout, table
    assert differences(loads["daily"], loads["full"]) == {}


def test_the_dirt_was_decided_as_a_full_refresh_decides_it(loads):
    with duckdb.connect(str(loads["daily"]), read_only=True) as con:
        reasons = dict(con.execute("select event_id, rejected_reason from staging.base_shop__events where event_id in "
                                   "('E_LATE', 'E_FUTURE', 'E_ORPHAN', 'E_NULL_TS')").fetchall())
        assert reasons == {"E_LATE": None, "E_FUTURE": "future_timestamp", "E_ORPHAN": "orphan_fk", "E_NULL_TS": "missing_value"}
        # the outranked stored row became duplicate_id, the new day's copy of a row too
        assert con.execute("select count(*) from staging.base_shop__events where rejected_reason = 'duplicate_id'").fetchone()[0] == 3
        assert con.execute("select count(*) from staging.base_shop__events where rejected_reason = 'orphan_fk'").fetchone()[0] == 1
        assert con.execute("select bool_and(is_reconciled) from marts.fct_raw_reconciliation").fetchone()[0]
        # the customer and the order that arrived late turned their stored orphans clean
        assert con.execute("select count(*) from staging.base_shop__order_items where rejected_reason = 'orphan_fk'").fetchone()[0] == 0


def test_a_row_older_than_the_lookback_window_fails_loudly_and_full_refresh_rebuilds(loads):
    work = loads["work"]
    late = work / "raw_late"
    shutil.copytree(loads["after"], late)
    rewrite(late, "events", "select * from t union all select 'E_TOO_LATE', customer_id, session_id, event_type, "
            f"product_id, timestamp '{DAY_ONE}' - interval 30 day from {pick('true')}")
    db = work / "late.duckdb"
    shutil.copy(loads["daily"], db)
    with duckdb.connect(str(db), read_only=True) as con:
        stored = con.execute("select count(*), sum(raw_row_hash) from staging.base_shop__events").fetchone()
    failed = build(work, late, db)
    assert failed.returncode != 0
    assert "dbt build --full-refresh -s base_shop__events+" in failed.stdout
    with duckdb.connect(str(db), read_only=True) as con:  # rolled back: the table is as it was
        assert con.execute("select count(*), sum(raw_row_hash) from staging.base_shop__events").fetchone() == stored
    rebuilt = build(work, late, db, "--full-refresh")
    assert rebuilt.returncode == 0, rebuilt.stdout[-4000:]
    with duckdb.connect(str(db), read_only=True) as con:
        assert con.execute("select rejected_reason from staging.base_shop__events where event_id = 'E_TOO_LATE'").fetchone() == (None,)
        assert con.execute("select bool_and(is_reconciled) from marts.fct_raw_reconciliation").fetchone()[0]
