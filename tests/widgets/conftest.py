"""Fixtures of the wizard tests: a workspace with the sample sales data."""

from __future__ import annotations

from pathlib import Path

import pytest

SAMPLE = Path(__file__).resolve().parents[2] / "astralytiq_jupyter" / "data" / "sample_sales.csv"


@pytest.fixture
def sales(ws):
    """The sample sales file ingested as ``sales@1``."""
    return ws.datasets.ingest(str(SAMPLE), name="sales")


@pytest.fixture(scope="module")
def live(tmp_path_factory):
    """One live Jupyter server with the extension for a test module."""
    from ..server_extension.live import live_server

    with live_server(tmp_path_factory.mktemp("widgets-live"), "sqlite") as server:
        yield server


@pytest.fixture(params=["local", "remote"])
def both(request, live):
    """A factory of workspaces (``both(user, role)``) on a fresh tenant, through the
    LocalBackend and through the RemoteBackend: wizards must behave the same on both."""
    from ..server_extension.live import WorkspaceFactory

    return WorkspaceFactory(live, request.param)
