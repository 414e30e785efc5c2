"""Point-in-time check of int_churn_snapshots: deleting every row dated at or after a snapshot
date does not change that snapshot's features.

1. simulate a small shop (the project simulator; churn_test_data's stand-in while its CLI is
   missing) and pick the snapshot date s the full build will label (as_of and the churn vars
   are passed explicitly, so the grid is known); move the rows of the two days from s onto
   s 00:00 exactly and those of the day before onto the last microsecond before s, so the
   boundary is crowded;
2. `dbt run -s +int_churn_snapshots` on it; s must be one of its labelled snapshots;
3. truncate the raw data to rows strictly before s and build it too (side by side with 2.) with
   as_of = the last instant before s, which makes s the truncated build's scoring snapshot;
4. the full build's labelled snapshot s and the truncated build's scoring snapshot must hold
   the same customers with the same features (float tolerance).

Self-contained: own data, warehouses, target and log dirs under tmp_path, own env vars (the
integration suite's ECOM_GROWTH_* point at another build and are overridden here).
"""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import date, timedelta
from pathlib import Path

import duckdb
import polars as pl
from churn_test_data import (
    last_instant_before,
    midnight,
    snap_to_boundary,
    truncate_raw,
)

PROJECT_DIR = Path(__file__).resolve().parents[2]
CUSTOMERS = 3000
SEED = 11
KEY_COLUMNS = ("customer_id", "snapshot_date", "is_scoring_snapshot", "is_churned")
FLOAT_TOLERANCE = 1e-9
# Explicit, so the test does not depend on dbt_project.yml and knows the grid in advance:
# labelled snapshots at date(as_of) - 90 - 30 * k days, k = 0, 1, 2 (see int_churn_snapshot_dates).
CHURN_VARS = {"churn_lookback_days": 365, "churn_window_days": 90,
              "churn_snapshot_interval_days": 30, "churn_snapshot_count": 3}


def _generate_raw(out: Path) -> str:
    subprocess.run(
        [sys.executable, "-m", "ecom_growth", "generate", "--customers", str(CUSTOMERS),
         "--seed", str(SEED), "--out", str(out)],
        check=True, cwd=PROJECT_DIR, capture_output=True, text=True)
    return "simulator"


def _start_dbt_build(work: Path, name: str, raw: Path, as_of: str) -> tuple[subprocess.Popen, Path]:
    """Start `dbt run -s +int_churn_snapshots +int_churn_bgnbd_summary` into work/<name>.duckdb (own target, logs, env).

    `run`, not `build`: the models are what this test checks; their data and unit tests run in
    the suite's full `dbt build`, and skipping them here keeps the test well under two minutes.
    """
    db = work / f"{name}.duckdb"
    env = {
        **os.environ,
        "ECOM_GROWTH_RAW_PATH": str(raw),
        "ECOM_GROWTH_DB": str(db),
        "DBT_TARGET_PATH": str(work / f"target_{name}"),
        "DBT_LOG_PATH": str(work / f"logs_{name}"),
        "ECOM_GROWTH_TARGET": "local",
    }
    variables = ", ".join([f"as_of: '{as_of}'"] + [f"{k}: {v}" for k, v in CHURN_VARS.items()])
    command = [sys.executable, "-m", "dbt.cli.main", "run", "--select", "+int_churn_snapshots",
               "+int_churn_bgnbd_summary",
               "--no-use-colors", "--vars", "{" + variables + "}"]
    process = subprocess.Popen(command, cwd=PROJECT_DIR, env=env, stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True)
    return process, db


def _wait(process: subprocess.Popen, name: str) -> None:
    output, _ = process.communicate(timeout=600)
    assert process.returncode == 0, f"dbt run ({name}) failed:\n{output[-6000:]}"


def _read(db: Path, query: str, *params) -> pl.DataFrame:
    with duckdb.connect(str(db), read_only=True) as con:
        return con.sql(query, params=list(params)).pl()


def _mismatches(full: pl.DataFrame, truncated: pl.DataFrame, features: list[str]) -> dict[str, pl.DataFrame]:
    joined = full.join(truncated, on="customer_id", how="full", suffix="_truncated", coalesce=True)
    problems: dict[str, pl.DataFrame] = {}
    for column in features:
        a, b = pl.col(column), pl.col(f"{column}_truncated")
        if full.schema[column].is_numeric():
            a, b = a.cast(pl.Float64), b.cast(pl.Float64)
            differs = (a - b).abs() > FLOAT_TOLERANCE * (1 + a.abs())
        else:
            differs = a != b
        differs = differs | (a.is_null() != b.is_null())
        bad = joined.filter(differs.fill_null(False)).select("customer_id", column, f"{column}_truncated")
        if bad.height:
            problems[column] = bad.head(5)
    return problems


def test_deleting_data_after_a_snapshot_does_not_change_its_features(tmp_path: Path):
    raw = tmp_path / "raw"
    source = _generate_raw(raw)
    with duckdb.connect() as con:
        last_order_at = con.sql(f"select max(ordered_at) from read_parquet('{raw / 'orders.parquet'}')").fetchall()[0][0]
    # the middle labelled snapshot: plenty of history before it and of orders after it
    snapshot_date: date = last_order_at.date() - timedelta(
        days=CHURN_VARS["churn_window_days"] + CHURN_VARS["churn_snapshot_interval_days"])
    boundary = midnight(snapshot_date)
    moved = snap_to_boundary(raw, boundary)
    assert min(moved.values()) > 0, f"no {source} rows near {boundary} to move onto it: {moved}"

    kept = truncate_raw(raw, tmp_path / "raw_truncated", before=boundary)
    assert kept["orders"] > 0
    # The two builds are independent: run them side by side (dbt's parse is single-threaded).
    full_build, full_db = _start_dbt_build(tmp_path, "full", raw, as_of=last_order_at.isoformat(sep=" "))
    truncated_build, truncated_db = _start_dbt_build(tmp_path, "truncated", tmp_path / "raw_truncated",
                                                     as_of=last_instant_before(snapshot_date))
    _wait(full_build, "full")
    _wait(truncated_build, "truncated")

    labelled = _read(full_db, "select snapshot_date from intermediate.int_churn_snapshot_dates "
                              "where not is_scoring_snapshot")["snapshot_date"].to_list()
    assert snapshot_date in labelled, f"{snapshot_date} is not a labelled snapshot of the full build: {labelled}"

    full = _read(full_db, "select * from intermediate.int_churn_snapshots where snapshot_date = ? "
                          "order by customer_id", snapshot_date)
    truncated = _read(truncated_db, "select * from intermediate.int_churn_snapshots "
                                    "where is_scoring_snapshot order by customer_id")

    assert truncated["snapshot_date"].unique().to_list() == [snapshot_date], (
        "the truncated build's scoring snapshot should be the full build's labelled snapshot date")
    assert not full["is_scoring_snapshot"].any() and full["is_churned"].null_count() == 0
    assert full.height > 200, f"population at {snapshot_date} too small to mean anything: {full.height}"
    assert set(full.columns) == set(truncated.columns)

    only_full = set(full["customer_id"]) - set(truncated["customer_id"])
    only_truncated = set(truncated["customer_id"]) - set(full["customer_id"])
    assert not only_full and not only_truncated, (
        f"population differs at {snapshot_date}: only in full build {sorted(only_full)[:5]}, "
        f"only in truncated build {sorted(only_truncated)[:5]}")

    features = [c for c in full.columns if c not in KEY_COLUMNS]
    problems = _mismatches(full, truncated, features)
    assert not problems, f"features of snapshot {snapshot_date} change when later data is deleted ({source} data):\n" + \
        "\n".join(f"{column}:\n{frame}" for column, frame in problems.items())

    # the BG/NBD baseline's inputs at s are point-in-time too
    summary_query = ("select frequency, recency_days, t_days, n_customers from intermediate.int_churn_bgnbd_summary "
                     "where snapshot_date = ? order by all")
    full_summary = _read(full_db, summary_query, snapshot_date)
    truncated_summary = _read(truncated_db, summary_query, snapshot_date)
    assert full_summary.height > 50
    assert full_summary.equals(truncated_summary), "int_churn_bgnbd_summary at s changes when later data is deleted"
