"""The extension loads in a real Jupyter server and answers under astralytiq/api/."""

from __future__ import annotations

import json
import re

import pytest
from tornado.httpclient import HTTPClientError


async def test_health(jp_fetch):
    response = await jp_fetch("astralytiq", "api", "health")
    body = json.loads(response.body)
    assert body["status"] == "ok" and body["schema"]


async def test_me_is_owner_admin_of_default(jp_fetch):
    body = json.loads((await jp_fetch("astralytiq", "api", "me")).body)
    assert body["user"] == "owner" and body["tenant"] == "default" and body["role"] == "admin"
    assert "dataset:write" in body["permissions"]


@pytest.mark.parametrize("route", ["health", "me"])
async def test_requires_credentials(jp_fetch, route):
    with pytest.raises(HTTPClientError) as info:
        await jp_fetch("astralytiq", "api", route, headers={"Authorization": ""})
    assert info.value.code == 403


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
