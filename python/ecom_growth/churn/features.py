"""Feature spec of the churn model and its preparation with polars.

The snapshot table ``int_churn_snapshots`` (built in SQL) has one row per customer per snapshot
date. At a snapshot date the population is every customer with at least one completed order in
the previous ``churn_lookback_days`` (default 365); ``is_churned`` = 1 when the customer places no
completed order in the following ``churn_window_days`` (default 90). Labelled snapshots are taken
monthly before ``as_of - churn_window_days`` (their label window is fully observed); the scoring
snapshot at ``as_of`` has ``is_scoring_snapshot = true`` and a null label.

Every feature is described ONCE here (:data:`FEATURES`): its kind, what it measures, and the
words used when it is a reason for a customer's risk. Models, reasons and docs all read this
spec, so adding a feature is one entry here plus its SQL column.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import polars as pl

from ecom_growth.text.aspects import ASPECTS

MISSING_CATEGORY = "(missing)"
"""Value given to null categoricals: 'unknown channel' is information, not an error."""

ID_COLUMNS: tuple[str, ...] = ("customer_id", "snapshot_date", "is_scoring_snapshot", "is_churned")


@dataclass(frozen=True)
class Feature:
    """One model input and how to talk about it.

    ``high_reason`` / ``low_reason`` are the words used when the customer's value is above /
    below the typical value and that pushes the churn risk up; ``missing_reason`` when the value
    is null (e.g. no reviews) and that pushes it up. A reason reads
    ``"<phrase>: <value><suffix> (typical: <reference><suffix>)"``.
    """

    name: str
    kind: Literal["numeric", "categorical"]
    description: str
    high_reason: str
    low_reason: str
    missing_reason: str
    suffix: str = ""
    decimals: int = 0
    scale: float = 1.0
    log_scale: bool = False
    """Heavy-tailed counts, durations and money: log1p before standardising (linear model)."""
    monotone: int = 0
    """Known direction of the effect on churn with everything else fixed (+1: risk rises with
    the value), imposed on the tree model. Only where the evidence is unambiguous: it keeps
    the model (and the perturbation reasons) from saying "ordered very recently" raises risk
    through some quirk of an off-data feature combination."""


FEATURES: tuple[Feature, ...] = (
    Feature("days_since_last_order", "numeric",
            "Days from the last completed order to the snapshot date.",
            "long time since the last order", "ordered very recently",
            "no completed order on record", " days", log_scale=True, monotone=1),
    Feature("tenure_days", "numeric",
            "Days from the first completed order to the snapshot date.",
            "long-standing customer", "new customer (short tenure)",
            "unknown tenure", " days", log_scale=True),
    Feature("orders_count", "numeric",
            "Completed orders up to the snapshot date.",
            "many orders so far", "few orders so far",
            "no order history", " orders", log_scale=True),
    Feature("revenue_total", "numeric",
            "Revenue of completed orders up to the snapshot date.",
            "high total spend", "low total spend",
            "no spend on record", "", decimals=2, log_scale=True),
    Feature("avg_order_value", "numeric",
            "Average value of a completed order.",
            "high average order value", "low average order value",
            "unknown average order value", "", decimals=2, log_scale=True),
    Feature("orders_last_30d", "numeric",
            "Completed orders in the 30 days before the snapshot.",
            "many orders in the last 30 days", "few orders in the last 30 days",
            "no recent order data", " orders", log_scale=True, monotone=-1),
    Feature("orders_last_90d", "numeric",
            "Completed orders in the 90 days before the snapshot.",
            "many orders in the last 90 days", "few orders in the last 90 days",
            "no order data for the last 90 days", " orders", log_scale=True, monotone=-1),
    Feature("order_trend_ratio", "numeric",
            "Orders in the last 90 days / (orders in the 90 days before that + 1).",
            "order frequency rising", "order frequency falling (last 90 days vs the 90 before)",
            "unknown order trend", "", decimals=2, log_scale=True),
    Feature("gap_mean_days", "numeric",
            "Mean days between consecutive completed orders (null with one order).",
            "long typical gap between orders", "short typical gap between orders",
            "no repeat order yet (no gap between orders)", " days", log_scale=True),
    Feature("gap_std_days", "numeric",
            "Standard deviation of the days between orders (null with fewer than 3 orders).",
            "irregular ordering rhythm", "very regular ordering rhythm",
            "fewer than three orders (ordering rhythm unknown)", " days", log_scale=True),
    Feature("recency_over_gap", "numeric",
            "days_since_last_order / gap_mean_days: how overdue the next order is.",
            "overdue compared with the usual gap between orders",
            "ordered sooner than the usual gap between orders",
            "no repeat order yet (cannot compare recency with the usual gap)",
            "x the usual gap", decimals=1, log_scale=True),
    Feature("category_count", "numeric",
            "Distinct product categories bought.",
            "buys across many categories", "buys from few categories",
            "no category history", " categories", log_scale=True),
    Feature("discount_share", "numeric",
            "Discount as a share of the list value of completed orders.",
            "buys heavily on discount", "rarely buys on discount",
            "no discount history", "%", scale=100.0),
    Feature("cancel_return_share", "numeric",
            "Share of orders cancelled or returned.",
            "many cancelled or returned orders", "few cancelled or returned orders",
            "no cancellation history", "%", scale=100.0),
    Feature("sessions_last_30d", "numeric",
            "Web/app sessions in the 30 days before the snapshot.",
            "many sessions in the last 30 days", "few sessions in the last 30 days",
            "no browsing data", " sessions", log_scale=True),
    Feature("views_last_30d", "numeric",
            "Product views in the 30 days before the snapshot.",
            "many product views in the last 30 days", "few product views in the last 30 days",
            "no product-view data", " views", log_scale=True),
    Feature("cart_abandonment_rate_30d", "numeric",
            "Share of carts in the last 30 days not followed by a purchase.",
            "high cart abandonment in the last 30 days", "low cart abandonment in the last 30 days",
            "no carts in the last 30 days", "%", scale=100.0),
    Feature("review_count", "numeric",
            "Reviews written up to the snapshot date.",
            "many reviews written", "few reviews written",
            "no reviews written", " reviews", log_scale=True),
    Feature("review_rating_avg", "numeric",
            "Average review rating (1-5).",
            "high average review rating", "low average review rating",
            "no reviews yet (no average rating)", " stars", decimals=1),
    Feature("review_rating_min", "numeric",
            "Lowest review rating given (1-5).",
            "no low review ratings", "has given a low review rating",
            "no reviews yet (no lowest rating)", " stars", decimals=1),
    Feature("review_rating_latest", "numeric",
            "Rating of the most recent review (1-5).",
            "latest review rating is high", "low latest review rating",
            "no reviews yet (no latest rating)", " stars", decimals=1),
    Feature("acquisition_channel", "categorical",
            "Channel that acquired the customer.",
            "acquisition channel", "acquisition channel",
            "unknown acquisition channel"),
    Feature("country", "categorical",
            "Customer country.",
            "country", "country",
            "unknown country"),
)

# Text features (issue 12): joined from ml_churn_text_features (ecom_growth.text.churn_features,
# strictly before the snapshot); absent columns read as null (no reviews / tickets table).
TEXT_FEATURES: tuple[Feature, ...] = (
    Feature("review_sentiment_latest", "numeric",
            "Sentiment score in [-1, 1] of the most recent review (text model).",
            "latest review reads positive", "latest review reads negative",
            "no reviews yet (no review sentiment)", "", decimals=2),
    Feature("review_sentiment_mean", "numeric",
            "Mean sentiment score in [-1, 1] of the reviews written.",
            "reviews read positive on average", "reviews read negative on average",
            "no reviews yet (no review sentiment)", "", decimals=2),
    *[Feature(f"negative_mentions_{aspect}", "numeric",
              f"Negative {aspect.replace('_', ' ')} mentions in the reviews written (aspect polarity -1).",
              f"complained about {aspect.replace('_', ' ')} in reviews",
              f"no {aspect.replace('_', ' ')} complaints in reviews",
              "no reviews yet", " mentions", log_scale=True)
      for aspect in ASPECTS],
    Feature("tickets_last_90d", "numeric",
            "Support tickets opened in the 90 days before the snapshot.",
            "many support tickets in the last 90 days", "few support tickets in the last 90 days",
            "no support ticket data", " tickets", log_scale=True),
    Feature("unresolved_tickets_last_90d", "numeric",
            "Tickets of the last 90 days still unresolved at the snapshot.",
            "unresolved support tickets", "no unresolved support tickets",
            "no support ticket data", " tickets", log_scale=True),
    Feature("unresolved_complaints_last_90d", "numeric",
            "Of those, the ones whose predicted intent is a complaint (ml_ticket_intents).",
            "unresolved complaints", "no unresolved complaints",
            "no support ticket data", " complaints", log_scale=True),
)
TEXT_FEATURE_NAMES: tuple[str, ...] = tuple(f.name for f in TEXT_FEATURES)
FEATURES = FEATURES + TEXT_FEATURES



@dataclass(frozen=True)
class ReasonGroup:
    """Features that are perturbed TOGETHER when asking "does this push the risk up?".

    Features derived from each other (recency / mean gap, 30-day inside 90-day counts, the gap
    statistics of a one-order customer being null) cannot be changed one at a time without
    describing a customer who could not exist; a group is swapped as a whole for the values of
    one real reference customer. ``revenue_total`` = orders x average order value ties the
    purchase-history and spend groups, so it is recomputed (``derived_revenue``) rather than
    swapped. ``lead`` is the feature whose value words the reason.
    """

    name: str
    features: tuple[str, ...]
    lead: str


REASON_GROUPS: tuple[ReasonGroup, ...] = (
    ReasonGroup("purchase_history",
                ("days_since_last_order", "tenure_days", "orders_count", "orders_last_30d",
                 "orders_last_90d", "order_trend_ratio", "gap_mean_days", "gap_std_days",
                 "recency_over_gap", "category_count"), "days_since_last_order"),
    ReasonGroup("spend", ("avg_order_value",), "avg_order_value"),
    ReasonGroup("discounts", ("discount_share",), "discount_share"),
    ReasonGroup("cancellations", ("cancel_return_share",), "cancel_return_share"),
    ReasonGroup("browsing", ("sessions_last_30d", "views_last_30d", "cart_abandonment_rate_30d"),
                "sessions_last_30d"),
    ReasonGroup("reviews", ("review_count", "review_rating_avg", "review_rating_min",
                            "review_rating_latest"), "review_rating_avg"),
    ReasonGroup("acquisition_channel", ("acquisition_channel",), "acquisition_channel"),
    ReasonGroup("country", ("country",), "country"),
    ReasonGroup("review_text", tuple(n for n in TEXT_FEATURE_NAMES if n.startswith(("review_", "negative_"))),
                "review_sentiment_mean"),
    ReasonGroup("support_tickets", ("tickets_last_90d", "unresolved_tickets_last_90d", "unresolved_complaints_last_90d"),
                "unresolved_complaints_last_90d"),
)
"""Every feature except the derived ``revenue_total`` is in exactly one group."""

FEATURE_NAMES: tuple[str, ...] = tuple(f.name for f in FEATURES)
NUMERIC_FEATURES: tuple[str, ...] = tuple(f.name for f in FEATURES if f.kind == "numeric")
CATEGORICAL_FEATURES: tuple[str, ...] = tuple(f.name for f in FEATURES if f.kind == "categorical")
LOG_SCALED_FEATURES: tuple[str, ...] = tuple(f.name for f in FEATURES if f.log_scale)
MONOTONE: dict[str, int] = {f.name: f.monotone for f in FEATURES if f.monotone}
REQUIRED_COLUMNS: tuple[str, ...] = ID_COLUMNS + FEATURE_NAMES


def feature_spec_frame() -> pl.DataFrame:
    """The spec as a table (one row per feature), e.g. for docs or joins in reason building."""
    return pl.DataFrame(
        {
            "feature": [f.name for f in FEATURES],
            "kind": [f.kind for f in FEATURES],
            "description": [f.description for f in FEATURES],
            "high_reason": [f.high_reason for f in FEATURES],
            "low_reason": [f.low_reason for f in FEATURES],
            "missing_reason": [f.missing_reason for f in FEATURES],
            "suffix": [f.suffix for f in FEATURES],
            "decimals": [f.decimals for f in FEATURES],
            "scale": [f.scale for f in FEATURES],
            "log_scale": [f.log_scale for f in FEATURES],
            "monotone": [f.monotone for f in FEATURES],
        },
        schema={
            "feature": pl.String, "kind": pl.String, "description": pl.String,
            "high_reason": pl.String, "low_reason": pl.String, "missing_reason": pl.String,
            "suffix": pl.String, "decimals": pl.Int64, "scale": pl.Float64, "log_scale": pl.Boolean,
            "monotone": pl.Int64,
        },
    )


def with_optional_text_columns(snapshots: pl.DataFrame) -> pl.DataFrame:
    """The text features are optional inputs (no ml_churn_text_features joined, no reviews or
    tickets): absent ones are added as null, i.e. missing for every customer."""
    if not isinstance(snapshots, pl.DataFrame):
        return snapshots
    absent = [c for c in TEXT_FEATURE_NAMES if c not in snapshots.columns]
    return snapshots.with_columns(pl.lit(None, pl.Float64).alias(c) for c in absent) if absent else snapshots


def validate_snapshots(snapshots: pl.DataFrame) -> pl.DataFrame:
    """Check the snapshot table against the spec and return it with canonical dtypes.

    Raises ValueError naming the problem: missing columns, uncastable types, duplicate
    (customer_id, snapshot_date), labels outside {0, 1} or null on a labelled snapshot,
    more than one scoring date. Catching these here keeps errors out of numpy internals.
    """
    if not isinstance(snapshots, pl.DataFrame):
        raise ValueError(f"snapshots must be a polars DataFrame, got {type(snapshots).__name__}")
    snapshots = with_optional_text_columns(snapshots)
    missing = [c for c in REQUIRED_COLUMNS if c not in snapshots.columns]
    if missing:
        raise ValueError(f"int_churn_snapshots is missing required column(s): {', '.join(missing)}")

    casts = {
        "customer_id": pl.String,
        "snapshot_date": pl.Date,
        "is_scoring_snapshot": pl.Boolean,
        "is_churned": pl.Int8,
        **{c: pl.Float64 for c in NUMERIC_FEATURES},
        **{c: pl.String for c in CATEGORICAL_FEATURES},
    }
    exprs = []
    for name, dtype in casts.items():
        source = snapshots.schema[name]
        if source == dtype:
            exprs.append(pl.col(name))
        elif dtype == pl.Date and isinstance(source, pl.Datetime):
            exprs.append(pl.col(name).dt.date())
        else:
            exprs.append(pl.col(name).cast(dtype, strict=True))
    try:
        out = snapshots.select(exprs)
    except (pl.exceptions.InvalidOperationError, pl.exceptions.ComputeError) as exc:
        bad = [
            n for n, d in casts.items()
            if not _castable(snapshots.get_column(n), d)
        ]
        raise ValueError(
            f"int_churn_snapshots column(s) with an unusable type: "
            f"{', '.join(f'{n} ({snapshots.schema[n]}, expected {casts[n]})' for n in bad) or exc}"
        ) from exc

    for key in ("customer_id", "snapshot_date", "is_scoring_snapshot"):
        n_null = out.get_column(key).null_count()
        if n_null:
            raise ValueError(f"int_churn_snapshots.{key} has {n_null} null value(s)")
    n_dupes = out.height - out.select(pl.struct("customer_id", "snapshot_date").n_unique()).item() \
        if out.height else 0
    if n_dupes:
        raise ValueError(
            f"int_churn_snapshots has {n_dupes} duplicate (customer_id, snapshot_date) row(s)"
        )
    labelled = out.filter(~pl.col("is_scoring_snapshot"))
    n_null_label = labelled.get_column("is_churned").null_count()
    if n_null_label:
        raise ValueError(
            f"is_churned is null on {n_null_label} row(s) of labelled snapshots "
            "(only the scoring snapshot may have a null label)"
        )
    bad_labels = labelled.filter(~pl.col("is_churned").is_in([0, 1])).height
    if bad_labels:
        raise ValueError(f"is_churned must be 0 or 1; {bad_labels} labelled row(s) are not")
    scoring_dates = out.filter(pl.col("is_scoring_snapshot")).get_column("snapshot_date").unique()
    if scoring_dates.len() > 1:
        raise ValueError(
            "int_churn_snapshots has more than one scoring snapshot date: "
            + ", ".join(str(d) for d in scoring_dates.sort().to_list())
        )
    return out


def _castable(column: pl.Series, dtype: pl.DataType) -> bool:
    try:
        if dtype == pl.Date and isinstance(column.dtype, pl.Datetime):
            return True
        column.cast(dtype, strict=True)
    except (pl.exceptions.InvalidOperationError, pl.exceptions.ComputeError):
        return False
    return True


def prepare_features(snapshots: pl.DataFrame) -> pl.DataFrame:
    """Model matrix X, columns in :data:`FEATURE_NAMES` order, as the pipelines expect it.

    Numerics become Float64 with null and +-inf as NaN (a ratio over a zero gap is undefined,
    not infinite risk); the pipelines then impute (linear model, with missing indicators) or
    route NaN natively (gradient boosting). Categoricals become strings with nulls as
    ``"(missing)"`` so an unknown channel is its own category. Expects a validated frame
    (:func:`validate_snapshots`), but casts again so it is safe on raw input too.
    """
    num = [
        pl.col(c).cast(pl.Float64).pipe(
            lambda e: pl.when(e.is_infinite()).then(None).otherwise(e)
        ).fill_null(float("nan")).alias(c)
        for c in NUMERIC_FEATURES
    ]
    cat = [
        pl.col(c).cast(pl.String).fill_null(MISSING_CATEGORY).alias(c)
        for c in CATEGORICAL_FEATURES
    ]
    by_name = {e.meta.output_name(): e for e in num + cat}
    return with_optional_text_columns(snapshots).select([by_name[c] for c in FEATURE_NAMES])
