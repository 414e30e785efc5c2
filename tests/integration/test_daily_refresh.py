"""Train less often than you score (issue 16): a build on data ending day D-1, the raw data
regenerated with one more day (the simulator is prefix-stable: a day is appended), and a
rebuild with ml_retrain_after_days keeps every stored fit (same fit_id and fitted_at: ALS,
churn, CLV, review sentiment, ticket intents, uplift, the demand-forecast backtest and the price
elasticities, and the evaluations kept with them) while scoring the new day, new customers,
reviews and tickets included (the demand forecast and price recommendations are computed from
the kept backtest and elasticities; the similar products of the kept ALS fit are kept, as_of
moved; they, the demand forecast and the price recommendations (kept while their inputs are
unchanged) equal their recomputation); without the var the same data is refitted; with the var but
a changed setting (an ALS, churn, CLV, text, uplift, forecast or pricing var) the stored fits are
not kept. The recommender evaluation's inputs (int_evaluation_snapshots: training side and labels)
are kept or rebuilt as one snapshot, and the evaluation always reads one snapshot whole.
Runs its own small builds (hardening_support), not the warehouse of scripts/test.sh: four
builds of 4,000 customers and two of the recommender evaluation, about 4 minutes on 2 cores."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import duckdb
import pytest
from hardening_support import REPO, dbt_env, run_dbt

CUSTOMERS = 4000
DAY_ONE, DAY_TWO = "2026-06-29", "2026-06-30"
ML = ["-s", "+ml_recommendations", "+ml_similar_products", "+ml_churn_scores", "+ml_churn_model_evaluation",
      "+ml_churn_calibration", "+ml_clv_predictions", "+ml_uplift_scores", "+ml_uplift_evaluation",
      "+ml_demand_forecast", "+ml_price_recommendations"]
# fitted here, carrying settings_digest
FITTED_TABLES = ("ml_als_item_factors", "ml_recommender_evaluation", "ml_churn_model", "ml_clv_evaluation",
                 "ml_clv_model_parameters", "ml_review_text_model", "ml_ticket_intent_model", "ml_uplift_model",
                 "ml_uplift_evaluation", "ml_demand_forecast_evaluation", "ml_price_elasticity")
MODEL_TABLES = (*FITTED_TABLES, "ml_churn_model_evaluation", "ml_churn_calibration")
# scores of a stored fit: table -> (its model table, the key of what it scores)
SCORED = {"ml_clv_predictions": ("ml_clv_model_parameters", "customer_id"),
          "ml_review_sentiment": ("ml_review_text_model", "review_id"),
          "ml_ticket_intents": ("ml_ticket_intent_model", "ticket_id"),
          "ml_uplift_scores": ("ml_uplift_model", "customer_id")}
# recomputed on every build from a stored fit without a per-day key to score: table -> its model table
PRICED = {"ml_demand_forecast": "ml_demand_forecast_evaluation", "ml_price_recommendations": "ml_price_elasticity"}
# the raw rows each scored table must cover: key, raw table, its time column
NEW_ROWS = {"ml_clv_predictions": ("customer_id", "orders", "ordered_at"),
            "ml_review_sentiment": ("review_id", "reviews", "created_at"),
            "ml_ticket_intents": ("ticket_id", "support_tickets", "created_at"),
            "ml_uplift_scores": ("customer_id", "orders", "ordered_at")}
# every build: 4,000 customers leave ~160 control sends to train the uplift evaluation on (the
# default guard of 200 would degrade it, and a degraded fit is never kept)
BASE_VARS = "uplift_min_sends_per_arm: 100"
DAILY = "ml_retrain_after_days: 7"
CHANGED_SETTINGS = (f"{DAILY}, als_iterations: 9, churn_random_state: 8, clv_min_repeat_buyers: 21, "
                    "text_random_state: 43, uplift_random_state: 43, forecast_seed: 43, pricing_confidence_level: 0.9, "
                    "recommender_validation_days: 29")
# the value per key compared between builds
SCORE_VALUES = {"ml_clv_predictions": "expected_purchases_365d", "ml_review_sentiment": "sentiment_score",
                "ml_ticket_intents": "predicted_intent", "ml_uplift_scores": "sum(uplift)"}


def generate(out: Path, end: str) -> Path:
    subprocess.run([sys.executable, "-m", "ecom_growth", "-q", "generate", "--customers", str(CUSTOMERS),
                    "--seed", "11", "--end", end, "--out", str(out)],
                   check=True, capture_output=True, env={**os.environ, "PYTHONPATH": str(REPO / "python")})
    return out


def state(db: Path) -> dict:
    with duckdb.connect(str(db), read_only=True) as con:
        fits = {t: con.execute(f"select distinct fit_id, fitted_at, status from ml.{t} order by all").fetchall() for t in MODEL_TABLES}
        digests = {t: con.execute(f"select distinct settings_digest from ml.{t} order by all").fetchall() for t in FITTED_TABLES}
        return {
            "fits": fits,
            "digests": digests,
            "as_of": con.execute("select as_of from intermediate.int_as_of").fetchone()[0],
            "user_fit": con.execute("select distinct fit_id from ml.ml_als_user_factors").fetchall(),
            "users": {r[0] for r in con.execute("select customer_id from ml.ml_als_user_factors").fetchall()},
            "als_recommended": {r[0] for r in con.execute(
                "select distinct customer_id from ml.ml_recommendations where source = 'als'").fetchall()},
            "scored": con.execute("select as_of, count(*), count(churn_probability) from ml.ml_churn_scores "
                                  "group by as_of").fetchall(),
            "probabilities": dict(con.execute("select customer_id, churn_probability from ml.ml_churn_scores").fetchall()),
            "scored_fits": {t: con.execute(f"select distinct fit_id from ml.{t}").fetchall() for t in (*SCORED, *PRICED)},
            "scored_values": {t: dict(con.execute(f"select {key}, {SCORE_VALUES[t]} from ml.{t} group by all").fetchall())
                              for t, (_, key) in SCORED.items()},
            "snapshot": snapshot_state(con),
            "similar": con.sql("select * from ml.ml_similar_products order by product_id, rank").pl(),
            "kept_when_unchanged": {t: con.sql(f"select * from ml.{t} order by all").pl() for t in KEPT_WHEN_UNCHANGED},
        }


# --- the recommender evaluation's inputs: one evaluation snapshot, kept or rebuilt as a unit -------
SNAPSHOT_INPUTS = ("int_user_item_interactions_before_holdout", "int_holdout_purchases")
EVALUATION = ["-s", "+ml_recommender_evaluation"]


def snapshot_state(con: duckdb.DuckDBPyConnection) -> dict:
    """The decided snapshot, what its two input tables and the evaluation hold, and the labels
    restated from staging at the decided cutoffs."""
    decided = con.execute("select as_of, test_cutoff_at, validation_cutoff_at, settings_digest, is_kept, build_as_of "
                          "from intermediate.int_evaluation_snapshots where evaluation = 'recommender'").fetchall()
    assert len(decided) == 1
    as_of, test_cutoff, validation_cutoff, *_ = decided[0]
    restated = con.execute(
        "select distinct case when o.ordered_at > ? then 'test' else 'validation' end, o.customer_id, i.product_id "
        "from intermediate.int_completed_orders as o inner join staging.stg_shop__order_items as i on o.order_id = i.order_id "
        "where o.ordered_at > ? and o.ordered_at <= ?", [test_cutoff, validation_cutoff, as_of]).fetchall()
    return {
        "decided": dict(zip(("as_of", "test_cutoff", "validation_cutoff", "digest", "is_kept", "build_as_of"), decided[0])),
        "inputs": {t: con.execute(f"select distinct as_of, settings_digest from intermediate.{t}").fetchall()
                   for t in SNAPSHOT_INPUTS},
        "training_rows": con.execute(f"select count(*) from intermediate.{SNAPSHOT_INPUTS[0]}").fetchone()[0],
        "training_end": dict(con.execute(f"select split, max(last_interaction_at) from intermediate.{SNAPSHOT_INPUTS[0]} "
                                         "group by split").fetchall()),
        "labels": set(con.execute(f"select split, customer_id, product_id from intermediate.{SNAPSHOT_INPUTS[1]}").fetchall()),
        "restated_labels": set(restated),
        "evaluation": con.execute("select distinct as_of, snapshot_settings_digest, fit_id, fitted_at "
                                  "from ml.ml_recommender_evaluation").fetchall(),
    }


def snapshot_build(work: Path, source_db: Path, raw: Path, name: str, extra_vars: str, *, drop_evaluation: bool = False) -> dict:
    """The recommender evaluation and its inputs built at DAY_TWO on a copy of the day-one warehouse."""
    db = work / f"{name}.duckdb"
    shutil.copy(source_db, db)
    if drop_evaluation:  # as if the evaluation had to rerun (e.g. an ALS var changed) while the snapshot is kept
        with duckdb.connect(str(db)) as con:
            con.execute("drop table ml.ml_recommender_evaluation")
    variables = "{" + f"as_of: '{DAY_TWO} 23:59:59', {BASE_VARS}, {extra_vars}" + "}"
    result = run_dbt(["run", *EVALUATION, "--vars", variables], dbt_env(work, raw, db))
    assert result.returncode == 0, result.stdout[-4000:]
    with duckdb.connect(str(db), read_only=True) as con:
        return snapshot_state(con)


def build(work: Path, raw: Path, db: Path, day: str, extra_vars: str | None = None) -> dict:
    # as_of at the end of the data's last day (a nightly build): the new day is scored whole
    variables = "{" + ", ".join(filter(None, [f"as_of: '{day} 23:59:59'", BASE_VARS, extra_vars])) + "}"
    result = run_dbt(["run", *ML, "--vars", variables], dbt_env(work, raw, db))
    assert result.returncode == 0, result.stdout[-4000:]
    return state(db)


# tables a daily build keeps when what they are computed from is unchanged
KEPT_WHEN_UNCHANGED = ("ml_similar_products", "ml_demand_forecast", "ml_price_recommendations")


def recomputed(work: Path, raw: Path, source_db: Path) -> dict:
    """KEPT_WHEN_UNCHANGED recomputed (var ml_retrain_after_days 0: nothing is kept) on a copy of
    the day-two warehouse."""
    db = work / "recomputed.duckdb"
    shutil.copy(source_db, db)
    variables = "{" + f"as_of: '{DAY_TWO} 23:59:59', {BASE_VARS}, ml_retrain_after_days: 0" + "}"
    result = run_dbt(["run", "-s", *KEPT_WHEN_UNCHANGED, "--vars", variables], dbt_env(work, raw, db))
    assert result.returncode == 0, result.stdout[-4000:]
    with duckdb.connect(str(db), read_only=True) as con:
        return {t: con.sql(f"select * from ml.{t} order by all").pl() for t in KEPT_WHEN_UNCHANGED}


@pytest.fixture(scope="module")
def builds(tmp_path_factory) -> dict[str, dict]:
    work = tmp_path_factory.mktemp("daily_refresh")
    before, after = generate(work / "raw_before", DAY_ONE), generate(work / "raw_after", DAY_TWO)
    db = work / "warehouse.duckdb"
    seeded = run_dbt(["seed"], dbt_env(work, before, db))
    assert seeded.returncode == 0, seeded.stdout[-4000:]
    day_one = build(work, before, db, DAY_ONE)
    shutil.copy(db, work / "day_one.duckdb")
    day_two_kept = build(work, after, db, DAY_TWO, DAILY)
    return {
        "raw_after": after,
        "day_one_db": work / "day_one.duckdb",
        "day_one": day_one,
        "day_two_kept": day_two_kept,
        "recomputed": recomputed(work, after, db),
        "day_two_refit": build(work, after, db, DAY_TWO),
        "day_two_changed_settings": build(work, after, db, DAY_TWO, CHANGED_SETTINGS),
    }


def new_day_keys(raw: Path, table: str, since: object, until: object) -> set[str]:
    """Keys of ``table``'s raw rows (completed orders only) timed in [since, until]."""
    key, source, column = NEW_ROWS[table]
    completed = "and status = 'completed'" if source == "orders" else ""
    with duckdb.connect() as con:
        return {r[0] for r in con.execute(
            f"select distinct {key} from read_parquet('{raw / source}.parquet') "
            f"where try_cast({column} as timestamp) between ? and ? {completed}", [since, until]).fetchall()}


def test_the_first_build_fits_every_model_once_at_its_as_of(builds):
    first = builds["day_one"]
    for table, fits in first["fits"].items():
        assert len({(f, at) for f, at, _ in fits}) == 1, table
        assert fits[0][1] == first["as_of"], table
        assert {s for *_, s in fits} <= {"ok"} or table != "ml_als_item_factors"
    assert first["user_fit"] == [(first["fits"]["ml_als_item_factors"][0][0],)]
    for table, (model, _) in SCORED.items():
        assert first["scored_fits"][table] == [(first["fits"][model][0][0],)], table
    for table, model in PRICED.items():
        assert first["scored_fits"][table] == [(first["fits"][model][0][0],)], table
        assert {s for *_, s in first["fits"][model]} <= {"ok"}, f"{model}: degraded fits are never kept"


def test_a_daily_build_keeps_every_stored_fit(builds):
    first, kept = builds["day_one"], builds["day_two_kept"]
    assert kept["as_of"] > first["as_of"]
    for table in MODEL_TABLES:
        assert kept["fits"][table] == first["fits"][table], table
    assert kept["user_fit"] == first["user_fit"]
    assert kept["scored_fits"] == first["scored_fits"]


def test_a_daily_build_scores_the_new_day_and_folds_in_new_customers(builds):
    first, kept = builds["day_one"], builds["day_two_kept"]
    new_users = kept["users"] - first["users"]
    assert new_users, "the appended day brought no customer with interactions"
    assert new_users <= kept["als_recommended"]
    (scoring_date, rows, probabilities), = kept["scored"]
    assert scoring_date > first["scored"][0][0] and rows == probabilities > 0
    # the stored estimator sees each customer one day later (recency moved): scores move too
    common = kept["probabilities"].keys() & first["probabilities"].keys()
    assert any(kept["probabilities"][c] != first["probabilities"][c] for c in common)


def test_a_daily_build_scores_the_new_days_customers_reviews_and_tickets_with_the_kept_fits(builds):
    first, kept = builds["day_one"], builds["day_two_kept"]
    for table in SCORED:
        new = new_day_keys(builds["raw_after"], table, first["as_of"] + timedelta(microseconds=1), kept["as_of"])
        assert new, f"{table}: the appended day brought nothing to score"
        scored, before = kept["scored_values"][table], first["scored_values"][table]
        assert new <= scored.keys(), table
        # new reviews and tickets, and customers whose history grew: scored anew
        assert any(before.get(key) != scored[key] for key in new), table


def test_a_daily_build_keeps_the_similar_products_of_the_kept_fit_and_moves_their_as_of(builds):
    from polars.testing import assert_frame_equal

    first, kept = builds["day_one"], builds["day_two_kept"]
    item_fit = kept["fits"]["ml_als_item_factors"][0][:2]
    for state in (first, kept):
        assert state["similar"].select("fit_id", "fitted_at").unique().rows() == [item_fit]
        assert state["similar"].get_column("status").unique().to_list() == ["ok"]
    assert kept["similar"].get_column("as_of").unique().to_list() == [kept["as_of"]]
    assert_frame_equal(kept["similar"].drop("as_of"), first["similar"].drop("as_of"), check_exact=True)


def test_what_a_daily_build_keeps_equals_its_recomputation(builds):
    """Similar products, the demand forecast and the price recommendations, kept or not, are
    exactly what a recomputation from the same stored fits and data gives."""
    from polars.testing import assert_frame_equal

    kept = builds["day_two_kept"]["kept_when_unchanged"]
    for table in KEPT_WHEN_UNCHANGED:
        assert kept[table].height > 0, table
        assert_frame_equal(kept[table], builds["recomputed"][table], check_exact=True)


def test_without_the_var_the_same_data_is_refitted(builds):
    kept, refit = builds["day_two_kept"], builds["day_two_refit"]
    for table in MODEL_TABLES:
        assert {at for _, at, _ in refit["fits"][table]} == {refit["as_of"]}, table
    assert refit["fits"]["ml_als_item_factors"][0][0] != kept["fits"]["ml_als_item_factors"][0][0]
    assert refit["similar"].select("fit_id", "fitted_at").unique().rows() == [refit["fits"]["ml_als_item_factors"][0][:2]]


def test_a_changed_setting_refits_even_with_the_var(builds):
    refit, changed = builds["day_two_refit"], builds["day_two_changed_settings"]
    for table in FITTED_TABLES:
        assert len(refit["digests"][table]) == len(changed["digests"][table]) == 1, table
        assert changed["digests"][table] != refit["digests"][table], table
    # same as_of, so fitted_at is equal: the new fit shows in fit_id
    for table in ("ml_als_item_factors", "ml_churn_model", "ml_review_text_model", "ml_ticket_intent_model",
                  "ml_uplift_model"):
        assert changed["fits"][table] != refit["fits"][table], table
    assert changed["user_fit"] == [(changed["fits"]["ml_als_item_factors"][0][0],)]
    for table, model in [(t, m) for t, (m, _) in SCORED.items()] + list(PRICED.items()):
        assert changed["scored_fits"][table] == [(changed["fits"][model][0][0],)], table


# --- text scoring of a daily build (issue 16): only new or changed texts are scored ---------------
TEXT = ["-s", "+ml_review_sentiment", "+ml_ticket_intents"]
TEXT_KEYS = {"ml_review_sentiment": "review_id", "ml_ticket_intents": "ticket_id"}


def text_tables(db: Path) -> dict:
    with duckdb.connect(str(db), read_only=True) as con:
        return {t: con.sql(f"select * from ml.{t}").pl().sort(key) for t, key in TEXT_KEYS.items()}


def text_build(work: Path, raw: Path, db: Path, day: str, models: list[str], extra_vars: str) -> dict:
    variables = "{" + f"as_of: '{day} 23:59:59', {extra_vars}" + "}"
    result = run_dbt(["run", *models, "--vars", variables], dbt_env(work, raw, db))
    assert result.returncode == 0, result.stdout[-4000:]
    return text_tables(db)


def edited_day_two(raw_after: Path, out: Path) -> tuple[Path, dict[str, str]]:
    """raw_after with one old ticket resolved since, one old review edited and one removed (as if
    quarantined): the changes a daily build must not miss. Returns (raw dir, what was changed)."""
    out.mkdir()
    for source in raw_after.glob("*.parquet"):
        if source.stem not in ("reviews", "support_tickets"):
            (out / source.name).symlink_to(source)
    with duckdb.connect() as con:
        ticket = con.execute(f"select min(ticket_id) from read_parquet('{raw_after}/support_tickets.parquet') "
                             f"where status = 'open' and created_at < '{DAY_ONE}'").fetchone()[0]
        edited, removed = con.execute(f"select min(review_id), max(review_id) from read_parquet('{raw_after}/reviews.parquet') "
                                      f"where created_at < '{DAY_ONE}'").fetchone()
        con.execute(f"copy (select * replace (case when ticket_id = '{ticket}' then 'resolved' else status end as status, "
                    f"case when ticket_id = '{ticket}' then timestamp '{DAY_TWO} 10:00:00' else resolved_at end as resolved_at) "
                    f"from read_parquet('{raw_after}/support_tickets.parquet')) to '{out}/support_tickets.parquet'")
        con.execute(f"copy (select * replace (case when review_id = '{edited}' then 'Arrived broken, awful.' "
                    f"else review_text end as review_text) from read_parquet('{raw_after}/reviews.parquet') "
                    f"where review_id <> '{removed}') to '{out}/reviews.parquet'")
    return out, {"ticket": ticket, "edited": edited, "removed": removed}


@pytest.fixture(scope="module")
def text_builds(builds, tmp_path_factory) -> dict:
    work = tmp_path_factory.mktemp("daily_text")
    before = builds["raw_after"].parent / "raw_before"
    after, changes = edited_day_two(builds["raw_after"], work / "raw_edited")
    db = work / "warehouse.duckdb"
    seeded = run_dbt(["seed"], dbt_env(work, before, db))
    assert seeded.returncode == 0, seeded.stdout[-4000:]
    day_one = text_build(work, before, db, DAY_ONE, TEXT, DAILY)
    daily = text_build(work, after, db, DAY_TWO, TEXT, DAILY)
    # the same stored models, every text scored from scratch (the var at 0 reads no previous table)
    scratch = text_build(work, after, db, DAY_TWO, ["-s", *TEXT_KEYS], "ml_retrain_after_days: 0")
    return {"day_one": day_one, "daily": daily, "scratch": scratch, "changes": changes}


def test_a_daily_text_build_equals_scoring_everything_with_the_kept_model(text_builds):
    from polars.testing import assert_frame_equal

    for table in TEXT_KEYS:
        daily, scratch = text_builds["daily"][table], text_builds["scratch"][table]
        assert daily["fit_id"].unique().to_list() == text_builds["day_one"][table]["fit_id"].unique().to_list(), table
        assert_frame_equal(daily, scratch, check_exact=True)


def test_a_daily_text_build_rescores_exactly_the_new_and_changed_texts_and_drops_removed_ones(text_builds):
    changes = text_builds["changes"]
    changed = {"ml_review_sentiment": {changes["edited"]}, "ml_ticket_intents": {changes["ticket"]}}
    for table, key in TEXT_KEYS.items():
        before, daily = text_builds["day_one"][table], text_builds["daily"][table]
        new = set(daily[key]) - set(before[key])
        assert new, f"{table}: the appended day brought no text"
        rescored = set(daily.join(before, on=[key, "input_digest"], how="anti")[key])
        assert rescored == new | changed[table], table
    assert changes["removed"] not in set(text_builds["daily"]["ml_review_sentiment"]["review_id"])


@pytest.fixture(scope="module")
def snapshot_builds(builds, tmp_path_factory) -> dict:
    work = tmp_path_factory.mktemp("evaluation_snapshot")
    return {
        # the day-one snapshot is exactly one day old: outside a one-day retrain window
        "window": snapshot_build(work, builds["day_one_db"], builds["raw_after"], "window", "ml_retrain_after_days: 1"),
        "rerun": snapshot_build(work, builds["day_one_db"], builds["raw_after"], "rerun", DAILY, drop_evaluation=True),
    }


def _holds_one_snapshot(snapshot: dict) -> None:
    decided = snapshot["decided"]
    for table in SNAPSHOT_INPUTS:
        assert snapshot["inputs"][table] == [(decided["as_of"], decided["digest"])], table
    # no label window overlaps its training window: validation trains up to its cutoff, its labels
    # start after it; test trains up to the next cutoff, its labels run to the snapshot's as_of
    assert snapshot["training_end"]["validation"] <= decided["validation_cutoff"] < decided["test_cutoff"]
    assert snapshot["training_end"]["test"] <= decided["test_cutoff"] < decided["as_of"]
    assert snapshot["labels"] == snapshot["restated_labels"]
    assert {split for split, *_ in snapshot["labels"]} == {"validation", "test"}


def test_without_the_var_the_evaluation_snapshot_is_built_at_the_builds_as_of(builds):
    for name in ("day_one", "day_two_refit"):
        snapshot = builds[name]["snapshot"]
        assert snapshot["decided"]["as_of"] == snapshot["decided"]["build_as_of"] == builds[name]["as_of"], name
        assert not snapshot["decided"]["is_kept"], name
        assert snapshot["decided"]["test_cutoff"] == builds[name]["as_of"] - timedelta(days=30), name
        _holds_one_snapshot(snapshot)
        assert [row[:2] for row in snapshot["evaluation"]] == [(builds[name]["as_of"], snapshot["decided"]["digest"])]


def test_a_daily_build_keeps_the_evaluation_snapshot_whole(builds):
    first, kept = builds["day_one"]["snapshot"], builds["day_two_kept"]["snapshot"]
    assert kept["decided"]["is_kept"]
    assert kept["decided"]["as_of"] == builds["day_one"]["as_of"] < kept["decided"]["build_as_of"] == builds["day_two_kept"]["as_of"]
    assert kept["inputs"] == first["inputs"]
    assert kept["training_rows"] == first["training_rows"] and kept["labels"] == first["labels"]
    # the kept labels are exactly those at the snapshot's cutoffs (restated from the day-two data),
    # not at the build's: the day-two build with the var 0 has other labels
    _holds_one_snapshot(kept)
    assert builds["day_two_refit"]["snapshot"]["labels"] != kept["labels"]
    assert kept["evaluation"] == first["evaluation"]


def test_a_snapshot_older_than_the_retrain_window_is_rebuilt(builds, snapshot_builds):
    window = snapshot_builds["window"]
    assert not window["decided"]["is_kept"]
    assert window["decided"]["as_of"] == window["decided"]["build_as_of"] > builds["day_one"]["as_of"]
    _holds_one_snapshot(window)
    assert window["labels"] == builds["day_two_refit"]["snapshot"]["labels"]
    assert [row[:2] for row in window["evaluation"]] == [(window["decided"]["as_of"], window["decided"]["digest"])]


def test_a_changed_snapshot_setting_rebuilds_the_snapshot_even_with_the_var(builds):
    refit, changed = builds["day_two_refit"]["snapshot"], builds["day_two_changed_settings"]["snapshot"]
    assert not changed["decided"]["is_kept"]
    assert changed["decided"]["digest"] != refit["decided"]["digest"]
    assert changed["decided"]["validation_cutoff"] == changed["decided"]["test_cutoff"] - timedelta(days=29)
    _holds_one_snapshot(changed)
    assert changed["labels"] != refit["labels"]


def test_an_evaluation_rerun_on_a_kept_snapshot_is_the_evaluation_at_the_snapshots_cutoff(builds, snapshot_builds):
    """The evaluation reruns at day two while the day-one snapshot is kept: it evaluates that
    snapshot whole (its as_of, its labels), so its rows are exactly day one's evaluation."""
    rerun, first = snapshot_builds["rerun"], builds["day_one"]["snapshot"]
    assert rerun["decided"]["is_kept"] and rerun["decided"]["as_of"] == builds["day_one"]["as_of"]
    _holds_one_snapshot(rerun)
    (as_of, digest, fit_id, fitted_at), = rerun["evaluation"]
    assert (as_of, digest) == (first["decided"]["as_of"], first["decided"]["digest"])
    assert fitted_at > as_of  # rerun by the day-two build ...
    assert fit_id == first["evaluation"][0][2]  # ... on the same rows: the same table as day one's
