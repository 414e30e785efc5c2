"""Orchestration: draw the shared pieces, stream customer chunks to Parquet, write the truth.

Causality and prefix stability: the process is simulated forward in 4-week periods, and every
draw comes from a stream keyed by (seed, purpose, chunk of customer slots, period) (see
streams.py), so a run whose window ends at d draws exactly what a longer run draws before d and
yields exactly its rows before d. Ids are derived from the customer and ranks within it (order
k of customer c, session k of customer c, event k of that session), never from counters that run
over the window. Only the catalogue's fixed attributes and dirty rows use spawned seeds.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import math
import os
import time
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from ecom_growth.simulator.baskets import Favourites, draw_baskets
from ecom_growth.simulator.campaigns import (
    CAMPAIGN_ORDERS,
    CAMPAIGN_SENDS,
    Sends,
    accumulate_campaign_truth,
    campaign_sends_table,
    campaigns_truth,
    draw_sends,
    period_campaign_orders,
    record_recency_at_send,
)
from ecom_growth.simulator.catalogue import (
    Catalogue,
    build_catalogue,
    price_history_table,
    product_costs_table,
    products_table,
)
from ecom_growth.simulator.config import (
    DEFAULT_END,
    DEFAULT_START,
    Effects,
    SimulationConfig,
    build_config,
)
from ecom_growth.simulator.customers import Signups, customers_table, draw_signups
from ecom_growth.simulator.dirty import (
    CLASSES,
    DirtyContext,
    DirtyPool,
    build_dirty_rows,
)
from ecom_growth.simulator.events import EVENT_LABELS, period_events
from ecom_growth.simulator.experiments import (
    CUSTOMER_EXPERIMENT_ORDERS,
    CUSTOMER_EXPERIMENTS,
    NOT_ASSIGNED,
    CustomerArms,
    ExperimentWindow,
    accumulate_customer_metrics,
    assign_customer_experiments,
    assign_variants,
    assignments_table,
    conversion_multiplier,
    customer_assignments_table,
    customer_experiments_truth,
    experiment_window,
    period_treatment_orders,
)
from ecom_growth.simulator.ids import (
    FixedWidthIds,
    composite_numbers,
    rank_in_groups,
    take_strings,
)
from ecom_growth.simulator.marketing import marketing_spend_table
from ecom_growth.simulator.purchases import (
    COMPLETED,
    STATUS_LABELS,
    Lifecycle,
    Orders,
    draw_conversion,
    draw_traits,
    period_orders,
)
from ecom_growth.simulator.reviews import (
    ASPECTS,
    LANGUAGES,
    NOT_MENTIONED,
    SENTIMENT_LABELS,
    period_reviews,
    render_texts,
    review_sentiment,
)
from ecom_growth.simulator.streams import (
    EMAILS,
    LATENT,
    PERIOD,
    PERIOD_DAYS,
    n_periods,
    stream,
)
from ecom_growth.simulator.taste import category_mix, customer_factors
from ecom_growth.simulator.tickets import (
    CHANNELS as TICKET_CHANNELS,
)
from ecom_growth.simulator.tickets import (
    INTENTS,
    STATUSES,
    SUPPORT_TICKETS,
    TICKET_PROCESS,
    period_tickets,
    render_tickets,
)
from ecom_growth.simulator.timeline import PurchaseClock, Window
from ecom_growth.simulator.truth import (
    Realised,
    build_truth,
    choice_model_truth,
    taste_factors_array,
    truth_products_table,
)
from ecom_growth.simulator.writer import (
    DICTIONARY_COLUMNS,
    TABLES,
    Background,
    TableWriter,
    output_schema,
)

log = logging.getLogger(__name__)

TRUTH_FILE = "_truth.json"
TRUTH_CUSTOMERS_FILE = "_truth_customers.parquet"
TRUTH_PRICES_FILE = "_truth_prices.parquet"
TRUTH_REVIEWS_FILE = "_truth_reviews.parquet"
TRUTH_REVIEWS_SCHEMA = pa.schema([
    ("review_id", pa.string()),
    ("language", pa.string()),
    ("sentiment", pa.string()),
    *[(f"polarity_{a}", pa.int8()) for a in ASPECTS],
    ("is_complaint_quit", pa.bool_()),
])
TRUTH_PRODUCTS_FILE = "_truth_products.parquet"
TRUTH_TICKETS_FILE = "_truth_tickets.parquet"
TRUTH_TICKETS_SCHEMA = pa.schema([
    ("ticket_id", pa.string()),
    ("customer_id", pa.string()),
    ("order_id", pa.string()),
    ("intent", pa.string()),
    ("language", pa.string()),
    ("planned_resolved_at", pa.timestamp("us")),
    ("is_unresolved_complaint_quit", pa.bool_()),
])
PRICE_HISTORY_FILE = "price_history.parquet"
PRODUCT_COSTS_FILE = "product_costs.parquet"

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
    dropout_after_first: bool = False,
) -> dict:
    """Simulate a shop and write its raw exports + ``_truth.json`` to ``out``; return the truth.

    The files follow the raw data contract (``writer.SCHEMAS``); ``_truth.json`` documents
    every planted parameter and realised count (``truth.build_truth``). ``_truth_customers``,
    ``_truth_products`` and ``_truth_prices`` (Parquet) hold the per-customer latent values (taste
    factors U included), the per-product inputs of the item choice and the price history.
    ``customers`` is the number of signups in the first ``signups.scale_days`` days from
    ``start`` (all of them for the default window); ``dropout_after_first`` selects MBG/NBD.
    """
    config = build_config(customers, seed, start, end, dirty_rate, effects, products, dropout_after_first)
    return simulate(config, Path(out))


@dataclass
class _Shared:
    """What every chunk reads: drawn once per run."""

    config: SimulationConfig
    window: Window
    periods: int
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
    truth_reviews: TableWriter
    truth_tickets: TableWriter
    pool: DirtyPool
    dirty_rng: np.random.Generator
    realised: Realised


def simulate(config: SimulationConfig, out: Path) -> dict:
    """``generate`` for a ready-made (possibly customised) config."""
    started = time.perf_counter()
    window = Window(config.start, config.end)
    periods = n_periods(window.days)
    master = np.random.SeedSequence(config.seed)
    catalogue_seed, dirty_seed = master.spawn(2)
    catalogue_rng = np.random.default_rng(catalogue_seed)
    catalogue = build_catalogue(catalogue_rng, config, periods * PERIOD_DAYS // 7)
    k = config.taste.rank
    shared = _Shared(
        config=config,
        window=window,
        periods=periods,
        clock=PurchaseClock(window, config.seasonality.purchase_yearly_amplitude, config.seasonality.purchase_peak_day_of_year,
                            horizon_days=periods * PERIOD_DAYS),
        catalogue=catalogue,
        experiment=experiment_window(config, window),
        signups=draw_signups(config.seed, config, window, periods * PERIOD_DAYS),
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
        truth_customers=TableWriter(out / TRUTH_CUSTOMERS_FILE, TRUTH_CUSTOMERS_SCHEMA.append(
            pa.field("taste_factors", pa.list_(pa.float32(), k))), background),
        truth_reviews=TableWriter(out / TRUTH_REVIEWS_FILE, TRUTH_REVIEWS_SCHEMA, background),
        truth_tickets=TableWriter(out / TRUTH_TICKETS_FILE, TRUTH_TICKETS_SCHEMA, background),
        pool=DirtyPool(config.dirty_rate),
        dirty_rng=np.random.default_rng(dirty_seed),
        realised=Realised(len(config.channels)),
    )
    try:
        products = products_table(catalogue, window)
        writers["products"].write(products)
        sinks.pool.offer(sinks.dirty_rng, "products", products)
        signups = shared.signups
        n_all = signups.days.size
        all_channels = np.concatenate(signups.channel)[:n_all] if n_all else np.zeros(0, np.int8)
        spend = marketing_spend_table(config.seed, config, window, signups.days, all_channels)
        writers["marketing_spend"].write(spend)
        sinks.pool.offer(sinks.dirty_rng, "marketing_spend", spend)
        for i, channel in enumerate(config.channels):
            sinks.realised.spend[i] = pc.sum(pc.filter(spend["spend"], pc.equal(spend["channel"], channel.name))).as_py() or 0.0

        # Chunks of customer slots; the last may hold customers who sign up in the lookahead
        # after the end (they are simulated, so the draws match a longer run, and not written).
        # A chunk of lookahead customers only has nothing to write and nobody to share draws with.
        n_inside = int(np.searchsorted(signups.days, window.days))
        n_chunks = math.ceil(n_inside / config.chunk_customers)
        previous = (0, 0)  # writer checkpoints after the chunk before the last one
        for chunk in range(n_chunks):
            lo = chunk * config.chunk_customers
            hi = min(n_all, lo + config.chunk_customers)
            # The last chunk's tables are written while this one is generated; older ones must
            # be done, so at most two chunks are in memory.
            background.wait(previous[0])
            events_background.wait(previous[1])
            previous = (background.checkpoint(), events_background.checkpoint())
            _simulate_chunk(shared, sinks, chunk, lo, hi)
            log.info("chunk %d/%d: customers %s..%s done (%.1fs)", chunk + 1, n_chunks, f"{lo:,}", f"{hi - 1:,}",
                     time.perf_counter() - started)

        clean_rows = {t: writers[t].rows for t in TABLES}
        context = DirtyContext(clean_rows=clean_rows, n_products=config.products,
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
        background.submit(sinks.truth_reviews.finish)
        background.submit(sinks.truth_tickets.finish)
        history = price_history_table(catalogue, window)
        planted = truth_products_table(catalogue)
        # price_history and product_costs: optional raw tables of the pricing contract (clean
        # only: no dirty rows planted).
        for name, table in ((TRUTH_PRICES_FILE, history), (TRUTH_PRODUCTS_FILE, planted), (PRICE_HISTORY_FILE, history),
                            (PRODUCT_COSTS_FILE, product_costs_table(catalogue))):
            writer = TableWriter(out / name, table.schema)
            writer.write(table)
            writer.close()
        background.close()
        events_background.close()
    except BaseException:
        background.close(raise_errors=False)
        events_background.close(raise_errors=False)
        for writer in [*writers.values(), sinks.truth_customers, sinks.truth_reviews, sinks.truth_tickets]:
            writer.abort()
        raise

    files = {t: f"{t}.parquet" for t in TABLES}
    files.update({"truth_customers": TRUTH_CUSTOMERS_FILE, "truth_prices": TRUTH_PRICES_FILE,
                  "truth_products": TRUTH_PRODUCTS_FILE, "truth_reviews": TRUTH_REVIEWS_FILE,
                  "truth_tickets": TRUTH_TICKETS_FILE,
                  "price_history": PRICE_HISTORY_FILE, "product_costs": PRODUCT_COSTS_FILE})
    truth = build_truth(config, window, shared.experiment, sinks.realised, raw_rows, clean_rows, dirty, files,
                        choice_model_truth(config, catalogue))
    truth["customer_experiments"] = customer_experiments_truth(config, window, sinks.realised.customer_experiments)
    truth["campaigns"] = campaigns_truth(config, window, sinks.realised.campaigns)
    truth["tickets"] = {**dataclasses.asdict(config.tickets), "describes": TICKET_PROCESS, "intents": list(INTENTS)}
    text = json.dumps(truth, sort_keys=True, indent=2, ensure_ascii=False) + "\n"
    tmp = out / (TRUTH_FILE + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, out / TRUTH_FILE)
    log.info("done in %.1fs", time.perf_counter() - started)
    return json.loads(text)


@dataclass
class _ChunkRun:
    """A chunk's process, simulated period by period (see ``_run_periods``)."""

    orders: Orders
    lines: dict[str, np.ndarray]  # order (chunk-wide index), product, quantity, unit_cents
    discount_cents: np.ndarray  # per order
    events: dict[str, np.ndarray]  # customer, session (chunk-wide), kind, product, at_us
    session_anchor_us: np.ndarray  # per chunk-wide session
    reviews: dict[str, np.ndarray]  # customer, product, rating, language, polarity, pieces, created_days, quits
    tickets: dict[str, np.ndarray]  # TICKET_KEYS
    death_days: np.ndarray


REVIEW_KEYS = ("customer", "product", "rating", "language", "polarity", "pieces", "created_days", "quits")
TICKET_KEYS = ("customer", "order", "intent", "channel", "language", "created_days", "resolved_days", "pieces", "noise",
               "quits")


def _concat(parts: list[dict[str, np.ndarray]], keys: tuple[str, ...], dtypes: tuple) -> dict[str, np.ndarray]:
    if not parts:
        return {k: np.zeros(0, dtype=t) for k, t in zip(keys, dtypes, strict=True)}
    return {k: np.concatenate([p[k] for p in parts]) for k in keys}


def _run_periods(shared: _Shared, chunk: int, signup_days: np.ndarray, channel: np.ndarray, country: np.ndarray,
                 traits, conversion, factors: np.ndarray, mix, arms: CustomerArms, sends: Sends) -> _ChunkRun:
    """Simulate the chunk forward, one period at a time, each from its own keyed stream.

    ``channel`` and ``country`` are per slot, ``signup_days`` per customer; the customers active
    in a period are those signed up before its end, a prefix of the chunk (ids follow signups).
    """
    config, window, clock, catalogue = shared.config, shared.window, shared.clock, shared.catalogue
    n = signup_days.size
    life = Lifecycle.start(n)
    favourites = Favourites.empty(n)
    quit_days = np.full(n, np.inf)  # complaint-driven quitting (reviews.py): no order from then on
    last_completed = np.full(n, np.nan)  # campaigns: last completed order so far (recency at a send)
    orders, lines, discounts, events, reviews, anchors, tickets = [], [], [], [], [], [], []
    n_orders = n_sessions = 0
    for period in range(shared.periods):
        lo, hi = float(period * PERIOD_DAYS), float((period + 1) * PERIOD_DAYS)
        n_active = int(np.searchsorted(signup_days, hi))
        if n_active == 0:
            continue
        rng = stream(config.seed, PERIOD, chunk, period)
        placed = period_orders(rng, config, clock, traits, conversion, life, lo, hi, n_active)
        placed = placed.take(np.flatnonzero(placed.days < quit_days[placed.customer]))
        quit = np.isfinite(quit_days)  # quitting is a death (period_orders may have set a later one)
        life.death_days[quit] = np.fmin(life.death_days[quit], quit_days[quit])
        added = period_treatment_orders(stream(config.seed, CUSTOMER_EXPERIMENT_ORDERS, chunk, period), config, clock,
                                        traits, arms, life.death_days, lo, hi, n_active)
        if added.customer.size:  # own stream: periods without treatment orders draw exactly as before
            placed = Orders.concat([placed, added])
        record_recency_at_send(sends, last_completed, placed, lo, hi)
        added = period_campaign_orders(stream(config.seed, CAMPAIGN_ORDERS, chunk, period), config, traits, sends,
                                       life.death_days, lo, hi, n_active)
        if added.customer.size:
            placed = Orders.concat([placed, added])
        completed = placed.status == COMPLETED
        np.fmax.at(last_completed, placed.customer[completed], placed.days[completed])
        baskets = draw_baskets(rng, config, window, catalogue, factors, mix, placed, favourites)
        session_events = period_events(
            rng, config, window, clock, catalogue, factors, mix, signup_days[:n_active], channel, traits, conversion,
            life, placed, baskets, lo, hi,
        )
        reviewed = period_reviews(rng, config, placed, baskets.lines, traits.satisfaction, country,
                                  catalogue.category, catalogue.category_names)
        quitting = reviewed.customer[reviewed.quits]
        np.minimum.at(quit_days, quitting, np.maximum(reviewed.created_days[reviewed.quits], hi))
        raised = period_tickets(stream(config.seed, SUPPORT_TICKETS, chunk, period), config, placed, n_orders,
                                traits.satisfaction, country, signup_days[:n_active], life.death_days, lo, hi)
        np.minimum.at(quit_days, raised.customer[raised.quits], np.maximum(raised.quit_from_days[raised.quits], hi))
        tickets.append({"customer": raised.customer, "order": raised.order, "intent": raised.intent,
                        "channel": raised.channel, "language": raised.language, "created_days": raised.created_days,
                        "resolved_days": raised.resolved_days, "pieces": raised.pieces.reshape(-1),
                        "noise": raised.noise.reshape(-1), "quits": raised.quits})
        b = baskets.lines
        orders.append(placed)
        discounts.append(baskets.discount_cents)
        lines.append({"order": b.order + n_orders, "product": b.product, "quantity": b.quantity, "unit_cents": b.unit_cents})
        events.append({"customer": session_events.customer, "session": session_events.session + n_sessions,
                       "kind": session_events.kind, "product": session_events.product, "at_us": session_events.at_us})
        reviews.append({"customer": reviewed.customer, "product": reviewed.product, "rating": reviewed.rating,
                        "language": reviewed.language, "polarity": reviewed.polarity, "pieces": reviewed.pieces,
                        "created_days": reviewed.created_days, "quits": reviewed.quits})
        anchors.append(session_events.session_anchor_us)
        n_orders += placed.customer.size
        n_sessions += session_events.session_anchor_us.size
    empty = Orders(*(np.zeros(0, t) for t in (np.int64, np.float64, np.int8, np.int64, bool)))
    return _ChunkRun(
        orders=Orders.concat(orders) if orders else empty,
        lines=_concat(lines, ("order", "product", "quantity", "unit_cents"), (np.int64,) * 4),
        discount_cents=np.concatenate(discounts) if discounts else np.zeros(0, np.int64),
        events=_concat(events, ("customer", "session", "kind", "product", "at_us"),
                       (np.int32, np.int64, np.int8, np.int32, np.int64)),
        session_anchor_us=np.concatenate(anchors) if anchors else np.zeros(0, np.int64),
        reviews=_concat(reviews, REVIEW_KEYS, (np.int64, np.int64, np.int32, np.int8, np.int8, np.int64, np.float64, bool)),
        tickets=_concat(tickets, TICKET_KEYS, (np.int64, np.int64, np.int8, np.int8, np.int8, np.float64, np.float64,
                                               np.int64, bool, bool)),
        death_days=life.death_days,
    )


def _order_numbers(orders: Orders, kept: np.ndarray, lo: int) -> np.ndarray:
    """Order k (by time) of customer c gets number c x 10^4 + k (per kept order)."""
    by = kept[np.lexsort((orders.status[kept], orders.days[kept], orders.customer[kept]))]
    numbers = np.empty(orders.customer.size, dtype=np.int64)
    numbers[by] = composite_numbers(lo + orders.customer[by], rank_in_groups(orders.customer[by]), 4, "orders")
    return numbers[kept]


_OFFSET_BITS = 32  # an event lies within +-35 minutes of its session's anchor (events.py)


def _event_numbers(
    events: dict[str, np.ndarray], anchor_us: np.ndarray, lo: int,
) -> tuple[np.ndarray, np.ndarray, pa.StringArray]:
    """(output order of the events, their event numbers, their session ids), in output order
    (by time; ties keep construction order).

    Session k of customer c (sessions ranked by their first event) is c x 10^4 + k; event j
    of it (by time, then construction) is c x 10^7 + k x 10^3 + j.
    """
    # One int64 key sorts by (session, time): session << 32 | time relative to its anchor.
    session = events["session"]
    relative = events["at_us"] - anchor_us[session] + (1 << (_OFFSET_BITS - 1))
    if relative.size and (relative.min() < 0 or relative.max() >= 1 << _OFFSET_BITS):
        raise ValueError("an event lies too far from its session's anchor for the sort key")
    by_session = np.argsort((session << _OFFSET_BITS) | relative, kind="stable")
    session = session[by_session]
    customer = events["customer"][by_session].astype(np.int64)
    event_seq = rank_in_groups(session)
    heads = np.flatnonzero(event_seq == 0)
    head_customer = customer[heads]
    by_start = np.lexsort((session[heads], events["at_us"][by_session][heads], head_customer))
    session_seq = np.empty(heads.size, dtype=np.int64)
    session_seq[by_start] = rank_in_groups(head_customer[by_start])
    head_numbers = composite_numbers(lo + head_customer, session_seq, 4, "sessions")
    head_of = np.cumsum(event_seq == 0) - 1  # each event's session, as an index into heads
    event_numbers = composite_numbers(head_numbers[head_of], event_seq, 3, "events in a session")
    by_time = np.argsort(events["at_us"], kind="stable")  # construction order on ties
    position = np.empty(by_session.size, dtype=np.int64)
    position[by_session] = np.arange(by_session.size)
    in_order = position[by_time]  # each output event's place in the session order
    session_ids = FixedWidthIds("S", head_numbers, 12).take(head_of[in_order])
    return by_time, event_numbers[in_order], session_ids


def _simulate_chunk(shared: _Shared, sinks: _Sinks, chunk: int, lo: int, hi: int) -> None:
    """Customers lo..hi-1 (chunk ``chunk``): simulate them and hand the tables to the writers."""
    config, window, catalogue, product_ids = shared.config, shared.window, shared.catalogue, shared.product_ids
    writers, pool = sinks.writers, sinks.pool
    slots = config.chunk_customers
    signup_days, _, _ = shared.signups.chunk(chunk, lo, hi)
    channel_slots, country_slots = shared.signups.channel[chunk], shared.signups.country[chunk]

    latent = stream(config.seed, LATENT, chunk)  # per-slot latent state, fixed-size draws
    variant = assign_variants(latent, config, shared.experiment, signup_days, slots)
    traits = draw_traits(latent, config, channel_slots)
    multiplier = np.ones(slots)
    multiplier[: signup_days.size] = conversion_multiplier(config, variant)
    conversion = draw_conversion(latent, config, channel_slots, signup_days, multiplier)
    factors = customer_factors(latent, config, country_slots, channel_slots, shared.country_offsets,
                               shared.channel_offsets)[: signup_days.size]
    mix = category_mix(config, catalogue, factors)
    arms = assign_customer_experiments(stream(config.seed, CUSTOMER_EXPERIMENTS, chunk), config, window,
                                       conversion.first_days, slots)
    sends = draw_sends(stream(config.seed, CAMPAIGN_SENDS, chunk), config, window, conversion.first_days, slots)
    run = _run_periods(shared, chunk, signup_days, channel_slots, country_slots, traits, conversion, factors, mix,
                       arms, sends)

    # --- what lies inside the window ---
    end, end_us = window.days, window.end_us_exclusive
    n = int(np.searchsorted(signup_days, end))
    number = lo + np.arange(n)
    customer_ids = FixedWidthIds("C", number, 8)
    channel, country, variant = channel_slots[:n], country_slots[:n], variant[:n]

    orders = run.orders
    kept = np.flatnonzero(orders.days < end)
    order_numbers = _order_numbers(orders, kept, lo)
    by_time = np.lexsort((order_numbers, orders.status[kept], orders.days[kept]))
    kept, order_numbers = kept[by_time], order_numbers[by_time]
    out_orders = orders.take(kept)
    rank_of_order = np.full(orders.customer.size, -1, dtype=np.int64)
    rank_of_order[kept] = np.arange(kept.size)
    line_rank = rank_of_order[run.lines["order"]]
    line_keep = np.flatnonzero(line_rank >= 0)
    line_keep = line_keep[np.argsort(line_rank[line_keep], kind="stable")]
    line_order = line_rank[line_keep]
    order_ids = FixedWidthIds("O", order_numbers, 12)
    orders_table = pa.table({
        "order_id": order_ids.array,
        "customer_id": customer_ids.take(out_orders.customer),
        "ordered_at": pa.array(window.to_us(out_orders.days), type=pa.timestamp("us")),
        "status": take_strings(STATUS_LABELS, out_orders.status),
        "order_total": pa.array(out_orders.total_cents / 100.0, type=pa.float64()),
        "discount_total": pa.array(run.discount_cents[kept] / 100.0, type=pa.float64()),
    })
    line_product = run.lines["product"][line_keep]
    items_table = pa.table({
        "order_id": order_ids.take(line_order),
        "product_id": product_ids.take(line_product),
        "quantity": pa.array(run.lines["quantity"][line_keep].astype(np.int32), type=pa.int32()),
        "unit_price": pa.array(run.lines["unit_cents"][line_keep] / 100.0, type=pa.float64()),
    })

    ev = run.events
    if ev["at_us"].size and ev["at_us"].max() >= end_us:
        inside = ev["at_us"] < end_us
        ev = {k: v[inside] for k, v in ev.items()}
    order, event_numbers, session_ids = _event_numbers(ev, run.session_anchor_us, lo)
    events_table = pa.table({
        "event_id": FixedWidthIds("E", event_numbers, 15).array,
        "customer_id": customer_ids.take(ev["customer"][order]),
        "session_id": session_ids,
        "event_type": take_strings(EVENT_LABELS, ev["kind"][order]),
        "product_id": product_ids.take(ev["product"][order]),
        "occurred_at": pa.array(ev["at_us"][order], type=pa.timestamp("us")),
    })

    rv = run.reviews
    inside = np.flatnonzero(rv["created_days"] < end)
    inside = inside[np.lexsort((rv["created_days"][inside], rv["customer"][inside]))]  # stable on ties
    review_numbers = composite_numbers(lo + rv["customer"][inside], rank_in_groups(rv["customer"][inside]), 4, "reviews")
    by_time = np.lexsort((review_numbers, rv["created_days"][inside]))
    inside, review_numbers = inside[by_time], review_numbers[by_time]
    review_ids = FixedWidthIds("R", review_numbers, 12).array
    language = rv["language"][inside]
    polarity = rv["polarity"].reshape(-1, len(ASPECTS))[inside]
    reviews_table = pa.table({
        "review_id": review_ids,
        "customer_id": customer_ids.take(rv["customer"][inside]),
        "product_id": product_ids.take(rv["product"][inside]),
        "rating": pa.array(rv["rating"][inside], type=pa.int32()),
        "review_text": render_texts(rv["pieces"].reshape(-1, len(ASPECTS) + 1)[inside], language),
        "created_at": pa.array(window.to_us(rv["created_days"][inside]), type=pa.timestamp("us")),
    })

    sinks.truth_reviews.write(pa.table({
        "review_id": review_ids,
        "language": take_strings(LANGUAGES, language),
        "sentiment": take_strings(SENTIMENT_LABELS, review_sentiment(polarity) + 1),
        **{f"polarity_{a}": pa.array(polarity[:, j], type=pa.int8(), mask=polarity[:, j] == NOT_MENTIONED)
           for j, a in enumerate(ASPECTS)},
        "is_complaint_quit": pa.array(rv["quits"][inside]),
    }, schema=TRUTH_REVIEWS_SCHEMA))

    tickets_table = _tickets_table(sinks, window, run.tickets, lo, customer_ids, order_ids, rank_of_order, end)

    customers = customers_table(stream(config.seed, EMAILS, chunk), config, window, number, customer_ids.array,
                                signup_days[:n], channel, country)
    arms = CustomerArms(arm=arms.arm[:, :n], assigned_days=arms.assigned_days[:, :n])
    assignments = assignments_table(config, window, customer_ids, variant, signup_days[:n])
    customer_assignments = customer_assignments_table(config, window, customer_ids, arms, end)
    if customer_assignments is not None:
        assignments = pa.concat_tables([assignments, customer_assignments])
    accumulate_customer_metrics(sinks.realised.customer_experiments, config, arms, out_orders.customer,
                                out_orders.days, out_orders.status, out_orders.total_cents, end)

    campaign_sends = campaign_sends_table(config, window, customer_ids, sends, end)
    accumulate_campaign_truth(sinks.realised.campaigns, config, sends, run.death_days[:n], end)
    for name, table in (("customers", customers), ("orders", orders_table), ("events", events_table),
                        ("reviews", reviews_table), ("experiment_assignments", assignments)):
        writers[name].write(table)
        pool.offer(sinks.dirty_rng, name, table)
    writers["campaign_sends"].write(campaign_sends)
    writers["support_tickets"].write(tickets_table)
    # Their own generator too (keyed like their process), for the same reason.
    pool.offer(stream(config.seed, SUPPORT_TICKETS, chunk, 10**6), "support_tickets", tickets_table)
    # Its own generator: the other tables' dirty rows stay exactly what they were without it.
    pool.offer(stream(config.seed, CAMPAIGN_SENDS, chunk, 1), "campaign_sends", campaign_sends)
    writers["order_items"].write(items_table)
    if pool.rate > 0:
        alt = _alt_products(sinks.dirty_rng, line_order, line_product, catalogue.n)
        pool.offer(sinks.dirty_rng, "order_items", items_table, {"_alt_product_id": product_ids.take(alt)})
        unassigned = np.flatnonzero((variant == NOT_ASSIGNED) & ~arms.in_any)
        pool.offer_alt_customers(sinks.dirty_rng, customer_ids.take(unassigned), assignments.num_rows)

    _record_truth(shared, sinks, customer_ids, channel, variant, signup_days[:n], traits, conversion, out_orders,
                  run.death_days[:n], factors[:n])


def _tickets_table(sinks: _Sinks, window: Window, tk: dict[str, np.ndarray], lo: int, customer_ids: FixedWidthIds,
                   order_ids: FixedWidthIds, rank_of_order: np.ndarray, end: float) -> pa.Table:
    """support_tickets rows created before ``end`` (and their truth rows): ticket k of customer c
    (by creation time) is T + c x 10^4 + k; status and resolved_at as known at the end."""
    inside = np.flatnonzero(tk["created_days"] < end)
    inside = inside[np.lexsort((tk["created_days"][inside], tk["customer"][inside]))]
    numbers = composite_numbers(lo + tk["customer"][inside], rank_in_groups(tk["customer"][inside]), 4, "tickets")
    by_time = np.lexsort((numbers, tk["created_days"][inside]))
    inside, numbers = inside[by_time], numbers[by_time]
    ticket_ids = FixedWidthIds("T", numbers, 12).array
    linked = tk["order"][inside] >= 0
    order_ranks = np.where(linked, rank_of_order[np.maximum(tk["order"][inside], 0)], 0)
    order_text = pc.if_else(pa.array(linked), order_ids.take(order_ranks) if len(order_ids) else pa.nulls(inside.size, pa.string()),
                            pa.scalar("", pa.string()))
    language = tk["language"][inside]
    subject, body = render_tickets(tk["pieces"].reshape(-1, 9)[inside], tk["noise"].reshape(-1, 2)[inside], language,
                                   order_text)
    resolved_days = tk["resolved_days"][inside]
    known = resolved_days < end
    resolved_us = window.to_us(np.where(known, resolved_days, 0.0))
    planned_us = window.to_us(np.where(np.isfinite(resolved_days), resolved_days, 0.0))
    customer = customer_ids.take(tk["customer"][inside])
    sinks.truth_tickets.write(pa.table({
        "ticket_id": ticket_ids,
        "customer_id": customer,
        "order_id": pc.if_else(pa.array(linked), order_text, pa.scalar(None, pa.string())),
        "intent": take_strings(INTENTS, tk["intent"][inside]),
        "language": take_strings(LANGUAGES, language),
        "planned_resolved_at": pa.array(planned_us, type=pa.timestamp("us"), mask=~np.isfinite(resolved_days)),
        "is_unresolved_complaint_quit": pa.array(tk["quits"][inside]),
    }, schema=TRUTH_TICKETS_SCHEMA))
    return pa.table({
        "ticket_id": ticket_ids,
        "customer_id": customer,
        "created_at": pa.array(window.to_us(tk["created_days"][inside]), type=pa.timestamp("us")),
        "channel": take_strings(TICKET_CHANNELS, tk["channel"][inside]),
        "subject": subject,
        "body": body,
        "status": take_strings(STATUSES, known.astype(np.int64)),
        "resolved_at": pa.array(resolved_us, type=pa.timestamp("us"), mask=~known),
    })


def _record_truth(shared: _Shared, sinks: _Sinks, customer_ids: FixedWidthIds, channel: np.ndarray, variant: np.ndarray,
                  signup_days: np.ndarray, traits, conversion, orders: Orders, death_days: np.ndarray,
                  factors: np.ndarray) -> None:
    """Realised counts for _truth.json and the per-customer latent values, within the window."""
    config, window, realised = shared.config, shared.window, sinks.realised
    n = signup_days.size
    end = window.days
    first_days = conversion.first_days[:n]
    with np.errstate(invalid="ignore"):
        converted = first_days < end
        died = death_days < end
    completed = orders.status == COMPLETED
    completed_orders = np.bincount(orders.customer[completed], minlength=n)
    repeats_in_window = np.bincount(orders.customer[completed & ~orders.is_first], minlength=n)
    realised.signups += np.bincount(channel, minlength=realised.n_channels)
    realised.converted += np.bincount(channel[converted], minlength=realised.n_channels)
    realised.orders_by_status += np.bincount(orders.status, minlength=3)
    realised.completed_order_cents += int(orders.total_cents[completed].sum())
    realised.repeat_customers += int((repeats_in_window > 0).sum())
    realised.alive_at_end += int((converted & ~died).sum())
    metric_days = config.experiment.metric_window_days
    for v in (0, 1):
        in_arm = variant == v
        realised.experiment_assigned[v] += int(in_arm.sum())
        realised.experiment_converted[v] += int((in_arm & converted).sum())
        within = in_arm & converted & (np.nan_to_num(first_days) - signup_days <= metric_days)
        realised.experiment_converted_within_metric_window[v] += int(within.sum())

    first_order_us = np.where(converted, window.to_us(np.nan_to_num(first_days)), 0)
    died_us = np.where(died, window.to_us(np.nan_to_num(death_days)), 0)
    variant_labels = pc.if_else(
        pa.array(variant >= 0), take_strings(["control", "treatment"], np.maximum(variant, 0)), pa.scalar(None, pa.string()),
    )
    sinks.truth_customers.write(pa.table({
        "customer_id": customer_ids.array,
        "acquisition_channel": take_strings([c.name for c in config.channels], channel),
        "will_convert": pa.array(conversion.will_convert[:n]),
        "is_converted": pa.array(converted),
        "first_order_at": pa.array(first_order_us, type=pa.timestamp("us"), mask=~converted),
        "lambda_per_day": pa.array(traits.lam[:n]),
        "p_dropout": pa.array(traits.p[:n]),
        "nu": pa.array(traits.nu[:n]),
        "satisfaction": pa.array(traits.satisfaction[:n]),
        "repeats_before_death": pa.array(traits.repeats_before_death[:n], mask=~converted),
        "repeats_in_window": pa.array(repeats_in_window.astype(np.int64), mask=~converted),
        "completed_orders": pa.array(completed_orders.astype(np.int64)),
        "is_alive_at_end": pa.array(converted & ~died, mask=~converted),
        "died_at": pa.array(died_us, type=pa.timestamp("us"), mask=~died),
        "experiment_variant": variant_labels,
        "taste_factors": taste_factors_array(factors),
    }))
