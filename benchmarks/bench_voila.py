"""Voila in a real browser (issue 13, Show): a ``jupyter server`` with the extension and Voila,
headless Chromium driven by Playwright.

1. Cold start: from the request of the app (``voila/render/astralytiq.ipynb``) to the app
   interactive (its navigation buttons drawn and its first page's content shown), against a
   bare notebook with one ipywidgets button in the same run (target <= 1.5x). Each open is a
   new browser context and a new kernel; the two alternate; median.
2. Dashboard filter change: the published dashboard (KPI with a period comparison, four
   charts, a region filter) over a 1,000,000-row dataset and over a 1,000-row one; from
   picking other regions in the filter to every chart redrawn (a new plotly plot drawn in
   each chart's place) and the KPI replaced, measured in the page (target <= 3x).

    python benchmarks/bench_voila.py [--rows 1000000] [--repeat 5]
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(HERE))
from _results import machine_line, write_section  # noqa: E402
from bench_widgets import dashboard_spec, frame  # noqa: E402

SECTION = "## Voila in the browser: app cold start, dashboard filter change"
CHROMIUM = "/usr/bin/chromium"
BASE = "/"
TOKEN = "owner-tok"
BARE = {
    "cells": [
        {
            "cell_type": "code",
            "execution_count": None,
            "metadata": {},
            "outputs": [],
            "source": "import ipywidgets as W\n\nW.Button(description='Click me')",
        }
    ],
    "metadata": {
        "kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"}
    },
    "nbformat": 4,
    "nbformat_minor": 5,
}
# a plot counts as redrawn once its element is new (Output replaced) and plotly drew it
_REDRAWN = """([charts, marker]) => {
  const plots = [...document.querySelectorAll('.js-plotly-plot')]
    .filter(p => !p.hasAttribute(marker) && p.querySelector('.main-svg'));
  const kpis = [...document.querySelectorAll('.aq-kpi')].filter(k => !k.hasAttribute(marker));
  const old = document.querySelectorAll('[' + marker + ']').length;
  return plots.length >= charts && kpis.length >= 1 && old === 0;
}"""
_MARK = """(marker) => {
  document.querySelectorAll('.js-plotly-plot, .aq-kpi').forEach(e => e.setAttribute(marker, ''));
}"""


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def prepare(home: Path, root: Path, rows: int) -> None:
    """The owner's two datasets (``rows`` and 1,000 rows of the same columns), a dashboard
    over each, the packaged apps and the bare notebook in the server's root."""
    import astralytiq_jupyter as aq
    from astralytiq_jupyter.cli import main as cli

    assert cli(["apps", "install", str(root)]) == 0
    (root / "bare.ipynb").write_text(json.dumps(BARE))
    ws = aq.connect(home=home, user="owner")
    started = time.perf_counter()
    ws.datasets.save(frame(rows), "big")
    ws.datasets.save(frame(1000, seed=1), "small")
    for ref in ("big", "small"):
        ws.dashboards.save(dashboard_spec(ref))
    print(f"stored {rows:,} + 1,000 rows in {time.perf_counter() - started:.1f} s", flush=True)


def start_server(tmp: Path, root: Path, home: Path) -> tuple[subprocess.Popen, str]:
    """``jupyter server`` with the extension and Voila; its URL once it answers (the port
    read from its runtime file)."""
    config = tmp / "config"
    config.mkdir()
    sys.path.insert(0, str(REPO))
    from tests.server_extension.live import OTHER_EXTENSIONS

    enabled = {name: False for name in OTHER_EXTENSIONS}
    enabled.update({"astralytiq_jupyter": True, "voila.server_extension": True})
    (config / "jupyter_server_config.json").write_text(
        json.dumps(
            {
                "ServerApp": {
                    "jpserver_extensions": enabled,
                    "identity_provider_class": (
                        "tests.server_extension.users_idp.UsersIdentityProvider"
                    ),
                },
                "UsersIdentityProvider": {"users": {TOKEN: "owner"}},
                "AstralytiQ": {"owner": "owner"},
            }
        )
    )
    env = {
        **os.environ,
        "ASTRALYTIQ_HOME": str(home),
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
            f"--port={_free_port()}",
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
    import requests

    info = tmp / "runtime" / f"jpserver-{server.pid}.json"
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError((tmp / "server.log").read_text()[-3000:])
        if info.exists():
            try:
                url = f"http://127.0.0.1:{json.loads(info.read_text())['port']}{BASE}"
                health = requests.get(
                    f"{url}astralytiq/api/health",
                    headers={"Authorization": f"token {TOKEN}"},
                    timeout=5,
                )
                if health.ok:
                    return server, url
            except (ValueError, KeyError, requests.ConnectionError):
                pass  # the file is being written, or the server not listening yet
        time.sleep(0.3)
    server.terminate()
    raise RuntimeError((tmp / "server.log").read_text()[-3000:])


# Marks in the page's own timeline (ms from the navigation's start): the kernel's id written
# into the page (Voila's template does it once the kernel answers), Voila's end-of-cells
# callback (every cell executed in the kernel, the HTML complete).
_MARKS = """
window.__aq = {};
const mark = (k) => { if (!(k in window.__aq)) window.__aq[k] = performance.now(); };
let finish;
Object.defineProperty(window, 'voila_finish', {configurable: true, get() { return finish; },
  set(f) { finish = (...a) => { mark('cells'); return f(...a); }; }});
new MutationObserver(() => {
  if (document.getElementById('jupyter-config-data')) mark('kernel');
}).observe(document, {childList: true, subtree: true});
"""
_TIMELINE = """() => ({now: performance.now(), marks: window.__aq,
  first_byte: performance.getEntriesByType('navigation')[0].responseStart})"""
#: The phases of a cold start, in order: (key, what it covers).
PHASES = (
    ("first_byte", "request to first byte: viewer resolved, token issued, kernel launched"),
    ("kernel", "kernel ready (Python, ipykernel) to the page knowing its id"),
    ("cells", "notebook cells executed in the kernel, HTML complete"),
    ("front", "front-end: voila.js, widget extensions, kernel connection, widget state, drawn"),
)


def cold_start(browser: Any, url: str, ready: str) -> dict[str, float]:
    """Seconds from the request of a Voila page (new context, new kernel) to ``ready``
    (``total``, timed here), and the page's own timeline split into :data:`PHASES`, with
    the widget models the front-end received (``models``)."""
    context = browser.new_context(viewport={"width": 1366, "height": 900})
    models = [0]

    def count(payload: str | bytes) -> None:
        text = payload if isinstance(payload, str) else payload.decode("latin-1")
        models[0] += text.count('"_model_name"')

    try:
        page = context.new_page()
        page.add_init_script(_MARKS)
        page.on("websocket", lambda ws: ws.on("framereceived", count))
        start = time.perf_counter()
        page.goto(url, timeout=180_000)
        page.wait_for_selector(ready, state="visible", timeout=180_000)
        total = time.perf_counter() - start
        line = page.evaluate(_TIMELINE)
    finally:
        context.close()
    marks, first = line["marks"], line["first_byte"]
    kernel, cells = marks.get("kernel", first), marks.get("cells", first)
    return {
        "total": total,
        "first_byte": first / 1000,
        "kernel": (kernel - first) / 1000,
        "cells": (cells - kernel) / 1000,
        "front": (line["now"] - cells) / 1000,
        "models": float(models[0]),
    }


def open_dashboard(browser: Any, url: str, charts: int) -> Any:
    """A page showing the published dashboard, once its KPI and every chart are drawn."""
    context = browser.new_context(viewport={"width": 1366, "height": 1000})
    page = context.new_page()
    page.goto(url, timeout=180_000)
    page.wait_for_function(
        "(n) => document.querySelectorAll('.js-plotly-plot .main-svg').length >= n "
        "&& document.querySelectorAll('.aq-kpi').length >= 1",
        arg=charts,
        timeout=180_000,
    )
    return page


def filter_change(page: Any, regions: list[str], charts: int) -> float:
    """Seconds from picking ``regions`` in the dashboard's filter to all of it redrawn."""
    marker = f"data-old-{secrets.token_hex(4)}"
    page.evaluate(_MARK, marker)
    select = page.locator(".aq-card select[multiple]").first
    start = time.perf_counter()
    select.select_option(regions)
    page.wait_for_function(_REDRAWN, arg=[charts, marker], timeout=180_000, polling="raf")
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    load = _load()
    tmp = Path(tempfile.mkdtemp(prefix="aq-bench-voila-"))
    root, home = tmp / "root", tmp / "home"
    prepare(home, root, args.rows)
    server, url = start_server(tmp, root, home)
    charts = len(dashboard_spec("big")["charts"])
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(
                executable_path=CHROMIUM,
                args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"],
            )
            app_url = f"{url}voila/render/astralytiq.ipynb?token={TOKEN}"
            bare_url = f"{url}voila/render/bare.ipynb?token={TOKEN}"
            app_ready = ".aq-app .aq-nav button >> nth=0"
            bare_ready = "button.widget-button:has-text('Click me')"
            # untimed first opens: the server's and the browser's first-use costs
            cold_start(browser, bare_url, bare_ready)
            cold_start(browser, app_url, app_ready)
            app: list[dict[str, float]] = []
            bare: list[dict[str, float]] = []
            for i in range(args.repeat):
                pair = [("app", app_url, app_ready), ("bare", bare_url, bare_ready)]
                for name, page_url, ready in pair if i % 2 == 0 else pair[::-1]:
                    timed = cold_start(browser, page_url, ready)
                    (app if name == "app" else bare).append(timed)
                    print(name, {k: round(v, 2) for k, v in timed.items()}, flush=True)
            pages = {
                ref: open_dashboard(
                    browser,
                    f"{url}astralytiq/apps/dashboard.ipynb?name=bench-{ref}&token={TOKEN}",
                    charts,
                )
                for ref in ("small", "big")
            }
            choices = [["East", "West"], ["North"], ["South", "East"], ["West"]]
            for ref in ("small", "big"):  # untimed: first filter change of each page
                filter_change(pages[ref], ["North", "South"], charts)
            changes: dict[str, list[float]] = {"small": [], "big": []}
            for i in range(args.repeat):
                for ref in ("small", "big") if i % 2 == 0 else ("big", "small"):
                    seconds = filter_change(pages[ref], choices[i % len(choices)], charts)
                    changes[ref].append(seconds)
                    print("filter", ref, f"{seconds:.2f}", flush=True)
            browser.close()
    finally:
        server.terminate()
        server.wait(30)
    load_end = _load()
    write(args, app, bare, changes, load, load_end)


def _phase_table(app: list[dict[str, float]], bare: list[dict[str, float]]) -> list[str]:
    """Median seconds of each phase of a cold start, the app against the bare notebook."""

    def median(runs: list[dict[str, float]], key: str) -> float:
        return statistics.median(run[key] for run in runs)

    lines = [
        "| phase of a cold start (median, s) | app | bare | app - bare |",
        "| --- | ---: | ---: | ---: |",
    ]
    for key, what in PHASES:
        a, b = median(app, key), median(bare, key)
        lines.append(f"| {what} | {a:.2f} | {b:.2f} | {a - b:+.2f} |")
    a, b = median(app, "total"), median(bare, "total")
    lines.append(
        f"| **request to interactive** (timed by the driver) | {a:.2f} | {b:.2f} | {a - b:+.2f} |"
    )
    a, b = median(app, "models"), median(bare, "models")
    lines.append(f"| widget models received by the front-end | {a:.0f} | {b:.0f} | {a - b:+.0f} |")
    return lines


def write(
    args: argparse.Namespace,
    app_runs: list[dict[str, float]],
    bare_runs: list[dict[str, float]],
    changes: dict[str, list[float]],
    load: str,
    load_end: str,
) -> None:
    app = [run["total"] for run in app_runs]
    bare = [run["total"] for run in bare_runs]
    a, b = statistics.median(app), statistics.median(bare)
    s, g = statistics.median(changes["small"]), statistics.median(changes["big"])
    lines = [
        SECTION,
        "",
        f"`python benchmarks/bench_voila.py --rows {args.rows} --repeat {args.repeat}`; median "
        f"of {args.repeat} runs each, the two sides alternating. {machine_line()} Headless "
        f"Chromium (Debian) driven by Playwright; one `jupyter server` with the extension and "
        f"Voila's server extension (each page its own kernel). Load average (1 min) at start / "
        f"end: {load} / {load_end} on 2 CPUs shared with other jobs.",
        "",
        "| what | ours (s) | baseline | baseline (s) | ratio | target | met |",
        "| --- | ---: | --- | ---: | ---: | ---: | --- |",
        f"| Voila cold start: `voila/render/astralytiq.ipynb`, request to the app's navigation "
        f"drawn | {a:.2f} | bare notebook, one ipywidgets button drawn | {b:.2f} | "
        f"{a / b:.2f}x | <= 1.5x | {'yes' if a / b <= 1.5 else 'no'} |",
        f"| Dashboard filter change on {args.rows:,} rows, to every chart and the KPI redrawn "
        f"| {g:.2f} | the same on 1,000 rows | {s:.2f} | {g / s:.2f}x | <= 3x | "
        f"{'yes' if g / s <= 3 else 'no'} |",
        "",
        f"- Cold start runs (s): app {', '.join(f'{t:.2f}' for t in app)}; bare "
        f"{', '.join(f'{t:.2f}' for t in bare)}. Each is a new browser context (no cache "
        "shared with the previous open) and a new kernel; both pages' first open was untimed.",
        f"- Filter change runs (s): {args.rows:,} rows "
        f"{', '.join(f'{t:.2f}' for t in changes['big'])}; 1,000 rows "
        f"{', '.join(f'{t:.2f}' for t in changes['small'])}. The dashboard is "
        "`bench_widgets.dashboard_spec` (a revenue KPI against the previous month, bar, line, "
        "pie and histogram charts, a region multi-select), published and opened at "
        "`astralytiq/apps/dashboard.ipynb?name=...`; a change selects other regions in the "
        "browser and ends when each chart shows a newly drawn plotly plot and the KPI card "
        "is replaced (checked on every animation frame).",
        "",
        *_phase_table(app_runs, bare_runs),
        "",
        "Phases are read from the page's own timeline: the response's first byte, the "
        "kernel's id appearing in the page (Voila writes it once the kernel answers), Voila's "
        "end-of-cells callback, the app's first navigation button (or the bare button) "
        "visible. Widget models are counted in the kernel's websocket messages to the page.",
    ]
    write_section(SECTION, "\n".join(lines))
    print("\n".join(lines))


def _load() -> str:
    try:
        return Path("/proc/loadavg").read_text().split()[0]
    except OSError:
        return "?"


if __name__ == "__main__":
    main()
