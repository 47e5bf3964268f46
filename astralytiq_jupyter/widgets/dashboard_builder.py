"""The dashboard builder (``aq.DashboardBuilder()``): bind datasets and models, add charts,
KPI cards, filters and prediction panels with forms, preview the result as viewers will see
it, save the spec (validated by the dashboard service) and publish its shareable address."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

import ipywidgets as W

from ..core.dashboards import AGGREGATIONS, CHART_TYPES, GRID_COLUMNS, PERIODS, validate_spec
from ..core.permissions import Permission
from ..core.recipe_base import kind_of
from . import format as fmt
from .base import Navigate, Wizard
from .code import CodeView
from .dashboard import DEFAULT_SIZES
from .pickers import DatasetPicker, ModelPicker

if TYPE_CHECKING:
    from ..client.workspace import Workspace
    from .theme import Theme

__all__ = ["DashboardBuilder"]

KINDS = ("Chart", "KPI", "Filter", "Prediction")
NONE = "(none)"
ROWS = "(count rows)"
WIDTHS = (3, 4, 6, 8, 12)
_STYLE = {"description_width": "initial"}
_FIELD = W.Layout(width="280px")


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", text).strip("-").lower() or "item"


class DashboardBuilder(Wizard):
    """Build, preview, save and publish a dashboard."""

    title = "Dashboards"

    def __init__(
        self,
        name: str | None = None,
        ws: Workspace | None = None,
        *,
        navigate: Navigate | None = None,
        theme: Theme | None = None,
        header: bool = True,
        background: bool = True,
    ) -> None:
        super().__init__(ws, navigate=navigate, theme=theme, header=header, background=background)
        self.background = background
        self.revision: int | None = None
        self.datasets: dict[str, str] = {}  # binding -> reference
        self.schemas: dict[str, dict[str, str]] = {}
        self.models: dict[str, str] = {}
        self.items: list[tuple[str, dict[str, Any], dict[str, int]]] = []  # (kind, item, size)
        self.editing: int | None = None
        self.writable = self.can(Permission.DASHBOARD_WRITE)

        self._syncing = False  # the Open list being set by the code, not chosen by the user
        self.existing = W.Dropdown(description="Open", style=_STYLE, layout=_FIELD)
        self.existing.observe(self._on_open, names="value")
        self.name_box = W.Text(
            description="Name", placeholder="sales-overview", style=_STYLE, layout=_FIELD
        )
        self.title_box = W.Text(
            description="Title",
            placeholder="Sales overview",
            style=_STYLE,
            layout=W.Layout(width="420px"),
        )
        self.description = W.Textarea(
            description="Description", style=_STYLE, layout=W.Layout(width="700px", height="48px")
        )
        # bindings
        self.picker = DatasetPicker(self.ws, label="Dataset")
        self.latest = W.Checkbox(value=True, description="always the latest version", indent=False)
        self.bind = W.Button(description="Use dataset", icon="plus")
        self.bind.on_click(lambda _b: self.add_dataset())
        self.bound = W.HTML()
        # item editor
        self.kind = W.ToggleButtons(options=KINDS, style={"button_width": "100px"})
        self.kind.observe(lambda _c: self._show_form(), names="value")
        self.form = W.VBox()
        self.add_button = W.Button(
            description="Add to dashboard", icon="plus", button_style="primary"
        )
        self.add_button.on_click(lambda _b: self.add_item())
        self.list_box = W.VBox()
        # actions
        self.preview_button = W.Button(description="Preview", icon="eye")
        self.preview_button.on_click(lambda _b: self.preview())
        self.save_button = W.Button(description="Save", icon="save", button_style="primary")
        self.save_button.on_click(lambda _b: self.save())
        self.publish_button = W.Button(description="Publish", icon="share-alt")
        self.publish_button.on_click(lambda _b: self.publish())
        self.link_html = W.HTML()
        self.preview_area = W.VBox()
        self.code = CodeView("Show spec")
        self.code.set_code(lambda: "ws.dashboards.save(" + _pretty(self.spec()) + ")")
        self._fields: dict[str, W.Widget] = {}
        self._build_fields()
        self.refresh_existing()
        if not self.writable:
            self.body.children = [
                W.HTML(
                    '<div class="aq-empty">Building dashboards needs the analyst role; open a '
                    "published dashboard to view it.</div>"
                )
            ]
            return
        self.body.children = [
            W.HBox(
                [self.existing, self.name_box, self.title_box],
                layout=W.Layout(flex_flow="row wrap"),
            ),
            self.description,
            W.HTML('<div class="aq-title">Data</div>'),
            W.HBox(
                [self.picker, self.latest, self.bind],
                layout=W.Layout(flex_flow="row wrap", align_items="center"),
            ),
            self.bound,
            W.HTML('<div class="aq-title">Add an item</div>'),
            self.kind,
            self.form,
            self.add_button,
            W.HTML('<div class="aq-title">Items</div>'),
            self.list_box,
            W.HBox([self.preview_button, self.save_button, self.publish_button]),
            self.link_html,
            self.code,
            self.preview_area,
        ]
        self._show_form()
        self._show_items()
        if name:
            self.load(name)

    # -- bindings
    def add_dataset(self, ref: str | None = None) -> None:
        """Bind a dataset (the picked one by default) under its name."""
        ref = ref or self.picker.ref
        if ref is None:
            self.status.fail("There is no dataset to use yet: upload one first.")
            return
        try:
            version = self.ws.datasets.get(ref)
        except Exception as error:  # noqa: BLE001 - shown in plain words
            self.status.fail(error)
            return
        local = _slug(version.name)
        self.datasets[local] = version.name if self.latest.value else version.ref
        self.schemas[local] = dict(version.schema)
        self._show_bindings()
        self._refresh_choices()

    def _show_bindings(self) -> None:
        if not self.datasets:
            self.bound.value = (
                '<div class="aq-muted">No dataset yet: pick one and press "Use dataset".</div>'
            )
            return
        self.bound.value = "Using: " + ", ".join(
            f'<span class="aq-badge">{fmt.escape(k)} = {fmt.escape(v)}</span>'
            for k, v in self.datasets.items()
        )

    # -- forms
    def _build_fields(self) -> None:
        f = self._fields
        f["type"] = W.Dropdown(
            options=CHART_TYPES, value="bar", description="Chart", style=_STYLE, layout=_FIELD
        )
        f["dataset"] = W.Dropdown(description="Dataset", style=_STYLE, layout=_FIELD)
        f["x"] = W.Dropdown(description="X / category", style=_STYLE, layout=_FIELD)
        f["y"] = W.Dropdown(description="Value", style=_STYLE, layout=_FIELD)
        f["agg"] = W.Dropdown(
            options=AGGREGATIONS, value="sum", description="Summarise", style=_STYLE, layout=_FIELD
        )
        f["color"] = W.Dropdown(description="Colour / group by", style=_STYLE, layout=_FIELD)
        f["unit"] = W.Dropdown(
            options=PERIODS, value="month", description="Per (dates)", style=_STYLE, layout=_FIELD
        )
        f["column"] = W.Dropdown(description="Column", style=_STYLE, layout=_FIELD)
        f["date_column"] = W.Dropdown(description="Compare by date", style=_STYLE, layout=_FIELD)
        f["period"] = W.Dropdown(
            options=PERIODS, value="month", description="with previous", style=_STYLE, layout=_FIELD
        )
        f["format"] = W.Dropdown(
            options=("number", "currency", "percent"),
            description="Format",
            style=_STYLE,
            layout=_FIELD,
        )
        f["filter_type"] = W.Dropdown(
            options=("multi_select", "select", "range", "date_range"),
            description="Filter type",
            style=_STYLE,
            layout=_FIELD,
        )
        f["model"] = ModelPicker(self.ws, label="Model")
        f["title"] = W.Text(description="Title", style=_STYLE, layout=W.Layout(width="420px"))
        f["width"] = W.Dropdown(
            options=WIDTHS,
            value=6,
            description="Width (of 12)",
            style=_STYLE,
            layout=W.Layout(width="180px"),
        )
        f["height"] = W.Dropdown(
            options=(2, 3, 4, 5, 6),
            value=4,
            description="Height",
            style=_STYLE,
            layout=W.Layout(width="150px"),
        )
        f["dataset"].observe(lambda _c: self._refresh_choices(), names="value")
        f["column"].observe(lambda _c: self._suggest_filter_type(), names="value")

    def _columns(self, *kinds: str) -> list[str]:
        schema = self.schemas.get(self._fields["dataset"].value or "", {})
        return [c for c, t in schema.items() if not kinds or kind_of(t) in kinds]

    def _refresh_choices(self) -> None:
        f = self._fields
        f["dataset"].options = list(self.datasets)
        if f["dataset"].value is None and self.datasets:
            f["dataset"].value = next(iter(self.datasets))
        every, numbers = self._columns(), self._columns("numeric", "boolean")
        dates = self._columns("datetime")
        f["x"].options = every
        f["y"].options = [ROWS, *numbers]
        f["color"].options = [NONE, *self._columns("text", "category", "boolean")]
        f["column"].options = every if self.kind.value == "Filter" else [ROWS, *numbers]
        f["date_column"].options = [NONE, *dates]

    def _suggest_filter_type(self) -> None:
        schema = self.schemas.get(self._fields["dataset"].value or "", {})
        kind = kind_of(schema.get(self._fields["column"].value or "", ""))
        if self.kind.value == "Filter":
            self._fields["filter_type"].value = (
                "range"
                if kind == "numeric"
                else "date_range"
                if kind == "datetime"
                else "multi_select"
            )

    def _show_form(self) -> None:
        f = self._fields
        self._refresh_choices()
        kind = self.kind.value
        size = [f["width"], f["height"]]
        if kind == "Chart":
            rows = [
                [f["type"], f["dataset"]],
                [f["x"], f["y"], f["agg"]],
                [f["color"], f["unit"]],
                [f["title"], *size],
            ]
        elif kind == "KPI":
            rows = [
                [f["dataset"], f["column"], f["agg"]],
                [f["date_column"], f["period"], f["format"]],
                [f["title"], f["width"]],
            ]
        elif kind == "Filter":
            rows = [[f["dataset"], f["column"], f["filter_type"]], [f["title"]]]
            self._suggest_filter_type()
        else:
            rows = [[f["model"]], [f["title"], *size]]
        self.form.children = [W.HBox(r, layout=W.Layout(flex_flow="row wrap")) for r in rows]
        self.add_button.description = (
            "Update item" if self.editing is not None else "Add to dashboard"
        )

    # -- items
    def _item_from_form(self) -> tuple[str, dict[str, Any], dict[str, int]]:
        f, kind = self._fields, self.kind.value
        taken = {item["id"] for _k, item, _s in self.items}
        if self.editing is not None:
            taken.discard(self.items[self.editing][1]["id"])
        title = f["title"].value.strip()
        if kind == "Prediction":
            ref = f["model"].ref
            if ref is None:
                raise ValueError("There is no registered model yet: train and register one first.")
            local = _slug(ref.split("@")[0])
            self.models[local] = ref
            item: dict[str, Any] = {"model": local}
        else:
            if not f["dataset"].value:
                raise ValueError("Use a dataset first (Data, above).")
            item = {"dataset": f["dataset"].value}
            if kind == "Chart":
                item.update(type=f["type"].value, x=f["x"].value)
                if f["y"].value != ROWS:
                    item.update(y=f["y"].value, agg=f["agg"].value)
                if f["color"].value != NONE:
                    item["color"] = f["color"].value
                schema = self.schemas[f["dataset"].value]
                if kind_of(schema.get(f["x"].value or "", "")) == "datetime":
                    item["unit"] = f["unit"].value
            elif kind == "KPI":
                if f["column"].value == ROWS:
                    item["agg"] = "count"
                else:
                    item.update(column=f["column"].value, agg=f["agg"].value)
                if f["date_column"].value != NONE:
                    item.update(date_column=f["date_column"].value, period=f["period"].value)
                if f["format"].value != "number":
                    item["format"] = f["format"].value
            else:
                item.update(column=f["column"].value, type=f["filter_type"].value)
        if title:
            item["title"] = title
        base = _slug(title or item.get("type") or item.get("column") or kind)
        ident, n = base, 2
        while ident in taken:
            ident, n = f"{base}-{n}", n + 1
        item = {"id": ident, **item}
        size = {
            "w": 3 if kind == "KPI" and f["width"].value == 6 else f["width"].value,
            "h": 1 if kind == "KPI" else f["height"].value,
        }
        return kind, item, size

    def add_item(self) -> None:
        """Add the form's item (or update the one being edited)."""
        try:
            entry = self._item_from_form()
        except ValueError as error:
            self.status.fail(str(error))
            return
        if self.editing is not None:
            self.items[self.editing] = entry
            self.editing = None
        else:
            self.items.append(entry)
        self.status.info(
            f"{entry[0]} “{entry[1].get('title') or entry[1]['id']}” is on the dashboard"
        )
        self._fields["title"].value = ""
        self._show_form()
        self._show_items()

    def _show_items(self) -> None:
        rows: list[W.Widget] = []
        for i, (kind, item, size) in enumerate(self.items):
            what = item.get("title") or item["id"]
            detail = ", ".join(f"{k}={v}" for k, v in item.items() if k not in ("id", "title"))
            where = "side bar" if kind == "Filter" else f"{size['w']} of 12 wide"
            label = W.HTML(
                f'<span class="aq-badge">{kind}</span> <b>{fmt.escape(what)}</b> '
                f'<span class="aq-muted">{fmt.escape(detail)} · {where}</span>'
            )
            buttons = []
            for icon, tip, action in (
                ("pencil", "Edit", self.edit_item),
                ("arrow-up", "Up", self.move_up),
                ("arrow-down", "Down", self.move_down),
                ("trash", "Remove", self.remove_item),
            ):
                b = W.Button(icon=icon, tooltip=tip, layout=W.Layout(width="36px"))
                b.on_click(lambda _b, i=i, action=action: action(i))
                buttons.append(b)
            rows.append(W.HBox([*buttons, label], layout=W.Layout(align_items="center")))
        self.list_box.children = rows or [
            W.HTML('<div class="aq-muted">Nothing yet: add a chart or a KPI.</div>')
        ]
        self.code.refresh()

    def edit_item(self, i: int) -> None:
        kind, item, size = self.items[i]
        self.editing = i
        self.kind.value = kind
        f = self._fields
        if "dataset" in item:
            f["dataset"].value = item["dataset"]
            self._refresh_choices()
        for key in ("type", "x", "color", "unit", "date_column", "period", "format"):
            if key in item and item[key] in getattr(f[key], "options", ()):
                f[key].value = item[key]
        if kind == "Chart":
            f["y"].value = item.get("y", ROWS)
        if kind == "KPI":
            f["column"].value = item.get("column", ROWS)
        if kind == "Filter":
            f["column"].value = item["column"]
            f["filter_type"].value = item["type"]
        if "agg" in item and item["agg"] in f["agg"].options:
            f["agg"].value = item["agg"]
        f["title"].value = item.get("title", "")
        if size["w"] in WIDTHS:
            f["width"].value = size["w"]
        self._show_form()

    def move_up(self, i: int) -> None:
        if i > 0:
            self.items[i - 1], self.items[i] = self.items[i], self.items[i - 1]
            self._show_items()

    def move_down(self, i: int) -> None:
        if i < len(self.items) - 1:
            self.items[i + 1], self.items[i] = self.items[i], self.items[i + 1]
            self._show_items()

    def remove_item(self, i: int) -> None:
        del self.items[i]
        self.editing = None
        self._show_items()

    # -- the spec
    def spec(self) -> dict[str, Any]:
        """The dashboard as a spec: items in list order, laid out row by row."""
        groups: dict[str, list[dict[str, Any]]] = {
            "filters": [],
            "kpis": [],
            "charts": [],
            "predictions": [],
        }
        key = {"Chart": "charts", "KPI": "kpis", "Filter": "filters", "Prediction": "predictions"}
        layout, x, y, row_height = [], 0, 0, 0
        for kind, item, size in sorted(self.items, key=lambda e: e[0] != "KPI"):
            groups[key[kind]].append(item)
            if kind == "Filter":
                continue
            if x + size["w"] > GRID_COLUMNS:
                x, y, row_height = 0, y + row_height, 0
            layout.append({"item": item["id"], "x": x, "y": y, "w": size["w"], "h": size["h"]})
            x += size["w"]
            row_height = max(row_height, size["h"])
        used_models = {i["model"] for _k, i, _s in self.items if "model" in i}
        spec: dict[str, Any] = {
            "name": self.name_box.value.strip(),
            "title": self.title_box.value.strip() or self.name_box.value.strip(),
            "bindings": {
                "datasets": dict(self.datasets),
                "models": {k: v for k, v in self.models.items() if k in used_models},
            },
            **{k: v for k, v in groups.items() if v},
            "layout": layout,
        }
        if self.description.value.strip():
            spec["description"] = self.description.value.strip()
        return spec

    def load(self, name: str) -> None:
        """Open a saved dashboard for editing."""
        try:
            saved = self.ws.dashboards.get(name)
        except Exception as error:  # noqa: BLE001
            self.status.fail(error)
            return
        spec, self.revision = saved.spec, saved.revision
        self.name_box.value, self.title_box.value = spec["name"], spec["title"]
        self.description.value = spec.get("description", "")
        self.datasets = dict(spec.get("bindings", {}).get("datasets") or {})
        self.models = dict(spec.get("bindings", {}).get("models") or {})
        self.schemas = {}
        for local, ref in self.datasets.items():
            try:
                self.schemas[local] = dict(self.ws.datasets.get(ref).schema)
            except Exception as error:  # noqa: BLE001 - a dataset gone since: say so, keep the rest
                self.status.fail(error)
        placed = {c["item"]: c for c in spec.get("layout", [])}
        kinds = (
            ("kpis", "KPI"),
            ("charts", "Chart"),
            ("filters", "Filter"),
            ("predictions", "Prediction"),
        )
        self.items = []
        for key, kind in kinds:
            # unplaced items get the renderer's own default size, so a save keeps the look
            w, h = DEFAULT_SIZES.get(key, (GRID_COLUMNS, 1))
            for item in spec.get(key, []):
                cell = placed.get(item["id"], {})
                self.items.append(
                    (kind, dict(item), {"w": cell.get("w", w), "h": cell.get("h", h)})
                )
        self._show_bindings()
        self._show_items()
        self._refresh_choices()
        self.refresh_existing()
        self.status.info(f"Editing {name} (revision {saved.revision})")

    def refresh_existing(self) -> None:
        """The Open list: the tenant's dashboards, showing the one being edited."""
        try:
            names = [d.name for d in self.ws.dashboards.list(limit=500)]
        except Exception:  # noqa: BLE001 - the list is a convenience
            names = []
        current = self.name_box.value.strip() if self.revision is not None else ""
        self._syncing = True
        try:
            self.existing.options = [("(new dashboard)", "")] + [(n, n) for n in names]
            self.existing.value = current if current in names else ""
        finally:
            self._syncing = False

    def _on_open(self, change: dict[str, Any]) -> None:
        if self._syncing:
            return
        if change["new"]:
            self.load(change["new"])
        else:
            self.start_new()

    def start_new(self) -> None:
        """Empty the builder for a new dashboard (nothing saved is changed)."""
        self.revision, self.editing = None, None
        self.name_box.value = self.title_box.value = self.description.value = ""
        self.datasets, self.schemas, self.models, self.items = {}, {}, {}, []
        self.link_html.value = ""
        self.preview_area.children = []
        self._show_bindings()
        self._show_items()
        self._refresh_choices()
        self.status.info("A new dashboard: use a dataset, then add items.")

    def _checked(self) -> dict[str, Any] | None:
        spec = self.spec()
        if not spec["name"]:
            self.status.fail("Give the dashboard a name (letters, digits, '-', '_').")
            return None
        try:
            return validate_spec(spec)
        except Exception as error:  # noqa: BLE001 - shown in plain words
            self.status.fail(error)
            return None

    def preview(self) -> None:
        """Show the dashboard as viewers will see it (not saved)."""
        spec = self._checked()
        if spec is None:
            return
        from .dashboard import Dashboard

        self.preview_area.children = [
            W.HTML('<div class="aq-title">Preview</div>'),
            Dashboard(
                ws=self.ws, spec=spec, theme=self.theme, header=False, background=self.background
            ),
        ]

    def save(self) -> bool:
        spec = self._checked()
        if spec is None:
            return False
        try:
            saved = self.ws.dashboards.save(spec, expected_revision=self.revision)
        except Exception as error:  # noqa: BLE001
            self.status.fail(error)
            return False
        self.revision = saved.revision
        self.refresh_existing()
        self.status.done(f"Saved dashboard {saved.name} (revision {saved.revision})")
        return True

    def publish(self) -> str | None:
        """Save, then give the address viewers open (the dashboard app in Voila)."""
        if not self.save():
            return None
        try:
            url = self.ws.dashboards.publish(self.name_box.value.strip())
        except Exception as error:  # noqa: BLE001
            self.status.fail(error)
            return None
        self.link_html.value = (
            f'Share this address: <a href="{fmt.escape(url)}" target="_blank">{fmt.escape(url)}</a>'
        )
        self.status.done(f"Published {self.name_box.value.strip()}")
        return url


def _pretty(spec: dict[str, Any]) -> str:
    from pprint import pformat

    return pformat(spec, sort_dicts=False, width=96)
