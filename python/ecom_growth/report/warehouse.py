"""Defensive, name-based reads of the BI tables for the report.

Tables move between schemas as the project grows (fct_customer_clv went from marts to serving),
so the report asks for a table by name and this module finds it in the BI schemas. A missing
table, a missing column or an empty result is not an error for the report: it raises
``MissingData`` with a sentence the section prints instead of its chart.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

import duckdb
import polars as pl

from ecom_growth.model_status import degraded_tables

# Only what BI reads (never staging or raw); earlier schemas win when a name exists twice, so a
# table that moved to a later layer is read from its new home.
REPORT_SCHEMAS = ("serving", "ml", "marts")

_PLACEHOLDER = re.compile(r"\{([a-z_][a-z0-9_]*)\}")


class MissingData(LookupError):
    """A table or column the report needs is absent or empty; the message says which."""


class Warehouse:
    """A read-only view of the BI schemas of a DuckDB warehouse, by table name."""

    def __init__(self, con: duckdb.DuckDBPyConnection, schemas: Sequence[str] = REPORT_SCHEMAS) -> None:
        self.con = con
        rows = con.execute(
            "select table_schema, table_name, column_name from information_schema.columns "
            "where table_schema in (" + ", ".join("?" for _ in schemas) + ") order by ordinal_position",
            list(schemas),
        ).fetchall()
        order = {schema: i for i, schema in enumerate(schemas)}
        self._schema: dict[str, str] = {}
        self._columns: dict[tuple[str, str], list[str]] = {}
        for schema, table, column in rows:
            self._columns.setdefault((schema, table), []).append(column)
        for schema, table in sorted(self._columns, key=lambda key: order[key[0]]):
            self._schema.setdefault(table, schema)
        # Every table the report actually read (the dbt exposure must list each of them).
        self.read: set[str] = set()
        self._degraded_tables = degraded_tables(con)
        self._degraded = {d.table: d.reasons for d in self._degraded_tables}

    def has(self, table: str, columns: Sequence[str] = ()) -> bool:
        return table in self._schema and set(columns) <= set(self.columns(table))

    def columns(self, table: str) -> list[str]:
        schema = self._schema.get(table)
        return list(self._columns[(schema, table)]) if schema else []

    def qualified(self, table: str) -> str:
        if table not in self._schema:
            raise MissingData(f"table {table} is not in this warehouse")
        self.read.add(table)
        return f'"{self._schema[table]}"."{table}"'

    def tables(self) -> list[str]:
        return sorted(self._schema)

    def query(self, sql: str, needs: Mapping[str, Sequence[str]], params: Sequence | None = None,
              allow_empty: bool = False) -> pl.DataFrame:
        """Run `sql` with every ``{table}`` replaced by its qualified name.

        `needs` lists, per table, the columns the query uses: an absent table or column raises
        MissingData naming it (before running anything), as does an empty result unless
        `allow_empty`.
        """
        for table, columns in needs.items():
            self.qualified(table)
            absent = [c for c in columns if c not in self.columns(table)]
            if absent:
                raise MissingData(f"{table} has no column {', '.join(absent)}")
        text = _PLACEHOLDER.sub(lambda m: self.qualified(m.group(1)) if m.group(1) in needs else m.group(0), sql)
        frame = self.con.sql(text, params=list(params or [])).pl()
        if frame.is_empty() and not allow_empty:
            raise MissingData(f"{', '.join(needs)}: no rows for this view")
        return frame

    def scalar(self, sql: str, params: Sequence | None = None):
        """First value of a one-row query (the whole result is fetched: DuckDB 2 refuses new work on a
        connection with an unfinished result)."""
        rows = self.con.execute(sql, list(params or [])).fetchall()
        return rows[0][0] if rows else None

    def degraded(self, table: str) -> list[str]:
        """Why `table` is degraded (its distinct status_reason values); empty when it is ok."""
        return list(self._degraded.get(table, ()))

    def degraded_lines(self) -> list[str]:
        """One 'DEGRADED <table>: <reasons>' line per degraded ML or serving table."""
        return [d.line() for d in self._degraded_tables]

    def as_of(self) -> str | None:
        """The build's analysis date, from the first BI table that carries it (None if none does)."""
        for table in ("fct_customer_clv", "ml_clv_predictions", "ml_churn_scores", "fct_next_best_actions",
                      "ml_customer_segments"):
            if self.has(table, ("as_of",)):
                value = self.scalar(f"select max(as_of) from {self.qualified(table)}")
                if value is not None:
                    return str(value)[:19]
        if self.has("fct_orders", ("ordered_at",)):
            value = self.scalar(f"select max(ordered_at) from {self.qualified('fct_orders')}")
            return None if value is None else str(value)[:19]
        return None
