"""Tests for ecom_growth.clv: BG/NBD, Gamma-Gamma, predicted CLV, holdout evaluation.

Likelihoods are checked against the paper's formulas written out term by term here (plain
math.lgamma, no scipy), the hypergeometric expectation against a hand-rolled power series,
and the whole pipeline against an exact simulation of the BG/NBD + Gamma-Gamma process.
"""

from __future__ import annotations

import datetime as dt
import math

import numpy as np
import polars as pl
import pytest

from ecom_growth.clv import (
    BGNBDFit,
    GammaGammaFit,
    bgnbd_log_likelihood,
    customer_summary,
    expected_average_order_value,
    expected_purchases,
    expected_purchases_new_customer,
    fit_bgnbd,
    fit_gamma_gamma,
    gamma_gamma_log_likelihood,
    holdout_evaluation,
    p_alive,
    predict_clv,
)
from ecom_growth.clv.bgnbd import _FitData, _neg_ll_and_grad
from ecom_growth.clv.gamma_gamma import _FitData as _GGFitData
from ecom_growth.clv.gamma_gamma import _neg_ll_and_grad as _gg_neg_ll_and_grad

# Published BG/NBD estimates on CDNOW (weeks), used as a realistic parameter point.
CDNOW = (0.243, 4.414, 0.793, 2.426)
TRUTH_BGNBD = {"r": 0.75, "alpha": 60.0, "a": 0.9, "b": 3.5}
TRUTH_GG = {"p": 4.0, "q": 4.0, "gamma": 60.0}


# --------------------------------------------------------------------------------------
# An exact, vectorised sampler of the BG/NBD + Gamma-Gamma process (self-contained on
# purpose: it is the oracle, so it must not share code with the library).
# --------------------------------------------------------------------------------------
def simulate_bgnbd_gg(
    n: int,
    *,
    r: float = 0.75,
    alpha: float = 60.0,
    a: float = 0.9,
    b: float = 3.5,
    p: float = 4.0,
    q: float = 4.0,
    gamma: float = 60.0,
    T_low: float = 30.0,
    T_high: float = 730.0,
    holdout_days: float = 0.0,
    seed: int = 0,
) -> pl.DataFrame:
    """Calibration summary (frequency, recency, T, monetary_value) + holdout repeat counts.

    Time 0 is the first purchase. Repeat purchases follow a Poisson(lambda) process;
    right after each repeat purchase the customer drops out with probability p_drop, so the
    number of repeat purchases before dropout is Geometric(p_drop) on {1, 2, ...}.
    Inter-purchase gaps are drawn in one flat array and cumulated within customers.
    """
    rng = np.random.default_rng(seed)
    lam = rng.gamma(r, 1.0 / alpha, n)
    p_drop = rng.beta(a, b, n)
    T = rng.uniform(T_low, T_high, n)
    end = T + holdout_days
    repeats_until_dropout = rng.geometric(p_drop)
    expected_in_window = lam * end
    cap = np.ceil(expected_in_window + 12 * np.sqrt(expected_in_window) + 20).astype(np.int64)
    k = np.minimum(repeats_until_dropout, cap)
    owner = np.repeat(np.arange(n), k)
    cumulative = np.cumsum(rng.exponential(1.0, int(k.sum())) / lam[owner])
    segment_start = np.cumsum(k) - k
    offset = np.concatenate([[0.0], cumulative])[segment_start]
    times = cumulative - offset[owner]
    has_any = k > 0
    last_drawn = np.zeros(n)
    last_drawn[has_any] = times[(segment_start + k - 1)[has_any]]
    truncated = k < repeats_until_dropout
    assert np.all(last_drawn[truncated] > end[truncated]), "sampler cap too small"

    in_calibration = times <= T[owner]
    x = np.bincount(owner[in_calibration], minlength=n)
    t_x = np.zeros(n)
    np.maximum.at(t_x, owner[in_calibration], times[in_calibration])
    in_holdout = (times > T[owner]) & (times <= end[owner])
    x_holdout = np.bincount(owner[in_holdout], minlength=n)

    nu = rng.gamma(q, 1.0 / gamma, n)
    spend = rng.gamma(p * np.maximum(x, 1), 1.0 / nu)  # sum of x Gamma(p, nu) order values
    mean_spend = np.where(x > 0, spend / np.maximum(x, 1), np.nan)
    return pl.DataFrame(
        {
            "customer_id": [f"c{i:06d}" for i in range(n)],
            "frequency": x.astype(np.int64),
            "recency": t_x,
            "T": T,
            "monetary_value": mean_spend,
            "holdout_purchases": x_holdout.astype(np.int64),
        }
    ).with_columns(pl.col("monetary_value").fill_nan(None))


@pytest.fixture(scope="module")
def simulated() -> pl.DataFrame:
    return simulate_bgnbd_gg(50_000, holdout_days=180, seed=20240601)


@pytest.fixture(scope="module")
def fitted(simulated: pl.DataFrame) -> tuple[BGNBDFit, GammaGammaFit]:
    return fit_bgnbd(simulated), fit_gamma_gamma(simulated)


def make_fit(r: float, alpha: float, a: float, b: float) -> BGNBDFit:
    nan = float("nan")
    return BGNBDFit(r, alpha, a, b, nan, nan, nan, nan, nan, 0, True)


# --------------------------------------------------------------------------------------
# Independent reference formulas
# --------------------------------------------------------------------------------------
def log_beta(u: float, v: float) -> float:
    return math.lgamma(u) + math.lgamma(v) - math.lgamma(u + v)


def hand_bgnbd_likelihood(params, x, t_x, T) -> float:
    """Equation (6) of Fader, Hardie & Lee (2005), as a product of its terms (not logged)."""
    r, alpha, a, b = params
    gamma_part = math.exp(math.lgamma(r + x) - math.lgamma(r)) * alpha**r
    first = math.exp(log_beta(a, b + x) - log_beta(a, b)) * gamma_part / (alpha + T) ** (r + x)
    second = 0.0
    if x > 0:
        second = math.exp(log_beta(a + 1, b + x - 1) - log_beta(a, b)) * gamma_part / (alpha + t_x) ** (r + x)
    return first + second


def hyp2f1_series(A: float, B: float, C: float, z: float) -> float:
    total, term, n = 1.0, 1.0, 0
    while True:
        term *= (A + n) * (B + n) / ((C + n) * (n + 1)) * z
        total += term
        n += 1
        if abs(term) < 1e-16 * abs(total) and n > 3:
            return total


def hand_expected_purchases(params, t, x, t_x, T) -> float:
    """Equation (10), with the original (untransformed) hypergeometric term."""
    r, alpha, a, b = params
    z = t / (alpha + T + t)
    bracket = 1 - ((alpha + T) / (alpha + T + t)) ** (r + x) * hyp2f1_series(r + x, b + x, a + b + x - 1, z)
    numerator = (a + b + x - 1) / (a - 1) * bracket
    dead_odds = (a / (b + x - 1)) * ((alpha + T) / (alpha + t_x)) ** (r + x) if x > 0 else 0.0
    return numerator / (1 + dead_odds)


def hand_gamma_gamma_log_likelihood(params, x, m) -> float:
    p, q, gamma = params
    return (
        math.lgamma(p * x + q)
        - math.lgamma(p * x)
        - math.lgamma(q)
        + q * math.log(gamma)
        + (p * x - 1) * math.log(m)
        + p * x * math.log(x)
        - (p * x + q) * math.log(gamma + x * m)
    )


# --------------------------------------------------------------------------------------
# BG/NBD likelihood and its gradient
# --------------------------------------------------------------------------------------
HAND_CASES = [(0, 0.0, 38.86), (1, 1.71, 38.86), (2, 30.43, 38.86), (5, 20.0, 35.0), (29, 37.5, 38.0)]


def test_bgnbd_log_likelihood_matches_paper_formula_term_by_term():
    x, t_x, T = (np.array(v, dtype=float) for v in zip(*HAND_CASES))
    got = bgnbd_log_likelihood(CDNOW, x, t_x, T)
    expected = [math.log(hand_bgnbd_likelihood(CDNOW, *case)) for case in HAND_CASES]
    np.testing.assert_allclose(got, expected, rtol=1e-12)


def test_bgnbd_log_likelihood_is_finite_for_extreme_customers():
    got = bgnbd_log_likelihood(CDNOW, [500.0, 0.0], [700.0, 0.0], [730.0, 1e6])
    assert np.all(np.isfinite(got))


def test_analytic_gradient_matches_finite_differences_of_public_likelihood():
    rng = np.random.default_rng(3)
    x = rng.poisson(3.0, 400).astype(float)
    T = rng.uniform(5, 50, 400)
    t_x = np.where(x > 0, T * rng.uniform(0, 1, 400), 0.0)
    w = rng.uniform(0.5, 2.0, 400)
    theta = np.log(np.array(CDNOW))
    _, grad = _neg_ll_and_grad(theta, _FitData.build(x, t_x, T, w))

    def total(th):
        return -np.dot(w, bgnbd_log_likelihood(np.exp(th), x, t_x, T))

    step = 1e-6
    numeric = [(total(theta + e) - total(theta - e)) / (2 * step) for e in np.eye(4) * step]
    np.testing.assert_allclose(grad, numeric, rtol=1e-5)


# --------------------------------------------------------------------------------------
# p_alive and expectations
# --------------------------------------------------------------------------------------
def test_p_alive_is_one_without_repeat_purchases_and_matches_formula_otherwise():
    fit = make_fit(*CDNOW)
    got = p_alive(fit, [0, 2, 2], [0.0, 30.43, 10.0], [38.86, 38.86, 38.86])
    r, alpha, a, b = CDNOW
    hand = 1 / (1 + a / (b + 2 - 1) * ((alpha + 38.86) / (alpha + 30.43)) ** (r + 2))
    assert got[0] == 1.0
    assert got[1] == pytest.approx(hand, rel=1e-12)
    assert got[2] < got[1]  # same frequency, longer silence: more likely gone


def test_p_alive_falls_as_time_since_last_purchase_grows():
    got = p_alive(make_fit(*CDNOW), 3, 10.0, np.array([10.0, 20.0, 40.0, 80.0]))
    assert got[0] == pytest.approx(1 / (1 + 0.793 / (2.426 + 2)), rel=1e-12)
    assert np.all(np.diff(got) < 0)


@pytest.mark.parametrize("case", HAND_CASES[:4])
@pytest.mark.parametrize("t", [1.0, 10.0, 52.0])
def test_expected_purchases_matches_paper_formula_with_series_hypergeometric(case, t):
    got = expected_purchases(make_fit(*CDNOW), t, *case)
    assert float(got) == pytest.approx(hand_expected_purchases(CDNOW, t, *case), rel=1e-9)


def test_expected_purchases_stays_finite_for_heavy_buyers():
    # The untransformed 2F1 overflows here; the Euler-transformed one does not.
    got = expected_purchases(make_fit(0.75, 60.0, 0.9, 3.5), 365.0, 400, 700.0, 720.0)
    assert np.isfinite(got) and 0 < float(got) < 400


def test_expected_purchases_zero_at_zero_and_increasing_in_t():
    t = np.array([0.0, 1.0, 7.0, 30.0, 90.0, 365.0, 3650.0])
    fit = make_fit(0.75, 60.0, 0.9, 3.5)
    for x, t_x, T in [(0, 0.0, 100.0), (3, 50.0, 100.0), (12, 99.0, 100.0)]:
        got = expected_purchases(fit, t, x, t_x, T)
        assert got[0] == 0.0
        assert np.all(np.diff(got) > 0)


def test_new_customer_expectation_matches_equation_9_and_simulation():
    r, alpha, a, b = 0.75, 60.0, 0.9, 3.5
    fit = make_fit(r, alpha, a, b)
    t = 365.0
    z = t / (alpha + t)
    hand = (a + b - 1) / (a - 1) * (1 - (alpha / (alpha + t)) ** r * hyp2f1_series(r, b, a + b - 1, z))
    assert float(expected_purchases_new_customer(fit, t)) == pytest.approx(hand, rel=1e-9)
    # Customers acquired at the end of calibration: the holdout count is X(t).
    sim = simulate_bgnbd_gg(100_000, T_low=0.0, T_high=1e-9, holdout_days=t, seed=11)
    assert sim["holdout_purchases"].mean() == pytest.approx(hand, rel=0.02)


def test_expectation_is_continuous_at_a_equal_one():
    near = [float(expected_purchases_new_customer(make_fit(0.75, 60.0, a, 3.5), 365.0)) for a in (1 - 1e-4, 1.0, 1 + 1e-4)]
    assert near[1] == pytest.approx(near[0], rel=1e-3)
    assert near[1] == pytest.approx(near[2], rel=1e-3)


# --------------------------------------------------------------------------------------
# Gamma-Gamma
# --------------------------------------------------------------------------------------
def test_gamma_gamma_log_likelihood_matches_hand_formula():
    params = (6.25, 3.74, 15.44)  # Fader & Hardie's CDNOW Gamma-Gamma estimates
    cases = [(1, 20.0), (2, 35.5), (10, 7.25)]
    x, m = (np.array(v, dtype=float) for v in zip(*cases))
    got = gamma_gamma_log_likelihood(params, x, m)
    np.testing.assert_allclose(got, [hand_gamma_gamma_log_likelihood(params, *c) for c in cases], rtol=1e-12)


def test_gamma_gamma_gradient_and_value_match_public_likelihood():
    rng = np.random.default_rng(5)
    x = rng.integers(1, 20, 300).astype(float)
    m = rng.gamma(3.0, 20.0, 300)
    w = rng.uniform(0.5, 2.0, 300)
    theta = np.log([3.0, 5.0, 40.0])
    value, grad = _gg_neg_ll_and_grad(theta, _GGFitData.build(x, m, w))

    def total(th):
        return -np.dot(w, gamma_gamma_log_likelihood(np.exp(th), x, m))

    assert value == pytest.approx(total(theta), rel=1e-12)
    step = 1e-6
    numeric = [(total(theta + e) - total(theta - e)) / (2 * step) for e in np.eye(3) * step]
    np.testing.assert_allclose(grad, numeric, rtol=1e-5)


def test_expected_order_value_is_population_mean_at_zero_and_shrinks_toward_it():
    fit = GammaGammaFit(4.0, 4.0, 60.0, 0, 0, 0, 0, 0, True, 0.0)
    got = expected_average_order_value(fit, [0, 1, 10, 1000], [np.nan, 200.0, 200.0, 200.0])
    assert got[0] == pytest.approx(4 * 60 / 3)
    assert got[1] == pytest.approx(4 * (60 + 200) / (4 + 3))  # p (gamma + x m) / (p x + q - 1)
    assert got[0] < got[1] < got[2] < got[3] < 200.0
    assert fit.population_mean_order_value == pytest.approx(80.0)


# --------------------------------------------------------------------------------------
# Recovery of planted parameters and holdout accuracy on simulated data
# --------------------------------------------------------------------------------------
def test_bgnbd_recovers_planted_parameters_within_10_percent(fitted):
    bgnbd, _ = fitted
    assert bgnbd.converged
    for name, truth in TRUTH_BGNBD.items():
        estimate = getattr(bgnbd, name)
        assert estimate == pytest.approx(truth, rel=0.10), name
        # The standard error is honest: the truth is within 4 standard errors.
        assert abs(estimate - truth) < 4 * getattr(bgnbd, f"{name}_se"), name


def test_gamma_gamma_recovers_planted_parameters_within_10_percent(fitted, simulated):
    _, gg = fitted
    assert gg.converged
    assert gg.n_customers == simulated.filter(pl.col("frequency") > 0).height
    for name, truth in TRUTH_GG.items():
        estimate = getattr(gg, name)
        assert estimate == pytest.approx(truth, rel=0.10), name
        assert abs(estimate - truth) < 4 * getattr(gg, f"{name}_se"), name
    assert abs(gg.frequency_monetary_correlation) < 0.05


def test_holdout_prediction_total_within_10_percent_of_actual(fitted, simulated):
    bgnbd, _ = fitted
    table = holdout_evaluation(simulated, simulated.select("customer_id", "holdout_purchases"), bgnbd, 180)
    assert table["frequency_bucket"].to_list() == ["0", "1", "2", "3", "4", "5", "6", "7+", "all"]
    overall = table.filter(pl.col("frequency_bucket") == "all").row(0, named=True)
    assert overall["n_customers"] == simulated.height
    assert overall["actual_purchases_total"] == simulated["holdout_purchases"].sum()
    assert abs(overall["relative_error"]) < 0.10
    buckets = table.filter(pl.col("frequency_bucket") != "all")
    assert buckets["n_customers"].sum() == simulated.height
    assert buckets["predicted_purchases_total"].sum() == pytest.approx(overall["predicted_purchases_total"])
    # Every bucket with real data is predicted within 15% too.
    big = buckets.filter(pl.col("n_customers") > 1000)
    assert (big["relative_error"].abs() < 0.15).all()


def test_fit_frames_are_long_and_typed(fitted):
    bgnbd, gg = fitted
    frame = pl.concat([bgnbd.to_frame(), gg.to_frame()])
    assert frame.columns == ["model", "parameter", "estimate", "standard_error", "log_likelihood", "n_customers", "converged"]
    assert frame["parameter"].to_list() == ["r", "alpha", "a", "b", "p", "q", "gamma"]
    assert frame["model"].to_list() == ["bgnbd"] * 4 + ["gamma_gamma"] * 3
    assert frame["standard_error"].null_count() == 0
    assert frame.filter(pl.col("model") == "bgnbd")["log_likelihood"].n_unique() == 1


def test_fit_is_deterministic(simulated):
    sample = simulated.head(5000)
    assert fit_bgnbd(sample) == fit_bgnbd(sample)


def test_fitting_in_weeks_rescales_alpha_only(simulated):
    days = simulated.head(5_000)
    weeks = days.with_columns(pl.col("recency") / 7, pl.col("T") / 7)
    fit_days, fit_weeks = fit_bgnbd(days), fit_bgnbd(weeks)
    for name in ("r", "a", "b"):
        assert getattr(fit_weeks, name) == pytest.approx(getattr(fit_days, name), rel=1e-4)
    assert fit_weeks.alpha == pytest.approx(fit_days.alpha / 7, rel=1e-4)
    # Density of event times in weeks = 7^x times the density in days.
    shift = days["frequency"].sum() * math.log(7)
    assert fit_weeks.log_likelihood == pytest.approx(fit_days.log_likelihood + shift, rel=1e-9)
    gg = fit_gamma_gamma(days)
    clv_days = predict_clv(days.head(200), fit_days, gg)
    clv_weeks = predict_clv(weeks.head(200), fit_weeks, gg, time_unit_days=7.0)
    np.testing.assert_allclose(clv_weeks["predicted_clv"], clv_days["predicted_clv"], rtol=1e-3)


def test_weights_equal_repeated_rows():
    rows = pl.DataFrame({"frequency": [0, 1, 3, 2], "recency": [0.0, 5.0, 20.0, 9.0], "T": [30.0, 25.0, 31.0, 12.0]})
    counts = [5, 2, 3, 1]
    repeated = pl.concat([rows[i].select(pl.all().repeat_by(c).explode()) for i, c in enumerate(counts)])
    weighted = fit_bgnbd(rows.with_columns(n=pl.Series(counts)), weights="n")
    plain = fit_bgnbd(repeated)
    assert weighted.n_customers == plain.n_customers == 11
    assert weighted.log_likelihood == pytest.approx(plain.log_likelihood, rel=1e-9)


# --------------------------------------------------------------------------------------
# predict_clv
# --------------------------------------------------------------------------------------
SMALL = pl.DataFrame(
    {
        "customer_id": ["a", "b", "c"],
        "frequency": [0, 2, 6],
        "recency": [0.0, 30.0, 200.0],
        "T": [40.0, 100.0, 210.0],
        "monetary_value": [None, 50.0, 120.0],
    }
)
FIT = make_fit(0.75, 60.0, 0.9, 3.5)
GG = GammaGammaFit(4.0, 4.0, 60.0, 0, 0, 0, 0, 0, True, 0.0)


def test_predict_clv_discounting_formula_by_hand():
    out = predict_clv(SMALL, FIT, GG, horizon_days=60, step_days=30, discount_rate_annual=0.10)
    x, t_x, T = SMALL["frequency"].to_numpy(), SMALL["recency"].to_numpy(), SMALL["T"].to_numpy()
    e30 = expected_purchases(FIT, 30.0, x, t_x, T)
    e60 = expected_purchases(FIT, 60.0, x, t_x, T)
    aov = expected_average_order_value(GG, x, [np.nan, 50.0, 120.0])
    hand = aov * (e30 / 1.1 ** (30 / 365) + (e60 - e30) / 1.1 ** (60 / 365))
    np.testing.assert_allclose(out["predicted_clv"], hand, rtol=1e-12)
    np.testing.assert_allclose(out["expected_purchases_horizon"], e60, rtol=1e-12)
    np.testing.assert_allclose(out["expected_purchases_30d"], e30, rtol=1e-12)
    assert out["horizon_days"].to_list() == [60, 60, 60]


def test_predict_clv_output_schema_order_and_undiscounted_identity():
    out = predict_clv(SMALL, FIT, GG, discount_rate_annual=0.0, profit_margin=0.5)
    assert out.columns == [
        "customer_id",
        "p_alive",
        "expected_purchases_30d",
        "expected_purchases_90d",
        "expected_purchases_365d",
        "expected_purchases_horizon",
        "expected_average_order_value",
        "predicted_clv",
        "horizon_days",
    ]
    assert out["customer_id"].to_list() == ["a", "b", "c"]
    assert out["p_alive"][0] == 1.0
    assert out["expected_average_order_value"][0] == pytest.approx(80.0)
    np.testing.assert_allclose(
        out["predicted_clv"], 0.5 * out["expected_purchases_365d"] * out["expected_average_order_value"], rtol=1e-12
    )
    assert (out["expected_purchases_30d"] < out["expected_purchases_90d"]).all()
    assert (out["expected_purchases_90d"] < out["expected_purchases_365d"]).all()
    discounted = predict_clv(SMALL, FIT, GG, discount_rate_annual=0.10, profit_margin=0.5)
    assert (discounted["predicted_clv"] < out["predicted_clv"]).all()


def test_predict_clv_without_gamma_gamma_uses_population_mean():
    out = predict_clv(SMALL.drop("monetary_value"), FIT, None, population_mean_order_value=42.0)
    assert out["expected_average_order_value"].to_list() == [42.0, 42.0, 42.0]
    with pytest.raises(ValueError, match="population_mean_order_value"):
        predict_clv(SMALL, FIT, None)


def test_predict_clv_empty_input_returns_empty_frame_with_schema():
    out = predict_clv(SMALL.head(0), FIT, GG)
    assert out.height == 0
    assert out.schema["customer_id"] == pl.String
    assert out.schema["predicted_clv"] == pl.Float64


def test_predict_clv_rejects_missing_spend_for_repeat_buyer():
    bad = SMALL.with_columns(pl.when(pl.col("customer_id") == "b").then(None).otherwise(pl.col("monetary_value")).alias("monetary_value"))
    with pytest.raises(ValueError, match="monetary_value"):
        predict_clv(bad, FIT, GG)


# --------------------------------------------------------------------------------------
# holdout_evaluation on a tiny hand-made example
# --------------------------------------------------------------------------------------
def test_holdout_evaluation_buckets_and_totals_by_hand():
    calibration = pl.DataFrame(
        {
            "customer_id": ["a", "b", "c", "d"],
            "frequency": [0, 1, 7, 12],
            "recency": [0.0, 10.0, 50.0, 90.0],
            "T": [20.0, 30.0, 60.0, 100.0],
        }
    )
    # c made nothing (absent); z was acquired later and is ignored.
    actuals = pl.DataFrame({"customer_id": ["a", "b", "d", "z"], "holdout_purchases": [1, 0, 4, 9]})
    out = holdout_evaluation(calibration, actuals, FIT, 30)
    predicted = expected_purchases(FIT, 30.0, [0, 1, 7, 12], [0.0, 10.0, 50.0, 90.0], [20.0, 30.0, 60.0, 100.0])
    rows = {row["frequency_bucket"]: row for row in out.iter_rows(named=True)}
    assert rows["0"]["n_customers"] == 1 and rows["0"]["actual_purchases_total"] == 1.0
    assert rows["0"]["predicted_purchases_total"] == pytest.approx(predicted[0])
    assert rows["1"]["relative_error"] is None  # actual 0
    assert rows["1"]["error_total"] == pytest.approx(predicted[1])
    assert rows["7+"]["n_customers"] == 2
    assert rows["7+"]["actual_purchases_total"] == 4.0
    assert rows["7+"]["actual_purchases_mean"] == 2.0
    assert rows["7+"]["predicted_purchases_mean"] == pytest.approx((predicted[2] + predicted[3]) / 2)
    assert rows["3"]["n_customers"] == 0 and rows["3"]["actual_purchases_mean"] is None
    assert rows["all"]["n_customers"] == 4 and rows["all"]["actual_purchases_total"] == 5.0
    assert rows["all"]["relative_error"] == pytest.approx((predicted.sum() - 5.0) / 5.0)


def test_holdout_evaluation_rejects_duplicate_actuals():
    actuals = pl.DataFrame({"customer_id": ["a", "a"], "holdout_purchases": [1, 2]})
    with pytest.raises(ValueError, match="duplicate"):
        holdout_evaluation(SMALL, actuals, FIT, 30)


# --------------------------------------------------------------------------------------
# Bad input and edge cases
# --------------------------------------------------------------------------------------
def test_empty_summary_cannot_be_fitted():
    with pytest.raises(ValueError, match="no customers to fit"):
        fit_bgnbd(SMALL.head(0))
    with pytest.raises(ValueError, match="no customers to fit"):
        fit_gamma_gamma(SMALL.head(0))


def test_nobody_repeating_is_a_clear_error_for_both_models():
    zeros = pl.DataFrame({"frequency": [0, 0], "recency": [0.0, 0.0], "T": [5.0, 9.0], "monetary_value": [None, None]})
    with pytest.raises(ValueError, match="repeat purchase"):
        fit_bgnbd(zeros)
    with pytest.raises(ValueError, match="no repeat buyers"):
        fit_gamma_gamma(zeros)


def test_one_customer_fits_without_crashing_and_predicts():
    one = SMALL.filter(pl.col("customer_id") == "b")
    fit = fit_bgnbd(one)
    assert math.isfinite(fit.log_likelihood)
    # A single customer cannot identify four parameters: the fit is flagged, not trusted.
    assert fit.to_frame().height == 4
    out = predict_clv(one, FIT, GG)
    assert out.height == 1 and math.isfinite(out["predicted_clv"][0])


@pytest.mark.parametrize("column", ["frequency", "recency", "T"])
def test_nulls_are_rejected_naming_the_column(column):
    bad = SMALL.with_columns(pl.lit(None, dtype=pl.Float64).alias(column))
    with pytest.raises(ValueError, match=column):
        fit_bgnbd(bad)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"recency": [0.0, 130.0, 200.0]}, "recency must not exceed T"),
        ({"frequency": [0, -1, 6]}, "frequency must be >= 0"),
        ({"recency": [3.0, 30.0, 200.0]}, "recency must be 0"),
        ({"frequency": [0.0, 1.5, 6.0]}, "whole number"),
        ({"T": [-1.0, 100.0, 210.0]}, "T must be >= 0"),
    ],
)
def test_inconsistent_summaries_are_rejected(change, message):
    bad = SMALL.with_columns(*(pl.Series(k, v) for k, v in change.items()))
    with pytest.raises(ValueError, match=message):
        fit_bgnbd(bad)
    with pytest.raises(ValueError, match=message):
        predict_clv(bad, FIT, GG)


def test_missing_column_is_named():
    with pytest.raises(ValueError, match="recency"):
        fit_bgnbd(SMALL.drop("recency"))


def test_gamma_gamma_rejects_negative_spend_and_skips_zero_spend(simulated):
    bad = SMALL.with_columns(pl.Series("monetary_value", [None, -1.0, 10.0]))
    with pytest.raises(ValueError, match=">= 0"):
        fit_gamma_gamma(bad)
    sample = simulated.filter(pl.col("frequency") > 0).head(2000)
    with_free = sample.with_columns(
        pl.when(pl.int_range(pl.len()) < 10).then(0.0).otherwise(pl.col("monetary_value")).alias("monetary_value")
    )
    assert fit_gamma_gamma(with_free) == fit_gamma_gamma(sample.slice(10))
    out = predict_clv(with_free.head(12), FIT, GG)
    assert out["expected_average_order_value"][0] == pytest.approx(4 * 60 / (4 * with_free["frequency"][0] + 3))


# --------------------------------------------------------------------------------------
# customer_summary: the reference for the SQL that builds the model input
# --------------------------------------------------------------------------------------
def test_customer_summary_from_orders_by_hand():
    orders = pl.DataFrame(
        {
            "customer_id": ["a", "a", "a", "a", "b", "c", "c"],
            "ordered_at": [
                dt.datetime(2024, 1, 1, 9),
                dt.datetime(2024, 1, 1, 18),  # same day as the first: merged
                dt.datetime(2024, 1, 11, 12),
                dt.datetime(2024, 2, 5),  # in the holdout
                dt.datetime(2024, 1, 20),
                dt.datetime(2024, 2, 10),  # first purchase after calibration: not a customer yet
                dt.datetime(2024, 2, 11),
            ],
            "order_total": [10.0, 5.0, 30.0, 7.0, 20.0, 1.0, 1.0],
        }
    )
    out = customer_summary(orders, calibration_end=dt.date(2024, 1, 31), holdout_end=dt.date(2024, 2, 29))
    assert out.to_dicts() == [
        {"customer_id": "a", "frequency": 1, "recency": 10.0, "T": 30.0, "monetary_value": 30.0,
         "holdout_purchases": 1, "holdout_revenue": 7.0},
        {"customer_id": "b", "frequency": 0, "recency": 0.0, "T": 11.0, "monetary_value": None,
         "holdout_purchases": 0, "holdout_revenue": 0.0},
    ]
    unmerged = customer_summary(orders, calibration_end=dt.datetime(2024, 1, 31), merge_same_day=False, time_unit_days=7.0)
    a = unmerged.filter(pl.col("customer_id") == "a").row(0, named=True)
    assert a["frequency"] == 2
    assert a["recency"] == pytest.approx((10 + 3 / 24) / 7)
    assert a["monetary_value"] == pytest.approx(17.5)
