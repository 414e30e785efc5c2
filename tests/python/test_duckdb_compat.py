"""The DuckDB 1.x-compatible copy: same tables and rows as the exports, old storage format."""

import duckdb
import pytest

from ecom_growth.duckdb_compat import write_compat_copy


def _warehouse(path):
    db = path / "wh.duckdb"
    with duckdb.connect(str(db)) as con:
        con.execute("create schema marts; create schema ml; create schema staging")
        con.execute("create table marts.dim_customers as select 'c' || i as customer_id from range(3) t(i)")
        con.execute("create table ml.ml_churn_model as select 'm' as model, 'pickle'::blob as estimator, 1 as n")
        con.execute("create table staging.secret as select 1 as x")
    return db


def test_copy_holds_the_exported_tables_without_blobs_in_the_requested_storage_version(tmp_path):
    copied = write_compat_copy(_warehouse(tmp_path), tmp_path / "out" / "compat.duckdb", "v1.0.0")
    assert sorted((c.schema, c.table, c.rows) for c in copied) == [("marts", "dim_customers", 3), ("ml", "ml_churn_model", 1)]
    with duckdb.connect(str(tmp_path / "out" / "compat.duckdb"), read_only=True) as con:
        assert con.execute("select column_name from information_schema.columns where table_name = 'ml_churn_model' "
                           "order by ordinal_position").fetchall() == [("model",), ("n",)]
        assert con.execute("select count(*) from information_schema.tables where table_schema = 'staging'"
                           ).fetchall() == [(0,)]
        version = con.execute("select tags['storage_version'] from duckdb_databases() where database_name = 'compat'"
                              ).fetchall()
    assert [p.name for p in (tmp_path / "out").iterdir()] == ["compat.duckdb"], "no temporary file left behind"
    assert version[0][0].startswith("v1.0.0"), version  # DuckDB reports the range, e.g. 'v1.0.0+'


def test_a_view_is_copied_as_a_table_of_its_rows(tmp_path):
    db = _warehouse(tmp_path)
    with duckdb.connect(str(db)) as con:
        con.execute("create schema intermediate")
        con.execute("create table intermediate.int_pairs as select i as n from range(5) t(i)")
        con.execute("create view marts.fct_pairs as select n from intermediate.int_pairs where n > 0")
    copied = {(c.schema, c.table): c.rows for c in write_compat_copy(db, tmp_path / "compat.duckdb", "v1.0.0")}
    assert copied[("marts", "fct_pairs")] == 4 and ("intermediate", "int_pairs") not in copied
    with duckdb.connect(str(tmp_path / "compat.duckdb"), read_only=True) as con:
        assert con.execute("select table_type from information_schema.tables where table_name = 'fct_pairs'"
                           ).fetchall() == [("BASE TABLE",)]


def test_rejects_a_storage_version_that_is_not_one(tmp_path):
    with pytest.raises(ValueError, match="not a DuckDB storage version"):
        write_compat_copy(_warehouse(tmp_path), tmp_path / "c.duckdb", "v1'); drop table x; --")
