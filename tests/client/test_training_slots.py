"""The concurrent-training quota across kernels, on both backends and both databases: a
training takes its slot from the shared database (in-process through the core service,
remotely through the server's REST routes), so kernels of one tenant together never exceed
the plan; the server audits refusals, answers 429 with Retry-After, reclaims a dead kernel's
expired slot, refuses viewers, and counts each tenant apart."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import numpy as np
import pandas as pd
import pytest
from sqlalchemy import update

from astralytiq_jupyter.client import Workspace
from astralytiq_jupyter.core.errors import Forbidden, QuotaExceeded
from astralytiq_jupyter.core.models import TrainingSlotRecord, utcnow
from astralytiq_jupyter.core.permissions import Role
from astralytiq_jupyter.core.training import TrainingProgress

from ..conftest import BACKENDS
from ..server_extension.live import LiveServer, WorkspaceFactory, live_server

OPTIONS = {"target": "y", "algorithms": ["linear_regression"], "cv_folds": 2}


@pytest.fixture(scope="module", params=BACKENDS)
def server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LiveServer]:
    with live_server(tmp_path_factory.mktemp(f"slots-{request.param}"), request.param) as s:
        yield s


@pytest.fixture(params=["local", "remote"])
def make(request: pytest.FixtureRequest, server: LiveServer) -> WorkspaceFactory:
    factory = WorkspaceFactory(server, request.param)
    server.principal(factory.tenant, "owner-admin", Role.ADMIN)
    _limit(server, factory.tenant, 1)
    return factory


def _limit(server: LiveServer, tenant: str, n: int) -> None:
    """The tenant's concurrent-training quota, as a platform operator overrides it."""
    store = server.store
    with store.transaction() as session:
        row = store.tenant_record(session, tenant)
        row.quota_overrides = {**(row.quota_overrides or {}), "concurrent_trainings": n}


def _line(ws: Workspace) -> None:
    rng = np.random.default_rng(0)
    x = rng.normal(size=60)
    ws.datasets.save(pd.DataFrame({"x": x, "y": 3 * x + rng.normal(size=60) * 0.1}), "line")


class Running:
    """A training of ``ws`` held at its first progress report until :meth:`finish`."""

    def __init__(self, ws: Workspace) -> None:
        self.started, self._go_on = threading.Event(), threading.Event()
        self.error: BaseException | None = None
        self._thread = threading.Thread(target=self._train, args=(ws,))
        self._thread.start()
        assert self.started.wait(120) or self.error is not None, "the training never started"
        assert self.error is None, self.error

    def _progress(self, _: TrainingProgress) -> None:
        self.started.set()
        assert self._go_on.wait(120)

    def _train(self, ws: Workspace) -> None:
        try:
            ws.train("line", progress=self._progress, **OPTIONS)
        except BaseException as exc:
            self.error = exc
            self.started.set()

    def finish(self) -> None:
        self._go_on.set()
        self._thread.join(120)
        assert self.error is None, self.error


def _running(server: LiveServer, tenant: str) -> int:
    return server.store.training_slots.running(server.principal(tenant, "owner-admin", Role.ADMIN))


def test_kernels_of_a_tenant_together_stay_within_the_quota(
    make: WorkspaceFactory, server: LiveServer
) -> None:
    """While one kernel trains, another kernel of the tenant, of either backend, is refused
    with the plain message; once the first is done the slot is free again."""
    first, second = make("ann", Role.ANALYST), make("bob", Role.ANALYST)
    other_kind = WorkspaceFactory(server, "remote" if make.kind == "local" else "local")
    other_kind.tenant = make.tenant
    third = other_kind("cyd", Role.ANALYST)
    _line(first)
    running = Running(first)
    try:
        assert _running(server, make.tenant) == 1
        for ws in (second, third):
            for call in (ws.train, ws.compare):
                with pytest.raises(QuotaExceeded) as refused:
                    call("line", **OPTIONS)
                assert refused.value.message == (
                    "Your workspace already runs 1 training, the limit is 1; wait for one to "
                    "finish."
                )
    finally:
        running.finish()
    assert _running(server, make.tenant) == 0
    assert second.train("line", **OPTIONS).spec.dataset == "line@1"
    assert _running(server, make.tenant) == 0


def test_the_server_audits_the_refusal(make: WorkspaceFactory, server: LiveServer) -> None:
    first, second = make("ann", Role.ANALYST), make("bob", Role.ANALYST)
    _line(first)
    running = Running(first)
    try:
        with pytest.raises(QuotaExceeded):
            second.compare("line", **OPTIONS)
    finally:
        running.finish()
    admin = server.principal(make.tenant, "owner-admin", Role.ADMIN)
    refusals = server.store.audit.list(admin, actor="bob", action="model.compare")
    assert [(e.outcome, e.resource, e.detail["error"]) for e in refusals] == [
        ("error", "dataset:line@1", "quota_exceeded")
    ]
    taken = server.store.audit.list(admin, actor="ann", action="model.train")
    assert [(e.outcome, e.resource) for e in taken] == [("ok", "dataset:line@1")]


def test_a_viewer_cannot_train(make: WorkspaceFactory, server: LiveServer) -> None:
    _line(make("ann", Role.ANALYST))
    viewer = make("vic", Role.VIEWER)
    for call in (viewer.train, viewer.compare):
        with pytest.raises(Forbidden, match="model:train"):
            call("line", **OPTIONS)
    admin = server.principal(make.tenant, "owner-admin", Role.ADMIN)
    assert len(server.store.audit.list(admin, actor="vic", outcome="denied")) == 2
    assert _running(server, make.tenant) == 0


def test_another_tenants_trainings_do_not_count(make: WorkspaceFactory, server: LiveServer) -> None:
    first = make("ann", Role.ANALYST)
    _line(first)
    elsewhere = WorkspaceFactory(server, make.kind)
    stranger = elsewhere("gus", Role.ANALYST)
    _limit(server, elsewhere.tenant, 1)
    _line(stranger)
    running = Running(first)
    try:
        assert stranger.train("line", **OPTIONS).spec.dataset == "line@1"
    finally:
        running.finish()


# -- the REST routes themselves ---------------------------------------------------------------
def _post(server: LiveServer, token: str, **body: Any) -> Any:
    return server.session(token).post(server.api("/training/slots"), json=body, timeout=60)


def test_rest_refusal_is_429_with_retry_after(server: LiveServer) -> None:
    token = server.token_for("rest-slots", "ann", Role.ANALYST)
    _limit(server, "rest-slots", 1)
    taken = _post(server, token, action="model.train", dataset="sales@1")
    assert taken.status_code == 201 and taken.json()["user"] == "ann"
    refused = _post(server, token, dataset="sales@1")
    assert refused.status_code == 429 and refused.json()["error"] == "quota_exceeded"
    assert int(refused.headers["Retry-After"]) > 0
    slot = taken.json()["id"]
    session = server.session(token)
    renewed = session.put(server.api(f"/training/slots/{slot}"), timeout=60)
    assert renewed.status_code == 200 and renewed.json()["expires_at"] >= taken.json()["expires_at"]
    assert session.delete(server.api(f"/training/slots/{slot}"), timeout=60).status_code == 204
    assert session.delete(server.api(f"/training/slots/{slot}"), timeout=60).status_code == 404
    assert _post(server, token).status_code == 201


def test_rest_a_dead_kernels_expired_slot_is_reclaimed(server: LiveServer) -> None:
    """A kernel that took a slot and died never renews it: once its lifetime is over the
    next request takes its place."""
    token = server.token_for("rest-dead", "ann", Role.ANALYST)
    _limit(server, "rest-dead", 1)
    dead = _post(server, token).json()["id"]
    assert _post(server, token).status_code == 429
    # The dead kernel's lifetime runs out (its expiry moved to the past, as time would).
    with server.store.transaction() as session:
        session.execute(
            update(TrainingSlotRecord)
            .where(TrainingSlotRecord.id == dead)
            .values(expires_at=utcnow() - timedelta(seconds=1))
        )
    taken = _post(server, token)
    assert taken.status_code == 201 and taken.json()["id"] != dead
    session = server.session(token)
    assert session.put(server.api(f"/training/slots/{dead}"), timeout=60).status_code == 404


def test_rest_viewer_and_other_tenants(server: LiveServer) -> None:
    viewer = server.token_for("rest-view", "vic", Role.VIEWER)
    assert _post(server, viewer).status_code == 403
    mine = server.token_for("rest-a", "ann", Role.ANALYST)
    theirs = server.token_for("rest-b", "gus", Role.ANALYST)
    slot = _post(server, mine).json()["id"]
    stranger = server.session(theirs)
    for method in ("PUT", "DELETE"):
        answer = stranger.request(method, server.api(f"/training/slots/{slot}"), timeout=60)
        assert answer.status_code == 404
    assert server.session(mine).delete(server.api(f"/training/slots/{slot}"), timeout=60).ok
