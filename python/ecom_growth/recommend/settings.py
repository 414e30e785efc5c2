"""Recommender settings as the dbt project passes them (YAML config rendered from vars).

One place turns the project's vars into the keyword arguments of the library, so the
evaluation and the final model can never disagree about what a var means. The defaults live
in dbt_project.yml only: a missing var is an error here, not a silent second default.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import polars as pl

from ecom_growth.recommend.evaluation import EvaluationConfig, selected_configuration
from ecom_growth.recommend.sampling import cap_from_var

_ALS_VARS = {
    "weighting": ("als_weighting", str),
    "half_life_days": ("interaction_half_life_days", int),
    "factors": ("als_factors", int),
    "regularization": ("als_regularization", float),
    "iterations": ("als_iterations", int),
    "alpha": ("als_alpha", float),
    "bm25_k1": ("als_bm25_k1", float),
    "bm25_b": ("als_bm25_b", float),
    "log_eps": ("als_log_eps", float),
}


def _get(config: Mapping[str, Any], name: str) -> Any:
    value = config.get(name)
    if value is None:
        raise ValueError(f"var {name!r} is not set (see dbt_project.yml)")
    return value


def hyperparameters_from_config(config: Mapping[str, Any]) -> dict[str, Any]:
    """{weighting, half_life_days, factors, regularization, iterations, alpha, bm25_k1, bm25_b,
    log_eps} from dbt vars."""
    return {key: cast(_get(config, name)) for key, (name, cast) in _ALS_VARS.items()}


def evaluation_config(config: Mapping[str, Any]) -> EvaluationConfig:
    """The evaluation's settings from dbt vars."""
    return EvaluationConfig(
        ks=tuple(int(k) for k in _get(config, "recommender_eval_ks")),
        filter_purchased=bool(_get(config, "recommender_filter_purchased")),
        als=hyperparameters_from_config(config),
        als_grid=list(config.get("recommender_grid") or []),
        knn_neighbours=[int(k) for k in _get(config, "recommender_knn_neighbours")],
        knn_shrinkage=[float(h) for h in _get(config, "recommender_knn_shrinkage")],
        bootstrap_samples=int(_get(config, "recommender_bootstrap_samples")),
        confidence_level=float(_get(config, "recommender_confidence_level")),
        random_state=int(_get(config, "als_random_state")),
        min_users=int(_get(config, "recommender_min_evaluation_users")),
        # null = no cap (search on every customer), so this var may be null, unlike the others
        grid_max_users=None if config.get("recommender_grid_max_users") is None
        else int(config["recommender_grid_max_users"]),
        # 0 or null: score every test customer
        test_max_users=cap_from_var(config.get("recommender_test_max_users")),
    )


def final_als_hyperparameters(evaluation: pl.DataFrame, configured: dict[str, Any]) -> dict[str, Any]:
    """The ALS configuration chosen on validation, or ``configured`` (the project's vars) when the
    evaluation could not choose one (e.g. a degraded evaluation on a tiny shop): the final model
    then degrades on its own minimums instead of failing the build."""
    chosen = selected_configuration(evaluation, "als")
    return chosen or dict(configured)


def fit_minimums(config: Mapping[str, Any]) -> dict[str, int]:
    """min_users / min_items / min_interactions below which ALS degrades."""
    return {
        "min_users": int(_get(config, "als_min_users")),
        "min_items": int(_get(config, "als_min_items")),
        "min_interactions": int(_get(config, "als_min_interactions")),
    }
