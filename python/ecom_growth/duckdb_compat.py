"""A copy of the BI tables in a DuckDB file that DuckDB 1.x can open.

Many BI tools embed DuckDB 1.x, which cannot open a file written with DuckDB 2.x's storage
format. DuckDB 2 can still write the old format: ``ATTACH ... (STORAGE_VERSION 'v1.0.0')``
creates a database file in the format DuckDB 1.0 and later read. The copy holds the same
schemas, tables and columns as the Parquet exports and is written to a temporary name, then renamed, so
a reader never opens a half-written file.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

import duckdb

from ecom_growth.exports import EXPORTED_SCHEMAS, ExportedTable, _exported_columns

log = logging.getLogger(__name__)


def write_compat_copy(db_path: str | Path, out_path: str | Path, storage_version: str,
                      schemas: tuple[str, ...] = EXPORTED_SCHEMAS) -> list[ExportedTable]:
    """Copy every table and view of `schemas` (a view as a table of its rows) into a new DuckDB file
    with `storage_version` (e.g. 'v1.0.0')."""
    out = Path(out_path)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.tmp-{os.getpid()}")
    for stale in (tmp, tmp.with_name(tmp.name + ".wal")):
        stale.unlink(missing_ok=True)
    copied: list[ExportedTable] = []
    # In-memory session: the warehouse attached read-only, the copy read-write.
    with duckdb.connect() as con:
        con.execute(f"attach '{_sql_path(Path(db_path))}' as wh (read_only)")
        con.execute(f"attach '{_sql_path(tmp)}' as compat (storage_version '{_version(storage_version)}')")
        try:
            tables = con.execute(
                "select table_schema, table_name from information_schema.tables where table_catalog = 'wh' "
                # views too (a mart may be a view over intermediate, which is not copied): as tables
                "and table_type in ('BASE TABLE', 'VIEW') and table_schema in (" + ", ".join("?" for _ in schemas) + ") "
                "order by 1, 2", list(schemas)).fetchall()
            for schema, table in tables:
                # The same columns as the Parquet exports: serialised estimators (BLOB) stay home.
                columns = _exported_columns(con, schema, table)  # before the copy exists in compat
                con.execute(f'create schema if not exists compat."{schema}"')
                con.execute(f'create table compat."{schema}"."{table}" as select {columns} from wh."{schema}"."{table}"')
                rows = con.execute(f'select count(*) from compat."{schema}"."{table}"').fetchall()[0][0]
                copied.append(ExportedTable(schema, table, rows, out))
            con.execute("checkpoint compat")
        finally:
            con.execute("detach compat")
    os.replace(tmp, out)
    log.info("wrote %d tables to %s (DuckDB storage %s)", len(copied), out, storage_version)
    return copied


def _version(text: str) -> str:
    if not text.replace(".", "").replace("v", "").isalnum() or "'" in text:
        raise ValueError(f"not a DuckDB storage version: {text!r} (e.g. v1.0.0)")
    return text


def _sql_path(path: Path) -> str:
    return path.as_posix().replace("'", "''")
