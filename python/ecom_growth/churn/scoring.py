"""``ml_churn_scores``: the stored final churn model applied to the scoring snapshot.

Reads the 'final' row of ``ml_churn_model`` (the selected candidate trained on every labelled
snapshot, or the documented fallback when the build degraded) and never fits anything. The
scores carry the model row's ``status`` / ``status_reason``; with no stored model at all (no
labels and no BG/NBD fit) ``churn_probability`` and ``risk_tier`` are null and the rows say why.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import polars as pl
from threadpoolctl import threadpool_limits

from ecom_growth.churn.features import prepare_features, validate_snapshots
from ecom_growth.churn.reasons import predict_with_trees, top_reasons
from ecom_growth.churn.store import load_model

LOWEST_TIER = "low"
TOP_REASONS = 3

SCORES_SCHEMA: dict[str, pl.DataType] = {
    "customer_id": pl.String,
    "churn_probability": pl.Float64,
    "risk_tier": pl.String,
    "reason_1": pl.String,
    "reason_2": pl.String,
    "reason_3": pl.String,
    "model_name": pl.String,
    "as_of": pl.Date,
    "status": pl.String,
    "status_reason": pl.String,
}
"""Columns of ``ml_churn_scores``: one row per customer of the scoring snapshot."""


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


def final_model_row(model_table: pl.DataFrame) -> dict:
    """The one 'final' row of ``ml_churn_model`` (ValueError when there is not exactly one)."""
    final = model_table.filter(pl.col("role") == "final")
    if final.height != 1:
        raise ValueError(f"ml_churn_model must have exactly one 'final' row, found {final.height}")
    return final.row(0, named=True)


def score_customers(
    model_table: pl.DataFrame,
    snapshots: pl.DataFrame,
    *,
    risk_tiers: Mapping[str, float],
    min_reason_delta: float,
    n_threads: int | None,
) -> pl.DataFrame:
    """``ml_churn_scores`` (:data:`SCORES_SCHEMA`) for the scoring snapshot of ``snapshots``.

    ``model_table`` is ``ml_churn_model``; ``risk_tiers`` maps tier name -> minimum probability
    (below every threshold: ``"low"``); ``min_reason_delta`` is the smallest rise in probability
    that counts as a reason; ``n_threads`` caps OpenMP/BLAS threads while predicting.
    """
    tiers = validate_risk_tiers(risk_tiers)
    scoring = (validate_snapshots(snapshots).filter(pl.col("is_scoring_snapshot"))
               .sort("customer_id"))
    if scoring.height == 0:
        return empty_scores()
    row = final_model_row(model_table)
    features = prepare_features(scoring)
    if row["estimator"] is None:
        p = pl.Series("churn_probability", [None] * scoring.height, dtype=pl.Float64)
        reasons = pl.DataFrame({f"reason_{k}": [None] * scoring.height
                                for k in range(1, TOP_REASONS + 1)},
                               schema={f"reason_{k}": pl.String for k in range(1, TOP_REASONS + 1)})
        tier = pl.Series("risk_tier", [None] * scoring.height, dtype=pl.String)
    else:
        model = load_model(row["estimator"], row["estimator_sha256"])
        with threadpool_limits(limits=n_threads):
            values, trees = predict_with_trees(model, features)
            reasons = top_reasons(model, features, top_k=TOP_REASONS, min_delta=min_reason_delta,
                                  probability=values, trees=trees)
        p = pl.Series("churn_probability", values, dtype=pl.Float64)
        tier = assign_risk_tiers(values, tiers)
    return pl.DataFrame({
        "customer_id": scoring.get_column("customer_id"),
        "churn_probability": p,
        "risk_tier": tier,
    }).hstack(reasons).with_columns(
        pl.lit(row["model"], dtype=pl.String).alias("model_name"),
        pl.lit(scoring.get_column("snapshot_date")[0], dtype=pl.Date).alias("as_of"),
        pl.lit(row["status"], dtype=pl.String).alias("status"),
        pl.lit(row["status_reason"], dtype=pl.String).alias("status_reason"),
    ).select(list(SCORES_SCHEMA))

