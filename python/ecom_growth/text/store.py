"""The stored text models (``ml_review_text_model``, ``ml_ticket_intent_model``): one row
per build's fit, the fitted scikit-learn pipeline pickled by ecom_growth.model_store (trust
boundary documented there) beside the training cutoff it was fitted before, so the tables that
score with it mark as holdout exactly the texts it never saw, also when a later build keeps it
(var ml_retrain_after_days)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from typing import NamedTuple

import polars as pl
from sklearn.pipeline import Pipeline

from ecom_growth.model_store import estimator_table, library_versions, settings_digest, stored_estimator

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


INPUT_DIGEST_COL = "input_digest"
# Bump when the scoring code changes what a row's scores are: the digest must change with it,
# or a daily build would keep rows scored by the old code.
SCORING_VERSION = 1


def scoring_salt(model_table: pl.DataFrame, settings: Mapping[str, object]) -> str:
    """What a scored row depends on besides its own input: the stored fit (fit_id, its
    settings_digest, so its vars, seeds and library versions), the scoring ``settings``
    (vars and seeds only the scoring reads), the library versions and SCORING_VERSION."""
    return settings_digest({"fit_id": model_table.get_column("fit_id").to_list(),
                            "fit_settings": model_table.get_column("settings_digest").to_list(),
                            "scoring": dict(settings), "library_versions": library_versions(),
                            "scoring_version": SCORING_VERSION})


def with_input_digest(rows: pl.DataFrame, salt: str) -> pl.DataFrame:
    """``rows`` with input_digest: per row, 128 bits over all its values and ``salt``.

    polars' row hash is only stable within one polars version: ``salt`` comes from
    :func:`scoring_salt`, which includes the library versions, so another version changes every
    digest (everything is rescored) instead of comparing incomparable hashes."""
    # two 64-bit hashes of the row under two different salts: 128 bits against a collision
    low, high = (rows.with_columns(pl.lit(f"{half}:{salt}", pl.String).alias("__salt")).hash_rows(seed=0)
                 for half in ("low", "high"))
    return rows.with_columns(pl.format("{}-{}", low, high).alias(INPUT_DIGEST_COL))


def rescore_changed(
    rows: pl.DataFrame, previous: pl.DataFrame | None, *, key: str, salt: str,
    score: Callable[[pl.DataFrame], pl.DataFrame],
) -> pl.DataFrame:
    """``score(rows)`` with input_digest, equal to a full rescore but scoring only the rows that
    are new or changed since ``previous`` (this table's last build, None: score all).

    ``rows`` are the inputs of this build (one per ``key``, already restricted to what the
    table covers); a previous row is kept only when a row of ``rows`` has its key and input
    digest (same values, same fit and settings: :func:`scoring_salt`). So a row whose input
    changed (a ticket resolved, a product recategorised) is rescored, a row no longer in
    ``rows`` (quarantined, after a backtest's as_of) is dropped, and a refit or a settings
    change rescores everything. ``score`` must be row-wise (a row's output depends on that row
    only) and return one row per input row, keyed by ``key``."""
    digested = with_input_digest(rows, salt)
    if previous is not None and INPUT_DIGEST_COL in previous.columns:
        kept = previous.join(digested.select(key, INPUT_DIGEST_COL), on=[key, INPUT_DIGEST_COL], how="semi")
    else:
        kept = None
    fresh = digested if kept is None else digested.join(kept.select(key), on=key, how="anti")
    scored = score(fresh.drop(INPUT_DIGEST_COL)).join(fresh.select(key, INPUT_DIGEST_COL), on=key, how="left")
    if kept is None:
        return scored
    kept = kept.select([pl.col(name).cast(dtype) for name, dtype in scored.schema.items()])
    return pl.concat([scored, kept]).sort(key)
