"""The fit-metadata data tests (macros/tests/one_fit.sql) on small DuckDB tables.

A dbt generic test fails when its query returns rows; the bodies are rendered with jinja2 the
way dbt renders them (model and column names substituted) and run on hand-made tables.
"""

from __future__ import annotations

import re
from pathlib import Path

import duckdb
import jinja2
import pytest

MACROS = Path(__file__).resolve().parents[2] / "macros" / "tests" / "one_fit.sql"


def _test_body(name: str) -> str:
    text = MACROS.read_text()
    match = re.search(r"{%\s*test\s+" + name + r"\(.*?\)\s*%}(.*?){%\s*endtest\s*%}", text, re.S)
    assert match, name
    return match.group(1)


def _failures(con: duckdb.DuckDBPyConnection, name: str, **kwargs: str) -> int:
    sql = jinja2.Template(_test_body(name)).render(**kwargs)
    return len(con.sql(sql).fetchall())


@pytest.fixture()
def con():
    con = duckdb.connect()
    con.execute("create table model_table (fit_id varchar, x int)")
    con.execute("create table stored (fit_id varchar)")
    return con


@pytest.mark.parametrize(
    ("rows", "fails"),
    [
        ([], False),  # nothing fitted (e.g. no completed orders): no fit to duplicate
        ([("a", 1), ("a", 2)], False),
        ([("a", 1), ("b", 2)], True),  # two fits in one table
        ([("a", 1), (None, 2)], True),  # a row without fit metadata
        ([(None, 1)], True),
    ],
)
def test_one_fit(con, rows, fails):
    if rows:
        con.executemany("insert into model_table values (?, ?)", rows)
    assert (_failures(con, "one_fit", model="model_table", column_name="fit_id") > 0) is fails


@pytest.mark.parametrize(
    ("stored", "rows", "fails"),
    [
        (["a"], ["a", "a"], False),
        (["a"], ["b"], True),  # scored from another fit than the stored one
        (["a", "b"], ["a"], True),  # the stored model holds two fits
        (["a"], [None], True),
        (["a"], [], False),
    ],
)
def test_same_fit_as(con, stored, rows, fails):
    con.executemany("insert into stored values (?)", [(s,) for s in stored])
    if rows:
        con.executemany("insert into model_table values (?, 1)", [(r,) for r in rows])
    failed = _failures(con, "same_fit_as", model="model_table", column_name="fit_id", to="stored") > 0
    assert failed is fails
