"""Per-customer reasons: which GROUP of related features pushes THIS customer's risk up most.

Method (model-agnostic, calibrated models included): for each reason group
(:data:`~ecom_growth.churn.features.REASON_GROUPS`) replace the customer's values of the whole
group by those of one real reference customer and predict again;
``contribution = p(actual) - p(group as the reference customer's)``. Swapping a group at once
(never one feature of a derived set) means every counterfactual is a customer who could exist:
recency and the mean gap move together, 30-day counts stay inside 90-day counts, and a
one-order customer's null gap statistics are never "imputed" into a reason. ``revenue_total``
(orders x average order value) is recomputed from the swapped and kept parts.

The reference customer of a group is a real row of the scored population: among the rows with
the group's most common null pattern (e.g. "no reviews"), the one closest to the median on every
feature of the group (sum of |percentile rank - 0.5|; ties to the lowest customer_id). One
batch prediction per group (8 in all), no loop over customers. Only positive contributions
above ``min_delta`` are reasons; a customer with fewer gets nulls in the remaining columns.
"""

from __future__ import annotations

import numpy as np
import polars as pl
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.pipeline import Pipeline
from sklearn.utils._openmp_helpers import _openmp_effective_n_threads

from ecom_growth.churn.features import (
    MISSING_CATEGORY,
    NUMERIC_FEATURES,
    REASON_GROUPS,
    ReasonGroup,
    feature_spec_frame,
)
from ecom_growth.churn.models import SklearnChurnModel

_DERIVED = "revenue_total"


def reference_customer(features: pl.DataFrame, group: ReasonGroup) -> dict[str, object]:
    """Values of ``group``'s features (and orders_count / avg_order_value) of its reference row.

    ``features`` is :func:`~ecom_growth.churn.features.prepare_features` output (NaN = missing),
    rows in a deterministic order (the caller sorts by customer). See the module docstring.
    """
    numeric = [c for c in group.features if c in NUMERIC_FEATURES]
    frame = features.with_row_index("_row")
    if numeric:
        # null pattern as a bit mask (one bit per feature): the same groups as a string of
        # flags, at a fraction of the cost on a large population
        pattern = pl.sum_horizontal([pl.col(c).is_nan().cast(pl.Int64) * (1 << k) for k, c in enumerate(numeric)])
        frame = frame.with_columns(pattern.alias("_pattern"))
        modal = (frame.group_by("_pattern").agg(pl.len().alias("n"), pl.col("_row").min())
                 .sort(["n", "_row"], descending=[True, False]).get_column("_pattern")[0])
        frame = frame.filter(pl.col("_pattern") == modal)
        distance = pl.sum_horizontal(
            [((pl.col(c).fill_nan(None).rank("average") - 0.5) / pl.len() - 0.5).abs().fill_null(0.0)
             for c in numeric])
        frame = frame.with_columns(distance.alias("_distance")).sort(["_distance", "_row"])
    else:
        mode = (frame.group_by(group.lead).agg(pl.len().alias("n"))
                .sort(["n", group.lead], descending=[True, False]).get_column(group.lead)[0])
        frame = frame.filter(pl.col(group.lead) == mode)
    return frame.row(0, named=True)


def _counterfactual(features: pl.DataFrame, group: ReasonGroup, ref: dict) -> pl.DataFrame:
    swapped = [pl.lit(ref[c], dtype=features.schema[c]).alias(c) for c in group.features]
    orders = pl.lit(ref["orders_count"]) if "orders_count" in group.features else pl.col("orders_count")
    aov = pl.lit(ref["avg_order_value"]) if "avg_order_value" in group.features else pl.col("avg_order_value")
    derived = [(orders * aov).alias(_DERIVED)] if set(group.features) & {"orders_count", "avg_order_value"} else []
    return features.with_columns(swapped + derived)


def reason_contributions(
    model, features: pl.DataFrame, references: list[dict], *, probability: np.ndarray | None = None,
    trees: BoostedTreeCache | None = None,
) -> np.ndarray:
    """(n_customers, n_groups) matrix: drop in P(churn) when the group is the reference customer's.

    Columns follow :data:`REASON_GROUPS`; ``references`` their reference rows
    (:func:`reference_customer`). ``model`` has ``predict(features) -> P(churn)``; ``trees``
    is its :class:`BoostedTreeCache` on ``features`` when the caller built it already.
    """
    p = model.predict(features) if probability is None else probability
    out = np.zeros((features.height, len(REASON_GROUPS)), dtype=np.float64)
    if features.height == 0:
        return out
    trees = BoostedTreeCache.of(model, features) if trees is None else trees
    for j, (group, ref) in enumerate(zip(REASON_GROUPS, references, strict=True)):
        counterfactual = _counterfactual(features, group, ref)
        # A customer whose group already is the reference's (e.g. no reviews, no tickets: most
        # customers) is its own counterfactual: contribution 0, no prediction needed. The
        # models score each row on its own, so predicting only the changed rows is the same.
        # only the swapped columns can differ (the others are the customer's own)
        swapped = [c for c in counterfactual.columns if c in group.features or c == _DERIVED]
        changed = changed_rows(features.select(swapped), counterfactual.select(swapped))
        if changed.any():
            rows = counterfactual.filter(pl.Series(changed))
            p_cf = model.predict(rows) if trees is None else trees.predict(rows, changed)
            out[changed, j] = p[changed] - p_cf
    return out


class BoostedTreeCache:
    """Counterfactual predictions of a gradient-boosting churn model without re-running the
    trees a swap cannot reach.

    A boosted model's raw score is the baseline plus the leaf value of every tree, added in
    order. Swapping one reason group changes a few input columns; a tree that splits on none
    of them gives the same leaf for the counterfactual row as for the real one. So each tree's
    leaf values on the real rows are computed once, and a counterfactual re-runs only the trees
    that split on a changed column and adds up the same values in the same order: the result
    is bit-identical to ``model.predict`` (a unit test checks it), at a fraction of the cost
    for groups that few trees use (text, country, tickets ...).

    Reads scikit-learn's fitted internals (``_predictors``, ``_bin_mapper``,
    ``_baseline_prediction``, ``_loss``, ``_preprocess_X``; scikit-learn 1.9): the bit-identity
    test fails first if a version changes them. Memory: one float64 per row and tree (about
    0.2 GB for 240k scored customers and 92 trees).
    """

    def __init__(self, model, features: pl.DataFrame) -> None:
        pipeline = model.estimator
        self.model, self.prep, self.hgb = model, pipeline[:-1], pipeline[-1]
        self.positive = list(self.hgb.classes_).index(1)
        self.X = self._transform(features)
        self.bitsets, self.f_idx_map = self.hgb._bin_mapper.make_known_categories_bitsets()
        self.trees = [predictors[0] for predictors in self.hgb._predictors]
        self.leaves = np.empty((self.X.shape[0], len(self.trees)), dtype=np.float64, order="F")
        for t, tree in enumerate(self.trees):
            self.leaves[:, t] = self._leaf(tree, self.X)
        self.split_features = [set(tree.nodes["feature_idx"][~tree.nodes["is_leaf"].astype(bool)].tolist())
                               for tree in self.trees]

    @classmethod
    def of(cls, model, features: pl.DataFrame) -> BoostedTreeCache | None:
        """The cache for a (calibrated) binary HistGradientBoosting pipeline, else None."""
        estimator = getattr(model, "estimator", None)
        if not isinstance(model, SklearnChurnModel) or not isinstance(estimator, Pipeline):
            return None
        last = estimator[-1]
        if not isinstance(last, HistGradientBoostingClassifier) or last.n_trees_per_iteration_ != 1:
            return None
        return cls(model, features)

    def _transform(self, features: pl.DataFrame) -> np.ndarray:
        return self.hgb._preprocess_X(self.prep.transform(features), reset=False)

    def _leaf(self, tree, X: np.ndarray) -> np.ndarray:
        return tree.predict(X, known_cat_bitsets=self.bitsets, f_idx_map=self.f_idx_map,
                            n_threads=_openmp_effective_n_threads(None))

    def predict(self, rows: pl.DataFrame, mask: np.ndarray) -> np.ndarray:
        """``model.predict(rows)`` where ``rows`` are counterfactuals of the cached rows ``mask``."""
        X = self._transform(rows)
        before = self.X[mask]
        differs = ~((before == X) | (np.isnan(before) & np.isnan(X)))
        changed_columns = set(np.flatnonzero(differs.any(axis=0)).tolist())
        self.last_reused_trees = sum(1 for f in self.split_features if not f & changed_columns)
        # column by column (the cache is column-major): no copy of the whole cache per group
        return self._probability(X.shape[0], (
            self._leaf(tree, X) if self.split_features[t] & changed_columns else self.leaves[:, t][mask]
            for t, tree in enumerate(self.trees)))

    def predict_cached(self) -> np.ndarray:
        """``model.predict(features)`` of the cached rows themselves, from the cached leaves."""
        return self._probability(self.X.shape[0], (self.leaves[:, t] for t in range(len(self.trees))))

    def _probability(self, n: int, leaf_values) -> np.ndarray:
        # same start and order of additions as HistGradientBoostingClassifier._raw_predict
        raw = np.zeros((n, 1), dtype=self.hgb._baseline_prediction.dtype, order="F")
        raw += self.hgb._baseline_prediction
        for values in leaf_values:
            raw[:, 0] += values
        return self.model.calibrate(np.asarray(self.hgb._loss.predict_proba(raw)[:, self.positive],
                                               dtype=np.float64))


def predict_with_trees(model, features: pl.DataFrame) -> tuple[np.ndarray, BoostedTreeCache | None]:
    """P(churn) of every row of ``features`` and, for a boosted-tree model, its
    :class:`BoostedTreeCache` (caching every tree's leaves IS the prediction: one pass serves
    the scores and the reasons)."""
    trees = BoostedTreeCache.of(model, features)
    return (model.predict(features) if trees is None else trees.predict_cached()), trees


def changed_rows(before: pl.DataFrame, after: pl.DataFrame) -> np.ndarray:
    """Boolean mask of the rows where any column of ``after`` differs from ``before`` (same
    columns and rows; NaN equals NaN, as the models see it)."""
    changed = np.zeros(before.height, dtype=bool)
    for name in before.columns:
        a, b = before.get_column(name).to_numpy(), after.get_column(name).to_numpy()
        same = a == b
        if a.dtype.kind == "f":
            same |= np.isnan(a) & np.isnan(b)
        changed |= ~same
    return changed


def _fixed(expr: pl.Expr, decimals: int) -> pl.Expr:
    """Number as text with exactly ``decimals`` decimals (polars has no printf); "n/a" for a
    missing or NaN value (e.g. a reference customer without reviews has no average rating)."""
    expr = expr.cast(pl.Float64).fill_nan(None)
    if decimals == 0:
        return expr.round(0).cast(pl.Int64).cast(pl.String).fill_null("n/a")
    unit = 10**decimals
    scaled = (expr.abs() * unit).round(0).cast(pl.Int64)
    sign = pl.when((expr < 0) & (scaled > 0)).then(pl.lit("-")).otherwise(pl.lit(""))
    return pl.concat_str(
        [sign, (scaled // unit).cast(pl.String), pl.lit("."),
         (scaled % unit).cast(pl.String).str.zfill(decimals)]
    ).fill_null("n/a")


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


def _reason_frame(features: pl.DataFrame, references: list[dict], row: np.ndarray,
                  group_index: np.ndarray) -> pl.DataFrame:
    """Long frame (row, group) with the lead feature's own and reference value and its wording."""
    leads = [g.lead for g in REASON_GROUPS]
    spec = feature_spec_frame()
    lead_spec = pl.DataFrame({"group_index": np.arange(len(leads), dtype=np.int64), "feature": leads}
                             ).join(spec, on="feature", how="left")
    numeric_leads = [c for c in leads if c in NUMERIC_FEATURES]
    own_num = np.full(len(row), np.nan)
    ref_num = np.full(len(row), np.nan)
    own_cat = np.full(len(row), None, dtype=object)
    ref_cat = np.full(len(row), None, dtype=object)
    for j, (group, ref) in enumerate(zip(REASON_GROUPS, references, strict=True)):
        hit = group_index == j
        if not hit.any():
            continue
        values = features.get_column(group.lead).to_numpy()[row[hit]]
        if group.lead in numeric_leads:
            own_num[hit], ref_num[hit] = values, ref[group.lead]
        else:
            own_cat[hit], ref_cat[hit] = values, ref[group.lead]
    orders = features.get_column("orders_count").to_numpy()[row]
    history_ref = references[0]
    return pl.DataFrame({
        "row": row.astype(np.int64), "group_index": group_index.astype(np.int64),
        "value_numeric": own_num, "reference_numeric": ref_num,
        "value_categorical": pl.Series(own_cat.tolist(), dtype=pl.String),
        "reference_categorical": pl.Series(ref_cat.tolist(), dtype=pl.String),
        "orders": orders,
        "reference_orders": np.full(len(row), float(history_ref["orders_count"])),
    }).join(lead_spec, on="group_index", how="left")


def _history_text() -> pl.Expr:
    """"purchase history: last order 112 days ago, 2 orders (typical: 38 days ago, 4 orders)"."""
    def orders(col: str) -> pl.Expr:
        n = _fixed(pl.col(col), 0)
        return pl.concat_str([n, pl.when(n == "1").then(pl.lit(" order")).otherwise(pl.lit(" orders"))])
    return pl.concat_str([
        pl.lit("purchase history: last order "), _fixed(pl.col("value_numeric"), 0),
        pl.lit(" days ago, "), orders("orders"),
        pl.lit(" (typical: "), _fixed(pl.col("reference_numeric"), 0), pl.lit(" days ago, "),
        orders("reference_orders"), pl.lit(")"),
    ])


def top_reasons(
    model,
    features: pl.DataFrame,
    *,
    top_k: int,
    min_delta: float,
    probability: np.ndarray | None = None,
    trees: BoostedTreeCache | None = None,
) -> pl.DataFrame:
    """``reason_1`` .. ``reason_{top_k}`` (strings, null when fewer reasons), one row per row of
    ``features`` in the same order; reference customers from ``features`` itself.

    ``min_delta`` (probability points) keeps numerically-zero effects from becoming reasons;
    ties between groups go to the one listed first (stable sort).
    """
    names = [f"reason_{k}" for k in range(1, top_k + 1)]
    n = features.height
    if n == 0:
        return pl.DataFrame(schema={name: pl.String for name in names})
    references = [reference_customer(features, g) for g in REASON_GROUPS]
    contrib = reason_contributions(model, features, references, probability=probability, trees=trees)
    k = min(top_k, contrib.shape[1])
    order = np.argsort(-contrib, axis=1, kind="stable")[:, :k]
    delta = np.take_along_axis(contrib, order, axis=1).ravel()
    row = np.repeat(np.arange(n), k)
    rank = np.tile(np.arange(1, k + 1), n)
    group_index = order.ravel()
    keep = delta > min_delta
    row, rank, group_index = row[keep], rank[keep], group_index[keep]
    if len(row) == 0:  # e.g. a constant model: nothing raises anyone's risk
        return pl.DataFrame({name: [None] * n for name in names},
                            schema={name: pl.String for name in names})
    long = _reason_frame(features, references, row, group_index).with_columns(
        pl.Series("rank", rank.astype(np.int64)),
        pl.when(pl.col("group_index") == 0).then(_history_text()).otherwise(reason_text())
        .alias("reason"),
    )
    wide = pl.DataFrame({"row": np.arange(n, dtype=np.int64)})
    for r, name in enumerate(names, start=1):
        wide = wide.join(
            long.filter(pl.col("rank") == r).select("row", pl.col("reason").alias(name)),
            on="row", how="left",
        )
    return wide.sort("row").select(names)
