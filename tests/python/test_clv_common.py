"""The shared input validator of the purchase models (ecom_growth.clv._common): one set of
checks behind fit_bgnbd, fit_mbgnbd and fit_pareto_nbd (and their scoring functions)."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from ecom_growth.clv import fit_bgnbd, fit_mbgnbd, fit_pareto_nbd
from ecom_growth.clv._common import rfm_arrays, rfm_fit_inputs

COLUMNS = {"frequency": "frequency", "recency": "recency", "T": "T", "weights": None}


def frame(**columns: list) -> pl.DataFrame:
    base = {"frequency": [0, 2, 2, 1], "recency": [0.0, 10.0, 10.0, 5.0], "T": [30.0, 40.0, 40.0, 20.0]}
    return pl.DataFrame({**base, **columns}, strict=False)


def test_identical_rows_collapse_into_one_weighted_row_in_a_fixed_order():
    inputs = rfm_fit_inputs(frame(), **COLUMNS, what="t")
    assert inputs.x.tolist() == [0.0, 1.0, 2.0]
    assert inputs.t_x.tolist() == [0.0, 5.0, 10.0]
    assert inputs.T.tolist() == [30.0, 20.0, 40.0]
    assert inputs.w.tolist() == [1.0, 1.0, 2.0]
    assert inputs.total_weight == 4.0
    shuffled = rfm_fit_inputs(frame().reverse(), **COLUMNS, what="t")
    assert all(np.array_equal(getattr(inputs, c), getattr(shuffled, c)) for c in ("x", "t_x", "T", "w"))
    # Pooled rate: 5 repeat purchases over 130 days of exposure; mean age 130 / 4.
    assert inputs.pooled_rate == pytest.approx(5 / 130)
    assert inputs.mean_age == pytest.approx(130 / 4)


def test_weights_are_summed_and_zero_weight_rows_leave():
    weighted = frame(w=[3.0, 0.5, 0.5, 0.0])
    inputs = rfm_fit_inputs(weighted, **{**COLUMNS, "weights": "w"}, what="t")
    assert inputs.x.tolist() == [0.0, 2.0] and inputs.w.tolist() == [3.0, 1.0]
    assert inputs.total_weight == 4.0


@pytest.mark.parametrize(
    ("summary", "message"),
    [
        (frame().drop("T"), r"missing column\(s\) \['T'\]"),
        (frame(recency=["0", "1", "1", "1"]), "must be numeric"),
        (frame(recency=[0.0, None, 10.0, 5.0]), "null value"),
        (frame(T=[30.0, float("inf"), 40.0, 20.0]), "NaN or infinite"),
        (frame(frequency=[0, 2.5, 2, 1]), "whole number"),
        (frame(frequency=[0, -1, 2, 1]), "frequency must be >= 0"),
        (frame(recency=[0.0, 50.0, 10.0, 5.0]), "recency must not exceed T"),
        (frame(recency=[3.0, 10.0, 10.0, 5.0]), "recency must be 0 for customers with frequency 0"),
        (frame(T=[-1.0, 40.0, 40.0, 20.0]), "T must be >= 0"),
        (frame().head(0), "no customers to fit"),
        (frame(frequency=[0, 0, 0, 0], recency=[0.0] * 4), "no customer made a repeat purchase"),
    ],
)
def test_bad_summaries_are_refused_with_the_reason(summary, message):
    with pytest.raises(ValueError, match=message):
        rfm_fit_inputs(summary, **COLUMNS, what="t")


def test_bad_weights_are_refused():
    with pytest.raises(ValueError, match="must be >= 0"):
        rfm_fit_inputs(frame(w=[1.0, -1.0, 1.0, 1.0]), **{**COLUMNS, "weights": "w"}, what="t")
    with pytest.raises(ValueError, match="no customers to fit"):
        rfm_fit_inputs(frame(w=[0.0] * 4), **{**COLUMNS, "weights": "w"}, what="t")


@pytest.mark.parametrize(("fit", "name"), [(fit_bgnbd, "fit_bgnbd"), (fit_mbgnbd, "fit_mbgnbd"), (fit_pareto_nbd, "fit_pareto_nbd")])
def test_every_purchase_model_refuses_the_same_input_in_its_own_name(fit, name):
    with pytest.raises(ValueError, match=f"{name}: recency must not exceed T"):
        fit(frame(recency=[0.0, 50.0, 10.0, 5.0]))
    with pytest.raises(ValueError, match=f"{name}: no customer made a repeat purchase"):
        fit(frame(frequency=[0, 0, 0, 0], recency=[0.0] * 4))


def test_scoring_arrays_broadcast_keep_scalars_and_refuse_bad_values():
    x, t_x, T = rfm_arrays(2, 10.0, 30.0, what="t")
    assert x.shape == t_x.shape == T.shape == ()
    x, t_x, T = rfm_arrays([0, 1, 2], [0.0, 1.0, 2.0], 30.0, what="t")
    assert T.tolist() == [30.0, 30.0, 30.0]
    with pytest.raises(ValueError, match="t: T has NaN"):
        rfm_arrays(1, 1.0, float("nan"), what="t")
    with pytest.raises(ValueError, match="recency must not exceed T"):
        rfm_arrays(1, 40.0, 30.0, what="t")
    with pytest.raises(ValueError, match="frequency must be >= 0"):
        rfm_arrays([-1], [0.0], [1.0], what="t")
