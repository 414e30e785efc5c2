"""ecom_growth.dbt_plugin.python_model_slot: with exclusive=True at most one Python model body
runs at a time (dbt's worker threads share the lock); the lock is released when a model fails."""

from __future__ import annotations

import threading
import time

import pytest

from ecom_growth.dbt_plugin import WRITTEN, python_model_slot


def _run_two(exclusive: bool, lock: threading.Lock) -> int:
    """Two threads in the slot at once; returns the most bodies seen running together."""
    running, most, guard = [0], [0], threading.Lock()
    both_started = threading.Barrier(2)

    def body() -> None:
        both_started.wait()
        with python_model_slot("m", exclusive=exclusive, lock=lock):
            with guard:
                running[0] += 1
                most[0] = max(most[0], running[0])
            time.sleep(0.2)
            with guard:
                running[0] -= 1

    threads = [threading.Thread(target=body) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return most[0]


def test_exclusive_slot_runs_one_model_at_a_time() -> None:
    assert _run_two(True, threading.Lock()) == 1


def test_shared_slot_lets_models_overlap() -> None:
    assert _run_two(False, threading.Lock()) == 2


def test_slot_is_released_when_the_model_fails() -> None:
    lock = threading.Lock()
    with pytest.raises(RuntimeError), python_model_slot("m", exclusive=True, lock=lock):
        raise RuntimeError("model failed")
    assert not lock.locked()


def test_written_marker_is_a_single_object() -> None:
    from ecom_growth import dbt_plugin

    assert dbt_plugin.WRITTEN is WRITTEN and repr(WRITTEN) == "WRITTEN"


def _limit(con) -> str:
    return con.execute("SELECT current_setting('memory_limit')").fetchall()[0][0]


def test_exclusive_slot_caps_duckdb_memory_and_restores_the_profile_limit() -> None:
    import duckdb

    con = duckdb.connect()
    con.execute("SET memory_limit = '3GB'")
    profile = _limit(con)
    session = con.cursor()  # dbt-duckdb hands the model a cursor; the setting is the database's
    with python_model_slot("m", exclusive=True, lock=threading.Lock(), session=session, memory_limit="500MB",
                           restore_memory_limit="3GB"):
        assert _limit(con) == _limit(duckdb.connect().execute("SET memory_limit = '500MB'")) != profile
    assert _limit(con) == profile
    with pytest.raises(RuntimeError), python_model_slot("m", exclusive=True, lock=threading.Lock(), session=session,
                                                        memory_limit="500MB", restore_memory_limit="3GB"):
        raise RuntimeError("model failed")
    assert _limit(con) == profile  # restored when the model fails too
    default = _limit(duckdb.connect())
    with python_model_slot("m", exclusive=True, lock=threading.Lock(), session=session, memory_limit="500MB"):
        assert _limit(con) != default
    assert _limit(con) == default  # a profile without memory_limit: DuckDB's default again


def test_shared_slot_and_no_cap_leave_the_limit_alone() -> None:
    import duckdb

    con = duckdb.connect()
    con.execute("SET memory_limit = '3GB'")
    before = _limit(con)
    with python_model_slot("m", exclusive=False, lock=threading.Lock(), session=con, memory_limit="500MB"):
        assert _limit(con) == before
    with python_model_slot("m", exclusive=True, lock=threading.Lock(), session=con, memory_limit=None):
        assert _limit(con) == before


def test_a_refused_cap_is_a_warning_not_a_failed_model(caplog) -> None:
    import duckdb

    con = duckdb.connect()
    con.execute("SET memory_limit = '3GB'")
    before = _limit(con)
    ran = []
    with python_model_slot("m", exclusive=True, lock=threading.Lock(), session=con, memory_limit="not a size",
                           restore_memory_limit="3GB"):
        ran.append(True)
    assert ran == [True] and _limit(con) == before
    assert "could not set DuckDB memory_limit to not a size" in caplog.text


def test_the_cap_never_raises_a_lower_profile_limit() -> None:
    import duckdb

    con = duckdb.connect()
    con.execute("SET memory_limit = '1GB'")
    before = _limit(con)
    with python_model_slot("m", exclusive=True, lock=threading.Lock(), session=con, memory_limit="1500MB",
                           restore_memory_limit="1GB"):
        assert _limit(con) == before
    assert _limit(con) == before


def test_size_in_bytes_reads_duckdb_sizes() -> None:
    from ecom_growth.dbt_plugin import size_in_bytes

    assert size_in_bytes("3GB") == 3e9 and size_in_bytes("1500MB") == 1.5e9
    assert size_in_bytes(" 2.5 GiB ") == 2.5 * 2**30 and size_in_bytes("512kb") == 512e3
    assert size_in_bytes("100") is None  # no unit: not read (the cap then applies as configured)
    for bad in (None, "", "lots", "3 parsecs", "GB"):
        assert size_in_bytes(bad) is None
