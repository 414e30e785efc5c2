"""The text layer: weak labels, the sentiment model and its fallback, the bilingual lexicon with
negation, aspects of mixed reviews, the review table and its evaluation metrics."""

from __future__ import annotations

from datetime import datetime, timedelta

import numpy as np
import polars as pl
import pytest
from sklearn.metrics import f1_score, precision_score, recall_score

from ecom_growth.text import evaluate_sentiment, review_sentiment_table
from ecom_growth.text.aspects import clause_aspects, review_aspects, split_clauses
from ecom_growth.text.evaluation import classification_metrics
from ecom_growth.text.lexicon import lexicon_polarity
from ecom_growth.text.sentiment import fit_sentiment, rating_score, weak_labels

LABELS = ("negative", "neutral", "positive")
AS_OF = datetime(2026, 6, 30)

POSITIVE = ["great product, love it", "excellent quality", "works perfectly, very happy", "质量很好，非常满意",
            "fast delivery and great quality", "物流很快，很满意", "perfect, highly recommend", "太棒了，推荐"]
NEGATIVE = ["terrible, broke after a day", "poor quality, very disappointed", "awful, waste of money",
            "质量太差，很失望", "arrived broken, terrible", "做工粗糙，失望", "bad product, do not buy", "坏了，太差"]
NEUTRAL = ["it's okay", "average, does the job", "nothing special", "一般般", "so-so quality", "还可以吧",
           "okay I guess", "中规中矩"]


def _corpus(repeat: int = 6) -> pl.DataFrame:
    texts = (POSITIVE + NEGATIVE + NEUTRAL) * repeat
    ratings = ([5] * len(POSITIVE) + [1] * len(NEGATIVE) + [3] * len(NEUTRAL)) * repeat
    n = len(texts)
    return pl.DataFrame({
        "review_id": [f"R{i:05d}" for i in range(n)],
        "customer_id": [f"C{i % 17:03d}" for i in range(n)],
        "product_id": [f"P{i % 5:02d}" for i in range(n)],
        "category": ["fashion"] * n,
        "rating": pl.Series(ratings, dtype=pl.Int32),
        "review_text": texts,
        "created_at": [AS_OF - timedelta(days=400 - i * 399 / n) for i in range(n)],
    })


def _table(reviews: pl.DataFrame, **overrides) -> pl.DataFrame:
    args = {"as_of": AS_OF, "holdout_days": 60, "ngram_max": 4, "max_features": 5000, "regularization_c": 4.0,
            "min_training_reviews": 20, "max_training_reviews": 10_000, "random_state": 0} | overrides
    return review_sentiment_table(reviews, **args)


def test_weak_labels_map_stars_and_leave_invalid_ratings_unlabelled():
    ratings = pl.Series([1, 2, 3, 4, 5, 0, None], dtype=pl.Int32)
    assert weak_labels(ratings).to_list() == ["negative", "negative", "neutral", "positive", "positive", None, None]
    assert rating_score(pl.Series([1, 3, 5])).tolist() == [-1.0, 0.0, 1.0]


@pytest.mark.parametrize(("text", "polarity"), [
    ("Quality is not bad at all", 1),
    ("The quality is not good", -1),
    ("Delivery was not on time", -1),
    ("Delivery was not slow at all", 1),
    ("Not worth the money", -1),
    ("Not great, not terrible", 0),
    ("It's okay", 0),
    ("Doesn't fit at all", -1),
    ("质量不太好", -1),
    ("用起来不差", 1),
    ("不贵", 1),
    ("不值这个价", -1),
    ("快递不太及时", -1),
    ("物流很快", 1),
    ("一般般", 0),
    ("hello world", None),
])
def test_lexicon_handles_negation_in_english_and_chinese(text, polarity):
    assert lexicon_polarity(pl.Series([text])).to_list() == [polarity]


def test_clauses_split_at_sentence_ends_and_chinese_commas_and_skip_emoji():
    reviews = pl.DataFrame({"review_id": ["a", "b"], "review_text": ["Runs small, had to return it. 👍", "质量很好，物流太慢了。"]})
    clauses = split_clauses(reviews)
    assert clauses["clause"].to_list() == ["Runs small, had to return it", "质量很好", "物流太慢了"]


def test_a_clause_without_an_aspect_word_is_about_the_product():
    clauses = pl.DataFrame({"review_id": ["a", "a"], "clause_index": [0, 1], "clause": ["Broke after a week",
                                                                                       "Shipping was slow"]})
    found = clause_aspects(clauses).sort("clause_index")
    assert found.select("clause_index", "aspect").rows() == [(0, "product_quality"), (1, "delivery")]


def test_mixed_review_gets_opposite_aspect_polarities_in_both_languages():
    reviews = pl.DataFrame({"review_id": ["en", "zh"], "review_text": [
        "Great quality. Delivery took forever.", "质量很好，快递晚了两个星期，客服不理人。"]})
    aspects = review_aspects(reviews, lambda clauses: lexicon_polarity(clauses).fill_null(0))
    got = {(r["review_id"], r["aspect"]): r["polarity"] for r in aspects.iter_rows(named=True)}
    assert got == {("en", "product_quality"): 1, ("en", "delivery"): -1,
                   ("zh", "product_quality"): 1, ("zh", "delivery"): -1, ("zh", "customer_service"): -1}


def test_sentiment_model_separates_unseen_positive_and_negative_texts():
    corpus = _corpus()
    model = fit_sentiment(corpus["review_text"], weak_labels(corpus["rating"]), ngram_max=4, max_features=5000,
                          regularization_c=4.0, min_training_reviews=20, random_state=0)
    assert model.reason is None
    texts = pl.Series(["really great, love it", "terrible and disappointed", "质量很好", "质量太差"])
    proba = model.probabilities(texts)
    assert np.allclose(proba.sum(axis=1), 1.0)
    score = model.score(texts)
    assert score[0] > 0 > score[1] and score[2] > 0 > score[3]


def test_sentiment_model_degrades_without_enough_reviews_or_a_class():
    corpus = _corpus(1)
    few = fit_sentiment(corpus["review_text"], weak_labels(corpus["rating"]), ngram_max=3, max_features=100,
                        regularization_c=1.0, min_training_reviews=1000, random_state=0)
    assert few.pipeline is None and "training reviews" in few.reason
    one_sided = corpus.filter(pl.col("rating") == 5)
    no_negative = fit_sentiment(one_sided["review_text"], weak_labels(one_sided["rating"]), ngram_max=3,
                                max_features=100, regularization_c=1.0, min_training_reviews=1, random_state=0)
    assert no_negative.pipeline is None and "negative" in no_negative.reason


def test_review_table_holds_out_the_last_days_and_leaves_out_reviews_after_as_of():
    corpus = _corpus()
    late = corpus.head(1).with_columns(pl.lit("R99999").alias("review_id"), pl.lit(AS_OF + timedelta(days=1))
                                       .alias("created_at"))
    table = _table(pl.concat([corpus, late]))
    assert "R99999" not in table["review_id"].to_list()
    cutoff = AS_OF - timedelta(days=60)
    assert (table["is_holdout"] == (table["created_at"] > cutoff)).all()
    assert table["status"].unique().to_list() == ["ok"]
    assert table["training_reviews"].unique().to_list() == [corpus.filter(pl.col("created_at") <= cutoff).height]
    assert table["sentiment_score"].is_between(-1, 1).all()
    assert set(table["language"].unique()) == {"en", "zh"}
    assert (table["aspects"].list.len() >= 1).all()


def test_review_table_falls_back_to_the_star_rating_when_degraded():
    corpus = _corpus(1)
    table = _table(corpus, min_training_reviews=10_000)
    assert table["status"].unique().to_list() == ["degraded"]
    assert table["model"].unique().to_list() == ["star_rating"]
    assert table["sentiment_score"].to_list() == rating_score(table["rating"]).tolist()
    assert table["sentiment_label"].to_list() == table["weak_label"].to_list()
    assert table["probability_positive"].is_null().all()


def test_classification_metrics_match_scikit_learn_and_count_unknown_predictions_as_wrong():
    truth = pl.Series(["negative", "neutral", "positive", "positive", "negative", "positive", None])
    predicted = pl.Series(["negative", "positive", "positive", "neutral", "positive", "unknown", "positive"])
    metrics = classification_metrics(truth, predicted, LABELS, n_bootstrap=20, random_state=0)
    value = {(r["metric"], r["class_label"]): r["value"] for r in metrics.iter_rows(named=True)}
    t, p = truth.head(6).to_list(), predicted.head(6).to_list()
    assert value[("accuracy", None)] == pytest.approx(2 / 6)
    assert value[("macro_f1", None)] == pytest.approx(f1_score(t, p, labels=list(LABELS), average="macro",
                                                                zero_division=0))
    assert value[("recall", "positive")] == pytest.approx(recall_score(t, p, labels=list(LABELS), average=None,
                                                                       zero_division=0)[2])
    assert value[("precision", "negative")] == pytest.approx(precision_score(t, p, labels=list(LABELS), average=None,
                                                                             zero_division=0)[0])
    assert (metrics["n"] == 6).all()
    overall = metrics.filter(pl.col("class_label").is_null())
    assert (overall["ci_low"] <= overall["value"] + 1e-9).all() and (overall["value"] <= overall["ci_high"] + 1e-9).all()


def test_evaluation_compares_the_model_with_the_majority_class_on_the_holdout_only():
    table = _table(_corpus())
    evaluation = evaluate_sentiment(table, n_bootstrap=20, random_state=0)
    assert set(evaluation["model"]) == {"char_ngram_tfidf_logreg", "majority_class"}
    holdout = table.filter(pl.col("is_holdout")).height
    assert (evaluation["n"] == holdout).all()
    macro = {r["model"]: r["value"] for r in evaluation.filter(pl.col("metric") == "macro_f1").iter_rows(named=True)}
    assert macro["char_ngram_tfidf_logreg"] > macro["majority_class"]


def test_metrics_without_labelled_rows_are_null_not_nan():
    metrics = classification_metrics(pl.Series([None], dtype=pl.String), pl.Series(["positive"]), LABELS,
                                     n_bootstrap=5, random_state=0)
    overall = metrics.filter(pl.col("class_label").is_null())
    assert overall["value"].is_null().all() and (metrics["n"] == 0).all()


def test_review_table_and_evaluation_build_without_any_review():
    empty = _corpus().clear()
    table = _table(empty)
    assert table.height == 0 and "aspects" in table.columns
    evaluation = evaluate_sentiment(table, n_bootstrap=5, random_state=0)
    assert set(evaluation["status"]) == {"degraded"}
    assert evaluation["value"].is_null().all()
