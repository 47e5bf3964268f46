"""The app shell, the lists of datasets and models, the model page and administration."""

from __future__ import annotations

import pandas as pd

from astralytiq_jupyter.widgets.admin import AdminView
from astralytiq_jupyter.widgets.app import App
from astralytiq_jupyter.widgets.catalog import DatasetsView, ModelsView
from astralytiq_jupyter.widgets.explore import ExploreWizard
from astralytiq_jupyter.widgets.upload import UploadWizard

from ..conftest import workspace_for
from .conftest import SAMPLE


def _texts(widget) -> str:
    """Every text a widget tree shows (HTML values, button labels)."""
    out = []
    stack = [widget]
    while stack:
        w = stack.pop()
        for attr in ("value", "description"):
            v = getattr(w, attr, None)
            if isinstance(v, str):
                out.append(v)
        stack.extend(getattr(w, "children", ()))
    return " ".join(out)


def test_app_follows_the_role_and_keeps_section_state(store):
    admin = workspace_for(store, "acme", "ann", "admin")
    admin.datasets.ingest(str(SAMPLE), name="sales")
    viewer = workspace_for(store, "acme", "vic", "viewer")

    app = App(admin, background=False)
    assert "admin" in app.buttons and app.current == "datasets"
    assert "sales" in _texts(app.main)
    explore = app.show("explore", ref="sales@1")
    assert isinstance(explore, ExploreWizard) and explore.version.ref == "sales@1"
    explore.sections.value = "Charts"
    app.show("models")
    assert app.show("explore") is explore and explore.sections.value == "Charts"
    assert app.buttons["explore"].button_style == "primary"

    assert list(app.buttons) == [
        "datasets", "upload", "explore", "clean", "train", "models", "predict", "dashboards",
        "admin",
    ]  # fmt: skip
    upload = app.show("upload")
    assert isinstance(upload, UploadWizard) and app.current == "upload"

    seen = App(viewer, background=False)
    assert "admin" not in seen.buttons
    assert list(seen.buttons) == ["datasets", "explore", "models", "predict", "dashboards"]
    assert "Delete" not in _texts(seen.main) and "Clean" not in _texts(seen.main)


def test_datasets_list_searches_pages_opens_and_deletes(ws):
    for i in range(30):
        ws.datasets.save(pd.DataFrame({"a": [i]}), f"set-{i:02d}")
    went = []
    view = DatasetsView(ws, navigate=lambda s, **kw: went.append((s, kw)), header=False)
    assert "set-00" in _texts(view.table) and "set-25" not in _texts(view.table)
    view.next.click()
    assert "set-25" in _texts(view.table)
    view.search.value = "set-1"
    assert "set-10" in _texts(view.table) and "set-20" not in _texts(view.table)
    explore_button = next(
        w for w in view.table.children[7 + 6].children if w.description == "Explore"
    )
    explore_button.click()
    assert went[-1] == ("explore", {"ref": "set-10@1"})
    delete_box = view.table.children[7 + 6].children[-1]
    delete_box.children[0].click()  # asks first
    delete_box.children[0].click()  # confirms
    assert "Deleted set-10" in view.status.text
    assert "set-10" not in [s.name for s in ws.datasets.list(search="set-10")]


def test_empty_states_say_what_to_do(ws):
    view = DatasetsView(ws, navigate=lambda s, **kw: None, header=False)
    assert "No datasets yet" in _texts(view.table) and "Upload a file" in _texts(view.table)
    models = ModelsView(ws, navigate=lambda s, **kw: None, header=False)
    assert "No models yet" in _texts(models.table)


def test_models_list_and_page_with_alias_moves(ws, sales):
    result = ws.train("sales", target="revenue", algorithms=["ridge"], cv_folds=2)
    ws.models.register("revenue", result)
    view = ModelsView(ws, header=False)
    assert "revenue" in _texts(view.table) and "(holdout)" in _texts(view.table)
    view.show("revenue@1")
    page = _texts(view.detail)
    assert "revenue@1" in page and "cross-validation" in page and "sales@1" in page
    alias_text = next(
        w for w in view.detail.children[0].children[-1].children if hasattr(w, "placeholder")
    )
    alias_text.value = "production"
    next(
        w
        for w in view.detail.children[0].children[-1].children
        if getattr(w, "description", "") == "Point alias here"
    ).click()
    assert ws.models.get("revenue@production").version == 1
    assert "production → v1" in _texts(view.table)


def test_admin_manages_members_branding_and_reads_audit(store):
    admin = workspace_for(store, "acme", "ann", "admin")
    view = AdminView(admin, header=False)
    view.member_name.value = "bob"
    view.member_role.value = "analyst"
    view.add_button.click()
    assert {m.username: m.role.value for m in admin.tenant.members()}["bob"] == "analyst"
    view.set_role("bob", "viewer")
    assert {m.username: m.role.value for m in admin.tenant.members()}["bob"] == "viewer"
    view.part.value = "Branding"
    view.company.value = "Acme"
    view.primary.value = "#aa2200"
    view.save_branding.click()
    assert admin.tenant.info().branding["primary_color"] == "#aa2200"
    view.part.value = "Usage"
    assert "members" in view.usage.value
    view.part.value = "Audit log"
    assert "member" in view.audit.value
    view.outcome.value = "denied"
    analyst = workspace_for(store, "acme", "al", "analyst")
    assert "Administration is for the tenant" in _texts(AdminView(analyst, header=False))


def test_the_ml_stack_warms_up_once_the_app_is_drawn(ws, monkeypatch):
    """Opening the app imports no ML stack; the front-end's first view of it (ipywidgets'
    ``_view_count``, which the front-end updates when it draws the app) starts the warm-up,
    once."""
    from astralytiq_jupyter.widgets import app as app_module

    started = []
    monkeypatch.setattr(app_module, "warm_up", lambda: started.append(1))
    app = App(ws, background=False)
    assert app._view_count == 0 and started == [] and app.warming is None
    app._view_count = 1  # what the front-end's update sets when it draws the app
    app._view_count = 2
    assert started == [1]
