"""bench.run_benchmark's control flow with the processes stubbed out: a failing full build is
recorded and the daily refresh still runs; --full-only runs one build on one data set."""

from __future__ import annotations

import json
import os
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from ecom_growth import bench
from ecom_growth.bench import StageResult, dbt_failures, render_markdown, run_benchmark


def _run_results(target: Path, statuses: dict[str, str]) -> None:
    target.mkdir(parents=True, exist_ok=True)
    results = [{"unique_id": f"{'test' if name.startswith('t_') else 'model'}.ecom_growth.{name}", "status": status,
                "execution_time": 1.0, "message": f"{name} said {status}"} for name, status in statuses.items()]
    (target / "run_results.json").write_text(json.dumps({"results": results}))


def test_dbt_failures_lists_errors_fails_and_skips_not_warnings(tmp_path: Path) -> None:
    _run_results(tmp_path, {"m_ok": "success", "t_warn": "warn", "t_fail": "fail", "m_err": "error",
                            "m_skip": "skipped", "t_pass": "pass"})
    failures = dbt_failures(tmp_path)
    assert [(f["node"], f["status"]) for f in failures] == [("t_fail", "fail"), ("m_err", "error"),
                                                           ("m_skip", "skipped")]
    assert failures[0]["message"] == "t_fail said fail"


def test_dbt_failures_without_run_results(tmp_path: Path) -> None:
    assert dbt_failures(tmp_path / "missing") == []


@pytest.fixture
def stubbed(monkeypatch: pytest.MonkeyPatch, tmp_path: Path):
    """Replace generation and dbt by stubs; the full build fails one data test (exit 1)."""
    calls: list[tuple[str, list[str]]] = []

    def fake_generate(customers, seed, end, out, env, cwd):
        out.mkdir(parents=True, exist_ok=True)
        (out / "_truth.json").write_text("{}")
        calls.append(("generate", [str(end)]))
        return StageResult(f"generate (end {end})", [], 1.0, 10.0, 0)

    def fake_run_stage(stage, command, env, cwd):
        calls.append((stage, command))
        Path(env["ECOM_GROWTH_DB"]).write_text("warehouse")
        target = Path(env["DBT_TARGET_PATH"])
        failing = "full build" in stage
        _run_results(target, {"m1": "success", "t_grain": "fail" if failing else "pass"})
        return StageResult(stage, command, 2.0, 100.0, 1 if failing else 0, peak_tree_rss_mb=120.0,
                           cpu_seconds=3.5 if failing else 1.5)

    monkeypatch.setattr(bench, "_generate", fake_generate)
    monkeypatch.setattr(bench, "run_stage", fake_run_stage)
    return calls


def test_failing_full_build_is_recorded_and_daily_refresh_still_runs(stubbed, tmp_path: Path) -> None:
    report = run_benchmark(1000, tmp_path, tmp_path / "work", tmp_path / "out", als=False)
    stages = [c[0] for c in stubbed]
    assert stages == ["generate", "generate", "dbt build (full build)", "dbt build (daily refresh)"]
    assert report["ok"] is False
    full = next(s for s in report["stages"] if s["stage"] == "dbt build (full build)")
    assert [f["node"] for f in full["failures"]] == ["t_grain"]
    assert "daily_refresh_seconds" in report["summary"]
    assert (report["summary"]["full_build_cpu_seconds"], report["summary"]["daily_refresh_cpu_seconds"]) == (3.5, 1.5)
    markdown = (tmp_path / "out" / "bench_1000.md").read_text()
    assert "## Failed dbt nodes" in markdown and "t_grain" in markdown


def test_full_only_generates_one_data_set_and_runs_one_build(stubbed, tmp_path: Path) -> None:
    report = run_benchmark(1000, tmp_path, tmp_path / "work", tmp_path / "out", als=False, daily=False)
    assert [c[0] for c in stubbed] == ["generate", "dbt build (full build)"]
    assert stubbed[0][1] == [str(bench.SIMULATOR_END - timedelta(days=1))]  # the full build's data
    assert "daily_refresh_seconds" not in report["summary"]
    assert "full_build_peak_tree_rss_mb" in report["summary"]


def test_render_markdown_without_failures_has_no_failure_section() -> None:
    report = {"customers": 10, "machine": {"cpus": 2, "platform": "x"}, "ok": True, "summary": {},
              "stages": [{"stage": "s", "wall_seconds": 1, "peak_tree_rss_mb": 1, "peak_rss_mb": 1,
                          "load_average_1m": 0, "exit_code": 0, "models": [], "failures": []}]}
    assert "Failed dbt nodes" not in render_markdown(report)


def _timed_results(target: Path, started_at: float, nodes: dict[str, tuple[float, float]]) -> None:
    """run_results.json whose nodes executed over [start, end] seconds after ``started_at``."""
    def iso(offset: float) -> str:
        return datetime.fromtimestamp(started_at + offset, tz=UTC).isoformat().replace("+00:00", "Z")

    target.mkdir(parents=True, exist_ok=True)
    results = [{"unique_id": f"{'test' if name.startswith('t_') else 'model'}.ecom_growth.{name}",
                "status": "success", "execution_time": end - start,
                "timing": [{"name": "compile", "started_at": iso(start - 0.5), "completed_at": iso(start)},
                           {"name": "execute", "started_at": iso(start), "completed_at": iso(end)}]}
               for name, (start, end) in nodes.items()]
    results.append({"unique_id": "model.ecom_growth.m_never_ran", "status": "skipped", "execution_time": 0,
                    "timing": []})
    (target / "run_results.json").write_text(json.dumps({"results": results}))


def test_memory_is_attributed_to_the_nodes_running_at_each_second(tmp_path: Path) -> None:
    started_at = 1_800_000_000.0
    _timed_results(tmp_path, started_at, {"m_big": (2.2, 6.8), "m_small": (0.0, 3.5), "t_grain": (5.0, 5.4),
                                          "m_late": (8.0, 9.0)})
    intervals = bench._node_intervals(tmp_path, started_at)
    assert {i["node"]: (round(i["start"], 3), round(i["end"], 3)) for i in intervals} == {
        "m_big": (2.2, 6.8), "m_small": (0.0, 3.5), "t_grain": (5.0, 5.4), "m_late": (8.0, 9.0)}
    timeline = [[0, 100.0], [1, 150.0], [2, 300.0], [3, 320.0], [4, 280.0], [5, 900.0], [6, 400.0], [7, 90.0],
                [8, 200.0]]
    peak_second, running, per_model = bench.attribute_memory(intervals, timeline)
    assert peak_second == 5
    assert running == ["m_big", "t_grain"]  # m_small ended at 3.5; tests are listed, not ranked
    assert per_model == {"m_small": 320.0, "m_big": 900.0, "m_late": 200.0}


def test_memory_attribution_without_samples_or_run_results(tmp_path: Path) -> None:
    assert bench._node_intervals(tmp_path / "missing", 0.0) == []
    assert bench.attribute_memory([], []) == (None, [], {})
    assert bench.attribute_memory([], [[0, 10.0]]) == (0, [], {})


def test_run_stage_reports_the_child_cpu_and_the_markdown_shows_it(tmp_path: Path) -> None:
    # a child that spins ~0.3 s of CPU, then sleeps 0.2 s (wall counts the sleep, CPU does not)
    burn = "import time\nt = time.process_time()\nwhile time.process_time() - t < 0.3: pass\ntime.sleep(0.2)"
    result = bench.run_stage("burn", [sys.executable, "-c", burn], dict(os.environ), tmp_path)
    assert result.exit_code == 0
    assert 0.25 <= result.cpu_seconds <= result.wall_seconds
    report = {"customers": 10, "machine": {"cpus": 2, "platform": "x"}, "ok": True, "summary": {},
              "stages": [{**result.__dict__, "models": [], "failures": []}]}
    busy = f"{result.cpu_seconds / result.wall_seconds:.2f}"
    assert f"| burn | {result.wall_seconds} | {result.cpu_seconds} | {busy} |" in render_markdown(report)


def test_a_second_run_is_compared_with_the_report_it_replaces(stubbed, tmp_path: Path) -> None:
    out = tmp_path / "out"
    first = run_benchmark(1000, tmp_path, tmp_path / "work", out, als=False)
    assert first["previous"] is None
    assert "Compared with the previous report" not in (out / "bench_1000.md").read_text()
    second = run_benchmark(1000, tmp_path, tmp_path / "work", out, als=False)
    assert second["previous"]["summary"]["full_build_cpu_seconds"] == first["summary"]["full_build_cpu_seconds"]
    assert second["previous"]["models"]["dbt build (full build)"] == {"m1": 1.0}  # models, not tests
    assert "previous" not in second["previous"]  # one step back, not a chain
    markdown = (out / "bench_1000.md").read_text()
    assert "## Compared with the previous report" in markdown
    assert "| full_build_cpu_seconds | 3.5 | 3.5 | +0% |" in markdown
    assert "| dbt build (full build) | m1 | 1.0 | 1.0 | +0% |" in markdown


def test_comparison_shows_changes_and_blanks_for_what_the_previous_run_lacked() -> None:
    previous = {"commit": "abc", "summary": {"full_build_seconds": 200.0, "daily_over_full": 0.3},
                "als_vs_implicit": {"pipeline_over_direct_wall": 0.8},
                "stages": [{"stage": "dbt build (full build)", "models": [{"node": "m_old", "seconds": 10.0}]}]}
    report = {"summary": {"full_build_seconds": 150.0}, "als_vs_implicit": None,
              "previous": bench.previous_digest(previous),
              "stages": [{"stage": "dbt build (full build)",
                          "models": [{"node": "m_old", "seconds": 5.0}, {"node": "m_new", "seconds": 2.0}]}]}
    lines = bench.comparison_lines(report)
    assert lines[1] == "## Compared with the previous report (commit abc)"
    assert "| full_build_seconds | 200.0 | 150.0 | -25% |" in lines
    assert "| daily_over_full | 0.3 |  |  |" in lines  # measured before, not now
    assert "| als_pipeline_over_raw_implicit | 0.8 |  |  |" in lines
    assert "| dbt build (full build) | m_old | 10.0 | 5.0 | -50% |" in lines
    assert "| dbt build (full build) | m_new |  | 2.0 |  |" in lines
    assert bench.comparison_lines({**report, "previous": None}) == []


def test_an_unreadable_previous_report_is_no_comparison(tmp_path: Path) -> None:
    (tmp_path / "bad.json").write_text("{not json")
    (tmp_path / "other.json").write_text('["not a report"]')
    assert bench._read_report(tmp_path / "bad.json") is None
    assert bench._read_report(tmp_path / "other.json") is None
    assert bench._read_report(tmp_path / "missing.json") is None
    assert bench.previous_digest(None) is None


def test_the_measured_commit_is_recorded_and_none_outside_git(stubbed, tmp_path: Path) -> None:
    report = run_benchmark(1000, tmp_path, tmp_path / "work", tmp_path / "out", als=False, daily=False)
    assert report["commit"] is None  # tmp_path is no repository: recorded as unknown, not an error
    assert "commit not recorded" in (tmp_path / "out" / "bench_1000.md").read_text()
    repo = Path(__file__).resolve().parents[2]
    if (repo / ".git").exists():
        assert bench._git_commit(repo)
