"""Train, validate, calibrate, select and score churn models on the snapshot table.

Time-based validation: candidates are fit on the older labelled snapshots and validated on the
newest labelled snapshot, the situation the model is in when it scores ``as_of``: it has learnt
from the past and is judged on a later month. Customers appear in several snapshots (monthly
rows of the same person); that is fine because validation is strictly a later snapshot date.
Note that with monthly snapshots and a 90-day label window, the label windows of the last
training snapshots overlap the validation snapshot's; ``validation_gap_days =
churn_window_days`` trains only on snapshots whose labels were fully known at the validation
date (a strict backtest) at the cost of fewer training snapshots.

Calibration: each candidate is also fit through ``CalibratedClassifierCV`` (sigmoid and
isotonic, ``ensemble=False``; out-of-fold predictions come from folds of whole snapshot dates,
so a calibration fold is never the same month as its model). A calibrated variant replaces
the raw model only if it lowers the validation Brier score by at least
``min_calibration_gain`` (relative) without raising log loss; the evaluation table records
whether it was applied.

Selection: the candidate with the highest validation PR-AUC (ties go to the simpler model,
listed first). It is refit, with its calibration choice, on ALL labelled snapshots, and then
scores the scoring snapshot; reasons come from :mod:`ecom_growth.churn.reasons`.

Fallbacks (documented, tested): one labelled snapshot -> validation on a deterministic 20%
customer sample of it; zero labelled snapshots, or only one class in the training or
validation data -> ValueError naming the snapshot dates and positive rate (a churn model
cannot be learnt or judged then; a silent base-rate model would look like a real one).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping, Sequence
from contextlib import nullcontext
from dataclasses import dataclass
from datetime import date, timedelta

import numpy as np
import polars as pl
from sklearn.base import clone
from sklearn.calibration import CalibratedClassifierCV
from threadpoolctl import threadpool_limits

from ecom_growth.churn.evaluation import EVALUATION_SCHEMA, binary_metrics, reliability_table
from ecom_growth.churn.features import (
    FeatureReference,
    prepare_features,
    reference_values,
    validate_snapshots,
)
from ecom_growth.churn.models import default_models
from ecom_growth.churn.reasons import predict_churn_probability, top_reasons

logger = logging.getLogger(__name__)

DEFAULT_RISK_TIERS: dict[str, float] = {"high": 0.6, "medium": 0.3}
LOWEST_TIER = "low"
CALIBRATION_METHODS: tuple[str, ...] = ("sigmoid", "isotonic")
SINGLE_SNAPSHOT_VALIDATION_SHARE = 0.2

SCORES_SCHEMA: dict[str, pl.DataType] = {
    "customer_id": pl.String,
    "churn_probability": pl.Float64,
    "risk_tier": pl.String,
    "reason_1": pl.String,
    "reason_2": pl.String,
    "reason_3": pl.String,
    "model_name": pl.String,
    "as_of": pl.Date,
}
"""Columns of ``ml_churn_scores``: one row per customer of the scoring snapshot."""


@dataclass(frozen=True)
class ChurnResult:
    """Everything ``train_and_score`` produced.

    ``evaluation`` is ``ml_churn_model_evaluation``, ``scores`` is ``ml_churn_scores``,
    ``model`` the selected estimator refit on all labelled snapshots (a ``CalibratedClassifierCV``
    when calibration was applied), taking ``prepare_features`` output. ``reliability`` is the
    selected model's reliability curve on the validation snapshot (before the final refit).
    """

    evaluation: pl.DataFrame
    scores: pl.DataFrame
    model_name: str
    model: object
    calibration_method: str | None
    threshold: float
    reference: FeatureReference
    reliability: pl.DataFrame


@dataclass(frozen=True)
class _Split:
    train: np.ndarray  # boolean masks over the labelled rows
    validation: np.ndarray
    train_dates: list[date]
    validation_date: date


def validate_risk_tiers(risk_tiers: Mapping[str, float]) -> dict[str, float]:
    """Tier name -> minimum probability, checked: numbers in [0, 1], distinct thresholds."""
    tiers: dict[str, float] = {}
    for name, threshold in dict(risk_tiers).items():
        try:
            value = float(threshold)
        except (TypeError, ValueError) as exc:
            raise ValueError(f"risk tier {name!r} threshold {threshold!r} is not a number") from exc
        if not 0.0 <= value <= 1.0:
            raise ValueError(f"risk tier {name!r} threshold {value} is outside [0, 1]")
        tiers[str(name)] = value
    if len(set(tiers.values())) != len(tiers):
        raise ValueError(f"risk tier thresholds must be distinct, got {tiers}")
    return tiers


def assign_risk_tiers(
    probability: pl.Series | np.ndarray, risk_tiers: Mapping[str, float]
) -> pl.Series:
    """Tier of each probability: the tier with the highest threshold <= p, else ``"low"``.

    A probability exactly at a threshold belongs to that tier (``{"high": 0.6}``: 0.6 is high).
    """
    tiers = validate_risk_tiers(risk_tiers)
    p = pl.Series("churn_probability", probability, dtype=pl.Float64)
    expr: pl.Expr | pl.Then | pl.ChainedThen | None = None
    for name, threshold in sorted(tiers.items(), key=lambda kv: -kv[1]):
        cond = pl.col("churn_probability") >= threshold
        expr = pl.when(cond).then(pl.lit(name)) if expr is None else expr.when(cond).then(
            pl.lit(name))
    tier = pl.lit(LOWEST_TIER) if expr is None else expr.otherwise(pl.lit(LOWEST_TIER))
    return pl.DataFrame([p]).with_columns(tier.cast(pl.String).alias("risk_tier"))["risk_tier"]


def empty_scores() -> pl.DataFrame:
    """``ml_churn_scores`` with no rows (and the right schema)."""
    return pl.DataFrame(schema=SCORES_SCHEMA)


def score_snapshot(
    model,
    snapshot: pl.DataFrame,
    *,
    model_name: str,
    reference: FeatureReference,
    risk_tiers: Mapping[str, float] = DEFAULT_RISK_TIERS,
    min_reason_delta: float = 1e-3,
) -> pl.DataFrame:
    """``ml_churn_scores`` for the rows of one snapshot date with a fitted model.

    ``snapshot`` has the snapshot-table columns (labels may be null); ``as_of`` is its
    snapshot date. Empty input -> empty frame with the schema.
    """
    tiers = validate_risk_tiers(risk_tiers)
    snapshot = validate_snapshots(snapshot)
    if snapshot.height == 0:
        return empty_scores()
    dates = snapshot.get_column("snapshot_date").unique()
    if dates.len() != 1:
        raise ValueError(f"score_snapshot expects one snapshot date, got {dates.len()}")
    features = prepare_features(snapshot)
    p = predict_churn_probability(model, features)
    reasons = top_reasons(model, features, reference, top_k=3, min_delta=min_reason_delta,
                          probability=p)
    return pl.DataFrame(
        {
            "customer_id": snapshot.get_column("customer_id"),
            "churn_probability": p,
            "risk_tier": assign_risk_tiers(p, tiers),
        }
    ).hstack(reasons).with_columns(
        pl.lit(model_name, dtype=pl.String).alias("model_name"),
        pl.lit(dates[0], dtype=pl.Date).alias("as_of"),
    ).select(list(SCORES_SCHEMA))


def _customer_folds(customer_id: pl.Series, n_folds: int, random_state: int) -> np.ndarray:
    """Fold number per row, all rows of a customer in the same fold; reproducible."""
    unique = customer_id.unique().sort()
    rng = np.random.default_rng(random_state)
    fold = pl.DataFrame(
        {"customer_id": unique, "fold": (rng.permutation(unique.len()) % n_folds).astype(np.int64)}
    )
    return (
        pl.DataFrame({"customer_id": customer_id})
        .join(fold, on="customer_id", how="left", maintain_order="left")
        .get_column("fold").to_numpy()
    )


def _time_split(labelled: pl.DataFrame, validation_gap_days: int, random_state: int) -> _Split:
    dates = sorted(labelled.get_column("snapshot_date").unique().to_list())
    snapshot_date = labelled.get_column("snapshot_date")
    if not dates:
        raise ValueError(
            "int_churn_snapshots has no labelled snapshot (is_scoring_snapshot = false): "
            "a churn model needs at least one month whose 90-day outcome is known"
        )
    if len(dates) == 1:
        # Fallback: one labelled month. Validate on a deterministic customer sample of it.
        n_folds = round(1 / SINGLE_SNAPSHOT_VALIDATION_SHARE)
        validation = _customer_folds(labelled.get_column("customer_id"), n_folds,
                                     random_state) == 0
        logger.warning("only one labelled snapshot (%s): validating on a %d%% customer sample",
                       dates[0], round(100 * SINGLE_SNAPSHOT_VALIDATION_SHARE))
        return _Split(~validation, validation, dates, dates[0])
    validation_date = dates[-1]
    cutoff = validation_date - timedelta(days=validation_gap_days)
    train_dates = [d for d in dates[:-1] if d <= cutoff]
    if not train_dates:
        raise ValueError(
            f"no labelled snapshot is at least {validation_gap_days} days before the validation "
            f"snapshot {validation_date}; lower validation_gap_days or add snapshots"
        )
    train = snapshot_date.is_in(train_dates).to_numpy()
    validation = (snapshot_date == validation_date).to_numpy()
    return _Split(train, validation, train_dates, validation_date)


def _require_both_classes(y: np.ndarray, what: str, dates: Sequence[date]) -> None:
    rate = float(np.mean(y)) if len(y) else float("nan")
    if len(y) == 0 or rate in (0.0, 1.0):
        only = "no rows" if len(y) == 0 else (
            "only churned customers" if rate == 1.0 else "only retained customers")
        raise ValueError(
            f"churn {what} data (snapshot dates {', '.join(str(d) for d in dates)}) has {only} "
            f"(n = {len(y)}, positive rate = {rate:.3f}); a churn model needs both classes"
        )


def _calibration_folds(
    snapshot_date: pl.Series,
    customer_id: pl.Series,
    y: np.ndarray,
    *,
    max_folds: int,
    random_state: int,
) -> list[tuple[np.ndarray, np.ndarray]] | None:
    """CV splits for calibration: blocks of whole snapshot dates (customer folds if one date).

    None when a fold would lack a class (calibration is then skipped, not crashed).
    """
    dates = sorted(snapshot_date.unique().to_list())
    if len(dates) >= 2:
        blocks = np.array_split(np.arange(len(dates)), min(max_folds, len(dates)))
        date_index = snapshot_date.replace_strict(
            {d: i for i, d in enumerate(dates)}, return_dtype=pl.Int64).to_numpy()
        fold = np.empty(len(date_index), dtype=np.int64)
        for f, block in enumerate(blocks):
            fold[np.isin(date_index, block)] = f
        n_folds = len(blocks)
    else:
        n_folds = max(2, min(max_folds, 3))
        fold = _customer_folds(customer_id, n_folds, random_state)
    folds = []
    for f in range(n_folds):
        test = np.flatnonzero(fold == f)
        train = np.flatnonzero(fold != f)
        if len(np.unique(y[test])) < 2 or len(np.unique(y[train])) < 2:
            return None
        folds.append((train, test))
    return folds


def _fit(estimator, X: pl.DataFrame, y: np.ndarray, method: str | None, folds):
    """Fit a clone; wrapped in CalibratedClassifierCV when ``method`` is given."""
    if method is None:
        return clone(estimator).fit(X, y)
    return CalibratedClassifierCV(clone(estimator), method=method, cv=folds,
                                  ensemble=False).fit(X, y)


def _dates_text(dates: Sequence[date]) -> str:
    return ",".join(d.isoformat() for d in dates)


def train_and_score(
    snapshots: pl.DataFrame,
    *,
    risk_tiers: Mapping[str, float] = DEFAULT_RISK_TIERS,
    random_state: int = 42,
    models: Mapping[str, object] | None = None,
    decision_threshold: float | None = None,
    validation_gap_days: int = 0,
    calibration_methods: Sequence[str] = CALIBRATION_METHODS,
    min_calibration_gain: float = 0.005,
    max_calibration_folds: int = 3,
    min_reason_delta: float = 1e-3,
    n_threads: int | None = 1,
) -> ChurnResult:
    """Fit, validate, calibrate and select churn models; score the scoring snapshot.

    ``snapshots`` is ``int_churn_snapshots`` (see :mod:`ecom_growth.churn.features` for the
    churn definition and columns). ``risk_tiers`` maps tier name -> minimum probability
    (below all thresholds: ``"low"``). ``models`` overrides the candidates (name -> unfitted
    sklearn classifier taking ``prepare_features`` output; default
    :func:`~ecom_growth.churn.models.default_models`). ``decision_threshold`` None picks the
    F1-maximising cut-off on validation per model. See the module docstring for validation,
    calibration, selection and fallbacks. Deterministic for a given input and ``random_state``.

    ``n_threads`` caps OpenMP/BLAS threads while fitting and scoring (None: library default).
    One thread is the default because gradient boosting's OpenMP threads slow down by an
    order of magnitude when the cores are shared (dbt running models in parallel, other jobs);
    on a dedicated machine with large data, 2+ threads fit faster. The cap is process-wide
    for the duration of the call (threadpoolctl).
    """
    limit = nullcontext() if n_threads is None else threadpool_limits(limits=int(n_threads))
    with limit:
        return _train_and_score(
            snapshots, risk_tiers=risk_tiers, random_state=random_state, models=models,
            decision_threshold=decision_threshold, validation_gap_days=validation_gap_days,
            calibration_methods=calibration_methods, min_calibration_gain=min_calibration_gain,
            max_calibration_folds=max_calibration_folds, min_reason_delta=min_reason_delta,
        )


def _train_and_score(
    snapshots: pl.DataFrame,
    *,
    risk_tiers: Mapping[str, float],
    random_state: int,
    models: Mapping[str, object] | None,
    decision_threshold: float | None,
    validation_gap_days: int,
    calibration_methods: Sequence[str],
    min_calibration_gain: float,
    max_calibration_folds: int,
    min_reason_delta: float,
) -> ChurnResult:
    started = time.perf_counter()
    tiers = validate_risk_tiers(risk_tiers)
    unknown = set(calibration_methods) - set(CALIBRATION_METHODS)
    if unknown:
        raise ValueError(f"unknown calibration method(s) {sorted(unknown)}; "
                         f"use {list(CALIBRATION_METHODS)}")
    if decision_threshold is not None and not 0.0 <= float(decision_threshold) <= 1.0:
        raise ValueError(f"decision_threshold {decision_threshold} is outside [0, 1]")
    candidates = dict(models) if models is not None else default_models(random_state)
    if not candidates:
        raise ValueError("models is empty: nothing to train")

    table = validate_snapshots(snapshots)
    labelled = table.filter(~pl.col("is_scoring_snapshot")).sort(["snapshot_date", "customer_id"])
    scoring = table.filter(pl.col("is_scoring_snapshot")).sort("customer_id")
    split = _time_split(labelled, validation_gap_days, random_state)

    X_all = prepare_features(labelled)
    y_all = labelled.get_column("is_churned").cast(pl.Int64).to_numpy()
    X_train, y_train = X_all.filter(pl.Series(split.train)), y_all[split.train]
    X_val, y_val = X_all.filter(pl.Series(split.validation)), y_all[split.validation]
    _require_both_classes(y_train, "training", split.train_dates)
    _require_both_classes(y_val, "validation", [split.validation_date])
    base_rate = float(np.mean(y_train))
    train_folds = _calibration_folds(
        labelled.get_column("snapshot_date").filter(pl.Series(split.train)),
        labelled.get_column("customer_id").filter(pl.Series(split.train)),
        y_train, max_folds=max_calibration_folds, random_state=random_state,
    )
    if train_folds is None and calibration_methods:
        logger.warning("a calibration fold lacks a class; calibration is not considered")
    logger.info("churn: %d training rows (%s), %d validation rows (%s), base rate %.3f",
                len(y_train), _dates_text(split.train_dates), len(y_val),
                split.validation_date, base_rate)

    rows = []
    chosen_method: dict[str, str | None] = {}
    validation_p: dict[str, np.ndarray] = {}
    for name, estimator in candidates.items():
        t0 = time.perf_counter()
        variants: dict[str | None, np.ndarray] = {}
        if train_folds is not None and calibration_methods:
            for method in calibration_methods:
                fitted = _fit(estimator, X_train, y_train, method, train_folds)
                variants[method] = predict_churn_probability(fitted, X_val)
                if None not in variants:
                    # ensemble=False keeps the base model fit on all training rows: reuse it
                    variants[None] = predict_churn_probability(
                        fitted.calibrated_classifiers_[0].estimator, X_val)
        else:
            variants[None] = predict_churn_probability(
                _fit(estimator, X_train, y_train, None, None), X_val)
        metrics = {m: binary_metrics(y_val, p, base_rate=base_rate,
                                     threshold=decision_threshold) for m, p in variants.items()}
        raw = metrics[None]
        best: str | None = None
        for method in calibration_methods:
            if method not in metrics:
                continue
            cal = metrics[method]
            improves = (cal["brier_score"] <= raw["brier_score"] * (1 - min_calibration_gain)
                        and cal["log_loss"] <= raw["log_loss"])
            if improves and (best is None or cal["brier_score"] < metrics[best]["brier_score"]):
                best = method
        chosen_method[name] = best
        logger.info("churn: %s pr_auc %.4f roc_auc %.4f brier %.4f (raw %.4f) calibration %s "
                    "in %.1fs", name, metrics[best]["pr_auc"], metrics[best]["roc_auc"],
                    metrics[best]["brier_score"], raw["brier_score"], best,
                    time.perf_counter() - t0)
        rows.append({"model": name, "is_calibrated": best is not None, **metrics[best]})
        validation_p[name] = variants[best]

    # selection: highest validation PR-AUC; ties go to the earlier (simpler) candidate
    selected = max(rows, key=lambda r: r["pr_auc"])  # max() returns the first maximum
    selected_name = selected["model"]
    method = chosen_method[selected_name]
    final_folds = None
    if method is not None:
        final_folds = _calibration_folds(
            labelled.get_column("snapshot_date"), labelled.get_column("customer_id"), y_all,
            max_folds=max_calibration_folds, random_state=random_state,
        )
        if final_folds is None:
            logger.warning("final calibration folds lack a class; %s is not calibrated", method)
            method = None
            selected["is_calibrated"] = False
    final_model = _fit(candidates[selected_name], X_all, y_all, method, final_folds)
    reference = reference_values(X_all)

    evaluation = pl.DataFrame(
        [
            {
                **r,
                "is_selected": r["model"] == selected_name,
                "n_train": int(len(y_train)),
                "n_validation": int(len(y_val)),
                "positive_rate_train": base_rate,
                "positive_rate_validation": float(np.mean(y_val)),
                "train_snapshot_dates": _dates_text(split.train_dates),
                "validation_snapshot_date": split.validation_date,
            }
            for r in rows
        ],
        schema=EVALUATION_SCHEMA,
    )
    scores = (
        score_snapshot(final_model, scoring, model_name=selected_name, reference=reference,
                       risk_tiers=tiers, min_reason_delta=min_reason_delta)
        if scoring.height else empty_scores()
    )
    logger.info("churn: selected %s (calibration %s), scored %d customers in %.1fs total",
                selected_name, method, scores.height, time.perf_counter() - started)
    return ChurnResult(
        evaluation=evaluation,
        scores=scores,
        model_name=selected_name,
        model=final_model,
        calibration_method=method,
        threshold=float(selected["threshold"]),
        reference=reference,
        reliability=reliability_table(y_val, validation_p[selected_name]),
    )
