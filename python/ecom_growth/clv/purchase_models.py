"""The family of purchase models behind one interface: BG/NBD, MBG/NBD, Pareto/NBD.

Each candidate is fitted, checked (``ecom_growth.clv.status``), scored on the holdout and, if
selected, used for the predictions; this module maps a model name to its fit and to the
per-customer quantities every consumer needs (p_alive, expected purchases, time to the next
purchase), so callers never branch on the model.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import polars as pl

from ecom_growth.clv import bgnbd, pareto_nbd
from ecom_growth.clv.bgnbd import BGNBDFit
from ecom_growth.clv.mbgnbd import MBGNBDFit, fit_mbgnbd
from ecom_growth.clv.pareto_nbd import ParetoNBDFit

PurchaseFit = BGNBDFit | MBGNBDFit | ParetoNBDFit


@dataclass(frozen=True)
class PurchaseModel:
    name: str
    label: str
    parameters: tuple[str, ...]
    fit_class: type
    fit: Callable[[pl.DataFrame], PurchaseFit]


PURCHASE_MODELS: dict[str, PurchaseModel] = {
    "bgnbd": PurchaseModel("bgnbd", "BG/NBD", bgnbd.PARAMETER_NAMES, BGNBDFit, bgnbd.fit_bgnbd),
    "mbgnbd": PurchaseModel("mbgnbd", "MBG/NBD", bgnbd.PARAMETER_NAMES, MBGNBDFit, fit_mbgnbd),
    "pareto_nbd": PurchaseModel(
        "pareto_nbd", "Pareto/NBD", pareto_nbd.PARAMETER_NAMES, ParetoNBDFit, pareto_nbd.fit_pareto_nbd
    ),
}


def standard_errors(fit: PurchaseFit) -> np.ndarray:
    if isinstance(fit, ParetoNBDFit):
        return fit.standard_errors
    return np.array([fit.r_se, fit.alpha_se, fit.a_se, fit.b_se])


def build_fit(
    name: str, estimates: list[float], ses: list[float], *, log_likelihood: float, n_customers: int, converged: bool
) -> PurchaseFit:
    """A fit object from stored estimates (parameter order of ``PURCHASE_MODELS[name].parameters``)."""
    return PURCHASE_MODELS[name].fit_class(
        *estimates, *ses, log_likelihood=log_likelihood, n_customers=n_customers, converged=converged
    )


def p_alive(fit: PurchaseFit, x: np.ndarray, t_x: np.ndarray, T: np.ndarray) -> np.ndarray:
    if isinstance(fit, ParetoNBDFit):
        return pareto_nbd.pareto_nbd_p_alive(fit, x, t_x, T)
    return bgnbd.p_alive(fit, x, t_x, T)


def expected_purchases(fit: PurchaseFit, t: float | np.ndarray, x: np.ndarray, t_x: np.ndarray, T: np.ndarray) -> np.ndarray:
    if isinstance(fit, ParetoNBDFit):
        return pareto_nbd.pareto_nbd_expected_purchases(fit, t, x, t_x, T)
    return bgnbd.expected_purchases(fit, t, x, t_x, T)


def time_to_next_purchase(fit: PurchaseFit, x: np.ndarray, t_x: np.ndarray, T: np.ndarray, *, probability: float) -> np.ndarray:
    """Time after T at which P(at least one more purchase) reaches ``probability``; NaN when the
    customer is not likely enough to be alive for it ever to (p_alive <= probability).

    Exact for BG/NBD and MBG/NBD (dropout only happens right after a purchase). Pareto/NBD:
    the same formula with its own p_alive and (r, alpha), i.e. ignoring that an alive customer
    may also die before buying again, so its date is the earliest plausible one.
    """
    if isinstance(fit, ParetoNBDFit):
        alive = pareto_nbd.pareto_nbd_p_alive(fit, x, t_x, T)
        return bgnbd.time_to_probability(alive, fit.r + x, fit.alpha + T, probability=probability)
    return bgnbd.time_to_next_purchase(fit, x, t_x, T, probability=probability)
