"""Gamma-Gamma: how much a customer spends per order.

Fader, Hardie & Lee (2005), "RFM and CLV: using iso-value curves for customer base
analysis", Journal of Marketing Research 42(4), and Fader & Hardie (2013) "The Gamma-Gamma
model of monetary value". Order values of a customer are Gamma(shape=p, rate=nu) with
nu ~ Gamma(shape=q, rate=gamma) across customers, so a customer's mean order value is
p/nu and the population mean is p*gamma/(q-1) (finite only for q > 1).

Fitted on the customers with at least one repeat purchase (x > 0), on the mean value of
their repeat purchases, as in the paper: the first order is often special (welcome
discounts, a different basket) and the model assumes it away. The model also assumes
spend is independent of purchase frequency; ``GammaGammaFit.frequency_monetary_correlation``
reports the correlation so a caller can check.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
import polars as pl
from scipy.special import digamma, gammaln

from ecom_growth.clv._common import (
    as_float_array,
    fit_frame,
    fit_log_params,
    numeric_column,
    require_columns,
    weight_column,
)

logger = logging.getLogger(__name__)

PARAMETER_NAMES = ("p", "q", "gamma")


@dataclass(frozen=True)
class GammaGammaFit:
    """Maximum likelihood Gamma-Gamma estimates (currency of the monetary values).

    ``n_customers`` counts the repeat buyers the model was fitted on (sum of weights).
    ``frequency_monetary_correlation`` is the (weighted) Pearson correlation of frequency
    and mean repeat order value among them; the model assumes it is near 0.
    """

    p: float
    q: float
    gamma: float
    p_se: float
    q_se: float
    gamma_se: float
    log_likelihood: float
    n_customers: int
    converged: bool
    frequency_monetary_correlation: float

    @property
    def params(self) -> np.ndarray:
        return np.array([self.p, self.q, self.gamma])

    @property
    def population_mean_order_value(self) -> float:
        """E[order value] = p*gamma/(q-1); infinite when q <= 1 (the fit then has no finite mean)."""
        return self.p * self.gamma / (self.q - 1) if self.q > 1 else float("inf")

    def to_frame(self) -> pl.DataFrame:
        """Long frame: model, parameter, estimate, standard_error, log_likelihood,
        n_customers, converged."""
        return fit_frame(
            "gamma_gamma",
            PARAMETER_NAMES,
            [self.p, self.q, self.gamma],
            [self.p_se, self.q_se, self.gamma_se],
            self.log_likelihood,
            self.n_customers,
            self.converged,
        )


def gamma_gamma_log_likelihood(params: object, x: object, monetary_value: object) -> np.ndarray:
    """Per-customer log density of the mean repeat order value m given x > 0 purchases:

    log[ Gamma(px+q) / (Gamma(px) Gamma(q)) * gamma^q * m^(px-1) * x^(px) / (gamma + x m)^(px+q) ]

    (the sum of x Gamma(p, nu) values is Gamma(px, nu); integrate nu out).
    """
    p, q, gamma = (float(v) for v in np.asarray(params, dtype=np.float64))
    x = np.asarray(x, dtype=np.float64)
    m = np.asarray(monetary_value, dtype=np.float64)
    px = p * x
    return (
        gammaln(px + q)
        - gammaln(px)
        - gammaln(q)
        + q * np.log(gamma)
        + (px - 1) * np.log(m)
        + px * np.log(x)
        - (px + q) * np.log(gamma + x * m)
    )


@dataclass(frozen=True)
class _FitData:
    """Repeat buyers' data with everything that does not depend on the parameters
    precomputed: per distinct x for the gammaln/digamma terms, sums for the log m terms.
    Only log(gamma + x m) and 1/(gamma + x m) run over every customer per evaluation."""

    w: np.ndarray
    wx: np.ndarray  # w * x
    xm: np.ndarray  # x * m
    x_values: np.ndarray
    x_weight: np.ndarray
    sum_w_log_m: float
    sum_wx_log_m: float

    @classmethod
    def build(cls, x: np.ndarray, m: np.ndarray, w: np.ndarray) -> _FitData:
        x_values, x_index = np.unique(x, return_inverse=True)
        log_m = np.log(m)
        return cls(
            w=w,
            wx=w * x,
            xm=x * m,
            x_values=x_values,
            x_weight=np.bincount(x_index.reshape(-1), weights=w, minlength=len(x_values)),
            sum_w_log_m=float(np.dot(w, log_m)),
            sum_wx_log_m=float(np.dot(w * x, log_m)),
        )


def _neg_ll_and_grad(log_params: np.ndarray, data: _FitData) -> tuple[float, np.ndarray]:
    """Total weighted negative log-likelihood and its gradient in log-parameters.

    sum_i w_i ll_i = sum_u W_u [gammaln(pu+q) - gammaln(pu) + pu log u]
                     - W gammaln(q) + W q log gamma + p S_xlogm - S_logm
                     - sum_i w_i (p x_i + q) log(gamma + x_i m_i)
    with u the distinct frequencies and W_u their total weight.
    """
    p, q, gamma = np.exp(log_params)
    u, wu = data.x_values, data.x_weight
    total_w = float(wu.sum())
    pu = p * u
    log_u = np.log(u)
    log_g_xm = np.log(gamma + data.xm)
    inv_g_xm = 1.0 / (gamma + data.xm)
    sum_w_l = float(np.dot(data.w, log_g_xm))
    sum_wx_l = float(np.dot(data.wx, log_g_xm))
    psi_puq = digamma(pu + q)
    ll = (
        float(np.dot(wu, gammaln(pu + q) - gammaln(pu) + pu * log_u))
        - total_w * gammaln(q)
        + total_w * q * np.log(gamma)
        + p * data.sum_wx_log_m
        - data.sum_w_log_m
        - p * sum_wx_l
        - q * sum_w_l
    )
    d_p = float(np.dot(wu, u * (psi_puq - digamma(pu) + log_u))) + data.sum_wx_log_m - sum_wx_l
    d_q = float(np.dot(wu, psi_puq)) - total_w * digamma(q) + total_w * np.log(gamma) - sum_w_l
    d_gamma = total_w * q / gamma - p * float(np.dot(data.wx, inv_g_xm)) - q * float(np.dot(data.w, inv_g_xm))
    return -float(ll), -np.array([p * d_p, q * d_q, gamma * d_gamma])


def fit_gamma_gamma(
    summary: pl.DataFrame,
    *,
    frequency: str = "frequency",
    monetary_value: str = "monetary_value",
    weights: str | None = None,
    initial_params: tuple[float, float, float] | None = None,
    max_iter: int = 1000,
) -> GammaGammaFit:
    """Fit Gamma-Gamma by maximum likelihood on the repeat buyers of a per-customer summary.

    Rows with frequency 0 are ignored (their monetary value may be null or anything), and so
    are repeat buyers whose mean spend is exactly 0 (logged). Raises ValueError for missing
    columns, an empty summary, nobody with frequency > 0 and positive spend, or a repeat
    buyer whose monetary value is null or negative.
    """
    what = "fit_gamma_gamma"
    require_columns(summary, [frequency, monetary_value], what=what)
    if summary.height == 0:
        raise ValueError(f"{what}: no customers to fit")
    x_all = numeric_column(summary, frequency, what=what)
    if np.any(x_all < 0) or np.any(x_all != np.floor(x_all)):
        raise ValueError(f"{what}: {frequency!r} must be a whole number >= 0")
    w_all = weight_column(summary, weights, what=what)
    repeat = (x_all > 0) & (w_all > 0)
    if not np.any(repeat):
        raise ValueError(
            f"{what}: no repeat buyers ({frequency} > 0); Gamma-Gamma cannot be fitted. "
            "Fall back to a population mean order value instead."
        )
    buyers = summary.filter(pl.Series(repeat))
    m = numeric_column(buyers, monetary_value, what=f"{what} (customers with {frequency} > 0)")
    if np.any(m < 0):
        raise ValueError(f"{what}: {monetary_value!r} must be >= 0 for customers with {frequency} > 0")
    # A zero mean spend (free or fully discounted repeat orders) has zero density under the
    # model; those customers carry no information about spend and are left out of the fit
    # (expected_average_order_value still handles them).
    positive = m > 0
    if not np.all(positive):
        logger.warning("%s: %d repeat buyer(s) with %s = 0 left out of the fit", what, int((~positive).sum()), monetary_value)
    if not np.any(positive):
        raise ValueError(f"{what}: no repeat buyers with {monetary_value!r} > 0; Gamma-Gamma cannot be fitted")
    m = m[positive]
    repeat[np.flatnonzero(repeat)[~positive]] = False
    x = x_all[repeat]
    w = w_all[repeat]
    total_weight = float(w.sum())

    if initial_params is None:
        # p = 1, q = 3 and gamma matching the observed mean: p*gamma/(q-1) = mean(m).
        mean_m = float(np.dot(w, m) / total_weight)
        initial_params = (1.0, 3.0, 2.0 * mean_m)
    x0 = np.log(np.asarray(initial_params, dtype=np.float64))
    data = _FitData.build(x, m, w)
    result = fit_log_params(
        lambda th: _neg_ll_and_grad(th, data),
        x0,
        total_weight,
        max_iter=max_iter,
        model="Gamma-Gamma",
    )
    p, q, gamma = result.params
    p_se, q_se, gamma_se = result.standard_errors
    return GammaGammaFit(
        p=float(p),
        q=float(q),
        gamma=float(gamma),
        p_se=float(p_se),
        q_se=float(q_se),
        gamma_se=float(gamma_se),
        log_likelihood=result.log_likelihood,
        n_customers=int(round(total_weight)),
        converged=result.converged,
        frequency_monetary_correlation=_weighted_correlation(x, m, w),
    )


def _weighted_correlation(x: np.ndarray, y: np.ndarray, w: np.ndarray) -> float:
    if len(x) < 2:
        return float("nan")
    wn = w / w.sum()
    dx = x - np.dot(wn, x)
    dy = y - np.dot(wn, y)
    denominator = np.sqrt(np.dot(wn, dx * dx) * np.dot(wn, dy * dy))
    return float(np.dot(wn, dx * dy) / denominator) if denominator > 0 else float("nan")


def expected_average_order_value(
    fit: GammaGammaFit | object, x: object, monetary_value: object
) -> np.ndarray:
    """E[order value | x, mean repeat order value m] = p (gamma + x m) / (p x + q - 1).

    A credibility-weighted mix of the population mean p*gamma/(q-1) and the customer's own
    mean m, with weight p x / (p x + q - 1) on m: the more repeat orders, the more the
    customer's own history counts. For x = 0 it is the population mean whatever m is (m may
    be NaN there). Needs q > 1 for customers with x = 0.
    """
    if isinstance(fit, GammaGammaFit):
        p, q, gamma = fit.p, fit.q, fit.gamma
    else:
        p, q, gamma = (float(v) for v in np.asarray(fit, dtype=np.float64))
    x_arr = as_float_array(x, name="expected_average_order_value: frequency")
    m_arr = np.asarray(monetary_value, dtype=np.float64)
    x_arr, m_arr = np.broadcast_arrays(x_arr, m_arr)
    if np.any(x_arr < 0):
        raise ValueError("expected_average_order_value: frequency must be >= 0")
    has_repeat = x_arr > 0
    if np.any(has_repeat & ~(np.isfinite(m_arr) & (m_arr >= 0))):
        raise ValueError(
            "expected_average_order_value: monetary_value must be finite and >= 0 where frequency > 0"
        )
    if np.any(~has_repeat) and q <= 1:
        raise ValueError(
            "expected_average_order_value: q <= 1, the population mean order value is infinite; "
            "customers with frequency 0 need a finite fallback"
        )
    m_used = np.where(has_repeat, m_arr, 0.0)
    return p * (gamma + x_arr * m_used) / (p * x_arr + q - 1)
