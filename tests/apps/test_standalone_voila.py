"""The apps under standalone ``voila`` (no Jupyter server extension): the app's kernel opens the
embedded store of ``$ASTRALYTIQ_HOME`` as the local user, and the page renders over HTTP and
in a real browser with zero console errors."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from astralytiq_jupyter.apps import NOTEBOOKS
from astralytiq_jupyter.client import LocalBackend, Workspace

from ..server_extension.live import free_port
from ..widgets.conftest import SAMPLE
from .test_apps_browser import CHROMIUM, Watched, browser  # noqa: F401

RUNNING = re.compile(r"(http://127\.0\.0\.1:\d+/)")


@pytest.fixture(scope="module")
def voila(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """``voila <the package's apps folder>`` on a free port with a throwaway store holding one
    dataset and one dashboard; its URL."""
    tmp = tmp_path_factory.mktemp("standalone-voila")
    home = tmp / "home"
    ws = Workspace(LocalBackend.open(home))
    try:
        ws.datasets.ingest(str(SAMPLE), name="sales")
        ws.dashboards.save(
            {
                "name": "by-region",
                "title": "Sales by region",
                "bindings": {"datasets": {"d": "sales"}},
                "charts": [{"id": "c", "type": "bar", "dataset": "d", "x": "region"}],
            }
        )
        me = ws.me
    finally:
        ws.backend.close()
    (tmp / "config").mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ASTRALYTIQ_", "JUPYTER"))}
    env.update(
        ASTRALYTIQ_HOME=str(home),
        JUPYTER_CONFIG_DIR=str(tmp / "config"),  # no server config of the developer's
        JUPYTER_RUNTIME_DIR=str(tmp / "runtime"),
    )
    log_path = tmp / "voila.log"
    with log_path.open("w") as log:
        server = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "voila",
                str(NOTEBOOKS),
                "--no-browser",
                "--Voila.ip=127.0.0.1",
                f"--port={free_port()}",  # taken meanwhile? Voila tries the next: see the log
            ],
            env=env,
            cwd=tmp,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            deadline = time.monotonic() + 180  # a loaded CI machine
            url = None
            while url is None:
                assert server.poll() is None, log_path.read_text()[-3000:]
                assert time.monotonic() < deadline, log_path.read_text()[-3000:]
                found = RUNNING.search(log_path.read_text())
                url = found.group(1) if found else None
                time.sleep(0.2)
            yield {"url": url, "tmp": tmp, "me": me}
        finally:
            server.terminate()
            server.wait(30)


def test_the_app_renders_under_standalone_voila(voila: dict[str, Any]) -> None:
    """Over HTTP: the app's page holds its widget and no error output."""
    page = requests.get(f"{voila['url']}voila/render/astralytiq.ipynb", timeout=300)
    assert page.status_code == 200
    assert "application/vnd.jupyter.widget-view+json" in page.text
    assert '"output_type": "error"' not in page.text and "Traceback" not in page.text


@pytest.mark.browser
@pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="needs Debian's chromium (.ci/run)")
def test_the_app_and_the_dashboard_list_work_in_the_browser(
    browser: Any,  # noqa: F811
    voila: dict[str, Any],
) -> None:
    """In the browser: the app as the local user (admin of tenant ``default``) with the
    stored dataset, and the dashboard app listing the dashboard and opening it by its link;
    no console error, no failed request."""
    watched = Watched(browser.new_context(viewport={"width": 1366, "height": 900}))
    page = watched.page
    try:
        page.goto(f"{voila['url']}voila/render/astralytiq.ipynb", timeout=300_000)
        page.wait_for_selector(".aq-app .aq-badge", timeout=300_000)
        me = voila["me"]
        assert f"{me.user} · default" in page.locator(".aq-app .aq-user").first.inner_text()
        assert page.locator(".aq-app .aq-badge").first.inner_text() == "admin"
        page.wait_for_selector(".aq-app >> text=sales", timeout=120_000)
        page.screenshot(path=str(voila["tmp"] / "app.png"), full_page=True)
        assert watched.problems == []
        page.goto(f"{voila['url']}voila/render/dashboard.ipynb", timeout=300_000)
        link = page.locator(".aq-dashboard-index a", has_text="Sales by region")
        link.wait_for(timeout=300_000)
        link.click()
        page.locator(".js-plotly-plot .main-svg").first.wait_for(timeout=300_000)
        page.screenshot(path=str(voila["tmp"] / "dashboard.png"), full_page=True)
        assert page.url.endswith("dashboard.ipynb?name=by-region")
        # Leaving a page under standalone Voila: its kernel shutdown is refused (403, no
        # _xsrf cookie: voila-dashboards/voila#1458); the kernel stops with the server.
        known = ("/voila/api/shutdown/", "status of 403")
        assert [p for p in watched.problems if not any(k in p for k in known)] == []
    finally:
        watched.context.close()


#: Per figure of the page: (live graph displayed, PNG snapshot displayed).
FIGURES = """Array.from(document.querySelectorAll('.jp-RenderedPlotly')).map(n => {
  const shown = (el) => !!el && getComputedStyle(el).display !== 'none';
  return [shown(n.querySelector('.plot-container')), shown(n.querySelector('.plot-img'))];
})"""


@pytest.mark.browser
@pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="needs Debian's chromium (.ci/run)")
def test_figures_are_interactive_at_once_when_a_section_is_shown_again(
    browser: Any,  # noqa: F811
    voila: dict[str, Any],
) -> None:
    """jupyterlab-plotly stores a PNG snapshot of each figure in its output and, when the
    output is drawn again (the app's section shown again), shows the PNG until the mouse
    enters it. In Voila the extension's renderer keeps no snapshot: every figure is a live
    Plotly graph at once, without hovering."""
    watched = Watched(browser.new_context(viewport={"width": 1366, "height": 900}))
    page = watched.page
    try:
        page.goto(f"{voila['url']}voila/render/astralytiq.ipynb?section=dashboards")
        page.locator(".aq-app button", has_text="Open").first.click(timeout=300_000)
        page.locator(".js-plotly-plot .main-svg").first.wait_for(timeout=120_000)
        page.mouse.move(1360, 890)  # away from every figure: nothing may wait for a hover
        # jupyterlab-plotly takes its snapshot asynchronously after drawing; no event says
        # that none was taken, so give it the time it needs on a loaded machine.
        page.wait_for_timeout(5000)
        first = page.evaluate(FIGURES)
        assert first and all(live and not png for live, png in first), first
        page.locator(".aq-nav button", has_text="Datasets").click()
        page.wait_for_selector(".aq-app >> text=sales", timeout=60_000)
        page.locator(".aq-nav button", has_text="Dashboards").click()
        page.mouse.move(1360, 890)
        page.wait_for_timeout(3000)  # the views of the section drawn again
        again = page.evaluate(FIGURES)
        page.screenshot(path=str(voila["tmp"] / "dashboards-again.png"), full_page=True)
        assert len(again) == len(first) and all(live and not png for live, png in again), again
        assert watched.problems == []
    finally:
        watched.context.close()
