"""dbt-duckdb plugin (profiles.yml ``plugins: [{module: ecom_growth.dbt_plugin}]``).

It configures every database session dbt opens, outside anything dbt templates or logs:

* ``TimeZone = 'UTC'``: no result may depend on the machine's time zone (staging converts every
  timestamp to naive UTC; this also pins how a TIMESTAMPTZ renders as text).
* the PII salt: ``ECOM_GROWTH_PII_SALT`` is read from the environment here and bound as the
  session variable ``ecom_growth_pii_salt`` (a prepared parameter, so the value never appears in
  SQL text). Templating it (``env_var`` in a model) would write the secret to target/compiled,
  target/run, manifest.json, run_results.json, partial_parse.msgpack and logs/dbt.log.
"""

from __future__ import annotations

import os

from dbt.adapters.duckdb.plugins import BasePlugin

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
    def configure_cursor(self, cursor) -> None:
        configure_session(cursor)
