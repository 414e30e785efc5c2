"""Stored fits of CLV, text and uplift (issue 16): every model is a warehouse table, and scoring
from the table read back from the warehouse is bit-identical to scoring right after the fit; a
stored fit scores the next day's new rows; the one-row estimator store (pickle, checksum,
fit_id) behaves; CLV keeps only a fit that needs no fallback."""

from __future__ import annotations

from datetime import datetime, timedelta

import duckdb
import polars as pl
import pytest
from polars.testing import assert_frame_equal
from test_clv_pipeline import AS_OF as CLV_AS_OF
from test_clv_pipeline import FIT, SCORING, simulate_summary
from test_text import AS_OF as REVIEWS_AS_OF
from test_text import _corpus
from test_text_intents import AS_OF as TICKETS_AS_OF
from test_text_intents import FAQ, RULES, TRAIN, _tickets
from test_uplift import PARAMS, _sends

from ecom_growth.clv.pipeline import clv_evaluation_is_usable, clv_fit_is_usable, fit_clv_models, score_clv
from ecom_growth.model_store import estimator_table, settings_digest, stored_estimator, stored_fit, with_content_fit
from ecom_growth.text import (
    fit_review_sentiment,
    fit_ticket_intents,
    review_sentiment_table,
    score_reviews,
    score_ticket_intents,
    text_fit_from_table,
    text_model_table,
    ticket_intents_table,
)
from ecom_growth.uplift import fit_uplift, score_uplift, uplift_model_from_table, uplift_model_table

DIGEST = settings_digest({"test": 1})
REVIEW_ARGS = {"holdout_days": 60, "ngram_max": 4, "max_features": 5000, "regularization_c": 4.0,
               "min_training_reviews": 20, "max_training_reviews": 10_000, "random_state": 0}
TICKET_ARGS = {"holdout_days": 30, "ngram_max": 4, "max_features": 5000, "regularization_c": 10.0,
               "min_training_tickets": 10, "max_training_tickets": 10_000, "random_state": 0}


def through_warehouse(table: pl.DataFrame) -> pl.DataFrame:
    """``table`` written to a DuckDB table and read back, as the next dbt model reads it."""
    with duckdb.connect() as con:
        con.register("frame", table.to_arrow())
        con.execute("create table stored as select * from frame")
        return con.sql("select * from stored").pl()


# --- the one-row estimator store ---------------------------------------------------------


def test_an_estimator_row_round_trips_and_its_fit_id_depends_on_estimator_and_columns():
    schema = {"model": pl.String, "status": pl.String}
    table = estimator_table({"w": [1.5, 2.5]}, {"model": "m", "status": "ok"}, schema, fitted_at=datetime(2026, 1, 2),
                            settings=DIGEST)
    back = through_warehouse(table)
    assert stored_estimator(back) == {"w": [1.5, 2.5]}
    assert stored_fit(back) == (table.item(0, "fit_id"), datetime(2026, 1, 2))
    assert back.item(0, "settings_digest") == DIGEST and back.item(0, "estimator_bytes") == len(back.item(0, "estimator"))
    again = estimator_table({"w": [1.5, 2.5]}, {"model": "m", "status": "ok"}, schema, fitted_at=datetime(2026, 1, 9),
                            settings=DIGEST)
    assert again.item(0, "fit_id") == table.item(0, "fit_id")  # same fit, same id (fitted_at aside)
    other = estimator_table({"w": [1.5, 2.6]}, {"model": "m", "status": "ok"}, schema, fitted_at=None, settings=DIGEST)
    renamed = estimator_table({"w": [1.5, 2.5]}, {"model": "n", "status": "ok"}, schema, fitted_at=None, settings=DIGEST)
    assert len({table.item(0, "fit_id"), other.item(0, "fit_id"), renamed.item(0, "fit_id")}) == 3


def test_a_row_without_estimator_loads_as_none_and_a_tampered_one_is_refused():
    schema = {"model": pl.String}
    empty = estimator_table(None, {"model": "fallback"}, schema, fitted_at=None, settings=DIGEST)
    assert empty.item(0, "estimator") is None and stored_estimator(empty) is None
    stored = estimator_table([1, 2, 3], {"model": "m"}, schema, fitted_at=None, settings=DIGEST)
    tampered = stored.with_columns(pl.lit(stored.item(0, "estimator")[:-1] + b"x", pl.Binary).alias("estimator"))
    with pytest.raises(ValueError, match="checksum mismatch"):
        stored_estimator(tampered)
    with pytest.raises(ValueError, match="one row"):
        stored_estimator(pl.concat([stored, stored]))


# --- review sentiment --------------------------------------------------------------------


def test_sentiment_scored_from_the_stored_model_equals_scoring_after_the_fit():
    reviews = _corpus()
    fit = fit_review_sentiment(reviews, as_of=REVIEWS_AS_OF, **REVIEW_ARGS)
    stored = through_warehouse(text_model_table(fit, model="char_ngram_tfidf_logreg", fitted_at=REVIEWS_AS_OF,
                                                settings=DIGEST))
    assert stored.item(0, "status") == "ok" and stored.item(0, "training_rows") == fit.training_rows
    from_store = score_reviews(reviews, text_fit_from_table(stored), as_of=REVIEWS_AS_OF)
    assert_frame_equal(from_store, review_sentiment_table(reviews, as_of=REVIEWS_AS_OF, **REVIEW_ARGS))


def test_a_kept_sentiment_fit_scores_the_next_days_reviews_with_its_own_holdout():
    reviews = _corpus()
    fit = fit_review_sentiment(reviews, as_of=REVIEWS_AS_OF, **REVIEW_ARGS)
    stored = text_fit_from_table(through_warehouse(text_model_table(fit, model="m", fitted_at=REVIEWS_AS_OF,
                                                                    settings=DIGEST)))
    tomorrow = REVIEWS_AS_OF + timedelta(days=1)
    new = pl.DataFrame({"review_id": ["R99999"], "customer_id": ["C999"], "product_id": ["P00"], "category": ["fashion"],
                        "rating": pl.Series([1], dtype=pl.Int32), "review_text": ["terrible, broke after a day"],
                        "created_at": [tomorrow - timedelta(hours=1)]})
    scored = score_reviews(pl.concat([reviews, new]), stored, as_of=tomorrow)
    assert scored.filter(pl.col("review_id") == "R99999")["sentiment_label"].to_list() == ["negative"]
    # the holdout is what the stored model never saw: from ITS cutoff, not the new as_of's
    assert scored["is_holdout"].sum() == reviews.filter(pl.col("created_at") >= fit.training_cutoff).height + 1
    # old reviews keep the scores of the day the model was fitted
    before = score_reviews(reviews, stored, as_of=REVIEWS_AS_OF)
    assert_frame_equal(scored.filter(pl.col("review_id") != "R99999"), before)


def test_a_degraded_sentiment_fit_round_trips_to_the_star_rating_fallback():
    reviews = _corpus(repeat=1)
    fit = fit_review_sentiment(reviews, as_of=REVIEWS_AS_OF, **{**REVIEW_ARGS, "min_training_reviews": 1000})
    stored = through_warehouse(text_model_table(fit, model="star_rating", fitted_at=REVIEWS_AS_OF, settings=DIGEST))
    assert stored.item(0, "status") == "degraded" and stored.item(0, "estimator") is None
    scored = score_reviews(reviews, text_fit_from_table(stored), as_of=REVIEWS_AS_OF)
    assert set(scored["status"]) == {"degraded"} and scored["status_reason"][0] == fit.reason
    assert_frame_equal(scored, review_sentiment_table(reviews, as_of=REVIEWS_AS_OF,
                                                      **{**REVIEW_ARGS, "min_training_reviews": 1000}))


# --- ticket intents ----------------------------------------------------------------------


def test_intents_scored_from_the_stored_model_equal_scoring_after_the_fit():
    tickets = _tickets(TRAIN, TICKETS_AS_OF - timedelta(days=200), 190, 4, "T").drop("intent")
    fit = fit_ticket_intents(tickets, FAQ, RULES, as_of=TICKETS_AS_OF, **TICKET_ARGS)
    stored = through_warehouse(text_model_table(fit, model="char_ngram_tfidf_logreg", fitted_at=TICKETS_AS_OF,
                                                settings=DIGEST))
    assert stored.item(0, "status") == "ok"
    from_store = score_ticket_intents(tickets, FAQ, RULES, text_fit_from_table(stored), as_of=TICKETS_AS_OF,
                                      auto_answer_confidence=0.5)
    direct = ticket_intents_table(tickets, FAQ, RULES, as_of=TICKETS_AS_OF, auto_answer_confidence=0.5, **TICKET_ARGS)
    assert_frame_equal(from_store, direct)
    assert from_store["is_holdout"].sum() > 0 and from_store["confidence"].null_count() == 0


def test_a_kept_intent_fit_scores_tickets_created_after_it():
    tickets = _tickets(TRAIN, TICKETS_AS_OF - timedelta(days=200), 150, 4, "T").drop("intent")
    fit = text_fit_from_table(through_warehouse(text_model_table(
        fit_ticket_intents(tickets, FAQ, RULES, as_of=TICKETS_AS_OF, **TICKET_ARGS), model="m",
        fitted_at=TICKETS_AS_OF, settings=DIGEST)))
    tomorrow = TICKETS_AS_OF + timedelta(days=1)
    new = _tickets({"account_login": ["login fails with my password again"]}, tomorrow - timedelta(hours=2), 0, 1,
                   "N").drop("intent")
    scored = score_ticket_intents(pl.concat([tickets, new]), FAQ, RULES, fit, as_of=tomorrow,
                                  auto_answer_confidence=0.5)
    row = scored.filter(pl.col("ticket_id") == "N00000")
    assert row["predicted_intent"].to_list() == ["account_login"] and row["is_holdout"].to_list() == [True]
    assert scored.filter(pl.col("created_at") < fit.training_cutoff)["is_holdout"].sum() == 0


# --- uplift ------------------------------------------------------------------------------


def _customers(sends: pl.DataFrame) -> pl.DataFrame:
    return sends.select("customer_id", "days_since_last_order", "completed_orders_before", "revenue_before",
                        "average_order_value_before", "orders_last_90_days", "days_since_first_order").unique("customer_id")


@pytest.mark.parametrize("n", [3000, 20])  # fitted, and degraded (the average-uplift fallback)
def test_uplift_scored_from_the_stored_learner_equals_scoring_after_the_fit(n):
    sends = _sends(n, 1, "a", datetime(2025, 1, 1))
    model = fit_uplift(sends, PARAMS)
    stored = through_warehouse(uplift_model_table(model, train_sends=sends.height, fitted_at=datetime(2025, 2, 1),
                                                  settings=DIGEST))
    assert stored.item(0, "status") == model.status == ("ok" if n > 100 else "degraded")
    customers = _customers(sends).sort("customer_id")
    assert_frame_equal(score_uplift(sends, customers, uplift_model_from_table(stored), n_threads=1),
                       score_uplift(sends, customers, model, n_threads=1))


def test_the_uplift_store_refuses_a_row_that_is_not_a_learner():
    other = estimator_table({"not": "a learner"}, {"train_sends": 1, "status": "ok", "status_reason": None},
                            {"train_sends": pl.Int64, "status": pl.String, "status_reason": pl.String},
                            fitted_at=None, settings=DIGEST)
    with pytest.raises(ValueError, match="two-model learner"):
        uplift_model_from_table(other)


# --- CLV ---------------------------------------------------------------------------------


def test_clv_scored_from_the_stored_parameters_equals_scoring_after_the_fit():
    summary = simulate_summary(3000, seed=5)
    parameters = fit_clv_models(summary, **FIT, as_of=CLV_AS_OF)
    args = {"horizon_days": 365, "discount_rate_annual": 0.1, "as_of": CLV_AS_OF, **SCORING}
    assert_frame_equal(score_clv(summary, through_warehouse(parameters), **args), score_clv(summary, parameters, **args))


def test_only_a_clv_fit_without_fallback_is_usable_for_keeping():
    summary = simulate_summary(3000, seed=5)
    parameters = fit_clv_models(summary, **FIT, as_of=CLV_AS_OF)
    assert clv_fit_is_usable(parameters)
    no_spend = parameters.with_columns(pl.when(pl.col("model") == "gamma_gamma").then(False)
                                       .otherwise(pl.col("is_selected")).alias("is_selected"))
    no_purchases = parameters.with_columns((pl.col("model") == "gamma_gamma").alias("is_selected"))
    one_time_buyers = fit_clv_models(summary.with_columns(pl.lit(0, pl.Int64).alias("frequency")), **FIT, as_of=CLV_AS_OF)
    assert not any(clv_fit_is_usable(t) for t in (no_spend, no_purchases, one_time_buyers, parameters.head(0)))


def test_only_a_clv_evaluation_that_chose_a_purchase_model_is_usable_for_keeping():
    evaluation = pl.DataFrame({"model": ["bgnbd", "mbgnbd", "poisson_baseline"], "is_selected": [True, False, False]})
    assert clv_evaluation_is_usable(evaluation)
    all_degraded = evaluation.with_columns((pl.col("model") == "poisson_baseline").alias("is_selected"))
    assert not any(clv_evaluation_is_usable(t) for t in (all_degraded, evaluation.head(0), evaluation.drop("is_selected")))


def test_a_content_fit_id_is_a_digest_of_the_rows():
    table = pl.DataFrame({"parameter": ["r", "alpha"], "estimate": [0.75, 60.0]})
    stored = with_content_fit(table, fitted_at=datetime(2026, 1, 2), settings=DIGEST)
    assert stored.columns == [*table.columns, "fit_id", "fitted_at", "settings_digest"]
    assert stored_fit(stored) == (stored.item(0, "fit_id"), datetime(2026, 1, 2))
    assert with_content_fit(table.clone(), fitted_at=None, settings=DIGEST)["fit_id"][0] == stored["fit_id"][0]
    changed = table.with_columns(pl.col("estimate") + 1e-12)
    assert with_content_fit(changed, fitted_at=None, settings=DIGEST)["fit_id"][0] != stored["fit_id"][0]


@pytest.mark.parametrize("n", [6000, 20])  # above 10,000 sends the learner stops early on a split by position
def test_the_stored_uplift_learner_does_not_depend_on_the_row_order_of_the_sends(n):
    sends = pl.concat([_sends(n, 1, "a", datetime(2025, 1, 1)),
                       _sends(n, 2, "b", datetime(2025, 3, 1)).with_columns(pl.lit(5.0).alias("coupon_value"))])
    shuffled = sends.sample(fraction=1.0, shuffle=True, seed=3)
    tables = [uplift_model_table(fit_uplift(s, PARAMS), train_sends=s.height, fitted_at=None, settings=DIGEST)
              for s in (sends, shuffled)]
    assert tables[0]["estimator_sha256"].to_list() == tables[1]["estimator_sha256"].to_list()
