"""Audience exports leave out the randomised holdout of fct_next_best_actions (is_holdout)."""

from pathlib import Path

import duckdb
import polars as pl

from ecom_growth.exports import export_audiences


def _warehouse(path: Path) -> Path:
    db = path / "wh.duckdb"
    with duckdb.connect(str(db)) as con:
        con.execute("create schema serving")
        con.execute(
            """create table serving.fct_next_best_actions as select * from (values
            ('c0', 'winback', 'r1', 10.0, 'hi', 'p1', 'p2', 'p3', 1.5, false, timestamp '2026-01-01'),
            ('c1', 'winback', 'r1', 10.0, 'hi', 'p1', null, null, 0.0, true, timestamp '2026-01-01'),
            ('c2', 'loyalty', 'r2', 0.0, 'hey', 'p3', 'p2', 'p1', 2.5, true, timestamp '2026-01-01'))
            t(customer_id, action, rule_id, coupon_value, message, recommended_product_1,
              recommended_product_2, recommended_product_3, expected_value_at_stake, is_holdout, as_of)"""
        )
    return db


def test_holdout_customers_are_not_in_any_audience(tmp_path):
    out = tmp_path / "aud"
    exported = export_audiences(_warehouse(tmp_path), out)
    assert pl.read_parquet(out / "winback.parquet")["customer_id"].to_list() == ["c0"]
    # An action whose every customer is held out still gets its (empty) file: the folder mirrors the actions.
    assert pl.read_parquet(out / "loyalty.parquet").height == 0
    assert {e.table: e.rows for e in exported} == {"audience:loyalty": 0, "audience:winback": 1}
