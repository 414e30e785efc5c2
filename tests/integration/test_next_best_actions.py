"""Next-best actions: one per customer, and the rules are data.

The rule tests work on a COPY of the built warehouse: they edit the loaded seed table
(seeds.action_rules) the way `dbt seed` would after marketing edits the CSV, rebuild only
fct_next_best_actions with dbt, and look at the result. No code changes between runs.
"""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

PROJECT = Path(__file__).resolve().parents[2]


def test_every_customer_has_exactly_one_action(warehouse):
    customers, actions, distinct = warehouse.execute(
        """
        select
            (select count(*) from marts.dim_customers),
            (select count(*) from serving.fct_next_best_actions),
            (select count(distinct customer_id) from serving.fct_next_best_actions)
        """
    ).fetchone()
    assert customers == actions == distinct


def test_actions_follow_the_first_matching_rule(warehouse):
    # High risk + high value must get the first rule, whatever else is true of them.
    wrong = warehouse.execute(
        """
        select count(*) from serving.fct_next_best_actions
        where risk_tier = 'high' and clv_tier = 'high' and rule_id <> 'vip_winback'
        """
    ).fetchone()[0]
    assert wrong == 0


@pytest.fixture()
def warehouse_copy(tmp_path):
    source = Path(os.environ["ECOM_GROWTH_DB"])
    copy = tmp_path / "copy.duckdb"
    shutil.copy(source, copy)
    return copy


def _rebuild_actions(db: Path, tmp_path: Path) -> subprocess.CompletedProcess:
    env = {
        **os.environ,
        "ECOM_GROWTH_DB": str(db),
        "DBT_TARGET_PATH": str(tmp_path / "target"),
        "DBT_LOG_PATH": str(tmp_path / "logs"),
    }
    dbt = str(Path(sys.executable).with_name("dbt"))
    return subprocess.run(
        [dbt, "run", "-s", "fct_next_best_actions"], cwd=PROJECT, env=env, capture_output=True, text=True
    )


def _set_condition(db: Path, rule_id: str, condition: str) -> None:
    with duckdb.connect(str(db)) as con:
        con.execute("update seeds.action_rules set condition = ? where rule_id = ?", [condition, rule_id])


def test_editing_a_rule_in_the_seed_changes_actions_without_code_changes(warehouse_copy, tmp_path):
    with duckdb.connect(str(warehouse_copy), read_only=True) as con:
        before = con.execute("select count(*) from serving.fct_next_best_actions where rule_id = 'loyalty'").fetchone()[0]
    # Marketing widens the loyalty rule to everyone with 2+ orders who is not at high risk.
    _set_condition(warehouse_copy, "loyalty", "completed_orders >= 2 and risk_tier <> 'high'")
    result = _rebuild_actions(warehouse_copy, tmp_path)
    assert result.returncode == 0, result.stdout[-3000:]
    with duckdb.connect(str(warehouse_copy), read_only=True) as con:
        after = con.execute("select count(*) from serving.fct_next_best_actions where rule_id = 'loyalty'").fetchone()[0]
        violations = con.execute(
            """
            select count(*) from serving.fct_next_best_actions as a
            inner join marts.dim_customers as c using (customer_id)
            where a.rule_id = 'loyalty' and not (c.completed_orders >= 2 and a.risk_tier <> 'high')
            """
        ).fetchone()[0]
    assert after != before
    assert violations == 0


@pytest.mark.parametrize(
    "condition, message",
    [
        ("risk_tierr = 'high'", "unknown column 'risk_tierr'"),
        ("risk_tier = 'high'; drop table marts.dim_customers", "unsupported characters"),
        ("risk_tier = 'high", "unterminated string literal"),
        ("", "empty condition"),
    ],
)
def test_a_malformed_rule_fails_with_a_message_naming_it(warehouse_copy, tmp_path, condition, message):
    _set_condition(warehouse_copy, "winback", condition)
    result = _rebuild_actions(warehouse_copy, tmp_path)
    assert result.returncode != 0
    assert "Action rule 'winback'" in result.stdout
    assert message in result.stdout
