"""The growth report on the simulated test warehouse and on a shop without the optional tables.

The report is written to <test dir>/report/ (build/test/report/ under scripts/test.sh) and
rendered in headless Chromium at 1280 px through the DevTools protocol (report_browser.py): any
JavaScript exception, console error or browser error fails, as does any network request (the
page must work offline) and any chart without data. The full-page screenshots stay there for a
human to look at. Chromium comes from the OS (scripts/ensure_chromium.sh, run by scripts/test.sh);
where it cannot be installed the browser tests skip saying so.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import report_browser

from ecom_growth.report import build_report

REPO = Path(__file__).resolve().parents[2]
OUT = Path(os.environ.get("ECOM_GROWTH_TEST_DIR", REPO / "build" / "test")) / "report"
OPTIONAL_RAW_TABLES = ("events", "reviews", "marketing_spend", "experiment_assignments")
LOCAL_SCHEMES = ("file:", "data:", "blob:", "about:")


def _needs_chromium() -> None:
    if report_browser.find_chromium() is None:
        pytest.skip("chromium is not installed and could not be installed here (scripts/ensure_chromium.sh needs "
                    "root and apt-get): the browser test of the report did not run")


def _check_in_browser(report, screenshot: Path) -> report_browser.PageResult:
    page = report_browser.render(report.path, screenshot)
    assert page.errors == [], "the page logged errors"
    remote = [url for url in page.requests if not url.startswith(LOCAL_SCHEMES)]
    assert remote == [], "the page must not touch the network"
    assert len(page.charts) == report.charts
    for chart in page.charts:
        assert chart["rendered"] and chart["drawn"], chart
        assert chart["points"] > 0 and chart["empty_traces"] == 0, f"chart without data: {chart}"
        assert chart["width"] >= 1000, f"chart squeezed at 1280 px: {chart}"
    png = screenshot.read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    assert int.from_bytes(png[16:20], "big") == 1280 and int.from_bytes(png[20:24], "big") == page.page_height
    return page


@pytest.fixture(scope="module")
def report():
    return build_report(os.environ["ECOM_GROWTH_DB"], OUT / "full")


def test_every_core_section_has_charts_and_tables_on_the_simulated_shop(report):
    core = ["kpis", "retention", "acquisition", "value", "churn", "recommendations", "experiments", "segments"]
    keys = [s.key for s in report.sections]
    # the core sections in order, then the optional ones whose tables this build has
    assert keys[:len(core)] == core
    assert set(keys[len(core):]) <= {"pricing", "sentiment"}
    for section in report.sections:
        assert len(section.charts) >= 1 and len(section.tables) >= 1, section.title
        assert section.what and section.how_to_read
    notes = [f"{s.title}: {n}" for s in report.sections for n in s.notes]
    assert not [n for n in notes if "expected shape" in n], "a table changed under the report"
    assert not [n for n in notes if "no rows for this view" in n], "the full simulated shop fills every view"
    assert report.charts >= 16


def test_exposure_declares_every_table_the_report_reads(report):
    manifest = json.loads((Path(os.environ.get("DBT_TARGET_PATH", REPO / "target")) / "manifest.json").read_text())
    exposure = manifest["exposures"]["exposure.ecom_growth.growth_report"]
    declared = {node.split(".")[-1] for node in exposure["depends_on"]["nodes"]}
    assert report.tables_read <= declared, f"add to models/exposures.yml: {sorted(report.tables_read - declared)}"
    assert manifest["exposures"]["exposure.ecom_growth.crm_audiences"]["depends_on"]["nodes"] == [
        "model.ecom_growth.fct_next_best_actions"]


def test_report_renders_in_headless_chromium_without_errors(report):
    _needs_chromium()
    page = _check_in_browser(report, OUT / "growth_report_full.png")
    assert page.page_height > 5000, "every section is on the page"


@pytest.fixture(scope="module")
def report_without_optional_tables(tmp_path_factory):
    """A 400-customer shop without events, reviews, spend or experiments: dbt build (no tests), report."""
    work = tmp_path_factory.mktemp("no_optional")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO / "python"), os.environ.get("PYTHONPATH")]))}
    raw = work / "raw"
    subprocess.run([sys.executable, "-m", "ecom_growth", "-q", "generate", "--customers", "400", "--seed", "5",
                    "--out", str(raw)], check=True, capture_output=True, env=env)
    for table in OPTIONAL_RAW_TABLES:
        (raw / f"{table}.parquet").unlink()
    env.update(ECOM_GROWTH_RAW_PATH=str(raw), ECOM_GROWTH_DB=str(work / "wh.duckdb"), ECOM_GROWTH_THREADS="2",
               DBT_TARGET_PATH=str(work / "target"), DBT_LOG_PATH=str(work / "logs"))
    dbt = str(Path(sys.executable).with_name("dbt"))
    build = subprocess.run([dbt, "build", "--exclude-resource-type", "test", "unit_test"], cwd=REPO, env=env,
                           capture_output=True, text=True)
    assert build.returncode == 0, build.stdout[-3000:]
    return build_report(work / "wh.duckdb", OUT / "no_optional")


def test_without_optional_tables_sections_say_what_is_missing(report_without_optional_tables):
    report = report_without_optional_tables
    notes = {s.key: " ".join(s.notes) for s in report.sections}
    assert "fct_conversion_funnel: no rows" in notes["acquisition"]
    assert "fct_experiment_results: no rows" in notes["experiments"]
    html = report.path.read_text()
    assert "Conversion funnel: not shown" in html and "Lift: not shown" in html
    # What does not depend on the optional tables is still there.
    assert {"kpis", "retention", "value", "segments"} <= {s.key for s in report.sections if s.charts}


def test_without_optional_tables_the_page_still_renders_cleanly(report_without_optional_tables):
    _needs_chromium()
    _check_in_browser(report_without_optional_tables, OUT / "growth_report_no_optional.png")
