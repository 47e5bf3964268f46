"""Dashboards: built with the builder's forms, saved, published, rendered with filters that
update every chart and KPI, on both backends."""

from __future__ import annotations

import pandas as pd
import pytest

from astralytiq_jupyter.core.dashboards import CHART_TYPES
from astralytiq_jupyter.widgets import figures
from astralytiq_jupyter.widgets import format as fmt
from astralytiq_jupyter.widgets.dashboard import Dashboard
from astralytiq_jupyter.widgets.dashboard_builder import DashboardBuilder

from .conftest import SAMPLE


def _figure(output) -> dict:
    (out,) = output.outputs
    assert figures.PLOT_MIME in out["data"], out["data"].get("text/plain")
    return out["data"][figures.PLOT_MIME]


def _build(ws) -> DashboardBuilder:
    b = DashboardBuilder(ws=ws, background=False)
    b.name_box.value, b.title_box.value = "sales-overview", "Sales overview"
    b.picker.select("sales")
    b.add_dataset()
    f = b._fields
    b.kind.value = "KPI"
    f["column"].value, f["agg"].value = "revenue", "sum"
    f["date_column"].value, f["period"].value, f["title"].value = "date", "month", "Revenue"
    b.add_button.click()
    b.kind.value = "Chart"
    f["type"].value, f["x"].value, f["y"].value, f["agg"].value = "bar", "region", "revenue", "sum"
    f["title"].value = "Revenue by region"
    b.add_button.click()
    f["type"].value, f["x"].value, f["y"].value, f["unit"].value = (
        "line",
        "date",
        "revenue",
        "month",
    )
    f["title"].value = "Revenue per month"
    b.add_button.click()
    b.kind.value = "Filter"
    f["column"].value = "region"
    assert f["filter_type"].value == "multi_select"
    b.add_button.click()
    return b


def test_build_save_publish_and_filter_on_both_backends(both):
    analyst = both("ana", "analyst")
    analyst.datasets.ingest(str(SAMPLE), name="sales")
    builder = _build(analyst)
    url = builder.publish()
    assert url is not None and url.endswith("dashboard.ipynb?name=sales-overview")
    saved = analyst.dashboards.get("sales-overview")
    assert [c["id"] for c in saved.spec["charts"]] == ["revenue-by-region", "revenue-per-month"]
    assert saved.spec["bindings"]["datasets"] == {"sales": "sales"}  # always the latest

    viewer = both("vic", "viewer")
    page = Dashboard("sales-overview", viewer, background=False)
    frame = pd.read_csv(SAMPLE, parse_dates=["date"])
    bars = _figure(page.items["revenue-by-region"])
    totals = dict(zip(bars["data"][0]["x"], figures_values(bars["data"][0]["y"]), strict=True))
    assert totals == pytest.approx(frame.groupby("region")["revenue"].sum().to_dict())
    last = frame["date"].max().to_period("M")
    this_month = frame[frame["date"].dt.to_period("M") == last]["revenue"].sum()
    assert f"{this_month:,.2f}".rstrip("0").rstrip(".") in page.items["revenue"].value
    assert "vs previous month" in page.items["revenue"].value

    (region_filter,) = page.filters
    region_filter.control.value = ("East", "West")
    page.loads.wait()
    bars = _figure(page.items["revenue-by-region"])
    assert sorted(bars["data"][0]["x"]) == ["East", "West"]
    notes = " ".join(a.get("text", "") for a in bars["layout"]["annotations"])
    kept = frame["region"].isin(["East", "West"]).sum()
    assert f"{kept:,} of 5,768 rows (filtered)" in notes
    line = _figure(page.items["revenue-per-month"])
    assert len(line["data"][0]["x"]) == 24  # two years of months


def figures_values(values):
    """Plotly JSON may carry numbers as a typed array; read it back as a list."""
    if isinstance(values, dict) and "bdata" in values:
        import base64

        import numpy as np

        return np.frombuffer(base64.b64decode(values["bdata"]), dtype=values["dtype"]).tolist()
    return list(values)


@pytest.mark.parametrize("kind", CHART_TYPES)
def test_every_chart_type_draws(ws, sales, kind):
    chart = {
        "id": "c",
        "type": kind,
        "dataset": "d",
        "x": "region",
        "y": "revenue",
        "agg": "sum",
        "color": "channel",
    }
    if kind in ("scatter",):
        chart.update(x="units", y="revenue")
    if kind == "histogram":
        chart.update(x="revenue")
    spec = {
        "name": "all",
        "title": "All",
        "bindings": {"datasets": {"d": "sales"}},
        "charts": [chart],
    }
    page = Dashboard(ws=ws, spec=spec, background=False)
    plot = _figure(page.items["c"])
    assert plot["data"], kind


def test_errors_show_in_place_and_viewers_cannot_build(store, ws, sales):
    from ..conftest import workspace_for

    spec = {
        "name": "bad",
        "title": "Bad",
        "bindings": {"datasets": {"d": "sales"}},
        "charts": [
            {"id": "c", "type": "heatmap", "dataset": "d", "x": "region"},
            {"id": "ok", "type": "pie", "dataset": "d", "x": "region"},
        ],
    }
    page = Dashboard(ws=ws, spec=spec, background=False)
    (out,) = page.items["c"].outputs
    assert "needs a second category" in out["data"]["text/html"]
    assert _figure(page.items["ok"])["data"]
    viewer = workspace_for(store, "default", "vic", "viewer")
    builder = DashboardBuilder(ws=viewer, background=False)
    assert "needs the analyst role" in builder.body.children[0].value
    other = workspace_for(store, "other", "eve", "admin")
    ws.dashboards.save(spec)
    missing = Dashboard("bad", other, background=False)
    assert "not found" in missing.status.text.lower()


def test_builder_edits_reorders_and_reloads(ws, sales):
    builder = _build(ws)
    builder.move_down(0)
    builder.remove_item(len(builder.items) - 1)  # the filter
    builder.edit_item(0)
    builder._fields["title"].value = "Renamed"
    builder.add_button.click()
    assert builder.save()
    again = DashboardBuilder("sales-overview", ws=ws, background=False)
    assert [i[1].get("title") for i in again.items][0] in ("Renamed", "Revenue")
    assert "filters" not in ws.dashboards.get("sales-overview").spec
    again.preview_button.click()
    assert again.preview_area.children


def test_dashboards_section_lists_opens_edits_and_shares(store, ws, sales):
    from astralytiq_jupyter.widgets.app import App

    from ..conftest import workspace_for

    builder = _build(ws)
    assert builder.save()
    app = App(ws, section="dashboards", background=False)
    view = app.views["dashboards"]
    row = view.listing.children[0]
    assert "Sales overview" in row.children[0].value
    next(b for b in row.children[1:] if b.description == "Open").click()
    assert view.area.children[0].spec["name"] == "sales-overview"
    next(b for b in row.children[1:] if b.description == "Share").click()
    assert "dashboard.ipynb?name=sales-overview" in view.area.children[0].value
    viewer = workspace_for(store, "default", "vic", "viewer")
    seen = App(viewer, section="dashboards", background=False).views["dashboards"]
    assert [b.description for b in seen.listing.children[0].children[1:]] == ["Open"]
    assert seen.new_button.layout.display == "none"


def test_count_only_chart_and_kpi_need_no_value_column(both):
    """Counting rows reads no value column: the bar chart of rows per region and the KPI of
    rows match pandas, before and after a filter, on both backends."""
    ws = both("ana", "analyst")
    ws.datasets.ingest(str(SAMPLE), name="sales")
    spec = {
        "name": "counts",
        "title": "Counts",
        "bindings": {"datasets": {"d": "sales"}},
        "kpis": [{"id": "orders", "dataset": "d", "agg": "count", "title": "Orders"}],
        "charts": [{"id": "per-region", "type": "bar", "dataset": "d", "x": "region"}],
        "filters": [{"id": "r", "dataset": "d", "column": "region", "type": "multi_select"}],
    }
    page = Dashboard(ws=ws, spec=spec, background=False)
    frame = pd.read_csv(SAMPLE)
    bars = _figure(page.items["per-region"])
    counts = dict(zip(bars["data"][0]["x"], figures_values(bars["data"][0]["y"]), strict=True))
    assert counts == frame["region"].value_counts().to_dict()
    assert f"{len(frame):,}" in page.items["orders"].value
    (region,) = page.filters
    region.control.value = ("East",)
    page.loads.wait()
    bars = _figure(page.items["per-region"])
    assert figures_values(bars["data"][0]["y"]) == [int((frame["region"] == "East").sum())]
    assert f"{int((frame['region'] == 'East').sum()):,}" in page.items["orders"].value


def test_prediction_panel_renders_the_signature_form_and_predicts(both):
    """A panel bound to ``churn@production`` shows the model's input form to a viewer and
    answers with the model's own prediction, on both backends."""
    from .customers import customers

    analyst = both("ana", "analyst")
    analyst.datasets.save(customers(), "customers")
    result = analyst.train("customers", target="spend", algorithms=["ridge"], cv_folds=2)
    version = analyst.models.register("spend", result)
    analyst.models.set_alias("spend", "production", version.version)
    analyst.dashboards.save(
        {
            "name": "what-if",
            "title": "What if",
            "bindings": {"datasets": {"c": "customers"}, "models": {"m": "spend@production"}},
            "kpis": [{"id": "n", "dataset": "c", "agg": "count"}],
            "predictions": [{"id": "p", "model": "m", "title": "Expected spend"}],
        }
    )
    viewer = both("vic", "viewer")
    page = Dashboard("what-if", viewer, background=False)
    panel = page.items["p"]
    assert set(panel.form.fields) == set(customers().columns) - {"spend"}
    assert "spend@1" in panel.children[1].value
    panel.form.set(tenure=12, region="east", support_calls=True)
    panel.button.click()
    expected = viewer.models.predict("spend@1", panel.form.row())["prediction"].iloc[0]
    assert 20 < expected < 200  # a real regression answer, not a placeholder
    assert "Expected spend" in panel.children[0].value
    assert f">{fmt.escape(fmt.value(expected))}<" in panel.result.value
    assert "predicted spend" in panel.result.value and "⚠" not in panel.result.value


def test_builder_form_starts_with_its_first_choices_and_names_filters_by_column(ws, sales):
    """Choices set after the form was built are shown chosen (ipywidgets 8 would leave them
    blank, and ``None`` would reach the spec); a filter is called after its column."""
    b = DashboardBuilder(ws=ws, background=False)
    b.picker.select("sales")
    b.add_dataset()
    f = b._fields
    assert f["x"].value == "date" and f["y"].value == "(count rows)"
    assert f["color"].value == "(none)" and f["date_column"].value == "(none)"
    f["type"].value, f["x"].value, f["y"].value = "bar", "region", "revenue"
    b.add_button.click()
    b.kind.value = "Filter"
    f["column"].value = "channel"
    b.add_button.click()
    chart, flt = b.items[0][1], b.items[1][1]
    assert chart == {
        "id": "bar", "dataset": "sales", "type": "bar", "x": "region", "y": "revenue", "agg": "sum",
    }  # fmt: skip
    assert flt == {"id": "channel", "dataset": "sales", "column": "channel", "type": "multi_select"}
    assert "“channel” is on the dashboard" in b.status.message.value
    b.name_box.value, b.title_box.value = "by-channel", "By channel"
    assert b.save()
    spec = ws.dashboards.get("by-channel").spec
    assert (
        spec["charts"][0].get("color", "absent") == "absent"
        and spec["filters"][0]["id"] == "channel"
    )


def test_builder_keeps_default_sizes_shows_what_is_open_and_starts_new(ws, sales):
    """A spec saved without a layout keeps the renderer's sizes through the builder (KPIs a
    quarter wide and one row high, not chart-sized); the Open list shows the dashboard being
    edited; choosing "(new dashboard)" empties the builder without touching what is saved."""
    spec = {
        "name": "plain",
        "title": "Plain",
        "bindings": {"datasets": {"d": "sales"}},
        "kpis": [{"id": "n", "dataset": "d", "agg": "count"}],
        "charts": [{"id": "c", "type": "pie", "dataset": "d", "x": "region"}],
        "filters": [{"id": "f", "dataset": "d", "column": "region", "type": "select"}],
    }
    ws.dashboards.save(spec)
    builder = DashboardBuilder("plain", ws=ws, background=False)
    assert builder.existing.value == "plain" and builder.existing.label == "plain"
    sizes = {item["id"]: size for _kind, item, size in builder.items}
    assert sizes["n"] == {"w": 3, "h": 1} and sizes["c"] == {"w": 6, "h": 4}
    assert "side bar" in builder.list_box.children[2].children[-1].value
    assert builder.save()
    layout = {c["item"]: c for c in ws.dashboards.get("plain").spec["layout"]}
    assert (layout["n"]["w"], layout["n"]["h"], layout["c"]["w"]) == (3, 1, 6)
    builder.existing.value = ""
    assert builder.items == [] and builder.name_box.value == "" and builder.revision is None
    assert ws.dashboards.get("plain").revision == 2
    fresh = DashboardBuilder(ws=ws, background=False)
    assert fresh.existing.label == "(new dashboard)"


def test_without_a_name_the_page_lists_the_tenants_dashboards_as_links(both, monkeypatch):
    """``dashboard.ipynb`` opened without ``?name=``: an empty state saying how to build one
    (and who may), then every saved dashboard with a link to its page, its last change and
    who may see it; a viewer reads the same list."""
    monkeypatch.setenv("VOILA_REQUEST_URL", "http://127.0.0.1:8888/astralytiq/apps/x.ipynb")
    analyst, viewer = both("ana", "analyst"), both("vic", "viewer")
    empty = Dashboard(ws=analyst, background=False).body.children[0]
    assert "aq-empty" in empty._dom_classes and "Build one" in empty.children[0].value
    empty = Dashboard(ws=viewer, background=False).body.children[0]
    assert "An analyst or admin of" in empty.children[0].value

    analyst.datasets.ingest(str(SAMPLE), name="sales")
    assert _build(analyst).save()
    listing = Dashboard(ws=viewer, background=False)
    html = listing.body.children[0].value
    assert listing.status.text == "" and listing.items == {}  # a list, not a dashboard
    assert '<a href="?name=sales-overview" target="_self">Sales overview</a>' in html
    saved = viewer.dashboards.get("sales-overview")
    assert f"{saved.updated_at:%Y-%m-%d %H:%M} by ana" in html
    assert f"everyone in {viewer.me.tenant} (viewer, analyst, admin)" in html

    # In a notebook of a server with the extension the link is the server's apps route.
    monkeypatch.delenv("VOILA_REQUEST_URL")
    monkeypatch.setenv("ASTRALYTIQ_URL", "http://127.0.0.1:8888/user/ann/")
    html = Dashboard(ws=viewer, background=False).body.children[0].value
    assert 'href="/user/ann/astralytiq/apps/dashboard.ipynb?name=sales-overview"' in html
