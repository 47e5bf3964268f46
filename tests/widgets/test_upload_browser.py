"""The Upload wizard in a real browser: a Jupyter server with the extension and Voila, the
wizard in a Voila page, headless Chromium choosing a 12.5 MB file. The file goes from the
browser to the upload endpoint with the page's cookie session and XSRF header (Voila's page
sets no ``_xsrf`` cookie: the front-end gets one from the API first), never through the
kernel's websocket, and the wizard reports the stored version."""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from ..server_extension.live import OTHER_EXTENSIONS, free_port

CHROMIUM = "/usr/bin/chromium"
ROWS = 660_000
NOTEBOOK = {
    "cells": [
        {
            "cell_type": "code",
            "execution_count": None,
            "metadata": {},
            "outputs": [],
            "source": ["import astralytiq_jupyter as aq\n", "aq.UploadWizard()"],
        }
    ],
    "metadata": {
        "kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"}
    },
    "nbformat": 4,
    "nbformat_minor": 5,
}

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def jupyter(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """A real ``jupyter server`` (extension and Voila enabled) under a base URL with an
    escaped character, as JupyterHub gives (``/user/name/``)."""
    tmp = tmp_path_factory.mktemp("browser")
    root = tmp / "root"
    root.mkdir()
    (root / "upload.ipynb").write_text(json.dumps(NOTEBOOK))
    port, token, base = free_port(), secrets.token_hex(8), "/user/ann%40acme/"
    env = {
        **os.environ,
        "ASTRALYTIQ_HOME": str(tmp / "home"),
        "JUPYTER_CONFIG_DIR": str(tmp / "config"),
        "JUPYTER_RUNTIME_DIR": str(tmp / "runtime"),
    }
    env.pop("ASTRALYTIQ_URL", None)
    # Only the extension and Voila: the others installed here only slow the start.
    (tmp / "config").mkdir()
    enabled = {name: False for name in OTHER_EXTENSIONS if name != "voila.server_extension"}
    (tmp / "config" / "jupyter_server_config.json").write_text(
        json.dumps({"ServerApp": {"jpserver_extensions": {**enabled, "astralytiq_jupyter": True}}})
    )
    log = (tmp / "server.log").open("w")
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "jupyter_server",
            f"--port={port}",
            "--ip=127.0.0.1",
            "--no-browser",
            "--allow-root",
            f"--IdentityProvider.token={token}",
            f"--ServerApp.base_url={base}",
            f"--ServerApp.root_dir={root}",
        ],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}{base}"
    try:
        deadline = time.monotonic() + 240  # a loaded CI machine
        while time.monotonic() < deadline:
            try:
                status = requests.get(
                    f"{url}astralytiq/api/health",
                    headers={"Authorization": f"token {token}"},
                    timeout=5,
                )
                if status.ok:
                    break
            except (requests.ConnectionError, requests.Timeout):
                pass  # not listening yet, or too busy starting to answer in 5 s
            time.sleep(0.3)
        else:
            raise RuntimeError((tmp / "server.log").read_text()[-3000:])
        yield {"url": url, "token": token, "tmp": tmp}
    finally:
        server.terminate()
        server.wait(30)
        log.close()


@pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="needs Debian's chromium (.ci/run)")
def test_a_large_file_goes_from_the_browser_to_the_server(jupyter: dict[str, Any]) -> None:
    from playwright.sync_api import sync_playwright

    big = jupyter["tmp"] / "big export.csv"
    with big.open("w") as out:
        out.write("region;units;code\n")
        for _ in range(ROWS // 1000):
            out.write("north;12345;000042\n" * 1000)
    assert big.stat().st_size > 10 * 1024 * 1024
    url, token = jupyter["url"], jupyter["token"]
    uploads: list[dict[str, Any]] = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
            ],
        )
        try:
            page = browser.new_page(viewport={"width": 1366, "height": 768})

            def record(request: Any) -> None:
                if request.method == "POST" and "/astralytiq/api/datasets/" in request.url:
                    uploads.append({"url": request.url, "headers": request.headers})

            page.on("request", record)
            # The token in the address logs the browser in (a cookie); it then leaves the URL.
            page.goto(f"{url}voila/render/upload.ipynb?token={token}", timeout=180_000)
            page.wait_for_selector("text=Choose a file", timeout=180_000)
            # Voila pages now carry the _xsrf cookie (set by the extension's prelaunch hook so
            # that leaving a page shuts its kernel down); the upload sends it back.
            assert any(c["name"] == "_xsrf" for c in page.context.cookies())
            page.set_input_files("input[type=file]", str(big))
            page.wait_for_selector("text=rows shown", timeout=60_000)
            name = page.locator("input[placeholder='e.g. sales']")
            assert name.input_value() == "big-export"
            page.click("text=Save dataset")
            page.wait_for_selector("text=Saved big-export@1", timeout=300_000)
            page.screenshot(path=str(jupyter["tmp"] / "upload.png"), full_page=True)
        finally:
            browser.close()
    (upload,) = uploads
    assert upload["url"] == (
        f"{url}astralytiq/api/datasets/big-export/versions?filename=big+export.csv"
    )
    headers = {k.lower(): v for k, v in upload["headers"].items()}
    assert headers["x-xsrftoken"] and "authorization" not in headers
    stored = requests.get(
        f"{url}astralytiq/api/datasets/big-export",
        headers={"Authorization": f"token {token}"},
        timeout=30,
    ).json()
    assert stored["rows"] == ROWS and stored["source"] == "upload"
    assert stored["schema"] == {"region": "str", "units": "int64", "code": "int64"}
