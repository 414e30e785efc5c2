"""Issue 10 on real (small) dbt builds: machine-independent time zones, bit-identical rebuilds,
published builds under kill -9, the PII salt never on disk, empty required tables.

Two full builds of the same 1,000-customer shop run here (about 25 s each on 2 cores):
A reads the simulator's files as written (naive UTC timestamps) on a machine in UTC; B reads the
SAME instants written three other ways (orders.ordered_at as a Parquet TIMESTAMPTZ, customers as
CSV text with '+05:30' offsets, every other timestamp as naive Asia/Kolkata local time with var
source_timezone) on a machine in America/New_York. Every table of A and B must be identical.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import polars as pl
import pytest
from hardening_support import REPO, dbt_command, dbt_env, differing, generate, run_dbt, table_digests

CUSTOMERS = 1000
NO_TESTS = ["--exclude-resource-type", "test", "unit_test"]
LOCAL_TZ = "Asia/Kolkata"  # no daylight saving: every local time maps to exactly one instant


def _as_instants(column: pl.Series) -> pl.Series:
    """Naive-UTC datetimes of a raw timestamp column (text or timestamp); null where unparseable."""
    if column.dtype == pl.String:
        return column.str.to_datetime("%Y-%m-%d %H:%M:%S%.f", strict=False, time_unit="us")
    return column.cast(pl.Datetime("us"))


def _rewrite(column: pl.Series, as_text: str) -> pl.Series:
    """The same instants as offset text ('offset') or naive LOCAL_TZ text ('local'); unparseable text kept."""
    instants = _as_instants(column).dt.replace_time_zone("UTC").dt.convert_time_zone(LOCAL_TZ)
    fmt = "%Y-%m-%dT%H:%M:%S%.6f%:z" if as_text == "offset" else "%Y-%m-%d %H:%M:%S%.6f"
    text = instants.dt.to_string(fmt)
    return text.fill_null(column.cast(pl.String)) if column.dtype == pl.String else text


def write_timezone_variant(raw: Path, out: Path) -> Path:
    out.mkdir(parents=True)
    for path in raw.glob("*.parquet"):
        frame = pl.read_parquet(path)
        name = path.stem
        if name == "orders":
            frame = frame.with_columns(
                pl.col("ordered_at").cast(pl.Datetime("us")).dt.replace_time_zone("UTC").dt.convert_time_zone("Asia/Tokyo"))
            frame.write_parquet(out / path.name)
        elif name == "customers":
            frame.with_columns(_rewrite(frame["signup_at"], "offset").alias("signup_at")).write_csv(out / "customers.csv")
        else:
            column = {"events": "occurred_at", "reviews": "created_at", "experiment_assignments": "assigned_at",
                      "campaign_sends": "sent_at", "support_tickets": "created_at", "price_history": "valid_from"}.get(name)
            if column:
                frame = frame.with_columns(_rewrite(frame[column], "local").alias(column))
            if name == "support_tickets":
                frame = frame.with_columns(_rewrite(frame["resolved_at"], "local").alias("resolved_at"))
            frame.write_parquet(out / path.name)
    return out


@pytest.fixture(scope="module")
def shop(tmp_path_factory) -> Path:
    return generate(tmp_path_factory.mktemp("raw"), CUSTOMERS, seed=11, dirty_rate=0.02)


@pytest.fixture(scope="module")
def build_a(shop, tmp_path_factory):
    work = tmp_path_factory.mktemp("build_a")
    env = dbt_env(work, shop, work / "wh.duckdb", tz="UTC")
    result = run_dbt(["build", *NO_TESTS], env)
    assert result.returncode == 0, result.stdout[-4000:]
    return work, env, result


@pytest.fixture(scope="module")
def build_b(shop, tmp_path_factory):
    work = tmp_path_factory.mktemp("build_b")
    raw = write_timezone_variant(shop, work / "raw")
    env = dbt_env(work, raw, work / "wh.duckdb", tz="America/New_York")
    result = run_dbt(["build", *NO_TESTS, "--vars", json.dumps({"source_timezone": LOCAL_TZ})], env)
    assert result.returncode == 0, result.stdout[-4000:]
    return work, env, result


def test_timezone_variant_really_differs_on_disk(shop, build_b):
    raw_b = build_b[0] / "raw"
    assert pl.read_parquet(raw_b / "orders.parquet")["ordered_at"].dtype.time_zone == "Asia/Tokyo"
    assert pl.read_csv(raw_b / "customers.csv")["signup_at"].str.ends_with("+05:30").sum() > CUSTOMERS * 0.9
    naive_events = pl.read_parquet(raw_b / "events.parquet")["occurred_at"]
    assert (naive_events != pl.read_parquet(shop / "events.parquet")["occurred_at"]).sum() > 0


def test_every_mart_is_identical_across_machine_time_zones_and_offset_encodings(build_a, build_b):
    # Values (doubles to 12 significant digits): an hour's shift anywhere changes them; the last
    # bits of float sums are the business of the bit-identical test below.
    a = table_digests(build_a[0] / "wh.duckdb", ("marts",), float_digits=12)
    b = table_digests(build_b[0] / "wh.duckdb", ("marts",), float_digits=12)
    assert len(a) >= 10
    assert differing(a, b) == []


@pytest.fixture(scope="module")
def digests(build_a, build_b):
    # Intermediate, marts, ML and serving: hashes of every row in canonical order.
    return table_digests(build_a[0] / "wh.duckdb"), table_digests(build_b[0] / "wh.duckdb")


def test_two_builds_are_bit_identical_in_every_table(digests):
    a, b = digests
    assert len(a) >= 30
    assert differing(a, b) == []


def test_build_says_loudly_that_the_demo_salt_is_in_use(build_a):
    assert "PUBLIC demo salt" in build_a[2].stdout
    with duckdb.connect(str(build_a[0] / "wh.duckdb"), read_only=True) as con:
        assert con.execute("select status, pii_salt_is_demo from ops.build_runs").fetchall() == [("complete", True)]


def _cli(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "ecom_growth", *args], env=env, cwd=REPO, capture_output=True, text=True)


def _verify_current(exports: Path) -> dict:
    run_dir = (exports / "current").resolve(strict=True)
    manifest = json.loads((run_dir / "_manifest.json").read_text())
    for f in manifest["files"]:
        assert hashlib.sha256((run_dir / f["path"]).read_bytes()).hexdigest() == f["sha256"], f["path"]
    assert {p.relative_to(run_dir).as_posix() for p in run_dir.rglob("*.parquet")} == {f["path"] for f in manifest["files"]}
    return manifest


def test_kill_9_mid_rebuild_is_refused_and_readers_keep_the_last_complete_build(build_a, tmp_path):
    work_a, env_a, _ = build_a
    db = tmp_path / "wh.duckdb"
    shutil.copy(work_a / "wh.duckdb", db)
    env = {**env_a, "ECOM_GROWTH_DB": str(db), "DBT_TARGET_PATH": str(tmp_path / "target"), "DBT_LOG_PATH": str(tmp_path / "logs")}
    exports = tmp_path / "exports"
    published = _cli(["export", "--db", str(db), "--out", str(exports)], env)
    assert published.returncode == 0, published.stderr
    before = _verify_current(exports)
    with duckdb.connect(str(db), read_only=True) as con:
        first_build = con.execute("select build_id from ops.build_runs").fetchone()[0]
    assert before["build_id"] == first_build

    # Rebuild the complete warehouse and kill -9 it once it has replaced some tables.
    process = subprocess.Popen([*dbt_command(), "build", *NO_TESTS, "--project-dir", str(REPO)], env=env, cwd=REPO,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True)
    done = 0
    deadline = time.monotonic() + 300
    for line in process.stdout:
        done += " OK created " in line
        if done >= 12 or time.monotonic() > deadline:
            break
    os.killpg(process.pid, signal.SIGKILL)
    process.wait()
    assert done >= 12, "the rebuild was killed after it had replaced tables"

    with duckdb.connect(str(db), read_only=True) as con:
        statuses = con.execute("select status from ops.build_runs order by started_at").fetchall()
    assert statuses == [("complete",), ("running",)]
    for command in (["summary", "--db", str(db)], ["export", "--db", str(db), "--out", str(exports)]):
        refused = _cli(command, env)
        assert refused.returncode == 2 and "killed before it finished" in refused.stderr, refused.stderr
    after = _verify_current(exports)
    assert after == before, "readers still see exactly the last complete build"


def test_pii_salt_never_reaches_target_logs_or_the_warehouse(shop, tmp_path):
    secret = "s3cr3t-" + hashlib.sha256(str(tmp_path).encode()).hexdigest()[:24]
    env = dbt_env(tmp_path, shop, tmp_path / "wh.duckdb", salt=secret)
    result = run_dbt(["run", "-s", "base_shop__customers", "stg_shop__customers", "stg_shop__customers_rejected",
                      "base_shop__orders", "--debug"], env)
    assert result.returncode == 0, result.stdout[-4000:]
    assert secret not in result.stdout and "PUBLIC demo salt" not in result.stdout
    written = [p for d in ("target", "logs") for p in (tmp_path / d).rglob("*") if p.is_file()]
    names = {p.name for p in written}
    assert {"manifest.json", "run_results.json", "partial_parse.msgpack", "dbt.log"} <= names
    assert any("compiled" in p.parts for p in written) and any("run" in p.parts for p in written)
    leaks = [str(p) for p in [*written, tmp_path / "wh.duckdb"] if secret.encode() in p.read_bytes()]
    assert leaks == []
    with duckdb.connect(str(tmp_path / "wh.duckdb"), read_only=True) as con:
        email, email_hash = con.execute(
            f"""select raw.email, stg.email_hash from staging.stg_shop__customers stg
            join read_parquet('{shop / "customers.parquet"}') raw using (customer_id) where raw.email is not null limit 1"""
        ).fetchone()
        assert con.execute("select pii_salt_is_demo from ops.build_runs").fetchone() == (False,)
    assert email_hash == hashlib.sha256((secret + email.strip().lower()).encode()).hexdigest(), "the secret salt was used"


def test_empty_required_table_fails_early_naming_it_and_empty_optional_table_builds_empty(shop, tmp_path):
    raw = tmp_path / "raw"
    shutil.copytree(shop, raw)
    (raw / "events.parquet").unlink()
    (raw / "events.csv").write_text("event_id,customer_id,session_id,event_type,product_id,occurred_at\n")
    env = dbt_env(tmp_path, raw, tmp_path / "wh.duckdb")
    optional = run_dbt(["run", "-s", "base_shop__customers", "base_shop__products", "base_shop__events", "stg_shop__events"], env)
    assert optional.returncode == 0, optional.stdout[-3000:]
    with duckdb.connect(str(tmp_path / "wh.duckdb"), read_only=True) as con:
        assert con.execute("select count(*) from staging.stg_shop__events").fetchone() == (0,)

    (raw / "orders.parquet").unlink()
    (raw / "orders.csv").write_text("order_id,customer_id,ordered_at,status,order_total,discount_total\r\n")
    required = run_dbt(["run", "-s", "base_shop__customers", "base_shop__orders"], env)
    assert required.returncode != 0
    assert "Required raw table 'orders'" in required.stdout and "has no rows" in required.stdout
