"""Own-price elasticity of demand: Poisson pseudo-maximum likelihood (PPML) with fixed effects.

Model, per category: E[units_it] = exp(a_i + g_t + beta log price_it) on a product x week panel
(a_i product effects, g_t week effects within the category, i.e. category x week effects, which
also absorb seasonality and the category's demand shocks). PPML is consistent for beta whenever
the conditional mean is right, whatever the distribution of units, keeps zero-sale weeks and is
the standard estimator for constant-elasticity demand with count data.

The fixed effects are concentrated out exactly (given beta and the week effects the product
effects have a closed form, and vice versa), so the fit is a few vectorised passes over the panel
and never builds a dummy matrix. Standard errors are clustered by product (sandwich on the
FE-partialled regressor), so serial correlation of a product's weeks does not shrink them.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class PpmlFit:
    beta: float
    std_error: float
    n_obs: int
    n_products: int
    n_weeks: int
    iterations: int
    converged: bool


def _group_means(values: np.ndarray, weights: np.ndarray, group: np.ndarray, n: int) -> np.ndarray:
    total = np.bincount(group, weights=weights, minlength=n)
    return np.bincount(group, weights=values * weights, minlength=n) / np.where(total > 0, total, 1.0)


def _partial_out(x: np.ndarray, weights: np.ndarray, product: np.ndarray, week: np.ndarray,
                 n_products: int, n_weeks: int, sweeps: int) -> np.ndarray:
    """x minus its weighted projection on product and week dummies (alternating projections)."""
    resid = x - np.average(x, weights=weights)
    for _ in range(sweeps):
        resid = resid - _group_means(resid, weights, product, n_products)[product]
        resid = resid - _group_means(resid, weights, week, n_weeks)[week]
    return resid


def fit_ppml_two_way(
    units: np.ndarray, log_price: np.ndarray, product: np.ndarray, week: np.ndarray,
    max_iterations: int, tolerance: float,
) -> PpmlFit:
    """PPML of ``units`` on ``log_price`` with product and week fixed effects.

    ``product`` and ``week`` are dense integer codes (0..n-1). Products or weeks without any
    units carry no information about beta (their effect goes to minus infinity) and should be
    dropped by the caller; the fit still runs but ignores them. Returns beta = nan when the
    price does not vary within products.
    """
    units = np.asarray(units, dtype=np.float64)
    x = np.asarray(log_price, dtype=np.float64)
    n_products, n_weeks = int(product.max()) + 1, int(week.max()) + 1
    beta, a, g = 0.0, np.zeros(n_products), np.zeros(n_weeks)
    y_product = np.bincount(product, weights=units, minlength=n_products)
    y_week = np.bincount(week, weights=units, minlength=n_weeks)
    with np.errstate(divide="ignore"):
        log_y_product, log_y_week = np.log(y_product), np.log(y_week)
    converged, iteration = False, 0
    for iteration in range(1, max_iterations + 1):
        # Exact concentration of the effects given beta: sum_t mu_it = sum_t y_it for each i, t.
        for _ in range(3):
            a = log_y_product - np.log(np.bincount(product, weights=np.exp(g[week] + beta * x), minlength=n_products))
            a = np.where(np.isfinite(a), a, -50.0)
            g = log_y_week - np.log(np.bincount(week, weights=np.exp(a[product] + beta * x), minlength=n_weeks))
            g = np.where(np.isfinite(g), g, -50.0)
        mu = np.exp(a[product] + g[week] + beta * x)
        x_tilde = _partial_out(x, mu, product, week, n_products, n_weeks, sweeps=5)
        information = float(np.sum(mu * x_tilde * x_tilde))
        if information <= 1e-12:
            return PpmlFit(float("nan"), float("nan"), units.size, n_products, n_weeks, iteration, False)
        step = float(np.sum(x_tilde * (units - mu))) / information
        beta += step
        if abs(step) < tolerance:
            converged = True
            break
    mu = np.exp(a[product] + g[week] + beta * x)
    x_tilde = _partial_out(x, mu, product, week, n_products, n_weeks, sweeps=10)
    information = float(np.sum(mu * x_tilde * x_tilde))
    score_by_product = np.bincount(product, weights=x_tilde * (units - mu), minlength=n_products)
    variance = float(np.sum(score_by_product**2)) / information**2
    return PpmlFit(beta, float(np.sqrt(variance)), int(units.size), n_products, n_weeks, iteration, converged)
