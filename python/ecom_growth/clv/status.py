"""When a shop's data cannot identify the CLV models: say why, and fall back to simple estimates.

A real shop can hand the models data they cannot learn from: nobody came back (no repeat
purchase), everybody keeps buying (no dropout to learn), every order costs the same (no spend
variation), or just too few customers. Rather than failing the build, each model gets a
status -- 'ok', or 'degraded' with a reason in words -- and its predictions come from a
documented simple estimate instead:

Purchases (BG/NBD degraded): the no-dropout limit of BG/NBD with a one-purchase prior,
    rate_i = (x_i + 1) / (T_i + beta),   beta = sum(T) / sum(x)  (mean time per repeat purchase)
i.e. each customer's own repeat-purchase rate shrunk towards the pooled rate by one pseudo
purchase; expected purchases in t = rate_i * t, p_alive = 1 (no dropout is modelled). Nobody
with a repeat purchase: rate 0, so 0 expected purchases (the limit the BG/NBD fit runs to).

Spend (Gamma-Gamma degraded): when order values do not vary within customers, the customer's
own average order value (then it is exact); otherwise the population mean order value (all
completed revenue / completed orders).

Checks happen in two places: on the data before a fit (too few customers or repeat buyers,
no within-customer spend variation) so a hopeless fit is not attempted, and on the fit after
it (optimiser failure, a parameter at the +-exp(20) box, a singular Hessian, a vanishing
dropout probability), because some data problems only show up as a runaway parameter.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from ecom_growth.clv._common import LOG_PARAM_BOUND
from ecom_growth.clv.bgnbd import PARAMETER_NAMES as BGNBD_PARAMETERS
from ecom_growth.clv.bgnbd import BGNBDFit
from ecom_growth.clv.gamma_gamma import PARAMETER_NAMES as GAMMA_GAMMA_PARAMETERS
from ecom_growth.clv.gamma_gamma import GammaGammaFit
from ecom_growth.clv.pareto_nbd import PARAMETER_NAMES as PARETO_PARAMETERS
from ecom_growth.clv.pareto_nbd import ParetoNBDFit

OK = "ok"
DEGRADED = "degraded"
# Mean dropout probability a/(a+b) below which "nobody drops out": a and b are then not
# identified (only their ratio runs to 0), whatever the optimiser reports.
MIN_MEAN_DROPOUT = 1e-4
# Pooled within-customer coefficient of variation of repeat order values treated as zero
# (prices in cents: identical values give exactly 0).
MIN_WITHIN_CUSTOMER_CV = 1e-6
# The same degeneracy seen in a fit: Gamma-Gamma's within-customer CV of order values is
# 1/sqrt(p). Without variation the likelihood keeps rising as p grows, and where the optimiser
# stops is up to floating point (seen: the +-exp(20) box on one CPU, p = 2e4 with finite standard
# errors on another). A fitted CV under 1% (p > 1e4; real shops: 0.2-1, the simulator ~0.5) is
# that case.
MIN_FITTED_SPEND_CV = 0.01
BGNBD_FALLBACK = "a no-dropout Poisson estimate (own repeat rate shrunk to the pooled rate, p_alive 1)"


@dataclass(frozen=True)
class ModelStatus:
    """'ok' with no reason, or 'degraded' with a reason in words (what is wrong, what was used)."""

    status: str
    reason: str | None = None

    def __post_init__(self) -> None:
        if self.status not in (OK, DEGRADED):
            raise ValueError(f"status must be {OK!r} or {DEGRADED!r}, got {self.status!r}")
        if (self.status == DEGRADED) != bool(self.reason):
            raise ValueError("a degraded status needs a reason and an ok status has none")

    @property
    def is_ok(self) -> bool:
        return self.status == OK

    @classmethod
    def ok(cls) -> ModelStatus:
        return cls(OK)

    @classmethod
    def degraded(cls, reason: str) -> ModelStatus:
        return cls(DEGRADED, reason)


def combined_status(statuses: Mapping[str, ModelStatus]) -> ModelStatus:
    """One status for a table fed by several models: degraded if any is, reasons prefixed by model."""
    reasons = [f"{name}: {s.reason}" for name, s in statuses.items() if not s.is_ok]
    return ModelStatus.degraded("; ".join(reasons)) if reasons else ModelStatus.ok()


# --- data checks (before a fit) ------------------------------------------------------------------


def bgnbd_data_problem(x: np.ndarray, *, min_customers: int, min_repeat_buyers: int) -> str | None:
    """Why BG/NBD cannot be fitted on these repeat-purchase counts, or None."""
    n = len(x)
    repeat_buyers = int(np.count_nonzero(x > 0))
    if repeat_buyers == 0:
        return f"no customer made a repeat purchase ({n} customers), so purchase rate and dropout are not identified"
    if n < min_customers:
        return f"only {n} customers with a completed order (var clv_min_customers: {min_customers})"
    if repeat_buyers < min_repeat_buyers:
        return f"only {repeat_buyers} repeat buyers (var clv_min_repeat_buyers: {min_repeat_buyers})"
    return None


def within_customer_cv(x: np.ndarray, monetary_value: np.ndarray, repeat_stddev: np.ndarray | None) -> float | None:
    """Pooled within-customer coefficient of variation of repeat order values.

    sqrt(sum (x_i - 1) s_i^2 / sum (x_i - 1)) / mean(m_i) over customers with >= 2 repeat
    orders, s_i the sample standard deviation of their repeat order values. None when it
    cannot be measured (no such customers, or no standard deviations given).
    """
    if repeat_stddev is None:
        return None
    usable = (x >= 2) & np.isfinite(repeat_stddev) & np.isfinite(monetary_value)
    if not np.any(usable):
        return None
    dof = x[usable] - 1
    pooled_sd = float(np.sqrt(np.dot(dof, repeat_stddev[usable] ** 2) / dof.sum()))
    mean = float(np.mean(monetary_value[usable]))
    return pooled_sd / mean if mean > 0 else None


def order_values_are_constant_within_customers(cv: float | None) -> bool:
    return cv is not None and cv < MIN_WITHIN_CUSTOMER_CV


def gamma_gamma_data_problem(
    x: np.ndarray, monetary_value: np.ndarray, cv: float | None, *, min_repeat_buyers: int
) -> str | None:
    """Why Gamma-Gamma cannot be fitted on the repeat buyers' mean spend, or None."""
    positive = int(np.count_nonzero((x > 0) & np.isfinite(monetary_value) & (monetary_value > 0)))
    if positive == 0:
        return "no repeat buyer with a positive repeat order value"
    if order_values_are_constant_within_customers(cv):
        return "order values do not vary within customers (the spend shape parameters run to infinity)"
    if positive < min_repeat_buyers:
        return f"only {positive} repeat buyers with positive spend (var clv_min_repeat_buyers: {min_repeat_buyers})"
    return None


# --- fit checks (after a fit) ----------------------------------------------------------------


def _fit_problem(names: tuple[str, ...], params: np.ndarray, standard_errors: np.ndarray, converged: bool) -> str | None:
    log_params = np.log(params)
    at_bound = [
        f"{name} -> {'infinity' if lp > 0 else '0'}"
        for name, lp in zip(names, log_params)
        if abs(lp) >= LOG_PARAM_BOUND - 1e-6
    ]
    if at_bound:
        return f"the fit ran a parameter to its bound ({', '.join(at_bound)}): not identified on this data"
    if not np.all(np.isfinite(standard_errors)):
        return "the fit's Hessian is singular (no finite standard errors): parameters not identified"
    if not converged:
        return "the optimiser did not converge"
    return None


def bgnbd_fit_problem(fit: BGNBDFit) -> str | None:
    """Why a BG/NBD fit should not be used, or None. Nobody dropping out shows up as a -> 0 or
    b -> infinity (mean dropout a/(a+b) -> 0), often before either reaches the box."""
    mean_dropout = fit.a / (fit.a + fit.b)
    if mean_dropout < MIN_MEAN_DROPOUT:
        return (
            f"nobody appears to drop out (mean dropout probability a/(a+b) = {mean_dropout:.2e}), "
            "so dropout is not identified"
        )
    se = np.array([fit.r_se, fit.alpha_se, fit.a_se, fit.b_se])
    return _fit_problem(BGNBD_PARAMETERS, fit.params, se, fit.converged)


def purchase_fit_problem(fit: BGNBDFit | ParetoNBDFit) -> str | None:
    """Why a purchase model's fit (BG/NBD, MBG/NBD or Pareto/NBD) should not be used, or None.
    Pareto/NBD: nobody dying shows up as s -> 0 or beta -> infinity, caught by the box check."""
    if isinstance(fit, ParetoNBDFit):
        return _fit_problem(PARETO_PARAMETERS, fit.params, fit.standard_errors, fit.converged)
    return bgnbd_fit_problem(fit)


def gamma_gamma_fit_problem(fit: GammaGammaFit) -> str | None:
    """Why a Gamma-Gamma fit should not be used, or None."""
    se = np.array([fit.p_se, fit.q_se, fit.gamma_se])
    problem = _fit_problem(GAMMA_GAMMA_PARAMETERS, fit.params, se, fit.converged)
    cv = 1.0 / np.sqrt(fit.p)
    if problem is None and cv < MIN_FITTED_SPEND_CV:
        return (f"the fit puts the within-customer variation of order values at 1/sqrt(p) = {cv:.1e}: "
                "order values do not vary within customers, so p and q are not identified on this data")
    return problem


# --- fallbacks ----------------------------------------------------------------------------------


def fallback_purchase_rate(x: np.ndarray, T: np.ndarray) -> np.ndarray:
    """Repeat purchases per time unit: (x + 1) / (T + sum(T)/sum(x)); 0 for everyone when
    nobody has a repeat purchase. A Gamma(1, beta) prior on a Poisson rate with the pooled
    rate as its mean; the whole-population sum of T is floored at one time unit so a
    population observed for no time at all stays finite."""
    x = np.asarray(x, dtype=np.float64)
    T = np.asarray(T, dtype=np.float64)
    total_x = float(x.sum())
    if total_x <= 0:
        return np.zeros_like(x)
    beta = max(float(T.sum()), 1.0) / total_x
    return (x + 1.0) / (T + beta)


def fallback_order_value(
    average_order_value: np.ndarray, population_mean: float, *, constant_within_customers: bool
) -> np.ndarray:
    """Own average order value when order values do not vary within customers, else the
    population mean for everyone."""
    aov = np.asarray(average_order_value, dtype=np.float64)
    if constant_within_customers:
        return aov.copy()
    return np.full(len(aov), float(population_mean))


def spend_fallback_words(population_mean: float, *, constant_within_customers: bool) -> str:
    if constant_within_customers:
        return "each customer's own average order value"
    return f"the population mean order value ({population_mean:.2f})"
