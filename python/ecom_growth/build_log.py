"""Is the warehouse a complete build? The reader's side of ops.build_runs.

dbt records every table-changing invocation in ops.build_runs (macros/utils/build_log.sql):
'running' when it starts, 'complete' or 'failed' when it ends. A build killed mid-way (kill -9,
out of memory, a lost machine) stays 'running' and leaves new tables next to old ones; nothing
may present such a warehouse. `summary`, `export` and (later) `report` call
``require_complete_build`` first and refuse with a message naming the build.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import duckdb

BUILD_LOG = ("ops", "build_runs")

DEMO_SALT_WARNING = (
    "WARNING: ECOM_GROWTH_PII_SALT was not set for this build: email pseudonyms use the PUBLIC demo salt.\n"
    "Anyone with a list of emails can recompute them, so email_hash is reversible.\n"
    "Set a secret and rebuild: export ECOM_GROWTH_PII_SALT=\"$(openssl rand -hex 32)\" "
    "(keep it stable across builds; README 'Your own data')."
)


class IncompleteBuildError(ValueError):
    """The warehouse's last build did not complete (or was never recorded)."""


@dataclass(frozen=True)
class BuildRecord:
    build_id: str
    command: str
    selection: str | None
    started_at: datetime
    finished_at: datetime | None
    status: str
    failed_nodes: int | None
    pii_salt_is_demo: bool


def last_build(con: duckdb.DuckDBPyConnection) -> BuildRecord | None:
    """The most recently started build, or None when the warehouse has no build log."""
    schema, table = BUILD_LOG
    exists = con.execute(
        "select count(*) from information_schema.tables where table_schema = ? and table_name = ?", [schema, table]
    ).fetchone()[0]
    if not exists:
        return None
    row = con.execute(
        f"""select build_id, command, selection, started_at, finished_at, status, failed_nodes, pii_salt_is_demo
        from {schema}.{table} order by started_at desc, build_id desc limit 1"""
    ).fetchone()
    return BuildRecord(*row) if row else None


def require_complete_build(con: duckdb.DuckDBPyConnection) -> BuildRecord:
    """The last build, if it completed; otherwise IncompleteBuildError with what to do."""
    record = last_build(con)
    if record is None:
        raise IncompleteBuildError(
            "this warehouse has no build record (ops.build_runs): it was not built by this project's "
            "`dbt build`, or predates the build log. Run `dbt build` first."
        )
    if record.status != "complete":
        what = (
            "is still running or was killed before it finished" if record.status == "running"
            else f"failed ({record.failed_nodes} node(s) errored, failed or were skipped)"
        )
        raise IncompleteBuildError(
            f"the last build ({record.command} {record.build_id}, started {record.started_at:%Y-%m-%d %H:%M:%S} UTC) "
            f"{what}: the warehouse may mix tables of two builds. Re-run `dbt build` until it completes."
        )
    return record


def build_notices(record: BuildRecord) -> list[str]:
    """Warnings a presenter of this build must show (today: the demo PII salt)."""
    return [DEMO_SALT_WARNING] if record.pii_salt_is_demo else []


def open_complete_warehouse(db_path) -> tuple[duckdb.DuckDBPyConnection, BuildRecord]:
    """Read-only connection to a warehouse whose last build completed (else IncompleteBuildError)."""
    con = duckdb.connect(str(db_path), read_only=True)
    try:
        return con, require_complete_build(con)
    except BaseException:
        con.close()
        raise
