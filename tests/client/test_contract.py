"""The Workspace contract: every behaviour below runs against the LocalBackend (core
in-process) and the RemoteBackend (REST API of a real Jupyter server), on SQLite and, when
configured, PostgreSQL. Both backends must return the same types, values and errors.

One live server per database backend serves the module; each test gets a fresh tenant, so
tests stay independent while sharing the server.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest
from sklearn.linear_model import LinearRegression

from astralytiq_jupyter.client import LocalBackend, Workspace
from astralytiq_jupyter.client.remote import RemoteBackend
from astralytiq_jupyter.core.dashboards import Dashboard
from astralytiq_jupyter.core.datasets import DatasetSummary, DatasetVersion
from astralytiq_jupyter.core.errors import Conflict, Forbidden, Invalid, NotFound
from astralytiq_jupyter.core.permissions import Principal, Role
from astralytiq_jupyter.core.registry import ModelVersion
from astralytiq_jupyter.core.tenancy import Member, Tenant

from ..conftest import BACKENDS
from ..server_extension.live import LiveServer, live_server

CSV = "region,amount\nnorth,10.5\nsouth,3\nnorth,\nnorth,10.5\n"
SIGNATURE = [{"name": "x", "dtype": "float64"}]


@pytest.fixture(scope="module", params=BACKENDS)
def server(
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[LiveServer]:
    with live_server(tmp_path_factory.mktemp(f"contract-{request.param}"), request.param) as s:
        yield s


class Factory:
    """Workspaces of one kind (local or remote) on a fresh tenant of the live server."""

    def __init__(self, server: LiveServer, kind: str) -> None:
        self.server, self.kind = server, kind
        self.tenant = f"t-{uuid.uuid4().hex[:10]}"

    def __call__(self, user: str, role: Role | str) -> Workspace:
        role = Role(role)
        if self.kind == "local":
            principal = self.server.principal(self.tenant, user, role)
            return Workspace(LocalBackend(self.server.store, principal))
        token = self.server.token_for(self.tenant, user, role)
        return Workspace(RemoteBackend(self.server.url, token))


@pytest.fixture(params=["local", "remote"])
def make(request: pytest.FixtureRequest, server: LiveServer) -> Factory:
    return Factory(server, request.param)


@pytest.fixture
def ws(make: Factory) -> Workspace:
    return make("alice", Role.ADMIN)


@pytest.fixture
def sales_csv(tmp_path: Path) -> Path:
    path = tmp_path / "sales.csv"
    path.write_text(CSV)
    return path


def test_me(ws: Workspace, make: Factory) -> None:
    me = ws.me
    assert isinstance(me, Principal)
    assert (me.user, me.tenant, me.role) == ("alice", make.tenant, Role.ADMIN)
    assert me.can(next(iter(me.permissions)))


def test_ingest_get_load(ws: Workspace, sales_csv: Path) -> None:
    v = ws.datasets.ingest(sales_csv, name="sales")
    assert isinstance(v, DatasetVersion)
    assert (v.name, v.version, v.rows, v.columns, v.format) == ("sales", 1, 4, 2, "csv")
    assert v.created_by == "alice" and len(v.sha256) == 64
    assert v.quality["duplicate_rows"] == 1
    assert ws.datasets.get("sales") == v and ws.datasets.get("sales@1") == v
    df = ws.datasets.load("sales")
    assert list(df.columns) == ["region", "amount"] and len(df) == 4
    assert df["amount"].sum() == pytest.approx(24.0)
    part = ws.datasets.load("sales", columns=["amount"], limit=2)
    assert list(part.columns) == ["amount"] and len(part) == 2


def test_ingest_bytes_and_dataframe(ws: Workspace) -> None:
    v = ws.datasets.ingest(CSV.encode(), name="raw", filename="raw.csv")
    assert v.rows == 4
    frame = pd.DataFrame({"a": [1, 2], "b": ["x", "y"]})
    w = ws.datasets.ingest(frame, name="frame")
    assert w.rows == 2 and set(w.schema) == {"a", "b"}
    pd.testing.assert_frame_equal(ws.datasets.load("frame"), frame, check_dtype=False)


def test_save_versions_and_lineage(ws: Workspace, sales_csv: Path) -> None:
    ws.datasets.ingest(sales_csv, name="sales")
    df = ws.datasets.load("sales")
    steps = [{"op": "drop_duplicates"}]
    v2 = ws.datasets.save(
        df.drop_duplicates(), "sales", parent="sales@1", recipe=steps, note="dedup"
    )
    assert (v2.version, v2.parent, v2.recipe, v2.note) == (2, "sales@1", steps, "dedup")
    assert [v.version for v in ws.datasets.versions("sales")] == [1, 2]
    listed = ws.datasets.list()
    assert [type(s) for s in listed] == [DatasetSummary]
    assert listed[0].versions == 2 and listed[0].latest == v2


def test_list_search_and_paging(ws: Workspace) -> None:
    for name in ("alpha", "beta", "gamma"):
        ws.datasets.save(pd.DataFrame({"x": [1]}), name)
    assert [s.name for s in ws.datasets.list()] == ["alpha", "beta", "gamma"]
    assert [s.name for s in ws.datasets.list(search="ET")] == ["beta"]
    assert [s.name for s in ws.datasets.list(limit=2, offset=1)] == ["beta", "gamma"]
    with pytest.raises(Invalid):
        ws.datasets.list(limit=0)


def test_delete(ws: Workspace) -> None:
    ws.datasets.save(pd.DataFrame({"x": [1]}), "d")
    ws.datasets.save(pd.DataFrame({"x": [2]}), "d")
    assert ws.datasets.delete("d", 1) == 1
    assert [v.version for v in ws.datasets.versions("d")] == [2]
    assert ws.datasets.delete("d") == 1
    with pytest.raises(NotFound):
        ws.datasets.get("d")


def test_dataset_errors(ws: Workspace) -> None:
    with pytest.raises(NotFound, match="nope"):
        ws.datasets.get("nope")
    with pytest.raises(NotFound):
        ws.datasets.load("nope@2")
    with pytest.raises(Invalid):
        ws.datasets.get("../etc")
    ws.datasets.save(pd.DataFrame({"x": [1]}), "d")
    with pytest.raises(Invalid, match="column"):
        ws.datasets.load("d", columns=["missing"])
    with pytest.raises(Invalid):
        ws.datasets.save(pd.DataFrame({"x": [1]}), "bad name")


def test_viewer_reads_but_cannot_write(make: Factory) -> None:
    admin = make("alice", Role.ADMIN)
    admin.datasets.save(pd.DataFrame({"x": [1]}), "shared")
    viewer = make("val", Role.VIEWER)
    assert len(viewer.datasets.load("shared")) == 1
    with pytest.raises(Forbidden):
        viewer.datasets.save(pd.DataFrame({"x": [1]}), "mine")
    with pytest.raises(Forbidden):
        viewer.datasets.delete("shared")
    with pytest.raises(Forbidden):
        viewer.tenant.members()
    denied = {e.action for e in admin.audit.list(outcome="denied", actor="val")}
    assert "dataset.delete" in denied and len(denied) >= 2


def test_tenants_are_isolated(server: LiveServer, make: Factory) -> None:
    mine = make("alice", Role.ADMIN)
    mine.datasets.save(pd.DataFrame({"x": [1]}), "secret")
    other = Factory(server, make.kind)("eve", Role.ADMIN)
    with pytest.raises(NotFound):
        other.datasets.get("secret")
    assert other.datasets.list() == []


def test_tenant_info_update_usage(ws: Workspace, make: Factory) -> None:
    info = ws.tenant.info()
    assert isinstance(info, Tenant) and info.slug == make.tenant
    updated = ws.tenant.update(branding={"primary_color": "#1f6feb"}, display_name="Acme")
    assert updated.branding["primary_color"] == "#1f6feb" and updated.display_name == "Acme"
    with pytest.raises(Invalid):
        ws.tenant.update(branding={"primary_color": "red"})
    with pytest.raises(Forbidden):
        ws.tenant.update(plan="free")
    usage = ws.tenant.usage()
    assert usage["used"]["members"] == 1 and "quotas" in usage


def test_members(ws: Workspace) -> None:
    member = ws.tenant.add_member("bob", "analyst")
    assert isinstance(member, Member) and member.role == Role.ANALYST
    assert [m.username for m in ws.tenant.members()] == ["alice", "bob"]
    assert ws.tenant.set_role("bob", Role.VIEWER).role == Role.VIEWER
    with pytest.raises(Forbidden):
        ws.tenant.add_member("carol", "admin")
    with pytest.raises(Conflict):
        ws.tenant.add_member("bob", "viewer")
    ws.tenant.remove_member("bob")
    with pytest.raises(NotFound):
        ws.tenant.remove_member("bob")
    with pytest.raises(Invalid):
        ws.tenant.remove_member("alice")


def test_audit(ws: Workspace) -> None:
    ws.datasets.save(pd.DataFrame({"x": [1]}), "a")
    ws.tenant.add_member("bob", "viewer")
    events = ws.audit.list()
    assert [e.action for e in events[:2]] == ["member.add", "dataset.save"]
    assert [e.action for e in ws.audit.list(action="dataset.save")] == ["dataset.save"]
    assert len(ws.audit.list(limit=1)) == 1
    with pytest.raises(Invalid):
        ws.audit.list(outcome="maybe")


def test_recipes(ws: Workspace) -> None:
    ws.datasets.save(pd.DataFrame({"x": [1, 1, 2]}), "dups")
    saved = ws.recipes.save("dedup", [{"op": "drop_duplicates"}], description="no dups")
    assert saved.name == "dedup" and saved.description == "no dups"
    assert ws.recipes.get("dedup") == saved
    assert [r.name for r in ws.recipes.list()] == ["dedup"]
    v = ws.recipes.apply("dedup", "dups@1", save_as="clean")
    assert (v.name, v.rows, v.parent) == ("clean", 2, "dups@1")
    ws.recipes.delete("dedup")
    with pytest.raises(NotFound):
        ws.recipes.get("dedup")


def _model() -> LinearRegression:
    return LinearRegression().fit(pd.DataFrame({"x": [1.0, 2.0, 3.0]}), [2.0, 4.0, 6.0])


def test_models(ws: Workspace) -> None:
    v1 = ws.models.register(
        "lin", _model(), task="regression", algorithm="linear_regression", signature=SIGNATURE
    )
    assert isinstance(v1, ModelVersion) and (v1.name, v1.version) == ("lin", 1)
    v2 = ws.models.register(
        "lin", _model(), task="regression", algorithm="linear_regression", signature=SIGNATURE
    )
    assert ws.models.set_alias("lin", "production", 1).aliases == ["production"]
    assert ws.models.get("lin@production").version == 1
    assert ws.models.get("lin") == ws.models.get("lin@2") == ws.models.versions("lin")[1]
    assert v2.version == 2
    ws.models.set_alias("lin", "production", 2)
    ws.models.remove_alias("lin", "production")
    moves = [(m.alias, m.from_version, m.to_version) for m in ws.models.alias_history("lin")]
    assert moves == [("production", None, 1), ("production", 1, 2), ("production", 2, None)]
    out = ws.models.predict("lin@1", pd.DataFrame({"x": [4.0]}))
    assert out.iloc[0, 0] == pytest.approx(8.0)
    assert ws.models.load("lin@1").predict(pd.DataFrame({"x": [5.0]}))[0] == pytest.approx(10.0)
    ws.datasets.save(pd.DataFrame({"x": [1.0, 2.0]}), "inputs")
    scored = ws.models.score("lin@1", "inputs", "scored")
    assert scored.parent == "inputs@1" and scored.model == "lin@1"
    assert [m.name for m in ws.models.list()] == ["lin"]
    assert ws.models.delete("lin", 1) == 1
    with pytest.raises(NotFound):
        ws.models.get("lin@production")
    with pytest.raises(Invalid):
        ws.models.predict("lin", pd.DataFrame({"y": [1.0]}))


def _spec(name: str = "overview") -> dict:
    return {
        "name": name,
        "title": "Overview",
        "bindings": {"datasets": {"s": "sales"}},
        "kpis": [{"id": "rows", "dataset": "s", "agg": "count"}],
        "charts": [
            {"id": "c1", "type": "bar", "dataset": "s", "x": "region", "y": "amount", "agg": "sum"}
        ],
        "layout": [
            {"item": "rows", "x": 0, "y": 0, "w": 3, "h": 2},
            {"item": "c1", "x": 3, "y": 0, "w": 9, "h": 4},
        ],
    }


def test_dashboards(ws: Workspace, make: Factory) -> None:
    saved = ws.dashboards.save(_spec())
    assert isinstance(saved, Dashboard) and saved.revision == 1
    again = ws.dashboards.save({**_spec(), "title": "New"}, expected_revision=1)
    assert again.revision == 2 and ws.dashboards.get("overview").title == "New"
    with pytest.raises(Conflict):
        ws.dashboards.save(_spec(), expected_revision=1)
    with pytest.raises(Invalid, match="unknown"):
        ws.dashboards.save({**_spec("x"), "tenant_id": "other"})
    with pytest.raises(Invalid):
        ws.dashboards.save({**_spec("x"), "layout": [{"item": "ghost"}]})
    assert [d.name for d in ws.dashboards.list()] == ["overview"]
    viewer = make("val", Role.VIEWER)
    assert viewer.dashboards.get("overview").revision == 2
    with pytest.raises(Forbidden):
        viewer.dashboards.delete("overview")
    ws.dashboards.delete("overview")
    with pytest.raises(NotFound):
        ws.dashboards.get("overview")
