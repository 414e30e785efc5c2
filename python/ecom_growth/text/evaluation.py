"""ml_text_model_evaluation: classification quality on the time-based holdout, with baselines.

Inside the warehouse the only labels a shop has for review sentiment are its star ratings, so
the holdout reviews (written after the training cutoff) are scored against their weak labels,
next to the majority class of the training reviews (the trivial baseline). Against planted
truth (simulated data only) the same metrics, with the star rating itself as the baseline,
are computed by tests/integration/test_text_truth.py with ``classification_metrics``.
Bootstrap intervals resample holdout reviews (Poisson weights, fixed seed).
"""

from __future__ import annotations

import numpy as np
import polars as pl

from ecom_growth.text.sentiment import SENTIMENT_LABELS


def _confusion(true_codes: np.ndarray, pred_codes: np.ndarray, k: int, weights: np.ndarray | None = None) -> np.ndarray:
    return np.bincount(true_codes * k + pred_codes, weights=weights, minlength=k * k).reshape(k, k)


def _scores(confusion: np.ndarray) -> dict[str, np.ndarray | float]:
    """Accuracy, macro-F1 and per-class precision / recall / F1 from a k x (k + 1) confusion
    matrix whose last column counts predictions outside the labels (wrong, but no class's).

    A class never predicted has precision 0 (and F1 0), as in scikit-learn's zero_division=0.
    """
    k = confusion.shape[0]
    tp = np.diag(confusion[:, :k]).astype(float)
    predicted, actual = confusion[:, :k].sum(axis=0), confusion.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        precision = np.where(predicted > 0, tp / predicted, 0.0)
        recall = np.where(actual > 0, tp / actual, 0.0)
        f1 = np.where(precision + recall > 0, 2 * precision * recall / (precision + recall), 0.0)
    present = actual > 0
    total = confusion.sum()
    return {"accuracy": tp.sum() / total if total else float("nan"),
            "macro_f1": float(f1[present].mean()) if present.any() else float("nan"),
            "precision": precision, "recall": recall, "f1": f1}


def classification_metrics(
    y_true: pl.Series, y_pred: pl.Series, labels: tuple[str, ...] | list[str], *, n_bootstrap: int, random_state: int,
) -> pl.DataFrame:
    """Long table: metric, class_label (null for overall metrics), value, ci_low, ci_high, n.

    Macro-F1 averages the classes present in ``y_true``. Rows whose true label is null are
    ignored; a predicted label outside ``labels`` counts as wrong.
    """
    keep = y_true.is_not_null().to_numpy()
    index = {label: i for i, label in enumerate(labels)}
    k = len(labels)
    true_codes = np.array([index[v] for v in y_true.filter(keep).to_list()], dtype=np.int64)
    pred_codes = np.array([index.get(v, k) for v in y_pred.filter(keep).to_list()], dtype=np.int64)
    n = true_codes.size
    point = _scores(_confusion(true_codes, pred_codes, k + 1)[:k])
    rng = np.random.default_rng(random_state)
    boots = [_scores(_confusion(true_codes, pred_codes, k + 1, rng.poisson(1.0, n))[:k])
             for _ in range(n_bootstrap if n else 0)]

    def interval(get) -> tuple[float | None, float | None]:
        if not boots:
            return None, None
        values = np.array([get(b) for b in boots], dtype=float)
        return float(np.nanquantile(values, 0.025)), float(np.nanquantile(values, 0.975))

    rows = []
    for metric in ("accuracy", "macro_f1"):
        low, high = interval(lambda b, m=metric: b[m])
        rows.append((metric, None, float(point[metric]), low, high, n))
    for metric in ("precision", "recall", "f1"):
        for i, label in enumerate(labels):
            low, high = interval(lambda b, m=metric, i=i: b[m][i])
            rows.append((metric, label, float(point[metric][i]), low, high, n))
    table = pl.DataFrame(rows, schema={"metric": pl.String, "class_label": pl.String, "value": pl.Float64,
                                       "ci_low": pl.Float64, "ci_high": pl.Float64, "n": pl.Int64}, orient="row")
    # Undefined (no labelled row) is null, not NaN: NaN would compare above 1 in SQL range tests.
    return table.with_columns(pl.when(pl.col("n") > 0).then(pl.col(c).fill_nan(None)).alias(c)
                              for c in ("value", "ci_low", "ci_high"))


def evaluate_sentiment(scored: pl.DataFrame, *, n_bootstrap: int, random_state: int) -> pl.DataFrame:
    """Holdout metrics of the sentiment model and of the majority-class baseline against the weak labels."""
    holdout = scored.filter(pl.col("is_holdout"))
    train_labels = scored.filter(~pl.col("is_holdout"))["weak_label"].drop_nulls()
    majority = train_labels.mode().sort().first() if train_labels.len() else None
    status = scored["status"].first() if scored.height else "degraded"
    reason = scored["status_reason"].first() if scored.height else "no reviews"
    if holdout.height == 0 and status == "ok":
        status, reason = "degraded", "no review in the holdout window"
    model_name = scored["model"].first() if scored.height else "star_rating"
    candidates = [(model_name, holdout["sentiment_label"]),
                  ("majority_class", pl.Series([majority] * holdout.height, dtype=pl.String))]
    parts = []
    for name, predicted in candidates:
        metrics = classification_metrics(holdout["weak_label"], predicted, SENTIMENT_LABELS,
                                         n_bootstrap=n_bootstrap, random_state=random_state)
        parts.append(metrics.with_columns(pl.lit(name).alias("model"),
                                          pl.lit(name != model_name).alias("is_baseline")))
    return (
        pl.concat(parts)
        .with_columns(
            pl.lit("review_sentiment").alias("task"),
            pl.lit("holdout").alias("split"),
            pl.lit("star_rating_weak_label").alias("reference"),
            pl.lit(status).alias("status"),
            pl.lit(reason, dtype=pl.String).alias("status_reason"),
        )
        .select("task", "model", "is_baseline", "split", "reference", "metric", "class_label", "value", "ci_low",
                "ci_high", "n", "status", "status_reason")
    )
