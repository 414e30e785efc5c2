"""Fit every churn model once and return them as the ``ml_churn_model`` table.

Splits (dates of ``int_churn_snapshots``, w = ``churn_window_days``); a label window is
[d, d + w), so two snapshots' windows do not overlap when they are at least w days apart:

- test snapshot t: the newest labelled snapshot. The test models train on snapshots <= t - w.
- validation snapshot v: the newest labelled snapshot <= t - w (its label window ends before
  t). The validation models train on snapshots <= v - w.
- final: the selected candidate trained on every labelled snapshot (all are <= as_of - w, so
  all label windows are closed before the scoring snapshot), to score as_of.

Calibration (label-trained candidates): calibrators are fitted on forward-chained folds inside
the training snapshots, with the same gap: for each of the last ``calibration_folds`` training
dates c the candidate is fitted on dates <= c - w and predicts c, and sigmoid (Platt) and
isotonic calibrators are fitted on those out-of-time predictions. The validation snapshot is
the next fold of the same chain (its training dates end w days before it), so WHETHER to apply
a calibrator is decided there, as part of the model choice: per candidate the variant (raw,
sigmoid, isotonic) with the lowest validation log loss. (Deciding on the inner folds alone
misled: their models see a fraction of the dates, and a calibrator that fixed them hurt the
model fitted on all of them.) The test and final models reuse that decision and refit the
calibrator on their own training set's folds; nothing is chosen on the test snapshot, so the
validation row of the chosen variant is slightly optimistic and the test row is the report.

Selection: the candidate with the lowest validation LOG LOSS (a proper scoring rule: the
probabilities drive risk tiers and expected-churner counts, so their level matters, not only
their ranking); ties go to the simpler candidate. ROC-AUC / PR-AUC are reported, not used.

Training rows above ``max_training_rows`` are subsampled uniformly (fixed seed) for every
fit: the churn signal saturates well below a million rows, and it keeps a 1M-customer build
within its time budget. ``n_train_rows`` / ``n_train_rows_used`` record both counts.

Degradation (status 'degraded', a reason, and a documented fallback as the final model):
no labelled snapshot, no validation split (fewer snapshots than the gaps need), too few
labelled rows or too few of one class. Fallback: the BG/NBD probability fitted on the history
before the scoring snapshot (label-free); if BG/NBD cannot be fitted either (nobody repeats),
the labelled churn rate; if there are no labels either, no model (scores get a null
probability). ``ml_churn_scores`` and ``ml_churn_model_evaluation`` read this table only.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta

import numpy as np
import polars as pl
from threadpoolctl import threadpool_limits

from ecom_growth.churn.ablation import (
    WITHOUT_TEXT_SUFFIX,
    WithoutTextFeatures,
    ablation_candidate,
    has_text_signal,
    without_text,
)
from ecom_growth.churn.bgnbd import fit_bgnbd_churn
from ecom_growth.churn.evaluation import log_loss_score
from ecom_growth.churn.features import (
    FEATURE_NAMES,
    prepare_features,
    validate_snapshots,
)
from ecom_growth.churn.models import (
    BASE_RATE,
    BGNBD,
    CALIBRATION_METHODS,
    CANDIDATES,
    BaseRateModel,
    SklearnChurnModel,
    fit_calibrator,
    fit_estimator,
    sklearn_candidates,
)
from ecom_growth.churn.store import dump_model, library_versions

logger = logging.getLogger(__name__)

ROLES: tuple[str, ...] = ("validation", "test", "final")

MODEL_TABLE_SCHEMA: dict[str, pl.DataType] = {
    "model": pl.String,
    "role": pl.String,
    "is_selected": pl.Boolean,
    "calibration_method": pl.String,
    "target_snapshot_date": pl.Date,
    "train_snapshot_dates": pl.String,
    "last_train_snapshot_date": pl.Date,
    "n_train_rows": pl.Int64,
    "n_train_rows_used": pl.Int64,
    "positive_rate_train": pl.Float64,
    "selection_log_loss": pl.Float64,
    "fit_seconds": pl.Float64,
    "feature_names": pl.String,
    "estimator": pl.Binary,
    "estimator_sha256": pl.String,
    "estimator_bytes": pl.Int64,
    "library_versions": pl.String,
    "status": pl.String,
    "status_reason": pl.String,
}
"""Columns of ``ml_churn_model``: one row per stored estimator (candidate x role)."""


@dataclass(frozen=True)
class SplitPlan:
    """Snapshot dates of each split (see the module docstring); None/empty when impossible."""

    labelled_dates: list[date]
    scoring_date: date | None
    test_date: date | None
    validation_date: date | None
    validation_train: list[date]
    test_train: list[date]
    final_train: list[date]


def plan_splits(labelled_dates: Sequence[date], scoring_date: date | None, window_days: int) -> SplitPlan:
    """Validation / test / final training dates with ``window_days`` gaps (no label overlap)."""
    dates = sorted(set(labelled_dates))
    gap = timedelta(days=int(window_days))
    test = dates[-1] if dates else None
    val_options = [d for d in dates if test is not None and d <= test - gap]
    validation = val_options[-1] if val_options else None
    val_train = [d for d in dates if validation is not None and d <= validation - gap]
    test_train = [d for d in dates if test is not None and d <= test - gap]
    final = [d for d in dates if scoring_date is None or d <= scoring_date - gap]
    return SplitPlan(dates, scoring_date, test, validation, val_train, test_train, final)


def forward_folds(train_dates: Sequence[date], window_days: int, n_folds: int) -> list[tuple[list[date], date]]:
    """(fit dates, predicted date) pairs for the last ``n_folds`` dates that have earlier
    training dates at least ``window_days`` before them; oldest fold first."""
    gap = timedelta(days=int(window_days))
    folds = []
    for c in sorted(train_dates, reverse=True):
        fit_dates = [d for d in train_dates if d <= c - gap]
        if fit_dates:
            folds.append((sorted(fit_dates), c))
        if len(folds) == n_folds:
            break
    return folds[::-1]


@dataclass
class _Data:
    """Labelled rows with their features, label and keys (sorted by date, customer)."""

    frame: pl.DataFrame
    X: pl.DataFrame
    y: np.ndarray
    dates: pl.Series
    customers: pl.Series

    def rows(self, dates: Sequence[date], cap: int | None = None, seed: int = 0) -> np.ndarray:
        idx = np.flatnonzero(self.dates.is_in(list(dates)).to_numpy())
        if cap is not None and len(idx) > cap:
            idx = np.sort(np.random.default_rng(seed).choice(idx, size=cap, replace=False))
        return idx


@dataclass
class _Settings:
    window_days: int
    random_state: int
    calibration_folds: int
    max_training_rows: int
    min_training_rows: int
    min_class_rows: int
    versions: str = field(default_factory=library_versions)


def _dates_text(dates: Sequence[date]) -> str:
    return ",".join(d.isoformat() for d in sorted(dates))


def _row(model: str, role: str, obj: object | None, *, settings: _Settings, target: date | None,
         train_dates: Sequence[date] = (), n_rows: int = 0, n_used: int = 0,
         positive_rate: float | None = None, seconds: float = 0.0,
         calibration: str | None = None, status: str = "ok", reason: str | None = None) -> dict:
    blob, digest = dump_model(obj) if obj is not None else (None, None)
    return {
        "model": model, "role": role, "is_selected": False, "calibration_method": calibration,
        "target_snapshot_date": target, "train_snapshot_dates": _dates_text(train_dates),
        "last_train_snapshot_date": max(train_dates) if train_dates else None,
        "n_train_rows": int(n_rows), "n_train_rows_used": int(n_used),
        "positive_rate_train": positive_rate, "selection_log_loss": None,
        "fit_seconds": round(float(seconds), 3), "feature_names": ",".join(FEATURE_NAMES),
        "estimator": blob, "estimator_sha256": digest,
        "estimator_bytes": None if blob is None else len(blob),
        "library_versions": settings.versions, "status": status, "status_reason": reason,
        "_model": obj,
    }


def _oof_predictions(estimator, data: _Data, train_dates: Sequence[date], s: _Settings):
    """Out-of-time predictions on forward-chained folds: list of (p, y) per fold, oldest first."""
    out = []
    for fit_dates, predict_date in forward_folds(train_dates, s.window_days, s.calibration_folds):
        fit_idx = data.rows(fit_dates, s.max_training_rows, s.random_state)
        pred_idx = data.rows([predict_date])
        y_fit = data.y[fit_idx]
        if len(np.unique(y_fit)) < 2 or len(np.unique(data.y[pred_idx])) < 2:
            continue
        model = fit_estimator(estimator, data.X[fit_idx], y_fit, data.customers[fit_idx],
                              s.random_state)
        out.append((SklearnChurnModel(model).predict_raw(data.X[pred_idx]), data.y[pred_idx]))
    return out


def choose_variant(losses: dict[str | None, float]) -> str | None:
    """Calibration variant (None = raw) with the lowest validation log loss; ties go to raw."""
    return min(losses, key=lambda m: (losses[m], m is not None))


def _fit_sklearn(name: str, estimator, data: _Data, train_dates: Sequence[date], s: _Settings,
                 methods: Sequence[str | None]) -> tuple[dict[str | None, SklearnChurnModel], int]:
    """Fit one label-trained candidate on ``train_dates`` and one variant per calibration method.

    The base model is fitted once; each calibrator is fitted on the forward-chained folds'
    out-of-time predictions (no folds -> only the raw variant).
    """
    idx = data.rows(train_dates, s.max_training_rows, s.random_state)
    model = fit_estimator(estimator, data.X[idx], data.y[idx], data.customers[idx], s.random_state)
    variants: dict[str | None, SklearnChurnModel] = {None: SklearnChurnModel(model)}
    wanted = [m for m in methods if m is not None]
    folds = _oof_predictions(estimator, data, train_dates, s) if wanted else []
    if wanted and not folds:
        logger.warning("churn: %s: no forward calibration fold, calibration not applied", name)
    if folds:
        p = np.concatenate([f[0] for f in folds])
        y = np.concatenate([f[1] for f in folds])
        for method in wanted:
            variants[method] = SklearnChurnModel(model, fit_calibrator(method, p, y))
    return variants, len(idx)


def _fit_role(name: str, role: str, data: _Data, train_dates: Sequence[date], target: date | None,
              bgnbd_summary: pl.DataFrame, s: _Settings, method: str | None = None,
              validation: tuple[pl.DataFrame, np.ndarray] | None = None) -> dict:
    """One stored model. With ``validation`` (X, y), the calibration variant with the lowest
    validation log loss is kept; otherwise ``method`` (the one chosen on validation) is used."""
    t0 = time.perf_counter()
    idx_all = data.rows(train_dates)
    n_rows = len(idx_all)
    rate = float(np.mean(data.y[idx_all])) if n_rows else None
    common = {"settings": s, "target": target, "train_dates": train_dates, "n_rows": n_rows,
              "positive_rate": rate}
    if name == BASE_RATE:
        return _row(name, role, BaseRateModel(rate), n_used=n_rows,
                    seconds=time.perf_counter() - t0, **common)
    if name == BGNBD:
        try:
            model = fit_bgnbd_churn(bgnbd_summary, target, window_days=s.window_days)
        except ValueError as exc:
            return _row(name, role, None, status="degraded", reason=f"BG/NBD not fitted: {exc}",
                        **common)
        reason = None if model.converged else "BG/NBD fit did not converge (estimates used)"
        return _row(name, role, model, seconds=time.perf_counter() - t0,
                    status="ok" if model.converged else "degraded", reason=reason,
                    **{**common, "train_dates": [], "n_rows": 0, "positive_rate": None})
    estimator = sklearn_candidates(s.random_state)[name]
    methods = (None, *CALIBRATION_METHODS) if validation is not None else (method,)
    variants, n_used = _fit_sklearn(name, estimator, data, train_dates, s, methods)
    chosen: str | None = None
    if validation is not None:
        X_val, y_val = validation
        raw = variants[None].predict_raw(X_val)  # the variants share the estimator: predict once
        losses = {m: log_loss_score(y_val, v.calibrate(raw)) for m, v in variants.items()}
        chosen = choose_variant(losses)
        logger.info("churn: %s validation log loss by calibration %s", name,
                    {str(m): round(v, 5) for m, v in losses.items()})
    elif method in variants:
        chosen = method
    row = _row(name, role, variants[chosen], n_used=n_used, calibration=chosen,
               seconds=time.perf_counter() - t0, **common)
    if validation is not None:
        row["selection_log_loss"] = losses[chosen]
    return row


def _without_text_row(name: str, data: _Data, plan: SplitPlan, s: _Settings, method: str | None) -> dict:
    """The text ablation (churn/ablation.py): candidate ``name`` refitted for the test role with
    the text features masked, stored as ``<name>_without_text_features``."""
    t0 = time.perf_counter()
    masked = _Data(data.frame, without_text(data.X), data.y, data.dates, data.customers)
    estimator = sklearn_candidates(s.random_state)[name]
    variants, n_used = _fit_sklearn(name, estimator, masked, plan.test_train, s, (method,))
    chosen = method if method in variants else None
    idx = data.rows(plan.test_train)
    return _row(name + WITHOUT_TEXT_SUFFIX, "test", WithoutTextFeatures(variants[chosen]), settings=s,
                target=plan.test_date, train_dates=plan.test_train, n_rows=len(idx), n_used=n_used,
                positive_rate=float(np.mean(data.y[idx])), seconds=time.perf_counter() - t0, calibration=chosen)


def _why_not_trainable(data: _Data, plan: SplitPlan, s: _Settings) -> str | None:
    if not plan.labelled_dates:
        return "no labelled snapshot (the shop's history is shorter than churn_window_days)"
    if plan.validation_date is None or not plan.validation_train:
        return (f"labelled snapshots {_dates_text(plan.labelled_dates)} are too few to validate "
                f"and test with {s.window_days}-day gaps; add history or snapshots")
    for what, dates in (("training", plan.validation_train), ("validation", [plan.validation_date]),
                        ("test", [plan.test_date])):
        y = data.y[data.rows(dates)]
        n_pos, n_neg = int(y.sum()), int(len(y) - y.sum())
        if len(y) < s.min_training_rows or min(n_pos, n_neg) < s.min_class_rows:
            only = " (a single churn class)" if min(n_pos, n_neg) == 0 else ""
            return (f"{what} snapshots {_dates_text(dates)} have {len(y)} rows, {n_pos} churned and "
                    f"{n_neg} retained{only}; need >= {s.min_training_rows} rows and "
                    f">= {s.min_class_rows} of each class")
    return None


def _fallback_rows(reason: str, data: _Data, plan: SplitPlan, bgnbd_summary: pl.DataFrame,
                   s: _Settings) -> list[dict]:
    """The degraded model table: one 'final' row holding the documented fallback."""
    if plan.scoring_date is not None:
        try:
            model = fit_bgnbd_churn(bgnbd_summary, plan.scoring_date, window_days=s.window_days)
            return [{**_row(BGNBD, "final", model, settings=s, target=plan.scoring_date,
                            status="degraded", reason=f"{reason}; scores are the BG/NBD baseline"),
                     "is_selected": True}]
        except ValueError as exc:
            reason = f"{reason}; BG/NBD not fitted either ({exc})"
    if data.y.size:
        rate = float(np.mean(data.y))
        return [{**_row(BASE_RATE, "final", BaseRateModel(rate), settings=s,
                        target=plan.scoring_date, train_dates=plan.labelled_dates,
                        n_rows=data.y.size, n_used=data.y.size, positive_rate=rate,
                        status="degraded", reason=f"{reason}; scores are the labelled churn rate"),
                 "is_selected": True}]
    return [{**_row("none", "final", None, settings=s, target=plan.scoring_date,
                    status="degraded", reason=f"{reason}; no fallback (no labels): scores are null"),
             "is_selected": True}]


def fit_churn_models(
    snapshots: pl.DataFrame,
    bgnbd_summary: pl.DataFrame,
    *,
    window_days: int,
    random_state: int,
    calibration_folds: int,
    max_training_rows: int,
    min_training_rows: int,
    min_class_rows: int,
    n_threads: int | None,
) -> pl.DataFrame:
    """``ml_churn_model``: every candidate fitted for validation and test, the selected one for
    scoring (see the module docstring). Deterministic for a given input and ``random_state``.

    ``snapshots`` is ``int_churn_snapshots``, ``bgnbd_summary`` is ``int_churn_bgnbd_summary``.
    ``n_threads`` caps OpenMP/BLAS threads while fitting (shared cores: 1 is fastest).
    """
    s = _Settings(int(window_days), int(random_state), int(calibration_folds),
                  int(max_training_rows), int(min_training_rows), int(min_class_rows))
    with threadpool_limits(limits=None if n_threads is None else int(n_threads)):
        rows = _fit_all(validate_snapshots(snapshots), bgnbd_summary, s)
    return pl.DataFrame([{k: r[k] for k in MODEL_TABLE_SCHEMA} for r in rows],
                        schema=MODEL_TABLE_SCHEMA)


def _labelled_data(table: pl.DataFrame) -> _Data:
    labelled = table.filter(~pl.col("is_scoring_snapshot")).sort(["snapshot_date", "customer_id"])
    return _Data(labelled, prepare_features(labelled),
                 labelled.get_column("is_churned").cast(pl.Int64).to_numpy(),
                 labelled.get_column("snapshot_date"), labelled.get_column("customer_id"))


def _fit_all(table: pl.DataFrame, bgnbd_summary: pl.DataFrame, s: _Settings) -> list[dict]:
    started = time.perf_counter()
    data = _labelled_data(table)
    scoring = table.filter(pl.col("is_scoring_snapshot")).get_column("snapshot_date").unique()
    plan = plan_splits(data.dates.unique().to_list(), scoring[0] if scoring.len() else None,
                       s.window_days)
    reason = _why_not_trainable(data, plan, s)
    if reason is not None:
        logger.warning("churn: degraded: %s", reason)
        return _fallback_rows(reason, data, plan, bgnbd_summary, s)

    rows: list[dict] = []
    methods: dict[str, str | None] = {}
    val_idx = data.rows([plan.validation_date])
    validation = (data.X[val_idx], data.y[val_idx])
    for name in CANDIDATES:
        row = _fit_role(name, "validation", data, plan.validation_train, plan.validation_date,
                        bgnbd_summary, s, validation=validation)
        methods[name] = row["calibration_method"]
        rows.append(row)
    for row in rows:
        if row["_model"] is not None and row["selection_log_loss"] is None:
            p = row["_model"].predict(data.X[val_idx])
            row["selection_log_loss"] = log_loss_score(data.y[val_idx], p)
    scored = [r for r in rows if r["selection_log_loss"] is not None]
    selected = min(scored, key=lambda r: r["selection_log_loss"])["model"]  # first minimum
    logger.info("churn: validation log loss %s -> %s",
                {r["model"]: round(r["selection_log_loss"], 5) for r in scored}, selected)
    for name in CANDIDATES:
        rows.append(_fit_role(name, "test", data, plan.test_train, plan.test_date, bgnbd_summary,
                              s, method=methods[name]))
    ablated = ablation_candidate({r["model"]: r["selection_log_loss"] for r in scored})
    if ablated is not None and has_text_signal(data.X):
        rows.append(_without_text_row(ablated, data, plan, s, methods[ablated]))
    rows.append(_fit_role(selected, "final", data, plan.final_train, plan.scoring_date,
                          bgnbd_summary, s, method=methods[selected]))
    for row in rows:
        row["is_selected"] = row["model"] == selected
    logger.info("churn: fitted %d models in %.1fs", len(rows), time.perf_counter() - started)
    return rows
