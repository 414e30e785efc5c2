"""Serialising fitted churn models into the ``ml_churn_model`` table and back.

A fitted model is a row: the pickled object as a BLOB, its sha256, the library versions that
wrote it. Trust boundary: unpickling runs code, so :func:`load_model` must only ever read the
project's own ``ml_churn_model`` table written by the same build (never a file or table from
elsewhere). The checksum catches truncation or accidental edits, not a malicious writer.
Pickles are only guaranteed to load with the library versions recorded in
``library_versions``; a daily scoring job on other versions should refit.
"""

from __future__ import annotations

import hashlib
import pickle
import platform
from importlib.metadata import PackageNotFoundError, version

import polars as pl

from ecom_growth.model_store import compute_fit_id

PICKLE_PROTOCOL = 5
_LIBRARIES = ("numpy", "scipy", "scikit-learn", "polars")


def library_versions() -> str:
    """``python=3.12.1;numpy=...;scikit-learn=...``: what a stored pickle needs to load."""
    parts = [f"python={platform.python_version()}"]
    for name in _LIBRARIES:
        try:
            parts.append(f"{name}={version(name)}")
        except PackageNotFoundError:
            parts.append(f"{name}=?")
    return ";".join(parts)


def dump_model(model: object) -> tuple[bytes, str]:
    """(pickle bytes, sha256 hex digest) of a fitted model."""
    blob = pickle.dumps(model, protocol=PICKLE_PROTOCOL)
    return blob, hashlib.sha256(blob).hexdigest()


def load_model(blob: bytes, sha256: str) -> object:
    """Unpickle a stored model after checking its checksum (ValueError on a mismatch).

    Only for the project's own ``ml_churn_model`` rows: see the module docstring.
    """
    digest = hashlib.sha256(blob).hexdigest()
    if digest != sha256:
        raise ValueError(f"stored churn model checksum mismatch: {digest} != {sha256}")
    return pickle.loads(blob)


def churn_fit_id(model_table: pl.DataFrame) -> str:
    """The fit_id of one build's ``ml_churn_model`` rows: a digest of every row's model, role,
    status and estimator checksum (row order does not matter; same fit, same id)."""
    rows = model_table.select(
        pl.concat_str([pl.col(c).cast(pl.String).fill_null("") for c in ("model", "role", "status", "estimator_sha256")],
                      separator="|")
    ).to_series().sort()
    return compute_fit_id(rows.to_list())
