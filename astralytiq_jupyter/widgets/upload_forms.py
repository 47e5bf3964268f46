"""The parts of the Upload wizard: the workspace file browser, the parse options form and the
column type overrides (turned into recipe steps applied on save)."""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import ipywidgets as W

from ..core.ingest.options import _EXTENSIONS
from . import format as fmt

__all__ = [
    "TYPE_CHOICES",
    "ParseOptions",
    "TypeOverrides",
    "WorkspaceBrowser",
    "override_steps",
]

_LABEL = {"description_width": "140px"}
_WIDE = W.Layout(width="420px")


class WorkspaceBrowser(W.VBox):
    """Files of the Jupyter workspace (``root`` and its folders, hidden ones excluded, as
    Jupyter's file browser shows them) that can be imported. Choosing a folder opens it;
    choosing a file selects it (``path``, ``on_select``). Nothing above ``root`` is shown."""

    def __init__(self, root: str | os.PathLike[str] | None = None) -> None:
        self.root = Path(root or os.getcwd()).resolve()
        self.folder = self.root
        self.path: Path | None = None
        self._callbacks: list[Callable[[Path | None], None]] = []
        self.where = W.HTML()
        self.up = W.Button(
            description="Up",
            icon="level-up",
            tooltip="Parent folder",
            layout=W.Layout(width="auto"),
        )
        self.refresh_button = W.Button(
            icon="refresh", tooltip="Read the folder again", layout=W.Layout(width="36px")
        )
        self.entries = W.Select(options=[], rows=10, layout=W.Layout(width="560px"))
        self.up.on_click(lambda _b: self.open_folder(self.folder.parent))
        self.refresh_button.on_click(lambda _b: self.refresh())
        self.entries.observe(self._on_pick, names="value")
        super().__init__(
            [
                W.HBox([self.up, self.refresh_button, self.where]),
                self.entries,
            ]
        )
        self.refresh()

    def on_select(self, callback: Callable[[Path | None], None]) -> None:
        self._callbacks.append(callback)

    def open_folder(self, folder: Path) -> None:
        """Show ``folder`` (kept inside the workspace root)."""
        folder = folder.resolve()
        if folder != self.root and self.root not in folder.parents:
            folder = self.root
        self.folder = folder
        self.refresh()

    def refresh(self) -> None:
        rel = self.folder.relative_to(self.root)
        shown = "workspace" + ("" if str(rel) == "." else f" / {' / '.join(rel.parts)}")
        self.where.value = f'<span class="aq-muted">{fmt.escape(shown)}</span>'
        self.up.disabled = self.folder == self.root
        options: list[tuple[str, Any]] = []
        try:
            items = sorted(os.scandir(self.folder), key=lambda e: (not e.is_dir(), e.name.lower()))
        except OSError as error:
            self.where.value += (
                f' <span class="aq-status-error">⚠ {fmt.escape(error.strerror)}</span>'
            )
            items = []
        for entry in items:
            if entry.name.startswith("."):
                continue
            try:
                if entry.is_dir():
                    options.append((f"📁 {entry.name}/", ("dir", entry.name)))
                elif entry.is_file() and Path(entry.name).suffix.lower() in _EXTENSIONS:
                    size = fmt.size(entry.stat().st_size)
                    options.append((f"📄 {entry.name}  ·  {size}", ("file", entry.name)))
            except OSError:
                continue
        self.entries.unobserve(self._on_pick, names="value")
        self.entries.options = options
        self.entries.value = None
        self.entries.observe(self._on_pick, names="value")
        if not options:
            self.where.value += ' <span class="aq-muted">· no data files here</span>'

    def select(self, relative: str) -> None:
        """Choose the file at ``relative`` (to the workspace root); tests and the App use it."""
        path = (self.root / relative).resolve()
        if self.root not in path.parents or not path.is_file():
            raise FileNotFoundError(relative)
        self.open_folder(path.parent)
        self.entries.value = ("file", path.name)

    def _on_pick(self, change: dict[str, Any]) -> None:
        value = change["new"]
        if value is None:
            return
        kind, name = value
        if kind == "dir":
            self.open_folder(self.folder / name)
            return
        self.path = self.folder / name
        for callback in self._callbacks:
            callback(self.path)


_DELIMITERS = [
    ("Detect", None),
    ("Comma  ,", ","),
    ("Semicolon  ;", ";"),
    ("Tab", "\t"),
    ("Pipe  |", "|"),
]
_ENCODINGS = ["utf-8", "latin-1", "cp1252", "utf-16", "iso-8859-15", "shift_jis", "gb18030"]
_OPTIONS_OF = {
    "csv": ("delimiter", "encoding", "header", "skip_rows", "null_values"),
    "tsv": ("delimiter", "encoding", "header", "skip_rows", "null_values"),
    "excel": ("sheet", "header", "skip_rows", "null_values"),
    "json": ("records_path",),
}


class ParseOptions(W.VBox):
    """How to read a file: the options the ingest takes for its format, each with a label.
    ``values()`` gives only what differs from the defaults; ``on_change`` fires on edits."""

    def __init__(self) -> None:
        self.delimiter = W.Dropdown(options=_DELIMITERS, description="Delimiter", style=_LABEL)
        self.encoding = W.Combobox(
            options=_ENCODINGS,
            placeholder="Detect",
            description="Encoding",
            ensure_option=False,
            style=_LABEL,
        )
        self.header = W.Dropdown(
            options=[
                ("First row holds the names", "first"),
                ("No header row", "none"),
                ("Names on another row", "row"),
            ],
            description="Column names",
            style=_LABEL,
            layout=_WIDE,
        )
        self.header_row = W.BoundedIntText(  # counted from 1, as people count rows
            value=2, min=1, max=10_000, description="Names on row", style=_LABEL
        )
        self.skip_rows = W.BoundedIntText(
            value=0, min=0, max=1_000_000, description="Skip rows at top", style=_LABEL
        )
        self.null_values = W.Text(
            placeholder="default: empty, NA, N/A, NULL, NaN, …",
            description="Missing values",
            tooltip="Texts read as missing, separated by commas (replaces the defaults)",
            style=_LABEL,
            layout=_WIDE,
        )
        self.sheet = W.Dropdown(options=[], description="Sheet", style=_LABEL)
        self.records_path = W.Text(
            placeholder="e.g. data.items", description="Records at", style=_LABEL
        )
        self._controls = {
            "delimiter": self.delimiter,
            "encoding": self.encoding,
            "header": self.header,
            "skip_rows": self.skip_rows,
            "null_values": self.null_values,
            "sheet": self.sheet,
            "records_path": self.records_path,
        }
        self._callbacks: list[Callable[[], None]] = []
        for control in [*self._controls.values(), self.header_row]:
            control.observe(self._changed, names="value")
        self.header.observe(lambda _c: self._layout(), names="value")
        self.format = "csv"
        super().__init__()
        self.add_class("aq-parse-options")
        self.show_for("csv")

    def on_change(self, callback: Callable[[], None]) -> None:
        self._callbacks.append(callback)

    def _changed(self, _change: dict[str, Any]) -> None:
        for callback in self._callbacks:
            callback()

    def show_for(self, format_: str, sheets: list[str] | None = None) -> None:
        """Show the options of ``format_`` (and the workbook's ``sheets``)."""
        self.format = format_
        if sheets is not None and list(self.sheet.options) != sheets:
            self.sheet.unobserve(self._changed, names="value")
            self.sheet.options = sheets
            self.sheet.value = sheets[0] if sheets else None
            self.sheet.observe(self._changed, names="value")
        self._layout()

    def _layout(self) -> None:
        names = _OPTIONS_OF.get(self.format, ())
        children: list[W.Widget] = []
        for name in names:
            children.append(self._controls[name])
            if name == "header" and self.header.value == "row":
                children.append(self.header_row)
        if not children:
            children = [W.HTML('<span class="aq-muted">This format needs no read options.</span>')]
        self.children = tuple(children)

    def values(self) -> dict[str, Any]:
        """The read options chosen (defaults left out), for ``ws.datasets.ingest``."""
        names = _OPTIONS_OF.get(self.format, ())
        out: dict[str, Any] = {}
        if "delimiter" in names and self.delimiter.value is not None:
            out["delimiter"] = self.delimiter.value
        if "encoding" in names and self.encoding.value.strip():
            out["encoding"] = self.encoding.value.strip()
        if "header" in names and self.header.value != "first":
            out["header"] = False if self.header.value == "none" else int(self.header_row.value) - 1
        if "skip_rows" in names and self.skip_rows.value:
            out["skip_rows"] = int(self.skip_rows.value)
        if "null_values" in names and self.null_values.value.strip():
            out["null_values"] = [v.strip() for v in self.null_values.value.split(",")]
        sheets = self.sheet.options
        if "sheet" in names and sheets and self.sheet.value not in (None, sheets[0]):
            out["sheet"] = self.sheet.value
        if "records_path" in names and self.records_path.value.strip():
            out["records_path"] = self.records_path.value.strip()
        return out


#: What a column can be made on save, and the recipe op that does it.
TYPE_CHOICES: dict[str, tuple[str, str | None]] = {
    "keep": ("As detected", None),
    "numeric": ("Number", "to_number"),
    "datetime": ("Date / time", "to_datetime"),
    "category": ("Category", "to_category"),
    "boolean": ("True / false", "to_boolean"),
    "text": ("Text", "to_text"),
}


def override_steps(detected: Mapping[str, str], chosen: Mapping[str, str]) -> list[dict[str, Any]]:
    """Recipe steps that give each column its chosen type: one step per target type, columns
    in their order; a choice equal to the detected kind needs no step."""
    from ..core.recipe_base import kind_of

    by_op: dict[str, list[str]] = {}
    for column, dtype in detected.items():
        target = chosen.get(column, "keep")
        op = TYPE_CHOICES.get(target, ("", None))[1]
        if op is None or kind_of(dtype) == target:
            continue
        by_op.setdefault(op, []).append(column)
    return [{"op": op, "columns": columns} for op, columns in by_op.items()]


class TypeOverrides(W.VBox):
    """The inferred schema, one row per column, each with a type to give it on save."""

    def __init__(self) -> None:
        self.detected: dict[str, str] = {}
        self.choices: dict[str, W.Dropdown] = {}
        self._callbacks: list[Callable[[], None]] = []
        super().__init__()
        self.add_class("aq-schema")

    def on_change(self, callback: Callable[[], None]) -> None:
        self._callbacks.append(callback)

    def show(self, schema: Mapping[str, str], missing: Mapping[str, Any] | None = None) -> None:
        """Show ``schema``; choices of columns that are still there are kept."""
        from ..core.recipe_base import kind_of

        previous = {c: d.value for c, d in self.choices.items()}
        self.detected = dict(schema)
        self.choices = {}
        rows: list[W.Widget] = [
            W.HTML(
                '<div class="aq-schema-head"><b>Column</b><b>Detected</b><b>Missing</b>'
                "<b>Store as</b></div>"
            )
        ]
        labels = [(label, key) for key, (label, _op) in TYPE_CHOICES.items()]
        for column, dtype in schema.items():
            dropdown = W.Dropdown(
                options=labels,
                value=previous.get(column, "keep"),
                layout=W.Layout(width="150px"),
                description_allow_html=False,
            )
            dropdown.observe(lambda _c: self._changed(), names="value")
            self.choices[column] = dropdown
            gap = ""
            if missing and column in missing:
                gap = fmt.percent(float(missing[column].get("percent", 0.0)))
            rows.append(
                W.HBox(
                    [
                        W.HTML(
                            f'<div class="aq-schema-row"><span title="{fmt.escape(column)}">'
                            f"{fmt.escape(column)}</span><span>{fmt.escape(kind_of(dtype))} "
                            f'<span class="aq-muted">{fmt.escape(dtype)}</span></span>'
                            f"<span>{fmt.escape(gap)}</span></div>"
                        ),
                        dropdown,
                    ],
                    layout=W.Layout(align_items="center"),
                )
            )
        self.children = tuple(rows)

    def clear(self) -> None:
        self.detected, self.choices = {}, {}
        self.children = ()

    def chosen(self) -> dict[str, str]:
        return {c: d.value for c, d in self.choices.items() if d.value != "keep"}

    def set(self, column: str, kind: str) -> None:
        self.choices[column].value = kind

    def steps(self) -> list[dict[str, Any]]:
        return override_steps(self.detected, self.chosen())

    def _changed(self) -> None:
        for callback in self._callbacks:
            callback()
