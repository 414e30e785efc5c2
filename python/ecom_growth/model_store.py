"""Fit metadata, stored estimators and the retrain-after-days rule shared by the stored models
(ALS, churn, CLV, text, uplift).

A fitted model is a warehouse table (``ml_als_item_factors``, ``ml_churn_model``,
``ml_clv_model_parameters``, ``ml_review_text_model``, ``ml_ticket_intent_model``,
``ml_uplift_model``; evaluations whose fits choose the final model are kept with it). Every row
of such a table carries the fit's ``fit_id`` (a digest of what the fit produced, so the same
data and settings give the same id on every rebuild) and ``fitted_at`` (the build's as_of: data
time, never the wall clock). Tables that are computed FROM a fit (user factors, evaluation,
calibration) carry the fit_id they read, so a test can check that one build fitted each model
once and everything else read it.

Train less often than you score: with var ``ml_retrain_after_days`` > 0, a build whose stored
fit is younger than that (as_of - fitted_at, in data time) keeps the stored table instead of
refitting; scores are recomputed from it on the new data. 0 (the default) always refits.
A stored fit is kept only if it was made with the same settings (``settings_digest``: the vars
and feature list the fit depends on), so changing a var or upgrading to a release with new
features refits instead of serving a stale model.

A fitted scikit-learn object is stored as a row (:func:`estimator_table`): the pickle as a BLOB,
its sha256 and the library versions that wrote it. Trust boundary: unpickling runs code, so
:func:`load_model` must only ever read the project's own model tables written by its own builds
(never a file or table from elsewhere). The checksum catches truncation or accidental edits, not
a malicious writer. Pickles are only guaranteed to load with the library versions recorded in
``library_versions``: the settings digest of a pickled model includes them, so a build on other
versions refits instead of loading it.
"""

from __future__ import annotations

import hashlib
import json
import pickle
import platform
from collections.abc import Iterable, Mapping
from datetime import date, datetime, timedelta
from importlib.metadata import PackageNotFoundError, version

import polars as pl

FIT_ID_COL = "fit_id"
FITTED_AT_COL = "fitted_at"
SETTINGS_DIGEST_COL = "settings_digest"
PICKLE_PROTOCOL = 5
_LIBRARIES = ("numpy", "scipy", "scikit-learn", "polars")
ESTIMATOR_SCHEMA: dict[str, pl.DataType] = {
    "estimator": pl.Binary, "estimator_sha256": pl.String, "estimator_bytes": pl.Int64, "library_versions": pl.String,
}


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

    Only for the project's own model tables: see the module docstring.
    """
    digest = hashlib.sha256(blob).hexdigest()
    if digest != sha256:
        raise ValueError(f"stored model checksum mismatch: {digest} != {sha256}")
    return pickle.loads(blob)


def estimator_table(estimator: object | None, columns: Mapping[str, object], schema: Mapping[str, pl.DataType], *,
                    fitted_at: datetime | date | None, settings: str) -> pl.DataFrame:
    """A one-row model table: ``columns`` (typed by ``schema``), the pickled ``estimator`` (null
    when there is none, e.g. a degraded fit) with its checksum and library versions, fit_id (a
    digest of the checksum and ``columns``), fitted_at and settings_digest."""
    blob, digest = dump_model(estimator) if estimator is not None else (None, None)
    row = {**columns, "estimator": blob, "estimator_sha256": digest, "estimator_bytes": None if blob is None else len(blob),
           "library_versions": library_versions()}
    table = pl.DataFrame([row], schema={**schema, **ESTIMATOR_SCHEMA})
    fit_id = compute_fit_id([digest, json.dumps(dict(columns), sort_keys=True, default=str)])
    return with_settings_digest(with_fit_metadata(table, fit_id=fit_id, fitted_at=fitted_at), settings)


def stored_estimator(table: pl.DataFrame) -> object | None:
    """The estimator of a one-row :func:`estimator_table` (None when it stores none); ValueError
    unless the table holds exactly one row."""
    if table.height != 1:
        raise ValueError(f"a stored model table must hold one row, got {table.height}")
    blob, digest = table.item(0, "estimator"), table.item(0, "estimator_sha256")
    return None if blob is None else load_model(blob, digest)


def compute_fit_id(parts: Iterable[bytes | str | None]) -> str:
    """16 hex digits of the sha256 over the parts that define a fit (None counts as empty)."""
    digest = hashlib.sha256()
    for part in parts:
        data = b"" if part is None else part.encode() if isinstance(part, str) else bytes(part)
        # length prefix: ("ab", "c") and ("a", "bc") must not collide
        digest.update(len(data).to_bytes(8, "little"))
        digest.update(data)
    return digest.hexdigest()[:16]


def settings_digest(settings: Mapping[str, object]) -> str:
    """16 hex digits over the settings a fit depends on (key order does not matter)."""
    return compute_fit_id([json.dumps(settings, sort_keys=True, default=str)])


def relation_digest(relation) -> str:
    """16 hex digits over a DuckDB relation's rows as a multiset (their count and the sum of a hash
    of each row, computed in DuckDB: nothing is loaded into Python). Equal contents give equal
    digests whatever the row order; for a model whose output is a function of a table (a digest
    from another DuckDB version differs, which only recomputes)."""
    columns = ", ".join('"' + name.replace('"', '""') + '"' for name in relation.columns)
    count, total = relation.aggregate(f"count(*), sum(hash({columns}))").fetchall()[0]
    return compute_fit_id([str(count), str(total)])


def with_settings_digest(table: pl.DataFrame, digest: str) -> pl.DataFrame:
    """``table`` with the column settings_digest (the settings it was fitted with) on every row."""
    return table.with_columns(pl.lit(digest, pl.String).alias(SETTINGS_DIGEST_COL))


def same_settings(previous: pl.DataFrame, digest: str) -> bool:
    """Whether every row of a stored model table was fitted with the settings ``digest``."""
    if SETTINGS_DIGEST_COL not in previous.columns:
        return False
    return set(previous.get_column(SETTINGS_DIGEST_COL).to_list()) == {digest}


def with_fit_metadata(table: pl.DataFrame, *, fit_id: str, fitted_at: datetime | date | None) -> pl.DataFrame:
    """``table`` with the columns fit_id (string) and fitted_at (timestamp) on every row."""
    if isinstance(fitted_at, date) and not isinstance(fitted_at, datetime):
        fitted_at = datetime(fitted_at.year, fitted_at.month, fitted_at.day)
    return table.with_columns(
        pl.lit(fit_id, pl.String).alias(FIT_ID_COL),
        pl.lit(fitted_at, pl.Datetime("us")).alias(FITTED_AT_COL),
    )


def with_content_fit(table: pl.DataFrame, *, fitted_at: datetime | date | None, settings: str) -> pl.DataFrame:
    """A model table that IS its fit's result (parameters, an evaluation) with fit_id (a digest of
    its rows, in their order: the producers sort them), fitted_at and settings_digest."""
    return with_settings_digest(with_fit_metadata(table, fit_id=compute_fit_id([table.write_csv()]), fitted_at=fitted_at),
                                settings)


def stored_fit(table: pl.DataFrame | None) -> tuple[str, datetime] | None:
    """(fit_id, fitted_at) of a stored model table; None when it holds no single complete fit."""
    if table is None or table.height == 0 or not {FIT_ID_COL, FITTED_AT_COL} <= set(table.columns):
        return None
    fits = table.select(FIT_ID_COL, FITTED_AT_COL).unique()
    if fits.height != 1 or fits.null_count().sum_horizontal()[0] > 0:
        return None
    fit_id, fitted_at = fits.row(0)
    return fit_id, fitted_at


def _status_ok(table: pl.DataFrame) -> bool:
    """Whether every row's status is 'ok' (true for a table without a status column)."""
    return "status" not in table.columns or set(table.get_column("status").to_list()) == {"ok"}


def reusable_fit(
    previous: pl.DataFrame | None,
    *,
    as_of: datetime,
    retrain_after_days: int,
    require_status_ok: bool = True,
    settings: str | None = None,
) -> bool:
    """Whether the previous build's model table may be kept instead of refitting.

    True when ``retrain_after_days`` > 0, ``previous`` holds one complete fit, that fit is
    0 <= as_of - fitted_at < retrain_after_days days old (an earlier as_of, a backtest, always
    refits) and, with ``require_status_ok``, every row's status is 'ok' (a degraded fit is
    retried on every build) and, given a ``settings`` digest, the fit was made with those
    settings (:func:`same_settings`).
    """
    if int(retrain_after_days) <= 0:
        return False
    fit = stored_fit(previous)
    if fit is None or as_of is None:
        return False
    if require_status_ok and not _status_ok(previous):
        return False
    if settings is not None and not same_settings(previous, settings):
        return False
    age = as_of - fit[1]
    return timedelta(0) <= age < timedelta(days=int(retrain_after_days))


def previous_relation(session, relation) -> pl.DataFrame | None:
    """The current contents of a dbt model's own table (``dbt.this``), None before its first build.

    The one I/O helper here, for the dbt Python models: dbt-duckdb builds the new table under a
    temporary name and swaps it in afterwards, so while the model runs its previous table is
    still readable under ``relation``.
    """
    found = session.execute(
        "select count(*) from information_schema.tables where table_catalog = ? and table_schema = ? and table_name = ?",
        [relation.database, relation.schema, relation.identifier],
    ).fetchall()[0][0]  # fetchall: DuckDB 2 refuses new work while a result is unfinished
    if not found:
        return None
    return session.sql(f"select * from {relation!r}").pl()


def with_fit_of(table: pl.DataFrame, model_table: pl.DataFrame) -> pl.DataFrame:
    """``table`` (computed from a stored model) with that model's fit_id and fitted_at."""
    fit = stored_fit(model_table)
    fit_id, fitted_at = fit if fit is not None else (None, None)
    return with_fit_metadata(table, fit_id=fit_id, fitted_at=fitted_at)


def reusable_with_fit(previous: pl.DataFrame | None, model_table: pl.DataFrame, *, retrain_after_days: int,
                      settings: str | None = None, require_status_ok: bool = False) -> bool:
    """Whether a table computed from a stored model (evaluation, calibration, similar products)
    may be kept: only when ``ml_retrain_after_days`` > 0 and it was computed from the very fit
    the model table holds now (a refit, or a partial rebuild, recomputes it); given a
    ``settings`` digest, only with the settings it was computed with (:func:`same_settings`);
    with ``require_status_ok``, only when every row's status is 'ok' (a degraded table's
    fallback may read other inputs)."""
    if int(retrain_after_days) <= 0:
        return False
    before, now = stored_fit(previous), stored_fit(model_table)
    if before is None or now is None or before != now:
        return False
    if require_status_ok and not _status_ok(previous):
        return False
    return settings is None or same_settings(previous, settings)


def kept_fit(session, relation, *, as_of: datetime, retrain_after_days: int,
             require_status_ok: bool = True, settings: str | None = None) -> pl.DataFrame | None:
    """A model's previous table when :func:`reusable_fit` keeps it, else None (for dbt models;
    nothing is read when ``retrain_after_days`` is 0)."""
    if int(retrain_after_days) <= 0:
        return None
    previous = previous_relation(session, relation)
    keep = reusable_fit(previous, as_of=as_of, retrain_after_days=retrain_after_days,
                        require_status_ok=require_status_ok, settings=settings)
    return previous if keep else None


def kept_with_fit(session, relation, model_table: pl.DataFrame, *, retrain_after_days: int,
                  settings: str | None = None, require_status_ok: bool = False) -> pl.DataFrame | None:
    """A derived table's previous contents when :func:`reusable_with_fit` keeps it, else None."""
    if int(retrain_after_days) <= 0:
        return None
    previous = previous_relation(session, relation)
    keep = reusable_with_fit(previous, model_table, retrain_after_days=retrain_after_days, settings=settings,
                             require_status_ok=require_status_ok)
    return previous if keep else None
