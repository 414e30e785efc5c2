"""What dbt puts in a model's Jinja context, emulated offline for SQLFluff's jinja templater.

SQLFluff lints the SQL a model renders to. The `dbt` templater would need a warehouse connection
and the sqlfluff-templater-dbt package; the jinja templater needs neither, but only knows
ref/source/config/var as stubs, and its var() returns a placeholder string. This library (see
`library_path` in .sqlfluff) supplies the rest: the project's real vars from dbt_project.yml,
dbt's cross-database macros as plain DuckDB SQL, and `adapter.dispatch(name)` rendering a call
`name(args)` so a portable macro shows up in a model as the function call it stands for.
Nothing runs a query: `execute` is false, as in dbt's parse phase.
"""

from __future__ import annotations

import os
import re as _re
from pathlib import Path
from typing import Any

import yaml

_PROJECT = Path(__file__).resolve().parents[3] / "dbt_project.yml"
_VARS: dict[str, Any] = (yaml.safe_load(_PROJECT.read_text()) or {}).get("vars", {}) or {}

execute = False


def var(name: str, default: Any = None) -> Any:
    """The project's var value (dbt_project.yml), or the call's default."""
    return _VARS.get(name, default)


def env_var(name: str, default: str = "") -> str:
    return os.environ.get(name, default)


def log(message: str, info: bool = False) -> str:
    return ""


def run_query(sql: str) -> None:
    return None


class _SqlCall:
    """Renders `name(arg, ...)`: how a dispatched project macro reads inside a model."""

    def __init__(self, name: str) -> None:
        self.name = name

    def __call__(self, *args: Any, **kwargs: Any) -> str:
        return f"{self.name}({', '.join(str(arg) for arg in (*args, *kwargs.values()))})"


# Dispatched macros that render a whole query rather than an expression.
_QUERIES = {
    "retention_integer_series": lambda upper_bound, column_name="n": (
        f"select {column_name} from range(({upper_bound})) as series ({column_name})"
    ),
}


class _Adapter:
    def dispatch(self, name: str, macro_namespace: str | None = None) -> Any:
        return _QUERIES.get(name) or _SqlCall(name)

    def get_columns_in_relation(self, relation: Any) -> list:
        return []


class _Dbt:
    """dbt's cross-database macros, as dbt-duckdb renders them (near enough to lint)."""

    def dateadd(self, datepart: str, interval: Any, from_date_or_timestamp: str) -> str:
        return f"({from_date_or_timestamp} + cast({interval} as bigint) * interval 1 {datepart})"

    def datediff(self, first_date: str, second_date: str, datepart: str) -> str:
        return f"date_diff('{datepart}', {first_date}, {second_date})"

    def date_trunc(self, datepart: str, date: str) -> str:
        return f"date_trunc('{datepart}', {date})"

    def listagg(self, measure: str, delimiter_text: str = "','", order_by_clause: str | None = None,
                limit_num: int | None = None) -> str:
        order = f" {order_by_clause}" if order_by_clause else ""
        return f"string_agg({measure}, {delimiter_text}{order})"

    def bool_or(self, expression: str) -> str:
        return f"bool_or({expression})"

    def hash(self, field: str) -> str:
        return f"md5(cast({field} as varchar))"

    def cast(self, field: str, type: str) -> str:  # dbt's own argument name
        return f"cast({field} as {type})"

    def current_timestamp(self) -> str:
        return "now()"

    def generate_series(self, upper_bound: Any) -> str:
        return f"select generate_series as generated_number from generate_series(1, {upper_bound})"

    def type_string(self) -> str:
        return "varchar"

    def type_timestamp(self) -> str:
        return "timestamp"

    def type_bigint(self) -> str:
        return "bigint"

    def type_int(self) -> str:
        return "integer"

    def type_boolean(self) -> str:
        return "boolean"

    def type_float(self) -> str:
        return "double"

    def type_numeric(self) -> str:
        return "numeric(28, 6)"


class _Exceptions:
    @staticmethod
    def raise_compiler_error(message: str) -> None:
        raise RuntimeError(message)

    @staticmethod
    def warn(message: str) -> str:
        return ""


class _Modules:
    re = _re


class _Target:
    name = "lint"
    schema = "main"
    type = "duckdb"


class _Config:
    """dbt's `config`: callable in a model, `.get` in a macro."""

    def __call__(self, *args: Any, **kwargs: Any) -> str:
        return ""

    def get(self, name: str, default: Any = None) -> Any:
        return default


adapter = _Adapter()
dbt = _Dbt()
exceptions = _Exceptions()
modules = _Modules()
target = _Target()
config = _Config()
graph: dict[str, dict] = {"sources": {}, "nodes": {}}
