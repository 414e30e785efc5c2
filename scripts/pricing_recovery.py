"""Elasticity recovery over several simulated datasets: seeds in, table out.

For each (seed, dirty rate) the simulator writes a raw dataset, dbt builds only the models
ml_price_recommendations needs (its own warehouse, target/ and logs/, one thread, 3GB), and the
category rows of ml_price_elasticity are compared with the planted values in _truth.json
(ecom_growth.pricing.elasticity.elasticity_recovery). Prints one row per dataset and the pooled
coverage with a Clopper-Pearson interval; --panels also keeps each build's weekly demand panel as
Parquet (to refit the estimator offline without dbt).

    python scripts/pricing_recovery.py --seeds 1 2 3 4 --customers 50000 --dirty-rates 0 0.02
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import polars as pl

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "python"))

from ecom_growth.pricing.elasticity import elasticity_recovery, pooled_recovery  # noqa: E402


def build(work: Path, customers: int, seed: int, dirty_rate: float, select: str) -> Path:
    """Raw data and a dbt run of ``+select`` in ``work`` (skipped if its warehouse exists)."""
    raw, db = work / "raw", work / "warehouse.duckdb"
    if db.exists():
        return db
    env = {**os.environ, "PYTHONPATH": str(REPO / "python"), "ECOM_GROWTH_RAW_PATH": str(raw),
           "ECOM_GROWTH_DB": str(db), "ECOM_GROWTH_THREADS": "1", "ECOM_GROWTH_MEMORY_LIMIT": "3GB",
           "DBT_TARGET_PATH": str(work / "target"), "DBT_LOG_PATH": str(work / "logs"),
           "DBT_PROFILES_DIR": str(REPO), "OPENBLAS_NUM_THREADS": "1", "DBT_SEND_ANONYMOUS_USAGE_STATS": "false"}
    subprocess.run([sys.executable, "-m", "ecom_growth", "-q", "generate", "--customers", str(customers),
                    "--seed", str(seed), "--dirty-rate", str(dirty_rate), "--out", str(raw)], check=True, env=env)
    dbt = Path(sys.executable).with_name("dbt")
    done = subprocess.run([str(dbt), "run", "-s", f"+{select}", "--project-dir", str(REPO)], env=env, cwd=REPO,
                          capture_output=True, text=True)
    if done.returncode != 0:
        db.unlink(missing_ok=True)
        raise RuntimeError(f"dbt run failed in {work}:\n{done.stdout[-3000:]}")
    return db


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", required=True)
    parser.add_argument("--customers", type=int, default=50000)
    parser.add_argument("--dirty-rates", type=float, nargs="+", default=[0.0])
    parser.add_argument("--work", type=Path, default=REPO / "build" / "pricing_recovery")
    parser.add_argument("--select", default="ml_price_elasticity", help="dbt model whose upstream is built")
    parser.add_argument("--panels", action="store_true", help="keep fct_product_weekly_demand as panel.parquet")
    parser.add_argument("--level", type=float, default=0.95, help="confidence of the coverage intervals")
    parser.add_argument("--out", type=Path, help="write the per-category rows here (Parquet)")
    args = parser.parse_args()

    frames = []
    for seed in args.seeds:
        for dirty in args.dirty_rates:
            name = f"c{args.customers}_s{seed}_d{dirty:g}"
            work = args.work / name
            started = time.perf_counter()
            db = build(work, args.customers, seed, dirty, args.select)
            with duckdb.connect(str(db), read_only=True) as con:
                fitted = con.sql("select * from ml.ml_price_elasticity where level = 'category'").pl()
                if args.panels and not (work / "panel.parquet").exists():
                    con.sql("select * from marts.fct_product_weekly_demand").pl().write_parquet(work / "panel.parquet")
            planted = json.loads((work / "raw" / "_truth.json").read_text())["price_elasticity"]["by_category"]
            rows = elasticity_recovery(fitted, planted).with_columns(dataset=pl.lit(name))
            frames.append(rows)
            print(f"{name}: built/read in {time.perf_counter() - started:.0f}s", file=sys.stderr, flush=True)
    table = pl.concat(frames)
    if args.out:
        table.write_parquet(args.out)
    per_dataset = pooled_recovery(table, by="dataset", confidence_level=args.level)
    with pl.Config(tbl_rows=100, tbl_cols=20, tbl_width_chars=220, float_precision=3):
        print(per_dataset)
        print(pooled_recovery(table, by="category", confidence_level=args.level))
        print(pooled_recovery(table.with_columns(dataset=pl.lit("pooled")), by="dataset", confidence_level=args.level))


if __name__ == "__main__":
    main()
