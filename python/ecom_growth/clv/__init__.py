"""Predicted customer lifetime value: purchases (BG/NBD, MBG/NBD or Pareto/NBD, chosen on a
holdout) x Gamma-Gamma spend.

Typical use (what the dbt Python model does)::

    summary = ...  # one row per customer: customer_id, frequency, recency, T, monetary_value
    purchases = fit_bgnbd(summary)
    spend = fit_gamma_gamma(summary)
    clv = predict_clv(summary, purchases, spend, horizon_days=365, discount_rate_annual=0.10)
    params = pl.concat([purchases.to_frame(), spend.to_frame()])

Times are in one unit throughout (days by default); frequency counts REPEAT purchase
occasions (the dbt project merges a customer's orders of one day into one occasion).
``fit_mbgnbd`` and ``fit_pareto_nbd`` take the same summary as ``fit_bgnbd``;
``ecom_growth.clv.purchase_models`` scores any of the three, ``ecom_growth.clv.pipeline``
evaluates and selects among them.
"""

from ecom_growth.clv.bgnbd import (
    BGNBDFit,
    bgnbd_log_likelihood,
    expected_purchases,
    expected_purchases_new_customer,
    fit_bgnbd,
    p_alive,
)
from ecom_growth.clv.gamma_gamma import (
    GammaGammaFit,
    expected_average_order_value,
    fit_gamma_gamma,
    gamma_gamma_log_likelihood,
)
from ecom_growth.clv.mbgnbd import MBGNBDFit, fit_mbgnbd
from ecom_growth.clv.pareto_nbd import ParetoNBDFit, fit_pareto_nbd
from ecom_growth.clv.predict import holdout_evaluation, predict_clv
from ecom_growth.clv.summary import customer_summary

__all__ = [
    "BGNBDFit",
    "GammaGammaFit",
    "MBGNBDFit",
    "ParetoNBDFit",
    "bgnbd_log_likelihood",
    "customer_summary",
    "expected_average_order_value",
    "expected_purchases",
    "expected_purchases_new_customer",
    "fit_bgnbd",
    "fit_gamma_gamma",
    "fit_mbgnbd",
    "fit_pareto_nbd",
    "gamma_gamma_log_likelihood",
    "holdout_evaluation",
    "p_alive",
    "predict_clv",
]
