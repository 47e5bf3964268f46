"""One tenant cannot exhaust the server: long requests run on a pool of their own, at most
``long_requests_per_tenant`` at once per tenant with ``long_request_queue`` more waiting, and
beyond that a clear 429 with ``Retry-After``; another tenant's short and long requests and
``/health`` answer meanwhile.

Long requests are held deterministically by URL ingests from a server this test controls,
which sends a first line and then waits for the test to let it finish.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import requests

from astralytiq_jupyter.core.permissions import Role
from astralytiq_jupyter.server_extension.admission import RETRY_AFTER_SECONDS
from astralytiq_jupyter.server_extension.routes import api_routes

from .live import LiveServer, live_server

RUNNING, WAITING = 2, 1
#: Far above what an answer takes on an idle server (milliseconds), far below the seconds
#: the held requests last: an answer within it was not stuck behind them.
PROMPT = 5.0
HEAD = b"x,y\n"
REST = b"1,2\n2,4\n"


class SlowSource:
    """An HTTP server on 127.0.0.1 that answers each GET with a CSV whose first line comes at
    once and the rest when :meth:`release` is called; it counts the requests it holds."""

    def __init__(self) -> None:
        self.arrived = threading.Semaphore(0)
        self.gate = threading.Event()
        source = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - the http.server interface
                self.send_response(200)
                self.send_header("Content-Type", "text/csv")
                self.send_header("Content-Length", str(len(HEAD) + len(REST)))
                self.end_headers()
                self.wfile.write(HEAD)
                self.wfile.flush()
                source.arrived.release()
                source.gate.wait(60)
                self.wfile.write(REST)

            def log_message(self, *args: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/data.csv"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def wait_for(self, count: int) -> None:
        for _ in range(count):
            assert self.arrived.acquire(timeout=30), "the server never started the download"

    def release(self) -> None:
        self.gate.set()

    def close(self) -> None:
        self.gate.set()
        self.httpd.shutdown()


@pytest.fixture
def source() -> Iterator[SlowSource]:
    slow = SlowSource()
    yield slow
    slow.close()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    config = {
        "AstralytiQ": {
            "url_import_allowlist": ["127.0.0.1"],
            "long_requests_per_tenant": RUNNING,
            "long_request_queue": WAITING,
            "long_request_threads": 4,
        }
    }
    with live_server(tmp_path_factory.mktemp("resources"), "sqlite", config) as live:
        yield live


class Tenant:
    def __init__(self, server: LiveServer, slug: str) -> None:
        self.server = server
        self.token = server.token_for(slug, f"{slug}-analyst", Role.ANALYST)
        principal = server.principal(slug, f"{slug}-admin", Role.ADMIN)
        server.store.datasets.ingest(principal, b"x,y\n1,2\n3,4\n", "small", filename="s.csv")

    def call(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        kwargs.setdefault("timeout", 60)
        return self.server.session(self.token).request(method, self.server.api(path), **kwargs)

    def ingest(self, url: str, name: str = "slow") -> requests.Response:
        return self.call("POST", f"/datasets/{name}/ingest", json={"url": url})


def timed(fn: Callable[[], requests.Response]) -> tuple[requests.Response, float]:
    started = time.perf_counter()
    response = fn()
    return response, time.perf_counter() - started


def wait_until(condition: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + 30
    while not condition():
        assert time.monotonic() < deadline, what
        time.sleep(0.01)


def test_long_operations_are_the_ones_that_read_write_or_compute_data() -> None:
    long = {op.id for route in api_routes() for op in route.operations.values() if op.long}
    assert long == {
        "dataset.upload",
        "dataset.ingest",
        "dataset.data",
        "dataset.profile",
        "dataset.clusters",
        "dataset.sample",
        "dataset.aggregate",
        "dataset.preview",
        "dataset.apply",
        "model.register",
        "model.artifact",
        "model.score",
    }


def test_a_saturating_tenant_does_not_delay_another(server: LiveServer, source: SlowSource):
    acme, globex = Tenant(server, "acme"), Tenant(server, "globex")
    gate = server.ext.long_gate
    with ThreadPoolExecutor(4) as pool:
        held = [pool.submit(acme.ingest, source.url, f"slow-{i}") for i in range(RUNNING)]
        source.wait_for(RUNNING)  # both are reading, each holding a worker of the long pool
        queued = pool.submit(acme.ingest, source.url, "slow-queued")
        wait_until(lambda: gate.queued("acme") == WAITING, "the third request did not queue")

        refused, took = timed(lambda: acme.call("GET", "/datasets/small/profile"))
        assert refused.status_code == 429 and took < PROMPT
        assert refused.headers["Retry-After"] == str(RETRY_AFTER_SECONDS)
        body = refused.json()
        assert body["detail"]["quota"] == "long_requests" and "retry" in body["message"]

        for call in (
            lambda: globex.call("GET", "/datasets"),
            lambda: globex.call("GET", "/datasets/small/profile"),
            lambda: globex.call("GET", "/datasets/small/data?format=csv"),
            lambda: globex.call("GET", "/health"),
            lambda: acme.call("GET", "/datasets"),  # the tenant's own short requests too
        ):
            response, took = timed(call)
            assert response.status_code == 200 and took < PROMPT, (response.text, took)
        assert not any(f.done() for f in [*held, queued])

        source.release()
        assert [f.result().status_code for f in [*held, queued]] == [201] * (RUNNING + 1)
    wait_until(lambda: gate.active("acme") == 0, "a place was never given back")
    assert acme.call("GET", "/datasets/small/profile").status_code == 200


def test_bad_input_is_refused_before_it_takes_a_place(server: LiveServer, source: SlowSource):
    """Parameters and bodies are checked before a long request takes (or waits for) one of
    its tenant's places: with every place taken, bad input still gets its 400 at once."""
    acme = Tenant(server, "acme")
    gate = server.ext.long_gate
    with ThreadPoolExecutor(RUNNING + WAITING) as pool:
        held = [pool.submit(acme.ingest, source.url, f"full-{i}") for i in range(RUNNING)]
        source.wait_for(RUNNING)
        queued = pool.submit(acme.ingest, source.url, "full-queued")
        wait_until(lambda: gate.queued("acme") == WAITING, "the third request did not queue")
        count = {"metrics": [{"function": "count"}]}
        for method, path, body, field in (
            ("GET", "/datasets/small/sample?n=0", None, "n"),
            ("GET", "/datasets/small/data?offset=-1", None, "offset"),
            ("POST", "/datasets/small/aggregate", {}, "query"),
            ("POST", "/datasets/small/aggregate", {"query": count, "tenant_id": "x"}, "tenant_id"),
            ("POST", "/datasets/small/preview", {"recipe": [], "rows": 10**9}, "rows"),
        ):
            response = acme.call(method, path, json=body)
            assert response.status_code == 400, (path, response.text)
            assert field in response.json()["message"], response.text
        full = acme.call("POST", "/datasets/small/aggregate", json={"query": count})
        assert full.status_code == 429  # valid input meets the full gate
        assert gate.queued("acme") == WAITING and not any(f.done() for f in [*held, queued])
        source.release()
        assert [f.result().status_code for f in [*held, queued]] == [201] * (RUNNING + 1)
    wait_until(lambda: gate.active("acme") == 0, "a place was never given back")


def _abandon(server: LiveServer, token: str, url: str, name: str) -> socket.socket:
    """Send an ingest on a raw connection (closed by the caller), like a client that leaves."""
    body = json.dumps({"url": url}).encode()
    path = urlsplit(server.api(f"/datasets/{name}/ingest")).path
    sock = socket.create_connection(("127.0.0.1", server.port))
    sock.sendall(
        f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {token}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n".encode()
        + body
    )
    return sock


def test_work_left_behind_by_a_client_still_counts(server: LiveServer, source: SlowSource):
    acme = Tenant(server, "acme")
    gate = server.ext.long_gate
    _abandon(server, acme.token, source.url, "left-running").close()
    source.wait_for(1)  # the download goes on without its client
    with ThreadPoolExecutor(2) as pool:
        second = pool.submit(acme.ingest, source.url, "after")
        source.wait_for(1)
        third: Future = pool.submit(acme.ingest, source.url, "queued")
        wait_until(lambda: gate.queued("acme") == 1, "the queued request did not wait")
        # The abandoned download still holds its place: the next one is refused.
        assert acme.call("GET", "/datasets/small/profile").status_code == 429
        source.release()
        assert second.result().status_code == 201 and third.result().status_code == 201
    wait_until(lambda: gate.active("acme") == 0, "the abandoned request kept its place")


def test_a_waiting_request_whose_client_leaves_gives_up_its_turn(
    server: LiveServer, source: SlowSource
):
    acme = Tenant(server, "acme")
    gate = server.ext.long_gate
    with ThreadPoolExecutor(RUNNING) as pool:
        held = [pool.submit(acme.ingest, source.url, f"held-{i}") for i in range(RUNNING)]
        source.wait_for(RUNNING)
        waiting = _abandon(server, acme.token, source.url, "left-waiting")
        wait_until(lambda: gate.queued("acme") == 1, "the request did not wait")
        waiting.close()
        wait_until(lambda: gate.queued("acme") == 0, "a client that left kept its turn")
        source.release()
        assert [f.result().status_code for f in held] == [201] * RUNNING
    wait_until(lambda: gate.active("acme") == 0, "a place was never given back")
    assert "left-waiting" not in {d.name for d in server.store.datasets.list(_admin(server))}


def _admin(server: LiveServer) -> Any:
    return server.principal("acme", "acme-admin", Role.ADMIN)


def test_health_answers_while_every_long_worker_is_busy(server: LiveServer, source: SlowSource):
    """Three tenants hold six long requests: four block the whole long pool, two wait for a
    worker. Six blocked requests used to take every worker of the shared pool, and with it
    ``/health`` and every tenant's short requests."""
    tenants = [Tenant(server, slug) for slug in ("t-one", "t-two", "t-three")]
    with ThreadPoolExecutor(6) as pool:
        held = [
            pool.submit(t.ingest, source.url, f"busy-{i}") for t in tenants for i in range(RUNNING)
        ]
        source.wait_for(4)  # the long pool's four workers are all blocked
        session = server.session(server.token)
        for path in ("/health", "/me", "/datasets", "/tenant"):
            response, took = timed(lambda p=path: session.get(server.api(p), timeout=60))
            assert response.status_code == 200 and took < PROMPT, (path, took)
        source.release()
        assert [f.result().status_code for f in held] == [201] * 6


def test_fifo_is_refused_before_it_is_opened(server: LiveServer, tmp_path: Path) -> None:
    import os

    root = Path(server.app.root_dir)
    os.mkfifo(root / "pipe.csv")
    response, took = timed(
        lambda: server.session(server.token).post(
            server.api("/datasets/pipe/ingest"), json={"url": "pipe.csv"}, timeout=60
        )
    )
    assert response.status_code == 400 and took < PROMPT
