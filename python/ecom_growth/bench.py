"""Benchmark: time and peak memory of a full build, a daily refresh and each stage at a scale.

Headline (what a user runs, what the issue's targets are about):
  * full build: ``dbt build`` with the profile's default threads and memory limit on data that
    ends one day before the simulator's default end (every data and unit test included);
  * daily refresh: the same warehouse, the raw data regenerated with one more day (the simulator
    is prefix-stable, so that appends a day), ``dbt build --vars {ml_retrain_after_days: 7}``;
  * the ALS stage against raw implicit on the build's own interaction matrix (bench/bench_als.py).
Optionally (``stages=True``) every stage of DBT_STAGES as its own ``dbt`` process with
``--threads 1`` on a fresh warehouse, so a stage's time is its own work.

Peak memory: the sum of the resident sizes of the whole process tree, sampled every 0.2 s
(dbt runs Python models in-process, but DuckDB or a library may start helpers), and the
child's own ru_maxrss (os.wait4). The samples are kept as a timeline (the largest per second),
so a dbt stage can say which nodes were running at its peak and each model's highest tree RSS
while it ran: with threads 2 the peak is a sum, and the cut has to go where it happens. dbt
stages also contribute per-model times from run_results.json. CPU: the child's user + system
seconds (os.wait4); CPU / wall is the mean number of busy cores, and at the machine's core count
a stage is CPU-bound (its wall cannot drop below CPU / cores in any node order). Results go to
<out>/bench_<customers>.json and .md, with the commit measured and the report they replace
rendered beside them (headline and slowest models, with the change).
"""

from __future__ import annotations

import json
import logging
import os
import platform
import subprocess
import sys
import threading
import time
from dataclasses import asdict, dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path

log = logging.getLogger(__name__)

# The simulator's default last day; the full build runs on data ending the day before.
SIMULATOR_END = date(2026, 6, 30)
DAILY_REFRESH_VARS = "{ml_retrain_after_days: 7}"


@dataclass
class StageResult:
    stage: str
    command: list[str]
    wall_seconds: float
    peak_rss_mb: float
    exit_code: int
    peak_tree_rss_mb: float = 0.0
    load_average_1m: float = 0.0
    # user + system CPU of the child (and the children it waited for): with 2 cores a stage's
    # wall can be no less than cpu_seconds / 2, whatever the order of its nodes
    cpu_seconds: float = 0.0
    models: list[dict] = field(default_factory=list)
    # dbt nodes (models, tests, seeds) that errored, failed or were skipped; a failing data test
    # is recorded here and the benchmark goes on
    failures: list[dict] = field(default_factory=list)
    # [seconds since the stage started, largest tree RSS MB sampled in that second]
    memory_timeline: list[list[float]] = field(default_factory=list)
    started_at: float = 0.0  # epoch seconds (aligns the timeline with run_results.json)
    # the dbt nodes that were running when the tree's RSS peaked, and that moment (seconds)
    peak_at_seconds: float | None = None
    running_at_peak: list[str] = field(default_factory=list)


def _children() -> dict[int, list[int]]:
    """parent pid -> child pids, from /proc."""
    tree: dict[int, list[int]] = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/stat") as f:
                stat = f.read()
        except OSError:
            continue
        ppid = int(stat[stat.rindex(")") + 2:].split()[1])
        tree.setdefault(ppid, []).append(int(entry.name))
    return tree


def tree_rss_mb(pid: int) -> float:
    """Resident memory of ``pid`` and all its descendants, MB."""
    tree, total, todo = _children(), 0, [pid]
    page = os.sysconf("SC_PAGE_SIZE")
    while todo:
        current = todo.pop()
        try:
            with open(f"/proc/{current}/statm") as f:
                total += int(f.read().split()[1]) * page
        except OSError:
            pass
        todo.extend(tree.get(current, []))
    return total / 2**20


def run_stage(stage: str, command: list[str], env: dict[str, str], cwd: Path) -> StageResult:
    """Run one stage as a child process: wall time, its own ru_maxrss and its tree's peak RSS."""
    log.info("bench stage %s: %s", stage, " ".join(command))
    started_at, start = time.time(), time.perf_counter()
    proc = subprocess.Popen(command, env=env, cwd=cwd)
    peak, done = [0.0], threading.Event()
    per_second: dict[int, float] = {}

    def sample() -> None:
        while not done.wait(0.2):
            rss = tree_rss_mb(proc.pid)
            peak[0] = max(peak[0], rss)
            second = int(time.perf_counter() - start)
            per_second[second] = max(per_second.get(second, 0.0), rss)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    done.set()
    sampler.join()
    proc.returncode = os.waitstatus_to_exitcode(status)
    # ru_maxrss is KiB on Linux.
    return StageResult(stage, command, round(wall, 2), round(usage.ru_maxrss / 1024, 1), proc.returncode,
                       peak_tree_rss_mb=round(max(peak[0], usage.ru_maxrss / 1024), 1),
                       load_average_1m=round(os.getloadavg()[0], 2),
                       cpu_seconds=round(usage.ru_utime + usage.ru_stime, 1),
                       memory_timeline=[[t, round(mb, 1)] for t, mb in sorted(per_second.items())],
                       started_at=started_at)


def _node_intervals(target_path: Path, started_at: float) -> list[dict]:
    """Each dbt node's execute interval in seconds since the stage started (run_results.json)."""
    results_file = target_path / "run_results.json"
    if not results_file.exists():
        return []
    intervals = []
    for r in json.loads(results_file.read_text())["results"]:
        execute = [t for t in r.get("timing", []) if t.get("name") == "execute" and t.get("started_at")]
        if not execute:
            continue
        begin, end = (datetime.fromisoformat(execute[0][k].replace("Z", "+00:00")).timestamp() - started_at
                      for k in ("started_at", "completed_at"))
        intervals.append({"node": r["unique_id"].split(".", 2)[-1], "kind": r["unique_id"].split(".", 1)[0],
                          "start": begin, "end": end})
    return intervals


def attribute_memory(intervals: list[dict], timeline: list[list[float]]) -> tuple[float | None, list[str], dict]:
    """(second of the peak, nodes running then, model -> highest tree RSS MB while it ran).

    ``timeline`` holds [second, MB] (the largest sample of that second); a node runs at second t
    when its interval overlaps [t, t + 1)."""
    if not timeline:
        return None, [], {}

    def running(t: float) -> list[dict]:
        return [i for i in intervals if i["start"] < t + 1 and i["end"] >= t]

    peak_second, _ = max(timeline, key=lambda point: point[1])
    per_model: dict[str, float] = {}
    for second, mb in timeline:
        for i in running(second):
            if i["kind"] == "model":
                per_model[i["node"]] = max(per_model.get(i["node"], 0.0), mb)
    return peak_second, sorted(i["node"] for i in running(peak_second)), per_model


def dbt_model_timings(target_path: Path) -> list[dict]:
    """Per-node execution times of the last dbt invocation (run_results.json)."""
    results_file = target_path / "run_results.json"
    if not results_file.exists():
        return []
    results = json.loads(results_file.read_text())["results"]
    return sorted(
        (
            {"node": r["unique_id"].split(".", 2)[-1], "seconds": round(r["execution_time"], 2), "status": r["status"]}
            for r in results
            if r["unique_id"].startswith("model.")
        ),
        key=lambda r: -r["seconds"],
    )


def dbt_failures(target_path: Path) -> list[dict]:
    """Nodes of the last dbt invocation that did not succeed (status error, fail, runtime error or
    skipped), with dbt's message; warnings are not failures."""
    results_file = target_path / "run_results.json"
    if not results_file.exists():
        return []
    return [
        {"node": r["unique_id"].split(".", 2)[-1], "status": r["status"], "message": (r.get("message") or "")[:300]}
        for r in json.loads(results_file.read_text())["results"]
        if r["status"] in ("error", "fail", "runtime error", "skipped")
    ]


# dbt stages in dependency order (stages=True): SQL layers first, then each Python (ML) model
# family on its own. One line per family: add yours in dependency order.
DBT_STAGES = (
    ("dbt seed", ["seed"]),
    ("dbt staging (SQL)", ["run", "-s", "staging"]),
    ("dbt intermediate + marts (SQL)", ["run", "-s", "intermediate", "marts"]),
    ("dbt ml: recommender evaluation (validation/test fits)", ["run", "-s", "ml_recommender_evaluation"]),
    ("dbt ml: ALS fit (ml_als_item_factors)", ["run", "-s", "ml_als_item_factors"]),
    ("dbt ml: user solve + top-N + similar products", ["run", "-s", "ml_als_user_factors", "ml_recommendations",
                                                       "ml_similar_products"]),
    ("dbt ml: text (sentiment, ticket intents, evaluation) + churn text features",
     ["run", "-s", "path:models/ml/text", "ml_churn_text_features"]),
    ("dbt ml: churn fit (ml_churn_model)", ["run", "-s", "ml_churn_model"]),
    ("dbt ml: churn scores + reasons", ["run", "-s", "ml_churn_scores"]),
    ("dbt ml: churn evaluation + calibration", ["run", "-s", "ml_churn_model_evaluation", "ml_churn_calibration"]),
    ("dbt ml: CLV fit + predictions + evaluation", ["run", "-s", "path:models/ml/clv"]),
    ("dbt ml: segments", ["run", "-s", "path:models/ml/segments"]),
    ("dbt ml: uplift", ["run", "-s", "path:models/ml/uplift"]),
    ("dbt ml: pricing elasticity + forecast backtest + forecast + recommendations", ["run", "-s", "path:models/ml/pricing"]),
    ("dbt ml: everything else in ml", ["run", "-s", "path:models/ml", "--exclude", "path:models/ml/recommend",
                                       "path:models/ml/churn", "path:models/ml/clv", "path:models/ml/segments",
                                       "path:models/ml/text", "path:models/ml/uplift",
                                       "path:models/ml/pricing"]),
    ("dbt serving", ["run", "-s", "path:models/serving"]),
    ("dbt data + unit tests", ["test"]),
)

# Models whose run time is the "churn training + scoring + reasons".
CHURN_MODELS = ("ml_churn_model", "ml_churn_scores")


def _generate(customers: int, seed: int, end: date, out: Path, env: dict[str, str], cwd: Path) -> StageResult:
    return run_stage(
        f"generate (end {end})",
        [sys.executable, "-m", "ecom_growth", "-q", "generate", "--customers", str(customers), "--seed", str(seed),
         "--end", end.isoformat(), "--out", str(out)],
        env, cwd,
    )


def _dbt_env(work_dir: Path, raw: Path, db: Path, name: str) -> dict[str, str]:
    """What a user's shell has: the profile's defaults (threads, memory limit), BLAS single-threaded."""
    env = {k: v for k, v in os.environ.items() if k not in ("ECOM_GROWTH_THREADS", "ECOM_GROWTH_MEMORY_LIMIT")}
    env.update(ECOM_GROWTH_RAW_PATH=str(raw), ECOM_GROWTH_DB=str(db), DBT_TARGET_PATH=str(work_dir / f"target_{name}"),
               DBT_LOG_PATH=str(work_dir / "logs"), OPENBLAS_NUM_THREADS="1", MKL_NUM_THREADS="1")
    return env


def _export_interactions(db: Path, out: Path) -> None:
    import duckdb

    with duckdb.connect(str(db), read_only=True) as con:
        con.execute(f"copy (select * from intermediate.int_user_item_interactions) to '{out}' (format parquet)")


def _als_comparison(project_dir: Path, db: Path, work_dir: Path, env: dict[str, str]) -> dict:
    """bench/bench_als.py on the build's own interaction matrix, factors/regularization as configured."""
    interactions = work_dir / "interactions.parquet"
    _export_interactions(db, interactions)
    script = project_dir / "bench" / "bench_als.py"
    out = subprocess.run([sys.executable, str(script), "--interactions", str(interactions), "--factors", "16",
                          "--regularization", "0.01", "--workdir", str(work_dir / "als")],
                         env=env, cwd=project_dir, capture_output=True, text=True)
    if out.returncode != 0:
        return {"error": out.stderr[-2000:]}
    return json.loads(out.stdout)


def run_benchmark(
    customers: int, project_dir: Path, work_dir: Path, out_dir: Path, seed: int = 42, reuse_data: bool = False,
    stages: bool = False, als: bool = True, daily: bool = True,
) -> dict:
    """Full build + daily refresh (+ the ALS comparison, + per-stage runs with ``stages``).

    ``daily=False``: the full build only (no second data set, no daily refresh), e.g. for
    scaling runs. A full build that fails a test (or a model) is recorded in the report (the
    stage's ``failures``, ``ok`` false) and the daily refresh still runs on its warehouse.
    """
    commit = _git_commit(project_dir)  # before the builds: the code that is measured
    work_dir.mkdir(parents=True, exist_ok=True)
    out_dir.mkdir(parents=True, exist_ok=True)
    raw_before, raw_after = work_dir / "raw_before", work_dir / "raw"
    db = work_dir / "warehouse.duckdb"
    base_env = {**os.environ, "OPENBLAS_NUM_THREADS": "1"}
    steps: list[StageResult] = []
    builds = [("full build", raw_before, SIMULATOR_END - timedelta(days=1), [])]
    if daily:
        builds.append(("daily refresh", raw_after, SIMULATOR_END, ["--vars", DAILY_REFRESH_VARS]))
    for _, raw, end, _ in builds:
        if not (reuse_data and (raw / "_truth.json").exists()):
            steps.append(_generate(customers, seed, end, raw, base_env, project_dir))
    generated = all(s.exit_code == 0 for s in steps)
    dbt = str(Path(sys.executable).with_name("dbt"))
    db.unlink(missing_ok=True)
    headline: dict[str, StageResult] = {}
    for name, raw, _, extra in builds if generated else ():
        if not db.exists() and headline:
            break  # the full build left no warehouse to refresh
        env = _dbt_env(work_dir, raw, db, name.replace(" ", "_"))
        result = run_stage(f"dbt build ({name})", [dbt, "build", *extra], env, project_dir)
        target = work_dir / f"target_{name.replace(' ', '_')}"
        result.models = dbt_model_timings(target)
        result.failures = dbt_failures(target)
        result.peak_at_seconds, result.running_at_peak, model_peaks = attribute_memory(
            _node_intervals(target, result.started_at), result.memory_timeline)
        for m in result.models:
            m["peak_tree_rss_mb"] = model_peaks.get(m["node"])
        if result.exit_code != 0:
            log.warning("%s exited %s; failed nodes: %s", name, result.exit_code,
                        ", ".join(f["node"] for f in result.failures) or "none recorded")
        headline[name] = result
        steps.append(result)

    als_result = _als_comparison(project_dir, db, work_dir, base_env) if als and db.exists() else None
    if stages and generated:
        stage_db = work_dir / "stages.duckdb"
        stage_db.unlink(missing_ok=True)
        env = _dbt_env(work_dir, builds[-1][1], stage_db, "stages")
        for name, args in DBT_STAGES:
            result = run_stage(name, [dbt, *args, "--threads", "1"], env, project_dir)
            result.models = dbt_model_timings(work_dir / "target_stages")
            result.failures = dbt_failures(work_dir / "target_stages")
            steps.append(result)
            if result.exit_code != 0:
                break  # later stages need this one's tables

    report = {
        "customers": customers,
        "seed": seed,
        "commit": commit,
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform(), "python": platform.python_version()},
        "summary": summarise(headline),
        "als_vs_implicit": als_result,
        "ok": all(s.exit_code == 0 for s in steps),
        "stages": [asdict(s) for s in steps],
    }
    # the report this one replaces: its headline and per-model times are rendered beside the new ones
    report["previous"] = previous_digest(_read_report(out_dir / f"bench_{customers}.json"))
    (out_dir / f"bench_{customers}.json").write_text(json.dumps(report, indent=2))
    (out_dir / f"bench_{customers}.md").write_text(render_markdown(report))
    return report


def _git_commit(project_dir: Path) -> str | None:
    """The measured code's commit (with ``-dirty`` for uncommitted changes), None outside git."""
    try:
        commit = subprocess.run(["git", "describe", "--always", "--dirty", "--abbrev=12"], cwd=project_dir,
                                capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return None
    return commit or None


def _read_report(path: Path) -> dict | None:
    """A report written earlier, or None (missing, or not a report: a warning, never a failure)."""
    if not path.exists():
        return None
    try:
        report = json.loads(path.read_text())
    except (OSError, ValueError) as error:
        log.warning("previous report %s not readable (%s): no comparison", path, error)
        return None
    return report if isinstance(report, dict) and "summary" in report else None


def previous_digest(previous: dict | None) -> dict | None:
    """What the comparison needs of a previous report: its commit, summary (+ the ALS ratio) and
    each dbt stage's per-model seconds. Nested previous reports are dropped (one step back)."""
    if previous is None:
        return None
    summary = dict(previous.get("summary") or {})
    ratio = (previous.get("als_vs_implicit") or {}).get("pipeline_over_direct_wall")
    if ratio is not None:
        summary["als_pipeline_over_raw_implicit"] = ratio
    return {
        "commit": previous.get("commit"),
        "summary": summary,
        "models": {s["stage"]: {m["node"]: m["seconds"] for m in s.get("models", [])}
                   for s in previous.get("stages", []) if s.get("models")},
    }


def comparison_lines(report: dict) -> list[str]:
    """Markdown: the headline and the slowest models of ``report`` beside its ``previous``."""
    previous = report.get("previous")
    if not previous:
        return []
    now = dict(report["summary"])
    ratio = (report.get("als_vs_implicit") or {}).get("pipeline_over_direct_wall")
    if ratio is not None:
        now["als_pipeline_over_raw_implicit"] = ratio

    def change(old, new) -> str:
        if not isinstance(old, int | float) or not isinstance(new, int | float) or not old:
            return ""
        return f"{(new - old) / old:+.0%}"

    lines = ["", f"## Compared with the previous report (commit {previous.get('commit') or 'not recorded'})", "",
             "| measure | previous | this | change |", "|---|---:|---:|---:|"]
    for key in [*now, *(k for k in previous["summary"] if k not in now)]:
        old, new = previous["summary"].get(key, ""), now.get(key, "")
        lines.append(f"| {key} | {old} | {new} | {change(old, new)} |")
    lines += ["", "| stage | model | previous s | this s | change |", "|---|---|---:|---:|---:|"]
    for s in report["stages"]:
        before = previous["models"].get(s["stage"], {})
        for m in s["models"][:12]:
            old = before.get(m["node"], "")
            lines.append(f"| {s['stage']} | {m['node']} | {old} | {m['seconds']} | {change(old, m['seconds'])} |")
    return lines


def summarise(headline: dict[str, StageResult]) -> dict:
    """The issue's headline numbers from the full build and the daily refresh."""
    full, daily = headline.get("full build"), headline.get("daily refresh")
    summary: dict = {}
    if full is not None:
        seconds = {m["node"]: m["seconds"] for m in full.models}
        summary.update(full_build_seconds=full.wall_seconds, full_build_peak_tree_rss_mb=full.peak_tree_rss_mb,
                       full_build_cpu_seconds=full.cpu_seconds,
                       churn_fit_score_reasons_seconds=round(sum(seconds.get(m, 0.0) for m in CHURN_MODELS), 2))
    if daily is not None:
        summary["daily_refresh_seconds"] = daily.wall_seconds
        summary["daily_refresh_cpu_seconds"] = daily.cpu_seconds
        summary["daily_refresh_peak_tree_rss_mb"] = daily.peak_tree_rss_mb
        if full is not None and full.wall_seconds:
            summary["daily_over_full"] = round(daily.wall_seconds / full.wall_seconds, 3)
    return summary


def render_markdown(report: dict) -> str:
    lines = [
        f"# Benchmark: {report['customers']:,} customers",
        "",
        f"{report['machine']['cpus']} CPUs, {report['machine']['platform']}; commit {report.get('commit') or 'not recorded'}; "
        f"ok={report['ok']}",
        "",
        "## Headline",
        "",
        "| measure | value |",
        "|---|---:|",
    ]
    lines += [f"| {k} | {v} |" for k, v in report["summary"].items()]
    als = report.get("als_vs_implicit") or {}
    if "pipeline_over_direct_wall" in als:
        lines += [f"| ALS stage wall s (project pipeline) | {als['pipeline']['wall_seconds']} |",
                  f"| raw implicit wall s (fit + recommend + similar) | {als['direct_implicit']['wall_seconds']} |",
                  f"| ALS pipeline / raw implicit | {als['pipeline_over_direct_wall']} |"]
    # cores busy = CPU s / wall s: at the machine's core count the stage was CPU-bound (no node order helps)
    lines += ["", "| stage | wall s | CPU s | cores busy (mean) | peak tree RSS MB | own peak RSS MB | load 1m at end | exit |",
              "|---|---:|---:|---:|---:|---:|---:|---:|"]
    for s in report["stages"]:
        cpu = s.get("cpu_seconds")
        busy = f"{cpu / s['wall_seconds']:.2f}" if cpu and s["wall_seconds"] else ""
        lines.append(f"| {s['stage']} | {s['wall_seconds']} | {cpu if cpu is not None else ''} | {busy} | "
                     f"{s['peak_tree_rss_mb']} | {s['peak_rss_mb']} | {s['load_average_1m']} | {s['exit_code']} |")
    lines += comparison_lines(report)
    failed = [(s["stage"], f) for s in report["stages"] for f in s.get("failures", [])]
    if failed:
        lines += ["", "## Failed dbt nodes", "", "| stage | node | status | message |", "|---|---|---|---|"]
        lines += [f"| {stage} | {f['node']} | {f['status']} | {f['message'].replace('|', '/')} |"
                  for stage, f in failed]
    lines += ["", "## Slowest models", "", "| stage | model | seconds | tree RSS MB while it ran (max) |",
              "|---|---|---:|---:|"]
    for s in report["stages"]:
        for m in s["models"][:12]:
            lines.append(f"| {s['stage']} | {m['node']} | {m['seconds']} | {m.get('peak_tree_rss_mb') or ''} |")
    peaks = [s for s in report["stages"] if s.get("running_at_peak")]
    if peaks:
        lines += ["", "## At the memory peak", "", "| stage | peak tree RSS MB | at second | nodes running |",
                  "|---|---:|---:|---|"]
        lines += [f"| {s['stage']} | {s['peak_tree_rss_mb']} | {s['peak_at_seconds']} | "
                  f"{', '.join(s['running_at_peak'])} |" for s in peaks]
        lines += ["", "| stage | model | highest tree RSS MB while it ran | seconds |", "|---|---|---:|---:|"]
        for s in peaks:
            ranked = sorted((m for m in s["models"] if m.get("peak_tree_rss_mb")), key=lambda m: -m["peak_tree_rss_mb"])
            lines += [f"| {s['stage']} | {m['node']} | {m['peak_tree_rss_mb']} | {m['seconds']} |" for m in ranked[:8]]
    return "\n".join(lines) + "\n"
