"""The stored text models (``ml_review_text_model``, ``ml_ticket_intent_model``): one row
per build's fit, the fitted scikit-learn pipeline pickled by ecom_growth.model_store (trust
boundary documented there) beside the training cutoff it was fitted before, so the tables that
score with it mark as holdout exactly the texts it never saw, also when a later build keeps it
(var ml_retrain_after_days)."""

from __future__ import annotations

from datetime import datetime
from typing import NamedTuple

import polars as pl
from sklearn.pipeline import Pipeline

from ecom_growth.model_store import estimator_table, stored_estimator

TEXT_MODEL_SCHEMA: dict[str, pl.DataType] = {
    "model": pl.String, "training_rows": pl.Int64, "training_cutoff": pl.Datetime("us"),
    "status": pl.String, "status_reason": pl.String,
}


class TextFit(NamedTuple):
    """A fitted text classifier (None when degraded: ``reason`` says why), the number of
    training texts and the cutoff they were written before."""

    pipeline: Pipeline | None
    reason: str | None
    training_rows: int
    training_cutoff: datetime


def text_model_table(fit: TextFit, *, model: str, fitted_at: datetime, settings: str) -> pl.DataFrame:
    """The one-row model table of ``fit`` (``model``: the method's name, or its fallback's)."""
    columns = {"model": model, "training_rows": fit.training_rows, "training_cutoff": fit.training_cutoff,
               "status": "ok" if fit.reason is None else "degraded", "status_reason": fit.reason}
    return estimator_table(fit.pipeline, columns, TEXT_MODEL_SCHEMA, fitted_at=fitted_at, settings=settings)


def text_fit_from_table(table: pl.DataFrame) -> TextFit:
    """The fit stored by :func:`text_model_table` (the pipeline is unpickled after its checksum
    is checked)."""
    return TextFit(stored_estimator(table), table.item(0, "status_reason"), int(table.item(0, "training_rows")),
                   table.item(0, "training_cutoff"))
