"""Per-customer reasons: which features push THIS customer's churn risk up the most.

Method (model-agnostic, works on calibrated models too): for each feature, replace every
customer's value by the typical value (median / mode of the training population) and predict
again. ``contribution = p(actual) - p(with this feature typical)`` is how much the customer's
own value of that feature raises the risk. One batch prediction per feature over all customers
(23 predictions in total), no loop over customers.

For a logistic regression this is the probability-scale counterpart of "coefficient x
standardised deviation from the typical value", and for trees it respects interactions at the
customer's actual point. Features are perturbed one at a time, so two correlated features
(``orders_count``, ``revenue_total``) can both appear. Only positive contributions above
``min_delta`` are reasons; a customer with fewer gets nulls in the remaining reason columns.
"""

from __future__ import annotations

import numpy as np
import polars as pl

from ecom_growth.churn.features import (
    CATEGORICAL_FEATURES,
    FEATURE_NAMES,
    FEATURES,
    MISSING_CATEGORY,
    NUMERIC_FEATURES,
    FeatureReference,
    feature_spec_frame,
)


def predict_churn_probability(model, features: pl.DataFrame) -> np.ndarray:
    """P(churn) from any fitted classifier whose classes are {0, 1}."""
    if features.height == 0:
        return np.zeros(0, dtype=np.float64)
    proba = model.predict_proba(features)
    classes = list(getattr(model, "classes_", [0, 1]))
    return np.asarray(proba[:, classes.index(1)], dtype=np.float64)


def reason_contributions(
    model,
    features: pl.DataFrame,
    reference: FeatureReference,
    *,
    probability: np.ndarray | None = None,
) -> np.ndarray:
    """(n_customers, n_features) matrix: drop in P(churn) when the feature is set to typical.

    Columns follow :data:`FEATURE_NAMES`. A feature without a reference (all null in the
    training data) contributes 0. ``probability`` may pass the already computed predictions.
    """
    p = predict_churn_probability(model, features) if probability is None else probability
    out = np.zeros((features.height, len(FEATURES)), dtype=np.float64)
    if features.height == 0:
        return out
    for j, feature in enumerate(FEATURES):  # loop over features; each is one batch prediction
        if feature.kind == "numeric":
            ref = reference.numeric.get(feature.name)
            lit = None if ref is None else pl.lit(float(ref), dtype=pl.Float64)
        else:
            ref = reference.categorical.get(feature.name)
            lit = None if ref is None else pl.lit(ref, dtype=pl.String)
        if lit is None:
            continue
        perturbed = features.with_columns(lit.alias(feature.name))
        out[:, j] = p - predict_churn_probability(model, perturbed)
    return out


def _fixed(expr: pl.Expr, decimals: int) -> pl.Expr:
    """Number as text with exactly ``decimals`` decimals (polars has no printf)."""
    if decimals == 0:
        return expr.round(0).cast(pl.Int64).cast(pl.String)
    unit = 10**decimals
    scaled = (expr.abs() * unit).round(0).cast(pl.Int64)
    sign = pl.when((expr < 0) & (scaled > 0)).then(pl.lit("-")).otherwise(pl.lit(""))
    return pl.concat_str(
        [sign, (scaled // unit).cast(pl.String), pl.lit("."),
         (scaled % unit).cast(pl.String).str.zfill(decimals)]
    )


def _formatted(value: pl.Expr) -> pl.Expr:
    scaled = value * pl.col("scale")
    return (
        pl.when(pl.col("decimals") == 0).then(_fixed(scaled, 0))
        .when(pl.col("decimals") == 1).then(_fixed(scaled, 1))
        .otherwise(_fixed(scaled, 2))
    )


def reason_text() -> pl.Expr:
    """Reason wording for one (customer, feature) row of the long reasons frame.

    e.g. ``"long time since the last order: 112 days (typical: 38 days)"``,
    ``"no reviews yet (no average rating)"``, ``"acquisition channel: paid_social (typical:
    organic)"``. Uses the phrases of the feature spec.
    """
    num_value = pl.col("value_numeric")
    num_ref = pl.col("reference_numeric")

    def with_unit(value: pl.Expr) -> pl.Expr:
        text = _formatted(value)
        singular = pl.col("suffix").str.replace(r"ies$", "y").str.replace(r"s$", "")
        return pl.concat_str(
            [text, pl.when(text == "1").then(singular).otherwise(pl.col("suffix"))]
        )

    numeric = (
        pl.when(num_value.is_nan() | num_value.is_null()).then(pl.col("missing_reason"))
        .otherwise(
            pl.concat_str([
                pl.when(num_value > num_ref).then(pl.col("high_reason"))
                .otherwise(pl.col("low_reason")),
                pl.lit(": "), with_unit(num_value),
                pl.lit(" (typical: "), with_unit(num_ref), pl.lit(")"),
            ])
        )
    )
    categorical = (
        pl.when(pl.col("value_categorical") == MISSING_CATEGORY).then(pl.col("missing_reason"))
        .otherwise(pl.concat_str([
            pl.col("high_reason"), pl.lit(": "), pl.col("value_categorical"),
            pl.lit(" (typical: "), pl.col("reference_categorical"), pl.lit(")"),
        ]))
    )
    return pl.when(pl.col("kind") == "numeric").then(numeric).otherwise(categorical)


def top_reasons(
    model,
    features: pl.DataFrame,
    reference: FeatureReference,
    *,
    top_k: int = 3,
    min_delta: float = 1e-3,
    probability: np.ndarray | None = None,
) -> pl.DataFrame:
    """``reason_1`` .. ``reason_{top_k}`` (strings, null when fewer reasons), one row per row of
    ``features`` in the same order.

    ``min_delta`` (probability points) keeps numerically-zero effects from becoming reasons;
    ties between features go to the one listed first in the spec (stable sort).
    """
    names = [f"reason_{k}" for k in range(1, top_k + 1)]
    n = features.height
    if n == 0:
        return pl.DataFrame(schema={name: pl.String for name in names})
    contrib = reason_contributions(model, features, reference, probability=probability)
    k = min(top_k, contrib.shape[1])
    order = np.argsort(-contrib, axis=1, kind="stable")[:, :k]
    delta = np.take_along_axis(contrib, order, axis=1).ravel()
    row = np.repeat(np.arange(n), k)
    rank = np.tile(np.arange(1, k + 1), n)
    feature_index = order.ravel()
    keep = delta > min_delta
    row, rank, feature_index = row[keep], rank[keep], feature_index[keep]

    # gather the customer's own value of the chosen feature (numeric or categorical)
    num_pos = {c: i for i, c in enumerate(NUMERIC_FEATURES)}
    cat_pos = {c: i for i, c in enumerate(CATEGORICAL_FEATURES)}
    num_col = np.array([num_pos.get(c, -1) for c in FEATURE_NAMES])[feature_index]
    cat_col = np.array([cat_pos.get(c, -1) for c in FEATURE_NAMES])[feature_index]
    value_numeric = np.full(len(row), np.nan)
    is_num = num_col >= 0
    if is_num.any():
        numeric = features.select(NUMERIC_FEATURES).to_numpy()
        value_numeric[is_num] = numeric[row[is_num], num_col[is_num]]
    value_categorical = np.full(len(row), None, dtype=object)
    is_cat = cat_col >= 0
    if is_cat.any():
        categorical = features.select(CATEGORICAL_FEATURES).to_numpy()
        value_categorical[is_cat] = categorical[row[is_cat], cat_col[is_cat]]

    spec = feature_spec_frame().with_row_index("feature_index").with_columns(
        pl.col("feature_index").cast(pl.Int64),
        pl.col("feature").replace_strict(reference.numeric, default=None,
                                         return_dtype=pl.Float64).alias("reference_numeric"),
        pl.col("feature").replace_strict(reference.categorical, default=None,
                                         return_dtype=pl.String).alias("reference_categorical"),
    )
    long = pl.DataFrame(
        {
            "row": row.astype(np.int64),
            "rank": rank.astype(np.int64),
            "feature_index": feature_index.astype(np.int64),
            "value_numeric": value_numeric,
            "value_categorical": pl.Series(value_categorical.tolist(), dtype=pl.String),
        }
    ).join(spec, on="feature_index", how="left").with_columns(reason_text().alias("reason"))

    wide = pl.DataFrame({"row": np.arange(n, dtype=np.int64)})
    for r, name in enumerate(names, start=1):
        wide = wide.join(
            long.filter(pl.col("rank") == r).select("row", pl.col("reason").alias(name)),
            on="row", how="left",
        )
    return wide.sort("row").select(names)
