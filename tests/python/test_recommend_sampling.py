"""The seeded user sample behind the evaluation's hyperparameter search."""

from __future__ import annotations

import dataclasses

import polars as pl
import pytest

from ecom_growth.recommend import evaluate_recommenders, synthetic_purchases
from ecom_growth.recommend.sampling import sample_users

IDS = pl.Series("customer_id", [f"c{i:05d}" for i in range(5000)])


def test_sample_has_exactly_the_cap_distinct_ids_from_the_input():
    sample = sample_users(IDS, max_users=300, seed=1)
    assert sample.len() == 300 and sample.n_unique() == 300
    assert sample.is_in(IDS.implode()).all()
    assert sample.to_list() == sorted(sample.to_list())


def test_sample_is_deterministic_and_ignores_input_order_and_duplicates():
    shuffled = pl.concat([IDS, IDS.head(100)]).shuffle(seed=3)
    assert sample_users(shuffled, max_users=300, seed=1).to_list() == sample_users(IDS, max_users=300, seed=1).to_list()


def test_sample_is_pinned_across_library_versions():
    # the hash is blake2b of seed and id, not a library hash: an upgrade must not move the sample
    users = pl.Series([f"c{i}" for i in range(20)])
    assert sample_users(users, max_users=5, seed=7).to_list() == ["c0", "c11", "c12", "c19", "c9"]


def test_another_seed_draws_another_sample_and_shares_about_the_expected_overlap():
    a, b = sample_users(IDS, max_users=1000, seed=1), sample_users(IDS, max_users=1000, seed=2)
    overlap = a.is_in(b.implode()).sum()
    # independent 20% samples share ~20% of their members: 200 +- 4 binomial sd (~ 12.6)
    assert 150 < overlap < 250, overlap


def test_a_user_in_a_smaller_sample_is_in_every_larger_one():
    small, large = sample_users(IDS, max_users=100, seed=4), sample_users(IDS, max_users=1000, seed=4)
    assert small.is_in(large.implode()).all()


@pytest.mark.parametrize("cap", [None, 5000, 10**9])
def test_every_user_is_kept_at_or_below_the_cap(cap):
    assert sample_users(IDS.reverse(), max_users=cap, seed=1).to_list() == IDS.to_list()


def test_tiny_and_empty_inputs():
    assert sample_users(pl.Series(["b", "a"]), max_users=1, seed=0).len() == 1
    assert sample_users(pl.Series(["b", "a"]), max_users=2, seed=0).to_list() == ["a", "b"]
    assert sample_users(pl.Series([], dtype=pl.String), max_users=3, seed=0).len() == 0


@pytest.mark.parametrize("cap", [0, -1, True])
def test_bad_cap_or_null_ids_raise(cap):
    with pytest.raises(ValueError):
        sample_users(IDS, max_users=cap, seed=0)
    with pytest.raises(ValueError):
        sample_users(pl.Series(["a", None]), max_users=1, seed=0)


# --- in the evaluation -------------------------------------------------------------------------


@pytest.fixture(scope="module")
def data():
    from test_recommend_evaluation import CONFIG, catalogue_frames, splits

    events = synthetic_purchases(600, 100, rank=6, taste_strength=8.0, zipf_exponent=1.0, seed=13)
    train, labels = splits(events, validation_at=0.6, test_at=0.8)
    customers, products = catalogue_frames(events)
    return train, labels, customers, products, CONFIG


def _evaluate(data, cap, _cache={}):  # noqa: B006 - one evaluation per cap for the module
    if cap not in _cache:
        train, labels, customers, products, config = data
        _cache[cap] = evaluate_recommenders(train, labels, customers=customers, products=products,
                                            config=dataclasses.replace(config, grid_max_users=cap))
    return _cache[cap]


def _users(table, split, population="warm"):
    return set(table.filter((pl.col("split") == split) & (pl.col("population") == population))
               .get_column("users_evaluated").to_list())


def test_a_cap_above_the_customer_count_changes_nothing(data):
    assert _evaluate(data, None).equals(_evaluate(data, 10**6))


def test_the_search_runs_on_the_sample_and_test_on_everyone(data):
    full, sampled = _evaluate(data, None), _evaluate(data, 200)
    (n_full,), (n_sampled,) = _users(full, "validation"), _users(sampled, "validation")
    assert 0 < n_sampled < n_full  # validation users evaluated within the sample only
    assert _users(sampled, "test") == _users(full, "test")  # the test report is not sampled
    assert _users(sampled, "validation", "cold_start") == _users(full, "validation", "cold_start")
    # the chosen configurations are refitted on everyone: the same choice gives the same test row
    selected = pl.col("is_selected") & (pl.col("split") == "test") & (pl.col("model") == "most_popular")
    assert sampled.filter(selected).select("value").equals(full.filter(selected).select("value"))
    train, labels, customers, products, config = data
    again = evaluate_recommenders(train, labels, customers=customers, products=products,
                                  config=dataclasses.replace(config, grid_max_users=200))
    assert again.equals(sampled)  # deterministic


@pytest.mark.parametrize(("value", "cap"), [(None, None), (0, None), ("None", None), ("null", None), ("", None),
                                            (50000, 50000), ("50000", 50000), (3.0, 3)])
def test_cap_from_var_reads_the_ways_dbt_renders_a_cap(value, cap):
    from ecom_growth.recommend.sampling import cap_from_var

    assert cap_from_var(value) == cap


@pytest.mark.parametrize("value", [-1, 2.5, True, "abc"])
def test_cap_from_var_refuses_what_is_not_a_cap(value):
    from ecom_growth.recommend.sampling import cap_from_var

    with pytest.raises(ValueError):
        cap_from_var(value)
