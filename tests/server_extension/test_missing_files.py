"""What the server does about stored files: a version whose file is gone answers 410 naming
it (not a bare 500), the server clears crashed writes' temporary files on its own, and it
refuses a storage that belongs to another store's database."""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression

import astralytiq_jupyter as aq
from astralytiq_jupyter.core.errors import FileMissing
from astralytiq_jupyter.core.models import new_id
from astralytiq_jupyter.core.permissions import Role

from .live import LiveServer, live_server

SIGNATURE = [{"name": "f0", "dtype": "float64"}, {"name": "f1", "dtype": "float64"}]


def _crash_leftover(storage: Path, age: float) -> Path:
    """A temporary file as a writer killed before its first byte leaves it."""
    path = storage / new_id() / "datasets" / new_id() / f".tmp-{new_id()}"
    path.parent.mkdir(parents=True)
    path.touch()
    stamp = time.time() - age
    os.utime(path, (stamp, stamp))
    return path


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    tmp = tmp_path_factory.mktemp("missing")
    storage = tmp / "aqhome" / "storage"
    leftovers = {"old": _crash_leftover(storage, 7200), "young": _crash_leftover(storage, 0)}
    with live_server(tmp, "sqlite") as s:
        s.leftovers = leftovers  # type: ignore[attr-defined]
        yield s


@pytest.fixture(scope="module")
def lost(server: LiveServer) -> dict[str, Any]:
    """Dataset ``sales@1`` and model ``churn@1`` of tenant ``lf``, their files deleted."""
    store = server.store
    admin = server.principal("lf", "ann", Role.ADMIN)
    version = store.datasets.save(admin, pd.DataFrame({"a": [1, 2, 3]}), "sales")
    rng = np.random.default_rng(0)
    X = pd.DataFrame({"f0": rng.normal(size=50), "f1": rng.normal(size=50)})
    model = LogisticRegression().fit(X, (X["f0"] > 0).astype(int))
    store.models.register(
        admin,
        "churn",
        model,
        task="classification",
        algorithm="logistic_regression",
        signature=SIGNATURE,
        output={"kind": "classification", "classes": [0, 1]},
    )
    os.unlink(store.storage.path(store.datasets.storage_key(admin, version.ref)))
    with store.session() as session:
        from astralytiq_jupyter.core.models import ModelVersionRecord

        for key in session.query(ModelVersionRecord.storage_key, ModelVersionRecord.compiled_key):
            for k in key:
                os.unlink(store.storage.path(k))
    return {"token": server.token_for("lf", "vic", Role.VIEWER), "X": X}


@pytest.mark.parametrize(
    ("method", "path", "what"),
    [
        ("GET", "/datasets/sales@1/data", "dataset sales@1"),  # the stored file, sendfile
        ("GET", "/datasets/sales/data?format=csv", "dataset sales@1"),  # encoded on the way
        ("GET", "/datasets/sales@1/profile", "dataset sales@1"),
        ("GET", "/models/churn@1/artifact", "model churn@1"),
        ("POST", "/models/churn/predict", "model churn@1"),
    ],
)
def test_a_version_without_its_file_answers_410_naming_it(
    server: LiveServer, lost: dict[str, Any], method: str, path: str, what: str
) -> None:
    session = server.session(lost["token"])
    body = {"records": lost["X"].head(2).to_dict(orient="records")} if method == "POST" else None
    response = session.request(method, server.api(path), json=body, timeout=60)
    assert response.status_code == 410, response.text
    assert response.json() == {
        "error": "file_missing",
        "message": f"The stored file of {what} is missing; run `astralytiq verify` to check "
        "the store.",
        "detail": {"key": response.json()["detail"]["key"]},
    }
    # The version itself is still listed: only its bytes are gone.
    meta = path.split("/")[1:3]
    assert session.get(server.api(f"/{meta[0]}/{meta[1]}"), timeout=30).status_code == 200


def test_the_remote_client_raises_the_same_error(server: LiveServer, lost: dict[str, Any]) -> None:
    with aq.connect(url=server.url, token=lost["token"]) as ws:
        with pytest.raises(FileMissing, match="dataset sales@1 is missing"):
            ws.datasets.load("sales@1")
        with pytest.raises(FileMissing, match="model churn@1 is missing"):
            ws.models.predict("churn", lost["X"].head(2))


def test_the_server_clears_crashed_writes_on_its_own(server: LiveServer) -> None:
    """At start (then hourly): temporary files older than ``temp_cleanup_seconds`` and the
    folders they leave empty go; a younger one stays (it may be a write in flight)."""

    async def cleaned() -> None:
        await server.ext.cleanup_task

    loop = server.app.io_loop.asyncio_loop
    asyncio.run_coroutine_threadsafe(cleaned(), loop).result(60)
    old, young = server.leftovers["old"], server.leftovers["young"]  # type: ignore[attr-defined]
    assert not old.exists() and not old.parent.parent.parent.exists()
    assert young.exists()


def test_a_server_refuses_another_stores_storage(server: LiveServer, tmp_path: Path) -> None:
    """Paired with the storage of the running server's store, a server on a database of its
    own does not start (with ``reraise_server_extension_failures``; otherwise jupyter_server
    logs the refusal and serves no API)."""
    marker = server.store.storage.read_marker()
    config = {
        "ServerApp": {"reraise_server_extension_failures": True},
        "AstralytiQ": {"storage_url": server.store.storage.root},
    }
    with (
        pytest.raises(RuntimeError, match="failed to start") as info,
        live_server(tmp_path, "sqlite", config),
    ):
        pass  # pragma: no cover - it must not start
    assert f"belongs to store {marker['store_id']}" in str(info.value.__cause__)
    assert server.store.storage.read_marker() == marker
