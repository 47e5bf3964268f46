"""The apps in a real browser: a ``jupyter server`` with the extension, Voila and JupyterLab,
several users, headless Chromium. The app renders under Voila (installed in the workspace at
``/voila/render/...`` and packaged at ``/astralytiq/apps/...``) for the owner and for a viewer
with what each may do, with zero console errors and no 5xx; JupyterLab's Launcher has the
AstralytiQ tile (the prebuilt extension shipped in the wheel) and it opens the app."""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import requests

from astralytiq_jupyter.cli import main as cli
from astralytiq_jupyter.client import LocalBackend, Workspace
from astralytiq_jupyter.core.permissions import Role
from astralytiq_jupyter.demo import DASHBOARD, seed

from ..server_extension.live import OTHER_EXTENSIONS, free_port

CHROMIUM = "/usr/bin/chromium"
REPO = Path(__file__).resolve().parents[2]
USERS = {"owner-tok": "owner", "bob-tok": "bob", "carol-tok": "carol"}
BASE = "/user/ann%40acme/"

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="needs Debian's chromium (.ci/run)"),
]


def _seed(home: Path) -> None:
    """The owner's demo (dataset, model, dashboard); bob views tenant ``default``, carol
    analyses tenant ``other``."""
    backend = LocalBackend.open(home, user="owner")
    try:
        seed(Workspace(backend))
        store = backend.store
        store.ensure_member("default", "bob", Role.VIEWER)
        store.ensure_tenant("other", "Other Inc")
        store.ensure_member("other", "carol", Role.ANALYST)
    finally:
        backend.close()


def _wait_until_serving(server: subprocess.Popen, tmp: Path) -> str:
    """The server's URL once it answers; its port from its runtime file (the one asked for
    may have been taken by another process in the meantime)."""
    info = tmp / "runtime" / f"jpserver-{server.pid}.json"
    deadline = time.monotonic() + 240  # a loaded CI machine
    while time.monotonic() < deadline:
        assert server.poll() is None, (tmp / "server.log").read_text()[-3000:]
        if info.exists():
            try:
                port = json.loads(info.read_text())["port"]
                url = f"http://127.0.0.1:{port}{BASE}"
                health = requests.get(
                    f"{url}astralytiq/api/health",
                    headers={"Authorization": "token owner-tok"},
                    timeout=5,
                )
                if health.ok:
                    return url
            except (ValueError, KeyError, requests.ConnectionError, requests.Timeout):
                pass  # the file is being written, or the server not listening (or slow) yet
        time.sleep(0.3)
    raise RuntimeError((tmp / "server.log").read_text()[-3000:])


@contextmanager
def serving(tmp: Path) -> Iterator[dict[str, Any]]:
    """The seeded ``jupyter server`` (extension, Voila, JupyterLab, the users of ``USERS``)
    with its state under ``tmp``: its URL and ``tmp``. Also used by docs/screenshots."""
    root, config = tmp / "root", tmp / "config"
    config.mkdir()
    assert cli(["apps", "install", str(root)]) == 0  # what a pip user does
    _seed(tmp / "home")
    enabled = {name: False for name in OTHER_EXTENSIONS}
    enabled.update({"astralytiq_jupyter": True, "voila.server_extension": True, "jupyterlab": True})
    (config / "jupyter_server_config.json").write_text(
        json.dumps(
            {
                "ServerApp": {
                    "jpserver_extensions": enabled,
                    "identity_provider_class": (
                        "tests.server_extension.users_idp.UsersIdentityProvider"
                    ),
                },
                "UsersIdentityProvider": {"users": USERS},
                "AstralytiQ": {"owner": "owner"},
            }
        )
    )
    port = free_port()  # taken meanwhile? The server tries the next one: see the runtime file
    env = {
        **os.environ,
        "ASTRALYTIQ_HOME": str(tmp / "home"),
        "JUPYTER_CONFIG_DIR": str(config),
        "JUPYTER_RUNTIME_DIR": str(tmp / "runtime"),
        "PYTHONPATH": str(REPO),
    }
    env.pop("ASTRALYTIQ_URL", None)
    env.pop("ASTRALYTIQ_TOKEN", None)
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
            f"--IdentityProvider.token={secrets.token_hex(8)}",
            f"--ServerApp.base_url={BASE}",
            f"--ServerApp.root_dir={root}",
        ],
        env=env,
        cwd=REPO,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        url = _wait_until_serving(server, tmp)
        yield {"url": url, "tmp": tmp}
    finally:
        server.terminate()
        server.wait(30)
        log.close()


@pytest.fixture(scope="module")
def jupyter(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    with serving(tmp_path_factory.mktemp("apps-browser")) as server:
        yield server


@pytest.fixture
def browser() -> Iterator[Any]:
    """Chromium, per test: Playwright's event loop must not outlive the test (pytest-jupyter
    closes the loop it finds running at teardown)."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
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
            yield chromium
        finally:
            chromium.close()


class Watched:
    """A page and what went wrong on it: console errors, uncaught exceptions, 5xx answers,
    requests that failed (e.g. a CDN the machine cannot resolve)."""

    def __init__(self, context: Any) -> None:
        self.context = context
        self.problems: list[str] = []
        self.page = self.watch(context.new_page())

    def watch(self, page: Any) -> Any:
        page.on(
            "console",
            lambda m: m.type == "error" and self.problems.append(f"console: {m.text}"),
        )
        page.on("pageerror", lambda e: self.problems.append(f"exception: {e}"))
        page.on(
            "response",
            lambda r: r.status >= 500 and self.problems.append(f"{r.status}: {r.url}"),
        )
        page.on("requestfailed", self._failed)
        return page

    def _failed(self, request: Any) -> None:
        # Leaving a Voila page sends its kernel's shutdown as a beacon while the page unloads;
        # the browser reports it aborted though the server gets it (a refusal would still show
        # as a console error).
        if "/voila/api/shutdown/" in request.url and "ERR_ABORTED" in (request.failure or ""):
            return
        self.problems.append(f"failed: {request.url} {request.failure}")


def _app_page(browser: Any, url: str, shot: Path) -> Watched:
    """Open the app at ``url`` and wait until its widgets are drawn."""
    watched = Watched(browser.new_context(viewport={"width": 1366, "height": 900}))
    page = watched.page
    page.goto(url, timeout=180_000)
    page.wait_for_selector(".aq-app .aq-nav button", timeout=180_000)
    page.wait_for_selector(".aq-app .aq-badge", timeout=60_000)
    page.wait_for_load_state("networkidle", timeout=60_000)
    page.screenshot(path=str(shot), full_page=True)
    return watched


def _nav(page: Any) -> list[str]:
    return [t.strip() for t in page.locator(".aq-app .aq-nav button").all_inner_texts()]


def test_the_app_renders_for_the_owner_and_for_a_viewer(browser: Any, jupyter: dict) -> None:
    url = jupyter["url"]
    owner = _app_page(
        browser, f"{url}voila/render/astralytiq.ipynb?token=owner-tok", jupyter["tmp"] / "a.png"
    )
    viewer = _app_page(
        browser, f"{url}astralytiq/apps/astralytiq.ipynb?token=bob-tok", jupyter["tmp"] / "b.png"
    )
    try:
        assert owner.page.locator(".aq-app .aq-badge").first.inner_text() == "admin"
        assert {"Datasets", "Clean", "Train", "Admin"} <= set(_nav(owner.page))
        owner.page.wait_for_selector(".aq-app >> text=sales", timeout=60_000)
        # The viewer's app: the viewer's role, the tenant's data, no action they may not take.
        assert viewer.page.locator(".aq-app .aq-badge").first.inner_text() == "viewer"
        nav = _nav(viewer.page)
        assert "Datasets" in nav and not {"Clean", "Train", "Admin"} & set(nav)
        viewer.page.wait_for_selector(".aq-app >> text=sales", timeout=60_000)
        # In a Voila page the app does not link to itself again.
        assert owner.page.locator("text=Open as dashboard").count() == 0
        assert owner.problems == [] and viewer.problems == []
    finally:
        owner.context.close()
        viewer.context.close()


def test_a_user_of_another_tenant_sees_only_their_tenant(browser: Any, jupyter: dict) -> None:
    carol = _app_page(
        browser,
        f"{jupyter['url']}voila/render/astralytiq.ipynb?token=carol-tok",
        jupyter["tmp"] / "c.png",
    )
    try:
        page = carol.page
        assert page.locator(".aq-app .aq-badge").first.inner_text() == "analyst"
        assert "carol · other" in page.locator(".aq-app .aq-user").first.inner_text()
        page.wait_for_selector(".aq-app >> text=No datasets yet", timeout=60_000)
        assert page.locator(".aq-app >> text=sales").count() == 0
        assert carol.problems == []
    finally:
        carol.context.close()


def test_the_launcher_tile_opens_the_app(browser: Any, jupyter: dict) -> None:
    """The hand-written federated extension loads in JupyterLab: a Launcher tile named
    AstralytiQ whose command opens the app in a new tab."""
    lab = Watched(browser.new_context(viewport={"width": 1366, "height": 900}))
    try:
        lab.page.goto(f"{jupyter['url']}lab?token=owner-tok", timeout=180_000)
        tile = lab.page.locator(".jp-LauncherCard", has_text="AstralytiQ")
        tile.wait_for(timeout=180_000)
        lab.page.screenshot(path=str(jupyter["tmp"] / "lab.png"))
        with lab.context.expect_page(timeout=60_000) as opened:
            tile.click()
        app = lab.watch(opened.value)
        app.wait_for_selector(".aq-app .aq-nav button", timeout=180_000)
        assert app.url.startswith(f"{jupyter['url']}astralytiq/apps/astralytiq.ipynb")
        assert app.locator(".aq-app .aq-badge").first.inner_text() == "admin"
        assert not [p for p in lab.problems if "astralytiq" in p.lower()], lab.problems
    finally:
        lab.context.close()


def test_a_published_dashboard_opens_for_the_tenant_and_is_not_found_elsewhere(
    browser: Any, jupyter: dict
) -> None:
    """The address ``publish`` returns is the packaged dashboard app: a viewer of the tenant
    finds it in the app's list (the app without ``?name=``), follows the link (the page left
    shuts its kernel down) and sees its KPI cards and charts (drawn, non-zero size); a user of
    another tenant sees "not found"; no console error, no 5xx."""
    published = requests.post(
        f"{jupyter['url']}astralytiq/api/dashboards/{DASHBOARD}/publish",
        json={},
        headers={"Authorization": "token owner-tok"},
        timeout=60,
    )
    assert published.status_code == 200, published.text
    path = published.json()["url"]
    assert path == f"{BASE}astralytiq/apps/dashboard.ipynb?name={DASHBOARD}"
    origin = jupyter["url"].removesuffix(BASE)
    viewer = Watched(browser.new_context(viewport={"width": 1366, "height": 900}))
    other = Watched(browser.new_context(viewport={"width": 1366, "height": 900}))
    try:
        page = viewer.page
        # The app without a name lists the tenant's dashboards; the viewer follows the link.
        page.goto(f"{origin}{path.split('?')[0]}?token=bob-tok", timeout=180_000)
        link = page.locator(".aq-dashboard-index a", has_text="Sales overview")
        link.wait_for(timeout=180_000)
        assert link.get_attribute("href") == f"?name={DASHBOARD}"
        page.screenshot(path=str(jupyter["tmp"] / "dashboards.png"), full_page=True)
        listing_kernel = page.evaluate(
            "JSON.parse(document.getElementById('jupyter-config-data').textContent).kernelId"
        )
        link.click()
        page.wait_for_selector(".aq-kpi", timeout=180_000)
        assert page.url == f"{origin}{path}"
        # The page left shut its kernel down (the viewer's token with it).
        kernel = f"{jupyter['url']}api/kernels/{listing_kernel}"
        owner = {"Authorization": "token owner-tok"}
        deadline = time.monotonic() + 60
        while requests.get(kernel, headers=owner, timeout=10).status_code != 404:
            assert time.monotonic() < deadline, "the listing page's kernel still runs"
            time.sleep(0.2)
        plots = page.locator(".js-plotly-plot .main-svg")
        plots.first.wait_for(timeout=120_000)
        page.wait_for_load_state("networkidle", timeout=60_000)
        page.screenshot(path=str(jupyter["tmp"] / "dashboard.png"), full_page=True)
        assert "Sales overview" in page.inner_text("body")
        sizes = [plots.nth(i).bounding_box() for i in range(plots.count())]
        assert len(sizes) >= 2 and all(b and b["width"] > 100 and b["height"] > 100 for b in sizes)
        other.page.goto(f"{origin}{path}&token=carol-tok", timeout=180_000)
        other.page.wait_for_selector("text=/not found/i", timeout=180_000)
        assert "Sales overview" not in other.page.inner_text("body")
        assert viewer.problems == [] and other.problems == []
    finally:
        viewer.context.close()
        other.context.close()


PROBE = (
    "import os\n"
    "import astralytiq_jupyter as aq\n"
    "me = aq.connect().me\n"
    "print('AQPROBE', me.user, me.tenant, me.role.value, os.getpid(), sep='|')\n"
)


def _run_in_kernel(url: str, kernel_id: str, code: str) -> str:
    """Run ``code`` in a running kernel of the server (its websocket channel, as the owner may
    for any kernel of their server) and return what it printed."""
    import uuid

    import websocket

    socket = websocket.create_connection(
        f"ws{url.removeprefix('http')}api/kernels/{kernel_id}/channels",
        header=["Authorization: token owner-tok"],
        timeout=120,
    )
    msg_id = uuid.uuid4().hex
    socket.send(
        json.dumps(
            {
                "header": {
                    "msg_id": msg_id,
                    "msg_type": "execute_request",
                    "session": uuid.uuid4().hex,
                    "username": "test",
                    "version": "5.3",
                },
                "parent_header": {},
                "metadata": {},
                "channel": "shell",
                "buffers": [],
                "content": {"code": code, "silent": False, "store_history": False},
            }
        )
    )
    printed, error = [], None
    try:
        while True:
            msg = json.loads(socket.recv())
            if msg.get("parent_header", {}).get("msg_id") != msg_id:
                continue  # the page's own traffic
            kind = msg["msg_type"]
            if kind == "stream":
                printed.append(msg["content"]["text"])
            elif kind == "error":
                error = "\n".join(msg["content"]["traceback"])
            elif kind == "status" and msg["content"]["execution_state"] == "idle":
                break
    finally:
        socket.close()
    assert error is None, error
    return "".join(printed)


def _environ(pid: int) -> dict[str, str]:
    raw = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
    return dict(item.decode().split("=", 1) for item in raw if b"=" in item)


def test_two_users_opening_the_same_page_at_once_each_get_their_own_kernel(
    browser: Any, jupyter: dict
) -> None:
    """The owner and a viewer open the same app page at the same moment, each in their own
    browser: each page shows its own user, tenant and role; inside each page's kernel
    ``aq.connect().me`` is that user; no token of the owner's (their kernel's platform token,
    the server's token, their login token) is in the viewer's kernel's environment."""
    page_url = f"{jupyter['url']}astralytiq/apps/astralytiq.ipynb"
    users = {"owner": "owner-tok", "bob": "bob-tok"}
    opened = {
        user: Watched(browser.new_context(viewport={"width": 1366, "height": 900}))
        for user in users
    }
    try:
        for user, token in users.items():  # both requests in flight together
            opened[user].page.evaluate(f"window.location.assign({page_url + '?token=' + token!r})")
        seen: dict[str, tuple[str, str, str, int]] = {}
        for user, watched in opened.items():
            page = watched.page
            page.wait_for_selector(".aq-app .aq-badge", timeout=180_000)
            header = page.locator(".aq-app .aq-header").first.inner_text()
            kernel_id = page.evaluate(
                "JSON.parse(document.getElementById('jupyter-config-data').textContent).kernelId"
            )
            printed = _run_in_kernel(jupyter["url"], kernel_id, PROBE)
            probe = next(line for line in printed.splitlines() if line.startswith("AQPROBE"))
            _, name, tenant, role, pid = probe.split("|")
            seen[user] = (name, tenant, role, int(pid))
            assert f"{name} · {tenant}" in header and role in header, header
        assert {u: s[:3] for u, s in seen.items()} == {
            "owner": ("owner", "default", "admin"),
            "bob": ("bob", "default", "viewer"),
        }
        owner_env, viewer_env = _environ(seen["owner"][3]), _environ(seen["bob"][3])
        runtime = jupyter["tmp"] / "runtime"
        (info,) = runtime.glob("jpserver-*.json")
        owner_secrets = {
            "the owner's kernel token": owner_env["ASTRALYTIQ_TOKEN"],
            "the server's token": json.loads(info.read_text())["token"],
            "the owner's login token": users["owner"],
        }
        everything = "\n".join(f"{k}={v}" for k, v in viewer_env.items())
        for what, secret in owner_secrets.items():
            assert secret and secret not in everything, f"{what} is in the viewer's kernel"
        assert viewer_env["ASTRALYTIQ_TOKEN"].startswith("aqt_")
        assert all(w.problems == [] for w in opened.values()), [w.problems for w in opened.values()]
    finally:
        for watched in opened.values():
            watched.context.close()
