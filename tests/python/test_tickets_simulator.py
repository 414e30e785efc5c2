"""The simulator's support tickets: planted intents, bilingual texts linked to the customer's
orders, resolution as known at the export, and unresolved complaints that stop orders (only
after they are known to be unresolved)."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import numpy as np
import polars as pl
import pyarrow as pa
import pytest

from ecom_growth.simulator import TRUTH_CUSTOMERS_FILE, TRUTH_TICKETS_FILE, generate
from ecom_growth.simulator.streams import PERIOD_DAYS
from ecom_growth.simulator.tickets import BODIES, INTENTS, SUBJECTS, render_tickets, ticket_bank


@pytest.fixture(scope="module")
def shop(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("ticket_sim")
    generate(customers=6_000, seed=11, out=out)
    return out


def _tickets(path: Path) -> pl.DataFrame:
    tickets = pl.read_parquet(path / "support_tickets.parquet")
    truth = pl.read_parquet(path / TRUTH_TICKETS_FILE)
    assert truth["ticket_id"].sort().to_list() == tickets["ticket_id"].sort().to_list()
    return tickets.join(truth.drop("customer_id"), on="ticket_id")


def test_every_intent_is_planted_in_both_languages_with_unique_ids(shop):
    tickets = _tickets(shop)
    assert tickets["ticket_id"].is_unique().all()
    counts = tickets.group_by("intent", "language").len()
    assert counts.height == 2 * len(INTENTS)
    assert (tickets["body"].str.contains(r"\p{Han}") == (tickets["language"] == "zh")).all()
    customers = pl.read_parquet(shop / "customers.parquet").select("customer_id")
    assert tickets.join(customers, on="customer_id", how="anti").height == 0
    assert set(tickets["channel"].unique()) == {"email", "chat", "web_form", "phone"}


def test_order_tickets_name_an_earlier_order_of_the_same_customer(shop):
    tickets = _tickets(shop)
    linked = tickets.filter(pl.col("order_id").is_not_null())
    assert set(linked["intent"].unique()) == {"where_is_my_order", "return_refund", "damaged_or_wrong_item",
                                              "payment_problem", "complaint"}
    assert tickets.filter(pl.col("intent").is_in(["account_login", "product_question"]))["order_id"].is_null().all()
    orders = pl.read_parquet(shop / "orders.parquet").select("order_id", pl.col("customer_id").alias("owner"),
                                                             "ordered_at", pl.col("status").alias("order_status"))
    joined = linked.join(orders, on="order_id", how="left")
    assert (joined["owner"] == joined["customer_id"]).all()
    assert (joined["created_at"] > joined["ordered_at"]).all()
    # The text names the order for most of them, and only the ticket's own order.
    named = joined.filter(pl.col("body").str.to_uppercase().str.contains("O0"))
    assert 0.4 < named.height / joined.height < 0.8
    assert named.select(pl.col("body").str.to_uppercase().str.contains(pl.col("order_id"), literal=True)).to_series().all()
    # Returns follow returned orders: the planted per-order probability is far higher for them.
    returned = joined.filter(pl.col("intent") == "return_refund")["order_status"].eq("returned").mean()
    assert returned > 0.3


def test_status_and_resolved_at_are_what_is_known_at_the_export(shop):
    tickets = _tickets(shop)
    end = tickets["created_at"].max()  # within a day of the export's end
    resolved = tickets.filter(pl.col("status") == "resolved")
    assert resolved["resolved_at"].is_not_null().all()
    assert (resolved["resolved_at"] >= resolved["created_at"]).all()
    assert (resolved["resolved_at"] == resolved["planned_resolved_at"]).all()
    still_open = tickets.filter(pl.col("status") == "open")
    assert still_open["resolved_at"].is_null().all()
    # open: never resolved, or resolved after the export (a later window would show it resolved)
    assert (still_open["planned_resolved_at"].is_null() | (still_open["planned_resolved_at"] > end - timedelta(days=1))).all()
    complaints = tickets.filter(pl.col("intent") == "complaint")
    others = tickets.filter(pl.col("intent") != "complaint")
    assert complaints["planned_resolved_at"].is_null().mean() > others["planned_resolved_at"].is_null().mean() + 0.2


def test_unresolved_complaints_make_customers_quit_only_after_they_are_known(shop):
    tickets = _tickets(shop)
    quits = tickets.filter(pl.col("is_unresolved_complaint_quit"))
    assert quits.height > 0
    assert (quits["intent"] == "complaint").all()
    late = quits["planned_resolved_at"].is_null() | (quits["planned_resolved_at"] > quits["created_at"] + timedelta(days=14))
    assert late.all()
    first = quits.group_by("customer_id").agg(pl.col("created_at").min())
    truth = pl.read_parquet(shop / TRUTH_CUSTOMERS_FILE).join(first, on="customer_id")
    assert truth["died_at"].is_not_null().all()
    assert (truth["died_at"] <= truth["created_at"] + timedelta(days=14 + PERIOD_DAYS)).all()
    orders = pl.read_parquet(shop / "orders.parquet").join(first, on="customer_id")
    assert orders.filter(pl.col("ordered_at") >= pl.col("created_at") + timedelta(days=14 + PERIOD_DAYS)).height == 0


def test_complaints_come_more_often_from_dissatisfied_customers(shop):
    tickets = _tickets(shop)
    truth = pl.read_parquet(shop / TRUTH_CUSTOMERS_FILE).select("customer_id", "satisfaction")
    complaining = tickets.filter(pl.col("intent") == "complaint").join(truth, on="customer_id")
    assert complaining["satisfaction"].mean() < -0.1


def test_no_complaint_quitting_without_effects(tmp_path):
    generate(customers=1_500, seed=11, out=tmp_path, effects="none")
    assert not _tickets(tmp_path)["is_unresolved_complaint_quit"].any()


def test_rendering_joins_the_pieces_and_applies_the_noise():
    bank = ticket_bank()
    labels = bank.labels
    body = labels.index(BODIES[("en", 1)][0])
    subject = labels.index(SUBJECTS[("en", 1)][0])
    prefix = labels.index("Order number: ")
    suffix = bank.offset[("en", "ref_suffix", 0)]
    pieces = np.array([[subject, 0, body, prefix, suffix, 0, 0, 0, 0]] * 3 + [[0, 0, labels.index(BODIES[("zh", 0)][0]),
                                                                             0, 0, 0, 0, 0, 0]])
    noise = np.array([[False, False], [True, False], [False, True], [False, False]])
    subject_text, body_text = render_tickets(pieces, noise, np.array([0, 0, 0, 1]),
                                             pa.array(["O1", "O1", "O1", ""]))
    assert body_text.to_pylist()[0] == "I would like to return this item and get my money back. Order number: O1."
    assert body_text.to_pylist()[1] == body_text.to_pylist()[0].lower()
    assert "." not in body_text.to_pylist()[2] and "O1" in body_text.to_pylist()[2]
    assert body_text.to_pylist()[3] == BODIES[("zh", 0)][0]
    assert subject_text.to_pylist()[:2] == ["Return request", "return request"]
