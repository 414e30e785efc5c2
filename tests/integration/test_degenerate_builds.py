"""A shop whose data cannot identify the models still builds to the end (issue 9, part 4).

Two tiny crafted shops (tests/fixtures/degenerate_data.py), each built with `dbt build` into
its own temporary warehouse and target path:

* constant_value_without_dropout: everybody buys every ~2 weeks until the end, every order
  costs 25.00 -> BG/NBD (nobody drops out) and Gamma-Gamma (no spend variation) degraded;
  one churn class (nobody churns).
* single_product_one_time_buyers: one product, everybody bought it once -> BG/NBD and
  Gamma-Gamma degraded (no repeat purchase); one churn class; a one-item catalogue.

Required: exit code 0, every ML and serving table built, degraded statuses with the expected
reasons on the CLV tables and everything that reads them, the warn-level model_status_ok test
warning on each degraded table, and the build summary saying DEGRADED. The churn and
recommender tables are only required to exist (and to carry a valid status if they have one).
Each build takes ~30-50 s on 300 customers.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from ecom_growth.summary import build_summary

PROJECT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(PROJECT / "tests" / "fixtures"))
import degenerate_data as shops  # noqa: E402

CLV_TABLES = ("ml_clv_model_parameters", "ml_clv_predictions", "ml_clv_evaluation")
SERVING_ON_CLV = ("fct_customer_clv", "fct_cohort_clv", "fct_next_best_actions")
SEGMENT_TABLES = ("ml_customer_segments", "ml_customer_cluster_profiles")
# Tables their own engineers make degrade; here they only have to be built.
OTHER_ML_TABLES = ("ml_churn_scores", "ml_churn_model_evaluation", "ml_recommendations", "ml_similar_products")

SHOPS = {
    "constant_value_without_dropout": {
        "tables": shops.constant_value_without_dropout,
        "bgnbd": "nobody appears to drop out",
        "gamma_gamma": "order values do not vary within customers",
    },
    "single_product_one_time_buyers": {
        "tables": shops.single_product_one_time_buyers,
        "bgnbd": "no customer made a repeat purchase",
        "gamma_gamma": "no repeat buyer with a positive repeat order value",
    },
}


@pytest.fixture(scope="module", params=sorted(SHOPS))
def built(request, tmp_path_factory) -> dict:
    name = request.param
    work = tmp_path_factory.mktemp(name)
    raw = shops.write_raw(SHOPS[name]["tables"](), work / "raw")
    env = {
        **os.environ,
        "ECOM_GROWTH_RAW_PATH": str(raw),
        "ECOM_GROWTH_DB": str(work / "warehouse.duckdb"),
        "ECOM_GROWTH_THREADS": "1",
        "DBT_TARGET_PATH": str(work / "target"),
        "DBT_LOG_PATH": str(work / "logs"),
    }
    dbt = str(Path(sys.executable).with_name("dbt"))
    result = subprocess.run([dbt, "build"], cwd=PROJECT, env=env, capture_output=True, text=True)
    run_results = json.loads((work / "target" / "run_results.json").read_text())
    manifest = json.loads((work / "target" / "manifest.json").read_text())
    return {"name": name, "expected": SHOPS[name], "result": result, "db": work / "warehouse.duckdb",
            "run_results": run_results["results"], "manifest": manifest}


def _query(db: Path, sql: str) -> list[tuple]:
    with duckdb.connect(str(db), read_only=True) as con:
        return con.execute(sql).fetchall()


def test_the_build_finishes(built):
    failed = [r["unique_id"] for r in built["run_results"] if r["status"] in ("error", "fail", "skipped")]
    assert built["result"].returncode == 0, f"{built['name']}: failed or skipped {failed}\n{built['result'].stdout[-3000:]}"


def test_every_ml_and_serving_table_is_built(built):
    expected = {
        (node["schema"], node["name"])
        for node in built["manifest"]["nodes"].values()
        if node["resource_type"] == "model" and node["schema"] in ("ml", "serving")
    }
    assert {t for _, t in expected} >= {*CLV_TABLES, *SERVING_ON_CLV, *SEGMENT_TABLES, *OTHER_ML_TABLES}
    present = set(_query(built["db"], "select table_schema, table_name from information_schema.tables"))
    assert sorted(expected - present) == []


def test_clv_models_are_degraded_with_the_reason(built):
    rows = dict(_query(built["db"], "select distinct model, status || ': ' || status_reason from ml.ml_clv_model_parameters"))
    for model in ("bgnbd", "gamma_gamma"):
        assert rows[model].startswith(f"degraded: {built['expected'][model]}"), rows[model]
        assert "fell back to" in rows[model]


def test_predictions_and_evaluation_use_the_fallback(built):
    db = built["db"]
    statuses = _query(db, "select distinct status, status_reason from ml.ml_clv_predictions")
    assert len(statuses) == 1 and statuses[0][0] == "degraded"
    assert statuses[0][1].startswith(f"bgnbd: {built['expected']['bgnbd']}")
    assert f"; gamma_gamma: {built['expected']['gamma_gamma']}" in statuses[0][1]
    customers, with_prediction, alive = _query(
        db,
        """select (select count(*) from marts.dim_customers where completed_orders > 0),
                  count(*), min(p_alive) from ml.ml_clv_predictions where predicted_clv >= 0""",
    )[0]
    assert customers == with_prediction and alive == 1.0  # the fallback models no dropout
    if built["name"] == "constant_value_without_dropout":
        # Own order value (25.00) and a steady ~26 purchases a year.
        assert _query(db, "select distinct expected_average_order_value from ml.ml_clv_predictions") == [(25.0,)]
        assert 20 < _query(db, "select avg(expected_purchases_365d) from ml.ml_clv_predictions")[0][0] < 32
    else:
        assert _query(db, "select max(predicted_clv) from ml.ml_clv_predictions") == [(0.0,)]
    assert _query(db, "select distinct status from ml.ml_clv_evaluation") == [("degraded",)]


def test_segments_are_ok(built):
    for table in SEGMENT_TABLES:
        assert _query(built["db"], f"select distinct status from ml.{table}") == [("ok",)], table


def test_serving_tables_carry_the_degraded_status_and_one_action_per_customer(built):
    db = built["db"]
    for table in ("fct_customer_clv", "fct_cohort_clv"):
        assert _query(db, f"select distinct status from serving.{table}") == [("degraded",)], table
    actions = _query(db, "select distinct status, status_reason from serving.fct_next_best_actions")
    assert len(actions) == 1 and actions[0][0] == "degraded"
    assert "ml_clv_predictions: bgnbd: " in actions[0][1]
    assert _query(db, "select count(*), count(distinct customer_id) from serving.fct_next_best_actions") == _query(
        db, "select count(*), count(*) from marts.dim_customers"
    )


def test_other_ml_tables_are_built_with_a_valid_status_if_they_have_one(built):
    for table in OTHER_ML_TABLES:
        columns = {c for (c,) in _query(built["db"], f"select column_name from information_schema.columns where table_name = '{table}'")}
        assert columns, f"{table} not built"
        if "status" in columns:
            assert {s for (s,) in _query(built["db"], f"select distinct status from ml.{table}")} <= {"ok", "degraded"}


def test_warn_level_status_tests_warned_on_each_degraded_table(built):
    status_tests = {
        r["unique_id"].split(".")[2]: r["status"]
        for r in built["run_results"]
        if r["unique_id"].startswith("test.ecom_growth.model_status_ok_")
    }
    for table in (*CLV_TABLES, *SERVING_ON_CLV):
        assert status_tests.get(f"model_status_ok_{table}_") == "warn", (table, status_tests)
    for table in SEGMENT_TABLES:
        assert status_tests.get(f"model_status_ok_{table}_") == "pass", (table, status_tests)
    assert "warn" in built["result"].stdout.lower()


def test_the_build_summary_says_degraded(built):
    text = build_summary(built["db"])
    for table in (*CLV_TABLES, *SERVING_ON_CLV):
        assert f"DEGRADED {table}: " in text
    assert f"DEGRADED ml_clv_model_parameters: bgnbd: {built['expected']['bgnbd']}" in text
    assert f"; gamma_gamma: {built['expected']['gamma_gamma']}" in text
