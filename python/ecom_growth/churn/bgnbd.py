"""The BG/NBD churn baseline: P(no purchase in the next w days | frequency, recency, T).

BG/NBD (see :mod:`ecom_growth.clv.bgnbd`): while alive a customer buys as a Poisson process
with rate lambda ~ Gamma(r, alpha); after each repeat purchase they drop out with probability
p ~ Beta(a, b). A customer who is alive at T makes no purchase in (T, T + w] with probability
exp(-lambda w) (dropping out needs a purchase first, so it cannot happen inside the window
before the first one); a dead customer never buys. Given the data (x, t_x, T), lambda of an
alive customer has the posterior Gamma(r + x, alpha + T) (the likelihood of an alive customer
is lambda^x exp(-lambda T)), whose Laplace transform gives

    P(X(T, T + w) = 0 | x, t_x, T)
        = 1 - P(alive) + P(alive) * ((alpha + T) / (alpha + T + w)) ** (r + x).

At x = t_x = T = 0 this is (alpha / (alpha + w))^r, the NBD zero class of the paper. It is
label-free: the parameters are fitted on every customer's purchase history before the
snapshot (``int_churn_bgnbd_summary``), so it is a strong, free, interpretable baseline and
the fallback when no label-trained model can be fitted.

The fit itself is :func:`ecom_growth.clv.fit_bgnbd` (imported, not copied).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import polars as pl

from ecom_growth.clv import fit_bgnbd, p_alive

BGNBD_SUMMARY_COLUMNS: tuple[str, ...] = (
    "snapshot_date", "frequency", "recency_days", "t_days", "n_customers")


def p_no_purchase(
    params: tuple[float, float, float, float], x: np.ndarray, t_x: np.ndarray, T: np.ndarray,
    window_days: float,
) -> np.ndarray:
    """P(no purchase in (T, T + window_days] | x, t_x, T) under BG/NBD ``params`` = (r, alpha, a, b).

    See the module docstring for the derivation. Arrays broadcast; days in the unit of alpha.
    """
    r, alpha, _, _ = (float(v) for v in params)
    if window_days < 0:
        raise ValueError(f"window_days must be >= 0, got {window_days}")
    x = np.asarray(x, dtype=np.float64)
    T = np.asarray(T, dtype=np.float64)
    alive = p_alive(np.asarray(params, dtype=np.float64), x, t_x, T)
    quiet_if_alive = np.exp((r + x) * (np.log(alpha + T) - np.log(alpha + T + window_days)))
    return 1.0 - alive + alive * quiet_if_alive


def bgnbd_inputs(features: pl.DataFrame) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(x, t_x, T) of BG/NBD from churn snapshot features, in days.

    x = orders_count - 1, T = tenure_days, t_x = tenure_days - days_since_last_order (clipped
    into [0, T]: the two come from the same timestamps, the clip only absorbs rounding).
    """
    n = features.get_column("orders_count").to_numpy().astype(np.float64)
    T = features.get_column("tenure_days").to_numpy().astype(np.float64)
    recency = features.get_column("days_since_last_order").to_numpy().astype(np.float64)
    x = np.maximum(n - 1.0, 0.0)
    t_x = np.where(x > 0, np.clip(T - recency, 0.0, T), 0.0)
    return x, t_x, T


@dataclass(frozen=True)
class BGNBDChurnModel:
    """Fitted BG/NBD parameters turned into a churn probability for a ``window_days`` window.

    Same interface as every stored churn model: ``predict(features) -> P(churn)`` on the
    output of :func:`~ecom_growth.churn.features.prepare_features`.
    """

    r: float
    alpha: float
    a: float
    b: float
    window_days: float
    fitted_on: str
    """Snapshot date whose history the parameters were fitted on (ISO)."""
    converged: bool

    @property
    def params(self) -> tuple[float, float, float, float]:
        return (self.r, self.alpha, self.a, self.b)

    def predict(self, features: pl.DataFrame) -> np.ndarray:
        if features.height == 0:
            return np.zeros(0, dtype=np.float64)
        x, t_x, T = bgnbd_inputs(features)
        return p_no_purchase(self.params, x, t_x, T, self.window_days)


def fit_bgnbd_churn(
    summary: pl.DataFrame, snapshot_date, *, window_days: float,
) -> BGNBDChurnModel:
    """Fit BG/NBD on the ``int_churn_bgnbd_summary`` rows of one snapshot date.

    Raises ValueError when there are no rows for that date or nobody has a repeat purchase
    (BG/NBD is then not identified; the caller degrades).
    """
    rows = summary.filter(pl.col("snapshot_date") == snapshot_date)
    if rows.height == 0:
        raise ValueError(f"no BG/NBD summary rows before snapshot {snapshot_date}")
    fit = fit_bgnbd(rows, frequency="frequency", recency="recency_days", T="t_days",
                    weights="n_customers")
    return BGNBDChurnModel(fit.r, fit.alpha, fit.a, fit.b, float(window_days),
                           str(snapshot_date), bool(fit.converged))
