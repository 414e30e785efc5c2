"""The final ALS model as tables: fit once, score from storage bit-identically, degrade cleanly."""

from __future__ import annotations

import json

import numpy as np
import polars as pl
import pytest
from polars.testing import assert_frame_equal

from ecom_growth.recommend import (
    fit_als,
    interaction_matrix,
    recommend_top_n,
    similar_products,
    synthetic_purchases,
)
from ecom_growth.recommend.als import solve_users
from ecom_growth.recommend.evaluation import temporal_split
from ecom_growth.recommend.serve import serve_recommendations, similar_products_table
from ecom_growth.recommend.store import (
    item_factor_table,
    stored_model,
    user_factor_table,
)

PARAMS = {"weighting": "log", "alpha": 5.0, "log_eps": 1.0, "factors": 8, "regularization": 0.1,
          "iterations": 5, "random_state": 3}
MINIMUMS = {"min_users": 20, "min_items": 5, "min_interactions": 100}


def served(family: str, params: dict | None = None) -> pl.DataFrame:
    """A minimal evaluation table whose validation winner is ``family``."""
    return pl.DataFrame({"split": ["validation"], "model": [family], "is_served": [True], "is_selected": [True],
                         "hyperparameters": [json.dumps(params or {})]})


@pytest.fixture(scope="module")
def shop():
    events = synthetic_purchases(300, 60, rank=4, seed=9)
    interactions, _ = temporal_split(events, cutoff=1.0, time_col="purchased_at")
    customers = pl.DataFrame({"customer_id": [*interactions.get_column("customer_id").unique().sort(), "newbie"]}) \
        .with_columns(acquisition_channel=pl.lit("organic"))
    products = interactions.select("product_id").unique().with_columns(category=pl.lit("c"))
    return interactions, customers, products


def to_warehouse_and_back(frame: pl.DataFrame) -> pl.DataFrame:
    """Through Arrow/Parquet, the way dbt-duckdb stores and returns the table."""
    import io

    buffer = io.BytesIO()
    frame.write_parquet(buffer)
    buffer.seek(0)
    return pl.read_parquet(buffer)


def test_scoring_from_stored_factors_is_bit_identical_to_scoring_right_after_the_fit(shop):
    interactions, customers, _ = shop
    # right after the fit: the fitted model, with users solved against its final item factors
    matrix, maps = interaction_matrix(interactions, weighting="log", alpha=5.0, log_eps=1.0)
    model = fit_als(matrix, factors=8, regularization=0.1, iterations=5, random_state=3)
    model.user_factors = solve_users(model, matrix)
    direct = recommend_top_n(model, matrix, maps, customers, interactions=interactions, n=10)
    direct_similar = similar_products(model, maps, n=5)
    # from the tables
    items = to_warehouse_and_back(item_factor_table(interactions, PARAMS, **MINIMUMS))
    users = to_warehouse_and_back(user_factor_table(interactions, items))
    assert np.array_equal(items.get_column("factors").to_numpy(), model.item_factors)
    assert np.array_equal(users.get_column("factors").to_numpy(), model.user_factors)
    stored = serve_recommendations(interactions, customers, evaluation=served("als", PARAMS), item_factors=items,
                                   user_factors=users, n=10, filter_purchased=True)
    assert stored.select(direct.columns).equals(direct)
    assert set(stored.get_column("status")) == {"ok"}
    similar = similar_products_table(items, shop[2], interactions, n=5)
    assert similar.select(direct_similar.columns).equals(direct_similar)


def test_fit_metadata_is_recorded(shop):
    interactions, *_ = shop
    items = item_factor_table(interactions, PARAMS, **MINIMUMS)
    row = items.row(0, named=True)
    assert json.loads(row["hyperparameters"]) == PARAMS
    assert row["weighting"] == "log" and row["factor_count"] == 8
    assert row["n_users"] == interactions.get_column("customer_id").n_unique()
    assert row["n_items"] == items.height == interactions.get_column("product_id").n_unique()
    assert row["n_interactions"] == interactions.height
    assert row["fit_seconds"] >= 0 and row["library_version"].startswith("implicit ")
    assert row["status"] == "ok" and row["status_reason"] is None
    assert items.schema["factors"] == pl.Array(pl.Float32, 8)


def test_new_customers_are_folded_in_by_the_same_solve(shop):
    interactions, *_ = shop
    items = item_factor_table(interactions, PARAMS, **MINIMUMS)
    users = user_factor_table(interactions, items)
    # a stored user table without the last customer: the solve fills them in identically
    model, _ = stored_model(interactions, items, users=users.head(users.height - 1))
    assert np.array_equal(model.user_factors, users.get_column("factors").to_numpy())


def test_products_without_stored_factors_are_left_out_of_the_solve(shop):
    # a kept model (ml_retrain_after_days) has no factors for products first seen since its fit
    interactions, *_ = shop
    items = item_factor_table(interactions, PARAMS, **MINIMUMS)
    dropped = items.get_column("product_id")[-1]
    kept_items = items.filter(pl.col("product_id") != dropped)
    model, maps = stored_model(interactions, kept_items, users=None)
    assert dropped not in maps.item_ids.to_list()
    # the solve saw the other products' interactions only: the same factors as without its rows
    without, without_maps = stored_model(interactions.filter(pl.col("product_id") != dropped), kept_items, users=None)
    assert without_maps.user_ids.equals(maps.user_ids)
    assert np.array_equal(model.user_factors, without.user_factors)


def test_stored_user_factors_need_no_confidence_matrix(shop, monkeypatch):
    # every customer has stored factors: serving never builds the confidence matrix (at 1M
    # customers its copies were a GB of ml_recommendations' peak); a missing one needs it
    import ecom_growth.recommend.store as store

    interactions, *_ = shop
    items = item_factor_table(interactions, PARAMS, **MINIMUMS)
    users = user_factor_table(interactions, items)
    built = []
    real = store.rows_matrix
    monkeypatch.setattr(store, "rows_matrix", lambda *a, **k: built.append(1) or real(*a, **k))
    model, maps = stored_model(interactions, items, users=users)
    assert built == [] and maps.user_ids.equals(users.get_column("customer_id"))
    assert np.array_equal(model.user_factors, users.get_column("factors").to_numpy())
    stored_model(interactions, items, users=users.head(users.height - 1))
    assert built == [1]


@pytest.mark.parametrize(
    ("interactions", "reason"),
    [
        (pl.DataFrame({"customer_id": [f"c{i}" for i in range(40)], "product_id": ["only"] * 40,
                       "strength": [1.0] * 40, "purchase_count": [1] * 40}), "1 products with interactions (< 5)"),
        (pl.DataFrame({"customer_id": ["a", "b", "c"] * 10, "product_id": [f"p{i}" for i in range(30)],
                       "strength": [1.0] * 30, "purchase_count": [1] * 30}), "3 customers with interactions (< 20)"),
        (pl.DataFrame(schema={"customer_id": pl.String, "product_id": pl.String, "strength": pl.Float64,
                              "purchase_count": pl.Int64}), "0 interactions (< 100)"),
    ],
    ids=["one-product catalogue", "too few customers", "no interactions"],
)
def test_too_little_data_degrades_to_popularity_and_the_build_goes_on(interactions, reason):
    customers = pl.DataFrame({"customer_id": ["a", "c0", "zz"], "acquisition_channel": ["x", "x", None]})
    products = pl.DataFrame({"product_id": ["only", "p0", "p1"], "category": ["k", "k", "k"]})
    items = item_factor_table(interactions, PARAMS, **MINIMUMS)
    assert set(items.get_column("status")) == {"degraded"}
    assert reason in items.get_column("status_reason")[0]
    assert items.get_column("factors").null_count() == items.height >= 1
    users = user_factor_table(interactions, items)
    assert users.height == 1 and users.get_column("status")[0] == "degraded"
    recs = serve_recommendations(interactions, customers, evaluation=served("als", PARAMS), item_factors=items,
                                 user_factors=users, n=3, filter_purchased=True)
    assert set(recs.get_column("status")) <= {"degraded"}
    assert set(recs.get_column("source")) <= {"popular_in_channel", "popular_global"}
    if interactions.height:
        assert reason in recs.get_column("status_reason")[0]
        # every customer who has not bought the whole catalogue still gets a popular product
        assert recs.get_column("customer_id").n_unique() >= 1
    similar = similar_products_table(items, products, interactions, n=2)
    assert set(similar.get_column("status")) <= {"degraded"}
    assert similar.filter(pl.col("product_id") == pl.col("similar_product_id")).height == 0


def test_degraded_similar_products_are_the_category_best_sellers():
    interactions = pl.DataFrame({
        "customer_id": ["a", "b", "c", "a", "b", "a"], "product_id": ["x", "x", "x", "y", "y", "z"],
        "strength": [1.0] * 6, "purchase_count": [1] * 6,
    })
    products = pl.DataFrame({"product_id": ["x", "y", "z"], "category": ["k", "k", "k"]})
    items = item_factor_table(interactions, PARAMS, **MINIMUMS)
    similar = similar_products_table(items, products, interactions, n=2)
    assert similar.filter(pl.col("product_id") == "z").select("similar_product_id", "score").rows() == \
        [("x", 3.0), ("y", 2.0)]
    assert similar.filter(pl.col("product_id") == "x").get_column("similar_product_id").to_list() == ["y", "z"]


def test_a_served_baseline_is_computed_without_als(shop):
    interactions, customers, _ = shop
    items = item_factor_table(interactions, PARAMS, **MINIMUMS)
    users = user_factor_table(interactions, items)
    knn = serve_recommendations(interactions, customers, evaluation=served("item_knn", {"neighbours": 20, "shrinkage": 5.0}),
                                item_factors=items, user_factors=users, n=5, filter_purchased=True)
    assert "item_knn" in set(knn.get_column("source")) and set(knn.get_column("served_model")) == {"item_knn"}
    popular = serve_recommendations(interactions, customers, evaluation=served("most_popular", {"by": "purchasers"}),
                                    item_factors=items, user_factors=users, n=5, filter_purchased=True)
    assert set(popular.get_column("source")) <= {"popular_in_channel", "popular_global"}
    assert set(popular.get_column("status")) == {"ok"}


def test_final_configuration_falls_back_to_the_configured_vars_when_the_evaluation_chose_none():
    from ecom_growth.recommend.settings import final_als_hyperparameters

    configured = {"weighting": "bm25", "half_life_days": 30, "factors": 16}
    empty = pl.DataFrame(schema={"split": pl.String, "model": pl.String, "is_selected": pl.Boolean,
                                 "hyperparameters": pl.String})
    assert final_als_hyperparameters(empty, configured) == configured
    chosen = pl.DataFrame({"split": ["validation"], "model": ["als"], "is_selected": [True],
                           "hyperparameters": ['{"weighting": "log", "factors": 8}']})
    assert final_als_hyperparameters(chosen, configured) == {"weighting": "log", "factors": 8}


def test_serving_columns_keeps_ids_purchases_and_every_strength_in_table_order() -> None:
    from ecom_growth.recommend.store import serving_columns

    available = ["customer_id", "product_id", "view_count", "purchase_count", "quantity_purchased", "strength",
                 "strength_half_life_14d", "strength_half_life_90d", "last_interaction_at"]
    assert serving_columns(available) == ["customer_id", "product_id", "purchase_count", "strength",
                                          "strength_half_life_14d", "strength_half_life_90d"]


def test_serving_columns_requires_the_ids() -> None:
    from ecom_growth.recommend.store import serving_columns

    with pytest.raises(ValueError, match="product_id"):
        serving_columns(["customer_id", "strength"])


# --- integer-coded interactions (what the dbt models read at 1M customers) ---------------------

CODED = pl.DataFrame({
    "customer_id": ["b", "a", "c", "a", "d", "b"], "product_id": ["y", "x", "x", "z", "w", "w"],
    "purchase_count": [1, 0, 2, None, 1, 0], "strength": [1.0, 2.0, 3.0, 0.5, 4.0, 1.5],
    "strength_half_life_30d": [0.5, 0.0, 1.0, 0.25, 0.0, 1.0],
})


def test_duckdb_codes_equal_the_polars_codes_and_sorted_ids():
    import duckdb

    from ecom_growth.recommend.store import code_interactions, read_coded_interactions

    con = duckdb.connect()
    con.register("frame", CODED)
    from_duckdb = read_coded_interactions(con.table("frame"), CODED.columns)
    from_polars = code_interactions(CODED)
    assert from_duckdb.maps.user_ids.to_list() == ["a", "b", "c", "d"]
    assert from_duckdb.maps.item_ids.to_list() == from_polars.maps.item_ids.to_list() == ["w", "x", "y", "z"]
    key = ["user_idx", "item_idx"]
    assert from_duckdb.frame.sort(key).equals(from_polars.frame.select(from_duckdb.frame.columns).sort(key))
    con.register("nulls", CODED.with_columns(pl.when(pl.col("customer_id") == "d").then(None)
                                             .otherwise(pl.col("customer_id")).alias("customer_id")))
    with pytest.raises(ValueError, match="customer_id has 1 null"):
        read_coded_interactions(con.table("nulls"), CODED.columns)


@pytest.mark.parametrize("half_life", [None, 30])
@pytest.mark.parametrize("weighting", ["bm25", "log"])
def test_coded_matrix_equals_the_string_matrix_after_the_half_life_filter(half_life, weighting):
    from ecom_growth.recommend.matrix import interaction_matrix, with_half_life
    from ecom_growth.recommend.store import code_interactions, coded_matrix

    expected, maps = interaction_matrix(with_half_life(CODED, half_life), weighting=weighting)
    matrix, coded_maps, recode = coded_matrix(code_interactions(CODED), half_life_days=half_life, weighting=weighting)
    assert coded_maps.user_ids.to_list() == maps.user_ids.to_list()
    assert coded_maps.item_ids.to_list() == maps.item_ids.to_list()
    assert (matrix != expected).nnz == 0 and matrix.dtype == expected.dtype
    # half-life 30 drops "d" (its only row is 0 at that half-life): codes are compacted
    assert ("d" in coded_maps.user_ids.to_list()) == (half_life is None)
    assert recode.tolist() == [coded_maps.item_ids.to_list().index(i) if i in coded_maps.item_ids.to_list() else -1
                               for i in ["w", "x", "y", "z"]]


def test_coded_matrix_refuses_infinite_strength_and_honours_the_item_mask():
    from ecom_growth.recommend.store import code_interactions, coded_matrix

    bad = code_interactions(CODED.with_columns(strength=pl.Series([1.0, float("inf"), 1.0, 1.0, 1.0, 1.0])))
    with pytest.raises(ValueError, match="finite"):
        coded_matrix(bad, half_life_days=None, weighting="alpha")
    matrix, maps, _ = coded_matrix(code_interactions(CODED), half_life_days=None, weighting="alpha",
                                   item_mask=np.array([True, True, False, True]))
    assert maps.item_ids.to_list() == ["w", "x", "z"] and matrix.nnz == 5


def test_purchased_matrix_equals_the_indicator_of_purchased_pairs():
    from ecom_growth.recommend.matrix import IdMaps, indicator_matrix, purchased_pairs
    from ecom_growth.recommend.store import code_interactions, purchased_matrix

    coded = code_interactions(CODED)
    for maps in (coded.maps, IdMaps.from_ids(pl.Series(["b", "c"]), pl.Series(["w", "x", "y"]))):
        expected = indicator_matrix(purchased_pairs(CODED), maps)
        assert (purchased_matrix(coded, maps) != expected).nnz == 0


def test_decoded_gives_back_the_string_frame():
    from ecom_growth.recommend.store import code_interactions, decoded

    back = decoded(code_interactions(CODED)).collect()
    assert back.select(CODED.columns).sort(["customer_id", "product_id"]).equals(
        CODED.sort(["customer_id", "product_id"]))


def test_serving_from_codes_equals_serving_from_strings(shop):
    from ecom_growth.recommend.store import code_interactions

    interactions, customers, products = shop
    items = item_factor_table(interactions, PARAMS, **MINIMUMS)
    users = user_factor_table(interactions, items)
    coded = code_interactions(interactions.sample(fraction=1.0, shuffle=True, seed=1))  # row order is irrelevant
    assert user_factor_table(coded, items).equals(users)
    assert item_factor_table(coded, PARAMS, **MINIMUMS).drop("fit_seconds").equals(items.drop("fit_seconds"))
    for family, params in (("als", PARAMS), ("item_knn", {"neighbours": 20, "shrinkage": 5.0})):
        for filter_purchased in (True, False):
            kwargs = dict(evaluation=served(family, params), item_factors=items, user_factors=users, n=7,
                          filter_purchased=filter_purchased)
            expected = serve_recommendations(interactions, customers, **kwargs)
            assert serve_recommendations(coded, customers, **kwargs).equals(expected)
    assert similar_products_table(items, products, None, n=3).equals(
        similar_products_table(items, products, interactions, n=3))
    degraded = item_factor_table(interactions.head(3), PARAMS, **MINIMUMS)
    with pytest.raises(ValueError, match="needs the interactions"):
        similar_products_table(degraded, products, None, n=3)


def test_fit_columns_reads_the_ids_and_the_strength_of_the_half_life() -> None:
    from ecom_growth.recommend.store import fit_columns

    available = ["customer_id", "product_id", "purchase_count", "strength", "strength_half_life_14d",
                 "strength_half_life_30d"]
    assert fit_columns(available, None) == ["customer_id", "product_id", "strength"]
    assert fit_columns(available, 14) == ["customer_id", "product_id", "strength_half_life_14d"]
    with pytest.raises(ValueError, match="strength_half_life_90d"):
        fit_columns(available, 90)
    with pytest.raises(ValueError, match="customer_id"):
        fit_columns(["product_id", "strength"], None)


def test_stored_fit_columns_follow_the_stored_half_life_and_skip_strength_when_degraded() -> None:
    from ecom_growth.recommend.store import stored_fit_columns

    available = ["customer_id", "product_id", "strength", "strength_half_life_30d"]

    def items(status: str, hyperparameters: str) -> pl.DataFrame:
        return pl.DataFrame({"product_id": ["x"], "factors": [[0.1]], "hyperparameters": [hyperparameters],
                             "status": [status], "status_reason": [None if status == "ok" else "too few users"]})

    assert stored_fit_columns(available, items("ok", '{"half_life_days": 30}')) == [
        "customer_id", "product_id", "strength_half_life_30d"]
    assert stored_fit_columns(available, items("ok", "{}")) == ["customer_id", "product_id", "strength"]
    assert stored_fit_columns(available, items("degraded", "{}")) == ["customer_id", "product_id"]


def test_the_fit_on_fit_columns_equals_the_fit_on_every_serving_column() -> None:
    import duckdb

    from ecom_growth.recommend.store import fit_columns, item_factor_table, read_coded_interactions, serving_columns

    con = duckdb.connect()
    con.register("frame", CODED)
    params = {"weighting": "log", "alpha": 5.0, "log_eps": 1.0, "factors": 2, "regularization": 0.1,
              "iterations": 3, "random_state": 7, "half_life_days": 30}
    every = item_factor_table(read_coded_interactions(con.table("frame"), serving_columns(CODED.columns)), params,
                              min_users=1, min_items=1, min_interactions=1)
    narrow = item_factor_table(read_coded_interactions(con.table("frame"), fit_columns(CODED.columns, 30)), params,
                               min_users=1, min_items=1, min_interactions=1)
    assert every.drop("fit_seconds").equals(narrow.drop("fit_seconds"))


def test_purchase_rows_keep_the_purchases_and_their_codes():
    from ecom_growth.recommend.matrix import purchased_pairs
    from ecom_growth.recommend.store import code_interactions, decoded, purchase_rows

    coded = code_interactions(CODED)
    kept = purchase_rows(coded)
    assert kept.maps is coded.maps  # codes unchanged: the same id arrays decode them
    assert decoded(kept).collect().get_column("purchase_count").to_list() == [1, 2, 1]  # 0 and null are not
    assert purchased_pairs(decoded(kept).collect()).sort("customer_id").equals(
        purchased_pairs(CODED).sort("customer_id"))
    no_counts = code_interactions(CODED.drop("purchase_count"))
    assert purchase_rows(no_counts) is no_counts  # without purchase_count every row is a purchase


def test_served_als_top_up_from_purchase_rows_equals_the_full_interactions(shop):
    # views (purchase_count 0) among the interactions, a customer with no history and n close to
    # the catalogue: many customers need a popularity top-up, which now decodes purchases only
    interactions, customers, _ = shop
    rng = np.random.default_rng(4)
    with_views = interactions.with_columns(purchase_count=pl.Series(rng.integers(0, 3, interactions.height)))
    items = item_factor_table(with_views, PARAMS, **MINIMUMS)
    users = user_factor_table(with_views, items)
    model, maps = stored_model(with_views, items, users=users)
    matrix, _ = interaction_matrix(with_views, weighting="log", alpha=5.0, log_eps=1.0)  # the fit's matrix
    assert matrix.shape == (maps.n_users, maps.n_items)
    n = maps.n_items - 3
    for filter_purchased in (True, False):
        direct = recommend_top_n(model, matrix, maps, customers, interactions=with_views, n=n,
                                 filter_purchased=filter_purchased)
        assert direct.filter(pl.col("source") != "als").height > 0  # the top-up path runs
        stored = serve_recommendations(with_views, customers, evaluation=served("als", PARAMS), item_factors=items,
                                       user_factors=users, n=n, filter_purchased=filter_purchased)
        assert stored.select(direct.columns).equals(direct)


def test_recommendation_columns_read_what_the_served_family_ranks_with(shop):
    from ecom_growth.recommend.serve import recommendation_columns

    interactions, *_ = shop
    available = ["customer_id", "product_id", "purchase_count", "views", "strength", "strength_half_life_14d",
                 "strength_half_life_30d"]
    items = item_factor_table(interactions, PARAMS, **MINIMUMS).with_columns(
        hyperparameters=pl.lit('{"half_life_days": 14}'))
    degraded = items.with_columns(status=pl.lit("degraded"), status_reason=pl.lit("too few users"))
    ids = ["customer_id", "product_id", "purchase_count"]
    assert recommendation_columns(available, served("als"), items) == [*ids, "strength_half_life_14d"]
    assert recommendation_columns(available, served("als"), degraded) == [*ids, "strength"]
    assert recommendation_columns(available, served("recent_popular", {"half_life_days": 30}), items) == [
        *ids, "strength_half_life_30d"]
    assert recommendation_columns(available, served("item_knn", {"neighbours": 5}), items) == [*ids, "strength"]
    # table order, and no purchase_count when the table has none
    assert recommendation_columns(["strength", "product_id", "customer_id"], served("most_popular"), items) == [
        "strength", "product_id", "customer_id"]
    with pytest.raises(ValueError, match="strength_half_life_90d"):
        recommendation_columns(available, served("recent_popular", {"half_life_days": 90}), items)


@pytest.mark.parametrize(("family", "params", "fit_status"), [
    ("als", {}, "ok"), ("als", {}, "degraded"), ("recent_popular", {"by": "strength", "half_life_days": 14}, "ok"),
    ("most_popular", {"by": "purchasers"}, "ok"), ("item_knn", {"neighbours": 20, "shrinkage": 5.0}, "ok"),
])
def test_serving_from_the_recommendation_columns_equals_serving_from_every_column(shop, family, params, fit_status):
    from ecom_growth.recommend.serve import recommendation_columns

    interactions, customers, _ = shop
    rng = np.random.default_rng(11)
    wide = interactions.with_columns(
        purchase_count=pl.Series(rng.integers(0, 3, interactions.height)),
        strength_half_life_14d=pl.col("strength") * pl.Series(rng.uniform(0.0, 1.0, interactions.height)),
        strength_half_life_30d=pl.col("strength") * 0.5,
    )
    items = item_factor_table(wide, {**PARAMS, "half_life_days": 14}, **MINIMUMS)
    if fit_status == "degraded":
        items = items.with_columns(status=pl.lit("degraded"), status_reason=pl.lit("too few users"))
    users = user_factor_table(wide, items)
    evaluation = served(family, params)
    narrow = wide.select(recommendation_columns(wide.columns, evaluation, items))
    assert narrow.width < wide.width
    args = {"evaluation": evaluation, "item_factors": items, "user_factors": users, "n": 7, "filter_purchased": True}
    assert_frame_equal(serve_recommendations(narrow, customers, **args), serve_recommendations(wide, customers, **args))
