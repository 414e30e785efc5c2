"""The project's structure, checked on dbt's manifest (`dbt parse`, no warehouse needed).

Layers go one way: sources and seeds -> staging/base -> staging -> intermediate -> marts -> ml ->
serving. A model's layer is its folder, so moving a file is what changes it. Every model has a
YAML entry with a description and a grain test (unique on a key column, or
unique_combination_of_columns), and every column listed there is described.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]

# Longest matching folder wins, so staging/base sits below the rest of staging.
LAYERS: dict[str, int] = {
    "models/staging/base/": 1,
    "models/staging/": 2,
    "models/intermediate/": 3,
    "models/marts/": 4,
    "models/ml/": 5,
    "models/serving/": 6,
}
SOURCE_LAYER = 0  # sources and seeds: the input, below everything
GRAIN_TESTS = {"unique", "unique_combination_of_columns"}


def layer_of(node: dict) -> int | None:
    """Rank of a manifest node's layer; None for a model outside every known layer folder."""
    if node["resource_type"] in {"source", "seed"}:
        return SOURCE_LAYER
    path = node["original_file_path"].replace("\\", "/")
    matches = [prefix for prefix in LAYERS if path.startswith(prefix)]
    return LAYERS[max(matches, key=len)] if matches else None


def layer_name(rank: int | None) -> str:
    names = {SOURCE_LAYER: "source/seed", **{rank: prefix[len("models/") : -1] for prefix, rank in LAYERS.items()}}
    return names.get(rank, "unknown")


def _models(manifest: dict) -> dict[str, dict]:
    return {uid: node for uid, node in manifest["nodes"].items() if node["resource_type"] == "model"}


def _node(manifest: dict, uid: str) -> dict | None:
    return manifest["nodes"].get(uid) or manifest.get("sources", {}).get(uid)


def models_outside_layers(manifest: dict) -> list[str]:
    """Models in no known layer folder (a new folder must be given a place in LAYERS)."""
    return sorted(node["original_file_path"] for node in _models(manifest).values() if layer_of(node) is None)


def backward_edges(manifest: dict) -> list[str]:
    """Every edge from a model to a parent of a LATER layer, as 'child (layer) -> parent (layer)'."""
    edges = []
    for node in _models(manifest).values():
        child = layer_of(node)
        for parent_uid in node["depends_on"]["nodes"]:
            parent_node = _node(manifest, parent_uid)
            if parent_node is None or parent_node["resource_type"] not in {"model", "seed", "source"}:
                continue
            parent = layer_of(parent_node)
            if child is not None and parent is not None and parent > child:
                edges.append(
                    f"{node['name']} ({layer_name(child)}) -> {parent_node['name']} ({layer_name(parent)})"
                )
    return sorted(edges)


def _tests_by_model(manifest: dict) -> dict[str, list[dict]]:
    tests: dict[str, list[dict]] = {}
    for node in manifest["nodes"].values():
        if node["resource_type"] == "test" and node.get("attached_node"):
            tests.setdefault(node["attached_node"], []).append(node)
    return tests


def undocumented_models(manifest: dict) -> list[str]:
    """Models without a YAML entry, without a description, or with an undescribed listed column."""
    problems = []
    for node in _models(manifest).values():
        if not node.get("patch_path"):
            problems.append(f"{node['name']}: no YAML entry")
            continue
        if not node.get("description", "").strip():
            problems.append(f"{node['name']}: no description")
        problems += [
            f"{node['name']}.{column}: no description"
            for column, spec in node.get("columns", {}).items()
            if not spec.get("description", "").strip()
        ]
    return sorted(problems)


def models_without_grain_test(manifest: dict) -> list[str]:
    """Models with no unique / unique_combination_of_columns test (their key is not tested)."""
    tests = _tests_by_model(manifest)
    return sorted(
        node["name"]
        for uid, node in _models(manifest).items()
        # a quarantine table holds one row per rejected raw row: raw rows have no key of their own
        # (exact duplicates are rejected too), and fct_raw_reconciliation proves its row count
        if not node["name"].endswith("_rejected")
        and not any(test.get("test_metadata", {}).get("name") in GRAIN_TESTS for test in tests.get(uid, []))
    )


def _dbt_parse(target: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """`dbt parse` of this project into `target` (no warehouse connection; a few seconds)."""
    env = {
        **os.environ,
        "DBT_PROFILES_DIR": os.environ.get("DBT_PROFILES_DIR", str(REPO)),
        "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
    }
    dbt = Path(sys.executable).with_name("dbt")
    return subprocess.run(
        [str(dbt), "parse", "--quiet", "--target-path", str(target), "--log-path", str(target / "logs"), *args],
        cwd=REPO, env=env, capture_output=True, text=True, check=False,
    )


@pytest.fixture(scope="module")
def manifest(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """The project's manifest (target/manifest.json of a `dbt parse` into a temporary target)."""
    target = tmp_path_factory.mktemp("dbt_target")
    completed = _dbt_parse(target)
    assert completed.returncode == 0, completed.stdout + completed.stderr
    return json.loads((target / "manifest.json").read_text())


def test_every_model_sits_in_a_known_layer(manifest: dict) -> None:
    assert models_outside_layers(manifest) == []


def test_no_model_reads_a_later_layer(manifest: dict) -> None:
    edges = backward_edges(manifest)
    assert edges == [], "backward edges (move the model to a later layer):\n  " + "\n  ".join(edges)


def test_every_model_and_column_is_described(manifest: dict) -> None:
    problems = undocumented_models(manifest)
    assert problems == [], "\n  ".join(["undocumented:", *problems])


def test_every_model_has_a_grain_test(manifest: dict) -> None:
    missing = models_without_grain_test(manifest)
    assert missing == [], "models without a unique / unique_combination_of_columns test: " + ", ".join(missing)


def test_the_removed_revenue_windows_var_is_an_error_not_silently_ignored(tmp_path: Path) -> None:
    # The acquisition revenue windows are contracted columns (30/90/180 days); a var could only
    # disagree with the contract, so setting the former var fails the parse with the reason.
    completed = _dbt_parse(tmp_path, "--vars", "{revenue_windows_days: [30, 365]}")
    assert completed.returncode != 0
    assert "revenue_windows_days was removed" in completed.stdout + completed.stderr


# --- the checks themselves, on hand-made manifests ---------------------------------------------


def _model(name: str, path: str, parents: tuple[str, ...] = (), **extra: object) -> tuple[str, dict]:
    node = {
        "resource_type": "model", "name": name, "original_file_path": path,
        "depends_on": {"nodes": list(parents)}, **extra,
    }
    return f"model.p.{name}", node


def _manifest(*models: tuple[str, dict], tests: tuple[dict, ...] = ()) -> dict:
    nodes = dict(models)
    nodes["seed.p.weights"] = {"resource_type": "seed", "name": "weights", "original_file_path": "seeds/weights.csv"}
    for index, test in enumerate(tests):
        nodes[f"test.p.t{index}"] = {"resource_type": "test", **test}
    sources = {"source.p.shop.orders": {"resource_type": "source", "name": "orders", "original_file_path": "models/staging/_s.yml"}}
    return {"nodes": nodes, "sources": sources}


def test_backward_edges_flags_a_mart_reading_ml_and_base_reading_staging_only() -> None:
    manifest = _manifest(
        _model("base_orders", "models/staging/base/base_orders.sql", ("source.p.shop.orders", "model.p.stg_customers")),
        _model("stg_customers", "models/staging/stg_customers.sql", ("source.p.shop.orders",)),
        _model("int_x", "models/intermediate/sub/int_x.sql", ("model.p.stg_customers", "seed.p.weights")),
        _model("fct_x", "models/marts/core/fct_x.sql", ("model.p.int_x", "model.p.ml_y")),
        _model("ml_y", "models/ml/y/ml_y.py", ("model.p.int_x",)),
        _model("serve_z", "models/serving/serve_z.sql", ("model.p.ml_y", "model.p.fct_x")),
    )
    assert backward_edges(manifest) == [
        "base_orders (staging/base) -> stg_customers (staging)",
        "fct_x (marts) -> ml_y (ml)",
    ]
    assert models_outside_layers(manifest) == []


def test_a_model_outside_the_layer_folders_is_reported() -> None:
    manifest = _manifest(_model("odd", "models/reports/odd.sql", ("source.p.shop.orders",)))
    assert models_outside_layers(manifest) == ["models/reports/odd.sql"]
    assert backward_edges(manifest) == []


def test_grain_and_documentation_checks() -> None:
    keyed = _model("keyed", "models/marts/keyed.sql", patch_path="p://x.yml", description="One row per x.",
                   columns={"x_id": {"description": "Key."}})
    combo = _model("combo", "models/marts/combo.sql", patch_path="p://x.yml", description="Pairs.",
                   columns={"a": {"description": ""}})
    bare = _model("bare", "models/marts/bare.sql", description="")
    manifest = _manifest(keyed, combo, bare, tests=(
        {"attached_node": "model.p.keyed", "test_metadata": {"name": "unique"}},
        {"attached_node": "model.p.combo", "test_metadata": {"name": "unique_combination_of_columns"}},
        {"attached_node": "model.p.bare", "test_metadata": {"name": "not_null"}},
    ))
    assert models_without_grain_test(manifest) == ["bare"]
    assert undocumented_models(manifest) == ["bare: no YAML entry", "combo.a: no description"]
