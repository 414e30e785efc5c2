"""Predicted customer lifetime value: BG/NBD purchases x Gamma-Gamma spend.

Typical use (what the dbt Python model does)::

    summary = ...  # one row per customer: customer_id, frequency, recency, T, monetary_value
    purchases = fit_bgnbd(summary)
    spend = fit_gamma_gamma(summary)
    clv = predict_clv(summary, purchases, spend, horizon_days=365, discount_rate_annual=0.10)
    params = pl.concat([purchases.to_frame(), spend.to_frame()])

Times are in one unit throughout (days by default); frequency counts REPEAT purchases.
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
from ecom_growth.clv.predict import holdout_evaluation, predict_clv
from ecom_growth.clv.summary import customer_summary

__all__ = [
    "BGNBDFit",
    "GammaGammaFit",
    "bgnbd_log_likelihood",
    "customer_summary",
    "expected_average_order_value",
    "expected_purchases",
    "expected_purchases_new_customer",
    "fit_bgnbd",
    "fit_gamma_gamma",
    "gamma_gamma_log_likelihood",
    "holdout_evaluation",
    "p_alive",
    "predict_clv",
]
