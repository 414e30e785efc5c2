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
  every customer for the test split. Cold start is not a search and uses every customer.
* Test sample: with ``test_max_users`` the test split's models are still fitted on every
  training customer (the measured model is the one the build serves: same data, same
  hyperparameters), but only a seeded sample of at most that many of its evaluable warm
  customers is scored (the same sampler; below the cap, everyone). The report is then a sample
  estimate: ``users_evaluated`` is the sample size and the bootstrap intervals widen to match.
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
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import polars as pl
import scipy.sparse as sp

from ecom_growth.recommend.als import FIT_KEYS, WEIGHT_KEYS, fit_als
from ecom_growth.recommend.baselines import CHANNEL_COL
from ecom_growth.recommend.bootstrap import bootstrap_means
from ecom_growth.recommend.knn import fit_item_knn_grid
from ecom_growth.recommend.matrix import (
    ITEM_COL,
    USER_COL,
    IdMaps,
    as_ids,
    confidence,
    id_column,
    id_pairs,
    indicator_matrix,
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
from ecom_growth.recommend.topn import _fallback_lists, model_scores, rows_needed

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
# int_evaluation_snapshots: the row of this evaluation, and the digest of its inputs' settings
SNAPSHOT_NAME = "recommender"
SNAPSHOT_DIGEST_SOURCE_COL = "settings_digest"
SNAPSHOT_DIGEST_COL = "snapshot_settings_digest"


@dataclass(frozen=True)
class EvaluationConfig:
    """Everything the evaluation needs, from the project's vars (``settings.evaluation_config``).

    ``als``: weighting + fit + weighting parameters of the configured ALS; ``als_grid``:
    overrides of it tried on validation (empty = the configured one only); ``knn_neighbours``
    x ``knn_shrinkage``: the item-kNN grid; ``min_users``: fewer evaluable warm users in a
    split marks the table degraded (its numbers are too noisy to choose on);
    ``grid_max_users``: the validation search runs on a seeded sample of at most this many
    training customers (None: all of them; module docstring); ``test_max_users``: the test
    split is measured on a seeded sample of at most this many of its evaluable customers, its
    models still fitted on every training customer (None: all of them).
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
    # the test split scores a seeded sample of at most this many of its evaluable customers
    # (module docstring); None = all. settings.evaluation_config reads var recommender_test_max_users
    test_max_users: int | None = field(default=None)


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
    test = id_pairs(test_purchases).unique()
    known = pl.DataFrame([as_ids(train_interactions.get_column(USER_COL))]).unique()
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


def code_map(ids: pl.Series) -> pl.DataFrame:
    """Integer codes for ids: ``code`` (Int32) is the position of the id among the sorted
    distinct non-null ids, so sorting or breaking ties by code is the same as by id (what lets
    :func:`evaluate_recommenders` run on codes and give the same table). Columns: the id
    (named after ``ids``), code."""
    distinct = ids.drop_nulls().unique().sort()
    if distinct.len() >= 2**31:
        raise ValueError(f"{distinct.len()} distinct ids do not fit Int32 codes")
    return pl.DataFrame({ids.name: distinct, "code": pl.int_range(0, distinct.len(), dtype=pl.Int32, eager=True)})


def distinct_ids_sql(column: str, sources: Sequence[str]) -> str:
    """SQL for the distinct values of ``column`` over the queries ``sources`` (the ids to code)."""
    return " union ".join(f"select {column} from ({source}) as source" for source in sources)


def coded_sql(source: str, columns: Sequence[str], code_tables: Mapping[str, str], *, split: str | None = None) -> str:
    """SQL selecting ``columns`` of the query ``source`` with each id column in ``code_tables``
    (column -> table or view with that column and ``code``, from :func:`code_map`) replaced by
    its code. A left join: an id without a code becomes null, which the evaluation refuses
    loudly (``matrix.id_column``) rather than dropping the row. ``split`` comes as an ENUM
    (one byte a row instead of a string); ``split``: only that split's rows."""
    splits = ", ".join(f"'{split}'" for split in SPLITS)
    select = []
    for column in columns:
        if column in code_tables:
            select.append(f"code_{column}.code as {column}")
        elif column == "split":
            select.append(f"cast(source.split as enum ({splits})) as split")
        else:
            select.append(f"source.{column}")
    joins = "".join(f" left join {table} as code_{column} on source.{column} = code_{column}.{column}"
                    for column, table in code_tables.items() if column in columns)
    where = "" if split is None else f" where source.split = '{split}'"
    return f"select {', '.join(select)} from ({source}) as source{joins}{where}"


@dataclass(frozen=True)
class CodedSplits:
    """The interactions of the evaluation, read one split at a time when called (``reader(split)``:
    that split's rows without the ``split`` column, ids as the codes of ``user_codes`` /
    ``item_codes``). The evaluation reads the validation split, evaluates it and lets it go
    before it reads the test split, so only one split's frame is resident at once (each is
    ~0.8 GB at 1M customers). ``columns``: what each read returns."""

    session: Any
    source: str
    columns: list[str]
    user_codes: pl.DataFrame
    item_codes: pl.DataFrame

    def __call__(self, split: str) -> pl.DataFrame:
        if split not in SPLITS:
            raise ValueError(f"unknown split {split!r}; expected one of {SPLITS}")
        with _registered_codes(self.session, self.user_codes, self.item_codes) as code_tables:
            return self.session.sql(coded_sql(self.source, self.columns, code_tables, split=split)).pl()


@contextmanager
def _registered_codes(session: Any, user_codes: pl.DataFrame, item_codes: pl.DataFrame) -> Iterator[dict[str, str]]:
    """The code maps registered in ``session`` for :func:`coded_sql`, unregistered on exit."""
    code_tables = {USER_COL: "_recommender_evaluation_customer_codes",
                   ITEM_COL: "_recommender_evaluation_product_codes"}
    session.register(code_tables[USER_COL], user_codes)
    session.register(code_tables[ITEM_COL], item_codes)
    try:
        yield code_tables
    finally:
        for table in code_tables.values():
            session.unregister(table)


@dataclass(frozen=True)
class CodedInputs:
    """The evaluation's inputs with customer_id / product_id as Int32 codes (:func:`code_map`
    order), as :func:`evaluate_recommenders` takes them; ``interactions`` reads a split when
    called (:class:`CodedSplits`); ``user_ids`` is the customer_id of each code (the validation
    sample is drawn on the ids, so its choices do not change)."""

    interactions: CodedSplits
    labels: pl.DataFrame
    customers: pl.DataFrame
    products: pl.DataFrame
    user_ids: pl.Series


def evaluation_snapshot(snapshots: pl.DataFrame) -> tuple[Any, str]:
    """(as_of, settings_digest) of the recommender's row of int_evaluation_snapshots: the
    evaluation snapshot (training interactions and labels at one as_of) the evaluation reads.
    ValueError unless there is exactly one such row with both values."""
    require_columns(snapshots, ("evaluation", "as_of", SNAPSHOT_DIGEST_SOURCE_COL), "evaluation snapshots")
    rows = snapshots.filter(pl.col("evaluation") == SNAPSHOT_NAME)
    if rows.height != 1 or rows.select("as_of", SNAPSHOT_DIGEST_SOURCE_COL).null_count().sum_horizontal()[0] > 0:
        raise ValueError(f"int_evaluation_snapshots must hold one complete '{SNAPSHOT_NAME}' row, got {rows.height}")
    return rows.item(0, "as_of"), rows.item(0, SNAPSHOT_DIGEST_SOURCE_COL)


def with_snapshot(evaluation: pl.DataFrame, snapshot: tuple[Any, str]) -> pl.DataFrame:
    """The evaluation table with the snapshot it evaluated: ``as_of`` (its windows end there: test
    labels (as_of - H, as_of], trained up to as_of - H) and ``snapshot_settings_digest``."""
    as_of, digest = snapshot
    return evaluation.with_columns(pl.lit(as_of, pl.Datetime("us")).alias("as_of"),
                                   pl.lit(digest, pl.String).alias(SNAPSHOT_DIGEST_COL))


def same_snapshot(evaluation: pl.DataFrame | None, snapshot: tuple[Any, str]) -> bool:
    """Whether every row of a stored evaluation was computed on ``snapshot`` (:func:`with_snapshot`
    columns): a kept evaluation must describe the inputs the build holds, so a rebuilt snapshot
    reruns it."""
    if evaluation is None or evaluation.height == 0 or not {"as_of", SNAPSHOT_DIGEST_COL} <= set(evaluation.columns):
        return False
    stored = evaluation.select("as_of", SNAPSHOT_DIGEST_COL).unique()
    return stored.height == 1 and stored.row(0) == (snapshot[0], snapshot[1])


def snapshot_mismatch_sql(source: str) -> str:
    """SQL counting the rows of the query ``source`` that are not of the snapshot given as the
    parameters (as_of, settings_digest)."""
    return (f"select count(*) from ({source}) as source where source.as_of is distinct from ? "
            f"or source.{SNAPSHOT_DIGEST_SOURCE_COL} is distinct from ?")


def read_coded_inputs(session: Any, *, interactions: Any, labels: Any, customers: Any, products: Any,
                      snapshot: tuple[Any, str]) -> CodedInputs:
    """Read the evaluation's inputs from DuckDB relations (a dbt model's refs: the interaction
    splits, int_holdout_purchases, dim_customers, dim_products) with the ids turned into integer
    codes by DuckDB, so the evaluation never holds tens of millions of id strings (at 1M
    customers the string frame was 6 GB of the model's peak). Only the columns the evaluation
    reads are loaded, and the interactions one split at a time, when the evaluation asks for it
    (:class:`CodedSplits`). The one function of this module that reads.

    ``snapshot``: the (as_of, settings_digest) of :func:`evaluation_snapshot`; ValueError when the
    interactions or the labels hold rows of any other snapshot (never evaluate a stale training
    side against fresh labels)."""
    for name, relation in (("int_user_item_interactions_before_holdout", interactions),
                           ("int_holdout_purchases", labels)):
        others = session.execute(snapshot_mismatch_sql(relation.sql_query()), list(snapshot)).fetchall()[0][0]
        if others:
            raise ValueError(f"{name} holds {others} rows of another evaluation snapshot than "
                             f"int_evaluation_snapshots (as_of {snapshot[0]}): build them together, "
                             "e.g. dbt build -s +ml_recommender_evaluation")
    user_codes, item_codes = (
        code_map(session.sql(distinct_ids_sql(column, [r.sql_query() for r in sources])).pl().to_series())
        for column, sources in ((USER_COL, (interactions, labels, customers)), (ITEM_COL, (interactions, labels, products))))
    columns = [c for c in evaluation_columns(interactions.columns) if c != "split"]
    with _registered_codes(session, user_codes, item_codes) as code_tables:
        labels_, customers_, products_ = (
            session.sql(coded_sql(relation.sql_query(), relation_columns, code_tables)).pl()
            for relation, relation_columns in ((labels, ["split", USER_COL, ITEM_COL]),
                                               (customers, [USER_COL, "acquisition_channel"]),
                                               (products, [ITEM_COL, "category"])))
    splits = CodedSplits(session=session, source=interactions.sql_query(), columns=columns,
                         user_codes=user_codes, item_codes=item_codes)
    return CodedInputs(interactions=splits, labels=labels_, customers=customers_, products=products_,
                       user_ids=user_codes.get_column(USER_COL))


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
        # popularity needs the id maps only: no matrix is built for a decay no other model uses
        raw_key, maps_key = f"raw_{half_life}", f"maps_{half_life}"
        if raw_key in matrix_cache:
            maps = matrix_cache[raw_key][1]
        else:
            if maps_key not in matrix_cache:
                matrix_cache[maps_key] = IdMaps.from_ids(id_column(train, USER_COL, "interactions"),
                                                         id_column(train, ITEM_COL, "interactions"))
            maps = matrix_cache[maps_key]
        model, m = None, sp.csr_matrix((maps.n_users, maps.n_items), dtype=np.float32)
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
    return top_n_lists(
        model, m, maps, users, interactions=train, n=n, filter_purchased=filter_purchased,
        purchased=matrix_cache["purchased"], popularity_by=popularity_by,
    )


def top_n_lists(
    model,
    matrix: sp.csr_matrix,
    maps: IdMaps,
    customers: pl.DataFrame,
    *,
    interactions: pl.DataFrame,
    n: int,
    filter_purchased: bool,
    purchased: pl.DataFrame,
    popularity_by: str,
    channels: pl.DataFrame | None = None,
) -> pl.DataFrame:
    """The lists ``topn.recommend_top_n`` ships (same arguments), as customer_id, product_id,
    rank (1 = best) only, on ids of any type: integer codes stay integers (the evaluation
    scores on codes, see :func:`code_ids`; ``recommend_top_n`` casts ids to String).

    Model rows come from ``topn.model_scores``; customers the model leaves short are topped up
    from ``topn``'s popularity lists (channel, then global) skipping their model rows and, with
    ``filter_purchased``, their purchases, exactly as ``recommend_top_n`` does (unit test)."""
    schema = {USER_COL: maps.user_ids.dtype, ITEM_COL: maps.item_ids.dtype, "rank": pl.Int32}
    channel = (pl.col(CHANNEL_COL).cast(pl.String) if CHANNEL_COL in customers.columns
               else pl.lit(None, pl.String).alias(CHANNEL_COL))
    cust = customers.select(pl.col(USER_COL), channel).with_columns(user_idx=maps.user_index(customers[USER_COL]))
    known = cust.filter(pl.col("user_idx").is_not_null()).sort("user_idx")
    if model is not None and known.height and maps.n_items and n:
        filter_matrix = indicator_matrix(purchased, maps) if filter_purchased else None
        scored = model_scores(model, matrix, known.get_column("user_idx").to_numpy(), n=n, filter_matrix=filter_matrix)
    else:
        scored = pl.DataFrame(schema={"user_idx": pl.Int32, "item_idx": pl.Int32, "position": pl.Int64})
    model_rows = pl.DataFrame({
        USER_COL: maps.user_id(scored.get_column("user_idx")), ITEM_COL: maps.item_id(scored.get_column("item_idx")),
        "position": scored.get_column("position"),
    }, schema={USER_COL: schema[USER_COL], ITEM_COL: schema[ITEM_COL], "position": pl.Int64})
    needing = rows_needed(cust, scored, n)
    parts = [model_rows]
    if needing.height and maps.n_items:
        excluded = pl.concat([model_rows.select(USER_COL, ITEM_COL), *([id_pairs(purchased)] if filter_purchased else [])])
        excluded = (
            excluded.join(needing.select(USER_COL), on=USER_COL, how="semi")
            .join(pl.DataFrame({ITEM_COL: maps.item_ids}), on=ITEM_COL, how="semi")
            .unique()
        )
        n_excluded = excluded.group_by(USER_COL).agg(pl.len().cast(pl.Int64).alias("n_excluded"))
        needing = needing.join(n_excluded, on=USER_COL, how="left").with_columns(
            span=pl.min_horizontal(pl.col("need") + pl.col("n_excluded").fill_null(0), pl.lit(maps.n_items, pl.Int64))
        )
        lists = _fallback_lists(
            interactions, cust if channels is None else channels, maps, by=popularity_by,
            channels_needed=needing.get_column(CHANNEL_COL).drop_nulls().unique(),
            length=int(needing.get_column("span").max()),
        ).select(CHANNEL_COL, "position", pl.col(ITEM_COL).cast(schema[ITEM_COL]))  # it returns String ids
        with_list = lists.get_column(CHANNEL_COL).drop_nulls().unique()
        parts.append(
            needing.with_columns(
                pl.when(pl.col(CHANNEL_COL).is_in(with_list.implode())).then(pl.col(CHANNEL_COL)).alias("list_key"),
                position=pl.int_ranges(0, pl.col("span"), dtype=pl.Int64),
            )
            .explode("position")
            .drop_nulls("position")
            .join(lists.rename({CHANNEL_COL: "list_key"}), on=["list_key", "position"], how="inner", nulls_equal=True)
            .join(excluded, on=[USER_COL, ITEM_COL], how="anti")
            .sort([USER_COL, "position"])
            .filter(pl.int_range(pl.len()).over(USER_COL) < pl.col("need"))
            .select(USER_COL, ITEM_COL,
                    position=pl.col("n_model").fill_null(0) + pl.int_range(pl.len()).over(USER_COL).cast(pl.Int64))
        )
    out = pl.concat(parts).sort([USER_COL, "position"]) if len(parts) > 1 else model_rows
    return out.select(USER_COL, ITEM_COL, (pl.col("position") + 1).cast(pl.Int32).alias("rank")).cast(schema)


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
        if key in (f"train_{half_life}", f"raw_{half_life}", f"maps_{half_life}", f"knn_{half_life}") or (
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
    known = pl.DataFrame([as_ids(train.get_column(USER_COL))]).unique()
    relevant = id_pairs(labels).unique().join(known, on=USER_COL, how="anti").sort(USER_COL, ITEM_COL)
    if relevant.height == 0 or train.height == 0:
        return []
    # these customers are in no training row: their lists need the catalogue (the products of
    # the training matrix) and the popularity, not the matrix of every customer nor a purchase filter
    maps = IdMaps.from_ids(relevant.get_column(USER_COL).head(0), train.get_column(ITEM_COL))
    m = sp.csr_matrix((0, maps.n_items), dtype=np.float32)
    no_purchases = relevant.head(0)
    channel = Candidate("channel_popular", {"by": "purchasers", "within": "acquisition_channel"})
    glob = Candidate("most_popular", {"by": "purchasers"})

    def lists(candidate: Candidate, targets: pl.DataFrame) -> pl.DataFrame:
        if candidate.family == "most_popular":  # no channel: the global list for everyone
            targets = targets.with_columns(pl.lit(None, pl.String).alias("acquisition_channel"))
        return top_n_lists(None, m, maps, targets, interactions=train, n=ks[-1],
                           filter_purchased=config.filter_purchased, purchased=no_purchases,
                           popularity_by="purchasers", channels=customers)

    scored = _evaluate_population(train, relevant, [channel, glob], customers=customers, categories=categories,
                                  config=config, ks=ks, filter_purchased=config.filter_purchased, lists=lists,
                                  purchased=purchased)
    summary = _summarise(scored, ks=ks, config=config, seed=seed)
    keys = {channel.key, glob.key}
    return _rows(split, "cold_start", scored, summary, [channel, glob], ks=ks, selected=keys, served=None)


def _sample_codes(
    codes: pl.Series, *, max_users: int | None, seed: int, user_ids: pl.Series | None
) -> pl.DataFrame | None:
    """The distinct ``codes`` (customer ids, or their integer codes when ``user_ids`` gives the
    customer_id of each code) of a seeded sample of at most ``max_users`` customers, drawn on the
    customer_id by ``sampling.sample_users``; None when the sample is everyone."""
    codes = codes.unique()
    ids = codes if user_ids is None else user_ids.gather(codes.cast(pl.Int64))
    sample = sample_users(ids, max_users=max_users, seed=seed)
    if sample.len() == codes.len():
        return None
    keep = pl.DataFrame({USER_COL: codes, "_id": ids.cast(pl.String)}).filter(
        pl.col("_id").is_in(sample.cast(pl.String).implode())
    )
    return keep.select(USER_COL)


def _search_sample(
    train: pl.DataFrame, relevant: pl.DataFrame, *, max_users: int | None, seed: int,
    user_ids: pl.Series | None = None,
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """The training rows and relevant labels of a seeded sample of at most ``max_users``
    training customers (everything when there are fewer; ``sampling.sample_users``)."""
    keep = _sample_codes(train.get_column(USER_COL), max_users=max_users, seed=seed, user_ids=user_ids)
    if keep is None:
        return train, relevant
    log.info("validation search on %d of %d training customers", keep.height, train.get_column(USER_COL).n_unique())
    return train.join(keep, on=USER_COL, how="semi"), relevant.join(keep, on=USER_COL, how="semi")


def _split_rows(train: pl.DataFrame, split: str) -> pl.DataFrame:
    """The rows of one split without the split column: a zero-copy slice when they are
    contiguous (the model loads the splits one after the other), else a filtered copy."""
    rows = (train.get_column("split") == split).arg_true()
    if rows.len() and rows[-1] - rows[0] + 1 == rows.len():
        return train.slice(rows[0], rows.len()).drop("split")
    return train.filter(pl.col("split") == split).drop("split")


def _best(scored: _Scored, cands: list[Candidate], k: int) -> Candidate:
    """Highest NDCG@k; ties go to the earlier candidate (baselines come first)."""
    values = [_selection_value(scored, c.key, k) for c in cands]
    return cands[int(np.argmax(values))]


def evaluate_recommenders(
    train: pl.DataFrame | CodedSplits,
    labels: pl.DataFrame,
    *,
    customers: pl.DataFrame,
    products: pl.DataFrame,
    config: EvaluationConfig,
    user_ids: pl.Series | None = None,
) -> pl.DataFrame:
    """Validation + test evaluation of every model family (module docstring).

    ``train``: interactions (customer_id, product_id, strength, purchase_count, ...) with a
    ``split`` column: the training side of each split; or a :class:`CodedSplits` that reads one
    split's rows (coded ids, no ``split`` column) when asked. ``labels``: distinct (split,
    customer_id, product_id) bought in each split's label window. ``customers``: customer_id,
    acquisition_channel. ``products``: product_id, category. The ids may be integer codes
    whose order is the ids' order (``code_map``; every frame coded alike), which is much cheaper
    on millions of rows and gives the same table; ``user_ids`` then holds the customer_id of
    each code (``user_ids[code]``): the seeded samples are drawn on customer_id.

    Returns ``EVALUATION_SCHEMA`` rows: split x population x model x configuration x k x metric.
    ``is_selected``: the configuration each family uses on test (best validation NDCG@10);
    ``is_served``: the family ml_recommendations serves (best validation NDCG@10 overall).
    """
    ks = _check_ks(config.ks)
    for frame, name, cols in ((labels, "labels", ("split", USER_COL, ITEM_COL)),
                              (customers, "customers", (USER_COL, "acquisition_channel")),
                              (products, "products", (ITEM_COL, "category"))):
        require_columns(frame, cols, name)
    if isinstance(train, pl.DataFrame):
        require_columns(train, ("split", USER_COL, ITEM_COL, "strength"), "train")
        coded = train.get_column(USER_COL).dtype.is_integer()
        frame = train

        def read_split(split: str) -> pl.DataFrame:
            return _split_rows(frame, split)
    else:  # a reader: rows of one split at a time, ids always integer codes
        missing = {USER_COL, ITEM_COL, "strength"} - set(train.columns)
        if missing:
            raise ValueError(f"train is missing column(s) {sorted(missing)}")
        coded, read_split = True, train
    if user_ids is None and coded:
        raise ValueError("integer customer codes need user_ids (the samples are drawn on customer_id)")
    customers = pl.DataFrame([as_ids(customers.get_column(USER_COL)),
                              customers.get_column(CHANNEL_COL).cast(pl.String)])
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
        split_train = read_split(split)
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
            sampled, relevant = _search_sample(split_train, relevant, max_users=config.grid_max_users, seed=seed,
                                               user_ids=user_ids)
            if sampled is not split_train:
                split_train, bought = sampled, bought.join(sampled.select(USER_COL).unique(), on=USER_COL, how="semi")
            n_users = relevant.select(pl.col(USER_COL).n_unique()).item()
        elif config.test_max_users is not None:  # score a sample; the fits below still use everyone
            keep = _sample_codes(relevant.get_column(USER_COL), max_users=config.test_max_users, seed=seed,
                                 user_ids=user_ids)
            if keep is not None:
                log.info("test split scored on %d of %d evaluable customers", keep.height, n_users)
                relevant = relevant.join(keep, on=USER_COL, how="semi")
                n_users = keep.height
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
        # this split's frames go before the next split is read (one split resident at a time)
        del split_train, bought, relevant, scored
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
