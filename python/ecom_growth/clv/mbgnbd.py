"""MBG/NBD: BG/NBD where a customer can also drop out right after the FIRST purchase.

Batislam, Denizel & Filiztekin (2007), "Empirical validation and comparison of models for
customer base analysis", IJRM 24(3). Same Poisson(lambda ~ Gamma(r, alpha)) purchasing and
p ~ Beta(a, b) dropout as BG/NBD, but the coin is tossed after every purchase including the
first, so a one-time buyer can be dead: p_alive(x = 0) < 1, which BG/NBD cannot say. Per
customer likelihood (x repeat purchases, recency t_x, age T):

    L = Gamma(r+x) alpha^r / Gamma(r) * [ B(a, b+x+1)/B(a, b) (alpha+T)^-(r+x)
                                          + B(a+1, b+x)/B(a, b) (alpha+t_x)^-(r+x) ]

i.e. the BG/NBD formula with b+1 in the beta terms and the second term present for x = 0.
The fit, p_alive and the expectations are the BG/NBD code with that shift
(``MBGNBDFit.DROPOUT_AT_FIRST``), so they are implemented and tested once.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import polars as pl

from ecom_growth.clv.bgnbd import BGNBDFit, fit_beta_geometric


@dataclass(frozen=True)
class MBGNBDFit(BGNBDFit):
    """Maximum likelihood MBG/NBD estimates (same fields as ``BGNBDFit``)."""

    MODEL: ClassVar[str] = "mbgnbd"
    DROPOUT_AT_FIRST: ClassVar[int] = 1


def fit_mbgnbd(
    summary: pl.DataFrame,
    *,
    frequency: str = "frequency",
    recency: str = "recency",
    T: str = "T",
    weights: str | None = None,
    initial_params: tuple[float, float, float, float] | None = None,
    max_iter: int = 1000,
) -> MBGNBDFit:
    """Fit MBG/NBD by maximum likelihood; arguments and errors as ``fit_bgnbd``."""
    return fit_beta_geometric(
        summary, MBGNBDFit, frequency=frequency, recency=recency, T=T, weights=weights,
        initial_params=initial_params, max_iter=max_iter,
    )
