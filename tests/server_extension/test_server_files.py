"""The server reads a file named by an API caller only inside the Jupyter workspace, only a
regular visible file, and only for a Jupyter user of the server (``core.workspace_files``).

Every route that takes a path, URL or reference is probed with the paths an attacker tries
(absolute, relative ``../``, a symlink out of the root, a FIFO, the Jupyter runtime directory
with the server's token, another tenant's stored Parquet, the metadata database, hidden files,
a directory, nonexistent files, ``file://`` URLs), by every kind of caller: a Jupyter user
(jupyter_server's own token identity, and a JupyterHub user) and platform tokens of each role.

The workspace here is the strictest layout: the contents root holds the runtime, config and
data directories and the store's home, all visible, so only the rule keeps them out.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import requests
import skops.io as sio
from sklearn.linear_model import LinearRegression
from sqlalchemy import create_engine

from astralytiq_jupyter.core.errors import Invalid
from astralytiq_jupyter.core.names import check_name
from astralytiq_jupyter.core.permissions import Principal, Role
from astralytiq_jupyter.core.workspace_files import REFUSED

from .live import LiveServer, live_server

MARKER = "astralytiq-secret-marker-5b1e"
GLOBEX_MARKER = "globex-private-value-93ad"
CSV = "x,y\n1,2\n2,4\n3,6\n"
HUB_TOKEN = "t-hanna"
HUB_USERS = {
    HUB_TOKEN: {
        "name": "hanna",
        "groups": ["astralytiq-tenant-default", "astralytiq-role-analyst"],
    }
}


class Setup:
    """A live server whose workspace root is ``root``, the files to probe, and callers."""

    def __init__(self, server: LiveServer, kind: str, root: Path, outside: Path) -> None:
        self.server, self.kind, self.root, self.outside = server, kind, root, outside
        store = server.store
        jupyter_token = server.token if kind == "jupyter" else HUB_TOKEN
        self.callers: dict[str, tuple[str, Role]] = {
            f"jupyter user ({kind})": (
                jupyter_token,
                Role.ADMIN if kind == "jupyter" else Role.ANALYST,
            )
        }
        for role in (Role.ADMIN, Role.ANALYST, Role.VIEWER):
            token = server.token_for("default", f"tok-{role.value}", role)
            self.callers[f"platform token ({role.value})"] = (token, role)
        admin = server.principal("default", "setup-admin", Role.ADMIN)
        store.datasets.ingest(admin, CSV.encode(), "sales", filename="s.csv")
        model = LinearRegression().fit(pd.DataFrame({"x": [1.0, 2.0]}), [2.0, 4.0])
        store.models.register(
            admin,
            "m",
            model,
            task="regression",
            algorithm="linear_regression",
            signature=[{"name": "x", "dtype": "float64"}],
        )
        globex = server.principal("globex", "gx-admin", Role.ADMIN)
        gx = store.datasets.ingest(
            globex, f"k,v\n{GLOBEX_MARKER},1\n".encode(), "gx-secret", filename="g.csv"
        )
        self.globex_parquet = Path(store.storage.path(store.datasets.storage_key(globex, gx.ref)))
        self._files()

    def _files(self) -> None:
        root, outside = self.root, self.outside
        (root / "data").mkdir()
        (root / "data" / "sales.csv").write_text(CSV)
        (outside / "secret.csv").write_text(f"name\n{MARKER}\n")
        (root / ".hidden.csv").write_text(f"name\n{MARKER}\n")
        (root / ".dot").mkdir()
        (root / ".dot" / "x.csv").write_text(f"name\n{MARKER}\n")
        (root / "folder").mkdir()
        os.mkfifo(root / "pipe.csv")
        os.symlink(outside / "secret.csv", root / "escape.csv")
        os.symlink(outside, root / "escape-dir")
        runtime = Path(self.server.app.runtime_dir)
        assert runtime.parent == root  # the runtime directory lies inside the workspace
        self.runtime_file = runtime / "jpserver-info.json"
        self.runtime_file.write_text(json.dumps({"token": self.server.token}))
        home = Path(self.server.ext.home)
        assert home.parent == root and self.globex_parquet.is_relative_to(root)
        self.database = home / "astralytiq.db"
        self.warehouse = root / "warehouse.db"
        pd.DataFrame({"x": [1, 2]}).to_sql(
            "t", create_engine(f"sqlite:///{self.warehouse}"), index=False
        )

    def probes(self) -> dict[str, str]:
        """What an attacker names, and the file each one is after."""
        root, outside = self.root, self.outside
        rel_outside = os.path.relpath(outside / "secret.csv", root)
        return {
            "absolute path outside the root": str(outside / "secret.csv"),
            "/etc/passwd": "/etc/passwd",
            "relative ../ out of the root": rel_outside,
            "relative ../ through a folder": "data/../" + rel_outside,
            "symlink out of the root": "escape.csv",
            "symlinked folder out of the root": "escape-dir/secret.csv",
            "FIFO": "pipe.csv",
            "runtime file with the server token": str(self.runtime_file),
            "runtime file, relative": os.path.relpath(self.runtime_file, root),
            "runtime directory": str(self.runtime_file.parent),
            "another tenant's stored Parquet": str(self.globex_parquet),
            "another tenant's Parquet, relative": os.path.relpath(self.globex_parquet, root),
            "another tenant's Parquet, file://": self.globex_parquet.as_uri(),
            "the metadata database": str(self.database),
            "hidden file": ".hidden.csv",
            "file in a hidden folder": ".dot/x.csv",
            "directory": "folder",
            "nonexistent": "data/nope.csv",
            "nonexistent outside": str(outside / "nope.csv"),
            "file:// outside": (outside / "secret.csv").as_uri(),
            "file:// with a host": "file://otherhost" + str(outside / "secret.csv"),
            "/proc/self/environ": "/proc/self/environ",
        }

    def secrets(self) -> tuple[str, ...]:
        return (MARKER, GLOBEX_MARKER, self.server.token)

    def call(self, token: str, method: str, path: str, **kwargs: Any) -> requests.Response:
        session = self.server.session(token)
        # A FIFO that was opened would block the request: the timeout turns that into a failure.
        return session.request(method, self.server.api(path), timeout=20, **kwargs)

    def counts(self) -> tuple[int, int, int]:
        store = self.server.store
        files = [p for p in Path(store.storage.root).rglob("*") if p.is_file()]
        admin = Principal("setup-admin", "default", Role.ADMIN)
        return (
            len(store.datasets.list(admin)),
            sum(len(store.datasets.versions(admin, d.name)) for d in store.datasets.list(admin)),
            len(files),
        )


@pytest.fixture(scope="module", params=["jupyter", "hub"])
def setup(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Setup]:
    kind = request.param
    tmp = tmp_path_factory.mktemp(f"files-{kind}")
    outside = tmp_path_factory.mktemp(f"outside-{kind}")
    warehouse = tmp / "warehouse.db"
    config: dict[str, Any] = {
        # The whole temporary folder is the workspace: runtime directory and store included.
        "ContentsManager": {"root_dir": str(tmp)},
        "AstralytiQ": {"sql_import_allowlist": [f"sqlite:///{warehouse}"]},
    }
    if kind == "hub":
        config["ServerApp"] = {
            "identity_provider_class": "tests.server_extension.hub_idp.HubTestIdentityProvider"
        }
        config["HubTestIdentityProvider"] = {"users": HUB_USERS}
    with live_server(tmp, "sqlite", config) as server:
        yield Setup(server, kind, tmp, outside)


def ingest_url(setup: Setup, token: str, url: str, name: str = "loot") -> requests.Response:
    # The finding's attack: any file read as a one-column, headerless table.
    body = {"url": url, "format": "csv", "read_options": {"delimiter": "\t", "header": False}}
    return setup.call(token, "POST", f"/datasets/{name}/ingest", json=body)


def test_the_server_uses_the_contents_root_and_keeps_its_own_folders_out(setup: Setup) -> None:
    rule = setup.server.ext.store.config.workspace_files
    assert rule.root == os.path.realpath(setup.root) and rule.allow_hidden is False
    assert str(setup.database.parent) in rule.excluded
    assert os.path.realpath(setup.server.app.runtime_dir) in rule.excluded


def test_ingest_url_refuses_every_path_with_one_message_for_every_caller(setup: Setup) -> None:
    before = setup.counts()
    answers: dict[tuple[str, str], tuple[int, str]] = {}
    leaks = []
    for caller, (token, role) in setup.callers.items():
        for what, probe in setup.probes().items():
            response = ingest_url(setup, token, probe)
            answers[(caller, what)] = (response.status_code, response.json()["message"])
            leaks += [(caller, what) for s in setup.secrets() if s in response.text]
    assert leaks == []
    for caller, (_token, role) in setup.callers.items():
        got = {answers[(caller, what)] for what in setup.probes()}
        if role is Role.VIEWER:  # no right to ingest at all: refused before any path
            assert len(got) == 1 and next(iter(got))[0] == 403, got
        else:
            assert got == {(400, REFUSED)}, (caller, got)
    assert setup.counts() == before
    jupyter_token = next(iter(setup.callers.values()))[0]
    assert setup.call(jupyter_token, "GET", "/datasets/loot/data?format=csv").status_code == 404


def test_a_workspace_file_is_read_for_a_jupyter_user_only(setup: Setup) -> None:
    for caller, (token, role) in setup.callers.items():
        for i, url in enumerate(("data/sales.csv", (setup.root / "data" / "sales.csv").as_uri())):
            response = setup.call(token, "POST", f"/datasets/ws-{i}/ingest", json={"url": url})
            if caller.startswith("jupyter user"):
                assert response.status_code == 201, response.text
                body = response.json()
                assert (body["rows"], body["source_detail"]) == (3, "data/sales.csv")
            elif role is Role.VIEWER:
                assert response.status_code == 403
            else:
                assert (response.status_code, response.json()["message"]) == (400, REFUSED)


def _normalised(response: requests.Response, probe: str) -> tuple[str, str]:
    """A route's answer with the probe itself (which a message may quote back) taken out,
    and any success status as one."""
    text = response.text
    for shown in (json.dumps(probe)[1:-1], repr(probe)[1:-1], probe):
        text = text.replace(shown, "<probe>")
    status = "ok" if response.status_code < 300 else str(response.status_code)
    return status, text if status != "ok" else ""


def path_requests(setup: Setup, probe: str) -> dict[str, tuple[str, str, dict[str, Any]]]:
    """Every other place a path, URL or reference can be given (none of them reads files)."""
    join = [{"op": "join", "dataset": probe, "on": ["x"]}]
    artifact = sio.dumps(LinearRegression().fit(pd.DataFrame({"x": [1.0, 2.0]}), [2.0, 4.0]))
    meta = {
        "task": "regression",
        "algorithm": "linear_regression",
        "signature": [{"name": "x", "dtype": "float64"}],
        "dataset": probe,
    }
    return {
        "SQL source (sqlite file)": (
            "POST",
            "/datasets/loot/ingest",
            {"json": {"sql": {"url": f"sqlite:///{probe}", "query": "SELECT 1 AS x"}}},
        ),
        "recipe join (apply)": ("POST", "/datasets/sales/apply", {"json": {"recipe": join}}),
        "recipe join (preview)": ("POST", "/datasets/sales/preview", {"json": {"recipe": join}}),
        "score dataset": (
            "POST",
            "/models/m/score",
            {"json": {"dataset": probe, "save_as": "scored"}},
        ),
        "upload lineage parent": (
            "POST",
            "/datasets/loot/versions",
            {
                "params": {"mode": "save", "parent": probe},
                "data": pd.DataFrame({"x": [1]}).to_parquet(),
            },
        ),
        "model lineage dataset": (
            "POST",
            "/models/loot/versions",
            {
                "files": {"artifact": ("m.skops", artifact)},
                "data": {"metadata": json.dumps(meta)},
            },
        ),
        "dashboard binding": (
            "POST",
            "/dashboards",
            {
                "json": {
                    "spec": {
                        "name": "loot",
                        "title": "Loot",
                        "bindings": {"datasets": {"s": probe}},
                        "kpis": [{"id": "n", "dataset": "s", "agg": "count"}],
                    }
                }
            },
        ),
        "branding logo": ("PATCH", "/tenant", {"json": {"branding": {"logo_url": probe}}}),
    }


#: One probe of each kind (these routes take names, so every kind of path is one case).
OTHER_ROUTE_PROBES = (
    "absolute path outside the root",
    "relative ../ out of the root",
    "symlink out of the root",
    "FIFO",
    "runtime file with the server token",
    "another tenant's stored Parquet",
    "hidden file",
    "directory",
    "nonexistent",
    "file:// outside",
)


def test_every_other_route_reads_no_file_and_answers_alike(setup: Setup) -> None:
    """Elsewhere a path is at most a resource name: the answer depends only on whether the
    text is a valid name (a control name that names no file answers like the valid-name
    probes), never on the file it names; nothing leaks and no dataset is made from it."""
    before = setup.counts()
    every = setup.probes()
    probes = {
        **{what: every[what] for what in OTHER_ROUTE_PROBES},
        "file:// of a workspace file": (setup.root / "data/sales.csv").as_uri(),
        "workspace file": "data/sales.csv",
        "control: a valid name naming no file": "no-such-file.csv",
    }
    callers = dict(list(setup.callers.items())[:1])  # the Jupyter user, who may read files
    callers.update({k: v for k, v in setup.callers.items() if "analyst" in k})
    answers: dict[tuple[str, str, bool], dict[str, tuple[str, str]]] = {}
    leaks = []
    for caller, (token, _role) in callers.items():
        for what, probe in probes.items():
            try:
                check_name(probe)
                valid = True
            except Invalid:
                valid = False
            for route, (method, path, kwargs) in path_requests(setup, probe).items():
                response = setup.call(token, method, path, **kwargs)
                leaks += [(caller, route, what) for s in setup.secrets() if s in response.text]
                group = answers.setdefault((caller, route, valid), {})
                group[what] = _normalised(response, probe)
    assert leaks == []
    assert setup.counts() == before
    for (caller, route, valid), by_probe in answers.items():
        assert len(set(by_probe.values())) == 1, (caller, route, valid, by_probe)
        if not valid and route != "recipe join (preview)":  # a preview reports step errors
            assert next(iter(by_probe.values()))[0] in ("400", "403"), (caller, route, by_probe)


def test_the_allow_listed_sql_database_is_read_exactly_as_listed(setup: Setup) -> None:
    token = setup.callers["platform token (analyst)"][0]
    listed = f"sqlite:///{setup.warehouse}"
    ok = setup.call(
        token,
        "POST",
        "/datasets/wh/ingest",
        json={"sql": {"url": listed, "query": "SELECT * FROM t"}},
    )
    assert ok.status_code == 201, ok.text
    messages = set()
    for url in (
        listed + "?uri=true",
        f"sqlite:///{setup.root}/./warehouse.db",
        "sqlite:///warehouse.db",
        f"sqlite:///{setup.database}",
    ):
        response = setup.call(
            token, "POST", "/datasets/wh/ingest", json={"sql": {"url": url, "query": "SELECT 1"}}
        )
        messages.add((response.status_code, response.json()["message"]))
    assert len(messages) == 1 and next(iter(messages))[0] == 403, messages
