"""Which ML and serving tables of a built warehouse are degraded, and why.

Every ML table carries ``status`` ('ok' | 'degraded') and ``status_reason`` (words); a model
that cannot be identified on a shop's data falls back to a simple estimate and the build goes
on. dbt reports it as a warning (test ``model_status_ok``); this is the same information for
the build summary and anything else that reads the warehouse.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import duckdb

STATUS_SCHEMAS = ("ml", "serving")


@dataclass(frozen=True)
class DegradedTable:
    schema: str
    table: str
    reasons: tuple[str, ...]  # distinct status_reason values, sorted
    rows: int  # rows with status 'degraded'

    def line(self) -> str:
        """'DEGRADED ml_clv_model_parameters: <reason>; <reason>' (one line for the summary)."""
        return f"DEGRADED {self.table}: {'; '.join(self.reasons) or 'no reason given'}"


def degraded_tables(con: duckdb.DuckDBPyConnection, schemas: Sequence[str] = STATUS_SCHEMAS) -> list[DegradedTable]:
    """Every base table in ``schemas`` with a ``status`` column and at least one row whose
    status is not 'ok', with its distinct reasons (prefixed '<model>: ' when the table has a
    ``model`` column); sorted by schema and table. Tables without a status column are not ML
    outputs (or predate the convention) and are skipped."""
    schemas = list(schemas)
    if not schemas:
        return []
    placeholders = ", ".join("?" for _ in schemas)
    candidates = con.execute(
        f"""
        select t.table_schema, t.table_name, list(c.column_name) as columns
        from information_schema.tables as t
        join information_schema.columns as c
          on c.table_schema = t.table_schema and c.table_name = t.table_name
        where t.table_type = 'BASE TABLE'
          and t.table_schema in ({placeholders})
          and c.column_name in ('status', 'status_reason', 'model')
        group by t.table_schema, t.table_name
        having bool_or(c.column_name = 'status')
        order by t.table_schema, t.table_name
        """,
        schemas,
    ).fetchall()
    found: list[DegradedTable] = []
    for schema, table, columns in candidates:
        reason = "status_reason" if "status_reason" in columns else "cast(null as varchar)"
        # A table of several models (ml_clv_model_parameters) says which model each reason is for.
        if "model" in columns:
            reason = f"cast(model as varchar) || ': ' || coalesce({reason}, 'no reason given')"
        rows = con.execute(
            f'select {reason} as reason, count(*) from "{schema}"."{table}" '
            "where status is distinct from 'ok' group by 1 order by 1"
        ).fetchall()
        if rows:
            reasons = tuple(r for r, _ in rows if r is not None)
            found.append(DegradedTable(schema, table, reasons, sum(n for _, n in rows)))
    return found
