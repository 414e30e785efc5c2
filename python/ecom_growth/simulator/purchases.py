"""Conversion, BG/NBD purchase timing, Gamma-Gamma order values and order statuses.

The planted process for COMPLETED orders is exactly BG/NBD (Fader, Hardie & Lee 2005) in the
purchase clock's operational time (calendar time when seasonality is off):

* t = 0 is the customer's first completed order (conversion); the window end is T.
* lambda ~ Gamma(r, rate=alpha) per day, p ~ Beta(a, b) (then channel/satisfaction shifts on
  logit p and a channel multiplier on lambda when effects act).
* Repeat purchases form a Poisson(lambda) process; after EACH repeat purchase the customer
  dies with probability p, so the number of repeats before death K ~ Geometric(p) on 1, 2, ...
  and there is no death right after the first purchase (FHL: P(x = 0) = (alpha/(alpha+T))^r).

Vectorised without simulating gaps beyond the window: the repeats a customer can make in
(0, T] are the M ~ Poisson(lambda T) points of the undying process, which given M are sorted
uniforms (built from normalised exponential spacings); the customer keeps the first min(K, M).
That is the same process as drawing Exp(lambda) gaps until death or T, at a bounded cost even
when p is tiny (a = 0.9 < 1 makes E[1/p] infinite, so "draw K gaps" would not be bounded).

Cancelled and returned orders are EXTRA orders on top of this process (Poisson counts relative
to the completed ones, uniform times in the customer's active span) and are not BG/NBD truth.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ecom_growth.simulator.config import SimulationConfig
from ecom_growth.simulator.timeline import PurchaseClock, Window

COMPLETED, CANCELLED, RETURNED = 0, 1, 2
STATUS_LABELS = ("completed", "cancelled", "returned")


@dataclass
class Traits:
    """Per-customer planted latent values (chunk-local arrays)."""

    satisfaction: np.ndarray
    lam: np.ndarray  # purchase rate per (operational) day, after the channel multiplier
    p: np.ndarray  # dropout probability after each repeat purchase, after shifts
    nu: np.ndarray  # Gamma-Gamma rate of the customer's order values


@dataclass
class Conversion:
    converted: np.ndarray  # bool: first completed order inside the window
    first_days: np.ndarray  # days since window start of the first order (nan if none)
    will_convert: np.ndarray  # bool: converts at some time (maybe after the window end)


@dataclass
class Orders:
    """Orders of one chunk, sorted by time (completed first on ties)."""

    customer: np.ndarray  # chunk-local customer index
    days: np.ndarray
    status: np.ndarray  # int8: COMPLETED / CANCELLED / RETURNED
    total_cents: np.ndarray  # int64 amount paid
    is_first: np.ndarray  # bool: the customer's first completed order


@dataclass
class Lifetimes:
    """Per-customer BG/NBD realisation (for _truth_customers.parquet)."""

    repeats_before_death: np.ndarray  # K (capped only by int range)
    repeats_in_window: np.ndarray  # min(K, M)
    is_alive_at_end: np.ndarray  # bool (converted customers): no death inside the window
    death_days: np.ndarray  # days since start of the purchase after which they died (nan)
    completed_orders: np.ndarray


def draw_traits(rng: np.random.Generator, config: SimulationConfig, channel: np.ndarray) -> Traits:
    n = channel.size
    bg = config.bgnbd
    satisfaction = rng.standard_normal(n)
    lam = rng.gamma(bg.r, 1.0 / bg.alpha, n)
    p = rng.beta(bg.a, bg.b, n)
    multiplier = np.array([c.lambda_multiplier for c in config.channels])[channel]
    shift = np.array([c.logit_p_shift for c in config.channels])[channel]
    shift = shift + config.satisfaction.dropout_logit_per_sd * satisfaction
    if np.any(multiplier != 1.0):
        lam = lam * multiplier
    if np.any(shift != 0.0):
        clipped = np.clip(p, 1e-12, 1 - 1e-12)
        p = 1.0 / (1.0 + np.exp(-(np.log(clipped / (1 - clipped)) + shift)))
    gg = config.gamma_gamma
    nu = rng.gamma(gg.q, 1.0 / gg.gamma, n)
    return Traits(satisfaction=satisfaction, lam=lam, p=p, nu=nu)


def draw_conversion(
    rng: np.random.Generator, config: SimulationConfig, window: Window,
    channel: np.ndarray, signup_days: np.ndarray, conversion_multiplier: np.ndarray,
) -> Conversion:
    """Who places a first completed order, and when (exponential delay after signup)."""
    probability = np.array([c.conversion_probability for c in config.channels])[channel] * conversion_multiplier
    will_convert = rng.random(channel.size) < np.minimum(probability, 1.0)
    delay_mean = np.array([c.first_order_delay_mean_days for c in config.channels])[channel]
    first = signup_days + rng.exponential(1.0, channel.size) * delay_mean
    converted = will_convert & (first < window.days)
    return Conversion(converted=converted, first_days=np.where(converted, first, np.nan), will_convert=will_convert)


def _segment_starts(counts: np.ndarray) -> np.ndarray:
    """Offset of each segment in a flat array of segments with these lengths."""
    counts = np.asarray(counts, dtype=np.int64)
    return np.cumsum(counts) - counts


def draw_orders(
    rng: np.random.Generator, config: SimulationConfig, window: Window, clock: PurchaseClock,
    conversion: Conversion, traits: Traits,
) -> tuple[Orders, Lifetimes]:
    n = traits.lam.size
    who = np.flatnonzero(conversion.converted)
    t0 = conversion.first_days[who]
    s0 = clock.operational(t0)
    horizon = clock.operational(np.array([window.days]))[0] - s0  # T in operational days
    lam, p = traits.lam[who], np.clip(traits.p[who], 1e-12, 1.0)

    undying = rng.poisson(lam * horizon)  # M: repeat opportunities of the undying process
    before_death = rng.geometric(p)  # K: repeats until (and including) the fatal one
    repeats = np.minimum(undying, before_death)

    # Sorted uniforms on (0, T] for each customer from normalised exponential spacings: a
    # customer with M points needs M + 1 spacings. Only the first `repeats` are kept.
    spacings_per = undying + 1
    spacings = rng.standard_exponential(int(spacings_per.sum()))
    owner = np.repeat(np.arange(who.size), spacings_per)
    starts = _segment_starts(spacings_per)
    running = np.cumsum(spacings)
    offset = np.where(starts > 0, running[np.maximum(starts - 1, 0)], 0.0)
    within = running - offset[owner]
    total = within[starts + spacings_per - 1]
    rank = np.arange(spacings.size) - starts[owner]  # 0-based position within the customer
    keep = rank < repeats[owner]
    owner_kept = owner[keep]
    repeat_days = clock.calendar(s0[owner_kept] + within[keep] / total[owner_kept] * horizon[owner_kept])
    repeat_days = np.minimum(repeat_days, np.nextafter(window.days, 0))

    died = before_death <= undying
    death_days = np.full(n, np.nan)
    if died.any():
        last_position = starts + repeats - 1  # index of the K-th (fatal) repeat spacing
        fatal = clock.calendar(s0 + within[np.maximum(last_position, 0)] / total * horizon)
        death_days[who[died]] = fatal[died]

    completed_customer = np.concatenate([who, who[owner_kept]])
    completed_days = np.concatenate([t0, repeat_days])
    completed_count = np.zeros(n, dtype=np.int64)
    np.add.at(completed_count, completed_customer, 1)

    # Extra cancelled / returned orders, uniform in (first order, last completed + extra].
    last_days = np.full(n, -np.inf)
    np.maximum.at(last_days, completed_customer, completed_days)
    status_cfg = config.status
    n_cancel = rng.poisson(status_cfg.cancelled_per_completed * completed_count[who])
    n_return = rng.poisson(status_cfg.returned_per_completed * completed_count[who])
    extra_customer = np.concatenate([np.repeat(who, n_cancel), np.repeat(who, n_return)])
    extra_status = np.concatenate(
        [np.full(n_cancel.sum(), CANCELLED, np.int8), np.full(n_return.sum(), RETURNED, np.int8)]
    )
    first_of = conversion.first_days[extra_customer]
    span_end = np.minimum(last_days[extra_customer] + status_cfg.active_span_extra_days, np.nextafter(window.days, 0))
    extra_days = first_of + (1.0 - rng.random(extra_customer.size)) * (span_end - first_of)

    customer = np.concatenate([completed_customer, extra_customer])
    days = np.concatenate([completed_days, extra_days])
    status = np.concatenate([np.zeros(completed_customer.size, np.int8), extra_status])
    is_first = np.zeros(customer.size, dtype=bool)
    is_first[: who.size] = True

    # Gamma-Gamma: z ~ Gamma(p, rate=nu_customer) for every order (completed or not).
    gg = config.gamma_gamma
    value = rng.gamma(gg.p, 1.0, customer.size) / traits.nu[customer]
    total_cents = np.maximum(np.rint(value * 100.0).astype(np.int64), 1)

    order = np.lexsort((status, days))
    orders = Orders(
        customer=customer[order], days=days[order], status=status[order],
        total_cents=total_cents[order], is_first=is_first[order],
    )
    k_full = np.zeros(n, dtype=np.int64)
    k_full[who] = before_death
    in_window = np.zeros(n, dtype=np.int64)
    in_window[who] = repeats
    alive = np.zeros(n, dtype=bool)
    alive[who] = ~died
    lifetimes = Lifetimes(
        repeats_before_death=k_full, repeats_in_window=in_window, is_alive_at_end=alive,
        death_days=death_days, completed_orders=completed_count,
    )
    return orders, lifetimes
