"""Pareto/NBD: purchases at rate lambda while alive, death at any time at rate mu.

Schmittlein, Morrison & Colombo (1987); likelihood as in Fader & Hardie (2005), "A note on
deriving the Pareto/NBD model and related expressions". lambda ~ Gamma(r, alpha), lifetime
~ Exponential(mu), mu ~ Gamma(s, beta). Per customer (x repeat purchases, recency t_x, age T):

    L = Gamma(r+x) alpha^r beta^s / Gamma(r) * [ (alpha+T)^-(r+x) (beta+T)^-s + s * I ]
    I = integral_{t_x}^{T} (alpha+y)^-(r+x) (beta+y)^-(s+1) dy        (died at y, in (t_x, T])

The note writes I through 2F1(r+s+x, .; r+s+x+1; .) with a case split on alpha >= beta and
as a DIFFERENCE of two such terms, which loses every digit when t_x is close to T and makes
scipy's hyp2f1 wander for large r+s+x. Here I is computed as the positive integral it is:
with m = max(alpha, beta), A = r+s+x and y' = ((m+t_x)/(m+y))^A,

    I = (m+t_x)^-A / A * integral_{y'_T}^{1} k(y') dy',
    log k = -(r+x) log(1 - z_alpha v) - (s+1) log(1 - z_beta v),  v = y'^(1/A),
    z_alpha = (m-alpha)/(m+t_x), z_beta = (m-beta)/(m+t_x)   (one of them is 0),

a bounded, monotone integrand (between 1 and its value at t_x) integrated by Gauss-Legendre
in log space. The same case split (which parameter is the larger) is what keeps k bounded.
The gradient is taken by central differences (tests compare the integral with adaptive
quadrature and the fit with a simulation); identical (x, t_x, T) rows are collapsed first,
which day-level summaries make common. It is the slowest of the three candidates.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import polars as pl
from scipy.special import expit, gammaln

from ecom_growth.clv._common import (
    as_float_array,
    check_rfm_arrays,
    fit_frame,
    fit_log_params,
)
from ecom_growth.clv.bgnbd import _compress, _summary_arrays

logger = logging.getLogger(__name__)

PARAMETER_NAMES = ("r", "alpha", "s", "beta")
# Gauss-Legendre nodes for I: the integrand is bounded and monotone; 32 nodes keep log I
# within ~1e-5 of adaptive quadrature on the tests' cases (far below the likelihood's noise).
N_NODES = 32
_NODES, _WEIGHTS = np.polynomial.legendre.leggauss(N_NODES)
# Central-difference step on the log-parameters for the gradient.
GRADIENT_STEP = 1e-5


@dataclass(frozen=True)
class ParetoNBDFit:
    """Maximum likelihood Pareto/NBD estimates (time unit of the summary they were fitted on)."""

    MODEL: ClassVar[str] = "pareto_nbd"

    r: float
    alpha: float
    s: float
    beta: float
    r_se: float
    alpha_se: float
    s_se: float
    beta_se: float
    log_likelihood: float
    n_customers: int
    converged: bool

    @property
    def params(self) -> np.ndarray:
        return np.array([self.r, self.alpha, self.s, self.beta])

    @property
    def standard_errors(self) -> np.ndarray:
        return np.array([self.r_se, self.alpha_se, self.s_se, self.beta_se])

    def to_frame(self) -> pl.DataFrame:
        """Long frame like ``BGNBDFit.to_frame`` (parameters r, alpha, s, beta)."""
        return fit_frame(
            self.MODEL, PARAMETER_NAMES, list(self.params), list(self.standard_errors),
            self.log_likelihood, self.n_customers, self.converged,
        )


def _params(fit: ParetoNBDFit | object) -> tuple[float, float, float, float]:
    if isinstance(fit, ParetoNBDFit):
        return fit.r, fit.alpha, fit.s, fit.beta
    r, alpha, s, beta = (float(v) for v in np.asarray(fit, dtype=np.float64))
    return r, alpha, s, beta


def _log_death_integral(
    r: float, alpha: float, s: float, beta: float, x: np.ndarray, t_x: np.ndarray, T: np.ndarray
) -> np.ndarray:
    """log I (see the module docstring); -inf where t_x = T (no time to die unobserved)."""
    m = max(alpha, beta)
    A = r + s + x
    log_ratio = np.log(m + t_x) - np.log(m + T)  # <= 0
    width = -np.expm1(A * log_ratio)  # 1 - y'_T, accurate when tiny
    y_T = 1.0 - width
    # Nodes on [y'_T, 1], one row per customer.
    y = y_T[:, None] + width[:, None] * (_NODES[None, :] + 1.0) / 2.0
    v = np.exp(np.log(y) / A[:, None])
    z_alpha = ((m - alpha) / (m + t_x))[:, None]
    z_beta = ((m - beta) / (m + t_x))[:, None]
    log_k = -(r + x)[:, None] * np.log1p(-z_alpha * v) - (s + 1) * np.log1p(-z_beta * v)
    # log sum_j w_j k_j, by hand (scipy's logsumexp is several times slower here).
    peak = log_k.max(axis=1)
    with np.errstate(divide="ignore"):
        log_integral = peak + np.log(np.exp(log_k - peak[:, None]) @ _WEIGHTS) + np.log(width / 2.0)
    return -A * np.log(m + t_x) - np.log(A) + log_integral


def pareto_nbd_log_likelihood(params: object, x: object, t_x: object, T: object) -> np.ndarray:
    """Per-customer Pareto/NBD log-likelihood (module docstring); ``params`` = (r, alpha, s, beta)."""
    r, alpha, s, beta = _params(params)
    x_arr, t_x_arr, T_arr = (np.atleast_1d(np.asarray(v, dtype=np.float64)) for v in (x, t_x, T))
    x_arr, t_x_arr, T_arr = np.broadcast_arrays(x_arr, t_x_arr, T_arr)
    common = gammaln(r + x_arr) - gammaln(r) + r * np.log(alpha) + s * np.log(beta)
    alive_term = -(r + x_arr) * np.log(alpha + T_arr) - s * np.log(beta + T_arr)
    died_term = np.log(s) + _log_death_integral(r, alpha, s, beta, x_arr, t_x_arr, T_arr)
    return common + np.logaddexp(alive_term, died_term)


def _neg_ll_and_grad(log_params: np.ndarray, x: np.ndarray, t_x: np.ndarray, T: np.ndarray, w: np.ndarray) -> tuple[float, np.ndarray]:
    def total(theta: np.ndarray) -> float:
        return -float(np.dot(w, pareto_nbd_log_likelihood(np.exp(theta), x, t_x, T)))

    value = total(log_params)
    grad = np.empty(len(log_params))
    for j in range(len(log_params)):
        step = np.zeros(len(log_params))
        step[j] = GRADIENT_STEP
        grad[j] = (total(log_params + step) - total(log_params - step)) / (2 * GRADIENT_STEP)
    return value, grad


def fit_pareto_nbd(
    summary: pl.DataFrame,
    *,
    frequency: str = "frequency",
    recency: str = "recency",
    T: str = "T",
    weights: str | None = None,
    initial_params: tuple[float, float, float, float] | None = None,
    max_iter: int = 1000,
) -> ParetoNBDFit:
    """Fit Pareto/NBD by maximum likelihood; arguments and errors as ``fit_bgnbd``."""
    what = "fit_pareto_nbd"
    x, t_x, age, w = _summary_arrays(summary, frequency, recency, T, weights, what=what)
    total_weight = float(w.sum())
    if summary.height == 0 or total_weight <= 0:
        raise ValueError(f"{what}: no customers to fit")
    if float(np.dot(w, x)) <= 0:
        raise ValueError(f"{what}: no customer made a repeat purchase; Pareto/NBD parameters are not identified")
    x, t_x, age, w = _compress(x, t_x, age, w)
    if initial_params is None:
        # r = 1 at the pooled repeat rate; mean lifetime of about the mean observed age.
        rate = float(np.dot(w, x) / max(np.dot(w, age), 1e-12))
        mean_age = max(float(np.dot(w, age) / total_weight), 1.0)
        initial_params = (1.0, 1.0 / max(rate, 1e-12), 1.0, mean_age)
    result = fit_log_params(
        lambda th: _neg_ll_and_grad(th, x, t_x, age, w),
        np.log(np.asarray(initial_params, dtype=np.float64)),
        total_weight,
        max_iter=max_iter,
        model="Pareto/NBD",
    )
    r, alpha, s, beta = result.params
    r_se, alpha_se, s_se, beta_se = result.standard_errors
    return ParetoNBDFit(
        r=float(r), alpha=float(alpha), s=float(s), beta=float(beta),
        r_se=float(r_se), alpha_se=float(alpha_se), s_se=float(s_se), beta_se=float(beta_se),
        log_likelihood=result.log_likelihood, n_customers=int(round(total_weight)), converged=result.converged,
    )


def _checked(x: object, t_x: object, T: object, *, what: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    arrays = [np.atleast_1d(as_float_array(v, name=f"{what}: {n}")) for v, n in ((x, "frequency"), (t_x, "recency"), (T, "T"))]
    x_arr, t_x_arr, T_arr = np.broadcast_arrays(*arrays)
    check_rfm_arrays(x_arr, t_x_arr, T_arr, what=what)
    return x_arr, t_x_arr, T_arr


def pareto_nbd_p_alive(fit: ParetoNBDFit | object, x: object, t_x: object, T: object) -> np.ndarray:
    """P(alive at T | x, t_x, T) = 1 / (1 + s I (alpha+T)^(r+x) (beta+T)^s)."""
    r, alpha, s, beta = _params(fit)
    x_arr, t_x_arr, T_arr = _checked(x, t_x, T, what="pareto_nbd_p_alive")
    log_odds_dead = (
        np.log(s) + _log_death_integral(r, alpha, s, beta, x_arr, t_x_arr, T_arr)
        + (r + x_arr) * np.log(alpha + T_arr) + s * np.log(beta + T_arr)
    )
    return expit(-log_odds_dead)


def pareto_nbd_expected_purchases(fit: ParetoNBDFit | object, t: object, x: object, t_x: object, T: object) -> np.ndarray:
    """E[purchases in (T, T+t] | x, t_x, T] (Fader & Hardie 2005, eq. 21):

    p_alive * (r+x)(beta+T) / ((alpha+T)(s-1)) * [1 - ((beta+T)/(beta+T+t))^(s-1)],
    written with expm1 so that s -> 1 gives its limit (r+x)(beta+T)/(alpha+T) log((beta+T+t)/(beta+T)).
    """
    r, alpha, s, beta = _params(fit)
    x_arr, t_x_arr, T_arr = _checked(x, t_x, T, what="pareto_nbd_expected_purchases")
    t_arr = as_float_array(t, name="pareto_nbd_expected_purchases: t")
    if np.any(t_arr < 0):
        raise ValueError("pareto_nbd_expected_purchases: t must be >= 0")
    g = np.log1p(t_arr / (beta + T_arr))
    shape = s - 1.0
    survival_integral = g if abs(shape) < 1e-12 else -np.expm1(-shape * g) / shape
    alive = pareto_nbd_p_alive(fit, x_arr, t_x_arr, T_arr)
    return alive * (r + x_arr) * (beta + T_arr) / (alpha + T_arr) * survival_integral
