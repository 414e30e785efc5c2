"""Build log, published exports and session setup: the reader's side of issue 10 (items 2, 3, 9)."""

import hashlib
import json
import os

import duckdb
import pytest

from ecom_growth import exports
from ecom_growth.build_log import DEMO_SALT_WARNING, IncompleteBuildError, last_build, require_complete_build
from ecom_growth.cli import main
from ecom_growth.dbt_plugin import SALT_VARIABLE, configure_session
from ecom_growth.exports import CURRENT_LINK, MANIFEST_FILE, publish_exports, read_current_manifest


def _log_build(con, build_id, status, started, demo=True):
    con.execute(
        """create schema if not exists ops;
        create table if not exists ops.build_runs (build_id varchar primary key, command varchar, selection varchar,
            started_at timestamp, finished_at timestamp, status varchar, failed_nodes integer, pii_salt_is_demo boolean)"""
    )
    con.execute(
        "insert into ops.build_runs values (?, 'build', null, ?, ?, ?, ?, ?)",
        [build_id, started, None if status == "running" else started, status, 2 if status == "failed" else 0, demo],
    )


def _warehouse(path, status="complete", value=1, demo=True):
    db = path / "wh.duckdb"
    with duckdb.connect(str(db)) as con:
        con.execute("create schema if not exists marts; create schema if not exists ml; create schema if not exists intermediate")
        con.execute(f"create or replace table marts.dim_customers as select 'c' || i as customer_id, {value} as v from range(3) t(i)")
        con.execute("create or replace table ml.ml_churn_scores as select 'c1' as customer_id, 0.5 as churn_probability")
        con.execute("create or replace table intermediate.int_as_of as select timestamp '2026-01-01' as as_of, 'var' as as_of_source")
        n = con.execute("select count(*) from information_schema.tables where table_schema = 'ops'").fetchone()[0]
        started = f"2026-01-0{2 + (con.execute('select count(*) from ops.build_runs').fetchone()[0] if n else 0)} 10:00:00"
        _log_build(con, f"b{value}", status, started, demo)
    return db


def test_no_build_log_is_refused(tmp_path):
    db = tmp_path / "x.duckdb"
    duckdb.connect(str(db)).close()
    with duckdb.connect(str(db)) as con, pytest.raises(IncompleteBuildError, match="no build record"):
        require_complete_build(con)


@pytest.mark.parametrize(("status", "words"), [("running", "killed before it finished"), ("failed", "failed \\(2 node")])
def test_incomplete_last_build_is_refused_even_after_a_complete_one(tmp_path, status, words):
    _warehouse(tmp_path, "complete", value=1)
    db = _warehouse(tmp_path, status, value=2)
    with duckdb.connect(str(db)) as con:
        assert last_build(con).build_id == "b2"
        with pytest.raises(IncompleteBuildError, match=words):
            require_complete_build(con)


def test_publish_writes_a_run_folder_with_manifest_and_switches_current(tmp_path):
    db = _warehouse(tmp_path)
    out = tmp_path / "exports"
    first = publish_exports(db, out)
    run_dir, manifest = read_current_manifest(out)
    assert run_dir == first.run_dir.resolve() and (out / CURRENT_LINK).is_symlink()
    assert manifest["build_id"] == "b1" and manifest["as_of"] == "2026-01-01 00:00:00"
    files = {f["table"]: f for f in manifest["files"]}
    assert set(files) == {"dim_customers", "ml_churn_scores"} and files["dim_customers"]["rows"] == 3
    for f in manifest["files"]:
        assert hashlib.sha256((run_dir / f["path"]).read_bytes()).hexdigest() == f["sha256"]

    db = _warehouse(tmp_path, value=2)
    second = publish_exports(db, out)
    assert read_current_manifest(out)[1]["build_id"] == "b2"
    assert first.run_dir.exists(), "the previous run stays for readers still reading it"
    _warehouse(tmp_path, value=3)
    third = publish_exports(db, out)
    assert not first.run_dir.exists() and second.run_dir.exists() and third.run_dir.exists()


def test_publish_refuses_an_incomplete_build_and_writes_nothing(tmp_path):
    db = _warehouse(tmp_path)
    out = tmp_path / "exports"
    publish_exports(db, out)
    before = sorted(p.name for p in (out / "runs").iterdir())
    _warehouse(tmp_path, "running", value=2)
    with pytest.raises(IncompleteBuildError):
        publish_exports(db, out)
    assert sorted(p.name for p in (out / "runs").iterdir()) == before
    assert read_current_manifest(out)[1]["build_id"] == "b1"


def test_export_dying_midway_leaves_current_on_the_previous_build(tmp_path, monkeypatch):
    db = _warehouse(tmp_path)
    out = tmp_path / "exports"
    publish_exports(db, out)
    _warehouse(tmp_path, value=2)

    def die(*args, **kwargs):
        raise KeyboardInterrupt("killed")

    monkeypatch.setattr(exports, "export_audiences", die)
    with pytest.raises(KeyboardInterrupt):
        publish_exports(db, out)
    run_dir, manifest = read_current_manifest(out)
    assert manifest["build_id"] == "b1"
    assert {p.name for p in run_dir.iterdir()} == {"dim_customers.parquet", "ml_churn_scores.parquet", MANIFEST_FILE}


def test_cli_summary_and_export_refuse_an_incomplete_build(tmp_path, capsys):
    db = _warehouse(tmp_path, "running")
    assert main(["summary", "--db", str(db)]) == 2
    assert main(["export", "--db", str(db), "--out", str(tmp_path / "exports")]) == 2
    err = capsys.readouterr().err
    assert err.count("killed before it finished") == 2
    assert not (tmp_path / "exports" / CURRENT_LINK).exists()


@pytest.mark.parametrize("demo", [True, False])
def test_cli_summary_says_loudly_when_the_demo_salt_was_used(tmp_path, capsys, demo):
    db = _warehouse(tmp_path, demo=demo)
    assert main(["summary", "--db", str(db)]) == 0
    assert (DEMO_SALT_WARNING in capsys.readouterr().out) is demo


def test_session_binds_the_salt_as_a_variable_and_pins_utc():
    con = duckdb.connect()
    con.execute("set TimeZone = 'America/New_York'")
    configure_session(con, {"ECOM_GROWTH_PII_SALT": "s3cr3t'; drop table x; --"})
    assert con.execute(f"select getvariable('{SALT_VARIABLE}'), current_setting('TimeZone')").fetchone() == (
        "s3cr3t'; drop table x; --", "UTC")
    configure_session(con, {"ECOM_GROWTH_PII_SALT": ""})
    assert con.execute(f"select getvariable('{SALT_VARIABLE}')").fetchone() == (None,)
