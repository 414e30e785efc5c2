"""Helpers for the hardening tests that run their own small dbt builds (issue 10).

Each build gets its own raw folder, warehouse, target/ and logs/ under a pytest tmp dir, so these
tests never touch the warehouse that scripts/test.sh built (the planted-truth tests read that one).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import duckdb

REPO = Path(__file__).resolve().parents[2]
COMPARED_SCHEMAS = ("intermediate", "marts", "ml", "serving")


def dbt_env(work: Path, raw: Path, db: Path, *, tz: str = "UTC", salt: str | None = None) -> dict[str, str]:
    """Environment of one isolated build: its own raw data, warehouse, target/ and logs/."""
    env = {k: v for k, v in os.environ.items() if k != "ECOM_GROWTH_PII_SALT"}
    env.update(
        ECOM_GROWTH_RAW_PATH=str(raw), ECOM_GROWTH_DB=str(db), ECOM_GROWTH_THREADS="2",
        ECOM_GROWTH_MEMORY_LIMIT="2GB", DBT_TARGET_PATH=str(work / "target"), DBT_LOG_PATH=str(work / "logs"),
        DBT_PROFILES_DIR=str(REPO), TZ=tz, PYTHONPATH=os.pathsep.join(filter(None, [str(REPO / "python"), env.get("PYTHONPATH")])),
        OPENBLAS_NUM_THREADS="1", MKL_NUM_THREADS="1", DBT_SEND_ANONYMOUS_USAGE_STATS="false",
    )
    if salt is not None:
        env["ECOM_GROWTH_PII_SALT"] = salt
    return env


def dbt_command() -> list[str]:
    exe = shutil.which("dbt") or str(Path(sys.executable).with_name("dbt"))
    return [exe]


def run_dbt(args: list[str], env: dict[str, str], timeout: int = 600) -> subprocess.CompletedProcess:
    return subprocess.run(
        [*dbt_command(), *args, "--project-dir", str(REPO)], env=env, cwd=REPO,
        capture_output=True, text=True, timeout=timeout,
    )


def generate(out: Path, customers: int, seed: int, dirty_rate: float) -> Path:
    subprocess.run(
        [sys.executable, "-m", "ecom_growth", "-q", "generate", "--customers", str(customers), "--seed", str(seed),
         "--dirty-rate", str(dirty_rate), "--out", str(out)],
        check=True, capture_output=True, env={**os.environ, "PYTHONPATH": str(REPO / "python")},
    )
    return out


# Wall-clock measurements stored beside fitted models (how long a fit took) are metadata about
# the run, not results: they are left out of the comparison, and nothing else is.
VOLATILE_COLUMNS = frozenset({"fit_seconds"})


def table_digests(db: Path, schemas: tuple[str, ...] = COMPARED_SCHEMAS, float_digits: int | None = None) -> dict[str, tuple[int, str]]:
    """{schema.table: (rows, md5 of every row as text, in sorted order)} for every base table.

    Rows are rendered by DuckDB (doubles as their shortest round-trip text, so one differing bit
    changes the hash) and sorted, so the hash does not depend on physical row order.
    float_digits: render doubles with that many significant digits instead (a comparison of
    values, not of bits).
    """
    with duckdb.connect(str(db), read_only=True) as con:
        tables = con.execute(
            "select table_schema, table_name from information_schema.tables where table_type = 'BASE TABLE' "
            f"and table_schema in ({', '.join('?' for _ in schemas)}) order by 1, 2", list(schemas),
        ).fetchall()
        digests = {}
        for s, t in tables:
            columns = [
                (c, kind) for c, kind in con.execute(
                    "select column_name, data_type from information_schema.columns where table_schema = ? "
                    "and table_name = ? order by ordinal_position", [s, t]).fetchall()
                if c not in VOLATILE_COLUMNS
            ]
            row = " || '|' || ".join(
                f"""coalesce(printf('%.{float_digits}g', "{c}"), 'null')"""
                if float_digits is not None and kind in ("DOUBLE", "FLOAT")
                else f"""coalesce(cast("{c}" as varchar), 'null')""" for c, kind in columns)
            digests[f"{s}.{t}"] = con.execute(
                f'select count(*), md5(coalesce(string_agg(r, chr(10) order by r), \'\')) '
                f'from (select {row} as r from "{s}"."{t}" as t)'
            ).fetchone()
        return digests


def differing(a: dict[str, tuple[int, str]], b: dict[str, tuple[int, str]]) -> list[str]:
    return sorted(name for name in set(a) | set(b) if a.get(name) != b.get(name))
