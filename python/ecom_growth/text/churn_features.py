"""Text features of the churn snapshots (``ml_churn_text_features``), strictly before each snapshot.

Per (customer, snapshot date D; the instant D 00:00): the latest and the mean review sentiment
score (ml_review_sentiment) of the reviews written before D, the count of negative mentions per
aspect in those reviews, and the support tickets opened in the 90 days before D: all of them,
those still unresolved at D (resolved_at null or at / after D), and the unresolved ones whose
predicted intent (ml_ticket_intents) is a complaint.

No leak through the fitted sentiment model: ml_review_sentiment's model is fitted on reviews
written before ``training_cutoff`` = midnight of as_of's date minus ``text_holdout_days``, and the
churn test snapshot is date(as_of) - ``churn_window_days``; with text_holdout_days >=
churn_window_days (the defaults: 90 and 90) the model has seen nothing written on or after the
test snapshot, so every input of a test-snapshot prediction, the text features included, is
fixed before the test label window opens. The earlier (training / validation) snapshots'
features are computed by that same fixed model; it has seen reviews from their label windows,
but only as (text, star) pairs, never their churn labels, and it is not refitted per
snapshot, so the test evaluation stays honest. Aspect polarity comes mostly from the lexicon
(no fitting at all). The intent model of ml_ticket_intents has the same training cutoff and
the same argument (its labels are keyword rules, never churn).
"""

from __future__ import annotations

from datetime import timedelta

import polars as pl

from ecom_growth.churn.features import TEXT_FEATURE_NAMES as TEXT_FEATURE_COLUMNS
from ecom_growth.text.aspects import ASPECTS

TICKET_WINDOW_DAYS = 90  # the churn feature names say 90d
KEYS = ("customer_id", "snapshot_date")


def _snapshot_keys(snapshots: pl.DataFrame) -> pl.DataFrame:
    return (snapshots.select(pl.col("customer_id").cast(pl.String), pl.col("snapshot_date").cast(pl.Date))
            .unique().with_columns(pl.col("snapshot_date").cast(pl.Datetime("us")).alias("snapshot_at")))


def review_features(keys: pl.DataFrame, reviews: pl.DataFrame) -> pl.DataFrame:
    """Sentiment (latest, mean) and negative mentions per aspect of the reviews before each snapshot."""
    negative = [
        pl.col("aspects").list.eval(((pl.element().struct.field("aspect") == aspect)
                                     & (pl.element().struct.field("polarity") < 0)).cast(pl.Int32)).list.sum()
        .alias(f"negative_mentions_{aspect}")
        for aspect in ASPECTS
    ]
    scored = reviews.select("customer_id", "created_at", "review_id", "sentiment_score", *negative)
    return (
        keys.join(scored, on="customer_id", how="inner")
        .filter(pl.col("created_at") < pl.col("snapshot_at"))
        .sort("created_at", "review_id")
        .group_by(KEYS)
        .agg(
            pl.col("sentiment_score").last().alias("review_sentiment_latest"),
            pl.col("sentiment_score").mean().alias("review_sentiment_mean"),
            *[pl.col(f"negative_mentions_{a}").sum().cast(pl.Float64) for a in ASPECTS],
        )
    )


def ticket_features(keys: pl.DataFrame, tickets: pl.DataFrame) -> pl.DataFrame:
    """Tickets opened in the TICKET_WINDOW_DAYS before each snapshot, those unresolved at it, and
    the unresolved ones whose predicted intent is a complaint."""
    opened = tickets.select("customer_id", "created_at", "resolved_at", "predicted_intent")
    unresolved = pl.col("resolved_at").is_null() | (pl.col("resolved_at") >= pl.col("snapshot_at"))
    return (
        keys.join(opened, on="customer_id", how="inner")
        .filter((pl.col("created_at") < pl.col("snapshot_at"))
                & (pl.col("created_at") >= pl.col("snapshot_at") - timedelta(days=TICKET_WINDOW_DAYS)))
        .group_by(KEYS)
        .agg(
            pl.len().cast(pl.Float64).alias("tickets_last_90d"),
            unresolved.sum().cast(pl.Float64).alias("unresolved_tickets_last_90d"),
            (unresolved & (pl.col("predicted_intent") == "complaint")).sum().cast(pl.Float64)
            .alias("unresolved_complaints_last_90d"),
        )
    )


def churn_text_features(snapshots: pl.DataFrame, reviews: pl.DataFrame, tickets: pl.DataFrame,
                        intents: pl.DataFrame) -> pl.DataFrame:
    """One row per (customer_id, snapshot_date) of ``snapshots`` (int_churn_snapshots) with
    :data:`TEXT_FEATURE_COLUMNS` (sentiment null without an earlier review, counts 0), status and
    status_reason (degraded when the sentiment or intent model fell back: the features then rest
    on star ratings / keyword rules; no reviews or tickets at all is not degraded, just empty).

    ``reviews`` is ml_review_sentiment (customer_id, review_id, created_at, sentiment_score,
    aspects), ``tickets`` int_support_tickets_in_window (ticket_id, customer_id, created_at,
    resolved_at), ``intents`` ml_ticket_intents (ticket_id, predicted_intent).
    """
    keys = _snapshot_keys(snapshots)
    tickets = tickets.join(intents.select("ticket_id", "predicted_intent"), on="ticket_id", how="left")
    counts = [c for c in TEXT_FEATURE_COLUMNS if c not in ("review_sentiment_latest", "review_sentiment_mean")]
    reason = input_status_reason(reviews, intents)
    return (
        keys.join(review_features(keys, reviews), on=KEYS, how="left")
        .join(ticket_features(keys, tickets), on=KEYS, how="left")
        .with_columns(pl.col(c).fill_null(0.0) for c in counts)
        .select(*KEYS, *[pl.col(c).cast(pl.Float64) for c in TEXT_FEATURE_COLUMNS])
        .with_columns(pl.lit("ok" if reason is None else "degraded").alias("status"),
                      pl.lit(reason, dtype=pl.String).alias("status_reason"))
        .sort(KEYS)
    )


def input_status_reason(reviews: pl.DataFrame, intents: pl.DataFrame) -> str | None:
    """Why the text features rest on a fallback (the sentiment or intent model degraded), or None."""
    reasons = [
        f"{what}: {frame['status_reason'].drop_nulls().first()}"
        for what, frame in (("review sentiment from the star rating", reviews),
                            ("ticket intents from the keyword rules", intents))
        if "status" in frame.columns and frame.height and (frame["status"] == "degraded").any()
    ]
    return "; ".join(reasons) or None


def with_text_features(snapshots: pl.DataFrame, text_features: pl.DataFrame) -> pl.DataFrame:
    """int_churn_snapshots with the text feature columns joined on (customer_id, snapshot_date)."""
    features = text_features.select(pl.col("customer_id").cast(pl.String), pl.col("snapshot_date").cast(pl.Date),
                                    *TEXT_FEATURE_COLUMNS)
    base = snapshots.drop([c for c in TEXT_FEATURE_COLUMNS if c in snapshots.columns])
    keyed = base.with_columns(pl.col("customer_id").cast(pl.String), pl.col("snapshot_date").cast(pl.Date))
    return keyed.join(features, on=list(KEYS), how="left", maintain_order="left")
