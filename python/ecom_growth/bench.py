"""Benchmark: time and peak memory of each stage at a given scale.

Each stage runs as its own child process, waited on with os.wait4 so its peak RSS is its own
(not the maximum over all children). dbt stages also contribute per-model times from dbt's
run_results.json. Results go to <out>/bench_<customers>.json and .md.
"""

from __future__ import annotations

import json
import logging
import os
import platform
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

log = logging.getLogger(__name__)


@dataclass
class StageResult:
    stage: str
    command: list[str]
    wall_seconds: float
    peak_rss_mb: float
    exit_code: int
    models: list[dict] = field(default_factory=list)


def run_stage(stage: str, command: list[str], env: dict[str, str], cwd: Path) -> StageResult:
    """Run one stage as a child process; wall time and that child's own peak RSS."""
    log.info("bench stage %s: %s", stage, " ".join(command))
    start = time.perf_counter()
    proc = subprocess.Popen(command, env=env, cwd=cwd)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    # ru_maxrss is KiB on Linux.
    return StageResult(stage, command, round(wall, 2), round(usage.ru_maxrss / 1024, 1), proc.returncode)


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


# dbt stages in dependency order: SQL layers first, then each Python (ML) model on its own.
DBT_STAGES = (
    ("dbt seed", ["seed"]),
    ("dbt staging (SQL)", ["run", "-s", "staging"]),
    ("dbt intermediate + marts (SQL)", ["run", "-s", "intermediate", "marts", "--exclude", "path:models/ml+"]),
    ("dbt ml: recommender evaluation (Python)", ["run", "-s", "ml_recommender_evaluation"]),
    ("dbt ml: recommendations (ALS fit + top-N)", ["run", "-s", "ml_recommendations"]),
    ("dbt ml: similar products", ["run", "-s", "ml_similar_products"]),
    ("dbt ml: churn fit + evaluation + calibration + scores", ["run", "-s", "path:models/ml/churn"]),
    ("dbt ml: CLV fit + predictions + evaluation", ["run", "-s", "path:models/ml/clv"]),
    ("dbt ml: segments", ["run", "-s", "path:models/ml/segments"]),
    ("dbt ml: text sentiment + aspects + evaluation", ["run", "-s", "path:models/ml/text"]),
    ("dbt ml: pricing elasticity + forecast backtest + forecast + recommendations", ["run", "-s", "path:models/ml/pricing"]),
    ("dbt marts depending on ML (CLV, actions)", ["run", "-s", "path:models/ml+", "--exclude", "path:models/ml"]),
    ("dbt data + unit tests", ["test"]),
)


def run_benchmark(
    customers: int, project_dir: Path, work_dir: Path, out_dir: Path, seed: int = 42, reuse_data: bool = False
) -> dict:
    """Generate `customers` simulated customers, build everything, and record each stage.

    Stages run with --threads 1 so each stage's time is its own work, not a race with another
    model; reuse_data skips generation when the raw files of that scale already exist."""
    work_dir.mkdir(parents=True, exist_ok=True)
    out_dir.mkdir(parents=True, exist_ok=True)
    raw = work_dir / "raw"
    target = work_dir / "target"
    env = {
        **os.environ,
        "ECOM_GROWTH_RAW_PATH": str(raw),
        "ECOM_GROWTH_DB": str(work_dir / "warehouse.duckdb"),
        "DBT_TARGET_PATH": str(target),
        "DBT_LOG_PATH": str(work_dir / "logs"),
        "OPENBLAS_NUM_THREADS": "1",
    }
    Path(env["ECOM_GROWTH_DB"]).unlink(missing_ok=True)
    stages = []
    if not (reuse_data and (raw / "_truth.json").exists()):
        stages.append(
            run_stage(
                "generate",
                [sys.executable, "-m", "ecom_growth", "generate", "--customers", str(customers), "--seed", str(seed), "--out", str(raw)],
                env,
                project_dir,
            )
        )
    dbt = str(Path(sys.executable).with_name("dbt"))
    for name, args in DBT_STAGES:
        if stages and stages[-1].exit_code != 0:
            break
        result = run_stage(name, [dbt, *args, "--threads", "1"], env, project_dir)
        result.models = dbt_model_timings(target)
        stages.append(result)

    report = {
        "customers": customers,
        "seed": seed,
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform(), "python": platform.python_version()},
        "total_wall_seconds": round(sum(s.wall_seconds for s in stages), 2),
        "max_peak_rss_mb": max(s.peak_rss_mb for s in stages),
        "ok": all(s.exit_code == 0 for s in stages),
        "stages": [asdict(s) for s in stages],
    }
    (out_dir / f"bench_{customers}.json").write_text(json.dumps(report, indent=2))
    (out_dir / f"bench_{customers}.md").write_text(render_markdown(report))
    return report


def render_markdown(report: dict) -> str:
    lines = [
        f"# Benchmark: {report['customers']:,} customers",
        "",
        f"{report['machine']['cpus']} CPUs, {report['machine']['platform']}; total {report['total_wall_seconds']} s, "
        f"max peak RSS {report['max_peak_rss_mb']} MB, ok={report['ok']}",
        "",
        "| stage | wall s | peak RSS MB | exit |",
        "|---|---:|---:|---:|",
    ]
    for s in report["stages"]:
        lines.append(f"| {s['stage']} | {s['wall_seconds']} | {s['peak_rss_mb']} | {s['exit_code']} |")
    lines += ["", "## Slowest models", "", "| stage | model | seconds |", "|---|---|---:|"]
    for s in report["stages"]:
        for m in s["models"][:8]:
            lines.append(f"| {s['stage']} | {m['node']} | {m['seconds']} |")
    return "\n".join(lines) + "\n"
