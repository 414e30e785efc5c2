"""The simulator's review texts: planted aspect truth, language, and the beyond-rating effect of
delivery / service complaints on dropout (acting only after the complaint)."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from ecom_growth.simulator import TRUTH_CUSTOMERS_FILE, TRUTH_REVIEWS_FILE, generate
from ecom_growth.simulator.reviews import ASPECTS, PHRASES, SIZED_CATEGORIES
from ecom_growth.simulator.streams import PERIOD_DAYS

POLARITY = [f"polarity_{a}" for a in ASPECTS]


@pytest.fixture(scope="module")
def shop(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("text_sim")
    generate(customers=6_000, seed=11, out=out)
    return out


def _reviews(path: Path) -> pl.DataFrame:
    reviews = pl.read_parquet(path / "reviews.parquet")
    truth = pl.read_parquet(path / TRUTH_REVIEWS_FILE)
    assert truth["review_id"].sort().to_list() == reviews["review_id"].sort().to_list()
    return reviews.join(truth, on="review_id")


def test_every_review_has_planted_aspects_and_its_sentiment_is_their_sign(shop):
    reviews = _reviews(shop)
    mentioned = reviews.select(pl.sum_horizontal([pl.col(c).is_not_null() for c in POLARITY])).to_series()
    assert (mentioned >= 1).all() and mentioned.max() >= 3
    total = reviews.select(pl.sum_horizontal([pl.col(c).fill_null(0).cast(pl.Int32) for c in POLARITY])).to_series()
    expected = total.sign().replace_strict({-1: "negative", 0: "neutral", 1: "positive"})
    assert (reviews["sentiment"] == expected).all()
    assert set(reviews["sentiment"].unique()) == {"negative", "neutral", "positive"}
    # Mixed reviews exist: a positive and a negative aspect in one text.
    values = reviews.select(POLARITY).to_numpy().astype(float)
    assert ((np.nan_to_num(values) > 0).any(axis=1) & (np.nan_to_num(values) < 0).any(axis=1)).mean() > 0.05


def test_texts_follow_language_and_size_fit_only_for_sized_categories(shop):
    reviews = _reviews(shop)
    assert (reviews["review_text"].str.contains(r"\p{Han}") == (reviews["language"] == "zh")).all()
    assert {"en", "zh"} <= set(reviews["language"].unique())
    products = pl.read_parquet(shop / "products.parquet").select("product_id", "category")
    sized = reviews.join(products, on="product_id").filter(pl.col("polarity_size_fit").is_not_null())
    assert sized.height > 0 and sized["category"].is_in(list(SIZED_CATEGORIES)).all()
    lengths = reviews["review_text"].str.len_chars()
    assert lengths.min() < 15 and lengths.max() > 60


def test_every_phrase_bank_has_variety_and_negations():
    assert all(len(p) >= 2 for p in PHRASES.values())
    english = " ".join(p for (lang, _, _), ps in PHRASES.items() if lang == "en" for p in ps)
    chinese = "".join(p for (lang, _, _), ps in PHRASES.items() if lang == "zh" for p in ps)
    assert "not bad" in english.lower() and "不太好" in chinese


def test_late_delivery_lowers_the_rating_but_only_partly(shop):
    reviews = _reviews(shop)
    late = reviews.filter(pl.col("polarity_delivery") == -1)["rating"].mean()
    on_time = reviews.filter(pl.col("polarity_delivery") == 1)["rating"].mean()
    assert late < on_time
    # Complaints also come with 4-5 stars: the text carries what the stars do not.
    assert reviews.filter((pl.col("polarity_delivery") == -1) & (pl.col("rating") >= 4)).height > 0


def test_complaint_quitting_only_follows_delivery_or_service_complaints_and_stops_orders(shop):
    reviews = _reviews(shop)
    quits = reviews.filter(pl.col("is_complaint_quit"))
    assert quits.height > 0
    assert ((quits["polarity_delivery"] == -1) | (quits["polarity_customer_service"] == -1)).all()
    first_quit = quits.group_by("customer_id").agg(pl.col("created_at").min())
    orders = pl.read_parquet(shop / "orders.parquet")
    later = orders.join(first_quit, on="customer_id").filter(
        pl.col("ordered_at") >= pl.col("created_at") + timedelta(days=PERIOD_DAYS))
    assert later.height == 0
    truth = pl.read_parquet(shop / TRUTH_CUSTOMERS_FILE).join(first_quit, on="customer_id")
    assert truth["died_at"].is_not_null().all()
    assert (truth["died_at"] <= truth["created_at"] + timedelta(days=PERIOD_DAYS)).all()


def test_no_complaint_quitting_without_effects(tmp_path):
    generate(customers=1_500, seed=11, out=tmp_path, effects="none")
    assert not _reviews(tmp_path)["is_complaint_quit"].any()
