from pathlib import Path

import duckdb
import polars as pl

from ecom_growth.exports import export_audiences, export_tables
from ecom_growth.summary import build_summary


def _warehouse(path: Path, with_actions: bool = True) -> Path:
    db = path / "wh.duckdb"
    with duckdb.connect(str(db)) as con:
        con.execute("create schema marts; create schema ml; create schema staging; create schema intermediate")
        con.execute("create table marts.dim_customers as select 'c' || i as customer_id from range(3) t(i)")
        con.execute("create table ml.ml_churn_scores as select 'c1' as customer_id, 0.5 as churn_probability")
        con.execute("create table staging.secret as select 1 as x")
        con.execute("create table intermediate.int_as_of as select timestamp '2026-01-01' as as_of, 'var' as as_of_source")
        con.execute("create schema ops; create table ops.build_runs as select 'b1' as build_id, 'build' as command, "
                    "null::varchar as selection, timestamp '2026-01-02' as started_at, timestamp '2026-01-02' as finished_at, "
                    "'complete' as status, 0 as failed_nodes, true as pii_salt_is_demo")
        if with_actions:
            con.execute(
                """create table marts.fct_next_best_actions as select * from (values
                ('c0', 'winback', 'r1', 10.0, 'hi', 'p1', 'p2', 'p3', 1.5, timestamp '2026-01-01'),
                ('c1', 'loyalty', 'r2', 0.0, 'hey', 'p1', null, null, 0.0, timestamp '2026-01-01'),
                ('c2', 'winback', 'r1', 10.0, 'hi', 'p3', 'p2', 'p1', 2.5, timestamp '2026-01-01'))
                t(customer_id, action, rule_id, coupon_value, message, recommended_product_1,
                  recommended_product_2, recommended_product_3, expected_value_at_stake, as_of)"""
            )
    return db


def test_export_writes_every_mart_and_ml_table_but_nothing_internal(tmp_path):
    db = _warehouse(tmp_path)
    exported = export_tables(db, tmp_path / "out")
    assert sorted(e.table for e in exported) == ["dim_customers", "fct_next_best_actions", "ml_churn_scores"]
    assert pl.read_parquet(tmp_path / "out" / "dim_customers.parquet").height == 3
    assert not list((tmp_path / "out").glob(".*tmp*")), "no temporary file is left behind"


def test_a_mart_that_is_a_view_is_exported_with_its_rows(tmp_path):
    # e.g. fct_user_item_interactions: a view over an intermediate table (which is not exported)
    db = _warehouse(tmp_path)
    with duckdb.connect(str(db)) as con:
        con.execute("create table intermediate.int_pairs as select 'c' || i as customer_id, i as n from range(4) t(i)")
        con.execute("create view marts.fct_pairs as select customer_id from intermediate.int_pairs")
        con.execute("create view staging.stg_hidden as select 1 as x")
    exported = {e.table: e.rows for e in export_tables(db, tmp_path / "out")}
    assert exported["fct_pairs"] == 4 and "stg_hidden" not in exported and "int_pairs" not in exported
    assert pl.read_parquet(tmp_path / "out" / "fct_pairs.parquet").columns == ["customer_id"]


def test_serialised_estimators_stay_in_the_warehouse(tmp_path):
    db = _warehouse(tmp_path)
    with duckdb.connect(str(db)) as con:
        con.execute("create table ml.ml_churn_model as select 'hgb' as model, 'abc'::blob as estimator, 'x' as checksum")
    export_tables(db, tmp_path / "out")
    exported = pl.read_parquet(tmp_path / "out" / "ml_churn_model.parquet")
    assert exported.columns == ["model", "checksum"]


def test_audiences_one_file_per_action_and_stale_files_removed(tmp_path):
    db = _warehouse(tmp_path)
    out = tmp_path / "aud"
    out.mkdir()
    (out / "old_action.parquet").write_bytes(b"stale")
    exported = export_audiences(db, out)
    assert sorted(p.name for p in out.glob("*.parquet")) == ["loyalty.parquet", "winback.parquet"]
    assert {e.rows for e in exported} == {1, 2}
    assert pl.read_parquet(out / "winback.parquet")["customer_id"].to_list() == ["c0", "c2"]


def test_audiences_noop_without_actions_table(tmp_path):
    assert export_audiences(_warehouse(tmp_path, with_actions=False), tmp_path / "aud") == []


def test_summary_reports_counts_and_missing_tables(tmp_path):
    text = build_summary(_warehouse(tmp_path))
    assert "as_of: 2026-01-01 00:00:00 (var)" in text
    assert "marts.dim_customers" in text and " 3" in text
    assert "(not built)" in text
