"""settings.evaluation_config: the project's vars -> the evaluation's settings (no second default)."""

from __future__ import annotations

import pytest

from ecom_growth.recommend.settings import evaluation_config

VARS = {
    "als_weighting": "bm25", "interaction_half_life_days": 30, "als_factors": 16, "als_regularization": 0.01,
    "als_iterations": 15, "als_alpha": 1.0, "als_bm25_k1": 100.0, "als_bm25_b": 0.8, "als_log_eps": 1.0,
    "als_random_state": 7, "recommender_eval_ks": [10], "recommender_filter_purchased": True,
    "recommender_grid": [{"weighting": "log"}], "recommender_grid_max_users": 50000,
    "recommender_knn_neighbours": [50], "recommender_knn_shrinkage": [0.0], "recommender_bootstrap_samples": 100,
    "recommender_confidence_level": 0.95, "recommender_min_evaluation_users": 50,
}


@pytest.mark.parametrize(("value", "expected"), [(None, None), (0, None), ("None", None), (5000, 5000)])
def test_test_sample_cap_comes_from_its_var(value, expected):
    assert evaluation_config({**VARS, "recommender_test_max_users": value}).test_max_users == expected


def test_a_negative_test_sample_cap_is_an_error():
    with pytest.raises(ValueError, match="non-negative"):
        evaluation_config({**VARS, "recommender_test_max_users": -1})


def test_a_missing_required_var_names_it():
    vars_ = dict(VARS)
    del vars_["recommender_eval_ks"]
    with pytest.raises(ValueError, match="recommender_eval_ks"):
        evaluation_config(vars_)
