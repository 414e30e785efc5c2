"""SQL injection through configuration seeds (issue 10, item 1).

For every seed in seeds/ (today action_rules, event_weights, rfm_segments; FAQ, metrics and any
later seed are picked up automatically) and every text column, an injection payload replaces the
column's value in the first row, the seed is loaded and everything that reads the seed is
compiled. Each value must either be refused with a compilation error that names the value, or
reach the compiled SQL only inside properly escaped string literals, never as SQL.

Runs dbt in-process on a copy of the project (about 3 s per attempt).
"""

from __future__ import annotations

import csv
import re
import shutil
from pathlib import Path

import pytest
import yaml

from hardening_support import REPO, dbt_env

PAYLOAD = "x' || pwned_{column}() || '"
# A standard SQL string literal ('' is an escaped quote inside it).
STRING_LITERAL = re.compile(r"'(?:[^']|'')*'", re.S)
SEEDS = sorted(p.stem for p in (REPO / "seeds").glob("*.csv"))


def _column_types(seed: str) -> dict[str, str]:
    types: dict[str, str] = {}
    for path in (REPO / "seeds").glob("*.yml"):
        for entry in (yaml.safe_load(path.read_text()) or {}).get("seeds", []):
            if entry.get("name") == seed:
                types.update((entry.get("config") or {}).get("column_types") or {})
    return {k: str(v).lower() for k, v in types.items()}


def _text_columns(seed: str) -> list[str]:
    with (REPO / "seeds" / f"{seed}.csv").open(newline="") as handle:
        header = next(csv.reader(handle))
    types = _column_types(seed)
    return [c for c in header if types.get(c, "varchar").startswith(("varchar", "text", "string"))]


@pytest.fixture(scope="module")
def project(tmp_path_factory, monkeypatch_module):
    copy = tmp_path_factory.mktemp("injection")
    for name in ("dbt_project.yml", "profiles.yml"):
        shutil.copy(REPO / name, copy / name)
    for name in ("macros", "models", "seeds"):
        shutil.copytree(REPO / name, copy / name)
    (copy / "tests").mkdir()
    raw = copy / "raw"
    raw.mkdir()
    for key, value in dbt_env(copy, raw, copy / "wh.duckdb").items():
        monkeypatch_module.setenv(key, value)
    return copy


@pytest.fixture(scope="module")
def monkeypatch_module():
    with pytest.MonkeyPatch.context() as patch:
        yield patch


def _dbt(project: Path, args: list[str]) -> tuple[bool, str]:
    from dbt.cli.main import dbtRunner

    result = dbtRunner().invoke([*args, "--project-dir", str(project), "--profiles-dir", str(project), "--quiet"])
    messages = [str(result.exception or "")]
    for node in getattr(result.result, "results", None) or []:
        messages.append(str(node.message or ""))
    return result.success, "\n".join(messages)


def _write_seed(project: Path, seed: str, injected: set[str]) -> None:
    source = REPO / "seeds" / f"{seed}.csv"
    with source.open(newline="") as handle:
        rows = list(csv.DictReader(handle))
        header = list(rows[0].keys())
    for column in injected:
        rows[0][column] = PAYLOAD.format(column=column)
    with (project / "seeds" / f"{seed}.csv").open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=header)
        writer.writeheader()
        writer.writerows(rows)


def _unescaped(project: Path, seed: str) -> list[str]:
    """Compiled files of the seed's children where a payload survives outside string literals."""
    found = []
    for path in (project / "target" / "compiled").rglob("*"):
        if path.is_file() and "pwned_" in STRING_LITERAL.sub("''", path.read_text()):
            found.append(str(path.relative_to(project)))
    return found


def _attempt(project: Path, seed: str, injected: set[str]) -> tuple[bool, str]:
    _write_seed(project, seed, injected)
    shutil.rmtree(project / "target" / "compiled", ignore_errors=True)
    ok, log = _dbt(project, ["seed", "-s", seed])
    assert ok, log
    return _dbt(project, ["compile", "-s", f"{seed}+", "--exclude", seed])


@pytest.mark.parametrize("seed", SEEDS)
def test_no_seed_value_becomes_sql(project, seed):
    """All text columns injected at once; when that is refused, each column the error names is
    tried ALONE (an error about one value may quote another, e.g. a rule's id), and the rest
    together again, until everything left compiles."""
    columns = _text_columns(seed)
    assert columns, f"{seed} has no text column to try"
    active, refused = set(columns), []
    try:
        while active:
            ok, log = _attempt(project, seed, active)
            if ok:
                assert _unescaped(project, seed) == [], f"a payload in {sorted(active)} reached SQL unescaped"
                break
            named = sorted(c for c in active if f"pwned_{c}" in log)
            assert named and "Compilation Error" in log, f"refused without naming the value: {log[-2000:]}"
            for column in named:
                alone_ok, alone_log = _attempt(project, seed, {column})
                if alone_ok:
                    assert _unescaped(project, seed) == [], f"the payload in {column} reached SQL unescaped"
                else:
                    assert f"pwned_{column}" in alone_log and "Compilation Error" in alone_log, alone_log[-2000:]
                    refused.append(column)
                active.discard(column)
    finally:
        _write_seed(project, seed, set())
    print(f"\n{seed}: refused {refused}; escaped or never in SQL {sorted(set(columns) - set(refused))}")
