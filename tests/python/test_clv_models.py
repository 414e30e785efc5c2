"""Tests for the purchase-model family (MBG/NBD, Pareto/NBD), the candidate selection, the
value metrics of the holdout evaluation and the expected next order date.

Likelihoods are checked against the published formulas written out here (MBG/NBD: Batislam
et al. 2007; Pareto/NBD: the hypergeometric form of Fader & Hardie 2005 with its alpha >= beta /
alpha < beta cases), the death integral against adaptive quadrature, the fits against exact
simulations of each process (tolerances from the fitted standard errors).
"""

from __future__ import annotations

import math

import numpy as np
import polars as pl
import pytest
from scipy.integrate import quad
from scipy.special import betaln, hyp2f1

from ecom_growth.clv import bgnbd_log_likelihood, fit_bgnbd
from ecom_growth.clv import pareto_nbd as pareto_nbd_module
from ecom_growth.clv.bgnbd import (
    _FitData,
    _neg_ll_and_grad,
    p_alive,
    probability_of_purchase_within,
    time_to_next_purchase,
)
from ecom_growth.clv.evaluation import group_metrics, spearman, value_decile
from ecom_growth.clv.mbgnbd import MBGNBDFit, fit_mbgnbd
from ecom_growth.clv.pareto_nbd import (
    _log_death_integral,
    fit_pareto_nbd,
    pareto_nbd_expected_purchases,
    pareto_nbd_log_likelihood,
    pareto_nbd_p_alive,
)
from ecom_growth.clv.pipeline import BASELINE, rank_candidates
from ecom_growth.clv.purchase_models import expected_purchases

MBG_TRUTH = {"r": 0.75, "alpha": 60.0, "a": 0.9, "b": 3.5}
PARETO_TRUTH = {"r": 0.75, "alpha": 60.0, "s": 0.6, "beta": 300.0}


def _summary(owner: np.ndarray, times: np.ndarray, T: np.ndarray) -> pl.DataFrame:
    """(frequency, recency, T) from repeat-purchase times (time 0 = first purchase)."""
    n = len(T)
    seen = times <= T[owner]
    x = np.bincount(owner[seen], minlength=n)
    t_x = np.zeros(n)
    np.maximum.at(t_x, owner[seen], times[seen])
    return pl.DataFrame({"frequency": x, "recency": t_x, "T": T})


def _repeat_times(rng: np.random.Generator, lam: np.ndarray, k: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    owner = np.repeat(np.arange(len(lam)), k)
    cumulative = np.cumsum(rng.exponential(1.0, int(k.sum())) / lam[owner])
    start = np.cumsum(k) - k
    return owner, cumulative - np.concatenate([[0.0], cumulative])[start][owner]


def simulate_mbgnbd(n: int, seed: int) -> pl.DataFrame:
    """Exact MBG/NBD: death with probability p right after EVERY purchase, the first included,
    so the number of repeat purchases before death is Geometric(p) - 1 on {0, 1, ...}."""
    rng = np.random.default_rng(seed)
    lam = rng.gamma(MBG_TRUTH["r"], 1 / MBG_TRUTH["alpha"], n)
    p = rng.beta(MBG_TRUTH["a"], MBG_TRUTH["b"], n)
    T = rng.uniform(30, 730, n)
    k = np.minimum(rng.geometric(p) - 1, np.ceil(lam * T * 3 + 30).astype(np.int64))
    owner, times = _repeat_times(rng, lam, k)
    return _summary(owner, times, T)


def simulate_pareto_nbd(n: int, seed: int) -> pl.DataFrame:
    """Exact Pareto/NBD: Poisson(lambda) purchases until an Exponential(mu) lifetime ends."""
    rng = np.random.default_rng(seed)
    lam = rng.gamma(PARETO_TRUTH["r"], 1 / PARETO_TRUTH["alpha"], n)
    mu = rng.gamma(PARETO_TRUTH["s"], 1 / PARETO_TRUTH["beta"], n)
    T = rng.uniform(30, 730, n)
    lifetime = rng.exponential(1 / mu)
    end = np.minimum(lifetime, T)
    k = rng.poisson(lam * end)
    # Given k purchases in (0, end], their times are uniform order statistics.
    owner = np.repeat(np.arange(n), k)
    times = rng.uniform(0, 1, int(k.sum())) * end[owner]
    return _summary(owner, times, T)


def _assert_within_4_standard_errors(fit: object, truth: dict[str, float]) -> None:
    assert fit.converged
    for name, planted in truth.items():
        estimate, se = getattr(fit, name), getattr(fit, f"{name}_se")
        assert abs(estimate - planted) <= 4 * se, (name, estimate, se)


# --- MBG/NBD -------------------------------------------------------------------------------------


def _mbg_paper(params, x, t_x, T):
    r, alpha, a, b = params
    common = math.lgamma(r + x) - math.lgamma(r) + r * math.log(alpha)
    first = math.exp(betaln(a, b + x + 1) - betaln(a, b) + common - (r + x) * math.log(alpha + T))
    second = math.exp(betaln(a + 1, b + x) - betaln(a, b) + common - (r + x) * math.log(alpha + t_x))
    return math.log(first + second)


@pytest.mark.parametrize(("x", "t_x", "T"), [(0, 0.0, 40.0), (1, 5.0, 40.0), (7, 300.0, 700.0)])
def test_mbgnbd_likelihood_is_the_published_formula(x, t_x, T):
    params = (0.75, 60.0, 0.9, 3.5)
    got = bgnbd_log_likelihood(params, x, t_x, T, dropout_at_first=1)
    assert float(got) == pytest.approx(_mbg_paper(params, x, t_x, T), rel=1e-12)


def test_mbgnbd_gradient_matches_numeric_differences():
    data = simulate_mbgnbd(500, seed=1)
    x, t_x, T = (data[c].to_numpy().astype(float) for c in ("frequency", "recency", "T"))
    fit_data = _FitData.build(x, t_x, T, np.ones(len(x)))
    theta = np.log([0.8, 50.0, 1.1, 3.0])
    _, grad = _neg_ll_and_grad(theta, fit_data, 1)
    for j in range(4):
        step = np.zeros(4)
        step[j] = 1e-6
        numeric = (_neg_ll_and_grad(theta + step, fit_data, 1)[0] - _neg_ll_and_grad(theta - step, fit_data, 1)[0]) / 2e-6
        assert grad[j] == pytest.approx(numeric, rel=1e-5, abs=1e-4)


def test_mbgnbd_p_alive_of_a_one_time_buyer_is_below_one():
    fit = MBGNBDFit(0.75, 60.0, 0.9, 3.5, *[0.1] * 4, -1.0, 1, True)
    formula = 1 / (1 + 0.9 / 3.5 * ((60.0 + 100.0) / 60.0) ** 0.75)
    assert float(p_alive(fit, 0, 0.0, 100.0)) == pytest.approx(formula)
    assert float(p_alive((0.75, 60.0, 0.9, 3.5), 0, 0.0, 100.0)) == 1.0  # BG/NBD: certainly alive


def test_mbgnbd_fit_recovers_its_parameters_and_beats_bgnbd_on_its_data():
    data = simulate_mbgnbd(20_000, seed=5)
    fit = fit_mbgnbd(data)
    _assert_within_4_standard_errors(fit, MBG_TRUTH)
    assert fit.log_likelihood > fit_bgnbd(data).log_likelihood


@pytest.mark.parametrize("fit", [(0.75, 60.0, 0.9, 3.5), MBGNBDFit(0.75, 60.0, 0.9, 3.5, *[0.1] * 4, -1.0, 1, True)])
def test_expected_purchases_start_at_the_posterior_rate_of_an_alive_customer(fit):
    # For small t: E = p_alive * (r+x)/(alpha+T) * t.
    x, t_x, T = np.array([0.0, 3.0]), np.array([0.0, 50.0]), np.array([80.0, 120.0])
    rate = p_alive(fit, x, t_x, T) * (0.75 + x) / (60.0 + T)
    np.testing.assert_allclose(expected_purchases(fit, 1e-4, x, t_x, T), rate * 1e-4, rtol=1e-3)


# --- Pareto/NBD -----------------------------------------------------------------------------------


def _pareto_paper(params, x, t_x, T):
    """Fader & Hardie (2005) eq. (22) with A0 through 2F1, both cases of alpha vs beta."""
    r, alpha, s, beta = params
    rsx = r + s + x
    if alpha >= beta:
        z = lambda t: (alpha - beta) / (alpha + t)  # noqa: E731
        term = lambda t: hyp2f1(rsx, s + 1, rsx + 1, z(t)) / (alpha + t) ** rsx  # noqa: E731
    else:
        z = lambda t: (beta - alpha) / (beta + t)  # noqa: E731
        term = lambda t: hyp2f1(rsx, r + x, rsx + 1, z(t)) / (beta + t) ** rsx  # noqa: E731
    a0 = term(t_x) - term(T)
    log_c = math.lgamma(r + x) - math.lgamma(r) + r * math.log(alpha) + s * math.log(beta)
    return log_c + math.log(1 / ((alpha + T) ** (r + x) * (beta + T) ** s) + s / rsx * a0)


@pytest.mark.parametrize("params", [(0.55, 10.5, 0.6, 12.0), (0.75, 60.0, 0.5, 200.0), (0.75, 300.0, 0.6, 20.0)])
@pytest.mark.parametrize(("x", "t_x", "T"), [(0, 0.0, 200.0), (2, 30.0, 200.0), (6, 150.0, 400.0)])
def test_pareto_nbd_likelihood_is_the_published_formula_in_both_cases(params, x, t_x, T):
    got = float(pareto_nbd_log_likelihood(params, x, t_x, T)[0])
    assert got == pytest.approx(_pareto_paper(params, x, t_x, T), rel=1e-6)


@pytest.mark.parametrize(("x", "t_x", "T"), [(20.0, 20.0, 700.0), (200.0, 10.0, 700.0), (5.0, 699.99, 700.0)])
def test_pareto_nbd_death_integral_is_accurate_where_the_2f1_form_is_not(x, t_x, T):
    # Large x, or t_x next to T (the 2F1 form is then a difference of two nearly equal numbers).
    r, alpha, s, beta = 0.55, 10.5, 0.6, 12.0
    log_f = lambda y: -(r + x) * math.log(alpha + y) - (s + 1) * math.log(beta + y)  # noqa: E731
    value, _ = quad(lambda y: math.exp(log_f(y) - log_f(t_x)), t_x, T, epsabs=0, epsrel=1e-12, limit=500)
    expected = math.log(value) + log_f(t_x)
    got = float(_log_death_integral(r, alpha, s, beta, np.array([x]), np.array([t_x]), np.array([T]))[0])
    assert got == pytest.approx(expected, abs=1e-4)


def _pareto_rows() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """x = 0 rows, t_x = T rows (no death integral), t_x next to T, large x; unequal weights."""
    rng = np.random.default_rng(11)
    T = rng.uniform(1.0, 700.0, 300)
    x = rng.poisson(2.0, 300).astype(float)
    t_x = np.where(x > 0, T * rng.uniform(0.0, 1.0, 300), 0.0)
    x[:3], t_x[:3] = (1.0, 4.0, 60.0), T[:3]
    t_x[3] = T[3] * (1 - 1e-9) if x[3] > 0 else 0.0
    x[4], t_x[4] = 150.0, 0.5 * T[4]
    return x, t_x, T, rng.uniform(0.5, 2.0, 300)


@pytest.mark.parametrize("params", [(0.75, 60.0, 0.6, 300.0), (1.5, 500.0, 2.0, 40.0), (1.4, 127.0, 5.5, 2224.0)])
def test_pareto_nbd_analytic_gradient_matches_differences_of_the_public_likelihood(params):
    # Both cases of alpha vs beta; the gradient is in log-parameters, of the weighted total.
    x, t_x, T, w = _pareto_rows()
    theta = np.log(params)
    value, grad = pareto_nbd_module._neg_ll_and_grad(theta, x, t_x, T, w)

    def total(th: np.ndarray) -> float:
        return -float(np.dot(w, pareto_nbd_log_likelihood(np.exp(th), x, t_x, T)))

    assert value == pytest.approx(total(theta), rel=1e-12)
    step = 1e-3  # Richardson extrapolation of central differences: error O(step^4)
    numeric = [
        (8 * (total(theta + e / 2) - total(theta - e / 2)) - (total(theta + e) - total(theta - e))) / (6 * step)
        for e in np.eye(4) * step
    ]
    np.testing.assert_allclose(grad, numeric, rtol=1e-6)


def test_pareto_nbd_likelihood_does_not_depend_on_the_quadrature_block(monkeypatch):
    x, t_x, T, w = _pareto_rows()
    theta = np.log([0.75, 60.0, 0.6, 300.0])
    whole = pareto_nbd_module._neg_ll_and_grad(theta, x, t_x, T, w)
    monkeypatch.setattr(pareto_nbd_module, "_BLOCK_ROWS", 7)
    blocked = pareto_nbd_module._neg_ll_and_grad(theta, x, t_x, T, w)
    # Row by row the same operations; only the summation kernels may round differently.
    assert blocked[0] == pytest.approx(whole[0], rel=1e-14)
    np.testing.assert_allclose(blocked[1], whole[1], rtol=1e-12)


def test_pareto_nbd_fit_recovers_its_parameters():
    data = simulate_pareto_nbd(6000, seed=3)
    _assert_within_4_standard_errors(fit_pareto_nbd(data), PARETO_TRUTH)


def test_pareto_nbd_predictions():
    params = (0.75, 60.0, 0.6, 300.0)
    # p_alive: the alive term over the whole likelihood.
    x, t_x, T = 2.0, 30.0, 200.0
    log_alive = (
        math.lgamma(2.75) - math.lgamma(0.75) + 0.75 * math.log(60) + 0.6 * math.log(300)
        - 2.75 * math.log(260) - 0.6 * math.log(500)
    )
    expected = math.exp(log_alive - _pareto_paper(params, x, t_x, T))
    assert float(pareto_nbd_p_alive(params, x, t_x, T)[0]) == pytest.approx(expected, rel=1e-6)
    # Expected purchases: continuous through s = 1 and p_alive * rate * t for small t.
    near = [float(pareto_nbd_expected_purchases((0.75, 60.0, s, 300.0), 90.0, x, t_x, T)[0]) for s in (1 - 1e-7, 1.0, 1 + 1e-7)]
    assert near[0] == pytest.approx(near[1], rel=1e-5) and near[2] == pytest.approx(near[1], rel=1e-5)
    small = float(pareto_nbd_expected_purchases(params, 1e-4, x, t_x, T)[0])
    assert small == pytest.approx(float(pareto_nbd_p_alive(params, x, t_x, T)[0]) * 2.75 / 260 * 1e-4, rel=1e-3)


# --- selection --------------------------------------------------------------------------------------


def test_selection_prefers_the_lower_holdout_error_when_it_is_clear():
    rng = np.random.default_rng(0)
    base = rng.uniform(0, 1, 5000)
    errors = {"bgnbd": base + 0.2, "mbgnbd": base, "pareto_nbd": base + 0.5, BASELINE: base + 1.0}
    likelihoods = {"bgnbd": -10.0, "mbgnbd": -20.0, "pareto_nbd": -5.0, BASELINE: None}
    ok = dict.fromkeys(errors, True)
    assert rank_candidates(errors, likelihoods, ok) == ["mbgnbd", "bgnbd", "pareto_nbd", BASELINE]


def test_selection_breaks_a_holdout_tie_by_the_calibration_likelihood():
    rng = np.random.default_rng(1)
    base = rng.uniform(0, 1, 500)
    noise = rng.normal(0, 0.05, 500)
    errors = {"bgnbd": base + noise, "mbgnbd": base, "pareto_nbd": base + 0.5, BASELINE: base + 1.0}
    likelihoods = {"bgnbd": -10.0, "mbgnbd": -20.0, "pareto_nbd": -5.0, BASELINE: None}
    ranking = rank_candidates(errors, likelihoods, dict.fromkeys(errors, True))
    assert ranking[:2] == ["bgnbd", "mbgnbd"]


def test_squared_error_selects_the_unbiased_expectation_where_absolute_error_would_not():
    # Most customers buy nothing: a model predicting half the true mean is closer to the median
    # (0) and wins on absolute error, but the expectation is what the models predict and what
    # value is built on. The selection's squared error picks the unbiased one, even though the
    # biased one has the higher calibration likelihood (no tie: ~10 paired standard errors).
    rng = np.random.default_rng(2)
    mean = np.full(5000, 0.3)
    actual = rng.poisson(mean).astype(float)
    predicted = {"bgnbd": mean, "mbgnbd": 0.5 * mean, "pareto_nbd": 0.5 * mean, BASELINE: 2 * mean}
    absolute = {m: np.abs(p - actual) for m, p in predicted.items()}
    assert absolute["mbgnbd"].mean() < absolute["bgnbd"].mean()
    squared = {m: (p - actual) ** 2 for m, p in predicted.items()}
    likelihoods = {"bgnbd": -30.0, "mbgnbd": -10.0, "pareto_nbd": -20.0, BASELINE: None}
    ok = dict.fromkeys(predicted, True)
    assert rank_candidates(squared, likelihoods, ok)[0] == "bgnbd"
    assert rank_candidates(absolute, likelihoods, ok)[0] == "mbgnbd"


def test_selection_skips_degraded_models_and_falls_back_to_the_baseline():
    errors = {m: np.zeros(10) for m in ("bgnbd", "mbgnbd", "pareto_nbd", BASELINE)}
    likelihoods = dict.fromkeys(errors, -1.0)
    ok = {"bgnbd": False, "mbgnbd": True, "pareto_nbd": False, BASELINE: True}
    assert rank_candidates(errors, likelihoods, ok) == ["mbgnbd", "bgnbd", "pareto_nbd", BASELINE]
    none_ok = {m: m == BASELINE for m in errors}
    assert rank_candidates(errors, likelihoods, none_ok)[0] == BASELINE


# --- value metrics ------------------------------------------------------------------------------------


def test_group_metrics_by_hand():
    frame = pl.DataFrame({
        "customer_id": ["a", "b", "c", "d", "e"],
        "g": ["x"] * 5,
        "predicted_purchases": [1.0, 0.5, 0.0, 2.0, 1.0],
        "actual_purchases": [1.0, 1.0, 0.0, 1.0, 0.0],
        "predicted_value": [50.0, 40.0, 30.0, 20.0, 10.0],
        "actual_value": [10.0, 100.0, 0.0, 40.0, 50.0],
    })
    row = group_metrics(frame, "g").row(0, named=True)
    assert row["n_customers"] == 5
    assert row["purchases_mae"] == pytest.approx((0 + 0.5 + 0 + 1 + 1) / 5)
    assert row["purchases_rmse"] == pytest.approx(((0 + 0.25 + 0 + 1 + 1) / 5) ** 0.5)
    assert row["revenue_mae"] == pytest.approx((40 + 60 + 30 + 20 + 40) / 5)
    # Top 20% of 5 = 1 customer (a, predicted 50): 10 of the 200 actual.
    assert row["top20_revenue_capture"] == pytest.approx(10 / 200)
    assert row["revenue_spearman"] == pytest.approx(spearman(frame["predicted_value"].to_numpy(), frame["actual_value"].to_numpy()))
    assert row["revenue_spearman"] == pytest.approx(1 - 6 * (9 + 1 + 4 + 1 + 9) / (5 * 24))  # no ties: classic formula
    assert row["revenue_relative_error"] == pytest.approx((150 - 200) / 200)


def test_value_deciles_have_equal_counts_and_break_ties_by_customer():
    ids = pl.Series([f"c{i:02d}" for i in range(20)])
    deciles = value_decile(pl.Series([1.0] * 20), ids)
    assert deciles.to_list() == [d for d in range(1, 11) for _ in range(2)]
    assert value_decile(pl.Series([float(i) for i in range(20)]), ids).to_list()[-1] == 1


# --- expected next order --------------------------------------------------------------------------


def test_time_to_next_purchase_inverts_the_probability_of_a_purchase():
    params = (0.75, 60.0, 0.9, 3.5)
    x, t_x, T = np.array([5.0, 1.0]), np.array([300.0, 100.0]), np.array([310.0, 200.0])
    t = time_to_next_purchase(params, x, t_x, T, probability=0.5)
    np.testing.assert_allclose(probability_of_purchase_within(params, t, x, t_x, T), 0.5, rtol=1e-9)


def test_a_regular_recent_buyer_gets_a_near_date_and_a_lapsed_one_none():
    params = (0.75, 60.0, 0.9, 3.5)
    # Ten purchases, every 30 days, the last 5 days ago vs the same history ending 400 days ago.
    x, t_x = np.array([10.0, 10.0]), np.array([300.0, 300.0])
    T = np.array([305.0, 700.0])
    alive = p_alive(params, x, t_x, T)
    t = time_to_next_purchase(params, x, t_x, T, probability=0.5)
    assert alive[0] > 0.9 and 10 < t[0] < 60  # about one purchase gap
    assert alive[1] < 0.5 and np.isnan(t[1])
    # A one-time buyer under BG/NBD is alive (p = 1): the date is far (rate ~ r/(alpha+T)).
    assert float(time_to_next_purchase(params, 0.0, 0.0, 400.0, probability=0.5)) > 365
    with pytest.raises(ValueError):
        time_to_next_purchase(params, x, t_x, T, probability=1.0)
