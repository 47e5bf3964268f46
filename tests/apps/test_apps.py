"""The Voila apps shipped in the package: their parameters from the URL, their installation
into a workspace, and the notebooks themselves (no outputs, no widget state; nbval runs them
in ``make test`` through the repository's ``notebooks/`` link)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from astralytiq_jupyter.apps import NOTEBOOKS, app_url, install, names, query

REPO_NOTEBOOKS = Path(__file__).resolve().parents[2] / "notebooks"
APPS = {
    "astralytiq.ipynb",
    "upload.ipynb",
    "dashboard.ipynb",
    "clean.ipynb",
    "explore.ipynb",
    "predict.ipynb",
    "train.ipynb",
}


def test_query_reads_the_pages_url_parameters(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("QUERY_STRING", "name=sales-overview&ref=sales%402&ref=x&empty=")
    assert query() == {"name": "sales-overview", "ref": "sales@2"}
    assert query("ref", "section") == {"ref": "sales@2"}
    monkeypatch.delenv("QUERY_STRING")
    assert query("ref") == {}


def test_the_package_ships_every_app_and_the_repository_serves_the_same_files() -> None:
    assert APPS | {"quickstart.ipynb"} <= set(names())
    assert REPO_NOTEBOOKS.resolve() == NOTEBOOKS
    assert not (REPO_NOTEBOOKS / "demo.ipynb").exists()


@pytest.mark.parametrize("name", sorted(APPS | {"quickstart.ipynb"}))
def test_committed_notebooks_carry_no_outputs_or_widget_state(name: str) -> None:
    notebook = json.loads((NOTEBOOKS / name).read_text(encoding="utf-8"))
    assert "widgets" not in notebook["metadata"]
    for cell in notebook["cells"]:
        assert cell.get("outputs", []) == [] and cell.get("execution_count") is None
    if name in APPS:  # the template that loads nothing from the internet
        assert notebook["metadata"]["voila"]["template"] == "astralytiq"


def test_install_copies_the_apps_and_keeps_edited_files(tmp_path: Path) -> None:
    written = install(tmp_path / "work")
    assert sorted(p.name for p in written) == names()
    edited = tmp_path / "work" / "explore.ipynb"
    edited.write_text("{}", encoding="utf-8")
    assert install(tmp_path / "work") == []
    assert edited.read_text(encoding="utf-8") == "{}"
    assert install(tmp_path / "work", overwrite=True) == written
    assert edited.read_bytes() == (NOTEBOOKS / "explore.ipynb").read_bytes()


def test_app_url_points_at_the_servers_app_route(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("VOILA_REQUEST_URL", raising=False)
    monkeypatch.delenv("ASTRALYTIQ_URL", raising=False)
    assert app_url() is None  # no server: nothing to link to
    monkeypatch.setenv("ASTRALYTIQ_URL", "http://127.0.0.1:8888/user/ann/")
    assert app_url("dashboard.ipynb", name="q3 sales") == (
        "/user/ann/astralytiq/apps/dashboard.ipynb?name=q3+sales"
    )
    monkeypatch.setenv("VOILA_REQUEST_URL", "http://127.0.0.1:8888/voila/render/x.ipynb")
    assert app_url() is None  # already in a Voila page


def test_the_app_in_a_notebook_links_to_itself_as_a_dashboard(
    ws, monkeypatch: pytest.MonkeyPatch
) -> None:
    from astralytiq_jupyter.widgets import App

    monkeypatch.delenv("VOILA_REQUEST_URL", raising=False)
    monkeypatch.setenv("ASTRALYTIQ_URL", "http://127.0.0.1:8888/")
    header = App(ws, background=False).header
    assert 'href="/astralytiq/apps/astralytiq.ipynb"' in header.children[1].value
    monkeypatch.setenv("VOILA_REQUEST_URL", "http://127.0.0.1:8888/astralytiq/apps/x.ipynb")
    assert "href" not in App(ws, background=False).header.children[1].value


def test_the_quickstart_is_safe_to_run_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Run twice on one store, the tour creates its dataset, cleaned version and model once."""
    import nbformat
    from nbclient import NotebookClient

    from astralytiq_jupyter.client import LocalBackend, Workspace

    monkeypatch.setenv("ASTRALYTIQ_HOME", str(tmp_path / "home"))
    for name in ("ASTRALYTIQ_URL", "ASTRALYTIQ_TOKEN", "QUERY_STRING"):
        monkeypatch.delenv(name, raising=False)
    for _ in range(2):
        notebook = nbformat.read(NOTEBOOKS / "quickstart.ipynb", as_version=4)
        NotebookClient(
            notebook, timeout=300, resources={"metadata": {"path": str(tmp_path)}}
        ).execute()
    ws = Workspace(LocalBackend.open(tmp_path / "home"))
    try:
        assert [v.ref for v in ws.datasets.versions("sales")] == ["sales@1"]
        assert [v.ref for v in ws.datasets.versions("sales-clean")] == ["sales-clean@1"]
        assert [v.ref for v in ws.models.versions("revenue")] == ["revenue@1"]
    finally:
        ws.backend.close()


def _run_app(name: str, tmp_path: Path, env: dict[str, str]) -> str:
    """Run the app ``name`` in a real kernel with the page's environment ``env`` (as Voila
    sets it) and return the HTML its widgets hold (the widget state nbclient records)."""
    import os

    import nbformat
    from nbclient import NotebookClient

    notebook = nbformat.read(NOTEBOOKS / name, as_version=4)
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)  # the kernel inherits the environment of the test process
    try:
        NotebookClient(
            notebook,
            timeout=300,
            store_widget_state=True,
            resources={"metadata": {"path": str(tmp_path)}},
        ).execute()
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
    states = notebook.metadata["widgets"]["application/vnd.jupyter.widget-state+json"]["state"]
    return "\n".join(str(s["state"].get("value", "")) for s in states.values())


def test_the_dashboard_app_without_a_name_lists_the_tenants_dashboards(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``dashboard.ipynb`` with no ``?name=`` in a real kernel: first the empty state saying
    how to build a dashboard, then, once one is saved, a link to its page (``?name=``)."""
    from astralytiq_jupyter.client import LocalBackend, Workspace

    from ..widgets.conftest import SAMPLE

    home = tmp_path / "home"
    for name in ("ASTRALYTIQ_URL", "ASTRALYTIQ_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    page = {
        "ASTRALYTIQ_HOME": str(home),
        "QUERY_STRING": "",
        "VOILA_REQUEST_URL": "http://127.0.0.1:8866/voila/render/dashboard.ipynb",
    }
    assert "No dashboards yet. Build one" in _run_app("dashboard.ipynb", tmp_path, page)
    ws = Workspace(LocalBackend.open(home))
    try:
        ws.datasets.ingest(str(SAMPLE), name="sales")
        spec = {
            "name": "q3-sales",
            "title": "Q3 <sales>",
            "bindings": {"datasets": {"d": "sales"}},
            "charts": [{"id": "c", "type": "pie", "dataset": "d", "x": "region"}],
        }
        ws.dashboards.save(spec)
    finally:
        ws.backend.close()
    shown = _run_app("dashboard.ipynb", tmp_path, page)
    assert '<a href="?name=q3-sales" target="_self">Q3 &lt;sales&gt;</a>' in shown
    assert "No dashboards yet" not in shown
