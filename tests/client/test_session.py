"""A kernel's platform token (``client.session``): extended before it runs out while its user
is a member, never for API tokens or hub identities, and plain words when it has run out or
when a kernel has no credentials at all. On a real server, SQLite and PostgreSQL."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator

import pytest

from astralytiq_jupyter.client import Workspace, connect
from astralytiq_jupyter.client.remote import RemoteBackend
from astralytiq_jupyter.client.session import EXPIRED, NOT_SIGNED_IN
from astralytiq_jupyter.core.errors import Forbidden, Invalid
from astralytiq_jupyter.core.permissions import Principal, Role
from astralytiq_jupyter.core.tokens import KERNEL_TOKEN_PREFIX

from ..conftest import BACKENDS
from ..server_extension.live import LiveServer, live_server


@pytest.fixture(scope="module", params=BACKENDS)
def server(request: pytest.FixtureRequest, tmp_path_factory) -> Iterator[LiveServer]:
    with live_server(tmp_path_factory.mktemp(f"session-{request.param}"), request.param) as s:
        s.principal("acme", "bob", Role.ANALYST)
        s.principal("acme", "admin", Role.ADMIN)
        yield s


def kernel_token(server: LiveServer, user: str = "bob", *, hub: bool = False):
    return server.store.tokens.issue(
        "acme",
        user,
        Role.ANALYST,
        name=f"{KERNEL_TOKEN_PREFIX}kernel",
        expires_in=120,
        created_by=user,
        requires_membership=not hub,
    )


def stored_expiry(server: LiveServer, token_id: str) -> float:
    admin = Principal(user="admin", tenant="acme", role=Role.ADMIN)
    listed = server.store.tokens.list(admin, include_inactive=True, limit=500)
    return next(t.expires_at for t in listed if t.id == token_id).timestamp()


def test_a_kernel_token_is_extended_once_half_its_life_is_gone(
    server: LiveServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    issued = kernel_token(server)
    expires = issued.token.expires_at.timestamp()
    monkeypatch.setenv("ASTRALYTIQ_URL", server.url)
    monkeypatch.setenv("ASTRALYTIQ_TOKEN", issued.secret)
    monkeypatch.setenv("ASTRALYTIQ_TOKEN_EXPIRES", str(int(expires)))
    ws = connect()  # as a kernel does: URL, token and expiry from its environment
    lease = ws.backend.client.lease
    assert lease is not None and lease.expires_at == int(expires)
    assert ws.me.user == "bob" and stored_expiry(server, issued.token.id) == pytest.approx(expires)
    lease.clock = lambda: time.time() + 61  # past half of the 120 s
    ws.datasets.list()
    assert stored_expiry(server, issued.token.id) > expires + 30
    assert lease.expires_at == pytest.approx(stored_expiry(server, issued.token.id))
    assert int(os.environ["ASTRALYTIQ_TOKEN_EXPIRES"]) == int(lease.expires_at)


@pytest.mark.parametrize("kind", ["api token", "hub identity", "former member"])
def test_only_a_members_kernel_token_is_extended(server: LiveServer, kind: str) -> None:
    if kind == "api token":
        admin = Principal(user="admin", tenant="acme", role=Role.ADMIN)
        issued = server.store.tokens.create(admin, "ci", expires_in=120)
    elif kind == "hub identity":
        issued = kernel_token(server, hub=True)
    else:
        server.principal("acme", "temp", Role.VIEWER)
        issued = kernel_token(server, "temp")
        admin = Principal(user="admin", tenant="acme", role=Role.ADMIN)
        server.store.tenants.remove_member(admin, "temp")
    before = stored_expiry(server, issued.token.id)
    backend = RemoteBackend(server.url, issued.secret, expires_at=before)
    backend.client.lease.clock = lambda: time.time() + 61
    try:
        backend.client.json("GET", "datasets")
    except Forbidden:
        assert kind == "former member"  # a former member's token no longer authenticates
    assert backend.client.lease.renewable is False
    assert stored_expiry(server, issued.token.id) == pytest.approx(before)


def test_an_expired_session_and_a_kernel_without_credentials_say_so(server: LiveServer) -> None:
    issued = kernel_token(server)
    backend = RemoteBackend(server.url, issued.secret, expires_at=time.time() + 120)
    server.store.tokens.retire(issued.token.id)  # the server let it go
    backend.client.lease.clock = lambda: time.time() + 3600
    with pytest.raises(Forbidden) as expired:
        Workspace(backend).datasets.list()
    assert str(expired.value) == EXPIRED
    with pytest.raises(Forbidden) as anonymous:
        Workspace(RemoteBackend(server.url, None)).me  # noqa: B018
    assert str(anonymous.value) == NOT_SIGNED_IN


def test_kernel_token_names_are_reserved(server: LiveServer) -> None:
    admin = Principal(user="admin", tenant="acme", role=Role.ADMIN)
    with pytest.raises(Invalid, match="reserved"):
        server.store.tokens.create(admin, f"{KERNEL_TOKEN_PREFIX}mine")
