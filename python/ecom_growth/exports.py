"""Copy the BI-facing tables out of the warehouse as Parquet files.

BI tools often embed an older DuckDB that cannot open a file written by DuckDB 2.x, and the
warehouse file is locked while dbt writes it; Parquet files are readable by anything. Each file is
written to a temporary name in the same folder and then renamed (atomic on POSIX), so a reader
never sees a half-written file.

A build is published as a unit (``publish_exports``): every file of one complete build goes to
its own run folder ``<out>/runs/<build_id>-<n>/`` with ``_manifest.json`` (build id, as_of, row
counts, SHA-256 per file), and only then the symlink ``<out>/current`` is switched to it in one
atomic rename. A reader that resolves ``current`` once never combines files of two builds; an
export killed mid-way leaves ``current`` on the previous run. Incomplete builds are refused.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import duckdb

from ecom_growth.build_log import BuildRecord, require_complete_build

log = logging.getLogger(__name__)

# Schemas whose tables are the BI contract (staging and intermediate stay inside).
EXPORTED_SCHEMAS = ("marts", "ml", "serving")
MANIFEST_FILE = "_manifest.json"
CURRENT_LINK = "current"
RUNS_DIR = "runs"
# Run folders kept besides the current one (a reader may still be reading the previous build).
KEEP_PREVIOUS_RUNS = 1


@dataclass(frozen=True)
class ExportedTable:
    schema: str
    table: str
    rows: int
    path: Path


def list_tables(con: duckdb.DuckDBPyConnection, schemas: tuple[str, ...] = EXPORTED_SCHEMAS) -> list[tuple[str, str]]:
    """(schema, table) of every table and view in the given schemas, sorted (a mart may be a view,
    e.g. fct_user_item_interactions: exported like a table)."""
    placeholders = ", ".join("?" for _ in schemas)
    rows = con.execute(
        f"""
        select table_schema, table_name
        from information_schema.tables
        where table_type in ('BASE TABLE', 'VIEW') and table_schema in ({placeholders})
        order by table_schema, table_name
        """,
        list(schemas),
    ).fetchall()
    return [(schema, table) for schema, table in rows]


def _exported_columns(con: duckdb.DuckDBPyConnection, schema: str, table: str) -> str:
    """The select list of an export: every column but binary ones. A BLOB column holds a serialised
    estimator (ml_churn_model): it stays in the warehouse, where only the project loads it after
    checking its checksum, and never travels to BI readers (unpickling is code execution)."""
    blobs = [
        name for (name,) in con.execute(
            "select column_name from information_schema.columns "
            "where table_schema = ? and table_name = ? and data_type = 'BLOB'", [schema, table],
        ).fetchall()
    ]
    return "* exclude (" + ", ".join(f'"{b}"' for b in blobs) + ")" if blobs else "*"


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
                f'copy (select {_exported_columns(con, schema, table)} from "{schema}"."{table}") '
                f"to '{tmp.as_posix()}' (format parquet, compression zstd)"
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


@dataclass(frozen=True)
class Publication:
    build: BuildRecord
    run_dir: Path
    tables: list[ExportedTable]
    audiences: list[ExportedTable]


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _as_of(db_path: str | Path) -> str | None:
    with duckdb.connect(str(db_path), read_only=True) as con:
        if ("intermediate", "int_as_of") not in set(list_tables(con, ("intermediate",))):
            return None
        return str(con.execute("select as_of from intermediate.int_as_of").fetchone()[0])


def build_manifest(build: BuildRecord, as_of: str | None, run_dir: Path, files: list[ExportedTable]) -> dict:
    """What a reader needs to trust a run folder: which build, which data date, rows and checksums."""
    return {
        "build_id": build.build_id,
        "build_command": build.command,
        "build_started_at": str(build.started_at),
        "build_finished_at": str(build.finished_at),
        "as_of": as_of,
        "exported_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "pii_salt_is_demo": build.pii_salt_is_demo,
        "files": [
            {"schema": f.schema, "table": f.table, "path": f.path.relative_to(run_dir).as_posix(),
             "rows": f.rows, "sha256": _sha256(f.path)}
            for f in files
        ],
    }


def publish_exports(db_path: str | Path, out_dir: str | Path, schemas: tuple[str, ...] = EXPORTED_SCHEMAS) -> Publication:
    """Export a COMPLETE build as one unit and switch ``<out>/current`` to it atomically.

    Raises build_log.IncompleteBuildError (before writing anything) when the warehouse's last
    build did not complete.
    """
    out = Path(out_dir)
    with duckdb.connect(str(db_path), read_only=True) as con:
        build = require_complete_build(con)
    runs = out / RUNS_DIR
    runs.mkdir(parents=True, exist_ok=True)
    suffix = uuid.uuid4().hex[:8]
    staging = runs / f".tmp-{build.build_id}-{suffix}"
    tables = export_tables(db_path, staging, schemas)
    audiences = export_audiences(db_path, staging / "audiences")
    manifest = build_manifest(build, _as_of(db_path), staging, tables + audiences)
    (staging / MANIFEST_FILE).write_text(json.dumps(manifest, indent=2) + "\n")
    run_dir = runs / f"{build.build_id}-{suffix}"
    os.rename(staging, run_dir)
    _switch_current(out, run_dir)
    _prune_runs(runs, keep=run_dir)
    log.info("published build %s (%d tables, %d audiences) -> %s", build.build_id, len(tables), len(audiences), run_dir)
    return Publication(build, run_dir, tables, audiences)


def _switch_current(out: Path, run_dir: Path) -> None:
    """Point <out>/current at run_dir with one rename (atomic on POSIX): never half-switched."""
    link = out / CURRENT_LINK
    tmp = out / f".{CURRENT_LINK}-{uuid.uuid4().hex[:8]}"
    tmp.symlink_to(run_dir.relative_to(out), target_is_directory=True)
    os.replace(tmp, link)


def _prune_runs(runs: Path, keep: Path) -> None:
    """Remove finished run folders older than the current one and KEEP_PREVIOUS_RUNS before it.
    Temporary folders (.tmp-*) of exports still running elsewhere are left alone."""
    finished = sorted((d for d in runs.iterdir() if d.is_dir() and not d.name.startswith(".") and d != keep),
                      key=lambda d: d.stat().st_mtime, reverse=True)
    for old in finished[KEEP_PREVIOUS_RUNS:]:
        shutil.rmtree(old, ignore_errors=True)


def read_current_manifest(out_dir: str | Path) -> tuple[Path, dict]:
    """(run folder, manifest) that <out>/current points at, resolved once."""
    run_dir = (Path(out_dir) / CURRENT_LINK).resolve(strict=True)
    return run_dir, json.loads((run_dir / MANIFEST_FILE).read_text())
