"""Orchestration: draw the shared pieces, stream customer chunks to Parquet, write the truth.

Randomness: one SeedSequence per purpose (signups, catalogue, marketing, dirty rows) and one
per chunk of customers, spawned from the master seed. Chunks are processed in order and their
ids offset by running counters, so the output is a pure function of the arguments.
"""

from __future__ import annotations

import json
import logging
import math
import os
import time
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from ecom_growth.simulator.baskets import draw_baskets
from ecom_growth.simulator.catalogue import Catalogue, build_catalogue, price_history_table, products_table
from ecom_growth.simulator.config import DEFAULT_END, DEFAULT_START, Effects, SimulationConfig, build_config
from ecom_growth.simulator.customers import Signups, customers_table, draw_signups
from ecom_growth.simulator.dirty import CLASSES, DirtyContext, DirtyPool, build_dirty_rows
from ecom_growth.simulator.events import draw_events
from ecom_growth.simulator.experiments import (
    NOT_ASSIGNED, ExperimentWindow, assign_variants, assignments_table, conversion_multiplier, experiment_window,
)
from ecom_growth.simulator.ids import FixedWidthIds, take_strings
from ecom_growth.simulator.marketing import marketing_spend_table
from ecom_growth.simulator.purchases import (
    COMPLETED, STATUS_LABELS, draw_conversion, draw_orders, draw_traits,
)
from ecom_growth.simulator.reviews import draw_reviews
from ecom_growth.simulator.taste import category_mix, customer_factors
from ecom_growth.simulator.timeline import PurchaseClock, Window
from ecom_growth.simulator.truth import Realised, build_truth
from ecom_growth.simulator.writer import DICTIONARY_COLUMNS, TABLES, Background, TableWriter, output_schema

log = logging.getLogger(__name__)

TRUTH_FILE = "_truth.json"
TRUTH_CUSTOMERS_FILE = "_truth_customers.parquet"
TRUTH_PRICES_FILE = "_truth_prices.parquet"

TRUTH_CUSTOMERS_SCHEMA = pa.schema([
    ("customer_id", pa.string()),
    ("acquisition_channel", pa.string()),
    ("will_convert", pa.bool_()),
    ("is_converted", pa.bool_()),
    ("first_order_at", pa.timestamp("us")),
    ("lambda_per_day", pa.float64()),
    ("p_dropout", pa.float64()),
    ("nu", pa.float64()),
    ("satisfaction", pa.float64()),
    ("repeats_before_death", pa.int64()),
    ("repeats_in_window", pa.int64()),
    ("completed_orders", pa.int64()),
    ("is_alive_at_end", pa.bool_()),
    ("died_at", pa.timestamp("us")),
    ("experiment_variant", pa.string()),
])


def _alt_products(rng: np.random.Generator, order: np.ndarray, product: np.ndarray, n_products: int) -> np.ndarray:
    """For each line, a product the line's order does not contain (fresh order_items keys)."""
    taken = np.sort(order.astype(np.int64) * n_products + product)
    alt = (product + 1 + rng.integers(0, n_products - 1, product.size)) % n_products
    for _ in range(20):
        key = order.astype(np.int64) * n_products + alt
        position = np.minimum(np.searchsorted(taken, key), taken.size - 1)
        clash = taken[position] == key
        if not clash.any():
            break
        alt[clash] = (alt[clash] + 1) % n_products
    return alt


def generate(
    customers: int = 50_000,
    seed: int = 42,
    out: str | os.PathLike = "data/raw",
    start: date = DEFAULT_START,
    end: date = DEFAULT_END,
    dirty_rate: float = 0.0,
    effects: Effects = "full",
    products: int | None = None,
) -> dict:
    """Simulate a shop and write its raw exports + ``_truth.json`` to ``out``; return the truth.

    The files follow the raw data contract (``writer.SCHEMAS``); ``_truth.json`` documents
    every planted parameter and realised count (``truth.build_truth``). ``_truth_customers``
    and ``_truth_prices`` (Parquet) hold the per-customer latent values and the price history.
    """
    config = build_config(customers, seed, start, end, dirty_rate, effects, products)
    return simulate(config, Path(out))


@dataclass
class _Shared:
    """What every chunk reads: drawn once per run."""

    config: SimulationConfig
    window: Window
    clock: PurchaseClock
    catalogue: Catalogue
    experiment: ExperimentWindow
    signups: Signups
    country_offsets: np.ndarray
    channel_offsets: np.ndarray
    product_ids: FixedWidthIds


@dataclass
class _Sinks:
    """Where chunks put their output: writers, dirty-row templates, counters."""

    writers: dict[str, TableWriter]
    truth_customers: TableWriter
    pool: DirtyPool
    dirty_rng: np.random.Generator
    realised: Realised
    offsets: dict[str, int] = field(default_factory=lambda: {"order": 0, "event": 0, "session": 0, "review": 0})


def simulate(config: SimulationConfig, out: Path) -> dict:
    """``generate`` for a ready-made (possibly customised) config."""
    started = time.perf_counter()
    window = Window(config.start, config.end)
    master = np.random.SeedSequence(config.seed)
    signup_seed, catalogue_seed, marketing_seed, dirty_seed, chunk_root = master.spawn(5)
    catalogue_rng = np.random.default_rng(catalogue_seed)
    catalogue = build_catalogue(catalogue_rng, config, window)
    k = config.taste.rank
    shared = _Shared(
        config=config,
        window=window,
        clock=PurchaseClock(window, config.seasonality.purchase_yearly_amplitude, config.seasonality.purchase_peak_day_of_year),
        catalogue=catalogue,
        experiment=experiment_window(config, window),
        signups=draw_signups(np.random.default_rng(signup_seed), config, window),
        country_offsets=config.taste.country_offset_sd * catalogue_rng.standard_normal((len(config.countries), k)),
        channel_offsets=config.taste.channel_offset_sd * catalogue_rng.standard_normal((len(config.channels), k)),
        product_ids=catalogue.ids,
    )
    log.info("simulating %s customers, %s products, %s .. %s (effects=%s, dirty_rate=%s)",
             f"{config.customers:,}", f"{config.products:,}", window.start, window.end, config.effects, config.dirty_rate)

    out.mkdir(parents=True, exist_ok=True)
    (out / TRUTH_FILE).unlink(missing_ok=True)  # no stale truth next to half-written tables
    is_dirty = config.dirty_rate > 0
    # Two writer threads: events (the bulk of the bytes) and everything else.
    background, events_background = Background(), Background()
    writers = {
        t: TableWriter(
            out / f"{t}.parquet", output_schema(t, is_dirty), events_background if t == "events" else background,
            DICTIONARY_COLUMNS[t],
        )
        for t in TABLES
    }
    sinks = _Sinks(
        writers=writers,
        truth_customers=TableWriter(out / TRUTH_CUSTOMERS_FILE, TRUTH_CUSTOMERS_SCHEMA, background),
        pool=DirtyPool(config.dirty_rate),
        dirty_rng=np.random.default_rng(dirty_seed),
        realised=Realised(len(config.channels)),
    )
    try:
        products = products_table(catalogue)
        writers["products"].write(products)
        sinks.pool.offer(sinks.dirty_rng, "products", products)
        spend = marketing_spend_table(
            np.random.default_rng(marketing_seed), config, window, shared.signups.days, shared.signups.channel,
        )
        writers["marketing_spend"].write(spend)
        sinks.pool.offer(sinks.dirty_rng, "marketing_spend", spend)
        for i, channel in enumerate(config.channels):
            sinks.realised.spend[i] = pc.sum(pc.filter(spend["spend"], pc.equal(spend["channel"], channel.name))).as_py() or 0.0

        n_chunks = math.ceil(config.customers / config.chunk_customers)
        previous = (0, 0)  # writer checkpoints after the chunk before the last one
        for chunk, chunk_seed in enumerate(chunk_root.spawn(n_chunks)):
            lo = chunk * config.chunk_customers
            hi = min(config.customers, lo + config.chunk_customers)
            # The last chunk's tables are written while this one is generated; older ones must
            # be done, so at most two chunks are in memory.
            background.wait(previous[0])
            events_background.wait(previous[1])
            previous = (background.checkpoint(), events_background.checkpoint())
            _simulate_chunk(np.random.default_rng(chunk_seed), shared, sinks, lo, hi)
            log.info("chunk %d/%d: customers %s..%s done (%.1fs)", chunk + 1, n_chunks, f"{lo:,}", f"{hi - 1:,}",
                     time.perf_counter() - started)

        clean_rows = {t: writers[t].rows for t in TABLES}
        context = DirtyContext(clean_rows=clean_rows, n_customers=config.customers, n_products=config.products,
                               start_us=window.start_us)
        dirty: dict[str, dict[str, int]] = {}
        for t in TABLES:
            counts = {c: 0 for c in CLASSES[t]}
            if is_dirty:
                rows, counts = build_dirty_rows(sinks.dirty_rng, t, sinks.pool, context, config.dirty_rate)
                if rows is not None:
                    writers[t].write(rows)
            dirty[t] = counts
        raw_rows = {t: writers[t].rows for t in TABLES}
        events_background.submit(writers["events"].finish)
        for name, writer in writers.items():
            if name != "events":
                background.submit(writer.finish)
        background.submit(sinks.truth_customers.finish)
        history = price_history_table(catalogue, window)
        prices = TableWriter(out / TRUTH_PRICES_FILE, history.schema)
        prices.write(history)
        prices.close()
        background.close()
        events_background.close()
    except BaseException:
        background.close(raise_errors=False)
        events_background.close(raise_errors=False)
        for writer in [*writers.values(), sinks.truth_customers]:
            writer.abort()
        raise

    files = {t: f"{t}.parquet" for t in TABLES}
    files.update({"truth_customers": TRUTH_CUSTOMERS_FILE, "truth_prices": TRUTH_PRICES_FILE})
    truth = build_truth(config, window, shared.experiment, sinks.realised, raw_rows, clean_rows, dirty, files)
    text = json.dumps(truth, sort_keys=True, indent=2, ensure_ascii=False) + "\n"
    tmp = out / (TRUTH_FILE + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, out / TRUTH_FILE)
    log.info("done in %.1fs", time.perf_counter() - started)
    return json.loads(text)


def _simulate_chunk(rng: np.random.Generator, shared: _Shared, sinks: _Sinks, lo: int, hi: int) -> None:
    """Customers lo..hi-1: draw everything about them and hand the tables to the writers."""
    config, window, catalogue, product_ids = shared.config, shared.window, shared.catalogue, shared.product_ids
    writers, pool, realised, offsets = sinks.writers, sinks.pool, sinks.realised, sinks.offsets
    number = np.arange(lo, hi)
    signup_days = shared.signups.days[lo:hi]
    channel = shared.signups.channel[lo:hi]
    country = shared.signups.country[lo:hi]
    customer_ids = FixedWidthIds("C", number, 8)

    variant = assign_variants(rng, config, shared.experiment, signup_days)
    traits = draw_traits(rng, config, channel)
    conversion = draw_conversion(rng, config, window, channel, signup_days, conversion_multiplier(config, variant))
    orders, lifetimes = draw_orders(rng, config, window, shared.clock, conversion, traits)
    factors = customer_factors(rng, config, country, channel, shared.country_offsets, shared.channel_offsets)
    mix = category_mix(config, catalogue, factors)
    baskets = draw_baskets(rng, config, window, catalogue, factors, mix, orders)

    customers = customers_table(rng, config, window, number, customer_ids.array, signup_days, channel, country)
    n_orders = orders.customer.size
    order_ids = FixedWidthIds("O", offsets["order"] + np.arange(n_orders), 9)
    orders_table = pa.table({
        "order_id": order_ids.array,
        "customer_id": customer_ids.take(orders.customer),
        "ordered_at": pa.array(window.to_us(orders.days), type=pa.timestamp("us")),
        "status": take_strings(STATUS_LABELS, orders.status),
        "order_total": pa.array(orders.total_cents / 100.0, type=pa.float64()),
        "discount_total": pa.array(baskets.discount_cents / 100.0, type=pa.float64()),
    })
    lines = baskets.lines
    items_table = pa.table({
        "order_id": order_ids.take(lines.order),
        "product_id": product_ids.take(lines.product),
        "quantity": pa.array(lines.quantity.astype(np.int32), type=pa.int32()),
        "unit_price": pa.array(lines.unit_cents / 100.0, type=pa.float64()),
    })
    events_table, n_sessions = draw_events(
        rng, config, window, catalogue, factors, mix, signup_days, channel, orders, baskets,
        customer_ids, product_ids, offsets["event"], offsets["session"],
    )
    reviews_table = draw_reviews(
        rng, config, window, orders, lines, traits.satisfaction, country, customer_ids, product_ids, offsets["review"],
    )
    assignments = assignments_table(config, window, customer_ids, variant, signup_days)

    for name, table in (("customers", customers), ("orders", orders_table), ("events", events_table),
                        ("reviews", reviews_table), ("experiment_assignments", assignments)):
        writers[name].write(table)
        pool.offer(sinks.dirty_rng, name, table)
    writers["order_items"].write(items_table)
    if pool.rate > 0:
        alt = _alt_products(sinks.dirty_rng, lines.order, lines.product, catalogue.n)
        pool.offer(sinks.dirty_rng, "order_items", items_table, {"_alt_product_id": product_ids.take(alt)})
        unassigned = np.flatnonzero(variant == NOT_ASSIGNED)
        pool.offer_alt_customers(sinks.dirty_rng, customer_ids.take(unassigned), int((variant != NOT_ASSIGNED).sum()))

    offsets["order"] += n_orders
    offsets["event"] += events_table.num_rows
    offsets["session"] += n_sessions
    offsets["review"] += reviews_table.num_rows

    # Realised counts for the truth file.
    converted = conversion.converted
    realised.signups += np.bincount(channel, minlength=realised.n_channels)
    realised.converted += np.bincount(channel[converted], minlength=realised.n_channels)
    realised.orders_by_status += np.bincount(orders.status, minlength=3)
    realised.completed_order_cents += int(orders.total_cents[orders.status == COMPLETED].sum())
    realised.repeat_customers += int((lifetimes.repeats_in_window > 0).sum())
    realised.alive_at_end += int((lifetimes.is_alive_at_end & converted).sum())
    metric_days = config.experiment.metric_window_days
    for v in (0, 1):
        in_arm = variant == v
        realised.experiment_assigned[v] += int(in_arm.sum())
        realised.experiment_converted[v] += int((in_arm & converted).sum())
        within = in_arm & converted & (conversion.first_days - signup_days <= metric_days)
        realised.experiment_converted_within_metric_window[v] += int(within.sum())

    first_order_us = np.where(converted, window.to_us(np.nan_to_num(conversion.first_days)), 0)
    died = ~np.isnan(lifetimes.death_days)
    died_us = np.where(died, window.to_us(np.nan_to_num(lifetimes.death_days)), 0)
    variant_labels = pc.if_else(
        pa.array(variant >= 0), take_strings(["control", "treatment"], np.maximum(variant, 0)), pa.scalar(None, pa.string()),
    )
    sinks.truth_customers.write(pa.table({
        "customer_id": customer_ids.array,
        "acquisition_channel": take_strings([c.name for c in config.channels], channel),
        "will_convert": pa.array(conversion.will_convert),
        "is_converted": pa.array(converted),
        "first_order_at": pa.array(first_order_us, type=pa.timestamp("us"), mask=~converted),
        "lambda_per_day": pa.array(traits.lam),
        "p_dropout": pa.array(traits.p),
        "nu": pa.array(traits.nu),
        "satisfaction": pa.array(traits.satisfaction),
        "repeats_before_death": pa.array(lifetimes.repeats_before_death, mask=~converted),
        "repeats_in_window": pa.array(lifetimes.repeats_in_window, mask=~converted),
        "completed_orders": pa.array(lifetimes.completed_orders),
        "is_alive_at_end": pa.array(lifetimes.is_alive_at_end, mask=~converted),
        "died_at": pa.array(died_us, type=pa.timestamp("us"), mask=~died),
        "experiment_variant": variant_labels,
    }))
