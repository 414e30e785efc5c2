"""ecom_growth.model_status: which ML / serving tables are degraded, and the summary line."""

from __future__ import annotations

import duckdb

from ecom_growth.model_status import DegradedTable, degraded_tables
from ecom_growth.summary import build_summary


def _warehouse(con: duckdb.DuckDBPyConnection) -> None:
    con.execute("create schema ml; create schema serving; create schema marts; create schema intermediate")
    con.execute(
        """create table ml.ml_clv_model_parameters as select * from (values
           ('bgnbd', 'r', 'ok', null), ('gamma_gamma', 'p', 'degraded', 'order values do not vary'),
           ('gamma_gamma', 'q', 'degraded', 'order values do not vary')) t(model, parameter, status, status_reason)"""
    )
    con.execute("create table ml.ml_churn_scores as select 'c1' as customer_id, 'ok' as status, null::varchar as status_reason")
    con.execute("create table ml.ml_no_status as select 1 as x")
    con.execute("create table ml.ml_status_only as select 'degraded' as status")
    con.execute(
        """create table serving.fct_next_best_actions as select * from (values
           ('c1', 'degraded', 'ml_clv_predictions: b'), ('c2', 'degraded', 'ml_clv_predictions: a'))
           t(customer_id, status, status_reason)"""
    )
    con.execute("create table marts.fct_elsewhere as select 'degraded' as status, 'not an ML table' as status_reason")


def test_degraded_tables_lists_reasons_per_table_and_skips_ok_and_statusless_tables():
    with duckdb.connect() as con:
        _warehouse(con)
        found = degraded_tables(con)
    assert found == [
        DegradedTable("ml", "ml_clv_model_parameters", ("gamma_gamma: order values do not vary",), 2),
        DegradedTable("ml", "ml_status_only", (), 1),
        DegradedTable("serving", "fct_next_best_actions", ("ml_clv_predictions: a", "ml_clv_predictions: b"), 2),
    ]
    assert found[0].line() == "DEGRADED ml_clv_model_parameters: gamma_gamma: order values do not vary"
    assert found[1].line() == "DEGRADED ml_status_only: no reason given"


def test_no_schemas_no_tables():
    with duckdb.connect() as con:
        assert degraded_tables(con) == []
        assert degraded_tables(con, ()) == []


def test_summary_prints_a_line_per_degraded_table(tmp_path):
    db = tmp_path / "wh.duckdb"
    with duckdb.connect(str(db)) as con:
        _warehouse(con)
    text = build_summary(db)
    assert "DEGRADED ml_clv_model_parameters: gamma_gamma: order values do not vary" in text
    assert "DEGRADED fct_next_best_actions: ml_clv_predictions: a; ml_clv_predictions: b" in text
    assert "fct_elsewhere" not in text


def test_summary_says_when_everything_is_ok(tmp_path):
    db = tmp_path / "wh.duckdb"
    with duckdb.connect(str(db)) as con:
        con.execute("create schema ml")
        con.execute("create table ml.ml_churn_scores as select 'ok' as status, null::varchar as status_reason")
    assert "every ML table has status ok" in build_summary(db)
