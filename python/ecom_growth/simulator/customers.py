"""Signups (when, through which channel, from where) and per-customer latent traits.

Signup times are drawn for all customers up front (per day and period, keyed streams) and
sorted, so customer ids increase with signup time as in a real export and a shorter window's
customers are exactly the first customers of a longer one. Everything else is drawn per chunk
of customer slots from the chunk's own keyed stream, so memory stays flat.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from ecom_growth.simulator.config import SimulationConfig
from ecom_growth.simulator.ids import take_strings
from ecom_growth.simulator.streams import (
    ATTRIBUTES,
    PERIOD_DAYS,
    SIGNUP_DAYS,
    SIGNUP_EXTRA,
    SIGNUP_TIMES,
    stream,
)
from ecom_growth.simulator.timeline import Window

_FIRST_NAMES = (
    "james", "mary", "john", "linda", "oliver", "emma", "lukas", "mia", "louis", "chloe",
    "wei", "fang", "jing", "lei", "yuki", "haruto", "liam", "ava", "noah", "sofia",
    "mateo", "lucia", "arjun", "priya", "minjun", "seoyeon", "elias", "alva", "daan", "sanne",
)
_LAST_NAMES = (
    "smith", "jones", "brown", "miller", "muller", "schmidt", "martin", "bernard", "wang", "li",
    "zhang", "liu", "chen", "sato", "suzuki", "garcia", "rossi", "silva", "kumar", "kim",
    "lee", "johansson", "dejong", "taylor", "wilson", "moreau", "fischer", "novak", "lopez", "park",
)
# Two plausible mail domains per country, in DEFAULT_COUNTRIES order (others fall back).
_DOMAINS = {
    "US": ("gmail.com", "yahoo.com"), "GB": ("gmail.com", "outlook.co.uk"), "DE": ("web.de", "gmx.de"),
    "FR": ("orange.fr", "free.fr"), "CN": ("qq.com", "163.com"), "JP": ("yahoo.co.jp", "gmail.com"),
    "CA": ("gmail.com", "outlook.com"), "AU": ("gmail.com", "bigpond.com"), "NL": ("ziggo.nl", "gmail.com"),
    "ES": ("gmail.com", "hotmail.es"), "IT": ("libero.it", "gmail.com"), "BR": ("gmail.com", "uol.com.br"),
    "IN": ("gmail.com", "rediffmail.com"), "KR": ("naver.com", "gmail.com"), "SE": ("gmail.com", "telia.se"),
}
EMAIL_UPPERCASE_SHARE = 0.03
EMAIL_PADDED_SHARE = 0.02


@dataclass
class Signups:
    """All simulated customers, in id order: days since window start (sorted), and per chunk of
    ``chunk_customers`` slots the channel and country codes of every slot (see streams.py)."""

    days: np.ndarray
    channel: list[np.ndarray]
    country: list[np.ndarray]

    def chunk(self, index: int, lo: int, hi: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(signup days, channel, country) of customers lo..hi-1, the members of chunk ``index``."""
        return self.days[lo:hi], self.channel[index][: hi - lo], self.country[index][: hi - lo]


def signup_day_weights(config: SimulationConfig, window: Window, n_days: int) -> np.ndarray:
    """Relative signups on days 0..n_days-1: exponential growth x yearly x weekly seasonality."""
    day = np.arange(n_days)
    s = config.signups
    growth = np.exp(s.growth_log_rate_per_year * day / 365.25)
    yearly = 1.0 + s.yearly_amplitude * np.cos(2 * np.pi * (window.day_of_year(day + 0.5) - s.yearly_peak_day_of_year) / 365.25)
    weekly = np.asarray(s.weekday_weights)[window.weekday(day)]
    return growth * yearly * weekly


def draw_signups(seed: int, config: SimulationConfig, window: Window, n_days: int) -> Signups:
    """Signups on days 0..n_days-1 (``n_days`` a multiple of PERIOD_DAYS).

    Days within the scale horizon get a multinomial split of exactly ``customers`` signups; later
    days a Poisson count at the same intensity, per 4-week block from its own stream. Times of
    day are drawn per period. Nothing depends on ``n_days`` except how far the draws go.
    """
    scale = config.signups.scale_days
    extra_blocks = max(0, -(-(n_days - scale) // PERIOD_DAYS))
    weights = signup_day_weights(config, window, scale + extra_blocks * PERIOD_DAYS)
    scale_mass = weights[:scale].sum()
    counts = np.zeros(weights.size, dtype=np.int64)
    counts[:scale] = stream(seed, SIGNUP_DAYS).multinomial(config.customers, weights[:scale] / scale_mass)
    for block in range(extra_blocks):
        days = slice(scale + block * PERIOD_DAYS, scale + (block + 1) * PERIOD_DAYS)
        counts[days] = stream(seed, SIGNUP_EXTRA, block).poisson(config.customers * weights[days] / scale_mass)
    counts = counts[:n_days]
    hours = np.asarray(config.signups.hour_weights)
    hour_cum = np.cumsum(hours / hours.sum())
    parts = []
    for period in range(n_days // PERIOD_DAYS):
        days = np.arange(period * PERIOD_DAYS, (period + 1) * PERIOD_DAYS)
        day = np.repeat(days, counts[days])
        rng = stream(seed, SIGNUP_TIMES, period)
        hour = np.minimum(np.searchsorted(hour_cum, rng.random(day.size), side="right"), 23)
        parts.append(day + (hour + rng.random(day.size)) / 24.0)
    signup_days = np.sort(np.concatenate(parts)) if parts else np.zeros(0)
    n_chunks = -(-signup_days.size // config.chunk_customers)
    shares = np.array([c.share for c in config.channels])
    country_weights = np.array([w for _, w in config.countries])
    channel, country = [], []
    for index in range(n_chunks):
        rng = stream(seed, ATTRIBUTES, index)
        channel.append(rng.choice(shares.size, size=config.chunk_customers, p=shares / shares.sum()).astype(np.int8))
        country.append(rng.choice(country_weights.size, size=config.chunk_customers,
                                  p=country_weights / country_weights.sum()).astype(np.int8))
    return Signups(days=signup_days, channel=channel, country=country)


def customers_table(
    rng: np.random.Generator, config: SimulationConfig, window: Window, number: np.ndarray,
    customer_ids: pa.StringArray, signup_days: np.ndarray, channel: np.ndarray, country: np.ndarray,
) -> pa.Table:
    """The raw ``customers`` export for one chunk (``number`` = global customer numbers).

    ``rng`` is the chunk's own stream; it draws for all ``config.chunk_customers`` slots so a
    customer's e-mail does not depend on how many customers the window holds.
    """
    n = number.size
    slots = config.chunk_customers
    country_codes = [code for code, _ in config.countries]
    domains = [_DOMAINS.get(code, ("gmail.com", "outlook.com")) for code in country_codes]
    domain_labels = [d for pair in domains for d in pair]
    first = take_strings(_FIRST_NAMES, rng.integers(0, len(_FIRST_NAMES), slots)[:n])
    last = take_strings(_LAST_NAMES, rng.integers(0, len(_LAST_NAMES), slots)[:n])
    domain = take_strings(domain_labels, country.astype(np.int64) * 2 + rng.integers(0, 2, slots)[:n])
    style = rng.integers(0, 3, slots)[:n]
    case = rng.random(slots)[:n]
    digits = pc.cast(pa.array(number), pa.string())

    def join(*parts: pa.Array | str) -> pa.Array:
        return pc.binary_join_element_wise(*parts, "")

    # Local parts "mary.smith42", "mary_42" or "msmith42" (the number keeps addresses unique).
    local = pc.case_when(
        pc.make_struct(pa.array(style == 0), pa.array(style == 1)),
        join(first, ".", last, digits), join(first, "_", digits), join(pc.utf8_slice_codeunits(first, 0, 1), last, digits),
    )
    email = join(local, "@", domain)
    # Real exports are messy: some addresses are upper-cased or padded with spaces.
    email = pc.case_when(
        pc.make_struct(pa.array(case < EMAIL_UPPERCASE_SHARE), pa.array(case < EMAIL_UPPERCASE_SHARE + EMAIL_PADDED_SHARE)),
        pc.utf8_upper(email), join(" ", email, "  "), email,
    )
    return pa.table(
        {
            "customer_id": customer_ids,
            "signup_at": pa.array(window.to_us(signup_days), type=pa.timestamp("us")),
            "email": email,
            "country": take_strings(country_codes, country),
            "acquisition_channel": take_strings([c.name for c in config.channels], channel),
        }
    )
