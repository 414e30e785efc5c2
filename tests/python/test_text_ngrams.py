"""The vectorised character n-gram TF-IDF transform gives scikit-learn's matrix exactly."""

import numpy as np
import pytest
from sklearn.feature_extraction.text import TfidfVectorizer

from ecom_growth.text.ngrams import char_ngram_counts, char_tfidf_transform, pipeline_predict_proba
from ecom_growth.text.sentiment import char_ngram_classifier

TRAIN = ["Where is my order?", "my parcel is late", "I want a refund", "refund please, wrong size",
         "包裹还没到", "我要退款", "not bad at all", "NOT good", "late late late", "wrong   item\tsent"]
# unseen characters, repeated whitespace of several kinds, texts shorter than n, empty, case
SCORE = ["", "a", "x", "Where  is\n\tmy ORDER", "Ünïcödé İstanbul ß", "退款 refund 退", "zzzz", "not\u00a0\u00a0bad",
         "late", "包裹", "🙂 emoji refund 🙂"]


def _assert_same(expected, actual) -> None:
    expected, actual = expected.tocsr(), actual.tocsr()
    assert expected.shape == actual.shape and expected.dtype == actual.dtype
    assert np.array_equal(expected.indptr, actual.indptr)
    assert np.array_equal(expected.indices, actual.indices)
    assert np.array_equal(expected.data, actual.data)


@pytest.mark.parametrize("ngram_range", [(1, 1), (1, 3), (2, 4), (1, 5)])
@pytest.mark.parametrize("lowercase", [True, False])
def test_transform_equals_sklearn(ngram_range, lowercase):
    vectorizer = TfidfVectorizer(analyzer="char", ngram_range=ngram_range, lowercase=lowercase, sublinear_tf=True)
    vectorizer.fit(TRAIN)
    _assert_same(vectorizer.transform(SCORE), char_tfidf_transform(vectorizer, SCORE))


def test_transform_equals_sklearn_with_vocabulary_cap_and_float32():
    vectorizer = TfidfVectorizer(analyzer="char", ngram_range=(1, 5), min_df=2, max_features=40, dtype=np.float32)
    vectorizer.fit(TRAIN)
    _assert_same(vectorizer.transform(SCORE + TRAIN), char_tfidf_transform(vectorizer, SCORE + TRAIN))


def test_no_texts():
    vectorizer = TfidfVectorizer(analyzer="char", ngram_range=(1, 3)).fit(TRAIN)
    counts = char_ngram_counts(vectorizer, [])
    assert counts.shape == (0, len(vectorizer.vocabulary_)) and counts.nnz == 0


def test_unsupported_vectorizers_fall_back_to_sklearn():
    word = TfidfVectorizer(analyzer="word").fit(TRAIN)
    assert char_ngram_counts(word, SCORE) is None
    _assert_same(word.transform(SCORE), char_tfidf_transform(word, SCORE))
    accents = TfidfVectorizer(analyzer="char", strip_accents="unicode").fit(TRAIN)
    assert char_ngram_counts(accents, SCORE) is None


def test_long_ngrams_over_a_wide_alphabet_fall_back():
    # 300 distinct characters need 9 bits: 8-grams do not pack in 63 bits
    texts = ["".join(chr(0x4E00 + i + j) for j in range(20)) for i in range(0, 300, 5)]
    vectorizer = TfidfVectorizer(analyzer="char", ngram_range=(1, 8)).fit(texts)
    assert char_ngram_counts(vectorizer, texts) is None
    _assert_same(vectorizer.transform(texts), char_tfidf_transform(vectorizer, texts))


def test_pipeline_probabilities_equal_sklearn():
    pipeline = char_ngram_classifier(ngram_max=4, max_features=500, regularization_c=1.0, random_state=0)
    pipeline.fit(TRAIN, ["where", "where", "refund", "refund", "where", "refund", "other", "other", "where", "refund"])
    assert np.array_equal(pipeline.predict_proba(SCORE), pipeline_predict_proba(pipeline, SCORE))


def test_texts_split_across_chunks(monkeypatch):
    import ecom_growth.text.ngrams as ngrams

    vectorizer = TfidfVectorizer(analyzer="char", ngram_range=(1, 3)).fit(TRAIN)
    monkeypatch.setattr(ngrams, "_CHUNK_CHARS", 7)  # several texts per chunk, and texts longer than one
    _assert_same(vectorizer.transform(SCORE + TRAIN), char_tfidf_transform(vectorizer, SCORE + TRAIN))
