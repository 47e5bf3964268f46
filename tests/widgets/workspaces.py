"""Workspaces of both backends for wizard tests: the LocalBackend (core in-process) and the
RemoteBackend (REST API of a live Jupyter server), on a fresh tenant each, as in
``tests/client/test_contract.py``; and small data that trains in a blink."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import numpy as np
import pandas as pd
import pytest

from astralytiq_jupyter.client import LocalBackend, Workspace
from astralytiq_jupyter.client.remote import RemoteBackend
from astralytiq_jupyter.core.permissions import Role

from ..conftest import BACKENDS
from ..server_extension.live import LiveServer, live_server


class Workspaces:
    """``make(user, role)``: a workspace of one kind (local or remote) on one fresh tenant."""

    def __init__(self, server: LiveServer, kind: str) -> None:
        self.server, self.kind = server, kind
        self.tenant = f"w-{uuid.uuid4().hex[:10]}"

    def __call__(self, user: str = "alice", role: Role | str = Role.ANALYST) -> Workspace:
        role = Role(role)
        if self.kind == "local":
            principal = self.server.principal(self.tenant, user, role)
            return Workspace(LocalBackend(self.server.store, principal))
        token = self.server.token_for(self.tenant, user, role)
        return Workspace(RemoteBackend(self.server.url, token))


def server_fixture(name: str):  # noqa: ANN201 - a pytest fixture factory
    @pytest.fixture(scope="module", params=BACKENDS)
    def server(
        request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
    ) -> Iterator[LiveServer]:
        with live_server(tmp_path_factory.mktemp(f"{name}-{request.param}"), request.param) as s:
            yield s

    return server


def customers(n: int = 160, seed: int = 0) -> pd.DataFrame:
    """Customers with a number, a category, a flag and a date, a class to predict (``churn``)
    that depends on them and a numeric target (``spend``)."""
    rng = np.random.default_rng(seed)
    tenure = rng.integers(1, 60, n)
    region = rng.choice(["north", "south", "east"], n, p=[0.5, 0.3, 0.2])
    support = rng.random(n) < 0.4
    score = -0.08 * tenure + 1.5 * support + np.where(region == "east", 1.0, 0.0)
    churn = np.where(score + rng.normal(0, 0.5, n) > -1.2, "yes", "no")
    return pd.DataFrame(
        {
            "tenure": tenure,
            "region": region,
            "support_calls": support,
            "signup": pd.date_range("2023-01-01", periods=n, freq="D"),
            "spend": 20 + 2.5 * tenure + rng.normal(0, 3, n),
            "churn": churn,
        }
    )
