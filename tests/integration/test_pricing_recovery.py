"""Elasticity intervals calibrated over several simulated shops, not one (issue 13).

One dataset has 12 categories: even exact 95% intervals leave 11/12 or more inside on only 88% of
datasets, and a modest bias hides in 12 draws. This test builds three more small shops (20,000
customers, seeds used nowhere else: not the CI dataset, not the seeds the estimator was chosen or
confirmed on) with only ml_price_elasticity's upstream models (`dbt run`, about 30 s each on 2
cores), pools their 36 category estimates with the CI dataset's 12, and checks the pooled intervals
against the planted values: the misses, the mean z and the spread of z are each what calibrated
95% intervals give. scripts/pricing_recovery.py runs the same comparison on more and larger shops.
"""

from __future__ import annotations

import json

import duckdb
import polars as pl
import pytest
from hardening_support import dbt_env, generate, run_dbt
from scipy.stats import binom, chi2

from ecom_growth.pricing.elasticity import elasticity_recovery, pooled_recovery

CUSTOMERS = 20000
SEEDS = (21, 22, 23)


@pytest.fixture(scope="module")
def small_shops(tmp_path_factory) -> pl.DataFrame:
    """elasticity_recovery rows of each small shop (dataset = seed)."""
    frames = []
    for seed in SEEDS:
        work = tmp_path_factory.mktemp(f"pricing_seed{seed}")
        raw = generate(work / "raw", CUSTOMERS, seed=seed, dirty_rate=0.0)
        db = work / "warehouse.duckdb"
        done = run_dbt(["run", "-s", "+ml_price_elasticity"], dbt_env(work, raw, db))
        assert done.returncode == 0, done.stdout[-3000:]
        with duckdb.connect(str(db), read_only=True) as con:
            fitted = con.sql("select * from ml.ml_price_elasticity where level = 'category'").pl()
        planted = json.loads((raw / "_truth.json").read_text())["price_elasticity"]["by_category"]
        frames.append(elasticity_recovery(fitted, planted).with_columns(dataset=pl.lit(f"seed {seed}")))
    return pl.concat(frames)


def test_pooled_elasticity_intervals_are_calibrated(small_shops, warehouse, truth):
    ci_fit = warehouse.sql("select * from ml.ml_price_elasticity where level = 'category'").pl()
    ci_rows = elasticity_recovery(ci_fit, truth["price_elasticity"]["by_category"]).with_columns(dataset=pl.lit("CI"))
    rows = pl.concat([small_shops, ci_rows])
    with pl.Config(tbl_rows=20, tbl_cols=12, tbl_width_chars=200, float_precision=3):
        print(pooled_recovery(rows, by="dataset", confidence_level=0.95))
        pooled = pooled_recovery(rows.with_columns(dataset=pl.lit("pooled")), by="dataset", confidence_level=0.95)
        print(pooled)
    n, inside = int(pooled["n"][0]), int(pooled["inside"][0])
    # every planted category estimated (a missing or degraded one counts as a miss below as well)
    assert rows["elasticity"].null_count() == 0
    # misses: P(this many or more) for calibrated 95% intervals must not be below 1%
    assert binom.sf(n - inside - 1, n, 0.05) > 0.01, f"{n - inside} of {n} planted values outside"
    # bias: mean z within 3 of its standard errors (1 / sqrt(n)) of 0
    z = rows["z"].to_numpy()
    assert abs(z.mean()) < 3.0 / n**0.5, f"mean z {z.mean():.2f}: the estimates are biased"
    # size of the errors: sum of z^2 ~ chi-square(n) for calibrated errors (upper tail 0.1%)
    assert float((z**2).sum()) < chi2.ppf(0.999, n)
