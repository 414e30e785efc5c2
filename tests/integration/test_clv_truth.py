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
   standard error (b) is ~3.5%, i.e. 10% is about 3 standard errors. Takes ~3-4 minutes
   (every purchase model is fitted twice, calibration and full, on 86k customers). Built with
   clv_purchase_period 'order' (see _build_clv_chain); the default day convention is checked
   on the same orders through the library. A second, smaller build plants MBG/NBD
   (--dropout-after-first): MBG/NBD must be selected and recover its parameters.

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

from ecom_growth.clv import customer_summary, fit_bgnbd

REPO = Path(__file__).resolve().parents[2]
RECOVERY_SIGNUPS = 300_000
RECOVERY_SEED = 3
TOLERANCE = 0.10
# The MBG/NBD scenario: ~17k converted customers, a and b to ~8-12% standard errors;
# the bound is 4 standard errors (the fitted uncertainty, not a chosen percentage).
MBG_SIGNUPS = 60_000
MBG_SEED = 5


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


def _build_clv_chain(work: Path, signups: int, seed: int, scenario: list[str]) -> dict:
    """Generate effects-none data (plus ``scenario`` flags) and build only the CLV chain on it
    with dbt into a temporary warehouse; returns truth + results.

    Built with clv_purchase_period 'order': the planted process is continuous in time and never
    splits a basket, so each completed order IS a purchase occasion of the truth. The default
    day convention observes that process at day resolution, which is a slightly different
    process (test_day_occasions_... below quantifies the difference)."""
    raw = work / "raw"
    env = {
        **os.environ,
        "ECOM_GROWTH_RAW_PATH": str(raw),
        "ECOM_GROWTH_DB": str(work / "warehouse.duckdb"),
        "DBT_TARGET_PATH": str(work / "target"),
        "DBT_LOG_PATH": str(work / "logs"),
    }
    _run(
        [sys.executable, "-m", "ecom_growth", "generate", "--customers", str(signups),
         "--seed", str(seed), "--effects", "none", *scenario, "--out", str(raw)],
        env,
    )
    truth = json.loads((raw / "_truth.json").read_text())
    assert truth["effects"] == "none"
    assert truth["bgnbd"]["time_unit"] == "day" and truth["bgnbd"]["exact_in_calendar_time"]
    # The truth's T ends at the window's exclusive end: analyse as of that instant.
    as_of = truth["window"]["end_at_exclusive"].replace("T", " ")
    _run(
        [_dbt_executable(), "build", "-s", "+ml_clv_model_parameters", "+ml_clv_evaluation",
         "--indirect-selection", "cautious",
         "--vars", json.dumps({"as_of": as_of, "clv_time_unit_days": 1, "clv_purchase_period": "order"})],
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
        selected = con.execute(
            "select distinct model from ml.ml_clv_model_parameters where is_selected and model <> 'gamma_gamma'"
        ).fetchall()
        holdout = {
            model: rest for model, *rest in con.execute(
                "select model, actual_purchases_total, predicted_purchases_total, relative_error "
                "from ml.ml_clv_evaluation where frequency_bucket = 'all'"
            ).fetchall()
        }
        summary = con.execute(
            "select count(*), sum(frequency + 1), count(*) filter (where frequency > 0) "
            "from intermediate.int_clv_customer_summary"
        ).fetchone()
        completed_orders = con.execute("select count(*) from intermediate.int_completed_orders").fetchall()[0][0]
        orders = con.cursor().sql("select customer_id, ordered_at, order_total from intermediate.int_completed_orders").pl()
        statuses = con.execute(
            "select distinct 'parameters', status, status_reason from ml.ml_clv_model_parameters "
            "where model in ('bgnbd', 'mbgnbd', 'gamma_gamma') "
            "union all select distinct 'evaluation', status, status_reason from ml.ml_clv_evaluation "
            "where model in ('bgnbd', 'mbgnbd')"
        ).fetchall()
    finally:
        con.close()
    return {
        "truth": truth, "parameters": parameters, "selected": [row[0] for row in selected], "holdout": holdout,
        "summary": summary, "completed_orders": completed_orders, "statuses": statuses, "orders": orders,
        "as_of": dt.datetime.fromisoformat(as_of),
    }


@pytest.fixture(scope="module")
def recovery(tmp_path_factory) -> dict:
    return _build_clv_chain(tmp_path_factory.mktemp("clv_recovery"), RECOVERY_SIGNUPS, RECOVERY_SEED, [])


@pytest.fixture(scope="module")
def mbg_recovery(tmp_path_factory) -> dict:
    return _build_clv_chain(tmp_path_factory.mktemp("clv_mbg"), MBG_SIGNUPS, MBG_SEED, ["--dropout-after-first"])


def test_planted_bgnbd_data_fits_cleanly(recovery):
    # Data drawn from the models themselves must never take the degraded fallback path (the
    # build only warns about it, so this is where a regression would show).
    assert sorted(recovery["statuses"]) == [("evaluation", "ok", None), ("parameters", "ok", None)]


def test_summary_counts_exactly_the_orders_the_truth_describes(recovery):
    realised = recovery["truth"]["realised"]
    customers, occasions, repeat_buyers = recovery["summary"]
    assert customers == realised["converted_customers"] > 50_000
    assert occasions == recovery["completed_orders"] == realised["completed_orders"]
    assert repeat_buyers == realised["customers_with_repeat_orders"]


def test_day_occasions_of_the_planted_process_stay_within_10_percent(recovery):
    # The default convention (one occasion per customer-day) on the same orders, fitted through
    # the library: two purchases of one customer within a calendar day merge (about 1% of the
    # orders: heavy buyers have gaps of days), which lowers and evens out the high purchase
    # rates, so r and alpha come out a few percent high -- several standard errors at 86k
    # customers, because this is a different (day-resolution) process, not sampling noise.
    # What is required: still within the 10% of the exact test, and few orders merged.
    summary = customer_summary(recovery["orders"], calibration_end=recovery["as_of"], merge_same_day=True)
    merged = recovery["completed_orders"] - int((summary["frequency"] + 1).sum())
    fit = fit_bgnbd(summary)
    planted = recovery["truth"]["bgnbd"]
    errors = {name: getattr(fit, name) / planted[name] - 1 for name in ("r", "alpha", "a", "b")}
    print(f"day occasions: {merged} of {recovery['completed_orders']} orders merged; "
          + ", ".join(f"{k} {v:+.2%} ({(getattr(fit, k) - planted[k]) / getattr(fit, k + '_se'):+.1f} se)" for k, v in errors.items()))
    assert 0 < merged <= 0.02 * recovery["completed_orders"]
    assert all(abs(v) <= TOLERANCE for v in errors.values())


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
    actual, predicted, relative_error = recovery["holdout"]["bgnbd"]
    print(f"holdout: actual {actual:.0f}, predicted {predicted:.1f}, relative error {relative_error:+.2%}")
    assert actual > 10_000
    assert abs(relative_error) <= TOLERANCE


def test_bgnbd_is_selected_on_bgnbd_data(recovery):
    assert recovery["selected"] == ["bgnbd"]


# --- the MBG/NBD scenario (--dropout-after-first) ------------------------------------------------


def test_mbgnbd_scenario_selects_mbgnbd(mbg_recovery):
    assert mbg_recovery["truth"]["purchase_process"]["name"] == "MBG/NBD"
    assert ("parameters", "ok", None) in mbg_recovery["statuses"]
    print({m: tuple(round(v, 4) for v in row) for m, row in mbg_recovery["holdout"].items()})
    assert mbg_recovery["selected"] == ["mbgnbd"]


@pytest.mark.parametrize("parameter", ["r", "alpha", "a", "b"])
def test_mbgnbd_recovers_its_planted_parameters(mbg_recovery, parameter):
    planted = mbg_recovery["truth"]["purchase_process"]["parameters"][parameter]
    estimate, standard_error, n_customers = mbg_recovery["parameters"][("mbgnbd", parameter)]
    print(f"mbgnbd.{parameter}: planted {planted}, fitted {estimate:.4f} (se {standard_error:.4f}), n={n_customers}")
    assert abs(estimate - planted) <= 4 * standard_error


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
        "relative_error, calibration_end_at, as_of from ml.ml_clv_evaluation "
        "where breakdown = 'frequency_bucket' and is_selected"
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
    # Each candidate may degrade on its own (e.g. Pareto/NBD's dropout heterogeneity running to a
    # point mass); what the predictions use may not, and BG/NBD must fit this data.
    used = "is_selected or model = 'bgnbd'"
    for table in ("ml_clv_model_parameters", "ml_clv_evaluation"):
        assert warehouse.execute(f"select distinct status from ml.{table} where {used}").fetchall() == [("ok",)], table
    assert warehouse.execute("select distinct status from ml.ml_clv_predictions").fetchall() == [("ok",)]
    assert warehouse.execute("select distinct status from serving.fct_customer_clv").fetchall() == [("ok",)]


def test_every_candidate_is_fitted_and_one_is_selected(warehouse):
    models = warehouse.execute(
        "select model, bool_or(is_selected), count(*) from ml.ml_clv_model_parameters group by 1 order by 1"
    ).fetchall()
    assert [m for m, _, _ in models] == ["bgnbd", "gamma_gamma", "mbgnbd", "pareto_nbd"]
    assert sum(1 for m, selected, _ in models if selected and m != "gamma_gamma") == 1
    evaluated = warehouse.execute(
        "select model, is_selected, purchases_mae, revenue_mae, revenue_spearman, top20_revenue_capture "
        "from ml.ml_clv_evaluation where bucket = 'all' order by selection_rank"
    ).fetchall()
    print(evaluated)
    chosen = [row for row in evaluated if row[1]]
    baseline = [row for row in evaluated if row[0] == "poisson_baseline"][0]
    assert len(chosen) == 1 and chosen[0][0] != "poisson_baseline"
    # The selected model beats the simple baseline on purchases and ranks value well.
    assert chosen[0][2] < baseline[2]
    assert chosen[0][4] > 0.3 and chosen[0][5] > 0.4


def test_value_deciles_are_ordered_and_months_cover_the_holdout(warehouse):
    deciles = warehouse.execute(
        "select bucket, predicted_revenue_mean, actual_revenue_mean from ml.ml_clv_evaluation "
        "where is_selected and breakdown = 'predicted_revenue_decile' order by bucket"
    ).fetchall()
    assert [b for b, _, _ in deciles] == [f"{d:02d}" for d in range(1, 11)]
    print("deciles (predicted, actual):", [(round(p, 1), round(a, 1)) for _, p, a in deciles])
    assert deciles[0][2] > deciles[-1][2] * 3  # the top decile is actually worth far more
    months = warehouse.execute(
        "select bucket, predicted_purchases_total, actual_purchases_total, relative_error from ml.ml_clv_evaluation "
        "where is_selected and breakdown = 'holdout_month' order by bucket"
    ).fetchall()
    overall = warehouse.execute(
        "select predicted_purchases_total, actual_purchases_total from ml.ml_clv_evaluation where is_selected and bucket = 'all'"
    ).fetchone()
    print("per holdout month:", [(b, round(r, 3) if r is not None else None) for b, _, _, r in months])
    assert 6 <= len(months) <= 7
    assert sum(p for _, p, _, _ in months) == pytest.approx(overall[0], rel=1e-6)
    assert sum(a for _, _, a, _ in months) == overall[1]


def test_next_order_date_is_near_for_regular_recent_buyers_and_absent_for_lapsed_ones(warehouse):
    recent, lapsed = warehouse.execute(
        """
        select
            avg(case when expected_next_order_at is not null
                      and expected_days_to_next_order <= 2 * average_days_between_orders then 1.0 else 0 end)
                filter (where completed_orders >= 4 and date_diff('day', last_order_at, as_of) <= 14),
            avg(case when expected_next_order_at is null or expected_days_to_next_order > 365 then 1.0 else 0 end)
                filter (where completed_orders >= 2 and date_diff('day', last_order_at, as_of) >= 365)
        from serving.fct_customer_clv
        """
    ).fetchone()
    print(f"regular recent buyers with a date within two of their gaps: {recent:.1%}; lapsed with no/far date: {lapsed:.1%}")
    assert recent >= 0.8
    assert lapsed >= 0.95


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
