"""dbt-duckdb plugin (profiles.yml ``plugins: [{module: ecom_growth.dbt_plugin}]``).

It configures every database session dbt opens, outside anything dbt templates or logs:

* ``TimeZone = 'UTC'``: no result may depend on the machine's time zone (staging converts every
  timestamp to naive UTC; this also pins how a TIMESTAMPTZ renders as text).
* the PII salt: ``ECOM_GROWTH_PII_SALT`` is read from the environment here and bound as the
  session variable ``ecom_growth_pii_salt`` (a prepared parameter, so the value never appears in
  SQL text). Templating it (``env_var`` in a model) would write the secret to target/compiled,
  target/run, manifest.json, run_results.json, partial_parse.msgpack and logs/dbt.log.

It also holds the process-wide slot that Python models take (``python_model_slot``, entered by
the project's override of dbt-duckdb's ``py_write_table`` macro, macros/utils/python_models.sql):
dbt-duckdb runs Python models inside the dbt process, so with ``threads: 2`` two models' frames
would sit in memory at once on top of DuckDB's buffer pool; with var ``python_models_one_at_a_time``
they run one after the other (SQL models still run beside them).

Loading it also installs critical-path-first scheduling of dbt's nodes (``ecom_growth.dbt_schedule``;
dbt-duckdb loads plugins when the first connection opens, before any node runs).
"""

from __future__ import annotations

import ctypes
import os
import re
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from dbt.adapters.duckdb.plugins import BasePlugin
from dbt.adapters.events.logging import AdapterLogger

from ecom_growth import dbt_schedule

log = AdapterLogger("ecom_growth")

SALT_ENV = "ECOM_GROWTH_PII_SALT"
SALT_VARIABLE = "ecom_growth_pii_salt"


def configure_session(cursor, environ: os._Environ | dict[str, str] = os.environ) -> None:
    """Pin the session time zone to UTC and bind the PII salt (when set and non-empty)."""
    cursor.execute("SET TimeZone = 'UTC'")
    salt = environ.get(SALT_ENV, "")
    if salt:
        cursor.execute(f"SET VARIABLE {SALT_VARIABLE} = ?", [salt])
    else:
        cursor.execute(f"RESET VARIABLE {SALT_VARIABLE}")


class Plugin(BasePlugin):
    def initialize(self, plugin_config: dict[str, Any]) -> None:
        dbt_schedule.install()

    def configure_cursor(self, cursor) -> None:
        configure_session(cursor)


# One per process: dbt's worker threads share this module.
_PYTHON_MODEL_LOCK = threading.Lock()


class _Written:
    """What a wrapped Python model returns once it wrote its own table (materialize skips it)."""

    def __repr__(self) -> str:
        return "WRITTEN"


WRITTEN = _Written()


def _release_freed_memory() -> None:
    """Hand memory freed by the model back to the OS (glibc keeps freed small blocks in its arenas,
    which would count as resident while the next model runs). A no-op without glibc."""
    try:
        trim = ctypes.CDLL(None).malloc_trim  # the process's own libc symbols
    except (OSError, AttributeError):
        return
    trim(0)


def _set_memory_limit(session: Any, limit: str | None) -> bool:
    """``SET memory_limit`` on the DuckDB database behind ``session`` (a global setting: every
    cursor of the database sees it; None: DuckDB's default again). DuckDB evicts cached blocks to
    get under a lower limit; when it cannot (pinned blocks of a running query) it refuses, and
    the build goes on with the limit it had: a warning, never a failed model."""
    try:
        session.execute("RESET memory_limit" if limit is None else f"SET memory_limit = '{limit}'")
    except Exception as error:  # duckdb.Error; the slot must not fail the model over a cap
        log.warning(f"could not set DuckDB memory_limit to {limit}: {error}")
        return False
    return True


_SIZE_UNITS = {"B": 1, "KB": 1e3, "MB": 1e6, "GB": 1e9, "TB": 1e12, "KIB": 2**10, "MIB": 2**20, "GIB": 2**30,
               "TIB": 2**40}


def size_in_bytes(size: str | None) -> float | None:
    """A DuckDB size setting ('3GB', '1500MB', '2.5 GiB') in bytes; None when it is not one."""
    match = re.fullmatch(r"\s*([0-9]*\.?[0-9]+)\s*([A-Za-z]*)\s*", size or "")
    if match is None or match.group(2).upper() not in _SIZE_UNITS:
        return None
    return float(match.group(1)) * _SIZE_UNITS[match.group(2).upper()]


@contextmanager
def _memory_capped(session: Any, limit: str | None, restore: str | None) -> Iterator[None]:
    """Hold DuckDB's memory_limit at ``limit`` inside the block, then set it back to ``restore``:
    the profile's value (None: the profile sets none, so DuckDB's default). Not the value DuckDB
    reports (``current_setting`` rounds it, e.g. 3GB reads back as 2.7 GiB)."""
    cap, profile = size_in_bytes(limit), size_in_bytes(restore)
    if session is None or not limit or (cap is not None and profile is not None and cap >= profile):
        yield  # no cap, or the profile's limit is already at or below it: never raise a limit
        return
    capped = _set_memory_limit(session, limit)
    try:
        yield
    finally:
        if capped:
            _set_memory_limit(session, restore)


@contextmanager
def python_model_slot(
    name: str,
    *,
    exclusive: bool,
    lock: threading.Lock = _PYTHON_MODEL_LOCK,
    session: Any = None,
    memory_limit: str | None = None,
    restore_memory_limit: str | None = None,
) -> Iterator[None]:
    """Run a Python model's body (read, compute, write its table) inside this block.

    ``exclusive``: hold the process-wide lock, so at most one Python model's frames are alive at a
    time, and, with ``memory_limit`` (var python_models_one_at_a_time_memory_limit), cap DuckDB's
    buffer pool at that while the model runs: the pool otherwise still holds up to the profile's
    limit of cached table blocks from earlier models, on top of the model's frames (issue 16:
    the build's peak RSS). ``restore_memory_limit`` is set again at the end. Either way the
    model's freed memory is returned to the OS when the block ends.
    """
    if not exclusive:
        try:
            yield
        finally:
            _release_freed_memory()
        return
    waiting = time.perf_counter()
    with lock:
        waited = time.perf_counter() - waiting
        if waited >= 1.0:
            log.info(f"python model {name} waited {waited:.1f}s for the Python model slot")
        try:
            with _memory_capped(session, memory_limit, restore_memory_limit):
                yield
        finally:
            _release_freed_memory()
