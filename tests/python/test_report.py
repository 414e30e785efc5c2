"""The growth report on tiny hand-made warehouses: exact KPIs, absent tables, the page itself."""

import re
from decimal import Decimal
from pathlib import Path

import duckdb
import plotly.graph_objects as go
import polars as pl
import pytest

from ecom_growth.build_log import IncompleteBuildError
from ecom_growth.report import build_report, collect_sections
from ecom_growth.report.section import Section, format_value
from ecom_growth.report.sections import kpis
from ecom_growth.report.warehouse import MissingData, Warehouse

SCHEMAS = ("marts", "ml", "serving", "staging")  # ops: the build log, below

# (customer, ordered_at, is_completed, revenue, completed_order_number)
ORDERS = [
    ("d", "2025-12-01 10:00:00", True, 10.0, 1),
    ("a", "2026-01-05 10:00:00", True, 20.0, 1),
    ("d", "2026-01-07 10:00:00", True, 30.0, 2),
    ("b", "2026-01-20 10:00:00", True, 40.0, 1),
    ("c", "2026-02-03 10:00:00", True, 50.0, 1),
    ("a", "2026-02-10 10:00:00", True, 60.0, 2),
    ("e", "2026-02-11 10:00:00", False, 0.0, None),  # cancelled: not a purchase
    ("d", "2026-02-20 10:00:00", True, 70.0, 3),
    ("c", "2026-03-15 10:00:00", True, 80.0, 2),
]


def _warehouse(path: Path, orders: bool = True) -> Path:
    db = path / "wh.duckdb"
    with duckdb.connect(str(db)) as con:
        for schema in SCHEMAS:
            con.execute(f"create schema {schema}")
        # A completed build in the build log (the report refuses a warehouse without one).
        con.execute("create schema ops")
        con.execute(
            "create table ops.build_runs as select 'b1' as build_id, 'build' as command, null::varchar as selection, "
            "timestamp '2026-03-16 01:00' as started_at, timestamp '2026-03-16 01:10' as finished_at, "
            "'complete' as status, 0 as failed_nodes, false as pii_salt_is_demo"
        )
        if orders:
            con.execute(
                "create table marts.fct_orders (customer_id varchar, ordered_at timestamp, is_completed boolean, "
                "revenue decimal(18, 2), completed_order_number bigint)"
            )
            con.executemany("insert into marts.fct_orders values (?, ?, ?, ?, ?)", ORDERS)
    return db


def _rows(section: Section) -> dict[str, list[str]]:
    return {row[0]: row[1:] for row in section.tables[0].rows}


def test_kpis_compare_the_last_complete_month_with_the_one_before(tmp_path):
    with duckdb.connect(str(_warehouse(tmp_path)), read_only=True) as con:
        section = kpis(Warehouse(con))
    # as_of = 2026-03-15 (latest order) -> Feb 2026 vs Jan 2026.
    assert section.tables[0].header == ["KPI", "Feb 2026", "Jan 2026", "change"]
    rows = _rows(section)
    assert rows["customers (ever bought)"] == ["4", "3", "+33.3%"]       # a, b, c, d by Feb; a, b, d by Jan
    assert rows["buyers"] == ["3", "3", "+0.0%"]                         # a, c, d (e's order was cancelled)
    assert rows["revenue (currency)"] == ["180.00", "90.00", "+100.0%"]
    assert rows["repeat-purchase rate"] == ["50.0%", "33.3%", "+16.7 pp"]  # a, d of 4; d of 3
    assert rows["retention (last month's buyers)"] == ["66.7%", "100.0%", "-33.3 pp"]  # a, d of a, b, d; d of d
    assert [c.title for c in section.charts] == ["Revenue and buyers per month (the last complete month, Feb 2026, in orange)"]
    revenue = section.charts[0].figure.data[0]
    assert list(revenue.y) == [10.0, 90.0, 180.0]  # Dec .. Feb: the month in progress (Mar) is left out
    assert any("fct_customer_clv" in note for note in section.notes), "absent CLV table is named in a note"


def test_empty_warehouse_gives_a_report_of_notes_not_an_error(tmp_path):
    report = build_report(_warehouse(tmp_path, orders=False), tmp_path / "out")
    assert report.charts == 0
    assert len(report.sections) == 8
    for section in report.sections:
        assert not section.items and section.notes, section.title
    assert [o.split(":")[0] for o in report.omitted] == ["Pricing", "Review sentiment"]
    html = report.path.read_text()
    assert "table fct_cohort_retention is not in this warehouse" in html
    assert "no pricing tables in this warehouse yet" in html


def test_page_is_self_contained(tmp_path):
    report = build_report(_warehouse(tmp_path), tmp_path / "out")
    html = report.path.read_text()
    assert report.charts == 1
    assert not re.search(r"<script[^>]+src=|<link[^>]+href=|<img[^>]+src=[\"']http", html), "nothing loaded from outside"
    assert "Plotly.newPlot" in html and len(html) > 3_000_000, "plotly.js is inlined"
    assert 'id="chart-kpis-0"' in html
    assert not list((tmp_path / "out").glob(".*tmp*")), "written via a temporary file and a rename"


def test_a_table_in_a_later_schema_wins_and_missing_columns_are_named(tmp_path):
    db = _warehouse(tmp_path)
    with duckdb.connect(str(db)) as con:
        con.execute("create table marts.fct_customer_clv as select 1.0 as historical_clv")
        con.execute("create table serving.fct_customer_clv as select 2.0 as historical_clv, 3.0 as predicted_clv")
    with duckdb.connect(str(db), read_only=True) as con:
        wh = Warehouse(con)
        assert wh.qualified("fct_customer_clv") == '"serving"."fct_customer_clv"'
        assert wh.query("select historical_clv from {fct_customer_clv}", {"fct_customer_clv": ["historical_clv"]}
                        )["historical_clv"].to_list() == [2.0]
        with pytest.raises(MissingData, match="fct_orders has no column nope"):
            wh.query("select nope from {fct_orders}", {"fct_orders": ["nope"]})
        with pytest.raises(MissingData, match="no rows for this view"):
            wh.query("select * from {fct_orders} where false", {"fct_orders": []})
        assert wh.query("select * from {fct_orders} where false", {"fct_orders": []}, allow_empty=True).is_empty()
        assert wh.read == {"fct_customer_clv", "fct_orders"}


def test_a_part_with_missing_data_becomes_a_note_and_the_rest_of_the_section_stays():
    section = Section("s", "S", "what", "how")
    with section.part("First"):
        raise MissingData("table x is not in this warehouse")
    with section.part("Second"):
        section.table("t", pl.DataFrame({"a": [1]}))
    with section.part("Third"):
        section.chart("empty", go.Figure(go.Bar(x=[], y=[])))
    assert section.notes == ["First: not shown, table x is not in this warehouse.",
                             "Third: not shown, no data points to draw."]
    assert len(section.tables) == 1 and not section.charts


def test_degraded_model_tables_show_their_reason(tmp_path):
    db = _warehouse(tmp_path)
    with duckdb.connect(str(db)) as con:
        con.execute("""create table ml.ml_churn_scores as select 'a' as customer_id, 0.5 as churn_probability,
            'medium' as risk_tier, null::varchar as reason_1, 'degraded' as status, 'one class' as status_reason""")
    with duckdb.connect(str(db), read_only=True) as con:
        sections, _ = collect_sections(Warehouse(con))
    churn = next(s for s in sections if s.key == "churn")
    assert churn.warnings == ["ml_churn_scores is degraded: one class"]
    assert churn.tables[0].rows == [["medium", "1", "100.0%", "50.0%"]]


def test_later_capability_section_appears_only_with_its_tables(tmp_path):
    db = _warehouse(tmp_path)
    with duckdb.connect(str(db)) as con:
        con.execute("create table ml.ml_review_sentiment as select 'r1' as review_id, 0.8 as sentiment_score")
    report = build_report(db, tmp_path / "out")
    assert [s.title for s in report.sections][-1] == "Review sentiment"
    assert [o.split(":")[0] for o in report.omitted] == ["Pricing"]
    sentiment = report.sections[-1]
    assert sentiment.charts and sentiment.tables[0].rows == [["ml_review_sentiment", "1"]]


@pytest.mark.parametrize(("value", "fmt", "text"), [
    (None, "pct", "—"), (float("nan"), "money", "—"), (0.1234, "pct", "12.3%"), (1234.5, "money", "1,234.50"),
    (Decimal("51950.42"), "money", "51,950.42"), (1234, None, "1,234"), (True, None, "yes"), ("x", "pct", "x"),
    (14400.0, None, "14,400"), (Decimal("14400"), None, "14,400"), (0.1234, None, "0.123"),
])
def test_format_value(value, fmt, text):
    assert format_value(value, fmt) == text


def test_refuses_a_warehouse_whose_last_build_did_not_complete(tmp_path):
    db = _warehouse(tmp_path)
    with duckdb.connect(str(db)) as con:
        con.execute("insert into ops.build_runs values ('b2', 'build', null, timestamp '2026-03-17 01:00', null, "
                    "'running', null, false)")
    with pytest.raises(IncompleteBuildError, match="b2"):
        build_report(db, tmp_path / "out")
    assert not (tmp_path / "out").exists(), "nothing written for an incomplete build"


def test_demo_salt_warning_is_on_the_page(tmp_path):
    db = _warehouse(tmp_path)
    with duckdb.connect(str(db)) as con:
        con.execute("update ops.build_runs set pii_salt_is_demo = true")
    assert "ECOM_GROWTH_PII_SALT was not set" in build_report(db, tmp_path / "out").path.read_text()
