"""RFM scores (1-5 per dimension) and rule-based RFM segments.

Scores are quantile ranks inside the scored population, so they mean "relative to the other
customers of this shop at this date"; segments are a lookup of the three scores in a rules
table that ships as a dbt seed (seeds/rfm_segments.csv), so marketing can change the rules
without touching code.
"""

from __future__ import annotations

import io
import itertools
import logging

import polars as pl

logger = logging.getLogger(__name__)

N_SCORES = 5
SCORE_COLUMNS = ("recency_score", "frequency_score", "monetary_score")
SCORE_DTYPE = pl.Int32
RULE_COLUMNS = (
    "segment_name",
    "priority",
    "recency_min",
    "recency_max",
    "frequency_min",
    "frequency_max",
    "monetary_min",
    "monetary_max",
)

# The classic recency x frequency grid (champions top right, lost bottom left) with two
# additions: "lost" is carved out of hibernating (lowest recency), and cant_lose_them also
# requires high monetary value (their frequent-but-cheap peers are at_risk). First match by
# priority wins; together the rules cover all 125 score cells, so nobody ends up "other".
DEFAULT_RFM_SEGMENT_RULES_CSV = """\
segment_name,priority,recency_min,recency_max,frequency_min,frequency_max,monetary_min,monetary_max,description
champions,1,5,5,4,5,1,5,Bought very recently and buy often
loyal,2,3,4,4,5,1,5,Buy often and fairly recently
potential_loyalist,3,4,5,2,3,1,5,Recent customers with a few purchases
new_customers,4,5,5,1,1,1,5,Bought very recently for the first time or rarely
promising,5,4,4,1,1,1,5,Recent buyers with few purchases
need_attention,6,3,3,3,3,1,5,Middling recency and frequency
about_to_sleep,7,3,3,1,2,1,5,Below-average recency and few purchases
cant_lose_them,8,1,2,4,5,4,5,Used to buy often and spend a lot but have not come back
at_risk,9,1,2,3,5,1,5,Used to buy often but have not come back for a long time
hibernating,10,2,2,1,2,1,5,Last purchase long ago and few purchases
lost,11,1,1,1,2,1,5,Lowest recency and few purchases
"""

DEFAULT_RFM_SEGMENT_RULES: pl.DataFrame = pl.read_csv(
    io.StringIO(DEFAULT_RFM_SEGMENT_RULES_CSV),
    schema_overrides={c: pl.Int32 for c in RULE_COLUMNS[1:]},
)


def _quantile_score(column: str, *, higher_is_better: bool) -> pl.Expr:
    """1 + floor(5 * (rank_min - 1) / n): the fifth of customers that do strictly worse.

    ``rank_min`` gives tied values the lowest rank of their block, so equal values always
    share a score and the worst value always scores 1. With heavy ties the score follows
    the share of customers strictly below: if 70% of customers have 1 order, they all get
    frequency 1 and 2-order customers (70% strictly below them) get 4 -- scores then skip
    values rather than split identical customers. In SQL:
    ``1 + floor(5 * (rank() over (order by x) - 1) / count(*) over ())``.
    """
    rank = pl.col(column).rank(method="min", descending=not higher_is_better).cast(pl.Float64)
    return (1 + ((rank - 1) * N_SCORES / pl.len()).floor()).clip(1, N_SCORES).cast(SCORE_DTYPE)


def rfm_scores(
    customers: pl.DataFrame,
    *,
    recency: str = "days_since_last_order",
    frequency: str = "completed_orders",
    monetary: str = "revenue",
) -> pl.DataFrame:
    """Add recency_score, frequency_score, monetary_score (1..5) and rfm_score ("545").

    Quantile scores within the given customers: 5 is the best fifth. Recency is "days since
    the last order", so FEWER days score higher; frequency and monetary score higher when
    larger. Ties share a score (see ``_quantile_score``): the score is
    1 + floor(5 * share of customers with a strictly worse value), so it is deterministic,
    order-independent, reproducible in SQL, and a lone customer (or a column where everyone
    ties) scores 1.

    Customers without orders have no recency; nulls are rejected with a ValueError naming
    the column (filter them out first). Empty input returns an empty frame with the columns.
    """
    what = "rfm_scores"
    _check_numeric_columns(customers, [recency, frequency, monetary], what=what)
    clash = [c for c in (*SCORE_COLUMNS, "rfm_score") if c in customers.columns]
    if clash:
        raise ValueError(f"{what}: input already has column(s) {clash}")
    scored = customers.with_columns(
        _quantile_score(recency, higher_is_better=False).alias("recency_score"),
        _quantile_score(frequency, higher_is_better=True).alias("frequency_score"),
        _quantile_score(monetary, higher_is_better=True).alias("monetary_score"),
    )
    return scored.with_columns(
        pl.concat_str([pl.col(c).cast(pl.String) for c in SCORE_COLUMNS]).alias("rfm_score")
    )


def _check_numeric_columns(frame: pl.DataFrame, columns: list[str], *, what: str) -> None:
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise ValueError(f"{what}: missing column(s) {missing}; got {frame.columns}")
    for column in columns:
        series = frame.get_column(column)
        if not series.dtype.is_numeric():
            raise ValueError(f"{what}: column {column!r} must be numeric, got {series.dtype}")
        if series.null_count():
            raise ValueError(f"{what}: column {column!r} has {series.null_count()} null value(s)")
        if series.dtype.is_float() and series.is_nan().any():
            raise ValueError(f"{what}: column {column!r} has NaN values")


def _validated_rules(rules: pl.DataFrame) -> pl.DataFrame:
    what = "rfm segment rules"
    missing = [c for c in RULE_COLUMNS if c not in rules.columns]
    if missing:
        raise ValueError(f"{what}: missing column(s) {missing}; got {rules.columns}")
    for column in RULE_COLUMNS:
        if rules.get_column(column).null_count():
            raise ValueError(f"{what}: column {column!r} has null values")
    for column in RULE_COLUMNS[1:]:
        dtype = rules.schema[column]
        if not dtype.is_integer():
            raise ValueError(f"{what}: column {column!r} must be integer, got {dtype}")
    if rules.get_column("priority").n_unique() != rules.height:
        raise ValueError(f"{what}: priorities must be unique (first match wins)")
    for dim in ("recency", "frequency", "monetary"):
        low, high = pl.col(f"{dim}_min"), pl.col(f"{dim}_max")
        bad = rules.filter((low > high) | (low < 1) | (high > N_SCORES))
        if bad.height:
            raise ValueError(
                f"{what}: {dim} range must satisfy 1 <= {dim}_min <= {dim}_max <= {N_SCORES}; "
                f"bad rules: {bad.get_column('segment_name').to_list()}"
            )
    return rules.select(pl.col("segment_name").cast(pl.String), *(pl.col(c).cast(pl.Int64) for c in RULE_COLUMNS[1:]))


def rfm_segment_coverage(
    rules: pl.DataFrame = DEFAULT_RFM_SEGMENT_RULES, *, default_segment: str = "other"
) -> pl.DataFrame:
    """The segment of each of the 125 (recency, frequency, monetary) score cells.

    Columns recency_score, frequency_score, monetary_score, rfm_segment. Cells no rule
    matches get ``default_segment``; filter on it to see what a rules table leaves out.
    """
    checked = _validated_rules(rules)
    scores = range(1, N_SCORES + 1)
    cells = pl.DataFrame(
        list(itertools.product(scores, scores, scores)),
        schema={"recency_score": pl.Int64, "frequency_score": pl.Int64, "monetary_score": pl.Int64},
        orient="row",
    )
    matches = (
        cells.join(checked, how="cross")
        .filter(
            pl.col("recency_score").is_between(pl.col("recency_min"), pl.col("recency_max"))
            & pl.col("frequency_score").is_between(pl.col("frequency_min"), pl.col("frequency_max"))
            & pl.col("monetary_score").is_between(pl.col("monetary_min"), pl.col("monetary_max"))
        )
        .sort("priority")
        .group_by(SCORE_COLUMNS, maintain_order=True)
        .agg(pl.col("segment_name").first().alias("rfm_segment"))
    )
    return (
        cells.join(matches, on=list(SCORE_COLUMNS), how="left")
        .with_columns(pl.col("rfm_segment").fill_null(default_segment))
        .with_columns(pl.col(c).cast(SCORE_DTYPE) for c in SCORE_COLUMNS)
        .sort(SCORE_COLUMNS)
    )


def assign_rfm_segments(
    scored: pl.DataFrame,
    rules: pl.DataFrame = DEFAULT_RFM_SEGMENT_RULES,
    *,
    default_segment: str = "other",
) -> pl.DataFrame:
    """Add rfm_segment: the first rule (lowest priority number) whose inclusive score ranges
    contain the customer's three scores; ``default_segment`` when none does.

    ``rules`` has the seed's columns segment_name, priority, recency_min, recency_max,
    frequency_min, frequency_max, monetary_min, monetary_max (extra columns such as a
    description are ignored). The rules are first expanded to the 125 possible score cells,
    so assigning a million customers is one join, not a million rule evaluations.
    """
    what = "assign_rfm_segments"
    _check_numeric_columns(scored, list(SCORE_COLUMNS), what=what)
    if "rfm_segment" in scored.columns:
        raise ValueError(f"{what}: input already has an rfm_segment column")
    for column in SCORE_COLUMNS:
        series = scored.get_column(column)
        if scored.height and (series.min() < 1 or series.max() > N_SCORES or not series.dtype.is_integer()):
            raise ValueError(f"{what}: {column!r} must be whole numbers from 1 to {N_SCORES}")
    lookup = rfm_segment_coverage(rules, default_segment=default_segment).with_columns(
        pl.col(c).cast(pl.Int64).alias(f"_{c}") for c in SCORE_COLUMNS
    ).drop(SCORE_COLUMNS)
    return (
        scored.with_columns(pl.col(c).cast(pl.Int64).alias(f"_{c}") for c in SCORE_COLUMNS)
        .join(lookup, on=[f"_{c}" for c in SCORE_COLUMNS], how="left", maintain_order="left")
        .drop(f"_{c}" for c in SCORE_COLUMNS)
    )
