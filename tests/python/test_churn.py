"""Tests for ecom_growth.churn: hand-made frames with exact expectations, the BG/NBD churn
probability against Monte Carlo, non-overlapping splits, fit-once storage, degradation, and
recovery of a planted churn process (known logistic link on recency, frequency, rating)."""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.metrics import average_precision_score, roc_auc_score
from threadpoolctl import threadpool_limits

from ecom_growth.churn import (
    EVALUATION_SCHEMA,
    FEATURE_NAMES,
    MODEL_TABLE_SCHEMA,
    NUMERIC_FEATURES,
    REASON_GROUPS,
    SCORES_SCHEMA,
    assign_risk_tiers,
    binary_metrics,
    bootstrap_metrics,
    calibration_table,
    evaluate_models,
    evaluation_snapshot_dates,
    fit_churn_models,
    forward_folds,
    load_model,
    log_loss_score,
    p_no_purchase,
    plan_splits,
    prepare_features,
    reliability_table,
    score_customers,
    snapshot_date_predicate,
    validate_snapshots,
)
from ecom_growth.churn.bgnbd import BGNBDChurnModel
from ecom_growth.churn.evaluation import weighted_ranking_metrics
from ecom_growth.churn.features import TEXT_FEATURE_NAMES
from ecom_growth.churn.fit import choose_variant
from ecom_growth.churn.models import (
    BGNBD,
    GRADIENT_BOOSTING,
    BaseRateModel,
    SklearnChurnModel,
    customer_holdout,
    fit_calibrator,
)
from ecom_growth.churn.reasons import (
    BoostedTreeCache,
    _counterfactual,
    changed_rows,
    reason_contributions,
    reference_customer,
    top_reasons,
)

SCORING_DATE = date(2024, 12, 31)
WINDOW = 90
LABELLED_DATES = [SCORING_DATE - timedelta(days=WINDOW + 1 + 30 * k) for k in range(11, -1, -1)]
CHANNELS = ["organic", "paid_search", "paid_social", "referral"]
COUNTRIES = ["DE", "FR", "US"]
SETTINGS = {"window_days": WINDOW, "random_state": 42, "calibration_folds": 2,
            "max_training_rows": 100_000, "min_training_rows": 200, "min_class_rows": 20, "n_threads": 1}
TIERS = {"high": 0.6, "medium": 0.3}


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
    """Snapshot rows over 12 labelled snapshots 30 days apart + 1 scoring date, plausible features."""
    rng = np.random.default_rng(seed)
    frames = []
    for snapshot_date in LABELLED_DATES + [SCORING_DATE]:
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
            ).with_columns(pl.col(c).fill_nan(None) for c in NUMERIC_FEATURES if c not in TEXT_FEATURE_NAMES)
        )
    return pl.concat(frames)


def bgnbd_summary_from(snapshots: pl.DataFrame) -> pl.DataFrame:
    """int_churn_bgnbd_summary stand-in: each snapshot row's (x, t_x, T), counted."""
    return (
        snapshots.select(
            "snapshot_date",
            (pl.col("orders_count") - 1).cast(pl.Int64).alias("frequency"),
            pl.when(pl.col("orders_count") > 1)
            .then((pl.col("tenure_days") - pl.col("days_since_last_order")).round(0)).otherwise(0.0)
            .alias("recency_days"),
            pl.col("tenure_days").round(0).alias("t_days"),
        )
        .group_by("snapshot_date", "frequency", "recency_days", "t_days").agg(pl.len().cast(pl.Int64).alias("n_customers"))
        .sort("snapshot_date", "frequency", "recency_days", "t_days")
    )


@pytest.fixture(scope="module")
def snapshots() -> pl.DataFrame:
    return simulate_snapshots(600)


@pytest.fixture(scope="module")
def models(snapshots) -> pl.DataFrame:
    return fit_churn_models(snapshots, bgnbd_summary_from(snapshots), **SETTINGS)


@pytest.fixture(scope="module")
def evaluation(models, snapshots) -> pl.DataFrame:
    return evaluate_models(models, snapshots, n_bootstrap=60, random_state=42, n_threads=1)


@pytest.fixture(scope="module")
def scores(models, snapshots) -> pl.DataFrame:
    return score_customers(models, snapshots, risk_tiers=TIERS, min_reason_delta=1e-3, n_threads=1)


# ---------------------------------------------------------------- input validation, features


def test_missing_column_raises_value_error_naming_it(snapshots):
    with pytest.raises(ValueError, match="review_rating_min"):
        fit_churn_models(snapshots.drop("review_rating_min"), bgnbd_summary_from(snapshots), **SETTINGS)


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


def test_every_feature_but_derived_revenue_is_in_exactly_one_reason_group():
    grouped = [f for g in REASON_GROUPS for f in g.features]
    assert sorted(grouped) == sorted(f for f in FEATURE_NAMES if f != "revenue_total")
    assert all(g.lead in g.features for g in REASON_GROUPS)


# ---------------------------------------------------------------- metrics, bootstrap, tiers


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
        {"bin": 0, "bin_lower": 0.0, "bin_upper": 0.5, "n": 2, "mean_predicted": pytest.approx(0.15),
         "observed_rate": 0.5},
        {"bin": 1, "bin_lower": 0.5, "bin_upper": 1.0, "n": 3, "mean_predicted": pytest.approx(0.9),
         "observed_rate": pytest.approx(2 / 3)},
    ]


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 10_000), st.integers(4, 60))
def test_weighted_auc_and_average_precision_equal_sklearn_with_weights_and_ties(seed, n):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, n)
    y[:2] = [0, 1]
    p = np.round(rng.random(n), 1)  # coarse: many ties
    w = rng.integers(1, 4, (3, n)).astype(np.float64)  # one row per replicate
    auc, ap = weighted_ranking_metrics(y, p, w)
    for b in range(3):
        assert auc[b] == pytest.approx(roc_auc_score(y, p, sample_weight=w[b]))
        assert ap[b] == pytest.approx(average_precision_score(y, p, sample_weight=w[b]))


def test_bootstrap_is_reproducible_paired_and_centred():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 400)
    good = np.clip(0.5 + 0.3 * (y - 0.5) + rng.normal(0, 0.1, 400), 0.01, 0.99)
    flat = np.full(400, 0.5)
    a = bootstrap_metrics(y, {"good": good, "flat": flat}, n_bootstrap=50, random_state=3)
    b = bootstrap_metrics(y, {"good": good, "flat": flat}, n_bootstrap=50, random_state=3)
    assert np.array_equal(a["good"]["log_loss"], b["good"]["log_loss"])
    # a constant forecast has log loss exactly log 2 in every resample
    assert np.allclose(a["flat"]["log_loss"], np.log(2))
    # paired: the better model wins in every resample
    assert np.all(a["good"]["log_loss"] < a["flat"]["log_loss"])
    point = binary_metrics(y, good, base_rate=0.5)["roc_auc"]
    assert np.percentile(a["good"]["roc_auc"], 2.5) < point < np.percentile(a["good"]["roc_auc"], 97.5)


def test_risk_tiers_use_inclusive_lower_boundaries():
    p = np.array([1.0, 0.6, 0.5999, 0.3, 0.2999, 0.0])
    tiers = assign_risk_tiers(p, {"medium": 0.3, "high": 0.6})
    assert tiers.to_list() == ["high", "high", "medium", "medium", "low", "low"]
    assert assign_risk_tiers(p, {}).to_list() == ["low"] * 6
    with pytest.raises(ValueError, match="outside"):
        assign_risk_tiers(p, {"high": 1.5})
    with pytest.raises(ValueError, match="distinct"):
        assign_risk_tiers(p, {"high": 0.5, "medium": 0.5})


# ---------------------------------------------------------------- BG/NBD churn probability


def test_bgnbd_no_purchase_of_a_new_customer_is_the_nbd_zero_class():
    r, alpha = 0.75, 60.0
    p = p_no_purchase((r, alpha, 0.9, 3.5), np.zeros(3), np.zeros(3), np.zeros(3),
                      window_days=90.0)
    assert np.allclose(p, (alpha / (alpha + 90.0)) ** r)
    assert p_no_purchase((r, alpha, 0.9, 3.5), 0.0, 0.0, 0.0, window_days=0.0) == pytest.approx(1.0)


def test_bgnbd_no_purchase_matches_monte_carlo_of_the_model():
    """Simulate BG/NBD customers for T days, then the next w days: the mean predicted P(no
    purchase) matches the simulated share overall and per frequency, within 4 standard errors."""
    r, alpha, a, b, T, w, n = 0.75, 60.0, 0.9, 3.5, 300.0, 90.0, 60_000
    rng = np.random.default_rng(5)
    lam = rng.gamma(r, 1 / alpha, n)
    p = rng.beta(a, b, n)
    t = np.zeros(n)
    alive = np.ones(n, dtype=bool)
    x = np.zeros(n)
    t_x = np.zeros(n)
    bought_in_window = np.zeros(n, dtype=bool)
    while alive.any():
        idx = np.flatnonzero(alive)
        t[idx] += rng.exponential(1 / lam[idx])
        in_cal = t[idx] <= T
        in_win = (t[idx] > T) & (t[idx] <= T + w)
        bought_in_window[idx[in_win]] = True
        x[idx[in_cal]] += 1
        t_x[idx[in_cal]] = t[idx[in_cal]]
        dies = rng.random(len(idx)) < p[idx]
        alive[idx[~in_cal | dies]] = False
    predicted = p_no_purchase((r, alpha, a, b), x, t_x, np.full(n, T), window_days=w)
    observed = ~bought_in_window
    for mask in (np.ones(n, bool), x == 0, x == 1, (x >= 2) & (x < 5), x >= 5):
        se = np.sqrt(observed[mask].mean() * (1 - observed[mask].mean()) / mask.sum())
        assert abs(predicted[mask].mean() - observed[mask].mean()) < 4 * se + 1e-3


def test_bgnbd_no_purchase_falls_with_frequency_at_fixed_recency_and_rises_with_recency():
    params = (0.75, 60.0, 0.9, 3.5)
    by_x = p_no_purchase(params, np.array([1.0, 3.0, 8.0]), np.full(3, 290.0), np.full(3, 300.0), 90.0)
    assert np.all(np.diff(by_x) < 0)
    by_gap = p_no_purchase(params, np.full(3, 3.0), np.array([290.0, 200.0, 50.0]), np.full(3, 300.0), 90.0)
    assert np.all(np.diff(by_gap) > 0)


# ---------------------------------------------------------------- splits and calibration


@settings(max_examples=60, deadline=None)
@given(st.integers(1, 20), st.sampled_from([7, 14, 30, 45]), st.sampled_from([30, 60, 90]))
def test_splits_never_overlap_label_windows(n_dates, interval, window):
    scoring = date(2025, 1, 1)
    dates = [scoring - timedelta(days=window + 1 + interval * k) for k in range(n_dates)]
    plan = plan_splits(dates, scoring, window)
    gap = timedelta(days=window)
    assert plan.test_date == max(dates)
    assert all(d + gap <= plan.test_date for d in plan.test_train)
    if plan.validation_date is not None:
        assert plan.validation_date + gap <= plan.test_date
        assert all(d + gap <= plan.validation_date for d in plan.validation_train)
        assert set(plan.validation_train) <= set(plan.test_train)
    assert plan.final_train == sorted(dates)
    for fit_dates, predicted in forward_folds(plan.test_train, window, 3):
        assert fit_dates and all(d + gap <= predicted for d in fit_dates)


def test_twelve_monthly_snapshots_give_six_validation_training_dates():
    plan = plan_splits(LABELLED_DATES, SCORING_DATE, WINDOW)
    assert plan.test_date == LABELLED_DATES[-1]
    assert plan.validation_date == LABELLED_DATES[-4]
    assert plan.validation_train == LABELLED_DATES[:6]
    assert plan.test_train == LABELLED_DATES[:9]


def test_calibrators_fix_a_miscalibrated_model_and_ties_keep_the_raw_one():
    rng = np.random.default_rng(1)
    q = rng.uniform(0.05, 0.95, 6000)
    y = (rng.random(6000) < q).astype(int)
    shifted = q ** 3  # far too low
    losses = {None: log_loss_score(y[3000:], shifted[3000:])}
    for method in ("sigmoid", "isotonic"):
        calibrator = fit_calibrator(method, shifted[:3000], y[:3000])
        losses[method] = log_loss_score(y[3000:], calibrator.apply(shifted[3000:]))
        assert losses[method] < losses[None] - 0.02
        assert np.all(np.diff(calibrator.apply(np.linspace(0.01, 0.99, 50))) >= 0)  # monotone
    assert choose_variant(losses) in ("sigmoid", "isotonic")
    assert choose_variant({None: 0.5, "sigmoid": 0.5, "isotonic": 0.6}) is None


def test_customer_holdout_keeps_every_customer_on_one_side():
    ids = pl.Series(["a", "b", "c", "a", "b", "c", "d"] * 50)
    mask = customer_holdout(ids, 0.5, 42)
    frame = pl.DataFrame({"id": ids, "held": mask}).group_by("id").agg(pl.col("held").n_unique())
    assert frame["held"].max() == 1


# ---------------------------------------------------------------- the model table


def test_model_table_roles_windows_and_selection(models):
    assert models.columns == list(MODEL_TABLE_SCHEMA)
    assert models.filter(pl.col("role") == "final").height == 1
    validation = models.filter(pl.col("role") == "validation")
    best = validation.sort("selection_log_loss").row(0, named=True)
    final = models.filter(pl.col("role") == "final").row(0, named=True)
    assert final["model"] == best["model"] and final["is_selected"]
    assert set(models.filter(pl.col("is_selected"))["model"]) == {best["model"]}
    for row in models.filter(pl.col("last_train_snapshot_date").is_not_null()).iter_rows(named=True):
        assert row["last_train_snapshot_date"] + timedelta(days=WINDOW) <= row["target_snapshot_date"]
    # the synthetic features are not BG/NBD data, so only its fit may be flagged (not converged)
    assert (models.filter(pl.col("model") != BGNBD)["status"] == "ok").all()
    assert models.filter(pl.col("model") == BGNBD)["n_train_rows"].to_list() == [0] * (
        models.filter(pl.col("model") == BGNBD).height)


def test_stored_model_scores_bit_identically_to_the_fitted_one(snapshots):
    summary = bgnbd_summary_from(snapshots)
    from ecom_growth.churn.fit import (  # the in-memory objects
        _fit_all,
        _labelled_data,
        _Settings,
    )
    s = _Settings(WINDOW, 42, 2, 100_000, 200, 20)
    with threadpool_limits(limits=1):  # OpenMP on shared cores is an order of magnitude slower
        rows = _fit_all(validate_snapshots(snapshots), summary, s)
    scoring = prepare_features(snapshots.filter(pl.col("is_scoring_snapshot")).sort("customer_id"))
    for row in rows:
        fresh = row["_model"].predict(scoring)
        stored = load_model(row["estimator"], row["estimator_sha256"]).predict(scoring)
        assert np.array_equal(fresh, stored), row["model"]
    assert _labelled_data(validate_snapshots(snapshots)).y.size > 0


def test_a_tampered_model_row_is_refused(models):
    row = models.row(0, named=True)
    with pytest.raises(ValueError, match="checksum"):
        load_model(row["estimator"][:-1] + b"x", row["estimator_sha256"])


def test_same_input_gives_identical_model_table_and_scores(snapshots, models, scores):
    again = fit_churn_models(snapshots, bgnbd_summary_from(snapshots), **SETTINGS)
    assert again.drop("fit_seconds").equals(models.drop("fit_seconds"))
    assert score_customers(again, snapshots, risk_tiers=TIERS, min_reason_delta=1e-3, n_threads=1).equals(scores)


def test_gradient_boosting_stops_early_within_its_round_limit(models):
    row = models.filter((pl.col("model") == GRADIENT_BOOSTING) & (pl.col("role") == "test")).row(0, named=True)
    hgb = load_model(row["estimator"], row["estimator_sha256"]).estimator.steps[-1][1]
    assert hgb.n_iter_ < hgb.max_iter and hgb.validation_score_.size > 0


# ---------------------------------------------------------------- evaluation and calibration


def test_evaluation_has_both_splits_and_the_selected_model_beats_the_recency_baseline(evaluation):
    assert evaluation.columns == list(EVALUATION_SCHEMA)
    assert sorted(evaluation["split"].unique()) == ["test", "validation"]
    assert evaluation.group_by("split").len()["len"].to_list() == [5, 5]
    test = {r["model"]: r for r in evaluation.filter(pl.col("split") == "test").iter_rows(named=True)}
    chosen = next(r for r in test.values() if r["is_selected"])
    assert chosen["log_loss"] < test["recency_baseline"]["log_loss"]
    assert chosen["log_loss"] < test["base_rate"]["log_loss"]
    assert chosen["roc_auc"] > 0.7
    for r in evaluation.iter_rows(named=True):
        for m in ("log_loss", "brier_score", "roc_auc", "pr_auc"):
            assert r[f"{m}_ci_lower"] <= r[m] <= r[f"{m}_ci_upper"], (r["model"], m)
    baseline = evaluation["baseline_model"].unique().to_list()
    assert len(baseline) == 1 and baseline[0] in ("base_rate", "recency_baseline", "bgnbd_baseline")
    own = evaluation.filter(pl.col("model") == baseline[0])
    assert own["log_loss_diff_vs_baseline"].to_list() == [0.0, 0.0]


def test_test_split_applies_the_validation_threshold(evaluation):
    pivot = evaluation.select("model", "split", "threshold").pivot(on="split", index="model", values="threshold")
    assert (pivot["validation"] == pivot["test"]).all()


def test_calibration_table_bins_every_model_and_split(models, snapshots):
    table = calibration_table(models, snapshots, n_bins=10, n_threads=1)
    assert table.group_by("model", "split").agg(pl.col("n").sum()).height == 10
    totals = table.group_by("split").agg(pl.col("n").sum()).sort("split")
    per_split = snapshots.filter(~pl.col("is_scoring_snapshot")).group_by("snapshot_date").len()
    assert set(totals["n"].to_list()) <= set((per_split["len"] * 5).to_list())
    assert ((table["mean_predicted"] >= table["bin_lower"]) & (table["mean_predicted"] <= table["bin_upper"])).all()


# ---------------------------------------------------------------- scores and reasons


def test_evaluation_calibration_and_scores_need_only_their_own_snapshots(models, snapshots, evaluation, scores):
    dates = evaluation_snapshot_dates(models)
    assert dates == sorted(models.filter(pl.col("role") != "final")["target_snapshot_date"].unique().to_list())
    assert len(dates) == 2 and snapshots["snapshot_date"].n_unique() > 3
    only = snapshots.filter(pl.col("snapshot_date").is_in(dates))
    assert evaluate_models(models, only, n_bootstrap=60, random_state=42, n_threads=1).equals(evaluation)
    assert calibration_table(models, only, n_bins=10, n_threads=1).equals(
        calibration_table(models, snapshots, n_bins=10, n_threads=1))
    scoring = snapshots.filter(pl.col("is_scoring_snapshot"))
    assert score_customers(models, scoring, risk_tiers=TIERS, min_reason_delta=1e-3, n_threads=1).equals(scores)


def test_snapshot_date_predicate_selects_exactly_the_dates_in_sql():
    import duckdb

    table = pl.DataFrame({"snapshot_date": [date(2026, 1, 1), date(2026, 1, 31), date(2026, 3, 2)]})
    con = duckdb.connect()
    for dates in ([], [date(2026, 1, 31)], [date(2026, 1, 1), date(2026, 3, 2)]):
        kept = con.from_arrow(table.to_arrow()).filter(snapshot_date_predicate(dates)).pl()
        assert kept["snapshot_date"].to_list() == dates


def test_changed_rows_treats_nan_as_equal_and_sees_any_column():
    before = pl.DataFrame({"x": [1.0, float("nan"), 2.0, float("nan")], "c": ["a", "b", "c", "d"]})
    after = pl.DataFrame({"x": [1.0, float("nan"), float("nan"), float("nan")], "c": ["a", "b", "c", "e"]})
    assert changed_rows(before, after).tolist() == [False, False, True, True]


@pytest.mark.parametrize("model_name", ["logistic_regression", "hist_gradient_boosting"])
def test_reason_contributions_equal_predicting_every_counterfactual_row(models, snapshots, model_name):
    row = models.filter((pl.col("model") == model_name) & (pl.col("role") == "validation")).row(0, named=True)
    model = load_model(row["estimator"], row["estimator_sha256"])
    features = prepare_features(validate_snapshots(snapshots).filter(pl.col("is_scoring_snapshot")).sort("customer_id"))
    references = [reference_customer(features, g) for g in REASON_GROUPS]
    fast = reason_contributions(model, features, references)
    p = model.predict(features)
    brute = np.column_stack([p - model.predict(_counterfactual(features, g, r)) for g, r in zip(REASON_GROUPS, references)])
    assert (fast == 0).any(axis=0).sum() >= 2  # some groups are the reference's for some customers
    np.testing.assert_allclose(fast, brute, rtol=0, atol=1e-12)


@pytest.mark.parametrize("method", [None, "sigmoid", "isotonic"])
def test_boosted_tree_cache_predicts_counterfactuals_bit_identically(models, snapshots, method):
    row = models.filter((pl.col("model") == "hist_gradient_boosting") & (pl.col("role") == "validation")).row(0, named=True)
    fitted = load_model(row["estimator"], row["estimator_sha256"])
    features = prepare_features(validate_snapshots(snapshots).filter(pl.col("is_scoring_snapshot")).sort("customer_id"))
    raw = fitted.predict_raw(features)
    y = (raw > np.median(raw)).astype(int)  # any labels: the calibrator only has to be non-trivial
    model = SklearnChurnModel(fitted.estimator, None if method is None else fit_calibrator(method, raw, y))
    cache = BoostedTreeCache.of(model, features)
    assert cache is not None and BoostedTreeCache.of(BaseRateModel(0.5), features) is None
    np.testing.assert_array_equal(cache.predict_cached(), model.predict(features))
    reused = 0
    for group, ref in zip(REASON_GROUPS, [reference_customer(features, g) for g in REASON_GROUPS]):
        counterfactual = _counterfactual(features, group, ref)
        changed = changed_rows(features, counterfactual)
        if not changed.any():
            continue
        rows = counterfactual.filter(pl.Series(changed))
        np.testing.assert_array_equal(cache.predict(rows, changed), model.predict(rows))
        reused += cache.last_reused_trees
    assert reused > 0  # some groups leave some trees untouched (else the cache saves nothing)


def test_scores_columns_tiers_and_as_of(scores, snapshots):
    assert scores.columns == list(SCORES_SCHEMA)
    assert scores.height == snapshots.filter(pl.col("is_scoring_snapshot")).height
    assert scores["as_of"].unique().to_list() == [SCORING_DATE]
    assert scores["churn_probability"].is_between(0, 1).all()
    expected = assign_risk_tiers(scores["churn_probability"], TIERS)
    assert scores["risk_tier"].equals(expected)
    assert (scores["status"] == "ok").all()


def test_reference_customers_are_real_rows_and_counterfactuals_stay_coherent(snapshots):
    X = prepare_features(snapshots.filter(pl.col("is_scoring_snapshot")).sort("customer_id"))
    for group in REASON_GROUPS:
        ref = reference_customer(X, group)
        real = X.filter(pl.all_horizontal(
            [(pl.col(c).is_nan() & pl.lit(ref[c] != ref[c])) | (pl.col(c) == ref[c])
             if c in NUMERIC_FEATURES else pl.col(c) == ref[c] for c in group.features]))
        assert real.height >= 1, group.name
        cf = _counterfactual(X, group, ref)
        # (the synthetic revenue is rounded to cents separately from the average order value)
        assert np.allclose(cf["revenue_total"], cf["orders_count"] * cf["avg_order_value"], rtol=1e-3)
        assert (cf["orders_last_30d"] <= cf["orders_last_90d"]).all()
        one_order = cf.filter(pl.col("orders_count") == 1)
        assert one_order["gap_mean_days"].is_nan().all()


def test_reasons_name_the_planted_drivers(scores):
    """Rating and recency drive the planted churn: among high-risk customers, purchase history
    and reviews are the commonest first reasons; a reason is always a positive effect."""
    high = scores.filter(pl.col("risk_tier") == "high")
    first = high["reason_1"].drop_nulls().str.split(":").list.first()
    top = first.value_counts(sort=True)["reason_1"].head(2).to_list()
    assert "purchase history" in top
    assert scores.filter(pl.col("reason_1").is_null() & pl.col("reason_2").is_not_null()).height == 0


class _RecencyOnlyModel:
    """A fixed, known model: logit = (days_since_last_order - 50) / 20."""

    def predict(self, X: pl.DataFrame) -> np.ndarray:
        return _sigmoid((X["days_since_last_order"].to_numpy() - 50.0) / 20.0)


def test_a_recency_only_model_gives_only_the_purchase_history_reason_with_its_words(snapshots):
    X = prepare_features(snapshots.filter(pl.col("is_scoring_snapshot")).sort("customer_id"))
    reasons = top_reasons(_RecencyOnlyModel(), X, top_k=3, min_delta=1e-3)
    assert reasons["reason_2"].null_count() == X.height
    ref = reference_customer(X, REASON_GROUPS[0])
    late = X["days_since_last_order"].to_numpy() > ref["days_since_last_order"] + 5
    assert reasons.filter(pl.Series(late))["reason_1"].str.starts_with(
        "purchase history: last order ").all()
    assert reasons.filter(pl.Series(~late & (X["days_since_last_order"].to_numpy() < ref["days_since_last_order"])))[
        "reason_1"].null_count() == int((X["days_since_last_order"].to_numpy() < ref["days_since_last_order"]).sum())
    sample = reasons.filter(pl.Series(late))["reason_1"][0]
    assert f"(typical: {round(ref['days_since_last_order'])} days ago, " in sample


# ---------------------------------------------------------------- degradation


def _relabel(snapshots: pl.DataFrame, value: int) -> pl.DataFrame:
    return snapshots.with_columns(
        pl.when(pl.col("is_scoring_snapshot")).then(None).otherwise(pl.lit(value)).alias("is_churned"))


def _assert_degraded_but_usable(models, snapshots, fallback, reason_words):
    assert models.height == 1
    row = models.row(0, named=True)
    assert row["role"] == "final" and row["status"] == "degraded" and row["model"] == fallback
    assert reason_words in row["status_reason"]
    scores = score_customers(models, snapshots, risk_tiers=TIERS, min_reason_delta=1e-3, n_threads=1)
    assert scores.height == snapshots.filter(pl.col("is_scoring_snapshot")).height
    assert (scores["status"] == "degraded").all()
    evaluation = evaluate_models(models, snapshots, n_bootstrap=10, random_state=1, n_threads=1)
    assert evaluation["split"].to_list() == ["not_evaluated"] and evaluation["is_selected"].all()
    assert calibration_table(models, snapshots, n_bins=10, n_threads=1).height == 0
    return scores


@pytest.mark.parametrize("label", [0, 1])
def test_a_single_churn_class_degrades_to_the_bgnbd_baseline(snapshots, label):
    data = _relabel(snapshots, label)
    models = fit_churn_models(data, bgnbd_summary_from(data), **SETTINGS)
    scores = _assert_degraded_but_usable(models, data, BGNBD, "single churn class")
    bgnbd = BGNBDChurnModel(**{k: v for k, v in vars(load_model(
        models["estimator"][0], models["estimator_sha256"][0])).items()})
    assert np.allclose(scores["churn_probability"].to_numpy(), bgnbd.predict(
        prepare_features(data.filter(pl.col("is_scoring_snapshot")).sort("customer_id"))))


def test_too_few_labelled_rows_degrade(snapshots):
    models = fit_churn_models(snapshots, bgnbd_summary_from(snapshots),
                              **{**SETTINGS, "min_training_rows": 100_000})
    _assert_degraded_but_usable(models, snapshots, BGNBD, "need >= 100000 rows")


def test_too_few_snapshots_for_the_gaps_degrade(snapshots):
    data = snapshots.filter(pl.col("is_scoring_snapshot") | (pl.col("snapshot_date") >= LABELLED_DATES[-3]))
    models = fit_churn_models(data, bgnbd_summary_from(data), **SETTINGS)
    _assert_degraded_but_usable(models, data, BGNBD, "too few to validate")


def test_no_repeat_buyers_fall_back_to_the_labelled_churn_rate(snapshots):
    models = fit_churn_models(snapshots, bgnbd_summary_from(snapshots).with_columns(
        pl.lit(0, dtype=pl.Int64).alias("frequency"), pl.lit(0.0).alias("recency_days")),
        **{**SETTINGS, "min_training_rows": 100_000})
    scores = _assert_degraded_but_usable(models, snapshots, "base_rate", "labelled churn rate")
    labelled = snapshots.filter(~pl.col("is_scoring_snapshot"))["is_churned"].mean()
    assert scores["churn_probability"].unique().to_list() == [pytest.approx(labelled)]


def test_no_snapshots_at_all_give_an_empty_degraded_build(snapshots):
    empty = snapshots.clear()
    models = fit_churn_models(empty, bgnbd_summary_from(empty), **SETTINGS)
    assert models.height == 1 and models["status"][0] == "degraded"
    assert "no labelled snapshot" in models["status_reason"][0]
    assert models["estimator"][0] is None
    assert score_customers(models, empty, risk_tiers=TIERS, min_reason_delta=1e-3, n_threads=1).height == 0


def test_no_labels_and_no_bgnbd_give_null_scores_that_say_why(snapshots):
    scoring_only = snapshots.filter(pl.col("is_scoring_snapshot"))
    summary = bgnbd_summary_from(scoring_only).with_columns(
        pl.lit(0, dtype=pl.Int64).alias("frequency"), pl.lit(0.0).alias("recency_days"))
    models = fit_churn_models(scoring_only, summary, **SETTINGS)
    scores = score_customers(models, scoring_only, risk_tiers=TIERS, min_reason_delta=1e-3, n_threads=1)
    assert scores.height == scoring_only.height
    assert scores["churn_probability"].null_count() == scores.height
    assert (scores["status"] == "degraded").all() and "null" in scores["status_reason"][0]


def test_a_single_class_test_snapshot_degrades_only_the_test_rows(snapshots):
    last = LABELLED_DATES[-1]
    data = snapshots.with_columns(
        pl.when(pl.col("snapshot_date") == last).then(pl.lit(1)).otherwise(pl.col("is_churned"))
        .alias("is_churned"))
    models = fit_churn_models(data, bgnbd_summary_from(data), **{**SETTINGS, "min_class_rows": 0})
    evaluation = evaluate_models(models, data, n_bootstrap=10, random_state=1, n_threads=1)
    assert (evaluation.filter(pl.col("split") == "test")["status"] == "degraded").all()
    assert (evaluation.filter((pl.col("split") == "validation") & (pl.col("model") != BGNBD))["status"] == "ok").all()


def test_reason_numbers_render_missing_and_nan_values_as_n_a():
    # a reference customer can lack a feature (no reviews: no average rating); the wording must
    # say so instead of failing the whole scoring run on a NaN -> integer cast
    from ecom_growth.churn.reasons import _fixed

    values = pl.DataFrame({"x": [1.234, float("nan"), None, -0.004]})
    out = values.select(_fixed(pl.col("x"), 0).alias("whole"), _fixed(pl.col("x"), 2).alias("cents"))
    assert out["whole"].to_list() == ["1", "n/a", "n/a", "0"]
    assert out["cents"].to_list() == ["1.23", "n/a", "n/a", "0.00"]
