"""What a report section is: a title, what it shows, how to read it, charts, short tables, notes.

Section functions fill a ``Section`` inside ``with section.part("..."):`` blocks: a block whose
data is absent or empty (``MissingData``, or a table whose columns changed) adds a note to the
section instead of failing the report.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal

import duckdb
import plotly.graph_objects as go
import polars as pl

from ecom_growth.report.warehouse import MissingData

log = logging.getLogger(__name__)

TABLE_ROWS = 16


@dataclass
class Chart:
    title: str
    figure: go.Figure
    kind: str = "chart"


@dataclass
class Table:
    caption: str
    header: list[str]
    rows: list[list[str]]
    truncated_from: int | None = None
    kind: str = "table"


@dataclass
class Section:
    key: str
    title: str
    what: str
    how_to_read: str
    # Charts and tables in reading order: each table follows the chart it explains.
    items: list[Chart | Table] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    @contextlib.contextmanager
    def part(self, name: str) -> Iterator[None]:
        """Run one chart/table of the section; absent data becomes a note naming the part."""
        try:
            yield
        except MissingData as missing:
            self.notes.append(f"{name}: not shown, {missing}.")
        except (duckdb.CatalogException, duckdb.BinderException) as error:
            # A table changed shape since this report was written: say so, keep the rest.
            log.warning("report part %r could not read its table: %s", name, error)
            self.notes.append(f"{name}: not shown, its table does not have the expected shape ({_first_line(error)}).")

    def chart(self, title: str, fig: go.Figure) -> None:
        if not any(_points(trace) for trace in fig.data):
            raise MissingData("no data points to draw")
        self.items.append(Chart(title, fig))

    def table(self, caption: str, frame: pl.DataFrame, formats: dict[str, str] | None = None) -> None:
        self.items.append(format_table(caption, frame, formats or {}))

    def degraded(self, table: str, reasons: list[str]) -> None:
        for reason in reasons:
            self.warnings.append(f"{table} is degraded: {reason}")

    @property
    def charts(self) -> list[Chart]:
        return [item for item in self.items if isinstance(item, Chart)]

    @property
    def tables(self) -> list[Table]:
        return [item for item in self.items if isinstance(item, Table)]


def _points(trace) -> int:
    for attr in ("y", "z", "x", "values"):
        value = getattr(trace, attr, None)
        if value is not None and len(value):
            return len(value)
    return 0


def _first_line(error: Exception) -> str:
    return str(error).strip().splitlines()[0][:200]


def format_value(value, fmt: str | None) -> str:
    """Cell text: '—' for null; fmt is 'pct', 'int', 'money', 'float' or a format spec."""
    if value is None:
        return "—"
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, Decimal):
        value = float(value)
    if isinstance(value, int | float):
        if value != value:  # NaN
            return "—"
        if fmt is None:  # whole numbers (counts, also when summed into decimals) with separators
            fmt = "int" if value == int(value) or abs(value) >= 1000 else ".3g"
        spec = {"pct": ".1%", "int": ",.0f", "money": ",.2f", "float": ".3f"}.get(fmt, fmt)
        return format(value, spec)
    return str(value)


def format_table(caption: str, frame: pl.DataFrame, formats: dict[str, str]) -> Table:
    """The first TABLE_ROWS rows as text, columns titled with spaces instead of underscores."""
    shown = frame.head(TABLE_ROWS)
    rows = [[format_value(v, formats.get(c)) for c, v in zip(shown.columns, row)] for row in shown.iter_rows()]
    return Table(caption, [c.replace("_", " ") for c in frame.columns], rows,
                 frame.height if frame.height > TABLE_ROWS else None)
