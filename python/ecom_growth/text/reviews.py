"""ml_review_sentiment: one row per review with its sentiment and its aspects.

The sentiment model is fitted once (``fit_review_sentiment``; ml_review_text_model stores
it), on the reviews written before ``training_cutoff`` (midnight of as_of's date minus
``holdout_days``; their star ratings are the weak labels), and scores every review
(``score_reviews``); the reviews on or after the fit's cutoff are the time-based holdout of
ml_text_model_evaluation, so the evaluation measures exactly the model that scores, also when a
later build keeps the stored fit. Reviews after ``as_of`` (a backtest) are left out.
"""

from __future__ import annotations

from datetime import datetime

import numpy as np
import polars as pl

from ecom_growth.model_store import with_fit_of
from ecom_growth.text.aspects import review_aspects
from ecom_growth.text.lexicon import lexicon_polarity
from ecom_growth.text.sentiment import (
    SENTIMENT_LABELS,
    SentimentModel,
    fit_sentiment,
    label_from_probabilities,
    rating_score,
    training_cutoff,
    weak_labels,
)
from ecom_growth.text.store import TextFit, rescore_changed, scoring_salt, text_fit_from_table

REVIEW_COLUMNS = ("review_id", "customer_id", "product_id", "category", "rating", "review_text", "created_at")
ASPECT_STRUCT = pl.List(pl.Struct({"aspect": pl.String, "polarity": pl.Int8, "aspect_score": pl.Float64}))


def review_language(texts: pl.Series) -> pl.Series:
    """'zh' when the text contains a Han character, else 'en'."""
    return pl.select(pl.when(texts.fill_null("").str.contains(r"\p{Han}")).then(pl.lit("zh")).otherwise(pl.lit("en"))
                     .alias("language")).to_series()


def _prepared(reviews: pl.DataFrame, *, as_of: datetime, cutoff: datetime) -> pl.DataFrame:
    """Reviews up to ``as_of`` by review_id, with language, weak label and is_holdout (on or after ``cutoff``)."""
    reviews = reviews.select(REVIEW_COLUMNS).filter(pl.col("created_at") <= as_of).sort("review_id")
    return reviews.with_columns(
        review_language(reviews["review_text"]),
        weak_labels(reviews["rating"]).alias("weak_label"),
        (pl.col("created_at") >= cutoff).alias("is_holdout"),
    )


def fit_review_sentiment(
    reviews: pl.DataFrame, *, as_of: datetime, holdout_days: int, ngram_max: int, max_features: int,
    regularization_c: float, min_training_reviews: int, max_training_reviews: int, random_state: int,
) -> TextFit:
    """The sentiment model fitted on the rated reviews before ``training_cutoff`` (above
    ``max_training_reviews``: a fixed-seed sample); degraded (no pipeline, ``reason``) when
    too few or one-sided ratings."""
    cutoff = training_cutoff(as_of, holdout_days)
    train = _prepared(reviews, as_of=as_of, cutoff=cutoff).filter(~pl.col("is_holdout"))
    if train.height > max_training_reviews:  # the text signal saturates; keeps 1M customers in budget
        train = train.sample(max_training_reviews, seed=random_state)
    model = fit_sentiment(train["review_text"], train["weak_label"], ngram_max=ngram_max, max_features=max_features,
                          regularization_c=regularization_c, min_training_reviews=min_training_reviews,
                          random_state=random_state)
    return TextFit(model.pipeline, model.reason, model.training_reviews, cutoff)


def review_sentiment_table(
    reviews: pl.DataFrame, *, as_of: datetime, holdout_days: int, ngram_max: int, max_features: int,
    regularization_c: float, min_training_reviews: int, max_training_reviews: int, random_state: int,
) -> pl.DataFrame:
    """:func:`fit_review_sentiment` then :func:`score_reviews` (one build without a stored model)."""
    fit = fit_review_sentiment(reviews, as_of=as_of, holdout_days=holdout_days, ngram_max=ngram_max,
                               max_features=max_features, regularization_c=regularization_c,
                               min_training_reviews=min_training_reviews, max_training_reviews=max_training_reviews,
                               random_state=random_state)
    return score_reviews(reviews, fit, as_of=as_of)


def score_reviews(reviews: pl.DataFrame, fit: TextFit, *, as_of: datetime) -> pl.DataFrame:
    """Sentiment score in [-1, 1], label, class probabilities and aspects of every review up to
    ``as_of``, from a fitted (or stored) model; is_holdout = written on or after its training cutoff.

    ``training_reviews`` records how many reviews the model was fitted on. Degraded: score and
    label from the star rating, aspect polarity from the lexicon alone (0 where it finds nothing).
    """
    reviews = _prepared(reviews, as_of=as_of, cutoff=fit.training_cutoff)
    model = SentimentModel(fit.pipeline, fit.reason, fit.training_rows)
    if model.pipeline is not None:
        proba = model.probabilities(reviews["review_text"])
        score, label = proba[:, 2] - proba[:, 0], label_from_probabilities(proba)

        def clause_polarity(clauses: pl.Series) -> pl.Series:
            # The model only reads the (few) clauses without any lexicon word.
            polarity = lexicon_polarity(clauses).to_numpy().astype(np.float64)
            unknown = np.flatnonzero(np.isnan(polarity))
            if unknown.size:
                polarity[unknown] = model.probabilities(clauses.gather(unknown)).argmax(axis=1) - 1
            return pl.Series(polarity, dtype=pl.Int8)
    else:
        proba = np.full((reviews.height, 3), np.nan)
        score, label = rating_score(reviews["rating"]), reviews["weak_label"].to_numpy()

        def clause_polarity(clauses: pl.Series) -> pl.Series:
            return lexicon_polarity(clauses).fill_null(0)

    aspects = (
        review_aspects(reviews.select("review_id", "review_text"), clause_polarity)
        .group_by("review_id", maintain_order=True)
        .agg(pl.struct("aspect", "polarity", "aspect_score").alias("aspects"))
    )
    status = "ok" if model.reason is None else "degraded"
    return (
        reviews.with_columns(
            pl.Series("sentiment_score", score, dtype=pl.Float64),
            pl.Series("sentiment_label", label, dtype=pl.String),
            *[pl.Series(f"probability_{name}", proba[:, i], dtype=pl.Float64, nan_to_null=True)
              for i, name in enumerate(SENTIMENT_LABELS)],
        )
        .join(aspects, on="review_id", how="left")
        .with_columns(
            pl.col("aspects").fill_null(pl.lit([], dtype=ASPECT_STRUCT)).cast(ASPECT_STRUCT),
            pl.lit(model.name).alias("model"),
            pl.lit(model.training_reviews, dtype=pl.Int64).alias("training_reviews"),
            pl.lit(status).alias("status"),
            pl.lit(model.reason, dtype=pl.String).alias("status_reason"),
        )
        .drop("review_text")
    )


def rescore_reviews(reviews: pl.DataFrame, model_table: pl.DataFrame, previous: pl.DataFrame | None, *,
                    as_of: datetime) -> pl.DataFrame:
    """``ml_review_sentiment``: :func:`score_reviews` with the stored fit of ``model_table`` (its
    fit_id, fitted_at) and input_digest, scoring only the reviews new or changed since
    ``previous`` (the table's last build; None scores all; ecom_growth.text.store.rescore_changed):
    the same table as a full rescore."""
    fit = text_fit_from_table(model_table)

    def score(rows: pl.DataFrame) -> pl.DataFrame:
        return with_fit_of(score_reviews(rows, fit, as_of=as_of), model_table)

    rows = reviews.select(REVIEW_COLUMNS).filter(pl.col("created_at") <= as_of)
    return rescore_changed(rows, previous, key="review_id", salt=scoring_salt(model_table, {}), score=score)
