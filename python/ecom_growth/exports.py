"""Copy the BI-facing tables out of the warehouse as Parquet files.

BI tools often embed an older DuckDB that cannot open a file written by DuckDB 2.x, and the
warehouse file is locked while dbt writes it; Parquet files are readable by anything. Each file is
written to a temporary name in the same folder and then renamed (atomic on POSIX), so a reader
never sees a half-written file.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path

import duckdb

log = logging.getLogger(__name__)

# Schemas whose tables are the BI contract (staging and intermediate stay inside).
EXPORTED_SCHEMAS = ("marts", "ml")


@dataclass(frozen=True)
class ExportedTable:
    schema: str
    table: str
    rows: int
    path: Path


def list_tables(con: duckdb.DuckDBPyConnection, schemas: tuple[str, ...] = EXPORTED_SCHEMAS) -> list[tuple[str, str]]:
    """(schema, table) of every base table in the given schemas, sorted."""
    placeholders = ", ".join("?" for _ in schemas)
    rows = con.execute(
        f"""
        select table_schema, table_name
        from information_schema.tables
        where table_type = 'BASE TABLE' and table_schema in ({placeholders})
        order by table_schema, table_name
        """,
        list(schemas),
    ).fetchall()
    return [(schema, table) for schema, table in rows]


def export_tables(db_path: str | Path, out_dir: str | Path, schemas: tuple[str, ...] = EXPORTED_SCHEMAS) -> list[ExportedTable]:
    """Write <out_dir>/<table>.parquet for every table of `schemas`; returns what was written."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    exported: list[ExportedTable] = []
    with duckdb.connect(str(db_path), read_only=True) as con:
        for schema, table in list_tables(con, schemas):
            final = out / f"{table}.parquet"
            tmp = out / f".{table}.parquet.tmp-{os.getpid()}"
            con.execute(
                f'copy (select * from "{schema}"."{table}") to \'{tmp.as_posix()}\' (format parquet, compression zstd)'
            )
            os.replace(tmp, final)
            rows = con.execute(f'select count(*) from "{schema}"."{table}"').fetchone()[0]
            exported.append(ExportedTable(schema, table, rows, final))
            log.info("exported %s.%s (%d rows) -> %s", schema, table, rows, final)
    return exported


def export_audiences(db_path: str | Path, out_dir: str | Path) -> list[ExportedTable]:
    """One Parquet file per next-best action (the CRM audience): <out_dir>/<action>.parquet,
    without the action's randomised holdout (``is_holdout``).

    Written atomically like the tables; a file whose action no longer exists is removed so the
    folder always mirrors the current actions. No-op when fct_next_best_actions is not built.
    """
    out = Path(out_dir)
    with duckdb.connect(str(db_path), read_only=True) as con:
        # The table moves from marts to serving (it reads ML outputs); accept either.
        found = [s for s, t in list_tables(con, ("serving", "marts")) if t == "fct_next_best_actions"]
        if not found:
            return []
        source = f'"{found[0]}".fct_next_best_actions'
        out.mkdir(parents=True, exist_ok=True)
        actions = [a for (a,) in con.execute(f"select distinct action from {source} order by 1").fetchall()]
        columns = {c for (c,) in con.execute(f"select column_name from (describe {source})").fetchall()}
        # Holdout customers must not receive the action (they measure its effect); a table built
        # before the holdout existed has no is_holdout column and no holdout.
        holdout = " and not is_holdout" if "is_holdout" in columns else ""
        exported: list[ExportedTable] = []
        for action in actions:
            final = out / f"{action}.parquet"
            tmp = out / f".{action}.parquet.tmp-{os.getpid()}"
            query = (
                "select customer_id, action, rule_id, coupon_value, message, recommended_product_1, "
                "recommended_product_2, recommended_product_3, expected_value_at_stake, as_of "
                f"from {source} where action = ?{holdout} order by customer_id"
            )
            rows = con.execute(f"select count(*) from ({query})", [action]).fetchone()[0]
            con.execute(f"copy ({query.replace('?', _sql_string(action))}) to '{tmp.as_posix()}' (format parquet, compression zstd)")
            os.replace(tmp, final)
            exported.append(ExportedTable(found[0], f"audience:{action}", rows, final))
        for stale in out.glob("*.parquet"):
            if stale.stem not in actions:
                stale.unlink()
    return exported


def _sql_string(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"
