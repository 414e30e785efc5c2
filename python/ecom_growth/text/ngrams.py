"""Vectorised ``transform`` of a fitted character n-gram TF-IDF (scikit-learn ``TfidfVectorizer``
with ``analyzer='char'``): the same matrix, computed in numpy instead of a Python loop per n-gram.

Scoring is where the text models spend their time at scale: scikit-learn builds every character
n-gram of every text as a Python string and looks it up in a dict (about 500 per ticket at
n = 1..5; 120 s for the 1M simulated shop's tickets). Here the texts are encoded once as code
points, each n-gram becomes one integer (the vocabulary's characters numbered densely, packed in
64 bits), and the lookup is a ``searchsorted`` on the vocabulary's packed keys. The count matrix
is built in the canonical form scikit-learn builds (rows by text, sorted column indices, same
dtype), so its TF-IDF step (``_tfidf``: sublinear tf, idf, l2 norm) gives the same floats.
Vectorizers this does not reproduce (another analyzer, a custom preprocessor, accent stripping,
binary counts, or a vocabulary whose characters do not pack in 64 bits) use scikit-learn's own
``transform``.
"""

from __future__ import annotations

import re

import numpy as np
import scipy.sparse as sp
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.pipeline import Pipeline

# scikit-learn's char analyzer collapses runs of two or more whitespace characters to one space
_WHITE_SPACES = re.compile(r"\s\s+")
# texts per numpy pass: bounds the memory of the n-gram key arrays
_CHUNK_CHARS = 4_000_000


def _packable(vectorizer: TfidfVectorizer) -> bool:
    return (
        isinstance(vectorizer, TfidfVectorizer) and vectorizer.analyzer == "char"
        and vectorizer.preprocessor is None and not vectorizer.strip_accents and not vectorizer.binary
        and vectorizer.input == "content" and hasattr(vectorizer, "vocabulary_")
    )


def _vocabulary_keys(vocabulary: dict[str, int], max_n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, int] | None:
    """(sorted code points of the vocabulary's characters, sorted packed keys, their feature
    indices, bits per character), or None when max_n characters do not fit in 63 bits."""
    alphabet = np.array(sorted({ord(c) for term in vocabulary for c in term}), dtype=np.int64)
    bits = max(1, int(alphabet.size).bit_length())  # characters numbered 1..size, 0 is never a character
    if bits * max_n > 63:
        return None
    rank = {int(c): i + 1 for i, c in enumerate(alphabet)}
    keys = np.empty(len(vocabulary), dtype=np.int64)
    features = np.empty(len(vocabulary), dtype=np.int64)
    for i, (term, feature) in enumerate(vocabulary.items()):
        key = 0
        for c in term:
            key = (key << bits) | rank[ord(c)]
        keys[i], features[i] = key, feature
    order = np.argsort(keys, kind="stable")
    return alphabet, keys[order], features[order], bits


def char_ngram_counts(vectorizer: TfidfVectorizer, texts: list[str]) -> sp.csr_array | None:
    """The count matrix ``CountVectorizer.transform(texts)`` of ``vectorizer`` (canonical CSR, its
    dtype), or None when it cannot be reproduced here (module docstring)."""
    if not _packable(vectorizer):
        return None
    min_n, max_n = vectorizer.ngram_range
    packed = _vocabulary_keys(vectorizer.vocabulary_, max_n)
    if packed is None:
        return None
    alphabet, vocab_keys, vocab_features, bits = packed
    n_features = len(vectorizer.vocabulary_)
    docs = [_WHITE_SPACES.sub(" ", t.lower() if vectorizer.lowercase else t) for t in texts]
    lengths = np.fromiter(map(len, docs), dtype=np.int64, count=len(docs))
    blocks: list[sp.csr_array] = []
    start = 0
    while start < len(docs):
        stop = start + 1
        total = lengths[start]
        while stop < len(docs) and total + lengths[stop] <= _CHUNK_CHARS:
            total += lengths[stop]
            stop += 1
        row, column = _chunk_hits(docs[start:stop], lengths[start:stop], alphabet, vocab_keys, vocab_features, bits,
                                  min_n, max_n)
        # COO -> CSR groups by row in linear time and summing the duplicates sorts each row's
        # few hundred columns: the canonical CSR scikit-learn builds, cheaper than a global sort
        block = sp.csr_array((np.ones(row.size, dtype=np.int32), (row, column)), shape=(stop - start, n_features))
        block.sum_duplicates()
        block.sort_indices()
        blocks.append(block)
        start = stop
    if not blocks:
        return sp.csr_array((0, n_features), dtype=vectorizer.dtype)
    counts = sp.vstack(blocks, format="csr") if len(blocks) > 1 else blocks[0]
    return sp.csr_array((counts.data.astype(vectorizer.dtype), counts.indices, counts.indptr), shape=counts.shape)


def _chunk_hits(docs: list[str], lengths: np.ndarray, alphabet: np.ndarray, vocab_keys: np.ndarray,
                vocab_features: np.ndarray, bits: int, min_n: int, max_n: int) -> tuple[np.ndarray, np.ndarray]:
    """(row in ``docs``, feature) of every in-vocabulary n-gram occurrence of ``docs`` (int32: a
    chunk has far fewer than 2^31 texts, a vocabulary far fewer features)."""
    codes = np.frombuffer("".join(docs).encode("utf-32-le", errors="surrogatepass"), dtype=np.uint32).astype(np.int64)
    where = np.searchsorted(alphabet, codes).clip(max=max(alphabet.size - 1, 0))
    known = alphabet.size > 0
    rank = np.where(known & (alphabet[where] == codes), where + 1, 0) if known else np.zeros_like(codes)
    row = np.repeat(np.arange(len(docs), dtype=np.int64), lengths)
    to_end = np.repeat(lengths + np.concatenate([[0], np.cumsum(lengths)[:-1]]), lengths) - np.arange(codes.size)
    unknown_before = np.concatenate([[0], np.cumsum(rank == 0)])
    hit_rows, hit_features = [], []
    key = np.zeros(codes.size, dtype=np.int64)
    for n in range(1, max_n + 1):
        m = codes.size - n + 1  # positions an n-gram can start at
        if m <= 0:
            break
        # key of the n-gram starting at each position (those crossing a text's end are masked below)
        key[:m] = (key[:m] << bits) | rank[n - 1:]
        if n < min_n:
            continue
        starts = np.flatnonzero((to_end[:m] >= n) & (unknown_before[n:] - unknown_before[:m] == 0))
        grams = key[starts]
        slot = np.searchsorted(vocab_keys, grams).clip(max=max(vocab_keys.size - 1, 0))
        hit = vocab_keys[slot] == grams if vocab_keys.size else np.zeros(grams.size, bool)
        hit_rows.append(row[starts[hit]].astype(np.int32))
        hit_features.append(vocab_features[slot[hit]].astype(np.int32))
    if not hit_rows:
        return np.zeros(0, np.int32), np.zeros(0, np.int32)
    return np.concatenate(hit_rows), np.concatenate(hit_features)


def char_tfidf_transform(vectorizer: TfidfVectorizer, texts: list[str]):
    """``vectorizer.transform(texts)``, vectorised when possible (module docstring)."""
    counts = char_ngram_counts(vectorizer, texts)
    if counts is None:
        return vectorizer.transform(texts)
    return vectorizer._tfidf.transform(counts, copy=False)


def pipeline_predict_proba(pipeline: Pipeline, texts: list[str]) -> np.ndarray:
    """``pipeline.predict_proba(texts)`` for a (TF-IDF, classifier) pipeline, its TF-IDF step by
    :func:`char_tfidf_transform`."""
    if len(pipeline.steps) != 2 or not isinstance(pipeline[0], TfidfVectorizer):
        return pipeline.predict_proba(texts)
    return pipeline[-1].predict_proba(char_tfidf_transform(pipeline[0], texts))
