"""Recommender settings as the dbt project passes them (YAML config rendered from vars).

One place turns the project's vars into the keyword arguments of the library, so the
evaluation and the final model can never disagree about what a var means.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import polars as pl

from ecom_growth.recommend.evaluation import _FIT_KEYS, _WEIGHT_KEYS, DEFAULT_ALS_PARAMS, DEFAULT_WEIGHTING_PARAMS

_VAR_NAMES = {
    "factors": "als_factors",
    "regularization": "als_regularization",
    "iterations": "als_iterations",
    "alpha": "als_alpha",
    "bm25_k1": "als_bm25_k1",
    "bm25_b": "als_bm25_b",
}


def hyperparameters_from_config(config: Mapping[str, Any]) -> dict[str, Any]:
    """{weighting, factors, regularization, iterations, alpha, log_eps, bm25_k1, bm25_b} from dbt vars
    (missing or null vars fall back to the library defaults)."""
    params: dict[str, Any] = {**DEFAULT_ALS_PARAMS, **DEFAULT_WEIGHTING_PARAMS, "weighting": "bm25"}
    if config.get("als_weighting") is not None:
        params["weighting"] = str(config["als_weighting"])
    for key, var_name in _VAR_NAMES.items():
        value = config.get(var_name)
        if value is not None:
            params[key] = type(params[key])(value)
    return params


def selected_hyperparameters(evaluation: pl.DataFrame, fallback: Mapping[str, Any]) -> dict[str, Any]:
    """The ALS configuration the evaluation selected (is_selected), else ``fallback``.

    With a hyperparameter grid the final model uses the winner on the temporal holdout; without
    one (or with an empty evaluation, e.g. no holdout purchases) it uses the configured vars.
    """
    if evaluation.height == 0:
        return dict(fallback)
    chosen = evaluation.filter((pl.col("model") == "als") & pl.col("is_selected"))
    if chosen.height == 0:
        return dict(fallback)
    params = json.loads(chosen.get_column("hyperparameters")[0])
    return {**fallback, **{k: v for k, v in params.items() if k in _FIT_KEYS or k in _WEIGHT_KEYS or k == "weighting"}}


def split_hyperparameters(params: Mapping[str, Any]) -> tuple[dict[str, Any], str, dict[str, Any]]:
    """(ALS fit kwargs, weighting name, weighting kwargs)."""
    return (
        {k: params[k] for k in _FIT_KEYS if k in params},
        str(params.get("weighting", "bm25")),
        {k: params[k] for k in _WEIGHT_KEYS if k in params},
    )
