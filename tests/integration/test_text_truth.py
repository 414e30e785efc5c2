"""Text models against the simulator's planted review truth (_truth_reviews.parquet).

The shop trains on star ratings only; the planted truth (each review's aspect polarities and
the sign of their sum) is used here and nowhere in the build. On the holdout reviews the text
model must beat the strongest trivial baseline, the star rating itself, with a paired
bootstrap interval of the macro-F1 difference above zero; the aspect polarities must agree with
the planted ones on at least 80% of the planted mentions they find, and find at least 80%.
"""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest
from sklearn.metrics import f1_score

ASPECTS = ("product_quality", "delivery", "price_value", "customer_service", "size_fit")


@pytest.fixture(scope="module")
def holdout(_warehouse_connection, raw_path) -> pl.DataFrame:
    truth_file = raw_path / "_truth_reviews.parquet"
    if not truth_file.exists():
        pytest.skip("no planted review truth in the raw folder")
    cursor = _warehouse_connection.cursor()
    scored = cursor.sql("select * from ml.ml_review_sentiment where is_holdout").pl()
    cursor.close()
    if scored.height == 0:
        pytest.skip("no holdout reviews")
    return scored.join(pl.read_parquet(truth_file), on="review_id", how="inner")


def _macro_f1(y: np.ndarray, p: np.ndarray) -> float:
    return f1_score(y, p, average="macro", labels=["negative", "neutral", "positive"], zero_division=0)


def test_sentiment_beats_the_star_rating_against_planted_truth(holdout):
    assert holdout["status"].unique().to_list() == ["ok"]
    y = holdout["sentiment"].to_numpy()
    model, stars = holdout["sentiment_label"].to_numpy(), holdout["weak_label"].to_numpy()
    rng = np.random.default_rng(0)
    diffs = []
    for _ in range(200):
        i = rng.integers(0, y.size, y.size)
        diffs.append(_macro_f1(y[i], model[i]) - _macro_f1(y[i], stars[i]))
    low = float(np.quantile(diffs, 0.025))
    print(f"holdout reviews {y.size}: macro-F1 model {_macro_f1(y, model):.3f} vs star rating "
          f"{_macro_f1(y, stars):.3f}; difference 95% CI low {low:.3f}")
    assert low > 0.0
    for language in ("en", "zh"):
        part = holdout.filter(pl.col("language") == language)
        if part.height >= 100:
            assert _macro_f1(part["sentiment"].to_numpy(), part["sentiment_label"].to_numpy()) > _macro_f1(
                part["sentiment"].to_numpy(), part["weak_label"].to_numpy()), language


def test_aspect_polarity_agrees_with_planted_aspect_sentiment(holdout):
    planted = (
        holdout.select("review_id", *[f"polarity_{a}" for a in ASPECTS])
        .unpivot(index="review_id", variable_name="aspect", value_name="planted")
        .drop_nulls("planted")
        .with_columns(pl.col("aspect").str.strip_prefix("polarity_"))
    )
    found = holdout.select("review_id", "aspects").explode("aspects").unnest("aspects").drop_nulls("aspect")
    joined = planted.join(found, on=["review_id", "aspect"], how="left")
    recall = joined["polarity"].is_not_null().mean()
    matched = joined.drop_nulls("polarity")
    agreement = (matched["planted"].cast(pl.Int8) == matched["polarity"]).mean()
    print(f"planted aspect mentions {planted.height}: found {recall:.3f}, polarity agreement {agreement:.3f}")
    assert recall >= 0.8
    assert agreement >= 0.8
