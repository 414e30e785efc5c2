"""Staging's own layering (issue 16): base_shop__* models read raw files and other base models
only, never stg_shop__* (which read base models), so orphan checks cannot invert the layer."""

import re
from pathlib import Path

BASE = Path(__file__).resolve().parents[2] / "models" / "staging" / "base"


def test_base_models_never_ref_stg_models():
    refs = {p.name: re.findall(r"ref\(\s*['\"]([^'\"]+)['\"]", p.read_text()) for p in BASE.glob("*.sql")}
    assert len(refs) == 12  # one per raw table
    offending = {name: [r for r in found if not r.startswith("base_shop__")] for name, found in refs.items()}
    assert {k: v for k, v in offending.items() if v} == {}


def test_orphan_checks_still_cover_every_foreign_key():
    # Each child checks its parents against the parent's base model (clean rows only).
    expected = {
        "base_shop__orders.sql": {"base_shop__customers"},
        "base_shop__order_items.sql": {"base_shop__orders", "base_shop__products"},
        "base_shop__events.sql": {"base_shop__customers", "base_shop__products"},
        "base_shop__reviews.sql": {"base_shop__customers", "base_shop__products"},
        "base_shop__experiment_assignments.sql": {"base_shop__customers"},
        "base_shop__campaign_sends.sql": {"base_shop__customers"},
        "base_shop__support_tickets.sql": {"base_shop__customers"},
    }
    for name, parents in expected.items():
        assert set(re.findall(r"ref\('([^']+)'\)", (BASE / name).read_text())) == parents, name
