"""Demo content so that a newcomer sees charts at once: the bundled sales data, a model that
predicts revenue from it (registered, alias ``production``) and a dashboard over both.

:func:`seed` is idempotent: what exists is kept, so running it twice changes nothing
(``astralytiq demo seed``, run by ``make run``). It uses only the Workspace API, so it seeds
the embedded store or a server alike.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .core.errors import NotFound

if TYPE_CHECKING:
    from .client.workspace import Workspace

DATASET = "sales"
MODEL = "revenue"
ALIAS = "production"
DASHBOARD = "sales-overview"
#: Quick to train on the sample (a few seconds), and compiled for serving.
ALGORITHMS = ["ridge", "hist_gradient_boosting"]


@dataclass(frozen=True)
class Seeded:
    """What the demo consists of, and what this run created (``created`` empty: nothing)."""

    dataset: str
    model: str
    dashboard: str
    created: tuple[str, ...]


def dashboard_spec() -> dict[str, Any]:
    """The demo dashboard: revenue KPIs, revenue by region and over time, a region filter."""
    return {
        "name": DASHBOARD,
        "title": "Sales overview",
        "description": "Revenue of the sample sales data, by region, product and day.",
        "bindings": {"datasets": {"sales": DATASET}, "models": {"revenue": f"{MODEL}@{ALIAS}"}},
        "filters": [
            {"id": "region", "title": "Region", "dataset": "sales", "column": "region",
             "type": "multi_select"},
        ],
        "kpis": [
            {"id": "revenue_total", "title": "Revenue", "dataset": "sales", "column": "revenue",
             "agg": "sum"},
            {"id": "orders", "title": "Orders", "dataset": "sales", "agg": "count"},
        ],
        "charts": [
            {"id": "by_region", "title": "Revenue by region", "type": "bar", "dataset": "sales",
             "x": "region", "y": "revenue", "agg": "sum"},
            {"id": "over_time", "title": "Revenue by day", "type": "line", "dataset": "sales",
             "x": "date", "y": "revenue", "agg": "sum"},
        ],
        "layout": [
            {"item": "region", "x": 0, "y": 0, "w": 12, "h": 1},
            {"item": "revenue_total", "x": 0, "y": 1, "w": 6, "h": 2},
            {"item": "orders", "x": 6, "y": 1, "w": 6, "h": 2},
            {"item": "by_region", "x": 0, "y": 3, "w": 6, "h": 6},
            {"item": "over_time", "x": 6, "y": 3, "w": 6, "h": 6},
        ],
    }  # fmt: skip


def seed(ws: Workspace, *, say: Callable[[str], None] = lambda _m: None) -> Seeded:
    """Make sure the demo dataset, model and dashboard exist in ``ws``'s tenant; create only
    what is missing."""
    from .data import sample_path

    created = []
    try:
        dataset = ws.datasets.get(DATASET)
    except NotFound:
        say(f"Ingesting the sample sales data as '{DATASET}'...")
        dataset = ws.datasets.ingest(
            sample_path("sales"), name=DATASET, description="Daily sales by region and product"
        )
        created.append(dataset.ref)
    try:
        model = ws.models.get(f"{MODEL}@{ALIAS}")
    except NotFound:
        say(f"Training a model of revenue on {dataset.ref}...")
        result = ws.train(dataset.ref, target="revenue", algorithms=ALGORITHMS, cv_folds=3)
        model = ws.models.register(MODEL, result, description="Revenue of a sale")
        model = ws.models.set_alias(MODEL, ALIAS, model.version)
        created.append(model.ref)
    try:
        ws.dashboards.get(DASHBOARD)
    except NotFound:
        say(f"Saving the dashboard '{DASHBOARD}'...")
        ws.dashboards.save(dashboard_spec())
        created.append(DASHBOARD)
    return Seeded(dataset.ref, model.ref, DASHBOARD, tuple(created))
