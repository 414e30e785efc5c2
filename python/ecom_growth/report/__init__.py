"""The growth report: one self-contained HTML page built from the BI tables of a warehouse.

``build_report`` reads only the marts, ML and serving schemas (through ``Warehouse``), renders
every section (``sections.CORE_SECTIONS``, then later capabilities when their tables exist) into
the jinja2 skeleton ``templates/report.html.j2`` with plotly.js inlined, and writes one file that
opens offline by double-click. A section whose tables are absent or empty says so; the report
itself never fails for that. It refuses a warehouse whose last build did not complete.
"""

from __future__ import annotations

import json
import logging
import os
from dataclasses import dataclass
from pathlib import Path

import duckdb
import jinja2
import plotly.io as pio
import plotly.offline

from ecom_growth.build_log import build_notices, require_complete_build
from ecom_growth.report.section import Section
from ecom_growth.report.sections import CORE_SECTIONS, OPTIONAL_SECTIONS
from ecom_growth.report.warehouse import Warehouse

log = logging.getLogger(__name__)

REPORT_FILE = "growth_report.html"
PLOTLY_CONFIG = {"displaylogo": False, "responsive": True, "modeBarButtonsToRemove": ["sendDataToCloud"]}


@dataclass(frozen=True)
class Report:
    path: Path
    sections: list[Section]
    omitted: list[str]
    charts: int
    tables_read: set[str]


def collect_sections(wh: Warehouse) -> tuple[list[Section], list[str]]:
    """Every core section, and each later capability whose tables exist (else a line in `omitted`)."""
    sections = [build(wh) for build in CORE_SECTIONS]
    omitted = []
    for name, build in OPTIONAL_SECTIONS:
        section = build(wh)
        if section is None:
            omitted.append(f"{name}: no {name.lower()} tables in this warehouse yet, so the section is omitted.")
        else:
            sections.append(section)
    return sections, omitted


def _script_json(value: str) -> str:
    # Inside <script>, "</" would end the element early; \u003c is the same string to JSON.
    return value.replace("<", "\\u003c")


def chart_id(section: Section, index: int) -> str:
    return f"chart-{section.key}-{index}"


def render_html(sections: list[Section], omitted: list[str], *, title: str, as_of: str | None,
                build_id: str | None, notices: list[str]) -> tuple[str, int]:
    """The page as one string (plotly.js inline) and the number of charts in it."""
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("ecom_growth.report", "templates"),
        autoescape=jinja2.select_autoescape(["html", "j2"]), undefined=jinja2.StrictUndefined,
    )
    figures = {}
    for section in sections:
        for i, chart in enumerate(section.charts):
            figures[chart_id(section, i)] = json.loads(pio.to_json(chart.figure, validate=False))
    html = env.get_template("report.html.j2").render(
        title=title, as_of=as_of, build_id=build_id, notices=notices, sections=sections, omitted=omitted,
        plotly_js=plotly.offline.get_plotlyjs(), figures_json=_script_json(json.dumps(figures)),
        config_json=json.dumps(PLOTLY_CONFIG), chart_id=chart_id,
    )
    return html, len(figures)


def build_report(db_path: str | Path, out_dir: str | Path) -> Report:
    """Write <out_dir>/growth_report.html from the warehouse's BI tables (atomically) and describe it."""
    db_path, out = Path(db_path), Path(out_dir)
    with duckdb.connect(str(db_path), read_only=True) as con:
        record = require_complete_build(con)  # refuses a build that did not complete
        notices = build_notices(record)
        wh = Warehouse(con)
        sections, omitted = collect_sections(wh)
        as_of = wh.as_of()
        notices = [*notices, *wh.degraded_lines()]
    html, charts = render_html(
        sections, omitted, title="ecom_growth — growth report", as_of=as_of,
        build_id=record.build_id, notices=notices,
    )
    out.mkdir(parents=True, exist_ok=True)
    path = out / REPORT_FILE
    tmp = out / f".{REPORT_FILE}.tmp-{os.getpid()}"
    tmp.write_text(html, encoding="utf-8")
    os.replace(tmp, path)
    log.info("report: %d sections, %d charts -> %s", len(sections), charts, path)
    return Report(path, sections, omitted, charts, set(wh.read))
