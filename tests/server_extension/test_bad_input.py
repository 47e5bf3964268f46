"""A corpus of bad input through the REST API (issue 10, "bad input that answers 500 or is
stored when it should not be", and more of each class): every case answers a 4xx with a
clear message naming what is wrong, writes nothing (no row of any table but the audit log
and usage counters, no file in storage), and ``/health`` keeps answering meanwhile.

Input that the server can store and serve back (Parquet with null-type and nested columns,
long CSV values up to the documented limit, a legacy encoding chosen explicitly) is shown to
work end to end instead. One live server per database backend serves the module.
"""

from __future__ import annotations

import io
import json
import threading
import time
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import requests
import skops.io as sio
from sklearn.linear_model import LinearRegression
from sqlalchemy import select

from astralytiq_jupyter.core.ingest import MAX_CSV_ROW_BYTES
from astralytiq_jupyter.core.models import AuditEventRecord, Base, UsageCounterRecord
from astralytiq_jupyter.core.permissions import Principal, Role

from ..conftest import BACKENDS
from .live import LiveServer, live_server

HUGE = 10**30
ARTIFACT_LIMIT = 2 * 1024 * 1024  # the module's server: c.AstralytiQ.max_artifact_unpacked_bytes
SIGNATURE = [{"name": "x", "dtype": "float64"}]


def deep(depth: int, leaf: str = "1") -> str:
    """JSON text nested ``depth`` lists deep."""
    return "[" * depth + leaf + "]" * depth


def body(text: str) -> dict[str, Any]:
    return {"data": text.encode(), "headers": {"Content-Type": "application/json"}}


def skops_bytes(model: Any) -> bytes:
    return sio.dumps(model, compression=zipfile.ZIP_DEFLATED)


def fitted(width: int = 1) -> LinearRegression:
    x = pd.DataFrame(np.eye(max(width, 2))[:, :width], columns=[f"x{i}" for i in range(width)])
    return LinearRegression().fit(x if width > 1 else pd.DataFrame({"x": [1.0, 2.0]}), [1.0, 2.0])


def register(metadata: Any, artifact: bytes | None = None, raw: str | None = None) -> dict:
    text = raw if raw is not None else json.dumps(metadata)
    return {
        "files": {"artifact": ("m.skops", artifact or skops_bytes(fitted()))},
        "data": {"metadata": text},
    }


def model_meta(**changes: Any) -> dict[str, Any]:
    return {
        "task": "regression",
        "algorithm": "linear_regression",
        "signature": SIGNATURE,
        **changes,
    }


def parquet(table: pa.Table) -> bytes:
    sink = io.BytesIO()
    pq.write_table(table, sink)
    return sink.getvalue()


# -- a small HTTP server for URL imports (allow-listed on 127.0.0.1) ----------------------
FILES = {
    "/ok.csv": b"a,b\n1,2\n3,4\n",
    "/mixed.csv": "name,city\nZoë,Köln\n".encode() + "Renée,Besançon\n".encode("latin-1"),
}


class _Files(BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802 - http.server's name
        if self.path == "/truncated.csv":
            # Announces a megabyte and sends 8 bytes, then closes the connection.
            self.send_response(200)
            self.send_header("Content-Type", "text/csv")
            self.send_header("Content-Length", "1000000")
            self.end_headers()
            self.wfile.write(b"a,b\n1,2\n")
            self.wfile.flush()
            self.close_connection = True
            return
        data = FILES.get(self.path)
        if data is None:
            self.send_error(404)
            return
        self.send_response(200)
        self.send_header("Content-Type", "text/csv")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture(scope="module")
def files_url() -> Iterator[str]:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Files)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


# -- the server, its world, and the watch on /health ---------------------------------------
class HealthWatch:
    """Polls ``/health`` from a thread for as long as the module runs."""

    def __init__(self, server: LiveServer) -> None:
        self.url = server.api("/health")
        self.session = server.session(server.token)
        self.answered = 0
        self.failures: list[str] = []
        self.slowest = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            started = time.perf_counter()
            try:
                status = self.session.get(self.url, timeout=30).status_code
            except requests.RequestException as exc:
                self.failures.append(repr(exc))
            else:
                if status != 200:
                    self.failures.append(f"HTTP {status}")
                self.slowest = max(self.slowest, time.perf_counter() - started)
                self.answered += 1
            self._stop.wait(0.05)

    def __enter__(self) -> HealthWatch:
        self._thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._stop.set()
        self._thread.join(30)

    def answers_after(self, count: int, within: float = 30.0) -> bool:
        """Whether ``/health`` answered again after ``count`` answers, within ``within`` s."""
        deadline = time.monotonic() + within
        while time.monotonic() < deadline:
            if self.answered > count:
                return True
            time.sleep(0.02)
        return False


@dataclass
class World:
    server: LiveServer
    session: requests.Session
    health: HealthWatch
    files_url: str
    principal: Principal = field(init=False)

    def __post_init__(self) -> None:
        self.principal = self.server.principal("acme", "admin-user", Role.ADMIN)

    def snapshot(self) -> dict[str, Any]:
        """Every row of every table but the audit log and usage counters, and every file
        in storage."""
        store = self.server.store
        skipped = {AuditEventRecord.__tablename__, UsageCounterRecord.__tablename__}
        out: dict[str, Any] = {}
        with store.session() as session:
            for table in Base.metadata.sorted_tables:
                if table.name not in skipped:
                    rows = session.execute(select(table)).all()
                    out[table.name] = sorted(tuple(map(str, row)) for row in rows)
        root = Path(store.storage.root)
        out["files"] = sorted(str(p) for p in root.rglob("*") if p.is_file())
        return out


@pytest.fixture(scope="module", params=BACKENDS)
def world(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, files_url: str
) -> Iterator[World]:
    config = {
        "AstralytiQ": {
            "url_import_allowlist": ["127.0.0.1"],
            "max_artifact_unpacked_bytes": ARTIFACT_LIMIT,
        }
    }
    tmp = tmp_path_factory.mktemp(f"bad-{request.param}")
    with live_server(tmp, request.param, config) as server:
        token = server.token_for("acme", "admin-user", Role.ADMIN)
        session = server.session(token)
        store = server.store
        admin = Principal("admin-user", "acme", Role.ADMIN)
        store.datasets.ingest(admin, b"x,y\n1,2\n2,4\n3,6\n4,9\n", "sales", filename="s.csv")
        store.models.register(
            admin,
            "m",
            fitted(),
            task="regression",
            algorithm="linear_regression",
            signature=SIGNATURE,
        )
        store.models.set_alias(admin, "m", "production", 1)
        store.recipes.save(admin, "r", [{"op": "drop_duplicates"}])
        store.dashboards.save(
            admin,
            {
                "name": "d",
                "title": "D",
                "bindings": {"datasets": {"s": "sales"}},
                "kpis": [{"id": "n", "dataset": "s", "agg": "count"}],
            },
        )
        with HealthWatch(server) as health:
            yield World(server, session, health, files_url)
        assert not health.failures, health.failures


# -- the corpus -------------------------------------------------------------------------------
@dataclass(frozen=True)
class Case:
    """One bad request: what is sent, the status and a part of the message expected."""

    id: str
    method: str
    path: str
    status: int
    message: str
    request: Callable[[World], dict[str, Any]] = lambda w: {}


def _ingest(read_options: dict[str, Any] | None = None, **fields: Any) -> Callable:
    def make(w: World) -> dict[str, Any]:
        payload: dict[str, Any] = {"url": f"{w.files_url}/ok.csv", **fields}
        if read_options is not None:
            payload["read_options"] = read_options
        return {"json": payload}

    return make


def _csv_with_field(size: int) -> bytes:
    return b"a,b\n1," + b"x" * size + b"\n2,y\n"


CASES: list[Case] = [
    # Numbers out of their bounds: refused before any work.
    Case(
        "clusters-k_max-huge",
        "GET",
        f"/datasets/sales/clusters?k_max={HUGE}",
        400,
        "Query parameter 'k_max' must be a whole number from 2 to 50",
    ),
    Case(
        "clusters-k-list-too-long",
        "GET",
        "/datasets/sales/clusters?k=" + ",".join(["2"] * 60),
        400,
        "at most 50 cluster counts",
    ),
    Case(
        "clusters-random_state-huge",
        "GET",
        f"/datasets/sales/clusters?random_state={HUGE}",
        400,
        "'random_state' must be a whole number from 0 to 4,294,967,295",
    ),
    Case(
        "clusters-sample-zero",
        "GET",
        "/datasets/sales/clusters?sample=0",
        400,
        "'sample' must be a whole number from 3",
    ),
    Case(
        "clusters-k_min-above-k_max",
        "GET",
        "/datasets/sales/clusters?k_min=9&k_max=3",
        400,
        "k_min (9) must not be above k_max (3)",
    ),
    Case(
        "profile-bins-huge",
        "GET",
        "/datasets/sales/profile?bins=20000000",
        400,
        "'bins' must be a whole number from 1 to 500",
    ),
    Case(
        "profile-top-negative",
        "GET",
        "/datasets/sales/profile?top=-1",
        400,
        "'top' must be a whole number from 0",
    ),
    Case(
        "list-offset-huge",
        "GET",
        f"/datasets?offset={HUGE}",
        400,
        "'offset' must be a whole number from 0 to 1,000,000,000",
    ),
    Case("list-limit-empty", "GET", "/models?limit=", 400, "'limit' is empty"),
    Case("list-limit-repeated", "GET", "/recipes?limit=1&limit=2", 400, "given 2 times"),
    Case("list-limit-decimal", "GET", "/dashboards?limit=1.5", 400, "'limit' must be a whole"),
    Case("audit-offset-huge", "GET", f"/audit?offset={HUGE}", 400, "'offset' must be a whole"),
    Case("tokens-limit-zero", "GET", "/tokens?limit=0", 400, "'limit' must be a whole number"),
    Case(
        "data-limit-huge",
        "GET",
        f"/datasets/sales/data?limit={HUGE}&format=csv",
        400,
        "'limit' must be a whole number from 0 to 1,000,000,000,000",
    ),
    Case(
        "data-offset-negative",
        "GET",
        "/datasets/sales/data?offset=-1",
        400,
        "'offset' must be a whole number",
    ),
    Case(
        "ref-version-huge",
        "GET",
        f"/datasets/sales@{HUGE}",
        400,
        "no version is numbered that high",
    ),
    Case(
        "model-ref-version-huge",
        "GET",
        f"/models/m@{HUGE}",
        400,
        "no version is numbered that high",
    ),
    Case(
        "preview-rows-huge",
        "POST",
        "/datasets/sales/preview",
        400,
        "Field 'rows' must be a whole number from 1 to 100,000",
        lambda w: {"json": {"recipe": [{"op": "drop_duplicates"}], "rows": HUGE}},
    ),
    Case(
        "preview-rows-text",
        "POST",
        "/datasets/sales/preview",
        400,
        "Field 'rows' must be",
        lambda w: {"json": {"recipe": [{"op": "drop_duplicates"}], "rows": "10"}},
    ),
    Case(
        "alias-version-huge",
        "PUT",
        "/models/m/aliases/staging",
        400,
        "Field 'version' must be a whole number from 1 to 2,147,483,647",
        lambda w: {"json": {"version": HUGE}},
    ),
    Case(
        "alias-version-bool",
        "PUT",
        "/models/m/aliases/staging",
        400,
        "Field 'version'",
        lambda w: {"json": {"version": True}},
    ),
    Case(
        "token-expires-text",
        "POST",
        "/tokens",
        400,
        "Field 'expires_in' must be a number from 60 to 31,536,000",
        lambda w: {"json": {"name": "t", "expires_in": "abc"}},
    ),
    Case(
        "token-expires-1e400",
        "POST",
        "/tokens",
        400,
        "Field 'expires_in' must be a number",
        lambda w: body('{"name": "t", "expires_in": 1e400}'),
    ),
    Case(
        "token-expires-negative",
        "POST",
        "/tokens",
        400,
        "Field 'expires_in' must be",
        lambda w: {"json": {"name": "t", "expires_in": -5}},
    ),
    Case(
        "token-name-too-long",
        "POST",
        "/tokens",
        400,
        "longer than 128 characters",
        lambda w: {"json": {"name": "t" * 300}},
    ),
    Case(
        "dashboard-revision-huge",
        "POST",
        "/dashboards",
        400,
        "Field 'expected_revision'",
        lambda w: {"json": {"spec": {"name": "d2", "title": "D"}, "expected_revision": HUGE}},
    ),
    # Deeply nested JSON, everywhere JSON is taken.
    Case(
        "recipe-save-deep",
        "POST",
        "/recipes",
        400,
        "nested more than 32 levels deep",
        lambda w: body('{"name": "deep", "steps": ' + deep(5000) + "}"),
    ),
    Case(
        "recipe-put-deep",
        "PUT",
        "/recipes/deep",
        400,
        "nested more than 32 levels deep",
        lambda w: body('{"steps": ' + deep(200) + "}"),
    ),
    Case(
        "dashboard-save-deep",
        "POST",
        "/dashboards",
        400,
        "nested more than 32 levels deep",
        lambda w: body('{"spec": {"name": "d3", "title": "x", "layout": ' + deep(5000) + "}}"),
    ),
    Case(
        "dashboard-put-deep",
        "PUT",
        "/dashboards/d",
        400,
        "nested more than 32 levels deep",
        lambda w: body('{"spec": ' + deep(40) + "}"),
    ),
    Case(
        "preview-deep",
        "POST",
        "/datasets/sales/preview",
        400,
        "nested more than 32 levels",
        lambda w: body('{"recipe": ' + deep(5000) + "}"),
    ),
    Case(
        "apply-deep",
        "POST",
        "/datasets/sales/apply",
        400,
        "nested more than 32 levels",
        lambda w: body('{"recipe": ' + deep(5000) + "}"),
    ),
    Case(
        "tenant-settings-deep-900",
        "PATCH",
        "/tenant",
        400,
        "nested more than 32 levels",
        lambda w: body('{"settings": {"a": ' + deep(900) + "}}"),
    ),
    Case(
        "model-metadata-deep",
        "POST",
        "/models/m2/versions",
        400,
        "'metadata' is nested more than 32 levels deep",
        lambda w: register(None, raw='{"task": "regression", "params": ' + deep(5000) + "}"),
    ),
    Case(
        "predict-deep",
        "POST",
        "/models/m/predict",
        400,
        "nested more than 32 levels",
        lambda w: body('{"records": [{"x": ' + deep(5000) + "}]}"),
    ),
    Case(
        "predict-deep-with-nan",
        "POST",
        "/models/m/predict",
        400,
        "nested more than 32",
        lambda w: body('{"records": [{"x": NaN, "y": ' + deep(1500) + "}]}"),
    ),
    Case(
        "ingest-body-deep",
        "POST",
        "/datasets/new/ingest",
        400,
        "nested more than 32",
        lambda w: body(
            '{"url": "http://127.0.0.1/x.csv", "read_options": {"a": ' + deep(5000) + "}}"
        ),
    ),
    Case(
        "upload-json-deep",
        "POST",
        "/datasets/new/versions?filename=d.json",
        400,
        "The JSON file is nested more than 64 levels deep",
        lambda w: {"data": ("[" + deep(5000, '{"a": 1}') + "]").encode()},
    ),
    Case(
        "upload-jsonl-deep",
        "POST",
        "/datasets/new/versions?filename=d.jsonl",
        400,
        "The JSON file is nested more than 64 levels deep",
        lambda w: {"data": ('{"a": 1}\n{"a": ' + deep(3000) + "}\n").encode()},
    ),
    Case(
        "upload-save-recipe-deep",
        "POST",
        "/datasets/new/versions",
        400,
        "'recipe' is nested more than 32 levels deep",
        lambda w: {
            "params": {"mode": "save", "recipe": deep(2000)},
            "data": parquet(pa.table({"a": [1]})),
        },
    ),
    # read_options that would collide with the ingest call's own arguments, and encodings.
    *[
        Case(
            f"read-option-{key}",
            "POST",
            "/datasets/new/ingest",
            400,
            f"Unknown read option(s): '{key}'",
            _ingest({key: "csv"}),
        )
        for key in (
            "format",
            "progress",
            "principal",
            "name",
            "description",
            "note",
            "filename",
            "source",
            "fn",
            "max_bytes",
            "url_allowlist",
        )
    ],
    Case(
        "read-options-not-object",
        "POST",
        "/datasets/new/ingest",
        400,
        "Field 'read_options' must be an object",
        _ingest([1]),
    ),  # type: ignore[arg-type]
    *[
        Case(
            f"encoding-{name}",
            "POST",
            "/datasets/new/ingest",
            400,
            "Unknown text encoding",
            _ingest({"encoding": value}),
        )
        for name, value in (
            ("rot13", "rot13"),
            ("hex", "hex"),
            ("zlib", "zlib"),
            ("base64", "base64"),
            ("nope", "nope"),
            ("number", 5),
            ("nul", "utf-8\x00"),
            ("punycode", "punycode"),
            ("ebcdic", "cp500"),
            ("empty", ""),
        )
    ],
    # Free text that is not text (or too long).
    Case(
        "ingest-description-number",
        "POST",
        "/datasets/new/ingest",
        400,
        "Field 'description' must be text",
        _ingest(description=5),
    ),
    Case(
        "ingest-note-list",
        "POST",
        "/datasets/new/ingest",
        400,
        "Field 'note' must be text",
        _ingest(note=["x"]),
    ),
    Case(
        "apply-note-number",
        "POST",
        "/datasets/sales/apply",
        400,
        "Field 'note' must be text",
        lambda w: {"json": {"recipe": [{"op": "drop_duplicates"}], "note": 5}},
    ),
    Case(
        "score-note-object",
        "POST",
        "/models/m/score",
        400,
        "Field 'note' must be text",
        lambda w: {"json": {"dataset": "sales", "save_as": "scored", "note": {}}},
    ),
    Case(
        "recipe-description-list",
        "POST",
        "/recipes",
        400,
        "Field 'description' must be text",
        lambda w: {"json": {"name": "r2", "steps": [], "description": []}},
    ),
    Case(
        "recipe-put-description-number",
        "PUT",
        "/recipes/r",
        400,
        "Field 'description' must be text",
        lambda w: {"json": {"steps": [{"op": "drop_duplicates"}], "description": 5}},
    ),
    Case(
        "model-description-number",
        "POST",
        "/models/m2/versions",
        400,
        "'description' must be text",
        lambda w: register(model_meta(description=5)),
    ),
    Case(
        "model-note-list",
        "POST",
        "/models/m2/versions",
        400,
        "'note' must be text",
        lambda w: register(model_meta(note=["x"])),
    ),
    Case(
        "upload-description-too-long",
        "POST",
        "/datasets/new/versions",
        400,
        "'description' is longer than 10,000 characters",
        lambda w: {"params": {"filename": "a.csv", "description": "d" * 10_001}, "data": b"a\n1\n"},
    ),
    # Times out of range.
    Case(
        "audit-since-overflows-utc",
        "GET",
        "/audit?since=9999-12-31T23:59:59-14:00",
        400,
        "'since' is outside the supported range of times",
    ),
    Case(
        "audit-until-underflows-utc",
        "GET",
        "/audit?until=0001-01-01T00:00:00%2B14:00",
        400,
        "'until' is outside the supported range of times",
    ),
    Case("audit-since-not-a-time", "GET", "/audit?since=yesterday", 400, "ISO 8601 time"),
    Case(
        "audit-outcome-unknown",
        "GET",
        "/audit?outcome=maybe",
        400,
        "must be one of: ok, denied, error",
    ),
    # Model signatures every prediction would fail on.
    *[
        Case(
            f"signature-{name}",
            "POST",
            "/models/m2/versions",
            400,
            "input signature",
            lambda w, s=signature: register(model_meta(signature=s)),
        )
        for name, signature in (
            ("text", "x"),
            ("list-of-text", ["x"]),
            ("empty", []),
            ("name-not-text", [{"name": 5}]),
            ("dtype-not-text", [{"name": "x", "dtype": 5}]),
            ("duplicate", [{"name": "x"}, {"name": "x"}]),
            ("object", {"name": "x"}),
        )
    ],
    Case(
        "model-params-not-object",
        "POST",
        "/models/m2/versions",
        400,
        "'params' must be an object",
        lambda w: register(model_meta(params=[1])),
    ),
    Case(
        "model-params-10mb",
        "POST",
        "/models/m2/versions",
        400,
        "'metadata' is 10.0 MB; the limit is 1.0 MB",
        lambda w: register(model_meta(params={"blob": "x" * 10_000_000})),
    ),
    Case(
        "model-algorithm-too-long",
        "POST",
        "/models/m2/versions",
        400,
        "'algorithm' is longer than 64",
        lambda w: register(model_meta(algorithm="a" * 65)),
    ),
    Case(
        "model-task-unknown",
        "POST",
        "/models/m2/versions",
        400,
        "Unknown task",
        lambda w: register(model_meta(task="magic")),
    ),
    # Tenant settings that could not be served back, and other settings.
    Case(
        "tenant-settings-not-object",
        "PATCH",
        "/tenant",
        400,
        "Field 'settings' must be an object",
        lambda w: {"json": {"settings": [1, 2]}},
    ),
    Case(
        "tenant-display-name-too-long",
        "PATCH",
        "/tenant",
        400,
        "longer than 200",
        lambda w: {"json": {"display_name": "n" * 300}},
    ),
    Case(
        "tenant-settings-2mb",
        "PATCH",
        "/tenant",
        400,
        "the limit is 1.0 MB",
        lambda w: {"json": {"settings": {"blob": "x" * 2_000_000}}},
    ),
    # JSON metadata too large to store.
    Case(
        "recipe-20mb-parameter",
        "POST",
        "/recipes",
        400,
        "The request body is 20.0 MB; the limit is 1.0 MB",
        lambda w: {
            "json": {
                "name": "big",
                "steps": [
                    {
                        "op": "fill_missing",
                        "columns": ["x"],
                        "strategy": "constant",
                        "value": "v" * 20_000_000,
                    }
                ],
            }
        },
    ),
    Case(
        "recipe-20000-steps",
        "POST",
        "/recipes",
        400,
        "Field 'steps' has 20,000 items; at most 500 are allowed",
        lambda w: {"json": {"name": "long", "steps": [{"op": "drop_duplicates"}] * 20_000}},
    ),
    Case(
        "apply-20000-steps",
        "POST",
        "/datasets/sales/apply",
        400,
        "at most 500 steps",
        lambda w: {"json": {"recipe": [{"op": "drop_duplicates"}] * 20_000}},
    ),
    # Model artifacts: an unpacking bomb and files that are not artifacts.
    Case(
        "artifact-unpacks-too-large",
        "POST",
        "/models/m2/versions",
        400,
        "The model artifact unpacks to",
        lambda w: register(
            model_meta(signature=[{"name": f"x{i}"} for i in range(2)]),
            artifact=skops_bytes(_bomb()),
        ),
    ),
    Case(
        "artifact-not-a-zip",
        "POST",
        "/models/m2/versions",
        400,
        "Not a valid model artifact",
        lambda w: register(model_meta(), artifact=b"not a skops file"),
    ),
    # URL downloads that end early.
    Case(
        "url-truncated",
        "POST",
        "/datasets/new/ingest",
        400,
        "announced 1,000,000 bytes and sent 8",
        lambda w: {"json": {"url": f"{w.files_url}/truncated.csv"}},
    ),
    # CSV rows longer than the documented limit, and files that mix encodings.
    Case(
        "csv-value-over-limit",
        "POST",
        "/datasets/new/versions?filename=a.csv",
        400,
        "Row 2 of the file is longer than 8.4 MB: a CSV row, and so any single value, can "
        "be at most 8.4 MB",
        lambda w: {"data": _csv_with_field(MAX_CSV_ROW_BYTES + 1)},
    ),
    Case(
        "csv-mixed-utf8-latin1",
        "POST",
        "/datasets/new/versions?filename=a.csv",
        400,
        "The file mixes text encodings: line 2 is UTF-8 ('ë')",
        lambda w: {"data": FILES["/mixed.csv"]},
    ),
    Case(
        "csv-latin1-then-utf8",
        "POST",
        "/datasets/new/versions?filename=a.csv",
        400,
        "The file mixes text encodings",
        lambda w: {
            "data": b"n\n" + "Renée\n".encode("latin-1") * 40 + b"x\n" * 200_000 + "Zoë\n".encode()
        },
    ),
    # Request bodies that are not what the operation takes.
    Case(
        "body-not-json",
        "POST",
        "/recipes",
        400,
        "The request body is not valid JSON",
        lambda w: body("{nope"),
    ),
    Case(
        "body-not-object",
        "POST",
        "/recipes",
        400,
        "must be a JSON object",
        lambda w: body("[1, 2]"),
    ),
    Case(
        "body-unknown-field",
        "POST",
        "/recipes",
        400,
        "Unknown field(s): tenant_id",
        lambda w: {"json": {"name": "x", "steps": [], "tenant_id": "other"}},
    ),
    Case("query-not-utf8", "GET", "/datasets?search=%ff", 400, "not valid UTF-8"),
]


def _bomb() -> LinearRegression:
    """A model whose artifact is a few kB and unpacks to 4 MB (zeros compress well)."""
    model = fitted(2)
    model.coef_ = np.zeros(500_000)
    return model


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_bad_input_is_refused_and_writes_nothing(world: World, case: Case) -> None:
    before = world.snapshot()
    answered = world.health.answered
    response = world.session.request(
        case.method, world.server.api(case.path), timeout=120, **case.request(world)
    )
    assert response.status_code == case.status, response.text[:500]
    reply = response.json()
    assert case.message in reply["message"], reply["message"]
    assert reply["error"] == "invalid"
    assert world.snapshot() == before, "a refused request changed the store"
    assert world.health.answers_after(answered), "/health stopped answering"
    assert not world.health.failures, world.health.failures


def test_tenant_stays_readable_after_refused_settings(world: World) -> None:
    refused = world.session.patch(
        world.server.api("/tenant"), timeout=30, **body('{"settings": ' + deep(900) + "}")
    )
    assert refused.status_code == 400
    assert world.session.get(world.server.api("/tenant"), timeout=30).status_code == 200
    # The deepest settings accepted are served back as they were stored.
    nested = json.loads(deep(29))
    saved = world.session.patch(
        world.server.api("/tenant"), json={"settings": {"n": nested}}, timeout=30
    )
    assert saved.status_code == 200, saved.text
    served = world.session.get(world.server.api("/tenant"), timeout=30).json()
    assert served["settings"]["n"] == nested


def test_parquet_null_and_nested_columns_are_stored_as_text_and_served(world: World) -> None:
    """Null-type columns become text columns of missing values; struct fields become
    ``parent.child`` columns; lists and maps become JSON text, as JSON imports store them;
    then profile, CSV download and preview all answer."""
    table = pa.table(
        {
            "id": [1, 2],
            "empty": pa.array([None, None], type=pa.null()),
            "point": pa.array([{"x": 1, "y": "a"}, {"x": 2, "y": None}]),
            "tags": pa.array([["a", "b"], []]),
            "attrs": pa.array([[("k", 1)], None], type=pa.map_(pa.string(), pa.int64())),
        }
    )
    session, api = world.session, world.server.api
    created = session.post(
        api("/datasets/typed/versions"),
        params={"filename": "t.parquet"},
        data=parquet(table),
        timeout=60,
    )
    assert created.status_code == 201, created.text
    assert created.json()["schema"] == {
        "id": "int64",
        "empty": "str",
        "point.x": "int64",
        "point.y": "str",
        "tags": "str",
        "attrs": "str",
    }
    profile = session.get(api("/datasets/typed/profile"), timeout=60)
    assert profile.status_code == 200, profile.text
    csv = session.get(api("/datasets/typed/data"), params={"format": "csv"}, timeout=60)
    assert csv.status_code == 200
    frame = pd.read_csv(io.StringIO(csv.text))
    assert frame["tags"].tolist() == ['["a", "b"]', "[]"]
    assert frame["attrs"].tolist()[0] == '[["k", 1]]'
    assert frame["point.y"].isna().tolist() == [False, True]
    preview = session.post(
        api("/datasets/typed/preview"), json={"recipe": [{"op": "drop_duplicates"}]}, timeout=60
    )
    assert preview.status_code == 200, preview.text


def test_long_csv_values_up_to_the_limit_are_read(world: World) -> None:
    """One limit for every reader: a value of 0.5 MB (once refused), 3 MB (once pyarrow's
    "straddling object" error) or just under the limit is read whole."""
    for size in (512 * 1024, 3 * 1024 * 1024, MAX_CSV_ROW_BYTES - 16):
        created = world.session.post(
            world.server.api("/datasets/long/versions"),
            params={"filename": "l.csv"},
            data=_csv_with_field(size),
            timeout=120,
        )
        assert created.status_code == 201, (size, created.text)
        assert created.json()["rows"] == 2
    loaded = world.server.store.datasets.load(world.principal, "long")
    assert len(loaded["b"][0]) == MAX_CSV_ROW_BYTES - 16


def test_a_chosen_encoding_reads_a_mixed_file_as_asked(world: World) -> None:
    """Refused when detected; read as the caller says when they choose the encoding."""
    created = world.session.post(
        world.server.api("/datasets/mixed/ingest"),
        json={"url": f"{world.files_url}/mixed.csv", "read_options": {"encoding": "utf-8"}},
        timeout=60,
    )
    assert created.status_code == 400  # Latin-1 bytes are not UTF-8: a precise refusal
    assert "not valid utf-8 text" in created.json()["message"]
    created = world.session.post(
        world.server.api("/datasets/mixed/ingest"),
        json={"url": f"{world.files_url}/mixed.csv", "read_options": {"encoding": "cp1252"}},
        timeout=60,
    )
    assert created.status_code == 201, created.text
    names = world.server.store.datasets.load(world.principal, "mixed")["name"].tolist()
    assert names == ["ZoÃ«", "Renée"]
