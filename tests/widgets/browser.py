"""The browser's side of the streamed upload, for tests without a browser: the messages the
front-end (``static/browser_upload.js``) exchanges with the kernel, the request it builds
(computed by that very module, run in Node.js), and a page's cookie session."""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import requests

from astralytiq_jupyter.widgets.browser_upload import BrowserUpload

from ..server_extension.live import BASE_URL, LiveServer

JS = Path(__file__).resolve().parents[2] / "astralytiq_jupyter" / "widgets" / "static"
JS_MODULE = JS / "browser_upload.js"
NODE = shutil.which("node")


def run_js(expression: str) -> Any:
    """Evaluate ``expression`` (with the module imported as ``m``) in Node.js; its JSON."""
    assert NODE is not None, "Node.js runs the front-end's own code in these tests"
    script = (
        f"import * as m from {json.dumps(JS_MODULE.as_uri())};\n"
        f"console.log(JSON.stringify(await ({expression})));"
    )
    out = subprocess.run(
        [NODE, "--input-type=module", "-e", script],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return json.loads(out.stdout)


def fake_document(config: dict[str, Any] | None, body_base: str = "") -> str:
    """A JS expression for a page's ``document`` as far as the module reads it."""
    text = json.dumps(json.dumps(config)) if config is not None else "null"
    return (
        "({getElementById: (id) => id === 'jupyter-config-data' && "
        f"{text} !== null ? {{textContent: {text}}} : null, "
        f"body: {{dataset: {{baseUrl: {json.dumps(body_base)}}}}}}})"
    )


def js_upload_request(server: LiveServer, upload: dict[str, Any], xsrf: str) -> dict[str, Any]:
    """The request the front-end makes for the kernel's ``upload`` message, on a JupyterLab
    page of ``server`` (base URL from the page's config data)."""
    page = f"{server.url}lab/tree/analysis.ipynb"
    document = fake_document({"baseUrl": BASE_URL, "appName": "JupyterLab"})
    args = {"origin": page, "name": upload["name"], "query": upload["query"], "xsrf": xsrf}
    return run_js(f"m.uploadRequest({{...{json.dumps(args)}, base: m.baseUrl({document})}})")


def browser_session(server: LiveServer, *, drop_xsrf: bool = False) -> requests.Session:
    """A browser's cookie session: the login page's ``_xsrf`` cookie, then a login with the
    server's token typed as the password. No ``Authorization`` header is ever set."""
    session = requests.Session()
    session.get(f"{server.url}login", timeout=30)
    xsrf = session.cookies.get("_xsrf")
    assert xsrf, "the login page sets the _xsrf cookie"
    response = session.post(
        f"{server.url}login",
        data={"password": server.token, "_xsrf": xsrf},
        allow_redirects=False,
        timeout=30,
    )
    assert response.status_code in (302, 303), response.text
    assert any(c.name.startswith("username-") for c in session.cookies)
    if drop_xsrf:
        for cookie in list(session.cookies):
            if cookie.name == "_xsrf":
                session.cookies.clear(cookie.domain, cookie.path, cookie.name)
    return session


class _Body:
    """A sized body read in chunks as the browser reads a File: Content-Length is sent, the
    bytes are produced lazily (never whole in memory) and progress is reported."""

    def __init__(self, chunks: Iterable[bytes], total: int, side: BrowserSide) -> None:
        self._chunks: Iterator[bytes] = iter(chunks)
        self._total, self._side, self._sent = total, side, 0
        self._pending = b""

    def __len__(self) -> int:
        return self._total

    def read(self, size: int = -1) -> bytes:
        if not self._pending:
            self._pending = next(self._chunks, b"")
            if self._pending:
                self._side.chunks_sent += 1
        n = len(self._pending) if size is None or size < 0 else size
        out, self._pending = self._pending[:n], self._pending[n:]
        self._sent += len(out)
        if out:
            self._side.progress(self._sent, self._total)
        return out


class BrowserSide:
    """Plays the front-end's part: delivers its messages to the widget as the comm does
    (``_handle_msg`` with a ``custom`` method and buffers) and records what the kernel sends."""

    def __init__(self, widget: BrowserUpload | None) -> None:
        assert widget is not None
        self.widget = widget
        self.sent: list[dict[str, Any]] = []
        self.chunks_sent = 0
        self.progress_reported = 0
        self._last_fraction = -1.0
        widget.send = lambda content, buffers=None: self.sent.append(content)  # type: ignore[method-assign]
        self.name, self.data = "", b""

    def deliver(self, content: dict[str, Any], buffers: list[Any] | None = None) -> None:
        message = {
            "content": {"data": {"method": "custom", "content": content}},
            "buffers": buffers or [],
        }
        self.widget._handle_msg(message)

    def choose(self, name: str, data: bytes) -> None:
        self.name, self.data = name, data
        self.deliver({"type": "chosen", "name": name, "size": len(data), "last_modified": 0})

    def deliver_head(self) -> None:
        request = self.sent[-1]
        assert request["type"] == "read"
        head = self.data[: request["length"]]
        self.deliver(
            {
                "type": "head",
                "name": self.name,
                "size": len(self.data),
                "complete": len(head) >= len(self.data),
            },
            [memoryview(head)],
        )

    def progress(self, loaded: int, total: int) -> None:
        # The front-end reports at most every 100 ms; here every 10% is plenty.
        fraction = loaded / total
        if fraction - self._last_fraction >= 0.1 or loaded == total:
            self._last_fraction = fraction
            self.progress_reported += 1
            self.deliver({"type": "progress", "loaded": loaded, "total": total})

    def stream(
        self,
        session: requests.Session,
        request: dict[str, Any],
        chunks: Iterable[bytes],
        total: int,
    ) -> requests.Response:
        return session.request(
            request["method"],
            request["url"],
            data=_Body(chunks, total, self),
            headers=request["headers"],
            timeout=300,
        )

    def stream_cut_short(
        self, session: requests.Session, request: dict[str, Any], total: int, after: int
    ) -> None:
        """Announce ``total`` bytes, send ``after`` of them and close, as an aborted XHR."""
        url = urlsplit(request["url"])
        cookies = "; ".join(f"{c.name}={c.value}" for c in session.cookies)
        lines = [
            f"{request['method']} {url.path}?{url.query} HTTP/1.1",
            f"Host: {url.netloc}",
            f"Content-Length: {total}",
            f"Cookie: {cookies}",
            *[f"{k}: {v}" for k, v in request["headers"].items()],
        ]
        with socket.create_connection((url.hostname, url.port), timeout=30) as sock:
            sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
            sock.sendall(b"a,b\n" + b"1,2\n" * (after // 4))

    def deliver_result(self, response: requests.Response) -> None:
        self.deliver(
            {
                "type": "result",
                "status": response.status_code,
                "body": response.text,
                "url": response.url,
            }
        )
