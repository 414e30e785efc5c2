"""The fit id of the ``ml_churn_model`` table; the pickle store itself (dump_model, load_model,
library_versions; trust boundary documented there) lives in ecom_growth.model_store and is
re-exported here.
"""

from __future__ import annotations

import polars as pl

from ecom_growth.model_store import PICKLE_PROTOCOL, compute_fit_id, dump_model, library_versions, load_model

__all__ = ["PICKLE_PROTOCOL", "churn_fit_id", "dump_model", "library_versions", "load_model"]


def churn_fit_id(model_table: pl.DataFrame) -> str:
    """The fit_id of one build's ``ml_churn_model`` rows: a digest of every row's model, role,
    status and estimator checksum (row order does not matter; same fit, same id)."""
    rows = model_table.select(
        pl.concat_str([pl.col(c).cast(pl.String).fill_null("") for c in ("model", "role", "status", "estimator_sha256")],
                      separator="|")
    ).to_series().sort()
    return compute_fit_id(rows.to_list())
