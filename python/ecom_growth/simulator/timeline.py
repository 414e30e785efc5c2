"""The simulated calendar: window, unit conversions and the seasonal purchase clock.

Internally every time is float64 days since the window start (exact enough: 1e-5 us at two
years); only the output is int64 microseconds. Keeping one representation avoids the classic
off-by-a-timezone bugs of mixing datetime objects and numbers.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

import numpy as np

US_PER_DAY = 86_400_000_000
US_PER_MINUTE = 60_000_000
_EPOCH = date(1970, 1, 1)


def date_to_us(d: date) -> int:
    return (d - _EPOCH).days * US_PER_DAY


@dataclass(frozen=True)
class Window:
    """[start 00:00, end 23:59:59.999999]: ``end`` is an inclusive calendar date."""

    start: date
    end: date

    @property
    def days(self) -> float:
        return float((self.end - self.start).days + 1)

    @property
    def n_days(self) -> int:
        return (self.end - self.start).days + 1

    @property
    def start_us(self) -> int:
        return date_to_us(self.start)

    @property
    def end_us_exclusive(self) -> int:
        return date_to_us(self.end + timedelta(days=1))

    @property
    def start_epoch_day(self) -> int:
        return (self.start - _EPOCH).days

    @property
    def n_weeks(self) -> int:
        return int(np.ceil(self.days / 7.0))

    def to_us(self, days: np.ndarray) -> np.ndarray:
        """Days since start -> int64 epoch microseconds (not clipped: callers filter by the end,
        because clipping a late event to the end would make it differ from the longer run's)."""
        return self.start_us + np.floor(np.asarray(days, dtype=np.float64) * US_PER_DAY).astype(np.int64)

    def week(self, days: np.ndarray) -> np.ndarray:
        """Price week index (weeks start at the window start) of days since start."""
        return np.maximum((np.asarray(days) // 7.0).astype(np.int32), 0)

    def day_of_year(self, days: np.ndarray) -> np.ndarray:
        """Fractional day of year (0 = 1 January) of days since start."""
        first = self.start.timetuple().tm_yday - 1
        return np.mod(first + np.asarray(days, dtype=np.float64), 365.25)

    def weekday(self, day_index: np.ndarray) -> np.ndarray:
        """Monday = 0 for integer day indices since start."""
        return np.mod(self.start.weekday() + np.asarray(day_index), 7)

    def datetime_at(self, days: float) -> datetime:
        return datetime(self.start.year, self.start.month, self.start.day) + timedelta(days=days)


class PurchaseClock:
    """Maps calendar days to operational days S(t) = integral_0^t s(u) du and back.

    s(t) = 1 + A cos(2 pi (doy(t) - peak) / 365.25). A Poisson process of rate lambda in S-time
    is a seasonal process of rate lambda * s(t) in calendar time; BG/NBD dropout (after each
    purchase) is unchanged by the time change. With A = 0 the clock is the identity, exactly.
    """

    def __init__(self, window: Window, amplitude: float, peak_day_of_year: float, horizon_days: float,
                 step_days: float = 1.0 / 24.0):
        """``horizon_days``: how far the simulation runs (past the window end: see streams.py).
        The grid starts at the window start with a fixed step, so S(t) does not depend on it."""
        self.identity = amplitude == 0.0
        self.window = window
        if self.identity:
            return
        grid = np.arange(0.0, horizon_days + step_days, step_days)
        rate = 1.0 + amplitude * np.cos(2.0 * np.pi * (window.day_of_year(grid) - peak_day_of_year) / 365.25)
        cumulative = np.concatenate([[0.0], np.cumsum((rate[1:] + rate[:-1]) * 0.5 * np.diff(grid))])
        self._grid = grid
        self._cumulative = cumulative

    def operational(self, days: np.ndarray) -> np.ndarray:
        if self.identity:
            return np.asarray(days, dtype=np.float64)
        return np.interp(days, self._grid, self._cumulative)

    def calendar(self, operational_days: np.ndarray) -> np.ndarray:
        if self.identity:
            return np.asarray(operational_days, dtype=np.float64)
        return np.interp(operational_days, self._cumulative, self._grid)
