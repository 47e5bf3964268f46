"""Fixtures of the wizard tests: a workspace with the sample sales data."""

from __future__ import annotations

from pathlib import Path

import pytest

SAMPLE = Path(__file__).resolve().parents[2] / "astralytiq_jupyter" / "data" / "sample_sales.csv"


@pytest.fixture
def sales(ws):
    """The sample sales file ingested as ``sales@1``."""
    return ws.datasets.ingest(str(SAMPLE), name="sales")
