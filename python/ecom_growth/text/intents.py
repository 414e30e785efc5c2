"""Support-ticket intents with a suggested FAQ answer (``ml_ticket_intents``), English and Chinese.

Labels. A shop has no intent labels, so the model learns from two things it does have:
the shop's keyword rules (``seeds/ticket_intent_keywords.csv``: intent, language, regex) applied
to its OWN tickets written before the training cutoff, and its FAQ questions
(``seeds/faq.csv``). A ticket is a weak label when exactly one intent scores highest (a rule hit
in the subject counts twice: the subject states the purpose); tickets the rules miss or that
tie are not trained on. The classifier (character 1..n-gram TF-IDF + multinomial logistic
regression, the same as the review sentiment) then generalises from the words that co-occur
with the keywords to tickets the rules miss (no keyword, generic subject) or confuse (a
complaint about a late parcel matches where_is_my_order too). We chose this over a labelled
example set shipped as a seed because the rules are a few lines the shop can edit, and the
model is fitted on the shop's own wording (channels, languages, product vocabulary); the FAQ
questions add a handful of clean examples per intent and language.

Confidence is the top class probability; route = auto_answer when it is at least
``auto_answer_confidence`` (a dbt var) and an FAQ answer exists, else agent. The suggested
answer is the FAQ entry of the predicted intent in the ticket's language whose question is
most similar to the ticket (character TF-IDF cosine); another language's entry of the intent
when the FAQ has none in the ticket's language.

Degraded (status 'degraded', documented fallback): fewer than ``min_training_tickets`` weak
labels before the cutoff, or a single intent among them: the predicted intent is the keyword
rule's (ties to the first intent in the rules file, no hit: null), confidence null, route agent.
"""

from __future__ import annotations

from datetime import datetime

import numpy as np
import polars as pl
from sklearn.feature_extraction.text import TfidfVectorizer

from ecom_growth.model_store import with_fit_of
from ecom_growth.text.ngrams import char_tfidf_transform, pipeline_predict_proba
from ecom_growth.text.reviews import review_language
from ecom_growth.text.sentiment import char_ngram_classifier, per_distinct_text, training_cutoff
from ecom_growth.text.store import TextFit, rescore_changed, scoring_salt, text_fit_from_table

MODEL_NAME = "char_ngram_tfidf_logreg"
FALLBACK_NAME = "keyword_rules"
SUBJECT_WEIGHT = 2
TICKET_COLUMNS = ("ticket_id", "customer_id", "created_at", "channel", "subject", "body", "status", "resolved_at")

OUTPUT_SCHEMA: dict[str, pl.DataType] = {
    "ticket_id": pl.String, "customer_id": pl.String, "created_at": pl.Datetime("us"), "channel": pl.String,
    "language": pl.String, "keyword_intent": pl.String, "weak_label": pl.String, "is_holdout": pl.Boolean,
    "predicted_intent": pl.String, "confidence": pl.Float64, "suggested_faq_question": pl.String,
    "suggested_answer": pl.String, "route": pl.String, "model": pl.String, "training_tickets": pl.Int64,
    "status": pl.String, "status_reason": pl.String,
}


def ticket_text(tickets: pl.DataFrame) -> pl.Series:
    """Subject and body as one text (the classifier's input)."""
    return tickets.select(pl.concat_str([pl.col("subject").fill_null(""), pl.col("body").fill_null("")],
                                        separator=" | ").alias("text")).to_series()


def keyword_scores(tickets: pl.DataFrame, rules: pl.DataFrame) -> tuple[list[str], np.ndarray]:
    """(intents in rules-file order, (n, k) rule hits: subject hits x SUBJECT_WEIGHT + body hits).

    A rule applies to tickets of its language (``language`` column of ``tickets``)."""
    intents = rules["intent"].unique(maintain_order=True).to_list()
    scores = np.zeros((tickets.height, len(intents)))
    subject = pl.col("subject").fill_null("").str.to_lowercase()
    body = pl.col("body").fill_null("").str.to_lowercase()
    for intent, language, pattern in rules.select("intent", "language", "pattern").iter_rows():
        pattern = f"(?i){pattern}"
        hits = tickets.select(
            pl.when(pl.col("language") == language)
            .then(SUBJECT_WEIGHT * subject.str.count_matches(pattern) + body.str.count_matches(pattern))
            .otherwise(0).fill_null(0).alias("hits")
        ).to_series().to_numpy()
        scores[:, intents.index(intent)] += hits
    return intents, scores


def keyword_labels(scores: np.ndarray, intents: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """(weak label: the unique top-scoring intent or None, rule intent: the top one with ties
    to the first in ``intents``, None without any hit)."""
    names = np.asarray(intents + [None], dtype=object)
    if scores.shape[0] == 0:
        return np.zeros(0, object), np.zeros(0, object)
    top = scores.max(axis=1)
    first = scores.argmax(axis=1)
    unique = (scores == top[:, None]).sum(axis=1) == 1
    hit = top > 0
    rule = names[np.where(hit, first, len(intents))]
    weak = names[np.where(hit & unique, first, len(intents))]
    return weak, rule


def suggest_answers(texts: pl.Series, language: pl.Series, intent: pl.Series,
                    faq: pl.DataFrame) -> tuple[pl.Series, pl.Series]:
    """(FAQ question, answer) per ticket: the predicted intent's entry most similar to the text,
    in the ticket's language when the FAQ has one (null without an entry for the intent)."""
    n = texts.len()
    if n == 0 or faq.height == 0:
        return pl.Series([None] * n, dtype=pl.String), pl.Series([None] * n, dtype=pl.String)
    vectorizer = TfidfVectorizer(analyzer="char", ngram_range=(1, 3), lowercase=True, sublinear_tf=True)
    faq_matrix = vectorizer.fit_transform(faq["question"].fill_null("").to_list())
    similarity = per_distinct_text(texts.fill_null(""),
                                   lambda distinct: (char_tfidf_transform(vectorizer, distinct) @ faq_matrix.T).toarray())
    same_intent = intent.to_numpy()[:, None] == faq["intent"].to_numpy()[None, :]
    same_language = language.to_numpy()[:, None] == faq["language"].to_numpy()[None, :]
    # Similarity is in [0, 1]: the language bonus dominates it, the intent requirement dominates both.
    score = np.where(same_intent, 10.0 + 2.0 * same_language + similarity, -np.inf)
    best = score.argmax(axis=1)
    found = np.isfinite(score[np.arange(n), best])
    question = np.where(found, faq["question"].to_numpy()[best], None)
    answer = np.where(found, faq["answer"].to_numpy()[best], None)
    return pl.Series(question.tolist(), dtype=pl.String), pl.Series(answer.tolist(), dtype=pl.String)


def _prepared(tickets: pl.DataFrame, rules: pl.DataFrame, *, as_of: datetime, cutoff: datetime) -> pl.DataFrame:
    """Tickets up to ``as_of`` by ticket_id with text, language, is_holdout (on or after
    ``cutoff``), the keyword rules' weak label and intent."""
    tickets = tickets.select(TICKET_COLUMNS).filter(pl.col("created_at") <= as_of).sort("ticket_id")
    texts = ticket_text(tickets)
    tickets = tickets.with_columns(texts, review_language(texts), (pl.col("created_at") >= cutoff).alias("is_holdout"))
    intents, scores = keyword_scores(tickets, rules)
    weak, rule = keyword_labels(scores, intents)
    return tickets.with_columns(pl.Series("weak_label", weak.tolist(), dtype=pl.String),
                                pl.Series("keyword_intent", rule.tolist(), dtype=pl.String))


def fit_ticket_intents(
    tickets: pl.DataFrame, faq: pl.DataFrame, rules: pl.DataFrame, *, as_of: datetime, holdout_days: int,
    ngram_max: int, max_features: int, regularization_c: float, min_training_tickets: int,
    max_training_tickets: int, random_state: int,
) -> TextFit:
    """The intent classifier fitted on the weak labels of tickets created before
    ``training_cutoff`` (above ``max_training_tickets``: a fixed-seed sample) plus the FAQ
    questions of their intents; degraded (no pipeline, ``reason``; module docstring) otherwise."""
    cutoff = training_cutoff(as_of, holdout_days)
    train = _prepared(tickets, rules, as_of=as_of, cutoff=cutoff).filter(
        ~pl.col("is_holdout") & pl.col("weak_label").is_not_null())
    if train.height > max_training_tickets:
        train = train.sample(max_training_tickets, seed=random_state)
    n_train = train.height
    classes = set(train["weak_label"].to_list())
    if n_train < min_training_tickets:
        reason = f"{n_train} training tickets with a keyword label before the cutoff (< {min_training_tickets})"
    elif len(classes) < 2:
        reason = f"a single intent ({', '.join(sorted(classes))}) among the training tickets' keyword labels"
    else:
        reason = None
    if reason is not None:
        return TextFit(None, reason, n_train, cutoff)
    pipeline = char_ngram_classifier(ngram_max=ngram_max, max_features=max_features,
                                     regularization_c=regularization_c, random_state=random_state)
    faq_known = faq.filter(pl.col("intent").is_in(list(classes)))
    pipeline.fit(train["text"].to_list() + faq_known["question"].to_list(),
                 train["weak_label"].to_list() + faq_known["intent"].to_list())
    return TextFit(pipeline, None, n_train, cutoff)


def ticket_intents_table(
    tickets: pl.DataFrame, faq: pl.DataFrame, rules: pl.DataFrame, *, as_of: datetime, holdout_days: int,
    ngram_max: int, max_features: int, regularization_c: float, min_training_tickets: int,
    max_training_tickets: int, auto_answer_confidence: float, random_state: int,
) -> pl.DataFrame:
    """:func:`fit_ticket_intents` then :func:`score_ticket_intents` (one build without a stored model)."""
    fit = fit_ticket_intents(tickets, faq, rules, as_of=as_of, holdout_days=holdout_days, ngram_max=ngram_max,
                             max_features=max_features, regularization_c=regularization_c,
                             min_training_tickets=min_training_tickets, max_training_tickets=max_training_tickets,
                             random_state=random_state)
    return score_ticket_intents(tickets, faq, rules, fit, as_of=as_of, auto_answer_confidence=auto_answer_confidence)


def score_ticket_intents(
    tickets: pl.DataFrame, faq: pl.DataFrame, rules: pl.DataFrame, fit: TextFit, *, as_of: datetime,
    auto_answer_confidence: float,
) -> pl.DataFrame:
    """``ml_ticket_intents``: one row per ticket created up to ``as_of`` (module docstring), from a
    fitted (or stored) classifier; is_holdout = created on or after its training cutoff, the
    holdout of ml_text_model_evaluation."""
    tickets = _prepared(tickets, rules, as_of=as_of, cutoff=fit.training_cutoff)
    texts, pipeline, reason = tickets["text"], fit.pipeline, fit.reason
    if pipeline is not None:
        proba = (per_distinct_text(texts, lambda distinct: pipeline_predict_proba(pipeline, distinct)) if tickets.height
                 else np.zeros((0, len(pipeline.classes_))))
        predicted = pl.Series(np.asarray(pipeline.classes_, dtype=object)[proba.argmax(axis=1)].tolist(), dtype=pl.String)
        confidence = pl.Series(proba.max(axis=1), dtype=pl.Float64)
    else:
        predicted = tickets["keyword_intent"]
        confidence = pl.Series([None] * tickets.height, dtype=pl.Float64)
    question, answer = suggest_answers(texts, tickets["language"], predicted, faq)
    auto = (pl.lit(reason is None) & (pl.col("confidence") >= auto_answer_confidence)
            & pl.col("suggested_answer").is_not_null())
    return (
        tickets.with_columns(
            predicted.alias("predicted_intent"), confidence.alias("confidence"),
            question.alias("suggested_faq_question"), answer.alias("suggested_answer"),
        )
        .with_columns(
            pl.when(auto).then(pl.lit("auto_answer")).otherwise(pl.lit("agent")).alias("route"),
            pl.lit(MODEL_NAME if reason is None else FALLBACK_NAME).alias("model"),
            pl.lit(fit.training_rows, dtype=pl.Int64).alias("training_tickets"),
            pl.lit("ok" if reason is None else "degraded").alias("status"),
            pl.lit(reason, dtype=pl.String).alias("status_reason"),
        )
        .select([pl.col(c).cast(t) for c, t in OUTPUT_SCHEMA.items()])
    )


def rescore_ticket_intents(
    tickets: pl.DataFrame, faq: pl.DataFrame, rules: pl.DataFrame, model_table: pl.DataFrame,
    previous: pl.DataFrame | None, *, as_of: datetime, auto_answer_confidence: float,
) -> pl.DataFrame:
    """``ml_ticket_intents``: :func:`score_ticket_intents` with the stored fit of ``model_table``
    (its fit_id, fitted_at) and input_digest, scoring only the tickets new or changed since
    ``previous`` (the table's last build; None scores all; ecom_growth.text.store.rescore_changed):
    the same table as a full rescore."""
    fit = text_fit_from_table(model_table)
    salt = scoring_salt(model_table, {"auto_answer_confidence": auto_answer_confidence, "faq": faq.write_csv(),
                                      "ticket_intent_keywords": rules.write_csv()})

    def score(rows: pl.DataFrame) -> pl.DataFrame:
        scored = score_ticket_intents(rows, faq, rules, fit, as_of=as_of, auto_answer_confidence=auto_answer_confidence)
        return with_fit_of(scored, model_table)

    rows = tickets.select(TICKET_COLUMNS).filter(pl.col("created_at") <= as_of)
    return rescore_changed(rows, previous, key="ticket_id", salt=salt, score=score)
