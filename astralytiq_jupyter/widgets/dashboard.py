"""A saved dashboard, rendered: KPI cards on top, a grid of charts, filters in a side bar that
update every chart and KPI of their dataset, and prediction panels (``aq.Dashboard("name")``);
without a name, the tenant's dashboards as links (``dashboard_index.py``).

The published page (``dashboard.ipynb?name=...`` in Voila) shows exactly this widget: no code
and no editing controls. Bindings without a version ("sales") are pinned to the latest
version when the dashboard opens, so every chart of one view shows the same data.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

import ipywidgets as W

from ..core.dashboards import GRID_COLUMNS
from . import format as fmt
from .base import Navigate, Wizard
from .dashboard_items import KpiValue, chart_figure, filter_domain, kpi_value
from .status import describe_error
from .tasks import LatestOnly
from .theme import Theme

if TYPE_CHECKING:
    from ..client.workspace import Workspace

__all__ = ["DEFAULT_SIZES", "Dashboard", "FilterControl"]

ROW_PX = 100  # the height of one layout row
#: (width of 12, height in rows) of items the spec's layout does not place
DEFAULT_SIZES = {"kpis": (3, 1), "charts": (6, 4), "predictions": (6, 4)}
_STYLE = {"description_width": "initial"}


class FilterControl(W.VBox):
    """One filter of the side bar; ``conditions()`` says which rows it keeps."""

    def __init__(
        self, item: dict[str, Any], domain: dict[str, Any], schema: dict[str, str]
    ) -> None:
        self.item, self.column = item, item["column"]
        label = W.HTML(f"<b>{fmt.escape(item.get('title') or self.column)}</b>")
        kind = item["type"]
        self.control: W.Widget
        if kind == "range":
            low, high = domain["low"], domain["high"]
            integer = "int" in schema.get(self.column, "")
            if low is None or high is None:
                self.control = W.HTML('<span class="aq-muted">no values</span>')
            elif integer:
                self.control = W.IntRangeSlider(
                    min=int(low),
                    max=int(high),
                    value=(int(low), int(high)),
                    continuous_update=False,
                    layout=W.Layout(width="100%"),
                )
            else:
                step = (float(high) - float(low)) / 200 or 1.0
                self.control = W.FloatRangeSlider(
                    min=float(low),
                    max=float(high),
                    step=step,
                    value=(float(low), float(high)),
                    continuous_update=False,
                    readout_format=".4g",
                    layout=W.Layout(width="100%"),
                )
        elif kind == "date_range":
            low, high = domain["low"], domain["high"]
            first = _as_date(low)
            last = _as_date(high)
            self.start = W.DatePicker(
                description="from", value=first, style=_STYLE, layout=W.Layout(width="95%")
            )
            self.end = W.DatePicker(
                description="to", value=last, style=_STYLE, layout=W.Layout(width="95%")
            )
            self.bounds = (first, last)
            self.control = W.VBox([self.start, self.end])
        elif kind == "multi_select":
            # 95%, as the date pickers: at 100% the select's border spills out of the side bar
            self.control = W.SelectMultiple(
                options=[str(v) for v in domain["values"]], rows=6, layout=W.Layout(width="95%")
            )
            self._values = {str(v): v for v in domain["values"]}
        else:
            self._values = {str(v): v for v in domain["values"]}
            self.control = W.Dropdown(
                options=["(all)", *self._values], value="(all)", layout=W.Layout(width="95%")
            )
        self._default(item.get("default"))
        super().__init__([label, self.control], layout=W.Layout(margin="0 0 10px 0"))

    def _default(self, default: Any) -> None:
        if default is None:
            return
        kind = self.item["type"]
        if kind == "multi_select" and isinstance(default, list):
            self.control.value = tuple(str(v) for v in default if str(v) in self._values)
        elif kind == "select" and str(default) in self._values:
            self.control.value = str(default)

    def observe_change(self, callback: Any) -> None:
        for control in (
            [self.start, self.end] if self.item["type"] == "date_range" else [self.control]
        ):
            if hasattr(control, "value"):
                control.observe(lambda _c: callback(), names="value")

    def conditions(self) -> list[dict[str, Any]]:
        """The conditions of the current choice (none when it keeps every row)."""
        kind, column = self.item["type"], self.column
        if kind == "range":
            if not hasattr(self.control, "min"):
                return []
            low, high = self.control.value
            if low <= self.control.min and high >= self.control.max:
                return []
            return [{"column": column, "op": "between", "value": [low, high]}]
        if kind == "date_range":
            start, end = self.start.value, self.end.value
            out = []
            if start is not None and start != self.bounds[0]:
                out.append({"column": column, "op": ">=", "value": start.isoformat()})
            if end is not None and end != self.bounds[1]:
                stop = end + dt.timedelta(days=1)
                out.append({"column": column, "op": "<", "value": stop.isoformat()})
            return out
        if kind == "multi_select":
            chosen = [self._values[v] for v in self.control.value]
            return [{"column": column, "op": "in", "value": chosen}] if chosen else []
        if self.control.value == "(all)":
            return []
        return [{"column": column, "op": "==", "value": self._values[self.control.value]}]


def _as_date(value: Any) -> dt.date | None:
    if value is None:
        return None
    try:
        import pandas as pd

        stamp = pd.Timestamp(value)
    except (TypeError, ValueError):
        return None
    return None if stamp is pd.NaT else stamp.date()


def _kpi_html(kpi: dict[str, Any], value: KpiValue) -> str:
    shown = fmt.number(value.value)
    if kpi.get("format") == "percent" and value.value is not None:
        shown = fmt.percent(value.value * 100)
    elif kpi.get("format") == "currency" and value.value is not None:
        shown = f"{value.value:,.2f}"
    change = ""
    pct = value.change_pct
    if value.period is not None:
        if pct is None:
            change = f'<div class="aq-muted">no previous {value.period} to compare</div>'
        else:
            arrow, kind = ("▲", "ok") if pct >= 0 else ("▼", "bad")
            change = (
                f'<div><span class="aq-badge aq-badge-{kind}">{arrow} '
                f"{fmt.percent(abs(pct))}</span> "
                f'<span class="aq-muted">vs previous {value.period}</span></div>'
            )
    return (
        f'<div class="aq-kpi"><div class="aq-kpi-label">{fmt.escape(value.label)}</div>'
        f'<div class="aq-kpi-value">{shown}</div>{change}</div>'
    )


class Dashboard(Wizard):
    """A saved dashboard (``Dashboard("sales-overview")``) or a spec being built
    (``Dashboard(spec=...)``, the builder's preview)."""

    title = "Dashboard"

    def __init__(
        self,
        name: str | None = None,
        ws: Workspace | None = None,
        *,
        spec: dict[str, Any] | None = None,
        navigate: Navigate | None = None,
        theme: Theme | None = None,
        header: bool = True,
        background: bool = True,
    ) -> None:
        super().__init__(ws, navigate=navigate, theme=theme, header=header, background=background)
        self.background = background
        self.loads = LatestOnly(self.status)
        self.items: dict[str, W.Widget] = {}
        self.filters: list[FilterControl] = []
        self.spec: dict[str, Any] = {}
        self._heights: dict[str, int] = {}  # chart id -> figure height in pixels
        if spec is None and not name:  # the app's address names none: the tenant's list
            from .dashboard_index import dashboard_index

            try:
                self.body.children = [dashboard_index(self.ws)]
            except Exception as error:  # noqa: BLE001 - the page says what is wrong
                self.status.fail(error)
            return
        try:
            self.spec = spec if spec is not None else self.ws.dashboards.get(name).spec
            self._render()
        except Exception as error:  # noqa: BLE001 - the page says what is wrong, in plain words
            self.status.fail(error)
            self.body.children = []

    # -- building the page
    def _render(self) -> None:
        spec = self.spec
        branding = spec.get("theme") or {}
        if branding.get("primary_color") or branding.get("secondary_color"):
            self.theme = Theme(
                company_name=self.theme.company_name,
                primary=branding.get("primary_color") or self.theme.primary,
                secondary=branding.get("secondary_color") or self.theme.secondary,
                logo_url=self.theme.logo_url if branding.get("show_logo", True) else None,
            )
        self.refs: dict[str, str] = {}
        self.schemas: dict[str, dict[str, str]] = {}
        for local, ref in (spec.get("bindings", {}).get("datasets") or {}).items():
            version = self.ws.datasets.get(ref)  # "sales" pins the latest version now
            self.refs[local], self.schemas[local] = version.ref, dict(version.schema)
        self.models = dict(spec.get("bindings", {}).get("models") or {})
        title = W.HTML(
            f'<div class="aq-title">{fmt.escape(spec["title"])}</div>'
            + (
                f'<div class="aq-muted">{fmt.escape(spec["description"])}</div>'
                if spec.get("description")
                else ""
            )
            + '<div class="aq-muted">data: '
            + fmt.escape(", ".join(self.refs.values()))
            + "</div>"
        )
        for item in spec.get("filters", []):
            local = item["dataset"]
            domain = filter_domain(self.ws, self.refs[local], self.schemas[local], item)
            control = FilterControl(item, domain, self.schemas[local])
            control.observe_change(lambda local=local: self.redraw(local))
            self.filters.append(control)
        placed = {cell["item"]: cell for cell in spec.get("layout", [])}
        cells: list[W.Widget] = []
        auto_y = 0
        for key, (width, height) in DEFAULT_SIZES.items():
            column = 0
            for item in spec.get(key, []):
                widget = self._item_widget(key, item)
                cell = placed.get(item["id"], {})
                w = cell.get("w", width)
                h = cell.get("h", height)
                if "x" in cell and "y" in cell:
                    x, y = cell["x"], cell["y"]
                else:
                    if column + w > GRID_COLUMNS:
                        column, auto_y = 0, auto_y + height
                    x, y = column, auto_y
                    column += w
                # grid-area (row / column / span / span): the front-end Voila ships applies it,
                # where it ignores grid-row and grid-column
                widget.layout.grid_area = f"{y + 1} / {x + 1} / span {h} / span {w}"
                if key == "charts":
                    widget.layout.min_height = f"{h * ROW_PX}px"
                    self._heights[item["id"]] = h * ROW_PX - 10
                cells.append(widget)
            if column:
                auto_y += height
        grid = W.GridBox(
            cells,
            layout=W.Layout(
                grid_template_columns=f"repeat({GRID_COLUMNS}, minmax(0, 1fr))",
                grid_gap="10px",
                width="100%",
            ),
        )
        main = [title, grid]
        if self.filters:
            sidebar = W.VBox(
                [W.HTML('<div class="aq-title">Filters</div>'), *self.filters],
                layout=W.Layout(width="260px", min_width="220px", margin="0 14px 0 0"),
            )
            sidebar.add_class("aq-card")
            self.body.children = [
                W.HBox([sidebar, W.VBox(main, layout=W.Layout(flex="1 1 auto", min_width="0"))])
            ]
        else:
            self.body.children = main
        self.redraw()

    def _item_widget(self, key: str, item: dict[str, Any]) -> W.Widget:
        if key == "kpis":
            widget: W.Widget = W.HTML(_kpi_html(item, KpiValue(None, item.get("title") or "")))
            widget.add_class("aq-card")
        elif key == "charts":
            widget = W.Output(layout=W.Layout(width="100%"))
        else:
            from .predict_panel import PredictionPanel

            widget = PredictionPanel(
                self.ws, self.models[item["model"]], item.get("title"), theme=self.theme
            )
            widget.add_class("aq-card")
        self.items[item["id"]] = widget
        return widget

    # -- filters and redrawing
    def conditions(self, dataset: str) -> list[dict[str, Any]]:
        """Every condition the side bar's filters of ``dataset`` set now."""
        return [c for f in self.filters if f.item["dataset"] == dataset for c in f.conditions()]

    def redraw(self, dataset: str | None = None) -> None:
        """Recompute every KPI and chart (of ``dataset``, after its filters changed)."""
        jobs = [("kpis", i) for i in self.spec.get("kpis", [])]
        jobs += [("charts", i) for i in self.spec.get("charts", [])]
        jobs = [(k, i) for k, i in jobs if dataset is None or i["dataset"] == dataset]
        self.loads.run(
            f"Updating {len(jobs)} item(s)",
            lambda: self._compute(jobs),
            lambda _r: None,
            background=self.background,
        )

    def _compute(self, jobs: list[tuple[str, dict[str, Any]]]) -> int:
        """Compute every item's KPI or figure concurrently (each waits on its own query next
        to the data, which releases the GIL), then show them in the page's order."""
        from concurrent.futures import ThreadPoolExecutor

        from .plotly_import import figures as _figures

        figures = _figures()
        conditions = {local: self.conditions(local) for local in self.refs}

        def one(key: str, item: dict[str, Any]) -> Any:
            local = item["dataset"]
            ref, schema = self.refs[local], self.schemas[local]
            try:
                if key == "kpis":
                    return _kpi_html(item, kpi_value(self.ws, ref, item, conditions[local]))
                fig = chart_figure(self.ws, ref, schema, item, conditions[local], self.theme)
                fig.update_layout(height=self._heights.get(item["id"], 380))
                return fig
            except Exception as error:  # noqa: BLE001 - one broken item must not hide the rest
                return error

        with ThreadPoolExecutor(max_workers=max(1, min(4, len(jobs)))) as pool:
            futures = [pool.submit(one, key, item) for key, item in jobs]
            for (key, item), future in zip(jobs, futures, strict=True):
                widget, result = self.items[item["id"]], future.result()
                if isinstance(result, Exception):
                    message = describe_error(result)[0]
                    html = f'<div class="aq-status-error">⚠ {fmt.escape(message)}</div>'
                    if key == "kpis":
                        widget.value = html
                    else:
                        widget.outputs = (
                            {
                                "output_type": "display_data",
                                "data": {"text/html": html, "text/plain": message},
                                "metadata": {},
                            },
                        )
                elif key == "kpis":
                    widget.value = result
                else:
                    figures.show(widget, result)
        return len(jobs)
