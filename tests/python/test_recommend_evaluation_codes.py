"""The evaluation on integer-coded ids (what ml_recommender_evaluation sends) gives the table it
gives on the ids; its list builder matches recommend_top_n; the coding SQL refuses nothing silently."""

from __future__ import annotations

import dataclasses
from datetime import datetime

import duckdb
import numpy as np
import polars as pl
import pytest
from test_recommend_evaluation import CONFIG, catalogue_frames, splits

from ecom_growth.recommend import evaluate_recommenders, synthetic_purchases
from ecom_growth.recommend.als import fit_als
from ecom_growth.recommend.evaluation import (
    code_map,
    coded_sql,
    distinct_ids_sql,
    evaluation_snapshot,
    read_coded_inputs,
    same_snapshot,
    top_n_lists,
    with_snapshot,
)
from ecom_growth.recommend.knn import fit_item_knn
from ecom_growth.recommend.matrix import interaction_matrix, purchased_pairs
from ecom_growth.recommend.topn import recommend_top_n


def _code(frame: pl.DataFrame, maps: dict[str, pl.DataFrame]) -> pl.DataFrame:
    for column, codes in maps.items():
        if column in frame.columns:
            frame = frame.join(codes, on=column, how="left", maintain_order="left").with_columns(
                pl.col("code").alias(column)).drop("code")
    return frame


@pytest.fixture(scope="module")
def frames():
    events = synthetic_purchases(600, 80, rank=4, taste_strength=6.0, seed=5)
    train, labels = splits(events, validation_at=0.55, test_at=0.8)
    customers, products = catalogue_frames(events)
    # ids whose string order is not their numeric order, so a wrong code order would show
    rename = {"customer_id": pl.format("c{}", pl.col("customer_id").str.slice(1).cast(pl.Int64) * 7919 % 1000),
              "product_id": pl.format("p{}", pl.col("product_id").str.slice(1).cast(pl.Int64) * 31 % 97)}
    train, labels, customers, products = (f.with_columns(**{c: e for c, e in rename.items() if c in f.columns})
                                          for f in (train, labels, customers, products))
    return train, labels, customers, products


def test_code_map_keeps_the_order_of_the_ids():
    codes = code_map(pl.Series("customer_id", ["b", "a10", None, "a2", "b"]))
    assert codes.get_column("customer_id").to_list() == ["a10", "a2", "b"]
    assert codes.get_column("code").to_list() == [0, 1, 2]
    assert codes.get_column("code").dtype == pl.Int32


@pytest.mark.parametrize("grid_max_users", [None, 150])
def test_coded_ids_give_the_same_table(frames, grid_max_users):
    train, labels, customers, products = frames
    config = dataclasses.replace(CONFIG, grid_max_users=grid_max_users)
    expected = evaluate_recommenders(train, labels, customers=customers, products=products, config=config)
    maps = {"customer_id": code_map(pl.concat([train["customer_id"], labels["customer_id"], customers["customer_id"]])),
            "product_id": code_map(pl.concat([train["product_id"], labels["product_id"], products["product_id"]]))}
    coded = [_code(f, maps) for f in (train, labels, customers, products)]
    assert coded[0].get_column("customer_id").dtype == pl.Int32
    got = evaluate_recommenders(coded[0], coded[1], customers=coded[2], products=coded[3], config=config,
                                user_ids=maps["customer_id"].get_column("customer_id"))
    assert got.equals(expected)
    with pytest.raises(ValueError, match="user_ids"):
        evaluate_recommenders(coded[0], coded[1], customers=coded[2], products=coded[3], config=config)


@pytest.mark.parametrize("family", ["als", "item_knn", "popular"])
@pytest.mark.parametrize("filter_purchased", [True, False])
def test_top_n_lists_are_the_lists_recommend_top_n_ships(frames, family, filter_purchased):
    train, labels, customers, _ = frames
    train = train.filter(pl.col("split") == "test").drop("split")
    matrix, maps = interaction_matrix(train, weighting="alpha")
    if family == "als":
        model = fit_als(matrix, factors=4, regularization=0.1, iterations=3, random_state=0, num_threads=1)
    elif family == "item_knn":
        binary = matrix.copy()
        binary.data[:] = 1.0
        model = fit_item_knn(binary, neighbours=3, shrinkage=0.0)  # few neighbours: many lists need a top-up
    else:
        model = None
    # known and cold customers, some without a channel
    targets = labels.select("customer_id").unique().join(customers, on="customer_id", how="left").with_columns(
        acquisition_channel=pl.when(pl.col("customer_id").str.ends_with("3")).then(None)
        .otherwise(pl.col("acquisition_channel")))
    targets = pl.concat([targets, pl.DataFrame({"customer_id": ["new1", "new2"], "acquisition_channel": ["paid", None]})])
    bought = purchased_pairs(train)
    expected = recommend_top_n(model, matrix, maps, targets, interactions=train, n=12, filter_purchased=filter_purchased,
                               purchased=bought, popularity_by="strength", channels=customers)
    got = top_n_lists(model, matrix, maps, targets, interactions=train, n=12, filter_purchased=filter_purchased,
                      purchased=bought, popularity_by="strength", channels=customers)
    assert got.equals(expected.select("customer_id", "product_id", "rank"))
    assert np.unique(expected.get_column("source").to_numpy()).size >= 2  # model rows and top-ups both tested


def test_coded_sql_codes_ids_and_keeps_unknown_ids_as_null():
    con = duckdb.connect()
    con.execute("create table t as select * from (values ('test', 'c2', 'p1', 1.5), ('validation', 'c1', 'p9', 2.0),"
                " ('test', 'c3', 'p1', 0.5)) as v(split, customer_id, product_id, strength)")
    source = "select * from t"
    users = code_map(con.sql(distinct_ids_sql("customer_id", [source, "select 'c0' as customer_id"])).pl().to_series())
    items = code_map(pl.Series("product_id", ["p1"]))
    con.register("users", users)
    con.register("items", items)
    out = con.sql(coded_sql(source, ["split", "customer_id", "product_id", "strength"],
                            {"customer_id": "users", "product_id": "items"}) + " order by strength").pl()
    assert users.get_column("customer_id").to_list() == ["c0", "c1", "c2", "c3"]
    assert out.get_column("customer_id").to_list() == [3, 2, 1]
    assert out.get_column("product_id").to_list() == [0, 0, None]  # p9 has no code: null, not dropped
    assert out.get_column("split").dtype in (pl.Enum, pl.Categorical)
    with pytest.raises(duckdb.Error):  # a split the evaluation does not know is an error
        con.sql(coded_sql("select 'train' as split", ["split"], {})).pl()


def test_a_test_sample_scores_fewer_test_customers_and_leaves_validation_alone(frames):
    train, labels, customers, products = frames
    full = evaluate_recommenders(train, labels, customers=customers, products=products, config=CONFIG)
    sampled = evaluate_recommenders(train, labels, customers=customers, products=products,
                                    config=dataclasses.replace(CONFIG, test_max_users=40))
    warm_test = (pl.col("split") == "test") & (pl.col("population") == "warm")
    assert sampled.filter(pl.col("split") == "validation").equals(full.filter(pl.col("split") == "validation"))
    assert full.filter(warm_test).get_column("users_evaluated").max() > 40
    assert sampled.filter(warm_test).get_column("users_evaluated").unique().to_list() == [40]
    # the same configurations are reported, and cold start still uses every customer
    assert sampled.filter(warm_test).get_column("hyperparameters").to_list() == \
        full.filter(warm_test).get_column("hyperparameters").to_list()
    cold = pl.col("population") == "cold_start"
    assert sampled.filter(cold).equals(full.filter(cold))
    width = (pl.col("ci_upper") - pl.col("ci_lower")).mean()
    ndcg = warm_test & (pl.col("metric") == "ndcg") & (pl.col("model") == "als")
    assert sampled.filter(ndcg).select(width).item() > full.filter(ndcg).select(width).item()


def test_read_coded_inputs_reads_what_the_model_sends_and_gives_the_same_table(frames):
    """The dbt model's read (DuckDB relations in, coded frames out) gives the table the evaluation
    gives on the string ids, and leaves no registered code table behind."""
    train, labels, customers, products = frames
    con = duckdb.connect()
    for name, frame in (("interactions", train), ("labels", labels), ("customers", customers), ("products", products)):
        con.register(f"{name}_frame", frame)
        con.execute(f"create table {name} as select * from {name}_frame")
    # an extra column the evaluation does not read must not be loaded
    con.execute("alter table interactions add column note varchar default 'unused'")
    snapshot = (datetime(2024, 3, 1), "d1")
    for table in ("interactions", "labels"):  # the evaluation snapshot's columns (int_evaluation_snapshots)
        con.execute(f"alter table {table} add column as_of timestamp default '2024-03-01'")
        con.execute(f"alter table {table} add column settings_digest varchar default 'd1'")
    inputs = read_coded_inputs(con, interactions=con.table("interactions"), labels=con.table("labels"),
                               customers=con.table("customers"), products=con.table("products"), snapshot=snapshot)
    assert "note" not in inputs.interactions.columns
    for split in ("validation", "test"):  # each split is read on its own, when asked
        rows = inputs.interactions(split)
        assert rows.columns == inputs.interactions.columns and "split" not in rows.columns
        assert rows.get_column("customer_id").dtype == pl.Int32
        assert rows.height == train.filter(pl.col("split") == split).height
    with pytest.raises(ValueError, match="unknown split"):
        inputs.interactions("train")
    assert inputs.user_ids.to_list() == sorted(set(train["customer_id"]) | set(labels["customer_id"])
                                               | set(customers["customer_id"]))
    coded = evaluate_recommenders(inputs.interactions, inputs.labels, customers=inputs.customers,
                                  products=inputs.products, config=CONFIG, user_ids=inputs.user_ids)
    plain = evaluate_recommenders(train, labels, customers=customers, products=products, config=CONFIG)
    assert coded.drop("fit_seconds", strict=False).equals(plain.drop("fit_seconds", strict=False))
    registered = {row[0] for row in con.execute("select view_name from duckdb_views() where not internal").fetchall()}
    assert not any(name.startswith("_recommender_evaluation_") for name in registered)


def test_rows_needed_counts_what_each_list_is_short_of():
    from ecom_growth.recommend.topn import rows_needed

    customers = pl.DataFrame({"customer_id": ["a", "b", "c"], "acquisition_channel": ["x", None, "y"],
                              "user_idx": [0, 1, None]}, schema_overrides={"user_idx": pl.Int32})
    scored = pl.DataFrame({"user_idx": [0, 0, 1, 1, 1]}, schema={"user_idx": pl.Int32})
    needing = rows_needed(customers, scored, 3).sort("customer_id")
    # b has a full list; a is one short; c (no history) needs all three
    assert needing.rows() == [("a", "x", 1, 2), ("c", "y", 3, None)]
    assert rows_needed(customers, scored.clear(), 0).height == 0


def _snapshot_inputs(labels_as_of: str, labels_digest: str = "d1") -> duckdb.DuckDBPyConnection:
    con = duckdb.connect()
    con.execute("create table interactions as select 'test' as split, 'c1' as customer_id, 'p1' as product_id, "
                "1.0 as strength, 1 as purchase_count, timestamp '2024-03-01' as as_of, 'd1' as settings_digest")
    con.execute(f"create table labels as select 'test' as split, 'c1' as customer_id, 'p2' as product_id, "
                f"timestamp '{labels_as_of}' as as_of, '{labels_digest}' as settings_digest")
    con.execute("create table customers as select 'c1' as customer_id, 'x' as acquisition_channel")
    con.execute("create table products as select * from (values ('p1', 'a'), ('p2', 'b')) as t(product_id, category)")
    return con


@pytest.mark.parametrize(("labels_as_of", "labels_digest", "stale"), [
    ("2024-03-02", "d1", "int_holdout_purchases"),   # fresh labels beside a kept training side
    ("2024-03-01", "d2", "int_holdout_purchases"),   # same cutoff, other settings
])
def test_read_coded_inputs_refuses_inputs_of_another_snapshot(labels_as_of, labels_digest, stale):
    con = _snapshot_inputs(labels_as_of, labels_digest)
    with pytest.raises(ValueError, match=stale):
        read_coded_inputs(con, interactions=con.table("interactions"), labels=con.table("labels"),
                          customers=con.table("customers"), products=con.table("products"),
                          snapshot=(datetime(2024, 3, 1), "d1"))
    # the training side of another snapshot is refused too
    with pytest.raises(ValueError, match="int_user_item_interactions_before_holdout"):
        read_coded_inputs(con, interactions=con.table("interactions"), labels=con.table("labels"),
                          customers=con.table("customers"), products=con.table("products"),
                          snapshot=(datetime.fromisoformat(labels_as_of), labels_digest))


def test_read_coded_inputs_reads_a_consistent_snapshot():
    con = _snapshot_inputs("2024-03-01")
    inputs = read_coded_inputs(con, interactions=con.table("interactions"), labels=con.table("labels"),
                               customers=con.table("customers"), products=con.table("products"),
                               snapshot=(datetime(2024, 3, 1), "d1"))
    assert inputs.labels.height == inputs.interactions("test").height == 1
    assert inputs.interactions("validation").height == 0


def test_evaluation_snapshot_is_the_recommender_row_and_refuses_anything_else():
    rows = pl.DataFrame({"evaluation": ["other", "recommender"], "as_of": [datetime(2024, 1, 1), datetime(2024, 3, 1)],
                         "settings_digest": ["x", "d1"]})
    assert evaluation_snapshot(rows) == (datetime(2024, 3, 1), "d1")
    for bad in (rows.head(1), pl.concat([rows, rows.tail(1)]), rows.with_columns(settings_digest=pl.lit(None, pl.String))):
        with pytest.raises(ValueError, match="recommender"):
            evaluation_snapshot(bad)


def test_same_snapshot_keeps_only_an_evaluation_of_the_current_snapshot():
    table = with_snapshot(pl.DataFrame({"value": [0.1, 0.2]}), (datetime(2024, 3, 1), "d1"))
    assert table.columns == ["value", "as_of", "snapshot_settings_digest"]
    assert same_snapshot(table, (datetime(2024, 3, 1), "d1"))
    assert not same_snapshot(table, (datetime(2024, 3, 2), "d1"))   # the snapshot was rebuilt
    assert not same_snapshot(table, (datetime(2024, 3, 1), "d2"))   # its settings changed
    assert not same_snapshot(table.drop("snapshot_settings_digest"), (datetime(2024, 3, 1), "d1"))  # older table
    assert not same_snapshot(table.head(0), (datetime(2024, 3, 1), "d1"))
    assert not same_snapshot(None, (datetime(2024, 3, 1), "d1"))
    mixed = pl.concat([table, with_snapshot(pl.DataFrame({"value": [0.3]}), (datetime(2024, 3, 2), "d1"))])
    assert not same_snapshot(mixed, (datetime(2024, 3, 1), "d1"))
