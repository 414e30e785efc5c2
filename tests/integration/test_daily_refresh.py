"""Train less often than you score (issue 16): a build on data ending day D-1, the raw data
regenerated with one more day (the simulator is prefix-stable: a day is appended), and a
rebuild with ml_retrain_after_days keeps every stored fit (same fit_id and fitted_at) while
scoring the new day, new customers included; without the var the same data is refitted; with
the var but a changed setting (an ALS or churn var) the stored fits are not kept.
Runs its own small builds (hardening_support), not the warehouse of scripts/test.sh."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest
from hardening_support import REPO, dbt_env, run_dbt

CUSTOMERS = 4000
ML = ["-s", "+ml_recommendations", "+ml_similar_products", "+ml_churn_scores", "+ml_churn_model_evaluation",
      "+ml_churn_calibration"]
MODEL_TABLES = ("ml_als_item_factors", "ml_recommender_evaluation", "ml_churn_model", "ml_churn_model_evaluation",
                "ml_churn_calibration")
FITTED_TABLES = ("ml_als_item_factors", "ml_recommender_evaluation", "ml_churn_model")  # carry settings_digest


def generate(out: Path, end: str) -> Path:
    subprocess.run([sys.executable, "-m", "ecom_growth", "-q", "generate", "--customers", str(CUSTOMERS),
                    "--seed", "11", "--end", end, "--out", str(out)],
                   check=True, capture_output=True, env={**os.environ, "PYTHONPATH": str(REPO / "python")})
    return out


def state(db: Path) -> dict:
    with duckdb.connect(str(db), read_only=True) as con:
        fits = {t: con.execute(f"select distinct fit_id, fitted_at, status from ml.{t}").fetchall() for t in MODEL_TABLES}
        digests = {t: con.execute(f"select distinct settings_digest from ml.{t}").fetchall() for t in FITTED_TABLES}
        return {
            "fits": fits,
            "digests": digests,
            "as_of": con.execute("select as_of from intermediate.int_as_of").fetchone()[0],
            "user_fit": con.execute("select distinct fit_id from ml.ml_als_user_factors").fetchall(),
            "users": {r[0] for r in con.execute("select customer_id from ml.ml_als_user_factors").fetchall()},
            "als_recommended": {r[0] for r in con.execute(
                "select distinct customer_id from ml.ml_recommendations where source = 'als'").fetchall()},
            "scored": con.execute("select as_of, count(*), count(churn_probability) from ml.ml_churn_scores "
                                  "group by as_of").fetchall(),
            "probabilities": dict(con.execute("select customer_id, churn_probability from ml.ml_churn_scores").fetchall()),
        }


def build(work: Path, raw: Path, db: Path, *args: str) -> dict:
    result = run_dbt(["run", *ML, *args], dbt_env(work, raw, db))
    assert result.returncode == 0, result.stdout[-4000:]
    return state(db)


@pytest.fixture(scope="module")
def builds(tmp_path_factory) -> dict[str, dict]:
    work = tmp_path_factory.mktemp("daily_refresh")
    before, after = generate(work / "raw_before", "2026-06-29"), generate(work / "raw_after", "2026-06-30")
    db = work / "warehouse.duckdb"
    seeded = run_dbt(["seed"], dbt_env(work, before, db))
    assert seeded.returncode == 0, seeded.stdout[-4000:]
    return {
        "day_one": build(work, before, db),
        "day_two_kept": build(work, after, db, "--vars", "{ml_retrain_after_days: 7}"),
        "day_two_refit": build(work, after, db),
        "day_two_changed_settings": build(work, after, db, "--vars",
                                          "{ml_retrain_after_days: 7, als_iterations: 9, churn_random_state: 8}"),
    }


def test_the_first_build_fits_every_model_once_at_its_as_of(builds):
    first = builds["day_one"]
    for table, fits in first["fits"].items():
        assert len({(f, at) for f, at, _ in fits}) == 1, table
        assert fits[0][1] == first["as_of"], table
        assert {s for *_, s in fits} <= {"ok"} or table != "ml_als_item_factors"
    assert first["user_fit"] == [(first["fits"]["ml_als_item_factors"][0][0],)]


def test_a_daily_build_keeps_every_stored_fit(builds):
    first, kept = builds["day_one"], builds["day_two_kept"]
    assert kept["as_of"] > first["as_of"]
    for table in MODEL_TABLES:
        assert kept["fits"][table] == first["fits"][table], table
    assert kept["user_fit"] == first["user_fit"]


def test_a_daily_build_scores_the_new_day_and_folds_in_new_customers(builds):
    first, kept = builds["day_one"], builds["day_two_kept"]
    new_users = kept["users"] - first["users"]
    assert new_users, "the appended day brought no customer with interactions"
    assert new_users <= kept["als_recommended"]
    (scoring_date, rows, probabilities), = kept["scored"]
    assert scoring_date > first["scored"][0][0] and rows == probabilities > 0
    # the stored estimator sees each customer one day later (recency moved): scores move too
    common = kept["probabilities"].keys() & first["probabilities"].keys()
    assert any(kept["probabilities"][c] != first["probabilities"][c] for c in common)


def test_without_the_var_the_same_data_is_refitted(builds):
    kept, refit = builds["day_two_kept"], builds["day_two_refit"]
    for table in MODEL_TABLES:
        assert {at for _, at, _ in refit["fits"][table]} == {refit["as_of"]}, table
    assert refit["fits"]["ml_als_item_factors"][0][0] != kept["fits"]["ml_als_item_factors"][0][0]


def test_a_changed_setting_refits_even_with_the_var(builds):
    refit, changed = builds["day_two_refit"], builds["day_two_changed_settings"]
    for table in FITTED_TABLES:
        assert len(refit["digests"][table]) == len(changed["digests"][table]) == 1, table
        assert changed["digests"][table] != refit["digests"][table], table
    # same as_of, so fitted_at is equal: the new fit shows in fit_id
    for table in ("ml_als_item_factors", "ml_churn_model"):
        assert changed["fits"][table] != refit["fits"][table], table
    assert changed["user_fit"] == [(changed["fits"]["ml_als_item_factors"][0][0],)]
