"""The extension loads in a real Jupyter server and answers under astralytiq/api/."""

from __future__ import annotations

import functools
import json
import re
import threading
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer

import pytest
from tornado.httpclient import HTTPClientError


async def test_health(jp_fetch):
    response = await jp_fetch("astralytiq", "api", "health")
    body = json.loads(response.body)
    assert body["status"] == "ok" and body["schema"] and body["version"]


@pytest.mark.parametrize(
    "credentials", ["", "token not-the-token", "Bearer aqt_" + "0" * 32 + "_" + "A" * 43]
)
async def test_health_answers_liveness_without_credentials(jp_fetch, credentials):
    """Monitoring probes have no credentials: liveness only, nothing about tenants, the
    version or the database."""
    response = await jp_fetch("astralytiq", "api", "health", headers={"Authorization": credentials})
    assert response.code == 200 and json.loads(response.body) == {"status": "ok"}
    with pytest.raises(HTTPClientError) as info:
        await jp_fetch(
            "astralytiq", "api", "health", params={"verbose": "1"}, headers={"Authorization": ""}
        )
    assert info.value.code == 400


class TestUrlIngest:
    """The server reads an allow-listed URL; the same content again answers 200 (reused)."""

    @pytest.fixture
    def jp_server_config(self, jp_server_config):
        jp_server_config["AstralytiQ"]["url_import_allowlist"] = ["127.0.0.1"]
        return jp_server_config

    @pytest.fixture
    def csv_url(self, tmp_path):
        (tmp_path / "web").mkdir()
        (tmp_path / "web" / "sales.csv").write_text("a,b\n1,x\n2,y\n")
        handler = functools.partial(SimpleHTTPRequestHandler, directory=str(tmp_path / "web"))
        httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        thread = threading.Thread(target=httpd.serve_forever, daemon=True)
        thread.start()
        yield f"http://127.0.0.1:{httpd.server_address[1]}/sales.csv"
        httpd.shutdown()
        httpd.server_close()

    async def test_same_download_is_reused(self, jp_fetch, csv_url):
        async def ingest(**extra):
            body = json.dumps({"url": csv_url, **extra})
            return await jp_fetch(
                "astralytiq", "api", "datasets", "web", "ingest", method="POST", body=body
            )

        first, second, forced = await ingest(), await ingest(), await ingest(force=True)
        assert [r.code for r in (first, second, forced)] == [201, 200, 201]
        refs = [
            (json.loads(r.body)["ref"], json.loads(r.body)["reused"])
            for r in (first, second, forced)
        ]
        assert refs == [("web@1", False), ("web@1", True), ("web@2", False)]
        with pytest.raises(HTTPClientError) as info:
            await ingest(read_options={"force": True})
        assert info.value.code == 400


async def test_me_is_owner_admin_of_default(jp_fetch):
    body = json.loads((await jp_fetch("astralytiq", "api", "me")).body)
    assert body["user"] == "owner" and body["tenant"] == "default" and body["role"] == "admin"
    assert "dataset:write" in body["permissions"]


async def test_requires_credentials(jp_fetch):
    with pytest.raises(HTTPClientError) as info:
        await jp_fetch("astralytiq", "api", "me", headers={"Authorization": ""})
    assert info.value.code == 403


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", ("astralytiq", "api", "nope")),
        ("GET", ("astralytiq", "api", "datasets", "x", "nope", "deeper")),
        ("POST", ("astralytiq", "api", "nope")),
        ("DELETE", ("astralytiq", "api", "models", "m", "unknown")),
        ("GET", ("astralytiq", "api", "")),
        ("GET", ("astralytiq", "api")),
    ],
)
@pytest.mark.parametrize("credentials", [None, ""])
async def test_unknown_api_paths_answer_json_404(jp_fetch, method, path, credentials):
    headers = {} if credentials is None else {"Authorization": credentials}
    body = b"{}" if method == "POST" else None
    with pytest.raises(HTTPClientError) as info:
        await jp_fetch(*path, method=method, body=body, headers=headers, follow_redirects=False)
    response = info.value.response
    assert info.value.code == 404
    assert response.headers["Content-Type"].startswith("application/json")
    assert json.loads(response.body)["error"] == "not_found"


def test_extension_is_enabled_by_installing(tmp_path):
    import subprocess
    import sys

    out = subprocess.run(
        [sys.executable, "-m", "jupyter", "server", "extension", "list"],
        capture_output=True,
        text=True,
        check=True,
    )
    text = out.stdout + out.stderr
    assert re.search(r"astralytiq_jupyter\s.*enabled", text)
    assert re.search(r"astralytiq_jupyter\s.*OK", text), text


async def test_api_calls_are_metered(jp_fetch, jp_serverapp):
    for _ in range(3):
        await jp_fetch("astralytiq", "api", "me")
    app = jp_serverapp.web_app.settings["astralytiq"]
    app.store.usage.flush()
    usage = json.loads((await jp_fetch("astralytiq", "api", "tenant", "usage")).body)
    assert usage["used"]["api_calls_per_month"] >= 4
