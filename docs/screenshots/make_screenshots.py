"""Screenshots of each app for the README: a seeded server (the browser tests' own, with the
demo dataset, model and dashboard), headless Chromium, one PNG per app in this folder.

    .venv/bin/python docs/screenshots/make_screenshots.py [--chromium /usr/bin/chromium]

Each page is driven to a state worth showing (a file chosen, a step being previewed, models
compared, a prediction made, a dashboard previewed) and waits for what it shows, never for a
fixed time."""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
sys.path.insert(0, str(REPO))

from tests.apps.test_apps_browser import serving  # noqa: E402
from tests.apps.test_flow_browser import field, figures_drawn  # noqa: E402

WAIT = 180_000
VIEWPORT = {"width": 1280, "height": 800}


def _open(browser: Any, address: str) -> Any:
    page = browser.new_context(viewport=VIEWPORT).new_page()
    page.goto(address, timeout=WAIT)
    return page


def _save(page: Any, name: str, *, top: bool = True) -> None:
    if top:  # the page scrolls inside Voila's container: back to the app's header
        page.locator(".aq-root").first.evaluate("e => e.scrollIntoView()")
    path = HERE / f"{name}.png"
    page.screenshot(path=str(path))
    print(f"{path.relative_to(REPO)}: {path.stat().st_size // 1024} KB")


def shoot(browser: Any, url: str) -> None:
    app = f"{url}astralytiq/apps/astralytiq.ipynb?token=owner-tok"
    sample = REPO / "astralytiq_jupyter" / "data" / "sample_sales.csv"

    page = _open(browser, app)
    page.wait_for_selector(".aq-app >> text=sales", timeout=WAIT)
    _save(page, "app")

    page = _open(browser, f"{url}astralytiq/apps/upload.ipynb?token=owner-tok")
    page.wait_for_selector("text=Choose a file", timeout=WAIT)
    page.set_input_files("input[type=file]", str(sample))
    page.wait_for_selector("text=rows shown", timeout=WAIT)
    _save(page, "upload")

    page = _open(browser, f"{app}&section=explore&ref=sales@1")
    page.wait_for_selector("text=/Profiled sales@1/", timeout=WAIT)
    page.click(".widget-toggle-button:has-text('Charts')")
    figures_drawn(page, 1)
    _save(page, "explore")

    page = _open(browser, f"{app}&section=clean&ref=sales@1")
    page.wait_for_selector("text=Save as new version", timeout=WAIT)
    page.click("button:has-text('Fill missing')")
    panel = page.locator(".aq-clean-panel").first
    columns = panel.locator("select:has(option:text('add a column…'))")
    columns.select_option(label="discount · number")  # the sample's gaps
    panel.locator("select:has(option:text('a value I type'))").select_option(label="the median")
    page.wait_for_selector("text=New step (not added yet)", timeout=WAIT)
    _save(page, "clean")

    page = _open(browser, f"{app}&section=train&ref=sales@1")
    scope = page.locator(".aq-app").first
    scope.locator("select:has(option:has-text('(default)'))").wait_for(timeout=WAIT)
    field(scope, "Target").select_option("revenue")
    scope.locator("select:has(option:text('r2 (default)'))").wait_for(timeout=WAIT)
    page.uncheck("label:has-text('Compare all algorithms') input")
    field(scope, "Algorithms").select_option(["ridge", "hist_gradient_boosting"])
    page.click("button:has-text('Start training')")
    page.wait_for_selector("text=/Trained: best/", timeout=WAIT)
    figures_drawn(page, 2)
    scope.get_by_text("Leaderboard", exact=True).scroll_into_view_if_needed()
    _save(page, "train", top=False)

    page = _open(
        browser, f"{url}astralytiq/apps/predict.ipynb?token=owner-tok&ref=revenue@production"
    )
    page.wait_for_selector("text=/known categories/", timeout=WAIT)
    page.click("button:has-text('Predict')")
    page.wait_for_selector(".aq-prediction", timeout=WAIT)
    _save(page, "predict")

    page = _open(browser, f"{app}&section=dashboards")
    page.click("button:has-text('Edit')", timeout=WAIT)
    page.wait_for_selector("text=/dataset=sales, column=region/", timeout=WAIT)
    _save(page, "dashboard-builder")
    page.click("button:has-text('Preview')")
    figures_drawn(page, 2)

    # the published address, as a viewer of the tenant sees it
    page = _open(browser, f"{url}astralytiq/apps/dashboard.ipynb?name=sales-overview&token=bob-tok")
    page.wait_for_selector(".aq-kpi", timeout=WAIT)
    figures_drawn(page, 2)
    _save(page, "dashboard")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--chromium", default="/usr/bin/chromium")
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    with (
        tempfile.TemporaryDirectory() as tmp,
        serving(Path(tmp)) as server,
        sync_playwright() as playwright,
    ):
        browser = playwright.chromium.launch(
            executable_path=args.chromium, args=["--no-sandbox", "--disable-gpu"]
        )
        try:
            shoot(browser, server["url"])
        finally:
            browser.close()


if __name__ == "__main__":
    main()
