"""Review sentiment from the shop's own star ratings (weak labels), English and Chinese.

Method: character n-grams (``analyzer='char'``, so n-grams cross word boundaries and catch
negation such as "not bad" / "不太好", and Chinese needs no word segmentation) weighted by
TF-IDF, and a multinomial logistic regression trained on weak labels from the star rating
(1-2 negative, 3 neutral, 4-5 positive) of reviews written before a time cutoff. The shop has
no sentiment labels, so the stars are the only supervision; the text model generalises across
reviews (a "late delivery" reads negative in a 4-star review too). The score is
P(positive) - P(negative) in [-1, 1]; the label is the most probable class.

Fallback (status 'degraded'): too few training reviews or a weak-label class missing: the
score is the star rating mapped linearly to [-1, 1] and the label its weak label.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, time, timedelta

import numpy as np
import polars as pl
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline, make_pipeline

from ecom_growth.text.ngrams import pipeline_predict_proba

SENTIMENT_LABELS = ("negative", "neutral", "positive")
MODEL_NAME = "char_ngram_tfidf_logreg"
FALLBACK_NAME = "star_rating"


def training_cutoff(as_of: datetime, holdout_days: int) -> datetime:
    """Midnight of as_of's date minus ``holdout_days``: texts before it train the text models,
    later ones are their holdout.

    Whole days, so that with ``text_holdout_days`` >= ``churn_window_days`` no text model has
    seen a text written on or after the churn test snapshot (date(as_of) - churn_window_days):
    the churn text features of the test snapshot use nothing from its label window.
    """
    return datetime.combine(as_of.date(), time()) - timedelta(days=int(holdout_days))


def weak_labels(rating: pl.Series) -> pl.Series:
    """Star rating -> weak sentiment label (1-2 negative, 3 neutral, 4-5 positive; else null)."""
    return (
        pl.select(
            pl.when(rating.is_between(1, 2)).then(pl.lit("negative"))
            .when(rating == 3).then(pl.lit("neutral"))
            .when(rating.is_between(4, 5)).then(pl.lit("positive"))
            .otherwise(None)
            .alias("weak_label")
        ).to_series()
    )


def rating_score(rating: pl.Series) -> np.ndarray:
    """The star-rating baseline's sentiment score: 1 -> -1, 3 -> 0, 5 -> 1."""
    return ((rating.cast(pl.Float64).to_numpy() - 3.0) / 2.0).clip(-1.0, 1.0)


@dataclass
class SentimentModel:
    """A fitted text model, or None when it could not be fitted (``reason`` says why)."""

    pipeline: Pipeline | None
    reason: str | None
    training_reviews: int

    @property
    def name(self) -> str:
        return MODEL_NAME if self.pipeline is not None else FALLBACK_NAME

    def probabilities(self, texts: pl.Series) -> np.ndarray:
        """(n, 3) probabilities in SENTIMENT_LABELS order (requires a fitted pipeline)."""
        assert self.pipeline is not None
        if texts.len() == 0:
            return np.zeros((0, 3))
        pipeline = self.pipeline
        proba = per_distinct_text(texts.fill_null(""), lambda distinct: pipeline_predict_proba(pipeline, distinct))
        classes = list(self.pipeline.classes_)
        return proba[:, [classes.index(label) for label in SENTIMENT_LABELS]]

    def score(self, texts: pl.Series) -> np.ndarray:
        """Sentiment score P(positive) - P(negative) in [-1, 1]."""
        proba = self.probabilities(texts)
        return proba[:, 2] - proba[:, 0]


def fit_sentiment(
    texts: pl.Series, labels: pl.Series, *, ngram_max: int, max_features: int, regularization_c: float,
    min_training_reviews: int, random_state: int,
) -> SentimentModel:
    """Fit the text model on (text, weak label) pairs; degrade when it cannot be identified."""
    keep = labels.is_not_null() & texts.is_not_null()
    texts, labels = texts.filter(keep), labels.filter(keep)
    n = texts.len()
    if n < min_training_reviews:
        return SentimentModel(None, f"{n} training reviews with a rating (< {min_training_reviews})", n)
    missing = sorted(set(SENTIMENT_LABELS) - set(labels.unique().to_list()))
    if missing:
        return SentimentModel(None, f"no training review labelled {', '.join(missing)} by its rating", n)
    # Balanced weights: the stars are mostly positive, and the minority classes matter most.
    pipeline = char_ngram_classifier(ngram_max=ngram_max, max_features=max_features,
                                     regularization_c=regularization_c, random_state=random_state)
    pipeline.fit(texts.to_list(), labels.to_list())
    return SentimentModel(pipeline, None, n)


def char_ngram_classifier(*, ngram_max: int, max_features: int, regularization_c: float, random_state: int) -> Pipeline:
    """Unfitted character 1..ngram_max-gram TF-IDF + multinomial logistic regression with balanced
    class weights: the text classifier of both the review sentiment and the ticket intents."""
    return make_pipeline(
        TfidfVectorizer(analyzer="char", ngram_range=(1, ngram_max), lowercase=True, sublinear_tf=True,
                        min_df=2, max_features=max_features, dtype=np.float32),
        LogisticRegression(C=regularization_c, class_weight="balanced", max_iter=1000, random_state=random_state),
    )


def per_distinct_text(texts: pl.Series, compute: Callable[[list[str]], np.ndarray]) -> np.ndarray:
    """``compute(texts)`` (rows per text), called once per distinct text and spread back.

    The same rows as ``compute(texts.to_list())`` for any row-wise ``compute`` (a TF-IDF
    transform and a classifier score each text on its own), for less work: character n-gram
    extraction is the cost of scoring, and shops repeat short texts (the 1M simulated shop has
    48k distinct texts in 309k reviews).
    """
    frame = pl.DataFrame({"text": texts}, schema={"text": pl.String})
    distinct = frame.unique("text", maintain_order=True).with_row_index("row")
    rows = frame.join(distinct, on="text", how="left", maintain_order="left")["row"].to_numpy()
    return compute(distinct["text"].to_list())[rows]


def label_from_probabilities(proba: np.ndarray) -> np.ndarray:
    """Most probable class per row, as labels."""
    return np.asarray(SENTIMENT_LABELS, dtype=object)[proba.argmax(axis=1)] if proba.size else np.zeros(0, object)
