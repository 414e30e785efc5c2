"""Fit metadata and the retrain-after-days rule (ecom_growth.model_store): ids are
deterministic, a stored fit is kept only while young enough in data time, consumers never fit,
and a kept ALS model folds in customers and products that are new since its fit."""

from __future__ import annotations

from datetime import datetime, timedelta

import numpy as np
import polars as pl
import pytest
from test_churn import SETTINGS, TIERS, bgnbd_summary_from, simulate_snapshots
from test_recommend_store import MINIMUMS, PARAMS, served, shop  # noqa: F401 (fixture)

import ecom_growth.churn.fit as churn_fit
import ecom_growth.churn.models as churn_models
import ecom_growth.recommend.store as als_store
from ecom_growth.churn import calibration_table, evaluate_models, fit_churn_models, score_customers
from ecom_growth.churn.store import churn_fit_id
from ecom_growth.model_store import (
    compute_fit_id,
    kept_fit,
    kept_with_fit,
    previous_relation,
    relation_digest,
    reusable_fit,
    reusable_with_fit,
    same_settings,
    settings_digest,
    stored_fit,
    with_fit_metadata,
    with_fit_of,
    with_settings_digest,
)
from ecom_growth.recommend.serve import serve_recommendations, similar_products_table
from ecom_growth.recommend.store import item_factor_table, user_factor_table

FITTED = datetime(2026, 6, 29, 18, 0)


def stored(status: str = "ok", fitted_at: datetime | None = FITTED, fit_id: str | None = "abc") -> pl.DataFrame:
    return with_fit_metadata(pl.DataFrame({"x": [1, 2], "status": [status, status]}), fit_id=fit_id, fitted_at=fitted_at)


def test_fit_id_is_deterministic_and_separates_its_parts():
    assert compute_fit_id(["ab", b"c"]) == compute_fit_id([b"ab", "c"])
    assert compute_fit_id(["ab", "c"]) != compute_fit_id(["a", "bc"])
    assert compute_fit_id([None]) == compute_fit_id([""]) != compute_fit_id([])
    assert len(compute_fit_id(["x"])) == 16


@pytest.mark.parametrize(("days", "age", "expected"), [
    (0, timedelta(hours=1), False),        # 0 = always refit
    (7, timedelta(0), True),               # same as_of
    (7, timedelta(days=6, hours=23), True),
    (7, timedelta(days=7), False),         # exactly the limit: refit
    (7, timedelta(days=-1), False),        # a backtest (as_of before the fit) refits
])
def test_a_stored_fit_is_kept_only_while_younger_than_the_limit_in_data_time(days, age, expected):
    assert reusable_fit(stored(), as_of=FITTED + age, retrain_after_days=days) is expected


def test_missing_degraded_or_mixed_fits_are_refitted():
    later = FITTED + timedelta(days=1)
    assert not reusable_fit(None, as_of=later, retrain_after_days=7)
    assert not reusable_fit(stored().head(0), as_of=later, retrain_after_days=7)
    assert not reusable_fit(pl.DataFrame({"status": ["ok"]}), as_of=later, retrain_after_days=7)
    assert not reusable_fit(stored(status="degraded"), as_of=later, retrain_after_days=7)
    assert reusable_fit(stored(status="degraded"), as_of=later, retrain_after_days=7, require_status_ok=False)
    assert not reusable_fit(stored(fitted_at=None), as_of=later, retrain_after_days=7)
    two_fits = pl.concat([stored(fit_id="a"), stored(fit_id="b")])
    assert stored_fit(two_fits) is None
    assert not reusable_fit(two_fits, as_of=later, retrain_after_days=7)


def test_a_stored_fit_is_kept_only_with_the_settings_it_was_made_with():
    later = FITTED + timedelta(days=1)
    digest = settings_digest({"factors": 64, "features": ["a", "b"]})
    assert digest == settings_digest({"features": ["a", "b"], "factors": 64})  # key order does not matter
    assert digest != settings_digest({"factors": 64, "features": ["a", "b", "c"]})  # a new feature
    assert digest != settings_digest({"factors": 32, "features": ["a", "b"]})  # a changed var
    model = with_settings_digest(stored(), digest)
    assert same_settings(model, digest)
    assert reusable_fit(model, as_of=later, retrain_after_days=7, settings=digest)
    other = settings_digest({"factors": 32, "features": ["a", "b"]})
    assert not reusable_fit(model, as_of=later, retrain_after_days=7, settings=other)
    # a table stored before settings were recorded (an older release) refits
    assert not same_settings(stored(), digest)
    assert not reusable_fit(stored(), as_of=later, retrain_after_days=7, settings=digest)
    # mixed digests (a partial overwrite) refit
    mixed = pl.concat([with_settings_digest(stored().head(1), digest), with_settings_digest(stored().tail(1), other)])
    assert not same_settings(mixed, digest)


def test_a_derived_table_is_kept_only_with_the_fit_it_was_computed_from():
    model = stored(fit_id="m1")
    derived = with_fit_of(pl.DataFrame({"metric": ["auc"]}), model)
    assert stored_fit(derived) == ("m1", FITTED)
    assert reusable_with_fit(derived, model, retrain_after_days=7)
    assert not reusable_with_fit(derived, model, retrain_after_days=0)
    assert not reusable_with_fit(derived, stored(fit_id="m2"), retrain_after_days=7)
    assert not reusable_with_fit(None, model, retrain_after_days=7)


def test_a_derived_table_is_kept_only_with_its_settings_and_when_required_only_if_ok():
    model, digest = stored(fit_id="m1"), settings_digest({"top_n": 10})
    derived = with_settings_digest(with_fit_of(pl.DataFrame({"status": ["ok", "ok"]}), model), digest)
    assert reusable_with_fit(derived, model, retrain_after_days=7, settings=digest, require_status_ok=True)
    assert not reusable_with_fit(derived, model, retrain_after_days=7, settings=settings_digest({"top_n": 5}))
    # computed before the table recorded its settings (an older release): recomputed
    assert not reusable_with_fit(with_fit_of(pl.DataFrame({"status": ["ok"]}), model), model, retrain_after_days=7,
                                 settings=digest)
    degraded = derived.with_columns(status=pl.Series(["ok", "degraded"]))
    assert reusable_with_fit(degraded, model, retrain_after_days=7, settings=digest)
    assert not reusable_with_fit(degraded, model, retrain_after_days=7, settings=digest, require_status_ok=True)
    assert not reusable_with_fit(derived, stored(fit_id="m2"), retrain_after_days=7, settings=digest,
                                 require_status_ok=True)
    assert not reusable_with_fit(derived, model, retrain_after_days=0, settings=digest, require_status_ok=True)


def test_ok_similar_products_read_only_the_stored_factors_so_a_kept_fit_may_keep_them(shop):  # noqa: F811
    """What lets ml_similar_products keep its table with a kept ALS fit: with an ok fit, new
    products and changed categories (dim_products) and new interactions change nothing."""
    interactions, _, products = shop
    items = item_factor_table(interactions, PARAMS, fitted_at=FITTED, **MINIMUMS)
    assert items.get_column("status").unique().to_list() == ["ok"]
    before = similar_products_table(items, products, None, n=3)
    changed = pl.concat([
        products.select(pl.col("product_id").cast(pl.String), pl.lit("another category").alias("category")),
        pl.DataFrame({"product_id": ["brand_new_product"], "category": ["new"]}),
    ])
    more = pl.concat([interactions, interactions.head(5).with_columns(pl.lit("newbie").alias("customer_id"))])
    assert similar_products_table(items, changed, more, n=3).equals(before)


def test_relation_digest_is_a_digest_of_the_rows_as_a_multiset():
    import duckdb

    con = duckdb.connect()
    con.execute("create table t as select * from (values (1, 2.5, 'x'), (2, null, 'y'), (3, 0.0, null)) v(a, b, c)")
    digest = relation_digest(con.sql("select * from t"))
    assert relation_digest(con.sql("select * from t order by a desc")) == digest
    assert relation_digest(con.sql("select a, b, c from t")) == digest
    changed = {
        "value": "select a, case when a = 1 then 2.6 else b end as b, c from t",
        "null": "select a, b, case when a = 3 then 'z' else c end as c from t",
        "duplicate": "select * from t union all select * from t where a = 1",
        "removed": "select * from t where a <> 2",
        "columns": "select a, b from t",
    }
    digests = {name: relation_digest(con.sql(sql)) for name, sql in changed.items()}
    assert digest not in digests.values() and len(set(digests.values())) == len(digests)
    assert relation_digest(con.sql("select * from t where false")) == relation_digest(con.sql("select * from t limit 0"))


def counting(monkeypatch, module, name) -> list:
    """Replace module.name by a wrapper that records each call."""
    calls, original = [], getattr(module, name)

    def wrapper(*args, **kwargs):
        calls.append(name)
        return original(*args, **kwargs)

    monkeypatch.setattr(module, name, wrapper)
    return calls


def test_als_is_fitted_once_and_every_consumer_reads_the_stored_factors(shop, monkeypatch):  # noqa: F811
    interactions, customers, products = shop
    fits = counting(monkeypatch, als_store, "fit_als")
    items = item_factor_table(interactions, PARAMS, fitted_at=FITTED, **MINIMUMS)
    users = user_factor_table(interactions, items)
    serve_recommendations(interactions, customers, evaluation=served("als", PARAMS), item_factors=items,
                          user_factors=users, n=5, filter_purchased=True)
    similar_products_table(items, products, interactions, n=5)
    assert fits == ["fit_als"]
    assert stored_fit(items) == (items.get_column("fit_id")[0], FITTED)
    assert set(users.get_column("fit_id")) == {items.get_column("fit_id")[0]}
    # same data and settings, same id; other settings, another id
    assert item_factor_table(interactions, PARAMS, fitted_at=FITTED, **MINIMUMS).get_column("fit_id")[0] == \
        items.get_column("fit_id")[0]
    assert item_factor_table(interactions, {**PARAMS, "random_state": 4}, fitted_at=FITTED, **MINIMUMS) \
        .get_column("fit_id")[0] != items.get_column("fit_id")[0]


def test_a_kept_als_model_folds_in_new_customers_and_skips_products_it_has_no_factors_for(shop, monkeypatch):  # noqa: F811
    interactions, customers, _ = shop
    items = item_factor_table(interactions, PARAMS, fitted_at=FITTED, **MINIMUMS)
    known = interactions.get_column("product_id").unique().sort()[:3].to_list()
    day_two = interactions.head(1).select(pl.exclude("customer_id", "product_id"))
    new_rows = pl.concat([
        day_two.with_columns(customer_id=pl.lit("newbie"), product_id=pl.lit(p)) for p in known
    ] + [day_two.with_columns(customer_id=pl.lit("newbie"), product_id=pl.lit("brand_new_product"))]
    ).select(interactions.columns)
    fits = counting(monkeypatch, als_store, "fit_als")
    users = user_factor_table(pl.concat([interactions, new_rows]), items)
    assert fits == []
    newbie = users.filter(pl.col("customer_id") == "newbie").get_column("factors").to_numpy()
    assert newbie.shape == (1, PARAMS["factors"]) and np.isfinite(newbie).all() and np.abs(newbie).sum() > 0
    # the customers who were there keep exactly the factors they had
    before = user_factor_table(interactions, items)
    after = users.filter(pl.col("customer_id") != "newbie")
    assert after.sort("customer_id").get_column("factors").to_list() == \
        before.sort("customer_id").get_column("factors").to_list()
    recs = serve_recommendations(pl.concat([interactions, new_rows]), customers, evaluation=served("als", PARAMS),
                                 item_factors=items, user_factors=users, n=5, filter_purchased=True)
    assert recs.filter(pl.col("customer_id") == "newbie").height == 5
    assert "brand_new_product" not in recs.get_column("product_id").to_list()


def test_churn_is_fitted_once_and_evaluation_calibration_and_scores_fit_nothing(monkeypatch):
    snapshots = simulate_snapshots(400)
    estimator_fits = counting(monkeypatch, churn_fit, "fit_estimator")
    models = fit_churn_models(snapshots, bgnbd_summary_from(snapshots), **SETTINGS)
    assert len(estimator_fits) > 0
    fitted = len(estimator_fits)
    calibrator_fits = counting(monkeypatch, churn_fit, "fit_calibrator")
    model_fits = counting(monkeypatch, churn_models, "fit_estimator")
    evaluate_models(models, snapshots, n_bootstrap=20, random_state=1, n_threads=1)
    calibration_table(models, snapshots, n_bins=5, n_threads=1)
    score_customers(models, snapshots, risk_tiers=TIERS, min_reason_delta=1e-3, n_threads=1)
    assert len(estimator_fits) == fitted and calibrator_fits == [] and model_fits == []
    # the id covers every stored estimator, whatever the row order
    assert churn_fit_id(models) == churn_fit_id(models.reverse())
    changed = models.with_columns(pl.when(pl.col("role") == "final").then(pl.lit("0" * 64))
                                  .otherwise(pl.col("estimator_sha256")).alias("estimator_sha256"))
    assert churn_fit_id(changed) != churn_fit_id(models)


class Relation:
    """What dbt.this gives a Python model: database, schema, identifier, repr = quoted name."""

    def __init__(self, database: str, schema: str, identifier: str) -> None:
        self.database, self.schema, self.identifier = database, schema, identifier

    def __repr__(self) -> str:
        return f'"{self.database}"."{self.schema}"."{self.identifier}"'


def test_dbt_models_read_their_previous_table_only_when_a_fit_may_be_kept():
    import duckdb

    con = duckdb.connect()
    database = con.execute("select current_database()").fetchall()[0][0]
    con.execute("create schema ml")
    this = Relation(database, "ml", "model_table")
    later = FITTED + timedelta(days=2)
    assert previous_relation(con, this) is None
    assert kept_fit(con, this, as_of=later, retrain_after_days=7) is None  # first build
    con.register("stored_frame", stored().to_arrow())
    con.execute("create table ml.model_table as select * from stored_frame")
    assert previous_relation(con, this).equals(stored())
    assert kept_fit(con, this, as_of=later, retrain_after_days=7).equals(stored())
    assert kept_fit(con, this, as_of=later, retrain_after_days=0) is None
    assert kept_fit(con, this, as_of=later, retrain_after_days=2) is None
    assert kept_fit(con, this, as_of=later, retrain_after_days=7, settings=settings_digest({"x": 1})) is None
    assert kept_with_fit(con, this, stored(), retrain_after_days=7).equals(stored())
    assert kept_with_fit(con, this, stored(fit_id="other"), retrain_after_days=7) is None
    assert kept_with_fit(con, this, stored(), retrain_after_days=7, settings=settings_digest({"x": 1})) is None
    assert kept_with_fit(con, this, stored(), retrain_after_days=7, require_status_ok=True).equals(stored())
