"""BG/NBD: how many repeat purchases a customer will make, and whether they are still alive.

Fader, Hardie & Lee (2005), "Counting your customers the easy way: an alternative to the
Pareto/NBD model", Marketing Science 24(2). While alive a customer buys as a Poisson process
with rate lambda ~ Gamma(shape=r, rate=alpha); right after every REPEAT purchase (not after
the first one, which defines time 0) they drop out for good with probability
p ~ Beta(a, b). A simulator that also lets customers drop out right after their first order
generates data this likelihood does not describe (r comes out ~40% too low): that is MBG/NBD
(``ecom_growth.clv.mbgnbd``, the same code with a shift). Per customer we only need the summary

* ``x``   -- frequency: number of REPEAT purchases in the calibration period,
* ``t_x`` -- recency: time from the first to the last purchase (0 when x = 0),
* ``T``   -- age: time from the first purchase to the end of the calibration period,

all in one time unit (days by default; alpha is then "days" too, a rate parameter of the
gamma on lambda per day). Which purchases count (completed orders only; same-day orders
merged or not) is the caller's decision, made once in SQL.

Why BG/NBD rather than Pareto/NBD: the same fit quality on retail data with a likelihood that
is a few gammaln/betaln calls per customer, so a million customers fit in seconds.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import ClassVar, TypeVar

import numpy as np
import polars as pl
from scipy.special import betaln, digamma, expit, gammaln, hyp2f1

from ecom_growth.clv._common import (
    as_float_array,
    check_rfm_arrays,
    fit_frame,
    fit_log_params,
    numeric_column,
    require_columns,
    weight_column,
)

logger = logging.getLogger(__name__)

PARAMETER_NAMES = ("r", "alpha", "a", "b")


@dataclass(frozen=True)
class BGNBDFit:
    """Maximum likelihood BG/NBD estimates (time unit of the summary they were fitted on).

    ``n_customers`` is the sum of the weights (the row count when unweighted).
    ``converged`` is False when the optimiser stopped early, a parameter ran into the
    +-exp(20) box, or the Hessian was not positive definite (standard errors are then NaN);
    the estimates are still the best point found, so callers decide whether to use them.
    """

    r: float
    alpha: float
    a: float
    b: float
    r_se: float
    alpha_se: float
    a_se: float
    b_se: float
    log_likelihood: float
    n_customers: int
    converged: bool

    # MBGNBDFit overrides these: the model's name in tables and whether a customer can also
    # drop out right after the first purchase (1) or only after repeat purchases (0).
    MODEL: ClassVar[str] = "bgnbd"
    DROPOUT_AT_FIRST: ClassVar[int] = 0

    @property
    def params(self) -> np.ndarray:
        return np.array([self.r, self.alpha, self.a, self.b])

    def to_frame(self) -> pl.DataFrame:
        """Long frame: model, parameter, estimate, standard_error, log_likelihood,
        n_customers, converged (one row per parameter; a null standard error means the
        Hessian was singular)."""
        return fit_frame(
            self.MODEL,
            PARAMETER_NAMES,
            [self.r, self.alpha, self.a, self.b],
            [self.r_se, self.alpha_se, self.a_se, self.b_se],
            self.log_likelihood,
            self.n_customers,
            self.converged,
        )


def bgnbd_log_likelihood(
    params: object, x: object, t_x: object, T: object, *, dropout_at_first: int = 0
) -> np.ndarray:
    """Per-customer BG/NBD log-likelihood, equation (6) of the paper, on the log scale.

    L = B(a, b+x)/B(a, b) * Gamma(r+x) alpha^r / Gamma(r) * (alpha+T)^-(r+x)
      + [x > 0] * B(a+1, b+x-1)/B(a, b) * Gamma(r+x) alpha^r / Gamma(r) * (alpha+t_x)^-(r+x)

    The two terms are combined with logaddexp so nothing overflows for large x or T.
    ``params`` is (r, alpha, a, b); x, t_x, T broadcast against each other.
    ``dropout_at_first=1`` gives the MBG/NBD likelihood (b -> b+1 in the beta terms and the
    second term present for x = 0 too; see ``mbgnbd``).
    """
    r, alpha, a, b = (float(v) for v in np.asarray(params, dtype=np.float64))
    x = np.asarray(x, dtype=np.float64)
    t_x = np.asarray(t_x, dtype=np.float64)
    T = np.asarray(T, dtype=np.float64)
    s = int(dropout_at_first)
    has_term = (x > 0) | (s == 1)
    common = gammaln(r + x) - gammaln(r) + r * np.log(alpha) + betaln(a, b + x + s) - betaln(a, b)
    term_T = -(r + x) * np.log(alpha + T)
    # B(a+1, b+x+s-1) / B(a, b+x+s) = a / (b+x+s-1); for BG/NBD only present when x > 0.
    with np.errstate(divide="ignore", invalid="ignore"):
        term_tx = np.where(
            has_term,
            np.log(a) - np.log(np.where(has_term, b + x + s - 1, 1.0)) - (r + x) * np.log(alpha + t_x),
            -np.inf,
        )
    return common + np.logaddexp(term_T, term_tx)


@dataclass(frozen=True)
class _FitData:
    """Summary arrays plus the distinct frequencies, precomputed once per fit.

    Everything in the likelihood that depends on x alone (gammaln, betaln, digamma terms) is
    evaluated per distinct x -- a few hundred values -- and weighted by the total weight of
    the customers with that x; only the (t_x, T) terms run over every customer. That is what
    makes a million-customer fit take seconds.
    """

    x: np.ndarray
    t_x: np.ndarray
    T: np.ndarray
    w: np.ndarray
    x_values: np.ndarray  # distinct x
    x_index: np.ndarray  # position of each customer's x in x_values
    x_weight: np.ndarray  # total weight per distinct x

    @classmethod
    def build(cls, x: np.ndarray, t_x: np.ndarray, T: np.ndarray, w: np.ndarray) -> _FitData:
        x_values, x_index = np.unique(x, return_inverse=True)
        x_weight = np.bincount(x_index, weights=w, minlength=len(x_values))
        return cls(x, t_x, T, w, x_values, x_index.reshape(-1), x_weight)


def _neg_ll_and_grad(log_params: np.ndarray, data: _FitData, shift: int = 0) -> tuple[float, np.ndarray]:
    """Total weighted negative log-likelihood and its analytic gradient in log-parameters.

    ll = C(x) + log(e^u1 + e^u2) with C(x) the x-only terms, u1 = -(r+x) log(alpha+T) and
    u2 = log(a/(b+x+s-1)) - (r+x) log(alpha+t_x) (absent for x = 0 when s = 0). The gradient of
    the log-sum is the softmax mix w1 du1 + w2 du2. ``shift`` s = 1 is MBG/NBD.
    """
    r, alpha, a, b = np.exp(log_params)
    xv, idx, wx, w = data.x_values, data.x_index, data.x_weight, data.w
    total_w = float(wx.sum())
    has_repeat = (xv > 0) | (shift == 1)
    # Per distinct x.
    common_x = gammaln(r + xv) - gammaln(r) + betaln(a, b + xv + shift) - betaln(a, b)
    b_x1 = np.where(has_repeat, b + xv + shift - 1, 1.0)
    log_ratio_x = np.where(has_repeat, np.log(a) - np.log(b_x1), -np.inf)
    inv_b_x1 = np.where(has_repeat, 1.0 / b_x1, 0.0)
    psi_ab = digamma(a + b)
    psi_abx = digamma(a + b + xv + shift)
    # Per customer.
    r_x = (r + xv)[idx]
    log_alpha_T = np.log(alpha + data.T)
    log_alpha_tx = np.log(alpha + data.t_x)
    u1 = -r_x * log_alpha_T
    u2 = log_ratio_x[idx] - r_x * log_alpha_tx
    log_sum = np.logaddexp(u1, u2)
    w1 = np.exp(u1 - log_sum)
    w2 = np.exp(u2 - log_sum)  # exactly 0 when x == 0

    ll = float(np.dot(wx, common_x)) + total_w * r * np.log(alpha) + float(np.dot(w, log_sum))
    d_r = (
        float(np.dot(wx, digamma(r + xv) - digamma(r)))
        + total_w * np.log(alpha)
        - float(np.dot(w, w1 * log_alpha_T + w2 * log_alpha_tx))
    )
    d_alpha = total_w * r / alpha - float(
        np.dot(w, r_x * (w1 / (alpha + data.T) + w2 / (alpha + data.t_x)))
    )
    w_w2 = float(np.dot(w, w2))
    d_a = float(np.dot(wx, psi_ab - psi_abx)) + w_w2 / a
    d_b = float(np.dot(wx, digamma(b + xv + shift) - psi_abx - digamma(b) + psi_ab)) - float(
        np.dot(w, w2 * inv_b_x1[idx])
    )
    grad = -np.array([r * d_r, alpha * d_alpha, a * d_a, b * d_b])
    return -ll, grad


def _summary_arrays(
    summary: pl.DataFrame, frequency: str, recency: str, T: str, weights: str | None, *, what: str
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    require_columns(summary, [frequency, recency, T], what=what)
    x = numeric_column(summary, frequency, what=what)
    t_x = numeric_column(summary, recency, what=what)
    age = numeric_column(summary, T, what=what)
    w = weight_column(summary, weights, what=what)
    check_rfm_arrays(x, t_x, age, what=what)
    return x, t_x, age, w


def _compress(
    x: np.ndarray, t_x: np.ndarray, T: np.ndarray, w: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Collapse identical (x, t_x, T) rows into one weighted row.

    With day-level summaries most customers share their triple with others (every x = 0
    customer differs only by T), so the likelihood is evaluated on far fewer rows. Sorted so
    the summation order, hence the fit, is identical run to run.
    """
    grouped = (
        pl.DataFrame({"x": x, "t_x": t_x, "T": T, "w": w})
        .filter(pl.col("w") > 0)
        .group_by("x", "t_x", "T")
        .agg(pl.col("w").sum())
        .sort("x", "t_x", "T")
    )
    return (
        grouped["x"].to_numpy(),
        grouped["t_x"].to_numpy(),
        grouped["T"].to_numpy(),
        grouped["w"].to_numpy(),
    )


def fit_bgnbd(
    summary: pl.DataFrame,
    *,
    frequency: str = "frequency",
    recency: str = "recency",
    T: str = "T",
    weights: str | None = None,
    initial_params: tuple[float, float, float, float] | None = None,
    max_iter: int = 1000,
) -> BGNBDFit:
    """Fit BG/NBD by maximum likelihood on a per-customer summary (one row per customer).

    ``weights`` names an optional column of non-negative frequency weights, so a caller can
    pass a pre-aggregated (frequency, recency, T, count) table instead of one row per
    customer. Identical rows are aggregated here anyway, so this is only a memory saving.

    Raises ValueError for an empty summary, missing columns, nulls, negative values,
    recency > T, or when nobody made a repeat purchase (the rate and dropout are then not
    identified: the likelihood keeps increasing as alpha grows).
    """
    return fit_beta_geometric(
        summary, BGNBDFit, frequency=frequency, recency=recency, T=T, weights=weights,
        initial_params=initial_params, max_iter=max_iter,
    )


FitT = TypeVar("FitT", bound=BGNBDFit)


def fit_beta_geometric(
    summary: pl.DataFrame,
    fit_class: type[FitT],
    *,
    frequency: str,
    recency: str,
    T: str,
    weights: str | None,
    initial_params: tuple[float, float, float, float] | None,
    max_iter: int,
) -> FitT:
    """The maximum likelihood fit shared by BG/NBD and MBG/NBD (``fit_class`` says which)."""
    what = f"fit_{fit_class.MODEL}"
    x, t_x, age, w = _summary_arrays(summary, frequency, recency, T, weights, what=what)
    total_weight = float(w.sum())
    if summary.height == 0 or total_weight <= 0:
        raise ValueError(f"{what}: no customers to fit")
    if float(np.dot(w, x)) <= 0:
        raise ValueError(
            f"{what}: no customer made a repeat purchase (all {frequency} = 0); "
            "the purchase rate and dropout are not identified"
        )
    x, t_x, age, w = _compress(x, t_x, age, w)
    logger.info("%s: %d customers, %d distinct (x, t_x, T) rows", what, round(total_weight), len(x))

    if initial_params is None:
        # Start at r = 1 and the pooled purchase rate; a, b at a 25% dropout chance.
        rate = float(np.dot(w, x) / max(np.dot(w, age), 1e-12))
        initial_params = (1.0, 1.0 / max(rate, 1e-12), 1.0, 3.0)
    x0 = np.log(np.asarray(initial_params, dtype=np.float64))

    data = _FitData.build(x, t_x, age, w)
    shift = fit_class.DROPOUT_AT_FIRST
    result = fit_log_params(
        lambda th: _neg_ll_and_grad(th, data, shift),
        x0,
        total_weight,
        max_iter=max_iter,
        model=fit_class.MODEL,
    )
    r, alpha, a, b = result.params
    r_se, alpha_se, a_se, b_se = result.standard_errors
    return fit_class(
        r=float(r),
        alpha=float(alpha),
        a=float(a),
        b=float(b),
        r_se=float(r_se),
        alpha_se=float(alpha_se),
        a_se=float(a_se),
        b_se=float(b_se),
        log_likelihood=result.log_likelihood,
        n_customers=int(round(total_weight)),
        converged=result.converged,
    )


def _params(fit: BGNBDFit | object) -> tuple[float, float, float, float, int]:
    """(r, alpha, a, b, dropout_at_first); a bare parameter vector is BG/NBD."""
    if isinstance(fit, BGNBDFit):
        return fit.r, fit.alpha, fit.a, fit.b, fit.DROPOUT_AT_FIRST
    r, alpha, a, b = (float(v) for v in np.asarray(fit, dtype=np.float64))
    return r, alpha, a, b, 0


def _checked_summary_arrays(
    x: object, t_x: object, T: object, *, what: str
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    x_arr = as_float_array(x, name=f"{what}: frequency")
    t_x_arr = as_float_array(t_x, name=f"{what}: recency")
    T_arr = as_float_array(T, name=f"{what}: T")
    x_arr, t_x_arr, T_arr = np.broadcast_arrays(x_arr, t_x_arr, T_arr)
    check_rfm_arrays(x_arr, t_x_arr, T_arr, what=what)
    return x_arr, t_x_arr, T_arr


def _log_odds_dead(
    r: float, alpha: float, a: float, b: float, x: np.ndarray, t_x: np.ndarray, T: np.ndarray, shift: int = 0
) -> np.ndarray:
    """log[ a/(b+x+s-1) * ((alpha+T)/(alpha+t_x))^(r+x) ]; -inf (certainly alive) for x = 0
    under BG/NBD (s = 0), where nobody drops out before a repeat purchase."""
    has_repeat = (x > 0) | (shift == 1)
    with np.errstate(divide="ignore", invalid="ignore"):
        z = (
            np.log(a)
            - np.log(np.where(has_repeat, b + x + shift - 1, 1.0))
            + (r + x) * (np.log(alpha + T) - np.log(alpha + t_x))
        )
    return np.where(has_repeat, z, -np.inf)


def p_alive(fit: BGNBDFit | object, x: object, t_x: object, T: object) -> np.ndarray:
    """P(customer still alive at T | x, t_x, T), equation (11) of the paper.

    1 / (1 + [x > 0] a/(b+x-1) ((alpha+T)/(alpha+t_x))^(r+x)). Exactly 1 for x = 0: in BG/NBD
    a customer can only drop out right after a purchase, and someone with no repeat purchase
    has not had the chance (a known quirk of the model, not a bug here).
    """
    r, alpha, a, b, s = _params(fit)
    x_arr, t_x_arr, T_arr = _checked_summary_arrays(x, t_x, T, what="p_alive")
    return expit(-_log_odds_dead(r, alpha, a, b, x_arr, t_x_arr, T_arr, s))


def _nudged_a(a: float) -> float:
    # The expectations contain (a-1) in a denominator; the limit a -> 1 is finite, so
    # evaluate a hair away from it instead of dividing 0 by 0.
    if abs(a - 1.0) < 1e-7:
        return 1.0 + 1e-7 if a >= 1.0 else 1.0 - 1e-7
    return a


def expected_purchases(
    fit: BGNBDFit | object, t: object, x: object, t_x: object, T: object
) -> np.ndarray:
    """E[number of purchases in (T, T+t] | x, t_x, T], equation (10) of the paper.

    (a+b+x-1)/(a-1) * [1 - ((alpha+T)/(alpha+T+t))^(r+x) 2F1(r+x, b+x; a+b+x-1; z)]
        / (1 + [x > 0] a/(b+x-1) ((alpha+T)/(alpha+t_x))^(r+x)),   z = t/(alpha+T+t).

    The 2F1 term is computed after Euler's transformation,
    (1-z)^(r+x) 2F1(r+x, b+x; c; z) = (1-z)^(a-1) 2F1(a+b-1-r, a-1; c; z) with c = a+b+x-1,
    whose upper parameters stay small: the naive form reaches 1e200 for heavy buyers and
    overflows beyond that, the transformed one stays near 1. ``t`` broadcasts with x, t_x, T.
    MBG/NBD (Batislam et al. 2007, eq. 14) is the same with b + 1 in place of b in c, the
    2F1 and the odds of being dead (which then apply to x = 0 too).
    """
    r, alpha, a, b, s = _params(fit)
    a = _nudged_a(a)
    x_arr, t_x_arr, T_arr = _checked_summary_arrays(x, t_x, T, what="expected_purchases")
    t_arr = as_float_array(t, name="expected_purchases: t")
    if np.any(t_arr < 0):
        raise ValueError("expected_purchases: t must be >= 0")
    z = t_arr / (alpha + T_arr + t_arr)
    c = a + b + x_arr - 1 + s
    tail = np.power(1 - z, a - 1) * hyp2f1(a + b - 1 + s - r, a - 1, c, z)
    conditional_on_alive = c / (a - 1) * (1 - tail)
    alive = expit(-_log_odds_dead(r, alpha, a, b, x_arr, t_x_arr, T_arr, s))
    # Clip the last-bit rounding of 1 - tail at t -> 0; an expected count is never negative.
    return np.maximum(conditional_on_alive * alive, 0.0)


def expected_purchases_new_customer(fit: BGNBDFit | object, t: object) -> np.ndarray:
    """Unconditional E[X(t)]: repeat purchases in (0, t] of a customer acquired at time 0,
    equation (9) of the paper:

    (a+b-1)/(a-1) * [1 - (alpha/(alpha+t))^r 2F1(r, b; a+b-1; t/(alpha+t))].

    It is the conditional expectation at x = t_x = T = 0, which is how it is computed.
    """
    t_arr = as_float_array(t, name="expected_purchases_new_customer: t")
    zeros = np.zeros_like(t_arr)
    return expected_purchases(fit, t_arr, zeros, zeros, zeros)


def probability_of_purchase_within(fit: BGNBDFit | object, t: object, x: object, t_x: object, T: object) -> np.ndarray:
    """P(at least one purchase in (T, T+t] | x, t_x, T) = p_alive x [1 - ((alpha+T)/(alpha+T+t))^(r+x)].

    A customer alive at T buys at rate lambda, whose posterior given the history and being
    alive is Gamma(r+x, alpha+T); BG/NBD and MBG/NBD only let a customer drop out right after
    a purchase, so the first future purchase is not cut short by dropout.
    """
    r, alpha, _, _, _ = _params(fit)
    x_arr, t_x_arr, T_arr = _checked_summary_arrays(x, t_x, T, what="probability_of_purchase_within")
    t_arr = as_float_array(t, name="probability_of_purchase_within: t")
    no_purchase_if_alive = np.exp(-(r + x_arr) * (np.log(alpha + T_arr + t_arr) - np.log(alpha + T_arr)))
    return p_alive(fit, x_arr, t_x_arr, T_arr) * (1 - no_purchase_if_alive)


def time_to_next_purchase(
    fit: BGNBDFit | object, x: object, t_x: object, T: object, *, probability: float
) -> np.ndarray:
    """Time after T at which P(at least one purchase) reaches ``probability``; NaN when it never
    does, i.e. when p_alive <= probability (the limit of that probability as t grows).

    Inverts ``probability_of_purchase_within``: t = (alpha+T) [(1 - probability/p_alive)^(-1/(r+x)) - 1].
    """
    r, alpha, _, _, _ = _params(fit)
    x_arr, t_x_arr, T_arr = _checked_summary_arrays(x, t_x, T, what="time_to_next_purchase")
    return time_to_probability(p_alive(fit, x_arr, t_x_arr, T_arr), r + x_arr, alpha + T_arr, probability=probability)


def time_to_probability(alive: np.ndarray, shape: np.ndarray, rate: np.ndarray, *, probability: float) -> np.ndarray:
    """Solve alive x [1 - (rate/(rate+t))^shape] = probability for t (a Gamma(shape, rate)
    posterior of the purchase rate); NaN where alive <= probability (never reached)."""
    if not 0 < probability < 1:
        raise ValueError("time_to_next_purchase: probability must be in (0, 1)")
    reachable = alive > probability
    with np.errstate(divide="ignore", invalid="ignore"):
        remaining = np.where(reachable, 1 - probability / np.where(reachable, alive, 1.0), 1.0)
        t = rate * np.expm1(-np.log(remaining) / shape)
    return np.where(reachable, t, np.nan)
