"""Recipes meet the store: saved recipes per tenant, apply with lineage, replay on a newer
version, joins confined to the tenant."""

from __future__ import annotations

import pandas as pd
import pytest

from astralytiq_jupyter.core.errors import Forbidden, Invalid, NotFound
from astralytiq_jupyter.core.permissions import Role

from ..conftest import workspace_for

CLEAN = [
    {"op": "drop_duplicates"},
    {"op": "fill_missing", "columns": ["amount"], "strategy": "median"},
    {"op": "filter_rows", "conditions": [{"column": "amount", "op": ">", "value": 1}]},
]


@pytest.fixture
def sales():
    return pd.DataFrame(
        {
            "region": ["n", "s", "n", "n", "e"],
            "amount": [10.0, None, 10.0, 10.0, 0.5],
            "cust": [1, 2, 1, 1, 3],
        }
    ).iloc[[0, 1, 2, 3, 4]]


def test_apply_creates_version_with_lineage(ws, sales):
    ws.datasets.save(sales, "sales")
    v = ws.recipes.apply(CLEAN, "sales@1")
    assert (v.name, v.version, v.parent) == ("sales", 2, "sales@1")
    assert [s["op"] for s in v.recipe] == ["drop_duplicates", "fill_missing", "filter_rows"]
    out = ws.datasets.load(v.ref)
    # Duplicates dropped, the gap filled with the median of (10, 0.5), the small amount removed.
    assert out["amount"].tolist() == [10.0, 5.25]
    other = ws.recipes.apply(CLEAN[:1], "sales@1", save_as="sales-dedup")
    assert other.ref == "sales-dedup@1" and other.parent == "sales@1"


def test_saved_recipe_crud_and_replay(ws, sales):
    saved = ws.recipes.save("monthly-clean", CLEAN, description="Monthly cleaning")
    assert saved.steps[0] == {"op": "drop_duplicates"} or saved.steps[0]["op"] == "drop_duplicates"
    assert [r.name for r in ws.recipes.list()] == ["monthly-clean"]
    ws.recipes.save("monthly-clean", CLEAN[:2])
    assert len(ws.recipes.get("monthly-clean").steps) == 2
    ws.datasets.save(sales, "sales")
    v = ws.recipes.apply("monthly-clean", "sales")
    assert v.note == "Recipe 'monthly-clean'"
    # Next month's upload lacks a column the recipe needs: clear error, nothing stored.
    ws.datasets.save(sales.drop(columns=["amount"]), "sales")
    with pytest.raises(Invalid, match=r"Step 2 \(fill_missing\): column .amount."):
        ws.recipes.apply("monthly-clean", "sales@3")
    assert [x.version for x in ws.datasets.versions("sales")] == [1, 2, 3]
    ws.recipes.delete("monthly-clean")
    with pytest.raises(NotFound):
        ws.recipes.get("monthly-clean")


def test_invalid_recipes_are_refused_before_saving(ws):
    with pytest.raises(Invalid, match="nope"):
        ws.recipes.save("bad", [{"op": "nope"}])
    assert ws.recipes.list() == []


def test_preview_is_bounded(ws):
    ws.datasets.save(pd.DataFrame({"x": range(5000)}), "big")
    preview = ws.recipes.preview(
        [{"op": "filter_rows", "conditions": [{"column": "x", "op": "<", "value": 10}]}],
        "big",
        rows=100,
    )
    data = preview.to_dict()
    assert data["steps"][0]["rows_before"] == 100 and data["steps"][0]["rows_after"] == 10


def test_join_only_sees_own_tenant(store):
    acme = workspace_for(store, "acme", "ann", Role.ADMIN)
    globex = workspace_for(store, "globex", "gus", Role.ADMIN)
    globex.datasets.save(pd.DataFrame({"cust": [1], "secret": ["x"]}), "customers")
    acme.datasets.save(pd.DataFrame({"cust": [1, 2], "amount": [3.0, 4.0]}), "sales")
    join = [{"op": "join", "dataset": "customers", "on": ["cust"]}]
    with pytest.raises(NotFound):
        acme.recipes.apply(join, "sales")
    acme.datasets.save(pd.DataFrame({"cust": [1, 2], "name": ["a", "b"]}), "customers")
    out = acme.datasets.load(acme.recipes.apply(join, "sales").ref)
    assert out["name"].tolist() == ["a", "b"] and "secret" not in out


def test_roles(store, sales):
    admin = workspace_for(store, "acme", "ann", Role.ADMIN)
    analyst = workspace_for(store, "acme", "bob", Role.ANALYST)
    viewer = workspace_for(store, "acme", "val", Role.VIEWER)
    admin.datasets.save(sales, "sales")
    analyst.recipes.save("r", CLEAN)
    assert viewer.recipes.get("r").name == "r"
    with pytest.raises(Forbidden):
        viewer.recipes.save("r2", CLEAN)
    with pytest.raises(Forbidden):
        viewer.recipes.apply("r", "sales")
    with pytest.raises(Forbidden):
        analyst.recipes.delete("r")
    admin.recipes.delete("r")


def test_profile_through_workspace(ws, sales):
    ws.datasets.save(sales, "sales")
    report = ws.datasets.profile("sales").to_dict()
    assert (report["rows"], report["columns"], report["duplicate_rows"]) == (5, 3, 2)
    assert report["missing_cells"] == 1
