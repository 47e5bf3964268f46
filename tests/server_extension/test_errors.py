"""Errors cross the REST API as themselves: every class of the error table, raised by core
code a handler runs, answers the status and code its class states, and the remote client
raises the same class again (with its message and detail). Real refusals of real routes do
the same for the classes core raises there."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from typing import Any

import pandas as pd
import pytest
import requests
from jupyter_server.utils import url_path_join

import astralytiq_jupyter as aq
from astralytiq_jupyter.client.remote import RemoteClient
from astralytiq_jupyter.core import errors
from astralytiq_jupyter.core.permissions import Role
from astralytiq_jupyter.server_extension.base import ApiHandler
from astralytiq_jupyter.server_extension.operations import Operation, Route

from .live import LiveServer, live_server

#: The detail of each raised error; a byte quota also answers with its own status (413).
CASES: list[tuple[type[errors.AstralytiqError], dict[str, Any]]] = [
    (cls, {"where": cls.__name__}) for cls in errors.error_classes()
] + [(errors.QuotaExceeded, {"quota": "upload_bytes", "limit": 5})]


def _raise(case: int) -> None:
    """Core code failing: what a service method does when a rule refuses the call."""
    cls, detail = CASES[case]
    raise cls(f"{cls.__name__} raised in core.", **detail)


class RaiseHandler(ApiHandler):
    """Runs :func:`_raise` the way every handler runs its one core call (in a thread)."""

    async def get(self, case: str) -> None:
        await self.run(_raise, int(case))


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    with live_server(tmp_path_factory.mktemp("errors"), "sqlite") as s:
        route = Route(
            "/test-errors/{case}",
            RaiseHandler,
            {"GET": Operation("test.raise", None, "Raise the error of a case")},
        )
        pattern, handler, kwargs = route.spec()
        pattern = url_path_join(s.app.base_url, pattern)
        done = threading.Event()

        def add() -> None:
            # First, ahead of the extension's own catch-all for unknown API paths.
            web_app = s.app.web_app
            web_app.add_handlers(".*$", [(pattern, handler, {**kwargs, "name": "astralytiq"})])
            web_app.default_router.rules.insert(0, web_app.default_router.rules.pop(-2))
            done.set()

        s.app.io_loop.add_callback(add)
        assert done.wait(30)
        yield s


@pytest.mark.parametrize(
    "case", range(len(CASES)), ids=[f"{c.__name__}-{d.get('quota', '')}" for c, d in CASES]
)
def test_every_error_class_round_trips(server: LiveServer, case: int) -> None:
    cls, detail = CASES[case]
    token = server.token_for("errs", "ann", Role.ADMIN)
    expected = cls("x", **detail).http_status
    # What the server answers: the status and code of the class's row in the table.
    answer = requests.get(
        server.api(f"/test-errors/{case}"),
        headers={"Authorization": f"Bearer {token}"},
        timeout=60,
    )
    assert answer.status_code == expected
    assert answer.json() == {
        "error": cls.code,
        "message": f"{cls.__name__} raised in core.",
        "detail": detail,
    }
    # What the remote client raises: the same class, message and detail.
    client = RemoteClient(server.url, token)
    try:
        with pytest.raises(cls) as raised:
            client.json("GET", "test-errors", case)
    finally:
        client.close()
    assert type(raised.value) is cls
    assert raised.value.message == f"{cls.__name__} raised in core."
    assert raised.value.detail == detail
    assert raised.value.http_status == expected


def test_real_refusals_reach_the_remote_client_as_their_class(server: LiveServer) -> None:
    """Refusals of real routes, raised by the core services: the status on the wire is the
    one the class states, and the remote workspace raises that class."""
    admin = server.token_for("errs-real", "ann", Role.ADMIN)
    viewer = server.token_for("errs-real", "vic", Role.VIEWER)
    free = server.token_for("errs-free", "fay", Role.ADMIN, plan="free")
    with (
        aq.connect(url=server.url, token=admin) as ws,
        aq.connect(url=server.url, token=viewer) as wv,
        aq.connect(url=server.url, token=free) as wf,
    ):
        ws.datasets.save(pd.DataFrame({"a": [1, 2]}), "sales")
        refusals: list[tuple[type[errors.AstralytiqError], Callable[[], Any]]] = [
            (errors.NotFound, lambda: ws.datasets.get("nope")),
            (errors.Invalid, lambda: ws.datasets.load("sales", offset=-1)),
            (errors.Forbidden, lambda: wv.datasets.save(pd.DataFrame({"a": [1]}), "x")),
            (errors.Conflict, lambda: ws.tenant.add_member("vic", Role.VIEWER)),
        ]
        quota = wf.tenant.info().quotas.members
        refusals.append(
            (
                errors.QuotaExceeded,
                lambda: [wf.tenant.add_member(f"m{i}", Role.VIEWER) for i in range(quota + 1)],
            )
        )
        for cls, call in refusals:
            with pytest.raises(cls) as raised:
                call()
            assert type(raised.value) is cls, raised.value
            assert raised.value.message
