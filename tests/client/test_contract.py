"""The Workspace contract: every behaviour below runs against the LocalBackend (core
in-process) and the RemoteBackend (REST API of a real Jupyter server), on SQLite and, when
configured, PostgreSQL. Both backends must return the same types, values and errors.

One live server per database backend serves the module; each test gets a fresh tenant, so
tests stay independent while sharing the server.
"""

from __future__ import annotations

import inspect
import io
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LinearRegression

from astralytiq_jupyter.client import Workspace
from astralytiq_jupyter.client.contracts import AREAS
from astralytiq_jupyter.client.remote import RemoteBackend
from astralytiq_jupyter.core.dashboards import Dashboard
from astralytiq_jupyter.core.dataset_versions import DatasetSummary, DatasetVersion
from astralytiq_jupyter.core.errors import Conflict, Forbidden, Invalid, NotFound
from astralytiq_jupyter.core.model_card import ModelCard
from astralytiq_jupyter.core.model_versions import ModelVersion
from astralytiq_jupyter.core.permissions import Principal, Role
from astralytiq_jupyter.core.profiling import Profile
from astralytiq_jupyter.core.recipes import RecipePreview
from astralytiq_jupyter.core.tenancy import Member, Tenant
from astralytiq_jupyter.core.tokens import IssuedToken
from astralytiq_jupyter.core.training import TrainingResult

from ..conftest import BACKENDS
from ..server_extension.live import LiveServer, WorkspaceFactory, live_server

CSV = "region,amount\nnorth,10.5\nsouth,3\nnorth,\nnorth,10.5\n"
SIGNATURE = [{"name": "x", "dtype": "float64"}]


@pytest.fixture(scope="module", params=BACKENDS)
def server(
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[LiveServer]:
    with live_server(tmp_path_factory.mktemp(f"contract-{request.param}"), request.param) as s:
        yield s


Factory = WorkspaceFactory


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


def test_load_pages_through_row_groups(ws: Workspace) -> None:
    """A page from any offset equals the same slice of the whole, across row groups, without
    reading the groups before it; past the end is empty; bad offsets are refused alike."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    frame = pd.DataFrame({"i": np.arange(25_000), "s": [f"r{i}" for i in range(25_000)]})
    sink = pa.BufferOutputStream()
    pq.write_table(pa.Table.from_pandas(frame, preserve_index=False), sink, row_group_size=4096)
    ws.datasets.ingest(sink.getvalue().to_pybytes(), name="pages", format="parquet")
    for offset, limit in [(0, 10), (4090, 20), (8192, 5000), (24_990, 50), (30_000, 5)]:
        page = ws.datasets.load("pages", offset=offset, limit=limit)
        expected = frame.iloc[offset : offset + limit].reset_index(drop=True)
        pd.testing.assert_frame_equal(page, expected, check_dtype=False)
    tail = ws.datasets.load("pages", offset=24_000, columns=["s"])
    assert tail["s"].tolist() == [f"r{i}" for i in range(24_000, 25_000)]
    for bad in (-1, 1.5, True):
        with pytest.raises(Invalid, match="offset"):
            ws.datasets.load("pages", offset=bad, limit=5)


def test_ingest_bytes_and_dataframe(ws: Workspace) -> None:
    v = ws.datasets.ingest(CSV.encode(), name="raw", filename="raw.csv")
    assert v.rows == 4
    frame = pd.DataFrame({"a": [1, 2], "b": ["x", "y"]})
    w = ws.datasets.ingest(frame, name="frame")
    assert w.rows == 2 and set(w.schema) == {"a", "b"}
    pd.testing.assert_frame_equal(ws.datasets.load("frame"), frame, check_dtype=False)


def test_read_options_of_files_reach_both_backends(ws: Workspace, tmp_path: Path) -> None:
    """Uploads carry their read options (as query parameters of the streamed upload)."""
    path = tmp_path / "semi.csv"
    path.write_text("exported by hand\nid;v\n1;-\n2;3,5\n")
    v = ws.datasets.ingest(path, name="semi", skip_rows=1, delimiter=";", null_values=["-"])
    assert (v.rows, list(v.schema)) == (2, ["id", "v"])
    assert ws.datasets.load("semi")["v"].isna().tolist() == [True, False]
    w = ws.datasets.ingest(
        b"1\t2\n3\t4\n", name="tabs", filename="t.txt", delimiter="\t", header=False
    )
    assert (w.rows, list(w.schema)) == (2, ["column_1", "column_2"])
    sink = io.BytesIO()
    with pd.ExcelWriter(sink, engine="openpyxl") as writer:
        pd.DataFrame({"a": [1]}).to_excel(writer, sheet_name="One", index=False)
        pd.DataFrame({"b": [1, 2]}).to_excel(writer, sheet_name="Two", index=False)
    book = sink.getvalue()
    assert ws.datasets.ingest(book, name="b1", filename="b.xlsx", sheet=1).schema == {"b": "int64"}
    by_name = ws.datasets.ingest(book, name="b2", filename="b.xlsx", sheet="Two")
    assert by_name.rows == 2
    with pytest.raises(Invalid, match="header option must be"):
        ws.datasets.ingest(path, name="bad", header="yes")
    with pytest.raises(Invalid, match="Sheet 'Three' not found"):
        ws.datasets.ingest(book, name="bad", filename="b.xlsx", sheet="Three")
    assert [d.name for d in ws.datasets.list()] == ["b1", "b2", "semi", "tabs"]


def test_upload_query_parameters_are_checked(server: LiveServer, make: Factory) -> None:
    token = server.token_for(make.tenant, "alice", Role.ADMIN)
    session = server.session(token)
    url = server.api("/datasets/q/versions")
    for params, message in [
        ({"header": "maybe"}, "header"),
        ({"skip_rows": "-2"}, "skip_rows"),
        ({"sheet": "a", "sheet_number": "1"}, "not both"),
        ({"mode": "save", "delimiter": ";"}, "Read options apply to files"),
        ({"delimter": ";"}, "Unknown query parameter"),
    ]:
        response = session.post(url, params={"filename": "q.csv", **params}, data=CSV, timeout=30)
        assert response.status_code == 400, params
        assert message in response.json()["message"]
    assert session.get(server.api("/datasets"), timeout=30).json()["items"] == []


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


def test_identical_content_returns_the_latest_version(ws: Workspace, sales_csv: Path) -> None:
    v1 = ws.datasets.ingest(sales_csv, name="sales")
    again = ws.datasets.ingest(sales_csv, name="sales")
    assert (v1.reused, again.reused, again) == (False, True, v1)
    upload = ws.datasets.ingest(CSV.encode(), name="sales", filename="copy.csv")
    assert upload.reused and upload.ref == "sales@1"
    forced = ws.datasets.ingest(sales_csv, name="sales", force=True)
    assert (forced.version, forced.reused, forced.sha256) == (2, False, v1.sha256)
    frame = pd.DataFrame({"a": [1, 2], "b": ["x", "y"]})
    saved = ws.datasets.save(frame, "frame")
    assert ws.datasets.save(frame, "frame").reused
    assert ws.datasets.save(frame, "frame", force=True).version == saved.version + 1
    derived = ws.datasets.save(frame, "frame", parent="sales@1")
    assert not derived.reused and derived.parent == "sales@1"
    assert [v.version for v in ws.datasets.versions("frame")] == [1, 2, 3]


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


def test_tokens(ws: Workspace, make: Factory) -> None:
    """An admin issues API tokens (at most their own role); a token acts as its creator in the
    tenant with its role until revoked; its secret is shown once; viewers manage none."""
    issued = ws.tokens.create("reporting", role="viewer", expires_in=3600)
    assert isinstance(issued, IssuedToken) and issued.secret.startswith("aqt_")
    token = issued.token
    assert (token.name, token.user, token.role, token.active) == (
        "reporting",
        "alice",
        Role.VIEWER,
        True,
    )
    # The remote workspace connects with a token of its own, named "test".
    assert [t.id for t in ws.tokens.list() if t.name != "test"] == [token.id]
    assert len(ws.tokens.list(limit=1)) == 1
    as_token = Workspace(RemoteBackend(make.server.url, issued.secret))
    assert (as_token.me.user, as_token.me.tenant, as_token.me.role) == (
        "alice",
        make.tenant,
        Role.VIEWER,
    )
    with pytest.raises(Forbidden):
        as_token.datasets.save(pd.DataFrame({"x": [1]}), "nope")
    ws.tokens.revoke(token.id)
    assert token.id not in [t.id for t in ws.tokens.list()]
    [revoked] = [t for t in ws.tokens.list(include_inactive=True) if t.id == token.id]
    assert revoked.revoked_at is not None and not revoked.active
    if make.kind == "remote":
        # Revoked through the server that checks it: refused at once. (A kernel's local
        # store is another process: the server sees it within its principal cache's seconds.)
        with pytest.raises(Forbidden):
            as_token.datasets.list()
    with pytest.raises(NotFound):
        ws.tokens.revoke("not-a-token")
    with pytest.raises(Invalid, match="role"):
        ws.tokens.create("bad", role="owner")
    with pytest.raises(Invalid):
        ws.tokens.create("")
    viewer = make("victor", Role.VIEWER)
    with pytest.raises(Forbidden):
        viewer.tokens.list()
    with pytest.raises(Forbidden):
        viewer.tokens.create("mine")
    assert [t.id for t in ws.tokens.list(include_inactive=True) if t.name != "test"] == [token.id]


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


def test_models_load_only_what_the_server_trusts(
    ws: Workspace, server: LiveServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A model loads in the caller's process exactly when it would load on the server: with
    the server's trusted types narrowed to exclude a type in the model (beyond skops' own),
    both backends refuse it alike, naming the type."""
    import dataclasses

    from sklearn.ensemble import HistGradientBoostingRegressor

    from astralytiq_jupyter.core.artifacts import DEFAULT_TRUSTED_TYPES

    X = pd.DataFrame({"x": np.arange(40.0)})
    for name, iterations in (("boost", 3), ("boost2", 4)):
        ws.models.register(
            name,
            HistGradientBoostingRegressor(max_iter=iterations).fit(X, 2 * X["x"]),
            task="regression",
            algorithm="hist_gradient_boosting",
            signature=SIGNATURE,
        )
    assert ws.models.load("boost").n_iter_ == 3  # its TreePredictor trusted by default
    predictor = "sklearn.ensemble._hist_gradient_boosting.predictor.TreePredictor"
    narrowed = tuple(t for t in DEFAULT_TRUSTED_TYPES if t != predictor)
    assert len(narrowed) == len(DEFAULT_TRUSTED_TYPES) - 1
    for store in (server.store, server.kernel_store):  # the local kind runs on the latter
        config = dataclasses.replace(store.config, trusted_model_types=narrowed)
        monkeypatch.setattr(store, "config", config)
    with pytest.raises(Invalid, match="does not trust: " + predictor) as info:
        ws.models.load("boost2")
    assert info.value.detail["untrusted"] == [predictor]


def test_compiled_engine_models_take_categories_unseen_in_training(
    ws: Workspace, make: Factory
) -> None:
    """An engine model served compiled encodes a new category as zeros, as scikit-learn does,
    through either backend (ONNX Runtime used to fail on it: a server error)."""
    rng = np.random.default_rng(3)
    frame = pd.DataFrame(
        {"region": rng.choice(["north", "south", "east"], 300), "x": rng.normal(size=300)}
    )
    frame["y"] = frame["x"] * 2 + (frame["region"] == "north") * 5
    ws.datasets.save(frame, "regions")
    result = ws.train("regions", target="y", algorithms=["random_forest"], cv_folds=2)
    version = ws.models.register("regions-rf", result)
    assert version.runtime == "onnx", version.runtime_note
    rows = pd.DataFrame({"region": ["Mars", "north", None], "x": [1.0, 1.0, 0.5]})
    got = ws.models.predict(version.ref, rows)
    expected = result.model.predict(rows)
    np.testing.assert_allclose(got["prediction"], expected, rtol=1e-12)
    pd.testing.assert_frame_equal(got, make.local().models.predict(version.ref, rows))


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


def test_registration_compiles_for_serving(ws: Workspace) -> None:
    """Both backends compile on registration and verify on the input example sent along."""
    example = pd.DataFrame({"x": [0.5, 1.0, 2.0, -3.0, 1e6]})
    version = ws.models.register(
        "fast",
        _model(),
        task="regression",
        algorithm="linear_regression",
        signature=SIGNATURE,
        input_example=example,
    )
    assert version.runtime == "onnx"
    assert version.runtime_note == "Compiled to ONNX; verified on 5 example rows."
    assert ws.models.get("fast") == version
    out = ws.models.predict("fast", pd.DataFrame({"x": [4.0, 1.5]}))
    assert out["prediction"].tolist() == pytest.approx([8.0, 3.0])
    with pytest.raises(Invalid, match="missing values"):
        ws.models.predict("fast", pd.DataFrame({"x": [None]}, dtype="float64"))


def test_without_the_serving_extra_scikit_learn_serves_and_says_why(
    ws: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A base install (no ``serving`` extra; simulated by blocking its imports in the process
    that runs core): both backends register and predict, and the version says why it is not
    compiled and how to install the extra."""
    for module in ("onnx", "onnxruntime", "skl2onnx", "numba", "llvmlite"):
        monkeypatch.setitem(sys.modules, module, None)
    version = ws.models.register(
        "plain",
        _model(),
        task="regression",
        algorithm="linear_regression",
        signature=SIGNATURE,
        input_example=pd.DataFrame({"x": [0.5, 1.0, 2.0]}),
    )
    assert version.runtime == "sklearn"
    assert "compiled serving is not installed" in version.runtime_note
    assert version.runtime_note.endswith("pip install 'astralytiq-jupyter[serving]'")
    assert ws.models.get("plain") == version
    out = ws.models.predict("plain", pd.DataFrame({"x": [4.0, 1.5]}))
    assert out["prediction"].tolist() == pytest.approx([8.0, 3.0])
    with pytest.raises(Invalid, match="missing values"):
        ws.models.predict("plain", pd.DataFrame({"x": [None]}, dtype="float64"))


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
    url = ws.dashboards.publish("overview")
    assert url.endswith("/dashboard.ipynb?name=overview")
    if make.kind == "remote":  # the server's packaged app, under its base URL
        assert url == "/a%40b/astralytiq/apps/dashboard.ipynb?name=overview"
    with pytest.raises(NotFound):
        ws.dashboards.publish("ghost")
    viewer = make("val", Role.VIEWER)
    assert viewer.dashboards.get("overview").revision == 2
    with pytest.raises(Forbidden):
        viewer.dashboards.delete("overview")
    ws.dashboards.delete("overview")
    with pytest.raises(NotFound):
        ws.dashboards.get("overview")


# -- the same Workspace API on both sides -------------------------------------------------


def _parameters(fn: Any) -> list[tuple[str, Any, Any]]:
    """Name, kind and default of each parameter (annotations are mypy's to compare: ``make
    test`` type-checks both backends against the contracts)."""
    return [
        (p.name, p.kind, p.default)
        for p in inspect.signature(fn).parameters.values()
        if p.name != "self"
    ]


@pytest.mark.parametrize("area", sorted(AREAS))
def test_backends_take_each_operation_as_the_contract_states(area: str, server: LiveServer) -> None:
    """At run time too, every operation of an area's contract is there on both backends with
    the contract's parameters, kinds and defaults (the local ones are bound core methods)."""
    contract = AREAS[area]
    operations = [n for n, f in vars(contract).items() if callable(f) and not n.startswith("_")]
    assert operations
    factory = Factory(server, "remote")
    for ws in (factory.local(), factory("alice", Role.ADMIN)):
        implementation = getattr(ws.backend, area)
        for name in operations:
            stated = _parameters(getattr(contract, name))
            assert _parameters(getattr(implementation, name)) == stated, (ws, area, name)


def test_both_backends_serve_every_area(server: LiveServer) -> None:
    factory = Factory(server, "remote")
    pair = (factory.local().backend, factory("alice", Role.ADMIN).backend)
    for backend in pair:
        kinds = {area: type(getattr(backend, area)).__name__ for area in AREAS}
        prefix = type(backend).__name__.removesuffix("Backend")
        assert all(kind.startswith(prefix) for kind in kinds.values()), kinds


TIMINGS = {"seconds", "fit_time", "fit_time_std", "duration_seconds"}


def _no_timings(data: Any) -> Any:
    """``data`` without wall-clock fields, which differ from run to run."""
    if isinstance(data, dict):
        return {k: _no_timings(v) for k, v in data.items() if k not in TIMINGS}
    if isinstance(data, list):
        return [_no_timings(v) for v in data]
    return data


def _mixed_frame() -> pd.DataFrame:
    when = pd.to_datetime(
        ["2020-01-01", "2020-01-02 10:00", None, "2020-01-03"] * 2, format="ISO8601"
    )
    return pd.DataFrame(
        {
            "amount": [1.5, None, 3.0, 3.0, 10.0, None, 7.25, 3.0],
            "region": ["=north", "south", "north", "north", None, "east", "west", "north"],
            "when": when,
            "kind": pd.Categorical(["a", "b", "a", "a", "b", "a", "c", "a"]),
            "n": [1, 2, 3, 3, 5, 6, 7, 3],
            "ok": [True, False, True, True, False, True, False, True],
            "count": pd.array([1, None, 3, 3, 4, 5, 6, 3], dtype="Int64"),
        }
    )


def test_profile_same_numbers(ws: Workspace, make: Factory) -> None:
    ws.datasets.save(_mixed_frame(), "mixed")
    got = ws.datasets.profile("mixed", bins=4)
    assert isinstance(got, Profile) and got.rows == 8 and got.columns == 7
    assert got.column("amount").missing == 2 and got.duplicate_rows == 1
    reference = make.local().datasets.profile("mixed@1", bins=4)
    assert _no_timings(got.to_dict()) == _no_timings(reference.to_dict())
    with pytest.raises(NotFound):
        ws.datasets.profile("nope")


def _blobs(n: int = 120) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    centers = np.repeat([[0.0, 0.0], [8.0, 8.0], [0.0, 9.0]], n // 3, axis=0)
    points = centers + rng.normal(scale=0.6, size=centers.shape)
    return pd.DataFrame(
        {"x": points[:, 0], "y": points[:, 1], "z": rng.normal(size=len(points)), "label": "p"}
    )


def test_explore_clusters(ws: Workspace, make: Factory) -> None:
    ws.datasets.save(_blobs(), "blobs")
    got = ws.datasets.explore_clusters("blobs", columns=["x", "y"], k_range=range(2, 6))
    assert (got["columns"], got["k"], got["chosen_k"]) == (["x", "y"], [2, 3, 4, 5], 3)
    assert got["sample_size"] == 120 and len(got["pca"]["points"]) == 120
    reference = make.local().datasets.explore_clusters(
        "blobs@1", columns=["x", "y"], k_range=range(2, 6)
    )
    assert got == reference
    every_numeric = ws.datasets.explore_clusters("blobs", k_range=[2, 4], sample=50)
    assert every_numeric["columns"] == ["x", "y", "z"] and every_numeric["k"] == [2, 4]
    assert every_numeric["sample_size"] == 50
    with pytest.raises(Invalid, match="not numeric"):
        ws.datasets.explore_clusters("blobs", columns=["x", "label"])
    with pytest.raises(Invalid):
        ws.datasets.explore_clusters("blobs", k_range=range(2, 500))
    with pytest.raises(Invalid):
        ws.datasets.explore_clusters("blobs", columns=[])
    viewer = make("val", Role.VIEWER)
    assert viewer.datasets.explore_clusters("blobs", k_range=[2])["chosen_k"] == 2


def test_recipe_preview(ws: Workspace, make: Factory) -> None:
    ws.datasets.save(_mixed_frame(), "raw")
    steps = [
        {"op": "drop_duplicates"},
        {"op": "fill_missing", "columns": ["amount"], "strategy": "median"},
    ]
    got = ws.recipes.preview(steps, "raw@1", rows=8)
    assert isinstance(got, RecipePreview) and got.error is None
    assert [(s.op, s.rows_before, s.rows_after) for s in got.steps] == [
        ("drop_duplicates", 8, 7),
        ("fill_missing", 7, 7),
    ]
    reference = make.local().recipes.preview(steps, "raw@1", rows=8)
    assert _no_timings(got.to_dict()) == _no_timings(reference.to_dict())
    # Frames come back with their dtypes (a category keeps only the categories it shows).
    expected = reference.result.reset_index(drop=True)
    pd.testing.assert_frame_equal(got.result, expected, check_categorical=False)
    for step, reference_step in zip(got.steps, reference.steps, strict=True):
        assert [str(t) for t in step.head.dtypes] == [str(t) for t in reference_step.head.dtypes]
    longer = ws.recipes.preview(steps, "raw@1", rows=8, head=8)
    assert [len(s.head) for s in longer.steps] == [7, 7] and len(longer.result) == 7
    with pytest.raises(Invalid):
        ws.recipes.preview(steps, "raw@1", head=10_000)
    ws.recipes.save("clean", steps)
    assert [s.op for s in ws.recipes.preview("clean", "raw").steps] == [s["op"] for s in steps]
    broken = ws.recipes.preview([{"op": "drop_columns", "columns": ["nope"]}], "raw")
    assert broken.steps == [] and broken.error is not None and broken.error["error"] == "invalid"
    assert [v.version for v in ws.datasets.versions("raw")] == [1]  # nothing was stored
    with pytest.raises(NotFound):
        ws.recipes.preview(steps, "nope")
    with pytest.raises(Invalid):
        ws.recipes.preview(steps, "raw", rows=0)


def _regression_frame(n: int = 60) -> pd.DataFrame:
    rng = np.random.default_rng(1)
    x = rng.normal(size=n)
    noise = rng.normal(size=n)
    return pd.DataFrame({"x": x, "noise": noise, "y": 3 * x + 1 + 0.05 * rng.normal(size=n)})


def _churn_frame(n: int = 240) -> pd.DataFrame:
    rng = np.random.default_rng(4)
    x, z = rng.normal(size=n), rng.normal(size=n)
    score = x + 0.5 * z + rng.normal(scale=0.8, size=n)
    return pd.DataFrame({"x": x, "z": z, "churn": np.where(score > 0, "yes", "no")})


def test_training_leaves_out_what_a_model_wrote(ws: Workspace) -> None:
    """Scoring a dataset into a new version of itself adds the model's predictions; training
    on that version again leaves them out and says so. With them in, the cross-validated
    score is a leak: the forest's predictions on its own training rows."""
    ws.datasets.save(_churn_frame(), "churn")
    options = {
        "target": "churn",
        "algorithms": ["random_forest"],
        "params": {"random_forest": {"n_estimators": 25}},
        "cv_folds": 2,
    }
    first = ws.train("churn", **options)
    version = ws.models.register("churn", first)
    plots = ws.models.get(version.ref).card.plots
    assert {"confusion_matrix", "roc", "precision_recall", "feature_importance"} <= set(plots)
    scored = ws.models.score(version.ref, "churn", save_as="churn")
    assert scored.ref == "churn@2" and set(scored.model_columns) == {
        "prediction",
        "proba_no",
        "proba_yes",
    }
    assert ws.datasets.get("churn").model_columns == scored.model_columns
    again = ws.train("churn", **options)
    assert again.features == ["x", "z"]
    assert [d["column"] for d in again.dropped_columns[:3]] == [
        "prediction",
        "proba_no",
        "proba_yes",
    ]
    note = next(n for n in again.notes if n.startswith("Left out"))
    assert "written by model churn@1" in note and "include_model_columns=True" in note
    leaky = ws.compare("churn", include_model_columns=True, **options)
    honest = again.cv_metrics["balanced_accuracy"]
    assert leaky["balanced_accuracy_mean"].iloc[0] > honest + 0.1
    assert honest == pytest.approx(first.cv_metrics["balanced_accuracy"])
    with pytest.raises(Invalid, match="'proba_yes' \\(written by model churn@1\\)"):
        ws.train("churn", features=["x", "proba_yes"], **options)


def test_registered_signature_records_training_ranges(ws: Workspace, make: Factory) -> None:
    """A registered version's signature says what the training data held per input column
    (range and median of numbers, categories, date range), for prediction forms: from the
    engine's result, or, for a plain estimator, from the dataset version it names; the same
    through both backends."""
    frame = _regression_frame(40).assign(
        region=["north", "south", "south", "east"] * 10,
        day=pd.date_range("2024-01-01", periods=40, freq="D"),
    )
    ws.datasets.save(frame, "ranged")
    result = ws.train("ranged", target="y", algorithms=["linear_regression"], cv_folds=2)
    version = ws.models.register("ranged-line", result)
    stats = {c["name"]: c.get("stats") for c in ws.models.get(version.ref).signature}
    assert stats["x"]["min"] == pytest.approx(frame["x"].min())
    assert stats["x"]["max"] == pytest.approx(frame["x"].max())
    assert stats["x"]["median"] == pytest.approx(frame["x"].median())
    assert stats["region"]["categories"] == ["south", "east", "north"]
    assert stats["region"]["most_frequent"] == "south"
    assert (stats["day"]["min"], stats["day"]["max"]) == ("2024-01-01", "2024-02-09")
    reference = make.local().models.get(version.ref)
    assert ws.models.get(version.ref).signature == reference.signature
    plain = ws.models.register(
        "ranged-plain",
        LinearRegression().fit(frame[["x"]], frame["y"]),
        task="regression",
        algorithm="linear_regression",
        signature=[{"name": "x", "dtype": "float64", "kind": "numeric"}],
        dataset="ranged@1",
    )
    (column,) = ws.models.get(plain.ref).signature
    assert column["stats"]["max"] == pytest.approx(frame["x"].max())
    bare = ws.models.register(  # no dataset: nothing to describe, still registered
        "ranged-bare", LinearRegression().fit(frame[["x"]], frame["y"]), task="regression",
        algorithm="linear_regression", signature=SIGNATURE,
    )  # fmt: skip
    assert "stats" not in ws.models.get(bare.ref).signature[0]


def test_train_compare_register(ws: Workspace, make: Factory) -> None:
    ws.datasets.save(_regression_frame(), "points")
    options = {"target": "y", "algorithms": ["linear_regression", "ridge"], "cv_folds": 2}
    leaderboard = ws.compare("points", **options)
    assert isinstance(leaderboard, pd.DataFrame) and leaderboard.attrs["ranked_by"] == "r2"
    assert leaderboard["algorithm"].iloc[0] == "linear_regression"
    reference = make.local().compare("points@1", **options)
    timings = [c for c in leaderboard.columns if c in TIMINGS]
    pd.testing.assert_frame_equal(
        leaderboard.drop(columns=timings), reference.drop(columns=timings)
    )
    result = ws.train("points", **options)
    assert isinstance(result, TrainingResult) and result.spec.dataset == "points@1"
    assert result.holdout_metrics == make.local().train("points@1", **options).holdout_metrics
    version = ws.models.register("line", result)
    assert (version.dataset, version.task, version.algorithm) == (
        "points@1",
        "regression",
        "linear_regression",
    )
    # The version keeps the run's evaluation: its model card, the same through both backends.
    card = ws.models.get("line").card
    assert isinstance(card, ModelCard) and version.card == card
    assert card == make.local().models.get("line@1").card
    expected = result.to_dict()
    assert (card.leaderboard, card.plots) == (expected["leaderboard"], expected["plots"])
    assert {"residuals", "predicted_vs_actual", "feature_importance"} <= set(card.plots)
    assert (card.holdout_metrics, card.cv_metrics) == (result.holdout_metrics, result.cv_metrics)
    assert (card.training_spec, card.notes, card.n_rows) == (
        result.spec.to_dict(),
        result.notes,
        result.n_rows,
    )
    assert card.duration_seconds == result.duration_seconds and card.selection["metric"] == "r2"
    pd.testing.assert_frame_equal(card.leaderboard_frame(), result.leaderboard)
    assert ws.models.versions("line")[0].card is None  # listings leave the cards out
    assert ws.models.load("line").predict(pd.DataFrame({"x": [2.0], "noise": [0.0]}))[0] == (
        pytest.approx(7.0, abs=0.2)
    )
    viewer = make("val", Role.VIEWER)
    with pytest.raises(Forbidden, match="model:train"):
        viewer.train("points", **options)
    with pytest.raises(NotFound):
        ws.train("nope", **options)


def _orders(n: int = 3000) -> pd.DataFrame:
    rng = np.random.default_rng(7)
    return pd.DataFrame(
        {
            "day": pd.date_range("2024-01-01", periods=n, freq="6h"),
            "region": rng.choice(["north", "south", "east"], n),
            "amount": np.where(rng.random(n) < 0.05, np.nan, rng.gamma(2.0, 50.0, n)),
            "units": rng.integers(1, 20, n),
        }
    )


def test_sample_is_uniform_reproducible_and_bounded(ws: Workspace) -> None:
    frame = _orders()
    ws.datasets.save(frame, "orders")
    a = ws.datasets.sample("orders", 500, seed=3)
    b = ws.datasets.sample("orders", 500, seed=3)
    pd.testing.assert_frame_equal(a, b)
    assert len(a) == 500 and list(a.columns) == list(frame.columns)
    assert a["day"].is_monotonic_increasing  # stored order kept
    assert a["day"].min() < pd.Timestamp("2024-03-01") < a["day"].max()  # spread, not a head
    small = ws.datasets.sample("orders", 10_000, columns=["units"])
    assert len(small) == 3000 and list(small.columns) == ["units"]
    north = ws.datasets.sample(
        "orders",
        10_000,
        columns=["units"],
        filters=[{"column": "region", "op": "==", "value": "north"}],
    )
    assert len(north) == (frame["region"] == "north").sum() and list(north.columns) == ["units"]
    # text comes back as text (the column cache keeps it dictionary-encoded), also through
    # a filter pandas answers (case-insensitive matching)
    assert a.dtypes.to_dict() == ws.datasets.load("orders", limit=1).dtypes.to_dict()
    nor = ws.datasets.sample(
        "orders",
        10_000,
        columns=["region"],
        filters=[{"column": "region", "op": "contains", "value": "NOR", "case_sensitive": False}],
    )
    assert set(nor["region"]) == {"north"} and len(nor) == len(north)
    assert nor["region"].dtype == frame["region"].dtype
    with pytest.raises(Invalid, match="does not exist"):
        ws.datasets.sample("orders", 5, filters=[{"column": "nope", "op": "is missing"}])
    for bad in (0, -5, 10**9, 2.5):
        with pytest.raises(Invalid, match="n must be"):
            ws.datasets.sample("orders", bad)
    with pytest.raises(Invalid, match="no column"):
        ws.datasets.sample("orders", 5, columns=["nope"])


def test_aggregate_groups_buckets_and_filters_like_recipes(ws: Workspace) -> None:
    from astralytiq_jupyter.core.aggregate import Aggregate

    frame = _orders()
    ws.datasets.save(frame, "orders")
    result = ws.datasets.aggregate(
        "orders",
        {
            "group_by": ["region"],
            "metrics": [
                {"function": "sum", "column": "amount"},
                {"function": "median", "column": "amount"},
                {"function": "count"},
                {"function": "count_distinct", "column": "units", "as": "unit_sizes"},
            ],
        },
    )
    assert isinstance(result, Aggregate)
    expected = frame.groupby("region")["amount"].agg(["sum", "median"])
    got = result.frame.set_index("region")
    assert got["sum_amount"].to_dict() == pytest.approx(expected["sum"].to_dict())
    assert got["median_amount"].to_dict() == pytest.approx(expected["median"].to_dict())
    assert got["rows"].to_dict() == frame["region"].value_counts().to_dict()
    assert result.frame["sum_amount"].is_monotonic_decreasing  # biggest first
    assert (result.rows_total, result.rows_matched, result.groups) == (3000, 3000, 3)

    conditions = [
        {"column": "amount", "op": "between", "value": [20, 120]},
        {"column": "region", "op": "in", "value": ["north", "east"]},
        {"column": "day", "op": ">=", "value": "2024-02-01"},
    ]
    monthly = ws.datasets.aggregate(
        "orders",
        {
            "time": {"column": "day", "unit": "month"},
            "metrics": [{"function": "count"}],
            "filters": conditions,
        },
    )
    preview = ws.recipes.preview(
        [{"op": "filter_rows", "conditions": conditions}], "orders", rows=3000
    )
    kept = preview.steps[-1].rows_after
    assert 0 < kept < 3000
    assert monthly.rows_matched == kept  # one meaning of every condition
    assert monthly.frame["rows"].sum() == kept
    assert monthly.frame["day"].iloc[0] == pd.Timestamp("2024-02-01")
    assert monthly.frame["day"].is_monotonic_increasing

    capped = ws.datasets.aggregate(
        "orders", {"group_by": ["day"], "metrics": [{"function": "count"}], "limit": 10}
    )
    assert len(capped.frame) == 10 and capped.truncated and capped.groups == 3000

    for query, message in [
        ({"metrics": [{"function": "sum", "column": "region"}]}, "numeric"),
        ({"metrics": [{"function": "eval", "column": "amount"}]}, "unknown function"),
        ({"group_by": ["nope"]}, "does not exist"),
        ({"time": {"column": "region", "unit": "month"}}, "date"),
        ({"time": {"column": "day", "unit": "fortnight"}}, "Unknown time unit"),
        ({"filters": [{"column": "amount", "op": ">", "value": "x; DROP"}]}, "numbers"),
        ({"limit": 10**9}, "limit"),
        ({"sql": "select 1"}, "Unknown aggregation field"),
    ]:
        with pytest.raises(Invalid, match=message):
            ws.datasets.aggregate("orders", query)
