"""Ticket intents: keyword weak labels, the classifier on hand-written English and Chinese tickets
(negation and mixed messages included), FAQ answers in the ticket's language, routing, the
degraded fallback and the evaluation rows."""

from __future__ import annotations

from datetime import datetime, timedelta

import polars as pl
import pytest

from ecom_growth.text import evaluate_intents, ticket_intents_table
from ecom_growth.text.intents import OUTPUT_SCHEMA, keyword_labels, keyword_scores, suggest_answers
from ecom_growth.text.sentiment import training_cutoff

AS_OF = datetime(2026, 6, 30, 15, 30)
RULES = pl.DataFrame({
    "intent": ["where_is_my_order", "where_is_my_order", "account_login", "account_login", "damaged_or_wrong_item",
               "damaged_or_wrong_item", "payment_problem", "payment_problem"],
    "language": ["en", "zh", "en", "zh", "en", "zh", "en", "zh"],
    "pattern": ["tracking|not arrived", "物流|没收到", "log ?in|password", "登录|密码", "broken|damaged", "坏了|破损",
                "charged|card", "扣款|银行卡"],
})
FAQ = pl.DataFrame({
    "intent": ["where_is_my_order", "where_is_my_order", "account_login", "account_login", "damaged_or_wrong_item",
               "payment_problem"],
    "language": ["en", "zh", "en", "zh", "en", "en"],
    "question": ["Where is my order?", "我的订单到哪了？", "I can't log in", "登录不了", "My item arrived broken",
                 "I was charged twice"],
    "answer": ["EN tracking answer", "中文物流回答", "EN login answer", "中文登录回答", "EN damaged answer", "EN payment answer"],
})
# Hand-written tickets (not the simulator's phrases); the keyword rules label most of them.
TRAIN = {
    "where_is_my_order": ["tracking shows nothing for a week, where is the parcel", "my order has not arrived yet",
                          "parcel not arrived, tracking stuck", "物流一直没有更新，包裹在哪", "快递还没收到，物流不动了"],
    "account_login": ["cannot log in, password reset email missing", "login fails with my password",
                      "locked out, log in does not work", "登录不了，密码重置没反应", "账号登录失败，密码不对"],
    "damaged_or_wrong_item": ["the lamp arrived broken in pieces", "box damaged and the mug is broken",
                              "item damaged on arrival, glass broken", "delivery was quick but the plate is broken",
                              "came early, sadly damaged", "收到的时候杯子坏了", "包装破损，东西坏了", "发货很快，可惜杯子坏了",
                              "物流很快，包装破损，杯子也坏了"],
    "payment_problem": ["I was charged twice on my card", "card charged but order unpaid",
                        "charged two times, please refund the card", "同一单扣款两次，银行卡被扣", "银行卡重复扣款"],
}


def _tickets(texts: dict[str, list[str]], start: datetime, days: float, repeat: int, prefix: str) -> pl.DataFrame:
    rows = [(intent, text) for intent, items in texts.items() for text in items] * repeat
    n = len(rows)
    return pl.DataFrame({
        "ticket_id": [f"{prefix}{i:05d}" for i in range(n)],
        "customer_id": [f"C{i % 7}" for i in range(n)],
        "created_at": [start + timedelta(days=days * i / max(n, 1)) for i in range(n)],
        "channel": ["email"] * n,
        "subject": [""] * n,
        "body": [text for _, text in rows],
        "status": ["resolved"] * n,
        "resolved_at": [None] * n,
        "intent": [intent for intent, _ in rows],
    }, schema_overrides={"resolved_at": pl.Datetime("us")})


def _table(tickets: pl.DataFrame, **overrides) -> pl.DataFrame:
    args = {"as_of": AS_OF, "holdout_days": 30, "ngram_max": 4, "max_features": 5000, "regularization_c": 10.0,
            "min_training_tickets": 10, "max_training_tickets": 10_000, "auto_answer_confidence": 0.5,
            "random_state": 0} | overrides
    return ticket_intents_table(tickets.drop("intent", strict=False), FAQ, RULES, **args)


@pytest.fixture(scope="module")
def trained() -> pl.DataFrame:
    train = _tickets(TRAIN, AS_OF - timedelta(days=200), 150, 4, "T")
    holdout = _tickets({
        # negation and mixed messages: the other intent's words are there, the request is not
        "account_login": ["payment went through fine, no problem with my card, but I still cannot log in",
                          "付款没问题，就是登录不了账号"],
        "damaged_or_wrong_item": ["the parcel arrived on time, tracking was great, but the vase is broken",
                                  "物流很快，但是收到的花瓶坏了"],
        "where_is_my_order": ["not damaged or anything, it simply has not arrived, tracking is stuck",
                              "不是东西坏了，是物流到现在都没更新，还没收到"],
        "payment_problem": ["I was charged twice for one order on my card", "银行卡被扣款两次"],
    }, AS_OF - timedelta(days=10), 5, 1, "H")
    return _table(pl.concat([train, holdout])).join(holdout.select("ticket_id", "intent"), on="ticket_id", how="left")


def test_keyword_labels_need_a_unique_winner_and_subject_hits_count_twice():
    tickets = pl.DataFrame({
        "subject": ["", "", "password", "", "坏了"],
        "body": ["tracking broken", "nothing to see", "tracking", "my card was charged, card declined", "物流"],
        "language": ["en", "en", "en", "en", "zh"],
    })
    intents, scores = keyword_scores(tickets, RULES)
    weak, rule = keyword_labels(scores, intents)
    assert weak.tolist() == [None, None, "account_login", "payment_problem", "damaged_or_wrong_item"]
    # a tie goes to the first intent of the rules file for the baseline; no hit: none
    assert rule.tolist() == ["where_is_my_order", None, "account_login", "payment_problem", "damaged_or_wrong_item"]


def test_rules_only_apply_to_their_language():
    tickets = pl.DataFrame({"subject": [""], "body": ["物流 tracking"], "language": ["zh"]})
    intents, scores = keyword_scores(tickets, RULES.filter(pl.col("language") == "en"))
    assert scores.sum() == 0


def test_training_cutoff_is_midnight_of_as_of_minus_the_holdout_days():
    assert training_cutoff(datetime(2026, 6, 30, 15, 30), 90) == datetime(2026, 4, 1)


def test_the_model_reads_negation_and_mixed_tickets_in_english_and_chinese(trained):
    holdout = trained.filter(pl.col("is_holdout"))
    assert holdout.height == 8 and trained["status"].unique().to_list() == ["ok"]
    wrong = holdout.filter(pl.col("predicted_intent") != pl.col("intent")).select("intent", "predicted_intent")
    assert wrong.height == 0, wrong
    assert (trained.filter(pl.col("ticket_id").str.starts_with("T"))["is_holdout"] == False).all()  # noqa: E712


def test_answers_come_from_the_predicted_intent_in_the_tickets_language(trained):
    holdout = trained.filter(pl.col("is_holdout")).sort("ticket_id")
    login_zh = holdout.filter((pl.col("intent") == "account_login") & (pl.col("language") == "zh")).row(0, named=True)
    assert login_zh["suggested_answer"] == "中文登录回答"
    # no Chinese FAQ entry for damaged items: the English one of the same intent
    damaged_zh = holdout.filter((pl.col("intent") == "damaged_or_wrong_item") & (pl.col("language") == "zh"))
    assert damaged_zh["suggested_answer"].to_list() == ["EN damaged answer"]
    auto = trained.filter(pl.col("route") == "auto_answer")
    assert auto.height > 0 and (auto["confidence"] >= 0.5).all() and auto["suggested_answer"].is_not_null().all()
    assert (trained.filter(pl.col("confidence") < 0.5)["route"] == "agent").all()


def test_suggest_answers_picks_the_most_similar_question_of_the_intent():
    faq = pl.DataFrame({"intent": ["a", "a", "b"], "language": ["en", "en", "en"],
                        "question": ["my card was charged twice", "the payment failed", "where is it"],
                        "answer": ["twice", "failed", "where"]})
    question, answer = suggest_answers(pl.Series(["payment failed at checkout", "x", "y"]), pl.Series(["en"] * 3),
                                       pl.Series(["a", "b", "c"]), faq)
    assert answer.to_list() == ["failed", "where", None]


@pytest.mark.parametrize(("tickets", "reason"), [
    (_tickets({}, AS_OF, 1, 1, "T"), "0 training tickets"),
    (_tickets({"account_login": TRAIN["account_login"]}, AS_OF - timedelta(days=100), 50, 12, "T"), "a single intent"),
    (_tickets(TRAIN, AS_OF - timedelta(days=100), 50, 1, "T"), "training tickets with a keyword label"),
])
def test_degrades_to_the_keyword_rules_without_enough_labels(tickets, reason):
    table = _table(tickets, min_training_tickets=50)
    assert table.schema == pl.Schema(OUTPUT_SCHEMA)
    if table.height:
        assert table["status"].unique().to_list() == ["degraded"] and reason in table["status_reason"][0]
        assert table["model"][0] == "keyword_rules" and (table["route"] == "agent").all()
        assert table["confidence"].is_null().all()
        assert (table["predicted_intent"].fill_null("") == table["keyword_intent"].fill_null("")).all()
    evaluation = evaluate_intents(table, None, n_bootstrap=10, random_state=0)
    assert set(evaluation["status"].to_list()) == {"degraded"}


def test_evaluation_against_truth_has_baselines_and_auto_answer_rows(trained):
    truth = trained.select("ticket_id", "intent").drop_nulls()
    rows = evaluate_intents(trained, truth, n_bootstrap=20, random_state=0)
    overall = {(r["model"], r["metric"]): r["value"] for r in rows.filter(pl.col("class_label").is_null()).iter_rows(named=True)}
    assert overall[("char_ngram_tfidf_logreg", "macro_f1")] == pytest.approx(1.0)
    assert overall[("char_ngram_tfidf_logreg", "auto_answer_share")] == pytest.approx(
        (trained.filter(pl.col("is_holdout"))["route"] == "auto_answer").mean())
    # the keyword rules confuse the negated / mixed tickets (each names a second intent's words)
    assert overall[("keyword_rules", "macro_f1")] < 0.9
    assert {"majority_class", "keyword_rules"} <= set(rows.filter("is_baseline")["model"].to_list())
    assert rows["reference"].unique().to_list() == ["planted_truth"]
    # without truth the weak labels are the reference and the keyword rules cannot be a baseline
    weak = evaluate_intents(trained, None, n_bootstrap=20, random_state=0)
    assert "keyword_rules" not in weak["model"].to_list()
    assert weak["reference"].unique().to_list() == ["keyword_rule_weak_label"]
