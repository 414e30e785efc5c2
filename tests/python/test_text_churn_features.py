"""Churn text features: strictly before the snapshot instant, and the ablation that measures them."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import numpy as np
import polars as pl
import pytest
from test_churn import SETTINGS, bgnbd_summary_from, simulate_snapshots

from ecom_growth.churn import evaluate_models, fit_churn_models
from ecom_growth.churn.ablation import WITHOUT_TEXT_SUFFIX, ablation_candidate, without_text
from ecom_growth.churn.features import TEXT_FEATURE_NAMES, prepare_features, validate_snapshots
from ecom_growth.text.churn_features import churn_text_features, with_text_features

D = date(2025, 3, 1)
AT = datetime(2025, 3, 1)
ASPECT = pl.Struct({"aspect": pl.String, "polarity": pl.Int8, "aspect_score": pl.Float64})


def _reviews(rows: list[tuple[str, datetime, float, list[tuple[str, int]]]]) -> pl.DataFrame:
    return pl.DataFrame({
        "review_id": [f"R{i}" for i in range(len(rows))],
        "customer_id": [r[0] for r in rows],
        "created_at": [r[1] for r in rows],
        "sentiment_score": [r[2] for r in rows],
        "aspects": [[{"aspect": a, "polarity": p, "aspect_score": float(p)} for a, p in r[3]] for r in rows],
    }, schema_overrides={"aspects": pl.List(ASPECT), "review_id": pl.String, "customer_id": pl.String,
                         "created_at": pl.Datetime("us"), "sentiment_score": pl.Float64})


def _tickets(rows: list[tuple[str, datetime, datetime | None]]) -> pl.DataFrame:
    return pl.DataFrame({"ticket_id": [f"T{i}" for i in range(len(rows))], "customer_id": [r[0] for r in rows],
                         "created_at": [r[1] for r in rows], "resolved_at": [r[2] for r in rows]},
                        schema_overrides={"ticket_id": pl.String, "customer_id": pl.String,
                                          "created_at": pl.Datetime("us"), "resolved_at": pl.Datetime("us")})


def _intents(tickets: pl.DataFrame, intents: list[str]) -> pl.DataFrame:
    return tickets.select("ticket_id", pl.Series("predicted_intent", intents, dtype=pl.String))


def test_features_use_only_text_strictly_before_the_snapshot_instant():
    snapshots = pl.DataFrame({"customer_id": ["a", "b", "c"], "snapshot_date": [D, D, D]})
    reviews = _reviews([
        ("a", AT - timedelta(days=30), -0.8, [("delivery", -1), ("product_quality", 1)]),
        ("a", AT - timedelta(days=2), 0.6, [("delivery", -1), ("customer_service", -1)]),
        ("a", AT, -1.0, [("delivery", -1)]),  # at the snapshot instant: not before it
        ("b", AT + timedelta(days=1), 0.9, [("size_fit", -1)]),
    ])
    tickets = _tickets([
        ("a", AT - timedelta(days=90), None),  # first instant of the 90-day window: in
        ("a", AT - timedelta(days=90, seconds=1), None),  # just outside
        ("a", AT - timedelta(days=5), AT),  # resolved exactly at the snapshot: still unresolved before it
        ("a", AT - timedelta(days=5), AT - timedelta(seconds=1)),  # resolved before: resolved
        ("b", AT, None),  # opened at the snapshot instant: not before it
    ])
    intents = _intents(tickets, ["where_is_my_order", "complaint", "complaint", "complaint", "complaint"])
    features = churn_text_features(snapshots, reviews, tickets, intents)
    got = {r["customer_id"]: r for r in features.iter_rows(named=True)}
    a, b, c = got["a"], got["b"], got["c"]
    assert a["review_sentiment_latest"] == pytest.approx(0.6)
    assert a["review_sentiment_mean"] == pytest.approx(-0.1)
    assert (a["negative_mentions_delivery"], a["negative_mentions_customer_service"],
            a["negative_mentions_product_quality"]) == (2.0, 1.0, 0.0)
    assert (a["tickets_last_90d"], a["unresolved_tickets_last_90d"], a["unresolved_complaints_last_90d"]) == (3.0, 2.0, 1.0)
    for other in (b, c):
        assert other["review_sentiment_latest"] is None and other["review_sentiment_mean"] is None
        assert all(other[name] == 0.0 for name in TEXT_FEATURE_NAMES[2:])


def test_empty_text_inputs_give_null_sentiment_and_zero_counts():
    snapshots = pl.DataFrame({"customer_id": ["a"], "snapshot_date": [D]})
    features = churn_text_features(snapshots, _reviews([]), _tickets([]), _intents(_tickets([]), []))
    assert features.height == 1 and features["review_sentiment_mean"].to_list() == [None]
    assert features["tickets_last_90d"].to_list() == [0.0]


def test_snapshots_without_text_columns_validate_and_the_join_fills_them():
    snapshots = simulate_snapshots(50)
    validated = validate_snapshots(snapshots)
    assert all(validated[c].null_count() == validated.height for c in TEXT_FEATURE_NAMES)
    text = churn_text_features(snapshots, _reviews([]), _tickets([]), _intents(_tickets([]), []))
    joined = with_text_features(snapshots, text)
    assert joined.height == snapshots.height and set(TEXT_FEATURE_NAMES) <= set(joined.columns)
    assert joined.select("customer_id", "snapshot_date").equals(snapshots.select("customer_id", "snapshot_date"))


def test_masking_sets_every_text_feature_missing_and_nothing_else():
    features = prepare_features(validate_snapshots(simulate_snapshots(30)))
    masked = without_text(features)
    assert all(masked[c].is_nan().all() for c in TEXT_FEATURE_NAMES)
    others = [c for c in features.columns if c not in TEXT_FEATURE_NAMES]
    assert masked.select(others).equals(features.select(others))


def test_the_ablation_candidate_is_the_best_feature_model_never_a_baseline():
    assert ablation_candidate({"bgnbd_baseline": 0.4, "logistic_regression": 0.5, "hist_gradient_boosting": 0.45}) \
        == "hist_gradient_boosting"
    assert ablation_candidate({"bgnbd_baseline": 0.4, "recency_baseline": 0.3}) is None


@pytest.fixture(scope="module")
def with_text() -> pl.DataFrame:
    """Synthetic snapshots plus an unresolved-ticket feature that raises churn (planted)."""
    snapshots = simulate_snapshots(600)
    rng = np.random.default_rng(3)
    unresolved = (rng.random(snapshots.height) < 0.15).astype(np.float64)
    churned = snapshots["is_churned"].to_numpy()
    flip = (unresolved == 1) & (rng.random(snapshots.height) < 0.7)
    labels = np.where(snapshots["is_scoring_snapshot"].to_numpy(), np.nan, np.where(flip, 1, churned))
    return snapshots.with_columns(
        pl.Series("is_churned", labels).fill_nan(None).cast(pl.Int64),
        pl.Series("unresolved_tickets_last_90d", unresolved),
        pl.Series("tickets_last_90d", unresolved + rng.poisson(0.3, snapshots.height)),
    )


def test_the_ablation_row_measures_what_the_text_features_add(with_text):
    models = fit_churn_models(with_text, bgnbd_summary_from(with_text), **SETTINGS)
    ablation = models.filter(pl.col("model").str.ends_with(WITHOUT_TEXT_SUFFIX))
    assert ablation.height == 1 and ablation["role"].to_list() == ["test"] and not ablation["is_selected"][0]
    evaluation = evaluate_models(models, with_text, n_bootstrap=60, random_state=42, n_threads=1)
    row = evaluation.filter(pl.col("model").str.ends_with(WITHOUT_TEXT_SUFFIX)).row(0, named=True)
    with_text_model = row["model"].removesuffix(WITHOUT_TEXT_SUFFIX)
    full = evaluation.filter((pl.col("model") == with_text_model) & (pl.col("split") == "test")).row(0, named=True)
    assert row["baseline_model"] == with_text_model and row["split"] == "test"
    assert row["evaluation_snapshot_date"] == full["evaluation_snapshot_date"]
    assert row["log_loss_diff_vs_baseline"] == pytest.approx(row["log_loss"] - full["log_loss"])
    # the planted text effect: dropping the text costs log loss beyond resampling noise
    assert row["log_loss_diff_ci_lower"] > 0 and row["roc_auc"] < full["roc_auc"]


def test_no_ablation_without_any_text_signal():
    snapshots = simulate_snapshots(300)
    models = fit_churn_models(snapshots, bgnbd_summary_from(snapshots), **SETTINGS)
    assert not models["model"].str.ends_with(WITHOUT_TEXT_SUFFIX).any()


def test_status_says_when_the_features_rest_on_a_fallback():
    snapshots = pl.DataFrame({"customer_id": ["a"], "snapshot_date": [D]})
    tickets = _tickets([("a", AT - timedelta(days=3), None)])
    reviews = _reviews([("a", AT - timedelta(days=3), 0.5, [])])
    ok = churn_text_features(snapshots, reviews.with_columns(status=pl.lit("ok"), status_reason=pl.lit(None)),
                             tickets, _intents(tickets, ["complaint"]).with_columns(status=pl.lit("ok")))
    assert ok["status"].to_list() == ["ok"] and ok["status_reason"].to_list() == [None]
    degraded = churn_text_features(
        snapshots, reviews.with_columns(status=pl.lit("degraded"), status_reason=pl.lit("12 training reviews")),
        tickets, _intents(tickets, ["complaint"]).with_columns(status=pl.lit("ok")))
    assert degraded["status"].to_list() == ["degraded"]
    assert degraded["status_reason"][0] == "review sentiment from the star rating: 12 training reviews"
