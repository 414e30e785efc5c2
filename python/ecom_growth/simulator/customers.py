"""Signups (when, through which channel, from where) and per-customer latent traits.

Signup times are drawn for ALL customers at once (one float per customer) and sorted, so
customer ids increase with signup time as in a real export; everything else is drawn per
chunk of customers from the chunk's own seed, so memory stays flat.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from ecom_growth.simulator.config import SimulationConfig
from ecom_growth.simulator.ids import take_strings
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
    """All customers, in id order: days since window start, channel and country codes."""

    days: np.ndarray
    channel: np.ndarray
    country: np.ndarray


def signup_day_weights(config: SimulationConfig, window: Window) -> np.ndarray:
    """Relative signups per day: exponential growth x yearly x weekly seasonality."""
    day = np.arange(window.n_days)
    s = config.signups
    growth = np.exp(s.growth_log_rate_per_year * day / 365.25)
    yearly = 1.0 + s.yearly_amplitude * np.cos(2 * np.pi * (window.day_of_year(day + 0.5) - s.yearly_peak_day_of_year) / 365.25)
    weekly = np.asarray(s.weekday_weights)[window.weekday(day)]
    weights = growth * yearly * weekly
    return weights / weights.sum()


def draw_signups(rng: np.random.Generator, config: SimulationConfig, window: Window) -> Signups:
    n = config.customers
    day_cum = np.cumsum(signup_day_weights(config, window))
    day = np.minimum(np.searchsorted(day_cum, rng.random(n) * day_cum[-1], side="right"), window.n_days - 1)
    hours = np.asarray(config.signups.hour_weights)
    hour_cum = np.cumsum(hours / hours.sum())
    hour = np.minimum(np.searchsorted(hour_cum, rng.random(n), side="right"), 23)
    days = np.sort(day + (hour + rng.random(n)) / 24.0)
    shares = np.array([c.share for c in config.channels])
    channel = rng.choice(len(shares), size=n, p=shares / shares.sum()).astype(np.int8)
    country_weights = np.array([w for _, w in config.countries])
    country = rng.choice(len(country_weights), size=n, p=country_weights / country_weights.sum()).astype(np.int8)
    return Signups(days=days, channel=channel, country=country)


def customers_table(
    rng: np.random.Generator, config: SimulationConfig, window: Window, number: np.ndarray,
    customer_ids: pa.StringArray, signup_days: np.ndarray, channel: np.ndarray, country: np.ndarray,
) -> pa.Table:
    """The raw ``customers`` export for one chunk (``number`` = global customer numbers)."""
    n = number.size
    country_codes = [code for code, _ in config.countries]
    domains = [_DOMAINS.get(code, ("gmail.com", "outlook.com")) for code in country_codes]
    domain_labels = [d for pair in domains for d in pair]
    first = take_strings(_FIRST_NAMES, rng.integers(0, len(_FIRST_NAMES), n))
    last = take_strings(_LAST_NAMES, rng.integers(0, len(_LAST_NAMES), n))
    domain = take_strings(domain_labels, country.astype(np.int64) * 2 + rng.integers(0, 2, n))
    style = rng.integers(0, 3, n)
    case = rng.random(n)
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
