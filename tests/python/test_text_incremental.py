"""Scoring texts once: per distinct text, and in a daily build only the rows new or changed since
the table's last build (ecom_growth.text.store.rescore_changed), always equal to a full rescore."""

from __future__ import annotations

from datetime import datetime, timedelta

import numpy as np
import polars as pl
import pytest
from polars.testing import assert_frame_equal

from ecom_growth.model_store import with_settings_digest
from ecom_growth.text import rescore_reviews, rescore_ticket_intents
from ecom_growth.text.intents import fit_ticket_intents
from ecom_growth.text.reviews import fit_review_sentiment
from ecom_growth.text.sentiment import per_distinct_text
from ecom_growth.text.store import INPUT_DIGEST_COL, rescore_changed, text_model_table, with_input_digest

AS_OF = datetime(2026, 6, 30, 12)
TEXTS = ["great, love it", "broke after a day", "it's okay", "质量很好", "太差了", "not bad at all"]


def test_per_distinct_text_equals_computing_every_row_and_calls_once_per_text():
    texts = pl.Series(["b", "a", "b", "c", "a", "b"])
    calls = []

    def compute(batch: list[str]) -> np.ndarray:
        calls.append(batch)
        return np.array([[ord(t[0]), len(t)] for t in batch], dtype=float)

    assert np.array_equal(per_distinct_text(texts, compute), compute(texts.to_list()))
    assert calls[0] == ["b", "a", "c"]
    assert per_distinct_text(pl.Series([], dtype=pl.String), compute).shape[0] == 0


def test_input_digest_changes_with_any_value_the_salt_and_a_null():
    rows = pl.DataFrame({"id": ["a", "a", "a", "a"], "text": ["x", "y", "", None]})
    digests = with_input_digest(rows, "s1")[INPUT_DIGEST_COL]
    assert digests.n_unique() == 4
    assert with_input_digest(rows, "s2")[INPUT_DIGEST_COL].to_list() != digests.to_list()
    assert with_input_digest(rows, "s1")[INPUT_DIGEST_COL].to_list() == digests.to_list()


def _counting_score(log: list[list[str]]):
    def score(rows: pl.DataFrame) -> pl.DataFrame:
        log.append(rows["id"].to_list())
        return rows.select("id", pl.col("text").str.len_chars().alias("length")).sort("id")
    return score


def test_rescore_changed_scores_only_new_and_changed_rows_and_drops_vanished_ones():
    day_one = pl.DataFrame({"id": ["a", "b", "c", "d"], "text": ["one", "two", "three", "four"]})
    log: list[list[str]] = []
    previous = rescore_changed(day_one, None, key="id", salt="fit1", score=_counting_score(log))
    # b changed, d vanished (quarantined), e is new
    day_two = pl.DataFrame({"id": ["a", "b", "c", "e"], "text": ["one", "TWO!", "three", "five"]})
    daily = rescore_changed(day_two, previous, key="id", salt="fit1", score=_counting_score(log))
    assert log[1] == ["b", "e"]
    assert_frame_equal(daily, rescore_changed(day_two, None, key="id", salt="fit1", score=_counting_score(log)))
    assert daily["id"].to_list() == ["a", "b", "c", "e"]


@pytest.mark.parametrize("previous_change", ["salt", "no_digest_column"])
def test_rescore_changed_rescores_everything_after_a_refit_or_without_digests(previous_change):
    rows = pl.DataFrame({"id": ["a", "b"], "text": ["one", "two"]})
    log: list[list[str]] = []
    previous = rescore_changed(rows, None, key="id", salt="fit1", score=_counting_score(log))
    if previous_change == "no_digest_column":
        previous = previous.drop(INPUT_DIGEST_COL)
    salt = "fit2" if previous_change == "salt" else "fit1"
    rescore_changed(rows, previous, key="id", salt=salt, score=_counting_score(log))
    assert log[1] == ["a", "b"]


def _reviews(n: int, start: datetime) -> pl.DataFrame:
    return pl.DataFrame({
        "review_id": [f"R{i:04d}" for i in range(n)], "customer_id": [f"C{i % 5}" for i in range(n)],
        "product_id": [f"P{i % 3}" for i in range(n)], "category": ["home"] * n,
        "rating": pl.Series([[5, 1, 3, 5, 1, 4][i % 6] for i in range(n)], dtype=pl.Int32),
        "review_text": [f"{TEXTS[i % 6]}. Delivery was late" if i % 4 == 0 else TEXTS[i % 6] for i in range(n)],
        "created_at": [start + timedelta(days=i) for i in range(n)],
    })


def _review_model(reviews: pl.DataFrame, settings: str = "s") -> pl.DataFrame:
    fit = fit_review_sentiment(reviews, as_of=AS_OF, holdout_days=20, ngram_max=3, max_features=2000,
                               regularization_c=1.0, min_training_reviews=10, max_training_reviews=1000, random_state=0)
    return text_model_table(fit, model="m", fitted_at=AS_OF, settings=settings)


def test_a_daily_review_table_equals_a_full_rescore_after_edits_quarantine_and_new_reviews():
    reviews = _reviews(60, AS_OF - timedelta(days=58))
    model = _review_model(reviews)
    previous = rescore_reviews(reviews.head(50), model, None, as_of=AS_OF)
    # R0003 edited, R0007 recategorised, R0011 quarantined, R0050.. new, R0059 after as_of
    today = (reviews.with_columns(
        pl.when(pl.col("review_id") == "R0003").then(pl.lit("awful")).otherwise(pl.col("review_text")).alias("review_text"),
        pl.when(pl.col("review_id") == "R0007").then(pl.lit("garden")).otherwise(pl.col("category")).alias("category"),
    ).filter(pl.col("review_id") != "R0011"))
    daily = rescore_reviews(today, model, previous, as_of=AS_OF)
    assert_frame_equal(daily, rescore_reviews(today, model, None, as_of=AS_OF))
    assert "R0011" not in daily["review_id"].to_list() and daily["review_id"].max() < "R0059"
    assert daily.filter(pl.col("review_id") == "R0007")["category"].to_list() == ["garden"]
    # another fit (same data, other settings): nothing of the previous table survives
    refit = rescore_reviews(today, _review_model(reviews, settings="t"), daily, as_of=AS_OF)
    assert set(refit[INPUT_DIGEST_COL]).isdisjoint(set(daily[INPUT_DIGEST_COL]))


def test_a_daily_ticket_table_rescores_a_ticket_resolved_since_and_a_changed_seed():
    rules = pl.DataFrame({"intent": ["where_is_my_order", "account_login"], "language": ["en", "en"],
                          "pattern": ["tracking|arrived", "log ?in|password"]})
    faq = pl.DataFrame({"intent": ["where_is_my_order", "account_login"], "language": ["en", "en"],
                        "question": ["Where is my order?", "I can't log in"], "answer": ["track", "reset"]})
    bodies = ["tracking shows nothing", "not arrived yet", "cannot log in", "password reset fails"]
    n = 40
    tickets = pl.DataFrame({
        "ticket_id": [f"T{i:03d}" for i in range(n)], "customer_id": [f"C{i % 4}" for i in range(n)],
        "created_at": [AS_OF - timedelta(days=60 - i) for i in range(n)], "channel": ["email"] * n,
        "subject": [""] * n, "body": [bodies[i % 4] for i in range(n)], "status": ["open"] * n,
        "resolved_at": pl.Series([None] * n, dtype=pl.Datetime("us")),
    })
    fit = fit_ticket_intents(tickets, faq, rules, as_of=AS_OF, holdout_days=20, ngram_max=3, max_features=2000,
                             regularization_c=10.0, min_training_tickets=5, max_training_tickets=1000, random_state=0)
    model = with_settings_digest(text_model_table(fit, model="m", fitted_at=AS_OF, settings="s"), "s")
    args = {"as_of": AS_OF, "auto_answer_confidence": 0.5}
    previous = rescore_ticket_intents(tickets, faq, rules, model, None, **args)
    resolved = tickets.with_columns(
        pl.when(pl.col("ticket_id") == "T005").then(pl.lit("resolved")).otherwise(pl.col("status")).alias("status"))
    daily = rescore_ticket_intents(resolved, faq, rules, model, previous, **args)
    assert_frame_equal(daily, rescore_ticket_intents(resolved, faq, rules, model, None, **args))
    changed = daily.join(previous, on=["ticket_id", INPUT_DIGEST_COL], how="anti")["ticket_id"].to_list()
    assert changed == ["T005"]
    # an edited FAQ answer changes every row's digest: all rescored, the new answer everywhere
    edited = faq.with_columns(pl.lit("new answer").alias("answer"))
    rescored = rescore_ticket_intents(resolved, edited, rules, model, daily, **{**args, "auto_answer_confidence": 0.0})
    assert set(rescored["suggested_answer"].to_list()) == {"new answer"}
    assert rescored.join(daily, on=["ticket_id", INPUT_DIGEST_COL], how="semi").height == 0
