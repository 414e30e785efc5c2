"""Planted-truth checks for predicted CLV (ml_clv_*, fct_customer_clv, fct_cohort_clv).

Two parts:

1. Parameter recovery, self-contained: the simulator with --effects none draws every converted
   customer from plain BG/NBD (r, alpha, a, b; days) for COMPLETED orders, t = 0 at the first
   completed order and T = window end - first order, and order totals from Gamma-Gamma (p, q,
   gamma). The test generates such data, builds only the CLV chain with dbt into a temporary
   warehouse (as_of = the window's exclusive end, the T of the truth), and requires every
   parameter within 10% of the planted value and the holdout total of predicted purchases
   within 10% of the actual one. 10% must be a statement about the estimator, not luck: a and
   b have relative standard errors of ~9-11% on 14k converted customers (50k signups), so the
   test uses RECOVERY_SIGNUPS = 300k signups (~86k converted customers), where the largest
   standard error (b) is ~3.5%, i.e. 10% is about 3 standard errors. Takes ~2 minutes.

2. On the shared full-effects build (the `warehouse` fixture): channels multiply the purchase
   rate and shift dropout, satisfaction shifts dropout and purchases follow a yearly season, so
   BG/NBD is misspecified. The checks there are looser and say why.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import os
import shutil
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

REPO = Path(__file__).resolve().parents[2]
RECOVERY_SIGNUPS = 300_000
RECOVERY_SEED = 3
TOLERANCE = 0.10


def _dbt_executable() -> str:
    beside_python = Path(sys.executable).parent / "dbt"
    found = str(beside_python) if beside_python.exists() else shutil.which("dbt")
    if not found:
        raise RuntimeError("dbt not found beside the Python interpreter or on PATH")
    return found


def _run(command: list[str], env: dict[str, str]) -> None:
    result = subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True)
    if result.returncode != 0:
        raise AssertionError(f"{' '.join(command[:4])} failed:\n{result.stdout[-4000:]}\n{result.stderr[-4000:]}")


@pytest.fixture(scope="module")
def recovery(tmp_path_factory) -> dict:
    """Generate effects-none data and build the CLV chain on it; returns truth + results."""
    work = tmp_path_factory.mktemp("clv_recovery")
    raw = work / "raw"
    env = {
        **os.environ,
        "ECOM_GROWTH_RAW_PATH": str(raw),
        "ECOM_GROWTH_DB": str(work / "warehouse.duckdb"),
        "DBT_TARGET_PATH": str(work / "target"),
        "DBT_LOG_PATH": str(work / "logs"),
    }
    _run(
        [sys.executable, "-m", "ecom_growth", "generate", "--customers", str(RECOVERY_SIGNUPS),
         "--seed", str(RECOVERY_SEED), "--effects", "none", "--out", str(raw)],
        env,
    )
    truth = json.loads((raw / "_truth.json").read_text())
    assert truth["effects"] == "none"
    assert truth["bgnbd"]["time_unit"] == "day" and truth["bgnbd"]["exact_in_calendar_time"]
    # The truth's T ends at the window's exclusive end: analyse as of that instant.
    as_of = truth["window"]["end_at_exclusive"].replace("T", " ")
    _run(
        [_dbt_executable(), "build", "-s", "+ml_clv_model_parameters", "+ml_clv_evaluation",
         "--indirect-selection", "cautious", "--vars", json.dumps({"as_of": as_of, "clv_time_unit_days": 1})],
        env,
    )
    con = duckdb.connect(env["ECOM_GROWTH_DB"], read_only=True)
    try:
        parameters = {
            (model, name): (estimate, se, n)
            for model, name, estimate, se, n in con.execute(
                "select model, parameter, estimate, standard_error, n_customers from ml.ml_clv_model_parameters"
            ).fetchall()
        }
        holdout = con.execute(
            "select actual_purchases_total, predicted_purchases_total, relative_error "
            "from ml.ml_clv_evaluation where frequency_bucket = 'all'"
        ).fetchone()
        summary = con.execute(
            "select count(*), sum(frequency + 1), count(*) filter (where frequency > 0) "
            "from intermediate.int_clv_customer_summary"
        ).fetchone()
        statuses = con.execute(
            "select distinct 'parameters', status, status_reason from ml.ml_clv_model_parameters "
            "union all select distinct 'evaluation', status, status_reason from ml.ml_clv_evaluation"
        ).fetchall()
    finally:
        con.close()
    return {"truth": truth, "parameters": parameters, "holdout": holdout, "summary": summary, "statuses": statuses}


def test_planted_bgnbd_data_fits_cleanly(recovery):
    # Data drawn from the models themselves must never take the degraded fallback path (the
    # build only warns about it, so this is where a regression would show).
    assert sorted(recovery["statuses"]) == [("evaluation", "ok", None), ("parameters", "ok", None)]


def test_summary_counts_exactly_the_orders_the_truth_describes(recovery):
    realised = recovery["truth"]["realised"]
    customers, orders, repeat_buyers = recovery["summary"]
    assert customers == realised["converted_customers"] > 50_000
    assert orders == realised["completed_orders"]
    assert repeat_buyers == realised["customers_with_repeat_orders"]


@pytest.mark.parametrize(("model", "parameter"), [
    ("bgnbd", "r"), ("bgnbd", "alpha"), ("bgnbd", "a"), ("bgnbd", "b"),
    ("gamma_gamma", "p"), ("gamma_gamma", "q"), ("gamma_gamma", "gamma"),
])
def test_parameters_recovered_within_10_percent(recovery, model, parameter):
    planted = recovery["truth"][model][parameter]
    estimate, standard_error, n_customers = recovery["parameters"][(model, parameter)]
    error = estimate / planted - 1
    print(f"{model}.{parameter}: planted {planted}, fitted {estimate:.4f} (se {standard_error:.4f}), "
          f"error {error:+.2%}, n={n_customers}")
    assert abs(error) <= TOLERANCE
    # The fitted uncertainty is consistent with the error (4 standard errors).
    assert abs(estimate - planted) <= 4 * standard_error


def test_holdout_total_within_10_percent(recovery):
    actual, predicted, relative_error = recovery["holdout"]
    print(f"holdout: actual {actual:.0f}, predicted {predicted:.1f}, relative error {relative_error:+.2%}")
    assert actual > 10_000
    assert abs(relative_error) <= TOLERANCE


# --- the shared full-effects build -------------------------------------------------------------


def _seasonal_holdout_bias(truth: dict, calibration_end: dt.datetime, as_of: dt.datetime) -> float:
    """Over-prediction expected from the planted yearly season alone: BG/NBD fitted on the
    calibration window predicts its average intensity, the holdout has its own. Both are
    averaged uniformly over calendar days (ignores exposure weighting: an approximation)."""
    season = truth["seasonality"]
    amplitude, peak = season["purchase_yearly_amplitude"], season["purchase_peak_day_of_year"]
    start = dt.datetime.fromisoformat(truth["window"]["start_at"])

    def mean_intensity(begin: dt.datetime, end: dt.datetime) -> float:
        days = max(1, int((end - begin).total_seconds() // 86400))
        total = 0.0
        for k in range(days):
            day_of_year = (begin + dt.timedelta(days=k + 0.5)).timetuple().tm_yday - 1
            total += 1 + amplitude * math.cos(2 * math.pi * (day_of_year - peak) / 365.25)
        return total / days

    return mean_intensity(start, calibration_end) / mean_intensity(calibration_end, as_of) - 1


def test_holdout_error_on_full_effects_data(warehouse, truth):
    rows = warehouse.execute(
        "select frequency_bucket, n_customers, actual_purchases_total, predicted_purchases_total, "
        "relative_error, calibration_end_at, as_of from ml.ml_clv_evaluation"
    ).fetchall()
    by_bucket = {row[0]: row for row in rows}
    assert sorted(by_bucket) == sorted(["0", "1", "2", "3", "4", "5", "6", "7+", "all"])
    _, n_all, actual, predicted, relative_error, calibration_end, as_of = by_bucket["all"]
    buckets = [row for key, row in by_bucket.items() if key != "all"]
    assert sum(row[1] for row in buckets) == n_all
    assert sum(row[2] for row in buckets) == pytest.approx(actual)
    assert sum(row[3] for row in buckets) == pytest.approx(predicted)
    seasonal = _seasonal_holdout_bias(truth, calibration_end, as_of)
    print(f"full effects holdout: actual {actual:.0f}, predicted {predicted:.1f}, relative error "
          f"{relative_error:+.2%} (planted season alone explains about {seasonal:+.2%})")
    # Observed on the 50k seed-7 build: +22%, of which the season (holdout = Jan-Jun, off-peak,
    # amplitude 0.25, peak 1 Dec) explains ~+11%; dropout that depends on satisfaction and
    # channel (not Beta-distributed) the rest. Bound: 35%.
    assert abs(relative_error) <= 0.35


def test_full_effects_data_is_not_degraded(warehouse):
    for table in ("ml_clv_model_parameters", "ml_clv_predictions", "ml_clv_evaluation"):
        assert warehouse.execute(f"select distinct status from ml.{table}").fetchall() == [("ok",)], table
    assert warehouse.execute("select distinct status from serving.fct_customer_clv").fetchall() == [("ok",)]


def test_p_alive_and_predicted_clv_are_valid(warehouse):
    bad = warehouse.execute(
        """
        select count(*) from ml.ml_clv_predictions
        where p_alive is null or p_alive < 0 or p_alive > 1
           or predicted_clv is null or predicted_clv < 0
           or expected_purchases_365d < 0 or expected_average_order_value <= 0
        """
    ).fetchone()[0]
    assert bad == 0


def test_p_alive_matches_the_planted_survival(warehouse, raw_path):
    # The simulator records who is still alive at the window end: p_alive must be calibrated.
    expected_alive, alive, customers, alive_mean, dead_mean = warehouse.execute(
        f"""
        select sum(p.p_alive), sum(case when t.is_alive_at_end then 1 else 0 end), count(*),
               avg(p.p_alive) filter (where t.is_alive_at_end), avg(p.p_alive) filter (where not t.is_alive_at_end)
        from ml.ml_clv_predictions as p
        join read_parquet('{raw_path / "_truth_customers.parquet"}') as t using (customer_id)
        """
    ).fetchone()
    print(f"p_alive: expected alive {expected_alive:.0f}, planted alive {alive} of {customers}; "
          f"mean p_alive alive {alive_mean:.3f} vs dead {dead_mean:.3f}")
    assert customers > 1000
    assert abs(expected_alive / alive - 1) <= 0.10  # observed -3%
    assert alive_mean - dead_mean >= 0.3  # observed 0.82 vs 0.34


def test_fct_customer_clv_has_one_row_per_customer_with_a_completed_order(warehouse):
    rows, distinct, customers, missing, extra = warehouse.execute(
        """
        select
            (select count(*) from serving.fct_customer_clv),
            (select count(distinct customer_id) from serving.fct_customer_clv),
            (select count(*) from marts.dim_customers where completed_orders >= 1),
            (select count(*) from marts.dim_customers d where completed_orders >= 1
               and not exists (select 1 from serving.fct_customer_clv f where f.customer_id = d.customer_id)),
            (select count(*) from serving.fct_customer_clv f
               where not exists (select 1 from marts.dim_customers d where d.customer_id = f.customer_id and d.completed_orders >= 1))
        """
    ).fetchone()
    assert rows == distinct == customers > 1000
    assert missing == extra == 0


def test_historical_clv_is_the_realised_revenue_of_completed_orders(warehouse):
    customers, mismatched = warehouse.execute(
        """
        with revenue as (
            select customer_id, sum(order_total) as revenue
            from intermediate.int_orders where is_completed group by customer_id
        )
        select count(*), count(*) filter (where abs(f.historical_clv - r.revenue) > 0.005
                                             or f.historical_revenue <> r.revenue)
        from serving.fct_customer_clv as f
        join revenue as r using (customer_id)
        """
    ).fetchone()
    assert customers > 1000
    assert mismatched == 0


def test_clv_tiers_have_the_configured_shares(warehouse):
    shares = dict(
        warehouse.execute(
            "select clv_tier, count(*) / sum(count(*)) over () from serving.fct_customer_clv group by clv_tier"
        ).fetchall()
    )
    assert set(shares) == {"high", "medium", "low"}
    assert 0.18 <= shares["high"] <= 0.20
    assert 0.28 <= shares["medium"] <= 0.32


def test_predicted_value_ranks_the_planted_best_channel_above_the_worst(warehouse, truth):
    # Channels plant a purchase-rate multiplier and a dropout shift that go together: the best
    # channel (highest multiplier) must be predicted to be worth more per customer than the worst.
    channels = truth["channels"]
    best = max(channels, key=lambda c: channels[c]["lambda_multiplier"])
    worst = min(channels, key=lambda c: channels[c]["lambda_multiplier"])
    per_customer = dict(
        warehouse.execute(
            "select acquisition_channel, sum(predicted_clv_total) / sum(customers) from serving.fct_cohort_clv group by 1"
        ).fetchall()
    )
    print({k: round(float(v), 2) for k, v in per_customer.items()})
    assert per_customer[best] > per_customer[worst] * 1.1
