"""Staging against the simulator's dirty-row truth: every injected bad row is quarantined with
its class, nothing else is, and counts reconcile from the raw files to the marts."""

import pytest

TABLES = ["customers", "products", "orders", "order_items", "events", "reviews", "marketing_spend", "experiment_assignments"]


def test_every_injected_bad_row_is_quarantined_with_its_reason(warehouse, truth):
    got = {
        (table, reason): rows
        for table, reason, rows in warehouse.execute(
            "select table_name, rejected_reason, rejected_rows from marts.fct_quarantined_rows where outcome = 'quarantined'"
        ).fetchall()
    }
    planted = {(table, reason): n for table, classes in truth["dirty"].items() for reason, n in classes.items() if n}
    assert got == planted


@pytest.mark.parametrize("table", TABLES)
def test_raw_rows_reconcile_with_clean_plus_quarantined(warehouse, truth, table):
    raw, clean, rejected, ok = warehouse.execute(
        "select raw_rows, clean_rows, rejected_rows, is_reconciled from marts.fct_raw_reconciliation where table_name = ?",
        [table],
    ).fetchone()
    assert raw == truth["raw_rows"][table]
    assert clean == truth["clean_rows"][table]
    assert raw == clean + rejected and ok


def test_completed_revenue_equals_raw_completed_total_minus_quarantined(warehouse, raw_path):
    # Independent of staging: parse the raw file directly, subtract what quarantine holds.
    raw_total = warehouse.execute(
        f"""
        select sum(try_cast(trim(cast(order_total as varchar)) as decimal(18, 2)))
        from read_parquet('{raw_path / "orders.parquet"}')
        where lower(trim(cast(status as varchar))) = 'completed'
        """
    ).fetchone()[0]
    quarantined_total = warehouse.execute(
        """
        select coalesce(sum(try_cast(order_total as decimal(18, 2))), 0)
        from staging.stg_shop__orders_rejected
        where lower(trim(status)) = 'completed'
        """
    ).fetchone()[0]
    mart_total = warehouse.execute("select sum(revenue) from marts.fct_orders").fetchone()[0]
    assert mart_total == raw_total - quarantined_total


def test_raw_email_never_leaves_staging(warehouse):
    columns = warehouse.execute(
        "select table_schema, table_name, column_name from information_schema.columns "
        "where lower(column_name) = 'email' and table_schema <> 'staging'"
    ).fetchall()
    assert columns == []
    leaked = warehouse.execute(
        "select count(*) from staging.stg_shop__customers_rejected where email_hash like '%@%'"
    ).fetchone()[0]
    assert leaked == 0


def test_simulated_data_needs_no_repair_and_has_no_suspicious_value(warehouse):
    # The simulator's clean rows are consistent (signup before the first order) and its amounts
    # are Gamma draws: neither the repair nor the outlier rule may touch them.
    touched = warehouse.execute(
        "select count(*) from marts.fct_quarantined_rows where outcome = 'repaired' or rejected_reason = 'suspicious_value'"
    ).fetchone()[0]
    assert touched == 0
