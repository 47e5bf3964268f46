"""The Upload wizard: bring a file, a workspace file, a web address or a SQL query in as a
dataset version, with a live preview of how it will be read, column types to choose, the
quality summary, and a link on to Explore and Clean.

Files of any size: when the workspace talks to a Jupyter server (the RemoteBackend), a file
from the user's computer goes from the browser straight to the server's streaming upload
endpoint (:class:`.browser_upload.BrowserUpload`); the kernel only sees its first bytes, for
the preview. With the embedded store (no server), ipywidgets' ``FileUpload`` is the only way
in, and it carries at most 10 MB: the wizard says so and offers the workspace file instead.

Column types chosen here are applied on save as a recipe of ``to_number``/``to_datetime``/
``to_category``/``to_boolean``/``to_text`` steps on the imported version: the stored version
has the chosen types, and its lineage shows the raw import and the steps.
"""

from __future__ import annotations

import os
import re
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

import ipywidgets as W

from ..core.errors import Invalid
from ..core.permissions import Permission
from . import format as fmt
from .base import Wizard, empty_state
from .browser_upload import ACCEPT, BrowserUpload, ChosenFile, UploadResult
from .code import CodeView
from .table import PagedTable, column_infos
from .upload_forms import ParseOptions, TypeOverrides, WorkspaceBrowser

if TYPE_CHECKING:
    from ..core.dataset_versions import DatasetVersion
    from ..core.ingest_preview import FilePreview

__all__ = ["KERNEL_MESSAGE_LIMIT", "UploadWizard"]

#: What a file from the user's computer may weigh without a server: ipywidgets' FileUpload
#: sends it through the kernel's websocket, and tornado refuses messages above 10 MiB
#: (jupyter-widgets/ipywidgets#2522) without telling anyone.
KERNEL_MESSAGE_LIMIT = 10 * 1024 * 1024
SOURCES = [
    ("My computer", "computer"),
    ("Workspace file", "workspace"),
    ("Web address", "url"),
    ("SQL query", "sql"),
]
_FORMATS = [("Detect", ""), ("CSV", "csv"), ("TSV", "tsv"), ("Excel", "excel"),
            ("JSON", "json"), ("JSON lines", "jsonl"), ("Parquet", "parquet"),
            ("Arrow", "arrow")]  # fmt: skip
_LABEL = {"description_width": "140px"}


def suggest_name(filename: str) -> str:
    """A dataset name from a file name: ``Sales 2024 (final).csv`` -> ``sales-2024-final``."""
    stem = Path(filename).stem if filename else ""
    name = re.sub(r"[^A-Za-z0-9_.-]+", "-", stem).strip("-._").lower()
    name = re.sub(r"\.{2,}", ".", name)[:100]
    return name or "dataset"


class UploadWizard(Wizard):
    """Bring data in as a new dataset version.

    ``workspace_root``: the folder the workspace file browser shows (default: the kernel's
    working directory, which Jupyter sets to the notebook's folder). ``browser_upload``:
    stream files from the browser to the server (default: when the workspace is a server's
    API, i.e. ``ASTRALYTIQ_URL`` is set in the kernel).
    """

    title = "Upload data"

    def __init__(
        self,
        ws: Any = None,
        *,
        workspace_root: str | os.PathLike[str] | None = None,
        browser_upload: bool | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(ws, **kwargs)
        if browser_upload is None:
            browser_upload = type(self.ws.backend).__name__ == "RemoteBackend"
        self.streaming = browser_upload
        self.version: DatasetVersion | None = None  # the last version saved
        self.raw_version: DatasetVersion | None = None  # its import, before type changes
        self.reused = False
        self.preview: FilePreview | None = None
        self._selection: dict[str, Any] | None = None
        self._imported: DatasetVersion | None = None  # URL/SQL: imported, types not yet set
        self._generation = 0
        self._preview_thread: threading.Thread | None = None
        self._auto_name = ""
        if not self.can(Permission.DATASET_WRITE):
            self.body.children = (
                empty_state(
                    f"Your role ({self.ws.me.role.value}) can look at data but not upload it. "
                    "Ask an admin of your workspace for the analyst role."
                ),
            )
            return
        self._build(workspace_root)

    # -- layout --------------------------------------------------------------------------
    def _build(self, workspace_root: str | os.PathLike[str] | None) -> None:
        self.source = W.ToggleButtons(options=SOURCES, value="computer", description="")
        self.source.observe(lambda _c: self._on_source(), names="value")
        # My computer
        if self.streaming:
            self.browser: BrowserUpload | None = BrowserUpload()
            self.browser.on_chosen(self._on_browser_file)
            self.browser.on_head(self._on_browser_head)
            self.browser.on_progress(self._on_upload_progress)
            self.browser.on_result(self._on_upload_result)
            self.file_upload: W.FileUpload | None = None
            note = (
                "Files of any size go straight from your browser to the server; only the "
                "first megabyte is read here, for the preview."
            )
            picker: W.Widget = self.browser
        else:
            self.browser = None
            self.file_upload = W.FileUpload(accept=ACCEPT, multiple=False, description="Choose")
            self.file_upload.observe(lambda _c: self._on_file_upload(), names="value")
            note = (
                f"Up to {KERNEL_MESSAGE_LIMIT // (1024 * 1024)} MB from your computer: without "
                "a Jupyter server the browser sends the file through the notebook's connection, "
                "which refuses larger messages. For a larger file, copy it into the Jupyter "
                "workspace (drag it into JupyterLab's file browser) and use Workspace file."
            )
            picker = self.file_upload
        self.use_workspace = W.Button(description="Use a workspace file", icon="folder-open")
        self.use_workspace.on_click(lambda _b: setattr(self.source, "value", "workspace"))
        computer_box = W.VBox(
            [picker, W.HTML(f'<div class="aq-muted">{fmt.escape(note)}</div>')]
            + ([] if self.streaming else [self.use_workspace])
        )
        # Workspace file
        self.files = WorkspaceBrowser(workspace_root)
        self.files.on_select(lambda path: self._on_path(path))
        # Web address
        self.url = W.Text(
            placeholder="https://example.com/data.csv",
            description="Address",
            style=_LABEL,
            layout=W.Layout(width="560px"),
        )
        self.url_format = W.Dropdown(options=_FORMATS, description="Format", style=_LABEL)
        self.url.observe(lambda _c: self._on_remote_source(), names="value")
        self.url_format.observe(lambda _c: self._on_remote_source(), names="value")
        url_box = W.VBox(
            [
                self.url,
                self.url_format,
                W.HTML(
                    '<div class="aq-muted">The server downloads it (only public addresses, '
                    "unless your operator allows more). You can check its rows and set column "
                    "types right after the import.</div>"
                ),
            ]
        )
        # SQL query
        self.sql_url = W.Text(
            placeholder="postgresql+psycopg://user@host/database",
            description="Database",
            style=_LABEL,
            layout=W.Layout(width="560px"),
        )
        self.sql_query = W.Textarea(
            placeholder="SELECT * FROM sales WHERE year = 2024",
            description="Query",
            style=_LABEL,
            layout=W.Layout(width="560px", height="90px"),
        )
        self.sql_url.observe(lambda _c: self._on_remote_source(), names="value")
        self.sql_query.observe(lambda _c: self._on_remote_source(), names="value")
        sql_box = W.VBox(
            [
                self.sql_url,
                self.sql_query,
                W.HTML(
                    '<div class="aq-muted">One SELECT (or WITH) query, run read-only. Where the '
                    "database may be reached from is your operator's choice.</div>"
                ),
            ]
        )
        self.panels = {
            "computer": computer_box,
            "workspace": self.files,
            "url": url_box,
            "sql": sql_box,
        }
        self.panel = W.VBox([computer_box])
        # Parse options, preview, schema, quality
        self.options = ParseOptions()
        self.options.on_change(self._reparse)
        self.preview_note = W.HTML()
        self.table = PagedTable(page_size=25)
        self.types = TypeOverrides()
        self.types.on_change(self._refresh_code)
        self.quality = W.HTML()
        # Name, description, save
        self.name = W.Text(
            description="Dataset name",
            placeholder="e.g. sales",
            style=_LABEL,
            layout=W.Layout(width="420px"),
        )
        self.description = W.Textarea(
            description="Description",
            placeholder="What is in it, where it comes from (optional)",
            style=_LABEL,
            layout=W.Layout(width="560px", height="60px"),
        )
        self.save_button = W.Button(
            description="Save dataset", icon="upload", button_style="primary"
        )
        self.save_button.on_click(lambda _b: self.save())
        self.code = CodeView()
        self.code.set_code(self.python_code)
        for control in (self.name, self.description):
            control.observe(lambda _c: self._refresh_code(), names="value")
        self.options.on_change(self._refresh_code)

        def section(title: str, *children: W.Widget) -> W.VBox:
            box = W.VBox([W.HTML(f'<div class="aq-title">{fmt.escape(title)}</div>'), *children])
            box.add_class("aq-card")
            return box

        self.options_section = section("How to read it", self.options)
        self.preview_section = section("Preview", self.preview_note, self.table)
        self.schema_section = section("Columns and types", self.types)
        self.quality_section = section("Quality", self.quality)
        self.body.children = (
            section("Where is the data?", self.source, self.panel),
            self.options_section,
            self.preview_section,
            self.schema_section,
            self.quality_section,
            section(
                "Save",
                self.name,
                self.description,
                W.HBox([self.save_button]),
                self.code,
            ),
        )
        self._on_source()

    # -- choosing a source ---------------------------------------------------------------
    def _on_source(self) -> None:
        kind = self.source.value
        self.panel.children = (self.panels[kind],)
        self._selection = None
        self._imported = None
        self.preview = None
        self.table.clear()
        self.types.clear()
        self.quality.value = ""
        files = kind in ("computer", "workspace")
        self.options_section.layout.display = None if files or kind == "url" else "none"
        self.preview_section.layout.display = None if files else "none"
        self.schema_section.layout.display = None if files else "none"
        self.quality_section.layout.display = None if files else "none"
        self.save_button.description = "Save dataset" if files else "Import"
        self.preview_note.value = '<span class="aq-muted">Choose a file to see its rows.</span>'
        if kind == "computer":
            if self.browser is not None and self.browser.file is not None:
                self._on_browser_file(self.browser.file)
            elif self.file_upload is not None and self.file_upload.value:
                self._on_file_upload()
        elif kind == "workspace" and self.files.path is not None:
            self._on_path(self.files.path)
        elif kind == "url":
            self.options.show_for(self._url_format())
        self._refresh_code()

    def _select(self, selection: dict[str, Any], filename: str) -> None:
        from ..core.ingest_preview import file_format

        self._selection = selection
        self._imported = None
        if not self.name.value or self.name.value == self._auto_name:
            self._auto_name = suggest_name(filename)
            self.name.value = self._auto_name
        try:
            self.options.show_for(file_format(filename))
        except Invalid as error:
            self._selection = None
            self._show_preview_error(error)
            return
        self._reparse()

    def _on_file_upload(self) -> None:
        assert self.file_upload is not None
        if not self.file_upload.value:
            return
        item = self.file_upload.value[0]
        data = bytes(item["content"])
        self._select({"kind": "bytes", "name": item["name"], "data": data}, item["name"])

    def _on_browser_file(self, chosen: ChosenFile) -> None:
        from ..core.ingest_preview import bytes_needed, file_format

        self._selection = {"kind": "browser", "name": chosen.name, "size": chosen.size}
        try:
            needed = bytes_needed(file_format(chosen.name), chosen.size)
        except Invalid as error:
            self._select(self._selection, chosen.name)  # shows the format error
            self._show_preview_error(error)
            return
        if needed is None:
            self._select(self._selection, chosen.name)
            return
        self.preview_note.value = '<span class="aq-muted">Reading the first rows …</span>'
        assert self.browser is not None
        self.browser.request_head(needed)

    def _on_browser_head(self, chosen: ChosenFile) -> None:
        selection = {
            "kind": "browser",
            "name": chosen.name,
            "size": chosen.size,
            "head": chosen.head,
        }
        self._select(selection, chosen.name)

    def _on_path(self, path: Path | None) -> None:
        if path is not None and self.source.value == "workspace":
            self._select({"kind": "path", "path": path, "name": path.name}, path.name)

    def _on_remote_source(self) -> None:
        self._imported = None
        self.types.clear()
        self.save_button.description = "Import"
        if self.source.value == "url":
            self.options.show_for(self._url_format())
            if not self.name.value or self.name.value == self._auto_name:
                tail = self.url.value.split("?")[0].rstrip("/").rsplit("/", 1)[-1]
                self._auto_name = suggest_name(tail) if tail else ""
                self.name.value = self._auto_name
        self._refresh_code()

    def _url_format(self) -> str:
        if self.url_format.value:
            return self.url_format.value
        path = self.url.value.split("?")[0].lower()
        for ext, name in (
            (".tsv", "tsv"),
            (".xlsx", "excel"),
            (".xlsm", "excel"),
            (".json", "json"),
        ):
            if path.endswith(ext):
                return name
        return "csv" if path.endswith((".csv", ".txt")) else "parquet"

    # -- live preview ----------------------------------------------------------------------
    def _reparse(self) -> None:
        """Read the selection again with the current options (latest request wins)."""
        selection = self._selection
        if selection is None or self.source.value not in ("computer", "workspace"):
            return
        self._generation += 1
        generation = self._generation
        options = self.options.values()

        def work() -> None:
            from ..core.ingest_preview import preview_file

            try:
                if selection["kind"] == "path":
                    result = preview_file(selection["path"], **options)
                elif selection["kind"] == "bytes":
                    result = preview_file(selection["data"], filename=selection["name"], **options)
                elif "head" in selection:
                    result = preview_file(
                        selection["head"],
                        filename=selection["name"],
                        size=selection["size"],
                        **options,
                    )
                else:
                    from ..core.ingest_preview import _too_large, file_format

                    raise _too_large(file_format(selection["name"]), selection["size"])
            except Exception as error:  # noqa: BLE001 - shown in plain words
                if generation == self._generation:
                    self._show_preview_error(error)
                return
            if generation == self._generation:
                self._show_preview(result)

        self.preview_note.value = '<span class="aq-muted">Reading …</span>'
        if self.runner.background:
            thread = threading.Thread(target=work, name="aq-upload-preview", daemon=True)
            self._preview_thread = thread
            thread.start()
        else:
            work()

    def _show_preview_error(self, error: BaseException) -> None:
        from .status import describe_error

        message, _details = describe_error(error)
        self.preview = None
        self.preview_note.value = f'<span class="aq-status-error">⚠ {fmt.escape(message)}</span>'
        self.table.clear()
        if getattr(error, "detail", {}).get("preview") == "too_large":
            self.preview_note.value = f'<span class="aq-muted">{fmt.escape(message)}</span>'
        self.types.clear()
        self.quality.value = ""

    def _show_preview(self, preview: FilePreview) -> None:
        self.preview = preview
        if preview.sheets:
            self.options.show_for("excel", preview.sheets)
        shown = len(preview.frame)
        if preview.complete:
            where = f"all {fmt.count(preview.rows_read)} rows of the file"
        elif preview.total_rows is not None:
            where = f"the first rows of {fmt.count(preview.total_rows)}"
        else:
            where = (
                f"the first {fmt.count(preview.rows_read)} rows (the start of the file); the "
                "import reads every row and may widen a column's type"
            )
        self.preview_note.value = (
            f'<span class="aq-muted">{fmt.count(shown)} rows shown, types from {where}.</span>'
        )
        missing = {c: m["percent"] for c, m in preview.quality.get("missing", {}).items()}
        self.table.show_frame(preview.frame, column_infos(preview.frame, missing=missing))
        self.types.show(preview.schema, preview.quality.get("missing"))
        self.quality.value = quality_html(
            preview.quality, "of the rows read" if not preview.complete else ""
        )
        self._refresh_code()

    # -- saving ----------------------------------------------------------------------------
    def save(self) -> None:
        """Store the selection as a new version (the Save button)."""
        if self.runner.busy or (self.browser is not None and self.browser.uploading):
            self.status.info("Please wait: the last save is still running.")
            return
        try:
            from ..core.names import check_name

            name = check_name(self.name.value.strip(), "dataset name")
            kind = self.source.value
            if kind in ("computer", "workspace") and self._selection is None:
                raise Invalid(
                    "Choose a file first."
                    if kind == "computer"
                    else "Choose a file in the workspace first."
                )
        except Invalid as error:
            self.status.fail(error)
            return
        if self._imported is not None:  # URL/SQL already imported: set the types chosen
            imported = self._imported
            self.runner.run(
                "Setting column types",
                lambda progress: self._typed(imported, name, progress),
                self._saved,
                controls=[self.save_button],
            )
            return
        if kind == "computer" and self.browser is not None:
            self._browser_save(name)
            return
        if kind in ("url", "sql"):
            self.types.clear()  # their types are chosen once their rows are in
        self.runner.run(
            "Saving" if kind in ("computer", "workspace") else "Importing",
            lambda progress: self._typed(self._ingest(name, progress), name, progress),
            lambda result: self._saved(result, first_import=kind in ("url", "sql")),
            controls=[self.save_button, self.source],
            cancellable=True,
        )

    def _ingest(self, name: str, progress: Any) -> DatasetVersion:
        kind = self.source.value
        description = self.description.value.strip() or None
        options = self.options.values()
        datasets = self.ws.datasets
        if kind == "computer":
            assert self._selection is not None
            return datasets.ingest(
                self._selection["data"],
                name=name,
                filename=self._selection["name"],
                description=description,
                progress=progress.bytes,
                **options,
            )
        if kind == "workspace":
            assert self._selection is not None
            return datasets.ingest(
                str(self._selection["path"]),
                name=name,
                description=description,
                progress=progress.bytes,
                **options,
            )
        if kind == "url":
            address = self.url.value.strip()
            if not re.match(r"(?i)https?://", address):
                raise Invalid("Give a web address starting with https:// (or http://).")
            return datasets.ingest(
                address,
                name=name,
                format=self.url_format.value or None,
                description=description,
                **options,
            )
        from ..core.ingest import SqlSource

        if not self.sql_url.value.strip() or not self.sql_query.value.strip():
            raise Invalid("Give the database address and a SELECT query.")
        source = SqlSource(self.sql_url.value.strip(), self.sql_query.value.strip())
        return datasets.ingest(source, name=name, description=description)

    def _typed(
        self, raw: DatasetVersion, name: str, progress: Any
    ) -> tuple[DatasetVersion, DatasetVersion]:
        """Apply the chosen column types to the imported version ``raw`` (a recipe, so the
        lineage shows them); returns ``(raw, stored)``."""
        progress.check()
        steps = self.types.steps()
        if not steps:
            return raw, raw
        progress("Setting column types", None)
        typed = self.ws.recipes.apply(
            steps, raw.ref, save_as=name, note="Column types chosen in the Upload wizard"
        )
        return raw, typed

    def _saved(
        self, result: tuple[DatasetVersion, DatasetVersion], *, first_import: bool = False
    ) -> None:
        raw, version = result
        self.raw_version, self.version = raw, version
        self.reused = bool(getattr(raw, "reused", False)) or self.reused
        if first_import:
            # Imported from a URL or a database: show what came in; types can be set now.
            self._imported = raw
            self.save_button.description = "Save with these types"
            self.schema_section.layout.display = None
        elif self._imported is not None:
            self._imported = None
            self.save_button.description = "Import"
        self.preview_section.layout.display = None
        self.quality_section.layout.display = None
        self._show_stored(version, with_types=first_import)
        if self.reused:
            message = f"Already stored as {version.ref}: the same content was uploaded before"
        else:
            message = (
                f"Saved {version.ref}: {fmt.count(version.rows)} rows, {version.columns} columns"
            )
        if version.ref != raw.ref:
            message += f" (types set by a recipe on {raw.ref})"
        self.status.done(
            message,
            self.link("Open in Explore", "explore", ref=version.ref)
            + self.link("Clean", "clean", ref=version.ref),
        )
        self.reused = False

    def _show_stored(self, version: DatasetVersion, *, with_types: bool = False) -> None:
        """The saved version, paged from the store, with its quality over all its rows (and
        its columns to give types to, after a URL or SQL import; a file keeps the types
        chosen on its preview, which a second save applies again)."""
        ref, datasets = version.ref, self.ws.datasets
        missing = {c: m.get("percent", 0.0) for c, m in version.quality.get("missing", {}).items()}
        self.preview_note.value = (
            f'<span class="aq-muted">Stored as {fmt.escape(ref)}: '
            f"{fmt.count(version.rows)} rows, {fmt.size(version.size_bytes)}.</span>"
        )
        first = datasets.load(ref, limit=self.table.page_size)
        infos = column_infos(first, missing=missing)
        for column, dtype in version.schema.items():
            if column in infos:
                infos[column].dtype = dtype
        self.table.show_rows(
            lambda offset, limit: datasets.load(ref, offset=offset, limit=limit),
            version.rows,
            infos,
        )
        if with_types:
            self.types.show(version.schema, version.quality.get("missing"))
        self.quality.value = quality_html(version.quality, "")

    # -- the browser upload ----------------------------------------------------------------
    def _browser_save(self, name: str) -> None:
        from ..core.upload_query import encode

        assert self.browser is not None and self._selection is not None
        try:
            query: dict[str, str | list[str]] = {
                "filename": self._selection["name"],
                **encode(self.options.values()),
            }
        except Invalid as error:
            self.status.fail(error)
            return
        description = self.description.value.strip()
        if description:
            query["description"] = description
        self._pending_name = name
        self.save_button.disabled = True
        self.source.disabled = True
        self.status.busy(f"Uploading {self._selection['name']}", 0.0)
        self.browser.upload(name, query)

    def _on_upload_progress(self, loaded: int, total: int) -> None:
        what = self._selection["name"] if self._selection else "the file"
        self.status.busy(
            f"Uploading {what}: {fmt.size(loaded)} of {fmt.size(total)}",
            loaded / total if total else None,
        )

    def _on_upload_result(self, result: UploadResult) -> None:
        self.save_button.disabled = False
        self.source.disabled = False
        if not result.ok:
            self.status.fail(result.exception())
            return
        body = result.body or {}
        self.reused = bool(body.get("reused"))
        ref, name = str(body.get("ref", "")), self._pending_name
        self.runner.run(
            "Reading the upload",
            lambda progress: self._typed(self.ws.datasets.get(ref), name, progress),
            self._saved,
            controls=[self.save_button],
        )

    def cancel(self) -> None:
        """Cancel the running save or upload (the browser aborts its request)."""
        if self.browser is not None and self.browser.uploading:
            self.browser.cancel()
        self.runner.cancel()

    # -- show code and tests ---------------------------------------------------------------
    def python_code(self) -> str:
        """The Python equivalent of what the wizard does with the current choices."""
        kind = getattr(self, "source", None)
        kind = kind.value if kind is not None else "computer"
        name = self.name.value.strip() or "my-data"
        args: list[str] = []
        if kind in ("computer", "workspace"):
            file_name = (self._selection or {}).get("name", "data.csv")
            if kind == "workspace" and self._selection:
                path = self._selection["path"]
                try:
                    file_name = str(Path(path).relative_to(Path.cwd()))
                except ValueError:
                    file_name = str(path)
            source = repr(file_name)
        elif kind == "url":
            source = repr(self.url.value.strip() or "https://example.com/data.csv")
            if self.url_format.value:
                args.append(f"format={self.url_format.value!r}")
        else:
            source = (
                f"aq.SqlSource({self.sql_url.value.strip()!r}, {self.sql_query.value.strip()!r})"
            )
        if self.description.value.strip():
            args.append(f"description={self.description.value.strip()!r}")
        if kind != "sql":
            args += [f"{k}={v!r}" for k, v in self.options.values().items()]
        lines = [
            "import astralytiq_jupyter as aq",
            "",
            "ws = aq.connect()",
            f"version = ws.datasets.ingest({', '.join([source, f'name={name!r}', *args])})",
        ]
        steps = self.types.steps()
        if steps:
            lines += [
                "# the column types chosen, as a recipe on the imported version",
                f"steps = {steps!r}",
                f"version = ws.recipes.apply(steps, version.ref, save_as={name!r})",
            ]
        lines.append("print(version.ref, version.rows, version.schema)")
        return "\n".join(lines)

    def _refresh_code(self) -> None:
        self.code.refresh()

    def wait(self, timeout: float | None = 120) -> None:
        thread = self._preview_thread
        if thread is not None:
            thread.join(timeout)
        super().wait(timeout)


def quality_html(quality: dict[str, Any], scope: str) -> str:
    """The quality summary: score, missing cells, duplicate and constant columns, issues."""
    if not quality:
        return ""
    score = quality.get("score")
    badge = "ok" if (score or 0) >= 90 else "warn" if (score or 0) >= 70 else "bad"
    kpis = [
        ("Quality score", f"{fmt.number(score)} / 100" if score is not None else "–"),
        ("Rows", fmt.count(quality.get("rows"))),
        ("Missing cells", fmt.percent(quality.get("missing_percent"))),
        ("Duplicate rows", fmt.count(quality.get("duplicate_rows"))),
        ("Constant columns", fmt.count(len(quality.get("constant_columns", [])))),
    ]
    cards = "".join(
        f'<div class="aq-kpi"><div class="aq-kpi-value">{fmt.escape(v)}</div>'
        f'<div class="aq-kpi-label">{fmt.escape(k)}</div></div>'
        for k, v in kpis
    )
    issues = quality.get("issues", [])[:8]
    items = "".join(
        f'<li><span class="aq-badge aq-badge-'
        f'{"bad" if i.get("severity") == "error" else "warn"}">'
        f"{fmt.escape(i.get('severity', ''))}</span> {fmt.escape(i.get('message', ''))}</li>"
        for i in issues
    )
    scope_text = f' <span class="aq-muted">({fmt.escape(scope)})</span>' if scope else ""
    return (
        f'<div><span class="aq-badge aq-badge-{badge}">score {fmt.number(score)}</span>'
        f"{scope_text}</div><div>{cards}</div>"
        + (f"<ul class='aq-issues'>{items}</ul>" if items else "<div>No issues found.</div>")
    )
