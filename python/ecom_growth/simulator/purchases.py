"""Conversion, BG/NBD purchase timing, Gamma-Gamma order values and order statuses.

The planted process for COMPLETED orders is exactly BG/NBD (Fader, Hardie & Lee 2005) in the
purchase clock's operational time (calendar time when seasonality is off):

* t = 0 is the customer's first completed order (conversion); the window end is T.
* lambda ~ Gamma(r, rate=alpha) per day, p ~ Beta(a, b) (then channel/satisfaction shifts on
  logit p and a channel multiplier on lambda when effects act).
* Repeat purchases form a Poisson(lambda) process; after EACH repeat purchase the customer
  dies with probability p, so the number of repeats before death K ~ Geometric(p) on 1, 2, ...
  and there is no death right after the first purchase (FHL: P(x = 0) = (alpha/(alpha+T))^r).
  With ``dropout_after_first`` (MBG/NBD, Batislam et al. 2007) the customer can also die right
  after the first purchase: K ~ Geometric(p) - 1 on 0, 1, ...

K is latent (drawn once per customer); the purchases themselves are simulated forward in time,
one 4-week period after another (streams.PERIOD_DAYS), each period from its own keyed stream:
the points of the undying process in the period are Poisson(rate x operational length) uniform
points, and a customer keeps them until the K-th completed repeat. Nothing about a period uses
a later one, so a shorter window yields exactly the orders of a longer one before its end.

Cancelled and returned orders: after the first order the customer places orders at rate
lambda (1 + c + r); each order is independently completed, cancelled or returned with
probabilities 1 : c : r. The completed ones are therefore exactly the BG/NBD process above, and
an order's status is decided when it is placed, never from later orders. Orders stop at death.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ecom_growth.simulator.config import SimulationConfig
from ecom_growth.simulator.timeline import PurchaseClock

COMPLETED, CANCELLED, RETURNED = 0, 1, 2
STATUS_LABELS = ("completed", "cancelled", "returned")


@dataclass
class Traits:
    """Per-customer planted latent values (chunk-local arrays)."""

    satisfaction: np.ndarray
    lam: np.ndarray  # purchase rate per (operational) day, after the channel multiplier
    p: np.ndarray  # dropout probability after each repeat purchase, after shifts
    nu: np.ndarray  # Gamma-Gamma rate of the customer's order values
    repeats_before_death: np.ndarray  # K: completed repeats until (and including) the fatal one


@dataclass
class Conversion:
    will_convert: np.ndarray  # bool: places a first completed order at some time
    first_days: np.ndarray  # days since window start of the first order (nan if never)


@dataclass
class Orders:
    """Orders of one period (unsorted): chunk-local customer index, time, status, amount."""

    customer: np.ndarray
    days: np.ndarray
    status: np.ndarray  # int8: COMPLETED / CANCELLED / RETURNED
    total_cents: np.ndarray  # int64 amount paid
    is_first: np.ndarray  # bool: the customer's first completed order

    @staticmethod
    def concat(parts: list[Orders]) -> Orders:
        return Orders(*(np.concatenate([getattr(o, f) for o in parts]) for f in
                        ("customer", "days", "status", "total_cents", "is_first")))

    def take(self, index: np.ndarray) -> Orders:
        return Orders(self.customer[index], self.days[index], self.status[index], self.total_cents[index],
                      self.is_first[index])


@dataclass
class Lifecycle:
    """What the purchase process has done so far, per chunk customer (updated period by period)."""

    repeats: np.ndarray  # completed repeats so far
    death_days: np.ndarray  # time of the fatal purchase (nan while alive)

    @staticmethod
    def start(n: int) -> Lifecycle:
        return Lifecycle(repeats=np.zeros(n, dtype=np.int64), death_days=np.full(n, np.nan))


def draw_traits(rng: np.random.Generator, config: SimulationConfig, channel: np.ndarray) -> Traits:
    """Latent values of every slot of a chunk (``channel`` has one entry per slot)."""
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
    k = rng.geometric(np.clip(p, 1e-12, 1.0)).astype(np.int64)
    if config.dropout_after_first:
        k -= 1
    return Traits(satisfaction=satisfaction, lam=lam, p=p, nu=nu, repeats_before_death=k)


def draw_conversion(
    rng: np.random.Generator, config: SimulationConfig, channel: np.ndarray, signup_days: np.ndarray,
    conversion_multiplier: np.ndarray,
) -> Conversion:
    """Who ever places a first completed order, and when (exponential delay after signup).

    Draws one uniform and one exponential per slot of the chunk (``channel`` and the multiplier
    per slot); ``signup_days`` covers the chunk's customers, a prefix of the slots.
    """
    slots = channel.size
    probability = np.array([c.conversion_probability for c in config.channels])[channel] * conversion_multiplier
    will_convert = rng.random(slots) < np.minimum(probability, 1.0)
    delay_mean = np.array([c.first_order_delay_mean_days for c in config.channels])[channel]
    delay = rng.exponential(1.0, slots) * delay_mean
    n = signup_days.size
    will_convert = will_convert[:n]
    return Conversion(will_convert=will_convert, first_days=np.where(will_convert, signup_days + delay[:n], np.nan))


def period_orders(
    rng: np.random.Generator, config: SimulationConfig, clock: PurchaseClock, traits: Traits,
    conversion: Conversion, life: Lifecycle, lo: float, hi: float, n_active: int,
) -> Orders:
    """Orders placed in [lo, hi) by the chunk's first ``n_active`` customers; updates ``life``."""
    first_days = conversion.first_days[:n_active]
    firsts = np.flatnonzero((first_days >= lo) & (first_days < hi))
    k = traits.repeats_before_death
    at_first = firsts[k[firsts] == 0]  # MBG/NBD: dead right after the first purchase
    life.death_days[at_first] = first_days[at_first]

    with np.errstate(invalid="ignore"):
        eligible = np.flatnonzero((first_days < hi) & (life.repeats[:n_active] < k[:n_active]))
    s_lo = clock.operational(np.maximum(first_days[eligible], lo))
    s_hi = clock.operational(np.array([hi]))[0]
    status = config.status
    attempts = 1.0 + status.cancelled_per_completed + status.returned_per_completed
    count = rng.poisson(traits.lam[eligible] * attempts * np.maximum(s_hi - s_lo, 0.0))
    segment = np.repeat(np.arange(eligible.size), count)
    owner = eligible[segment]
    # Sorted uniform positions within each customer's stretch of the period.
    position = np.sort(segment + rng.random(segment.size)) - segment
    s = s_lo[segment] + position * (s_hi - s_lo[segment])
    kind = np.searchsorted(
        np.cumsum([1.0, status.cancelled_per_completed]) / attempts, rng.random(segment.size), side="right",
    ).astype(np.int8)
    completed = (kind == COMPLETED).astype(np.int64)
    # Completed repeats before each order (earlier periods + earlier in this one).
    running = np.cumsum(completed) - completed
    nonempty = count > 0
    segment_base = np.repeat(running[_segment_starts(count)[nonempty]], count[nonempty]) if running.size else running
    before = life.repeats[owner] + running - segment_base
    keep = before < k[owner]  # orders after the fatal (K-th) completed repeat never happen
    owner, s, kind, completed, before = owner[keep], s[keep], kind[keep], completed[keep], before[keep]
    repeat_days = clock.calendar(s)
    fatal = (completed == 1) & (before + 1 == k[owner])
    life.death_days[owner[fatal]] = repeat_days[fatal]
    np.add.at(life.repeats, owner, completed)

    customer = np.concatenate([firsts, owner])
    days = np.concatenate([first_days[firsts], repeat_days])
    gg = config.gamma_gamma
    value = rng.gamma(gg.p, 1.0, customer.size) / traits.nu[customer]
    return Orders(
        customer=customer,
        days=days,
        status=np.concatenate([np.zeros(firsts.size, np.int8), kind]),
        total_cents=np.maximum(np.rint(value * 100.0).astype(np.int64), 1),
        is_first=np.concatenate([np.ones(firsts.size, bool), np.zeros(owner.size, bool)]),
    )


def _segment_starts(counts: np.ndarray) -> np.ndarray:
    """Offset of each segment in a flat array of segments with these lengths."""
    counts = np.asarray(counts, dtype=np.int64)
    return np.cumsum(counts) - counts
