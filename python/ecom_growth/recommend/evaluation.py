"""Offline evaluation of ALS against the baselines: choose on validation, report on test.

Protocol (point in time, no leakage; windows relative to as_of, built in SQL):

* Two splits. ``validation``: models trained on interactions up to as_of - 2W, labels are the
  purchases in (as_of - 2W, as_of - W]. ``test``: trained on everything up to as_of - W, labels
  in (as_of - W, as_of]. Every choice (ALS grid, kNN neighbourhood and shrinkage, and which
  model is served) is made on validation by NDCG@10; the test split refits each family's
  chosen configuration on the longer history and is only reported, never chosen on.
* Search sample: with ``grid_max_users`` the validation split (every configuration's fit and
  its evaluation) runs on a seeded sample of at most that many training customers
  (``sampling.sample_users``; below the cap, everyone). The search needs enough evaluable
  users to rank configurations, not every user; the chosen configurations are refitted on
  every customer for the test split, which is never sampled. Cold start is not a search and
  uses every customer.
* Families: ``most_popular`` (all-time distinct buyers), ``recent_popular`` (summed
  time-decayed interaction strength, i.e. the same decay as the ALS input), ``item_knn``
  (shrunk-cosine item kNN, see ``knn``), ``als``. The served model is the family with the
  best validation NDCG@10, which may be a baseline.
* Warm users (``population = 'warm'``): customers known in training with >= 1 relevant label.
  With ``filter_purchased`` the products they bought before are neither recommended nor
  counted (for every model alike). Lists are what production ships: model rows topped up
  from popularity.
* Cold start (``population = 'cold_start'``): customers with labels and no interaction before
  the cutoff. Production gives them the popularity of their acquisition channel
  (``channel_popular``); it is compared with global ``most_popular``.
* Uncertainty: 95% (``confidence_level``) percentile bootstrap over users for every mean, and
  a paired bootstrap for ``als_minus_best_baseline`` (ALS minus the baseline family with the
  best validation NDCG@10, per user).
* Beyond accuracy: ``coverage`` (catalogue share recommended to anyone; no interval),
  ``diversity`` (intra-list, by category) and ``novelty`` (mean self-information), see
  ``metrics.list_diversity_novelty``.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import polars as pl
import scipy.sparse as sp

from ecom_growth.recommend.als import FIT_KEYS, WEIGHT_KEYS, fit_als
from ecom_growth.recommend.bootstrap import bootstrap_means
from ecom_growth.recommend.knn import fit_item_knn_grid
from ecom_growth.recommend.matrix import (
    ITEM_COL,
    USER_COL,
    IdMaps,
    confidence,
    purchased_pairs,
    require_columns,
    strength_column,
    strength_matrix,
    with_half_life,
)
from ecom_growth.recommend.metrics import (
    LIST_METRICS,
    USER_METRICS,
    _check_ks,
    coverage,
    list_diversity_novelty,
    per_user_metrics,
)
from ecom_growth.recommend.sampling import sample_users
from ecom_growth.recommend.topn import recommend_top_n

log = logging.getLogger(__name__)

SPLITS: tuple[str, ...] = ("validation", "test")
BASELINES: tuple[str, ...] = ("most_popular", "recent_popular", "item_knn")
DIFFERENCE_MODEL = "als_minus_best_baseline"
EVALUATION_SCHEMA = {
    "split": pl.String,
    "population": pl.String,
    "model": pl.String,
    "hyperparameters": pl.String,
    "k": pl.Int32,
    "metric": pl.String,
    "value": pl.Float64,
    "ci_lower": pl.Float64,
    "ci_upper": pl.Float64,
    "users_evaluated": pl.Int64,
    "is_selected": pl.Boolean,
    "is_served": pl.Boolean,
    "value_vs_most_popular": pl.Float64,
    "status": pl.String,
    "status_reason": pl.String,
}
ALS_KEYS = ("weighting", "half_life_days", *FIT_KEYS, *WEIGHT_KEYS)


@dataclass(frozen=True)
class EvaluationConfig:
    """Everything the evaluation needs, from the project's vars (``settings.evaluation_config``).

    ``als``: weighting + fit + weighting parameters of the configured ALS; ``als_grid``:
    overrides of it tried on validation (empty = the configured one only); ``knn_neighbours``
    x ``knn_shrinkage``: the item-kNN grid; ``min_users``: fewer evaluable warm users in a
    split marks the table degraded (its numbers are too noisy to choose on);
    ``grid_max_users``: the validation search runs on a seeded sample of at most this many
    training customers (None: all of them; module docstring).
    """

    ks: tuple[int, ...]
    filter_purchased: bool
    als: Mapping[str, Any]
    als_grid: Sequence[Mapping[str, Any]]
    knn_neighbours: Sequence[int]
    knn_shrinkage: Sequence[float]
    bootstrap_samples: int
    confidence_level: float
    random_state: int
    min_users: int
    grid_max_users: int | None
    num_threads: int = field(default=0)  # implicit's threads; results do not depend on it


@dataclass(frozen=True)
class Candidate:
    """One model configuration: its family and the JSON-able parameters that define it."""

    family: str
    params: Mapping[str, Any]

    @property
    def key(self) -> str:
        return json.dumps(dict(self.params), sort_keys=True)


def relevant_items(
    train_interactions: pl.DataFrame, test_purchases: pl.DataFrame, *, filter_purchased: bool = True,
    purchased: pl.DataFrame | None = None,
) -> pl.DataFrame:
    """Holdout (customer_id, product_id) of warm users that count as hits (module docstring).
    ``purchased``: ``purchased_pairs(train_interactions)`` when the caller has it already."""
    require_columns(test_purchases, (USER_COL, ITEM_COL), "test_purchases")
    test = test_purchases.select(pl.col(USER_COL).cast(pl.String), pl.col(ITEM_COL).cast(pl.String)).unique()
    known = train_interactions.select(pl.col(USER_COL).cast(pl.String)).unique()
    test = test.join(known, on=USER_COL, how="semi")
    if filter_purchased:
        bought = purchased_pairs(train_interactions) if purchased is None else purchased
        test = test.join(bought, on=[USER_COL, ITEM_COL], how="anti")
    return test.sort(USER_COL, ITEM_COL)


def evaluation_columns(columns: Sequence[str]) -> list[str]:
    """The columns of the interactions that :func:`evaluate_recommenders` reads: split, ids,
    purchase_count and the strengths. The caller loads only these (the other counts and the
    timestamps would be most of its memory at scale)."""
    return [c for c in columns
            if c in ("split", USER_COL, ITEM_COL, "strength", "purchase_count") or c.startswith("strength_half_life_")]


def temporal_split(
    purchases: pl.DataFrame, *, cutoff: Any, time_col: str = "ordered_at"
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Purchase events -> (train interactions before ``cutoff``, holdout pairs from ``cutoff`` on).

    Train has one row per pair with ``strength`` = ``purchase_count`` = purchase events (the
    shape of the SQL interactions table); holdout is distinct (customer_id, product_id).
    """
    require_columns(purchases, (USER_COL, ITEM_COL, time_col), "purchases")
    events = purchases.select(
        pl.col(USER_COL).cast(pl.String), pl.col(ITEM_COL).cast(pl.String), pl.col(time_col)
    )
    train = (
        events.filter(pl.col(time_col) < cutoff)
        .group_by(USER_COL, ITEM_COL)
        .agg(pl.len().cast(pl.Int64).alias("purchase_count"))
        .with_columns(strength=pl.col("purchase_count").cast(pl.Float64))
        .sort(USER_COL, ITEM_COL)
    )
    test = events.filter(pl.col(time_col) >= cutoff).select(USER_COL, ITEM_COL).unique().sort(USER_COL, ITEM_COL)
    return train, test


def candidates(config: EvaluationConfig, half_lives: Sequence[int] = ()) -> list[Candidate]:
    """Every configuration tried on validation, baselines first. ``half_lives``: the decays
    available in the interactions (columns strength_half_life_<d>d); recent popularity tries each."""
    out = [Candidate("most_popular", {"by": "purchasers"})]
    out += [Candidate("recent_popular", {"by": "strength", "half_life_days": int(d)}) for d in half_lives] or [
        Candidate("recent_popular", {"by": "strength"})
    ]
    out += [
        Candidate("item_knn", {"neighbours": int(k), "shrinkage": float(h)})
        for k in config.knn_neighbours
        for h in config.knn_shrinkage
    ]
    base = {k: config.als[k] for k in ALS_KEYS if k in config.als}
    for override in config.als_grid or [{}]:
        unknown = set(override) - set(ALS_KEYS)
        if unknown:
            raise ValueError(f"unknown ALS hyperparameter(s) {sorted(unknown)}; use {ALS_KEYS}")
        out.append(Candidate("als", {**base, **override, "random_state": config.random_state}))
    return out


def _recommend(
    candidate: Candidate,
    train: pl.DataFrame,
    users: pl.DataFrame,
    *,
    n: int,
    filter_purchased: bool,
    num_threads: int,
    matrix_cache: dict[str, Any],
) -> pl.DataFrame:
    """Fit ``candidate`` on ``train`` and return the lists production would ship to ``users``."""
    params = candidate.params
    popularity_by = "purchasers"
    half_life = params.get("half_life_days")
    if "purchased" not in matrix_cache:  # from every row: filtering must not depend on the decay
        matrix_cache["purchased"] = purchased_pairs(train)
    key = f"train_{half_life}"
    if key not in matrix_cache:  # the same decay in the matrix and in the popularity
        # each cached copy keeps its own decay's strength only, not every decay's
        columns = [c for c in (USER_COL, ITEM_COL, "purchase_count", "strength") if c in train.columns]
        decayed = [] if half_life is None else [c for c in [strength_column(half_life)] if c in train.columns]
        matrix_cache[key] = with_half_life(train.select(*columns, *decayed), half_life)
    train = matrix_cache[key]

    def matrix(weighting: str, **weights: Any):
        key = json.dumps({"weighting": weighting, "half_life_days": half_life, **weights}, sort_keys=True)
        if key not in matrix_cache:  # every weighting of this decay shares one id mapping
            raw_key = f"raw_{half_life}"
            if raw_key not in matrix_cache:
                matrix_cache[raw_key] = strength_matrix(train)
            raw, maps = matrix_cache[raw_key]
            matrix_cache[key] = (confidence(raw, weighting=weighting, **weights), maps)
        return matrix_cache[key]

    if candidate.family in ("most_popular", "recent_popular"):
        model, (m, maps) = None, matrix("alpha", alpha=1.0)
        popularity_by = params["by"]
    elif candidate.family == "item_knn":
        m, maps = matrix("alpha", alpha=1.0)
        m = m.copy()
        m.data[:] = 1.0  # the kNN scores a binary history (see knn), whatever the decay
        grid_key = f"knn_{half_life}"
        if grid_key not in matrix_cache:  # one co-occurrence pass for the split's whole kNN grid
            grid = matrix_cache.get("knn_grid") or [(params["neighbours"], params["shrinkage"])]
            matrix_cache[grid_key] = fit_item_knn_grid(
                m, neighbours=sorted({k for k, _ in grid}), shrinkage=sorted({h for _, h in grid})
            )
        model = matrix_cache[grid_key][(int(params["neighbours"]), float(params["shrinkage"]))]
    elif candidate.family == "als":
        weights = {k: params[k] for k in WEIGHT_KEYS if k in params}
        m, maps = matrix(params["weighting"], **weights)
        model = fit_als(
            m, random_state=params["random_state"], num_threads=num_threads,
            **{k: params[k] for k in FIT_KEYS if k in params},
        )
    else:
        raise ValueError(f"unknown model family {candidate.family!r}")
    return recommend_top_n(
        model, m, maps, users, interactions=train, n=n, filter_purchased=filter_purchased,
        purchased=matrix_cache["purchased"], popularity_by=popularity_by, source=candidate.family,
    )


@dataclass
class _Scored:
    """Per-user metric columns of one split, one block of columns per candidate."""

    users: pl.DataFrame
    columns: dict[tuple[str, str], np.ndarray] = field(default_factory=dict)  # (candidate key, col) -> values
    coverage: dict[tuple[str, int], float | None] = field(default_factory=dict)


def _score(
    recs: pl.DataFrame,
    relevant: pl.DataFrame,
    scored: _Scored,
    key: str,
    *,
    ks: list[int],
    categories: pl.DataFrame,
    item_users: pl.DataFrame,
    n_train_users: int,
    catalogue_size: int,
) -> None:
    users = scored.users
    accuracy = users.join(per_user_metrics(recs, relevant, ks=ks), on=USER_COL, how="left")
    lists = users.join(
        list_diversity_novelty(recs, categories, item_users, n_train_users, ks=ks), on=USER_COL, how="left"
    )
    for k in ks:
        for metric in USER_METRICS:
            scored.columns[(key, f"{metric}_{k}")] = accuracy.get_column(f"{metric}_{k}").fill_null(0.0).to_numpy()
        for metric in LIST_METRICS:
            scored.columns[(key, f"{metric}_{k}")] = lists.get_column(f"{metric}_{k}").to_numpy().astype(np.float64)
        scored.coverage[(key, k)] = coverage(recs, k, catalogue_size)


def _mean(values: np.ndarray) -> float | None:
    finite = values[np.isfinite(values)]
    return float(np.mean(finite)) if finite.size else None


def _summarise(
    scored: _Scored, *, ks: list[int], config: EvaluationConfig, seed: int
) -> dict[tuple[str, str], tuple[float | None, float | None, float | None]]:
    """(candidate key, column) -> (mean, ci_lower, ci_upper), all columns bootstrapped together."""
    names = list(scored.columns)
    if not names:
        return {}
    stacked = np.column_stack([scored.columns[name] for name in names])
    lower, upper = bootstrap_means(
        stacked, samples=config.bootstrap_samples, confidence_level=config.confidence_level, seed=seed
    )

    def clean(x: float) -> float | None:
        return None if not np.isfinite(x) else float(x)

    return {
        name: (_mean(scored.columns[name]), clean(lower[i]), clean(upper[i])) for i, name in enumerate(names)
    }


def _selection_value(scored: _Scored, key: str, k: int) -> float:
    values = scored.columns.get((key, f"ndcg_{k}"))
    mean = _mean(values) if values is not None else None
    return -np.inf if mean is None else mean


def _evaluate_population(
    train: pl.DataFrame,
    relevant: pl.DataFrame,
    cands: list[Candidate],
    *,
    customers: pl.DataFrame,
    categories: pl.DataFrame,
    config: EvaluationConfig,
    ks: list[int],
    filter_purchased: bool,
    lists: Callable[[Candidate, pl.DataFrame], pl.DataFrame] | None = None,
    purchased: pl.DataFrame,
) -> _Scored:
    users = relevant.select(USER_COL).unique().sort(USER_COL)
    scored = _Scored(users=users)
    if users.height == 0:
        return scored
    # purchased = purchased_pairs(train), computed once per split by the caller
    item_users = purchased.group_by(ITEM_COL).agg(pl.len().alias("users"))
    n_train_users = train.select(pl.col(USER_COL).n_unique()).item()
    catalogue_size = train.select(pl.col(ITEM_COL).n_unique()).item()
    # the kNN candidates of this population share one co-occurrence pass (see _recommend)
    cache: dict = {"purchased": purchased, "knn_grid": [(c.params["neighbours"], c.params["shrinkage"]) for c in cands
                                if c.family == "item_knn"]}
    targets = users.join(customers, on=USER_COL, how="left")
    decays = [c.params.get("half_life_days") for c in cands]
    for i, candidate in enumerate(cands):
        started = time.perf_counter()
        if lists is not None:
            recs = lists(candidate, targets)
        else:
            recs = _recommend(
                candidate, train, targets, n=ks[-1], filter_purchased=filter_purchased,
                num_threads=config.num_threads, matrix_cache=cache,
            )
        _score(recs, relevant, scored, candidate.key, ks=ks, categories=categories, item_users=item_users,
               n_train_users=n_train_users, catalogue_size=catalogue_size)
        log.info("%s %s scored in %.1fs", candidate.family, candidate.key, time.perf_counter() - started)
        if decays[i] not in decays[i + 1 :]:  # free this decay's frames and matrices before the next fit
            _evict(cache, decays[i])
    return scored


def _evict(cache: dict[str, Any], half_life: int | None) -> None:
    """Drop the cached frame, matrices and kNN models of one decay (see ``_recommend``'s keys)."""
    for key in list(cache):
        if key in (f"train_{half_life}", f"raw_{half_life}", f"knn_{half_life}") or (
            key.startswith("{") and json.loads(key).get("half_life_days") == half_life
        ):
            del cache[key]


def _rows(
    split: str,
    population: str,
    scored: _Scored,
    summary: Mapping,
    cands: list[Candidate],
    *,
    ks: list[int],
    selected: set[str],
    served: str | None,
) -> list[dict]:
    rows = []
    for candidate in cands:
        for k in ks:
            for metric in (*USER_METRICS, *LIST_METRICS, "coverage"):
                if metric == "coverage":
                    value, lo, hi = scored.coverage.get((candidate.key, k)), None, None
                else:
                    value, lo, hi = summary.get((candidate.key, f"{metric}_{k}"), (None, None, None))
                rows.append({
                    "split": split, "population": population, "model": candidate.family,
                    "hyperparameters": candidate.key, "k": k, "metric": metric, "value": value,
                    "ci_lower": lo, "ci_upper": hi, "users_evaluated": scored.users.height,
                    "is_selected": candidate.key in selected,
                    "is_served": served is not None and candidate.family == served and candidate.key in selected,
                })
    return rows


def _difference_rows(
    split: str, scored: _Scored, als: Candidate, baseline: Candidate, *, ks: list[int],
    config: EvaluationConfig, seed: int,
) -> list[dict]:
    """ALS minus the best baseline, per user, bootstrapped with the same weights as the means."""
    diff = _Scored(users=scored.users)
    for k in ks:
        for metric in USER_METRICS:
            col = f"{metric}_{k}"
            diff.columns[("diff", col)] = scored.columns[(als.key, col)] - scored.columns[(baseline.key, col)]
    summary = _summarise(diff, ks=ks, config=config, seed=seed)
    params = json.dumps({"als": dict(als.params), "baseline": baseline.family,
                         "baseline_hyperparameters": dict(baseline.params)}, sort_keys=True)
    return [
        {
            "split": split, "population": "warm", "model": DIFFERENCE_MODEL, "hyperparameters": params,
            "k": k, "metric": metric, "value": summary[("diff", f"{metric}_{k}")][0],
            "ci_lower": summary[("diff", f"{metric}_{k}")][1], "ci_upper": summary[("diff", f"{metric}_{k}")][2],
            "users_evaluated": scored.users.height, "is_selected": False, "is_served": False,
        }
        for k in ks
        for metric in USER_METRICS
    ]


def _cold_start_rows(
    split: str, train: pl.DataFrame, labels: pl.DataFrame, *, customers: pl.DataFrame,
    categories: pl.DataFrame, config: EvaluationConfig, ks: list[int], seed: int, purchased: pl.DataFrame,
) -> list[dict]:
    """Customers without history before the cutoff: channel popularity vs global popularity."""
    known = train.select(pl.col(USER_COL).cast(pl.String)).unique()
    relevant = (
        labels.select(pl.col(USER_COL).cast(pl.String), pl.col(ITEM_COL).cast(pl.String))
        .unique().join(known, on=USER_COL, how="anti").sort(USER_COL, ITEM_COL)
    )
    if relevant.height == 0 or train.height == 0:
        return []
    # these customers are in no training row: their lists need the catalogue (the products of
    # the training matrix) and the popularity, not the matrix of every customer nor a purchase filter
    maps = IdMaps.from_ids(pl.Series(USER_COL, [], pl.String), train.get_column(ITEM_COL))
    m = sp.csr_matrix((0, maps.n_items), dtype=np.float32)
    no_purchases = pl.DataFrame(schema={USER_COL: pl.String, ITEM_COL: pl.String})
    channel = Candidate("channel_popular", {"by": "purchasers", "within": "acquisition_channel"})
    glob = Candidate("most_popular", {"by": "purchasers"})

    def lists(candidate: Candidate, targets: pl.DataFrame) -> pl.DataFrame:
        if candidate.family == "most_popular":  # no channel: the global list for everyone
            targets = targets.with_columns(pl.lit(None, pl.String).alias("acquisition_channel"))
        return recommend_top_n(None, m, maps, targets, interactions=train, n=ks[-1],
                               filter_purchased=config.filter_purchased, purchased=no_purchases,
                               source=candidate.family, channels=customers)

    scored = _evaluate_population(train, relevant, [channel, glob], customers=customers, categories=categories,
                                  config=config, ks=ks, filter_purchased=config.filter_purchased, lists=lists,
                                  purchased=purchased)
    summary = _summarise(scored, ks=ks, config=config, seed=seed)
    keys = {channel.key, glob.key}
    return _rows(split, "cold_start", scored, summary, [channel, glob], ks=ks, selected=keys, served=None)


def _search_sample(
    train: pl.DataFrame, relevant: pl.DataFrame, *, max_users: int | None, seed: int
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """The training rows and relevant labels of a seeded sample of at most ``max_users``
    training customers (everything when there are fewer; ``sampling.sample_users``)."""
    users = train.get_column(USER_COL)
    sample = sample_users(users, max_users=max_users, seed=seed)
    if sample.len() == users.n_unique():
        return train, relevant
    log.info("validation search on %d of %d training customers", sample.len(), users.n_unique())
    keep = sample.to_frame()
    return train.join(keep, on=USER_COL, how="semi"), relevant.join(keep, on=USER_COL, how="semi")


def _best(scored: _Scored, cands: list[Candidate], k: int) -> Candidate:
    """Highest NDCG@k; ties go to the earlier candidate (baselines come first)."""
    values = [_selection_value(scored, c.key, k) for c in cands]
    return cands[int(np.argmax(values))]


def evaluate_recommenders(
    train: pl.DataFrame,
    labels: pl.DataFrame,
    *,
    customers: pl.DataFrame,
    products: pl.DataFrame,
    config: EvaluationConfig,
) -> pl.DataFrame:
    """Validation + test evaluation of every model family (module docstring).

    ``train``: interactions (customer_id, product_id, strength, purchase_count, ...) with a
    ``split`` column: the training side of each split. ``labels``: distinct (split,
    customer_id, product_id) bought in each split's label window. ``customers``: customer_id,
    acquisition_channel. ``products``: product_id, category.

    Returns ``EVALUATION_SCHEMA`` rows: split x population x model x configuration x k x metric.
    ``is_selected``: the configuration each family uses on test (best validation NDCG@10);
    ``is_served``: the family ml_recommendations serves (best validation NDCG@10 overall).
    """
    ks = _check_ks(config.ks)
    for frame, name, cols in ((train, "train", ("split", USER_COL, ITEM_COL, "strength")),
                              (labels, "labels", ("split", USER_COL, ITEM_COL)),
                              (customers, "customers", (USER_COL, "acquisition_channel")),
                              (products, "products", (ITEM_COL, "category"))):
        require_columns(frame, cols, name)
    customers = customers.select(pl.col(USER_COL).cast(pl.String), pl.col("acquisition_channel").cast(pl.String))
    selection_k = 10 if 10 in ks else ks[-1]
    reasons: list[str] = []
    rows: list[dict] = []
    half_lives = sorted(int(c.removeprefix("strength_half_life_").removesuffix("d"))
                        for c in train.columns if c.startswith("strength_half_life_"))
    all_candidates = candidates(config, half_lives)
    chosen: dict[str, Candidate] = {}  # family -> configuration used on test
    served: str | None = None
    best_baseline: Candidate | None = None
    for split_number, split in enumerate(SPLITS):
        seed = config.random_state + split_number
        split_train = train.filter(pl.col("split") == split).drop("split")
        split_labels = labels.filter(pl.col("split") == split)
        bought = purchased_pairs(split_train)  # once per split: filters, novelty and relevance share it
        relevant = relevant_items(split_train, split_labels, filter_purchased=config.filter_purchased,
                                  purchased=bought)
        n_users = relevant.select(pl.col(USER_COL).n_unique()).item()
        if split == "validation":
            cands = all_candidates
        else:  # families chosen on validation (or the first configuration when it could not choose)
            cands = [chosen.get(f) or next(c for c in all_candidates if c.family == f)
                     for f in (*BASELINES, "als")]
        rows += _cold_start_rows(split, split_train, split_labels, customers=customers, categories=products,
                                 config=config, ks=ks, seed=seed, purchased=bought)
        if split == "validation":  # the search runs on a sample; cold start (above) used everyone
            sampled, relevant = _search_sample(split_train, relevant, max_users=config.grid_max_users, seed=seed)
            if sampled is not split_train:
                split_train, bought = sampled, bought.join(sampled.select(USER_COL).unique(), on=USER_COL, how="semi")
            n_users = relevant.select(pl.col(USER_COL).n_unique()).item()
        if n_users < config.min_users:
            reasons.append(f"{split} window has {n_users} evaluable customers (< {config.min_users})")
        if n_users == 0 or split_train.height == 0:
            continue
        scored = _evaluate_population(split_train, relevant, cands, customers=customers, categories=products,
                                      config=config, ks=ks, filter_purchased=config.filter_purchased,
                                      purchased=bought)
        if split == "validation":
            for family in (*BASELINES, "als"):
                chosen[family] = _best(scored, [c for c in cands if c.family == family], selection_k)
            best_baseline = _best(scored, [chosen[f] for f in BASELINES], selection_k)
            served = _best(scored, [best_baseline, chosen["als"]], selection_k).family
            log.info("validation: best baseline %s, served %s", best_baseline.family, served)
        summary = _summarise(scored, ks=ks, config=config, seed=seed)
        selected = {c.key for c in chosen.values()} if chosen else {c.key for c in cands}
        rows += _rows(split, "warm", scored, summary, cands, ks=ks, selected=selected, served=served)
        baseline = best_baseline or _best(scored, [c for c in cands if c.family in BASELINES], selection_k)
        als = chosen.get("als") or next(c for c in cands if c.family == "als")
        rows += _difference_rows(split, scored, als, baseline, ks=ks, config=config, seed=seed)
    status, reason = ("degraded", "; ".join(reasons)) if reasons else ("ok", None)
    if not rows:  # nothing evaluable: one row carries the status and the configured ALS
        base = next(c for c in all_candidates if c.family == "als")
        rows = [{"split": "validation", "population": "warm", "model": "als", "hyperparameters": base.key,
                 "k": selection_k, "metric": "ndcg", "users_evaluated": 0, "is_selected": True, "is_served": True}]
    table = pl.DataFrame(rows, schema={k: v for k, v in EVALUATION_SCHEMA.items()
                                       if k not in ("value_vs_most_popular", "status", "status_reason")},
                         strict=False)
    popular = table.filter(pl.col("model") == "most_popular").group_by("split", "population", "k", "metric").agg(
        pl.col("value").first().alias("_base")
    )
    return (
        table.join(popular, on=["split", "population", "k", "metric"], how="left", maintain_order="left")
        .with_columns(
            value_vs_most_popular=pl.when((pl.col("_base") > 0) & (pl.col("model") != DIFFERENCE_MODEL))
            .then(pl.col("value") / pl.col("_base")),
            status=pl.lit(status),
            status_reason=pl.lit(reason, pl.String),
        )
        .drop("_base")
        .select(list(EVALUATION_SCHEMA))
        .cast(EVALUATION_SCHEMA)
    )


def served_model(evaluation: pl.DataFrame) -> tuple[str, dict[str, Any]]:
    """(family, hyperparameters) ml_recommendations serves: the validation winner, else ALS in
    the configuration :func:`selected_configuration` finds."""
    row = evaluation.filter((pl.col("split") == "validation") & pl.col("is_served")).select("model", "hyperparameters")
    if row.height == 0:
        return "als", selected_configuration(evaluation, "als") or {}
    return row.get_column("model")[0], json.loads(row.get_column("hyperparameters")[0])


def selected_configuration(evaluation: pl.DataFrame, family: str) -> dict[str, Any] | None:
    """The configuration of ``family`` chosen on validation; if validation could not be scored,
    the one the test split used (the configured one); None if the table has neither."""
    for split in SPLITS:
        row = evaluation.filter(
            (pl.col("split") == split) & (pl.col("model") == family) & pl.col("is_selected")
        ).select("hyperparameters")
        if row.height:
            return json.loads(row.get_column("hyperparameters")[0])
    return None
