"""A real Jupyter server with the extension, running in a background thread for a whole test
module, so that route x role x tenant enumerations cost one server start, not one per case.

It is built the way pytest-jupyter builds ``jp_serverapp`` (``ServerApp`` + ``initialize`` +
``start_app``) but binds its own port and runs its own event loop; tests talk to it with
``requests`` and inspect its store directly.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any

import requests
from jupyter_server.serverapp import ServerApp
from traitlets.config import Config

from astralytiq_jupyter.core import db
from astralytiq_jupyter.core.permissions import Principal, Role
from astralytiq_jupyter.core.store import Store

from ..conftest import pg_schema

BASE_URL = "/a%40b/"
OTHER_EXTENSIONS = (
    "jupyterlab",
    "jupyter_lsp",
    "jupyter_server_terminals",
    "notebook_shim",
    "notebook",
    "voila.server_extension",
    "nbclassic",
)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def migrated_pg_schema() -> Iterator[str]:
    """A migrated throwaway PostgreSQL schema, as a URL bound to it."""
    with pg_schema() as url:
        engine = db.make_engine(url)
        db.upgrade(engine)
        engine.dispose()
        yield url


class LiveServer:
    """``start()`` returns once the API answers; ``stop()`` shuts the server down."""

    def __init__(self, tmp: Path, config: dict[str, Any] | None = None) -> None:
        self.tmp = tmp
        self.port = free_port()
        self.token = secrets.token_hex(8)
        self.config = Config(config or {})
        self.app: ServerApp | None = None
        self._thread: threading.Thread | None = None
        self._error: BaseException | None = None
        self._ready = threading.Event()
        self._kernel_store: Store | None = None

    @property
    def url(self) -> str:
        """The server's base URL (what ``aq.connect(url=...)`` takes)."""
        return f"http://127.0.0.1:{self.port}{BASE_URL}"

    def api(self, path: str = "") -> str:
        return f"{self.url}astralytiq/api{path}"

    @property
    def ext(self) -> Any:
        assert self.app is not None
        return self.app.web_app.settings["astralytiq"]

    @property
    def store(self) -> Store:
        return self.ext.store

    def start(self) -> LiveServer:
        self._thread = threading.Thread(target=self._run, name="live-jupyter", daemon=True)
        self._thread.start()
        self._ready.wait(60)
        if self._error is not None:
            raise RuntimeError("the live server failed to start") from self._error
        # Generous: a loaded machine can take seconds to answer a server's first request,
        # and starting up is not what any test measures; a slow answer is waited for again.
        deadline = time.monotonic() + 120
        while (remaining := deadline - time.monotonic()) > 0:
            try:
                response = requests.get(
                    self.api("/health"),
                    timeout=min(remaining, 30),
                    headers={"Authorization": f"token {self.token}"},
                )
                if response.status_code in (200, 403):  # 403: a test identity provider
                    return self
            except (requests.ConnectionError, requests.Timeout):
                pass
            time.sleep(0.05)
        raise RuntimeError("the live server did not answer")

    def _run(self) -> None:
        loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)
        try:
            config = Config(self.config)
            config.IdentityProvider.token = self.token
            root = self.tmp / "root"
            root.mkdir(exist_ok=True)
            app = ServerApp(
                config=config,
                port=self.port,
                port_retries=0,
                open_browser=False,
                base_url=BASE_URL,
                allow_root=True,
                root_dir=str(root),
                ip="127.0.0.1",
                log_level="WARN",
            )
            app.init_signal = lambda: None  # type: ignore[method-assign]
            app.initialize(argv=[])
            app.start_app()
            self.app = app
        except BaseException as exc:
            self._error = exc
            self._ready.set()
            loop.close()
            return
        self._ready.set()
        app.start_ioloop()
        loop.close()

    @property
    def kernel_store(self) -> Store:
        """A store of its own on the server's database and storage, as ``aq.connect()`` opens
        one in a kernel on this machine: without the server's rule for server-side files,
        since the Python API reads its own user's files."""
        if self._kernel_store is None:
            self._kernel_store = Store(replace(self.store.config, workspace_files=None))
        return self._kernel_store

    def stop(self) -> None:
        if self._kernel_store is not None:
            self._kernel_store.close()
        app = self.app
        if app is None:
            return
        app.io_loop.add_callback(app._stop)
        assert self._thread is not None
        self._thread.join(30)

    # -- test helpers ----------------------------------------------------------------------
    def principal(
        self, tenant: str, user: str, role: Role | str, plan: str = "enterprise"
    ) -> Principal:
        role = Role(role)
        self.store.ensure_tenant(tenant, tenant.title(), plan=plan)
        self.store.ensure_member(tenant, user, role)
        return Principal(user=user, tenant=tenant, role=role, via="member")

    def token_for(self, tenant: str, user: str, role: Role | str, plan: str = "enterprise") -> str:
        """A platform token for ``user`` (made a member of ``tenant`` with ``role``)."""
        principal = self.principal(tenant, user, role, plan)
        return self.store.tokens.issue(
            tenant, user, principal.role, name="test", created_by="test"
        ).secret

    def session(self, token: str | None) -> requests.Session:
        session = requests.Session()
        if token:
            scheme = "Bearer" if token.startswith("aqt_") else "token"
            session.headers["Authorization"] = f"{scheme} {token}"
        return session


class WorkspaceFactory:
    """Workspaces of one kind on a fresh tenant of a live server: ``"local"`` (the core
    in-process on the server's database and storage, as in a kernel) or ``"remote"`` (the
    REST API with a platform token). The shared suites of both backends (the contract, the
    wizards) are built on it."""

    def __init__(self, server: LiveServer, kind: str) -> None:
        import uuid

        self.server, self.kind = server, kind
        self.tenant = f"t-{uuid.uuid4().hex[:10]}"

    def __call__(self, user: str, role: Role | str) -> Any:
        from astralytiq_jupyter.client import LocalBackend, Workspace
        from astralytiq_jupyter.client.remote import RemoteBackend

        role = Role(role)
        if self.kind == "local":
            principal = self.server.principal(self.tenant, user, role)
            return Workspace(LocalBackend(self.server.kernel_store, principal))
        token = self.server.token_for(self.tenant, user, role)
        return Workspace(RemoteBackend(self.server.url, token))

    def local(self, user: str = "alice", role: Role | str = Role.ADMIN) -> Any:
        """The in-process reference on the same tenant: what the other backend must match."""
        from astralytiq_jupyter.client import LocalBackend, Workspace

        principal = self.server.principal(self.tenant, user, Role(role))
        return Workspace(LocalBackend(self.server.kernel_store, principal))


@contextmanager
def live_server(
    tmp: Path,
    backend: str,
    config: dict[str, Any] | None = None,
) -> Iterator[LiveServer]:
    """A started server on SQLite (``backend='sqlite'``) or a fresh PostgreSQL schema."""
    env = {
        k: os.environ.get(k)
        for k in ("JUPYTER_CONFIG_DIR", "JUPYTER_DATA_DIR", "JUPYTER_RUNTIME_DIR")
    }
    for key in env:
        os.environ[key] = str(tmp / key.lower())
    merged: dict[str, Any] = {
        # Only this extension: the others installed in the environment only slow startup.
        "ServerApp": {
            "jpserver_extensions": {
                "astralytiq_jupyter": True,
                **dict.fromkeys(OTHER_EXTENSIONS, False),
            }
        },
        "AstralytiQ": {
            "home": str(tmp / "aqhome"),
            "owner": "owner",
            "set_kernel_env": False,
            "freeze_gc": False,
        },
    }
    for section, values in (config or {}).items():
        merged.setdefault(section, {}).update(values)
    try:
        if backend == "postgresql":
            with migrated_pg_schema() as url:
                merged["AstralytiQ"]["database_url"] = url
                merged["AstralytiQ"]["storage_url"] = str(tmp / "storage")
                server = LiveServer(tmp, merged).start()
                try:
                    yield server
                finally:
                    server.stop()
        else:
            server = LiveServer(tmp, merged).start()
            try:
                yield server
            finally:
                server.stop()
    finally:
        for key, value in env.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
