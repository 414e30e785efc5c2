"""Baselines every recommender must beat, and the popularity used for cold start.

* Most popular: rank products by how many distinct customers bought them (default) or by
  their total interaction strength. It is also the cold-start fallback (per acquisition channel,
  then global) and the top-up when a model returns fewer than N products.
* Item-item kNN lives in ``knn`` (shrunk cosine; it replaced implicit's CosineRecommender,
  see that module for why).
"""

from __future__ import annotations

from typing import Literal

import polars as pl

from ecom_growth.recommend.matrix import (
    ITEM_COL,
    USER_COL,
    as_ids,
    id_pairs,
    purchased_pairs,
    require_columns,
)

PopularityBy = Literal["purchasers", "strength"]
CHANNEL_COL = "acquisition_channel"


def popularity(
    interactions: pl.DataFrame,
    *,
    by: PopularityBy = "purchasers",
    channels: pl.DataFrame | None = None,
) -> pl.DataFrame:
    """Product popularity, globally and per acquisition channel.

    Returns columns ``acquisition_channel`` (String; null = all customers), ``product_id``,
    ``popularity`` (Float64): the number of distinct purchasers (``by="purchasers"``, purchases
    = ``purchase_count > 0``, or every row when that column is absent) or the summed
    ``strength`` (``by="strength"``). Global rows cover every product in ``interactions`` (0 for
    never-bought ones, so the global list spans the whole catalogue); channel rows only products
    with popularity > 0 among that channel's customers (``channels``: customer_id,
    acquisition_channel; customers without a channel only count globally).
    """
    if by not in ("purchasers", "strength"):
        raise ValueError(f"by must be 'purchasers' or 'strength', got {by!r}")
    require_columns(interactions, (USER_COL, ITEM_COL), "interactions")
    item_type = as_ids(interactions.get_column(ITEM_COL).head(0)).dtype  # integer codes stay integers
    schema = {CHANNEL_COL: pl.String, ITEM_COL: item_type, "popularity": pl.Float64}
    if by == "strength":
        require_columns(interactions, ("strength",), "interactions")
        events = id_pairs(interactions).with_columns(_w=interactions.get_column("strength").cast(pl.Float64))
        measure = pl.col("_w").sum()
    else:
        events = purchased_pairs(interactions).with_columns(_w=pl.lit(1.0))
        measure = pl.col(USER_COL).n_unique().cast(pl.Float64)
    catalogue = pl.DataFrame([as_ids(interactions.get_column(ITEM_COL))]).unique()
    global_pop = (
        catalogue.join(
            events.group_by(ITEM_COL).agg(measure.alias("popularity")), on=ITEM_COL, how="left"
        )
        .with_columns(pl.col("popularity").fill_null(0.0), pl.lit(None, pl.String).alias(CHANNEL_COL))
        .select(list(schema))
    )
    frames = [global_pop.cast(schema)]
    if channels is not None and CHANNEL_COL in channels.columns and events.height:
        require_columns(channels, (USER_COL,), "channels")
        channel_of = pl.DataFrame(
            [as_ids(channels.get_column(USER_COL)), channels.get_column(CHANNEL_COL).cast(pl.String)]
        ).drop_nulls().unique(USER_COL, keep="first", maintain_order=True)
        by_channel = (
            events.join(channel_of, on=USER_COL, how="inner")
            .group_by(CHANNEL_COL, ITEM_COL)
            .agg(measure.alias("popularity"))
            .filter(pl.col("popularity") > 0)
            .select(list(schema))
        )
        frames.append(by_channel.cast(schema))
    return pl.concat(frames).sort(
        [CHANNEL_COL, "popularity", ITEM_COL], descending=[False, True, False], nulls_last=False
    )
