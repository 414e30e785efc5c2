"""Same input, same output: rebuilding the ML tables gives identical rows.

Rebuilds the Python models on a copy of the test warehouse (their inputs unchanged) and
compares every row with the first build, both ways.
"""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import duckdb

PROJECT = Path(__file__).resolve().parents[2]
REBUILT = {
    "ml_recommendations": "customer_id, rank",
    "ml_churn_scores": "customer_id",
    "ml_clv_predictions": "customer_id",
    "ml_customer_segments": "customer_id",
}


def test_ml_tables_are_identical_after_a_rebuild(tmp_path):
    original = Path(os.environ["ECOM_GROWTH_DB"])
    copy = tmp_path / "rebuild.duckdb"
    shutil.copy(original, copy)
    env = {**os.environ, "ECOM_GROWTH_DB": str(copy), "DBT_TARGET_PATH": str(tmp_path / "target"),
           "DBT_LOG_PATH": str(tmp_path / "logs")}
    dbt = str(Path(sys.executable).with_name("dbt"))
    result = subprocess.run([dbt, "run", "-s", *REBUILT], cwd=PROJECT, env=env, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout[-3000:]

    with duckdb.connect(str(copy)) as con:
        con.execute(f"attach '{original}' as first_build (read_only)")
        for table in REBUILT:
            n_rows = con.execute(f"select count(*) from ml.{table}").fetchone()[0]
            differing = con.execute(
                f"""
                select count(*) from (
                    (select * from ml.{table} except all select * from first_build.ml.{table})
                    union all
                    (select * from first_build.ml.{table} except all select * from ml.{table})
                )
                """
            ).fetchone()[0]
            assert n_rows > 0, table
            assert differing == 0, f"{table}: {differing} rows differ between two builds"
