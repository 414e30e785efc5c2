"""The BI contract with older readers: DuckDB 1.x reads every export of the test warehouse.

Many BI tools embed DuckDB 1.x, which cannot open a DuckDB 2.x file. A throwaway virtualenv
with `duckdb<2` from PyPI (built once under build/duckdb1-venv/ and reused; skipped only when it
cannot be installed) reads every published Parquet export (tables and audiences, as listed in the
run's manifest) and the `export --duckdb-compat` copy, and must count exactly the warehouse's rows.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import venv
from pathlib import Path

import duckdb
import pytest

from ecom_growth.duckdb_compat import write_compat_copy
from ecom_growth.exports import publish_exports, read_current_manifest

REPO = Path(__file__).resolve().parents[2]
OLD_VENV = REPO / "build" / "duckdb1-venv"

READ_PARQUET = """
import duckdb, json, sys
con = duckdb.connect()
files = json.loads(sys.argv[1])
print(json.dumps({"version": duckdb.__version__,
                  "rows": {f: con.execute("select count(*) from read_parquet(?)", [f]).fetchall()[0][0] for f in files}}))
"""

READ_DATABASE = """
import duckdb, json, sys
con = duckdb.connect(sys.argv[1], read_only=True)
tables = con.execute("select table_schema, table_name from information_schema.tables").fetchall()
print(json.dumps({f"{s}.{t}": con.execute(f'select count(*) from "{s}"."{t}"').fetchall()[0][0] for s, t in tables}))
"""


def _old_duckdb_python() -> Path:
    python = OLD_VENV / "bin" / "python"
    check = [str(python), "-c", "import duckdb, sys; sys.exit(0 if duckdb.__version__.startswith('1.') else 1)"]
    if python.exists() and subprocess.run(check, capture_output=True).returncode == 0:
        return python
    venv.EnvBuilder(clear=True, with_pip=True).create(OLD_VENV)
    install = subprocess.run([str(python), "-m", "pip", "install", "-q", "duckdb<2"], capture_output=True, text=True,
                             timeout=600)
    if install.returncode != 0 or subprocess.run(check, capture_output=True).returncode != 0:
        pytest.skip(f"could not install duckdb<2 into a throwaway venv ({OLD_VENV}): {install.stderr[-500:]}")
    return python


@pytest.fixture(scope="session")
def old_duckdb() -> Path:
    return _old_duckdb_python()


def _run(python: Path, script: str, *args: str) -> dict:
    result = subprocess.run([str(python), "-c", script, *args], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    return json.loads(result.stdout)


def _warehouse_rows(db: str, tables: list[tuple[str, str]]) -> dict[str, int]:
    with duckdb.connect(db, read_only=True) as con:
        return {f"{s}.{t}": con.execute(f'select count(*) from "{s}"."{t}"').fetchall()[0][0] for s, t in tables}


def test_duckdb_1x_cannot_open_the_warehouse_itself(old_duckdb):
    # Why the compatible exports exist (if this starts passing, the copy is no longer needed).
    result = subprocess.run([str(old_duckdb), "-c", "import duckdb, sys; duckdb.connect(sys.argv[1], read_only=True)",
                             os.environ["ECOM_GROWTH_DB"]], capture_output=True, text=True)
    assert result.returncode != 0


def test_duckdb_1x_reads_every_published_parquet_export_with_the_warehouse_row_counts(old_duckdb, tmp_path):
    db = os.environ["ECOM_GROWTH_DB"]
    publish_exports(db, tmp_path / "exports")
    run_dir, manifest = read_current_manifest(tmp_path / "exports")
    files = {str(run_dir / f["path"]): f["rows"] for f in manifest["files"]}
    assert len(files) >= 20 and any("/audiences/" in f for f in files)
    read = _run(old_duckdb, READ_PARQUET, json.dumps(sorted(files)))
    assert read["version"].startswith("1.")
    assert read["rows"] == files, "DuckDB 1.x counts what the manifest says"
    tables = [(f["schema"], f["table"]) for f in manifest["files"] if not f["table"].startswith("audience:")]
    assert {f"{f['schema']}.{f['table']}": f["rows"] for f in manifest["files"]
            if not f["table"].startswith("audience:")} == _warehouse_rows(db, tables)


def test_duckdb_1x_opens_the_compat_copy_with_every_table_and_row(old_duckdb, tmp_path):
    db = os.environ["ECOM_GROWTH_DB"]
    copied = write_compat_copy(db, tmp_path / "compat.duckdb", "v1.0.0")
    read = _run(old_duckdb, READ_DATABASE, str(tmp_path / "compat.duckdb"))
    assert read == _warehouse_rows(db, [(c.schema, c.table) for c in copied])
    assert len(read) >= 20


def test_export_cli_writes_the_compat_copy(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "ecom_growth", "-q", "export", "--db", os.environ["ECOM_GROWTH_DB"],
         "--out", str(tmp_path), "--duckdb-compat"],
        capture_output=True, text=True, env={**os.environ, "PYTHONPATH": str(REPO / "python")},
    )
    assert result.returncode == 0, result.stderr
    assert "ecom_growth_duckdb1.duckdb" in result.stdout
    with duckdb.connect(str(next(tmp_path.rglob("ecom_growth_duckdb1.duckdb"))), read_only=True) as con:
        assert con.execute("select count(*) from marts.fct_orders").fetchall()[0][0] > 0
