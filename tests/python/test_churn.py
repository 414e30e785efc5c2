"""Tests for ecom_growth.churn: hand-made frames with exact expectations, plus recovery of a
planted churn process (known logistic link on recency, frequency and review rating)."""

from __future__ import annotations

from datetime import date

import numpy as np
import polars as pl
import pytest
from threadpoolctl import threadpool_limits

from ecom_growth.churn import (
    EVALUATION_SCHEMA,
    FEATURE_NAMES,
    NUMERIC_FEATURES,
    SCORES_SCHEMA,
    FeatureReference,
    assign_risk_tiers,
    binary_metrics,
    make_hist_gradient_boosting,
    make_logistic_regression,
    make_recency_baseline,
    prepare_features,
    reference_values,
    reliability_table,
    top_reasons,
    train_and_score,
    validate_snapshots,
)
from ecom_growth.churn.models import BASELINE, GRADIENT_BOOSTING, LOGISTIC

LABELLED_DATES = [date(2024, 1, 31), date(2024, 2, 29), date(2024, 3, 31), date(2024, 4, 30)]
SCORING_DATE = date(2024, 7, 31)
CHANNELS = ["organic", "paid_search", "paid_social", "referral"]
COUNTRIES = ["DE", "FR", "US"]


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


def churn_logit(days_since_last_order, orders_count, review_rating_avg, channel):
    """Planted truth: recency raises churn, frequency and a good rating lower it, paid social
    raises it. Rating null (no reviews) has no effect."""
    rating_effect = np.where(np.isnan(review_rating_avg), 0.0, -0.9 * (review_rating_avg - 4.0))
    return (
        -0.9
        + 1.1 * (np.log1p(days_since_last_order) - np.log1p(45.0))
        - 0.9 * (np.log1p(orders_count) - np.log1p(4.0))
        + rating_effect
        + 0.6 * (channel == "paid_social")
    )


def simulate_snapshots(n_customers: int = 1000, seed: int = 7) -> pl.DataFrame:
    """Snapshot rows over 4 labelled months + 1 scoring date with plausible, coherent features."""
    rng = np.random.default_rng(seed)
    frames = []
    for s, snapshot_date in enumerate(LABELLED_DATES + [SCORING_DATE]):
        n = n_customers
        ids = np.sort(rng.choice(int(n_customers * 1.3), size=n, replace=False))
        tenure = rng.uniform(30, 720, n)
        orders = 1 + rng.poisson(rng.gamma(1.5, 2.5, n))
        dslo = np.minimum(np.minimum(tenure, 365), rng.exponential(55, n)).round()
        gap_mean = np.where(orders > 1, (tenure - dslo) / np.maximum(orders - 1, 1), np.nan)
        gap_std = np.where(orders > 2, gap_mean * rng.uniform(0.2, 1.0, n), np.nan)
        rate90 = np.where(orders > 1, 90 / np.maximum(gap_mean, 1), 0.2)
        last90 = np.where(dslo <= 90, 1 + rng.poisson(np.minimum(rate90, 5)), 0)
        last30 = np.where(dslo <= 30, np.minimum(last90, 1 + rng.poisson(0.3, n)), 0)
        prev90 = rng.poisson(np.minimum(rate90, 5))
        aov = rng.lognormal(3.8, 0.5, n)
        has_reviews = rng.random(n) < 0.6
        satisfaction = np.clip(rng.normal(4.0, 0.8, n), 1, 5)
        rating_avg = np.where(has_reviews, satisfaction.round(1), np.nan)
        rating_min = np.where(has_reviews, np.clip(satisfaction - rng.exponential(0.5, n), 1, 5).round(), np.nan)
        rating_latest = np.where(has_reviews, np.clip(satisfaction + rng.normal(0, 0.5, n), 1, 5).round(), np.nan)
        has_events = rng.random(n) < 0.7
        sessions = np.where(has_events, rng.poisson(3, n), np.nan)
        channel = rng.choice(CHANNELS, n, p=[0.4, 0.25, 0.2, 0.15])
        p = _sigmoid(churn_logit(dslo, orders, rating_avg, channel))
        is_scoring = snapshot_date == SCORING_DATE
        churned = (rng.random(n) < p).astype(np.int64)
        frames.append(
            pl.DataFrame(
                {
                    "customer_id": [f"c{i:05d}" for i in ids],
                    "snapshot_date": [snapshot_date] * n,
                    "is_scoring_snapshot": [is_scoring] * n,
                    "is_churned": pl.Series([None] * n if is_scoring else churned, dtype=pl.Int64),
                    "acquisition_channel": channel,
                    "country": rng.choice(COUNTRIES, n),
                    "days_since_last_order": dslo,
                    "tenure_days": tenure.round(),
                    "orders_count": orders.astype(np.float64),
                    "revenue_total": (orders * aov).round(2),
                    "avg_order_value": aov.round(2),
                    "orders_last_30d": last30.astype(np.float64),
                    "orders_last_90d": last90.astype(np.float64),
                    "order_trend_ratio": last90 / (prev90 + 1.0),
                    "gap_mean_days": gap_mean,
                    "gap_std_days": gap_std,
                    "recency_over_gap": dslo / gap_mean,
                    "category_count": (1 + rng.poisson(1.5, n)).astype(np.float64),
                    "discount_share": rng.beta(1, 4, n),
                    "cancel_return_share": rng.beta(1, 12, n),
                    "sessions_last_30d": sessions,
                    "views_last_30d": np.where(has_events, rng.poisson(8, n), np.nan),
                    "cart_abandonment_rate_30d": np.where(has_events, rng.beta(2, 3, n), np.nan),
                    "review_count": np.where(has_reviews, 1 + rng.poisson(1.0, n), 0).astype(np.float64),
                    "review_rating_avg": rating_avg,
                    "review_rating_min": rating_min,
                    "review_rating_latest": rating_latest,
                }
            ).with_columns(pl.col(c).fill_nan(None) for c in NUMERIC_FEATURES)
        )
    return pl.concat(frames)


@pytest.fixture(scope="module")
def snapshots() -> pl.DataFrame:
    return simulate_snapshots()


@pytest.fixture(scope="module")
def result(snapshots):
    return train_and_score(snapshots, risk_tiers={"high": 0.6, "medium": 0.3}, random_state=42)


# ---------------------------------------------------------------- input validation, features


def test_missing_column_raises_value_error_naming_it(snapshots):
    with pytest.raises(ValueError, match="review_rating_min"):
        train_and_score(snapshots.drop("review_rating_min"))


def test_validation_rejects_duplicates_null_labels_and_two_scoring_dates(snapshots):
    with pytest.raises(ValueError, match="duplicate"):
        validate_snapshots(pl.concat([snapshots.head(3), snapshots.head(1)]))
    labelled_null = snapshots.head(2).with_columns(pl.lit(None, dtype=pl.Int64).alias("is_churned"))
    with pytest.raises(ValueError, match="is_churned is null"):
        validate_snapshots(labelled_null)
    two_scoring = snapshots.head(2).with_columns(
        pl.lit(True).alias("is_scoring_snapshot"),
        pl.Series("snapshot_date", [date(2024, 1, 1), date(2024, 2, 1)]),
    )
    with pytest.raises(ValueError, match="more than one scoring snapshot date"):
        validate_snapshots(two_scoring)
    bad_type = snapshots.head(2).with_columns(pl.lit("many").alias("orders_count"))
    with pytest.raises(ValueError, match="orders_count"):
        validate_snapshots(bad_type)


def test_prepare_features_orders_columns_and_marks_missing(snapshots):
    row = snapshots.head(1).with_columns(
        pl.lit(None, dtype=pl.Float64).alias("gap_mean_days"),
        pl.lit(float("inf")).alias("recency_over_gap"),
        pl.lit(None, dtype=pl.String).alias("country"),
        pl.lit(3, dtype=pl.Int32).alias("orders_count"),
    )
    X = prepare_features(row)
    assert X.columns == list(FEATURE_NAMES)
    assert np.isnan(X["gap_mean_days"][0]) and np.isnan(X["recency_over_gap"][0])
    assert X["country"].to_list() == ["(missing)"]
    assert X["orders_count"].dtype == pl.Float64 and X["orders_count"][0] == 3.0


def test_reference_values_are_medians_and_modes():
    X = prepare_features(
        simulate_snapshots(5, seed=1).head(3).with_columns(
            pl.Series("days_since_last_order", [10.0, None, 30.0]),
            pl.Series("acquisition_channel", ["b", "a", "b"]),
        )
    )
    ref = reference_values(X)
    assert ref.numeric["days_since_last_order"] == 20.0
    assert ref.categorical["acquisition_channel"] == "b"


# ---------------------------------------------------------------- metrics and tiers


def test_binary_metrics_on_a_hand_made_example():
    y = np.array([0, 0, 1, 1])
    p = np.array([0.1, 0.4, 0.35, 0.8])
    m = binary_metrics(y, p, base_rate=0.25)
    assert m["roc_auc"] == pytest.approx(0.75)
    assert m["top_decile_precision"] == 1.0 and m["top_decile_lift"] == 2.0
    assert m["brier_score"] == pytest.approx((0.01 + 0.16 + 0.65**2 + 0.04) / 4)
    assert m["brier_score_base_rate"] == pytest.approx((2 * 0.25**2 + 2 * 0.75**2) / 4)
    # F1 is maximal (0.8) at 0.35: predicts 3 positives, both churners among them
    assert m["threshold"] == pytest.approx(0.35)
    assert m["precision_at_threshold"] == pytest.approx(2 / 3)
    assert m["recall_at_threshold"] == 1.0
    assert m["f1_at_threshold"] == pytest.approx(0.8)
    fixed = binary_metrics(y, p, base_rate=0.25, threshold=0.5)
    assert fixed["threshold"] == 0.5 and fixed["recall_at_threshold"] == 0.5


def test_reliability_table_on_a_hand_made_example():
    table = reliability_table(np.array([0, 1, 1, 0, 1]), np.array([0.1, 0.2, 0.8, 0.9, 1.0]), n_bins=2)
    assert table.to_dicts() == [
        {"bin_lower": 0.0, "bin_upper": 0.5, "n": 2, "mean_predicted": pytest.approx(0.15),
         "observed_rate": 0.5},
        {"bin_lower": 0.5, "bin_upper": 1.0, "n": 3, "mean_predicted": pytest.approx(0.9),
         "observed_rate": pytest.approx(2 / 3)},
    ]


def test_risk_tiers_use_inclusive_lower_boundaries():
    p = np.array([1.0, 0.6, 0.5999, 0.3, 0.2999, 0.0])
    tiers = assign_risk_tiers(p, {"medium": 0.3, "high": 0.6})
    assert tiers.to_list() == ["high", "high", "medium", "medium", "low", "low"]
    assert assign_risk_tiers(p, {}).to_list() == ["low"] * 6
    with pytest.raises(ValueError, match="outside"):
        assign_risk_tiers(p, {"high": 1.5})
    with pytest.raises(ValueError, match="distinct"):
        assign_risk_tiers(p, {"high": 0.5, "medium": 0.5})


# ---------------------------------------------------------------- reasons


class _RecencyOnlyModel:
    """A fixed, known model: logit = (days_since_last_order - 50) / 20."""

    classes_ = np.array([0, 1])

    def predict_proba(self, X: pl.DataFrame) -> np.ndarray:
        p = _sigmoid((X["days_since_last_order"].to_numpy() - 50.0) / 20.0)
        return np.column_stack([1 - p, p])


def test_reason_text_names_value_and_typical_value_and_stops_at_positive_contributions():
    X = prepare_features(
        simulate_snapshots(5, seed=1).head(3).with_columns(
            pl.Series("days_since_last_order", [112.0, 38.0, 10.0]),
            pl.Series("orders_count", [1.0, 1.0, 2.0]),
        )
    )
    ref = FeatureReference(
        {c: (38.0 if c == "days_since_last_order" else None) for c in NUMERIC_FEATURES},
        {"acquisition_channel": "organic", "country": "DE"},
    )
    reasons = top_reasons(_RecencyOnlyModel(), X, ref)
    assert reasons.columns == ["reason_1", "reason_2", "reason_3"]
    assert reasons.row(0) == ("long time since the last order: 112 days (typical: 38 days)", None, None)
    # at the typical value, or below it (lower risk), there is no reason
    assert reasons.row(1) == (None, None, None)
    assert reasons.row(2) == (None, None, None)


class _FewOrdersModel:
    """A fixed model: risk falls with orders_count."""

    classes_ = np.array([0, 1])

    def predict_proba(self, X: pl.DataFrame) -> np.ndarray:
        p = _sigmoid(2.0 - X["orders_count"].to_numpy())
        return np.column_stack([1 - p, p])


def test_reason_text_uses_singular_units_and_low_wording():
    X = prepare_features(
        simulate_snapshots(5, seed=1).head(2).with_columns(pl.Series("orders_count", [1.0, None]))
    )
    ref = FeatureReference(
        {c: (4.0 if c == "orders_count" else None) for c in NUMERIC_FEATURES},
        {"acquisition_channel": None, "country": None},
    )
    reasons = top_reasons(_FewOrdersModel(), X, ref)
    assert reasons["reason_1"].to_list() == [
        "few orders so far: 1 order (typical: 4 orders)",
        # the model cannot score NaN orders (p = NaN): no reason rather than a wrong one
        None,
    ]


def test_reasons_name_the_planted_driver_where_it_dominates(result, snapshots):
    scored = result.scores.join(
        snapshots.filter(pl.col("is_scoring_snapshot")), on="customer_id", how="inner"
    )
    # unhappy reviewers who ordered recently and often: the rating is the driver
    unhappy = scored.filter(
        (pl.col("review_rating_avg") <= 2.8) & (pl.col("days_since_last_order") <= 30)
        & (pl.col("orders_count") >= 2)
    )
    assert unhappy.height >= 5
    assert unhappy["reason_1"].str.contains("review rating").all()
    # long-lapsed customers with an otherwise typical profile: recency is the driver
    lapsed = scored.filter(
        (pl.col("days_since_last_order") >= 200)
        & (pl.col("review_rating_avg").is_null() | (pl.col("review_rating_avg") >= 4))
    )
    assert lapsed.height >= 5
    assert lapsed["reason_1"].str.contains("since the last order|overdue").all()
    assert lapsed["reason_1"].str.contains(r"\d+ days \(typical: \d+ days\)|x the usual gap").all()


def test_recency_baseline_gives_at_most_one_reason(snapshots):
    out = train_and_score(snapshots, models={"recency": make_recency_baseline()},
                          calibration_methods=())
    scores = out.scores
    assert scores["reason_2"].null_count() == scores.height
    assert scores["reason_3"].null_count() == scores.height
    typical = out.reference.numeric["days_since_last_order"]
    with_reason = scores.join(snapshots.filter(pl.col("is_scoring_snapshot")), on="customer_id")
    has = with_reason.filter(pl.col("reason_1").is_not_null())
    assert has.height > 0 and (has["days_since_last_order"] > typical).all()


def test_tree_model_risk_never_falls_with_recency(snapshots):
    labelled = snapshots.filter(~pl.col("is_scoring_snapshot"))
    X = prepare_features(labelled)
    with threadpool_limits(1):  # as train_and_score does: OpenMP threads crawl on shared cores
        model = make_hist_gradient_boosting().fit(X, labelled["is_churned"].to_numpy())
        p = model.predict_proba(X)[:, 1]
        later = model.predict_proba(X.with_columns(pl.col("days_since_last_order") + 60))[:, 1]
        more_recent_orders = model.predict_proba(X.with_columns(pl.col("orders_last_30d") + 1))[:, 1]
    assert (later >= p - 1e-12).all() and (later > p + 1e-3).mean() > 0.3
    assert (more_recent_orders <= p + 1e-12).all()


# ---------------------------------------------------------------- training on planted truth


def test_selected_model_recovers_signal_and_beats_recency_baseline(result):
    ev = result.evaluation
    selected = ev.filter(pl.col("is_selected"))
    baseline = ev.filter(pl.col("model") == BASELINE)
    assert selected.height == 1
    assert selected["model"][0] == result.model_name != BASELINE
    assert selected["roc_auc"][0] >= 0.75
    assert selected["pr_auc"][0] == ev["pr_auc"].max()
    assert selected["pr_auc"][0] > baseline["pr_auc"][0] + 0.03
    assert selected["roc_auc"][0] > baseline["roc_auc"][0] + 0.03
    assert selected["brier_score"][0] < 0.9 * selected["brier_score_base_rate"][0]
    assert selected["top_decile_lift"][0] > 1.5


def test_selected_model_is_reliable_on_validation(result):
    table = result.reliability
    assert table["n"].sum() == 1000
    populated = table.filter(pl.col("n") >= 60)
    assert populated.height >= 4
    gap = (populated["mean_predicted"] - populated["observed_rate"]).abs()
    assert gap.max() < 0.1


def test_evaluation_table_columns_and_ranges(result):
    ev = result.evaluation
    assert ev.schema == pl.Schema(EVALUATION_SCHEMA)
    assert ev["model"].to_list() == [BASELINE, LOGISTIC, GRADIENT_BOOSTING]
    for col in ["roc_auc", "pr_auc", "brier_score", "brier_score_base_rate", "top_decile_precision",
                "threshold", "precision_at_threshold", "recall_at_threshold", "f1_at_threshold",
                "positive_rate_train", "positive_rate_validation"]:
        assert ev[col].is_between(0, 1).all(), col
    assert (ev["log_loss"] > 0).all() and (ev["top_decile_lift"] >= 0).all()
    assert ev["n_train"].to_list() == [3000] * 3 and ev["n_validation"].to_list() == [1000] * 3
    assert ev["train_snapshot_dates"][0] == "2024-01-31,2024-02-29,2024-03-31"
    assert ev["validation_snapshot_date"][0] == date(2024, 4, 30)
    assert ev.null_count().row(0) == (0,) * ev.width


def test_scores_columns_tiers_and_as_of(result, snapshots):
    sc = result.scores
    assert sc.schema == pl.Schema(SCORES_SCHEMA)
    scoring = snapshots.filter(pl.col("is_scoring_snapshot"))
    assert sc.height == scoring.height
    assert sorted(sc["customer_id"].to_list()) == sorted(scoring["customer_id"].to_list())
    assert sc["churn_probability"].is_between(0, 1).all()
    assert set(sc["as_of"].to_list()) == {SCORING_DATE}
    assert set(sc["model_name"].to_list()) == {result.model_name}
    expected = assign_risk_tiers(sc["churn_probability"], {"high": 0.6, "medium": 0.3})
    assert sc["risk_tier"].to_list() == expected.to_list()
    assert set(sc["risk_tier"].to_list()) == {"high", "medium", "low"}
    # a reason column is null only where the earlier one is null too
    assert sc.filter(pl.col("reason_2").is_not_null() & pl.col("reason_1").is_null()).height == 0
    assert sc.filter(pl.col("reason_3").is_not_null() & pl.col("reason_2").is_null()).height == 0
    # higher tiers have explanations
    assert sc.filter(pl.col("risk_tier") == "high")["reason_1"].null_count() == 0


def test_same_input_gives_identical_scores(result, snapshots):
    again = train_and_score(snapshots.sample(fraction=1.0, shuffle=True, seed=3),
                            risk_tiers={"high": 0.6, "medium": 0.3}, random_state=42)
    assert again.scores.sort("customer_id").equals(result.scores.sort("customer_id"))
    assert again.evaluation.equals(result.evaluation)


# ---------------------------------------------------------------- calibration


def test_calibration_applied_to_a_miscalibrated_model_and_not_to_a_calibrated_one(snapshots):
    balanced = make_logistic_regression().set_params(model__class_weight="balanced")
    out = train_and_score(snapshots, models={"balanced": balanced, "plain": make_logistic_regression()})
    ev = {r["model"]: r for r in out.evaluation.iter_rows(named=True)}
    assert ev["balanced"]["is_calibrated"] is True
    assert ev["plain"]["is_calibrated"] is False
    # calibrated balanced model is about as well calibrated as the plain one
    assert ev["balanced"]["brier_score"] < ev["plain"]["brier_score"] * 1.02
    if out.model_name == "balanced":
        assert out.calibration_method in ("sigmoid", "isotonic")


# ---------------------------------------------------------------- edge cases


def test_empty_scoring_population_gives_empty_scores_with_schema(snapshots):
    out = train_and_score(snapshots.filter(~pl.col("is_scoring_snapshot")),
                          models={"lr": make_logistic_regression()}, calibration_methods=())
    assert out.scores.height == 0
    assert out.scores.schema == pl.Schema(SCORES_SCHEMA)
    assert out.evaluation.height == 1


def test_one_class_training_raises_naming_dates_and_rate(snapshots):
    retained = snapshots.with_columns(
        pl.when(pl.col("snapshot_date") < date(2024, 4, 30)).then(0)
        .otherwise(pl.col("is_churned")).alias("is_churned")
    )
    with pytest.raises(ValueError, match=r"2024-01-31, 2024-02-29, 2024-03-31.*only retained.*0\.000"):
        train_and_score(retained)


def test_no_labelled_snapshot_raises(snapshots):
    with pytest.raises(ValueError, match="no labelled snapshot"):
        train_and_score(snapshots.filter(pl.col("is_scoring_snapshot")))


def test_single_labelled_snapshot_validates_on_a_customer_sample(snapshots):
    one = snapshots.filter(
        (pl.col("snapshot_date") == date(2024, 4, 30)) | pl.col("is_scoring_snapshot")
    )
    out = train_and_score(one, models={"lr": make_logistic_regression()})
    ev = out.evaluation.row(0, named=True)
    assert ev["train_snapshot_dates"] == "2024-04-30"
    assert ev["validation_snapshot_date"] == date(2024, 4, 30)
    assert ev["n_train"] + ev["n_validation"] == 1000
    assert 150 <= ev["n_validation"] <= 250
    assert out.scores.height == 1000


def test_validation_gap_keeps_only_fully_observed_training_snapshots(snapshots):
    out = train_and_score(snapshots, models={"lr": make_logistic_regression()},
                          validation_gap_days=60, calibration_methods=())
    assert out.evaluation["train_snapshot_dates"][0] == "2024-01-31,2024-02-29"
    with pytest.raises(ValueError, match="validation_gap_days"):
        train_and_score(snapshots, validation_gap_days=365)


def test_constant_and_all_null_columns_are_harmless(snapshots):
    odd = snapshots.with_columns(
        pl.lit(None, dtype=pl.Float64).alias("sessions_last_30d"),
        pl.lit(None, dtype=pl.Float64).alias("views_last_30d"),
        pl.lit(None, dtype=pl.Float64).alias("cart_abandonment_rate_30d"),
        pl.lit(0.0).alias("discount_share"),
        pl.lit(None, dtype=pl.String).alias("country"),
    )
    out = train_and_score(odd, calibration_methods=("sigmoid",))
    assert out.evaluation.height == 3
    assert out.evaluation.filter(pl.col("is_selected"))["roc_auc"][0] >= 0.75
    reasons = pl.concat([out.scores[c] for c in ["reason_1", "reason_2", "reason_3"]]).drop_nulls()
    assert not reasons.str.contains("session|product views|cart|discount|country").any()
