"""The app's lists: the tenant's datasets and models, searchable and paged, each row with the
actions the user's role allows (explore, clean, train, predict, delete...)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import ipywidgets as W

from ..core.permissions import Permission
from . import format as fmt
from .base import Navigate, Wizard, empty_state

if TYPE_CHECKING:
    from ..client.workspace import Workspace
    from .theme import Theme

__all__ = ["DatasetsView", "ModelsView"]

PAGE = 25


def _action(label: str, icon: str, callback: Callable[[], None], tooltip: str = "") -> W.Button:
    button = W.Button(
        description=label, icon=icon, tooltip=tooltip or label, layout=W.Layout(width="auto")
    )
    button.on_click(lambda _b: callback())
    return button


class _Listing(Wizard):
    """A searchable, paged list; subclasses give the columns, the rows and their actions."""

    columns: Sequence[str] = ()
    noun = "item"

    def __init__(
        self,
        ws: Workspace | None = None,
        *,
        navigate: Navigate | None = None,
        theme: Theme | None = None,
        header: bool = True,
        background: bool = True,
    ) -> None:
        super().__init__(ws, navigate=navigate, theme=theme, header=header, background=background)
        self.offset = 0
        self.search = W.Text(
            placeholder=f"Search {self.noun}s by name",
            continuous_update=False,
            layout=W.Layout(width="320px"),
        )
        self.search.observe(lambda _c: self.refresh(offset=0), names="value")
        self.reload = W.Button(icon="refresh", tooltip="Reload", layout=W.Layout(width="36px"))
        self.reload.on_click(lambda _b: self.refresh())
        self.prev = W.Button(
            icon="chevron-left", tooltip="Previous page", layout=W.Layout(width="36px")
        )
        self.next = W.Button(
            icon="chevron-right", tooltip="Next page", layout=W.Layout(width="36px")
        )
        self.prev.on_click(lambda _b: self.refresh(offset=max(0, self.offset - PAGE)))
        self.next.on_click(lambda _b: self.refresh(offset=self.offset + PAGE))
        self.position = W.HTML()
        self.table = W.GridBox(layout=W.Layout(grid_gap="2px 12px", align_items="center"))
        self.detail = W.VBox()
        self.body.children = [
            W.HBox(
                [self.search, self.reload, self.prev, self.position, self.next],
                layout=W.Layout(align_items="center"),
            ),
            self.table,
            self.detail,
        ]
        self.refresh()

    def receive(self, **context: Any) -> None:
        self.refresh()

    # subclasses
    def fetch(self, search: str | None, limit: int, offset: int) -> list[Any]:
        raise NotImplementedError

    def cells(self, item: Any) -> list[W.Widget]:
        raise NotImplementedError

    def empty(self) -> W.Widget:
        raise NotImplementedError

    def refresh(self, offset: int | None = None) -> None:
        """Reload the current page (or the page at ``offset``)."""
        if offset is not None:
            self.offset = offset
        try:
            items = self.fetch(self.search.value or None, PAGE + 1, self.offset)
        except Exception as error:  # noqa: BLE001 - shown in plain words
            self.status.fail(error)
            return
        more = len(items) > PAGE
        items = items[:PAGE]
        self.prev.disabled = self.offset == 0
        self.next.disabled = not more
        if not items:
            self.position.value = ""
            self.table.children = (
                [self.empty()]
                if not self.search.value
                else [
                    W.HTML(
                        f'<div class="aq-muted">No {self.noun} matches '
                        f"“{fmt.escape(self.search.value)}”.</div>"
                    )
                ]
            )
            self.table.layout.grid_template_columns = "1fr"
            return
        self.position.value = (
            f'<span class="aq-muted">{fmt.count(self.offset + 1)}–'
            f"{fmt.count(self.offset + len(items))}</span>"
        )
        header = [W.HTML(f"<b>{fmt.escape(c)}</b>") for c in self.columns]
        cells: list[W.Widget] = list(header)
        for item in items:
            cells.extend(self.cells(item))
        self.table.layout.grid_template_columns = f"repeat({len(self.columns) - 1}, auto) 1fr"
        self.table.children = cells


class DatasetsView(_Listing):
    """Every dataset of the tenant with its latest version."""

    title = "Datasets"
    noun = "dataset"
    columns = ("Name", "Versions", "Rows", "Columns", "Quality", "Updated", "Actions")

    def fetch(self, search: str | None, limit: int, offset: int) -> list[Any]:
        return self.ws.datasets.list(search=search, limit=limit, offset=offset)

    def empty(self) -> W.Widget:
        buttons = []
        if self.offers("upload"):
            buttons.append(_action("Upload a file", "upload", lambda: self._go("upload")))
        return empty_state("No datasets yet — upload a file to start.", *buttons)

    def cells(self, summary: Any) -> list[W.Widget]:
        from .explore import quality_badge

        v = summary.latest
        description = (
            f'<div class="aq-muted">{fmt.escape(summary.description)}</div>'
            if summary.description
            else ""
        )
        actions = []
        for section, label, icon in (
            ("explore", "Explore", "search"),
            ("clean", "Clean", "magic"),
            ("train", "Train", "cogs"),
        ):
            if self.offers(section):
                actions.append(_action(label, icon, lambda s=section: self._go(s, ref=v.ref)))
        if self.can(Permission.DATASET_DELETE):
            actions.append(self._delete_button(summary.name))
        return [
            W.HTML(f"<b>{fmt.escape(summary.name)}</b>{description}"),
            W.HTML(fmt.count(summary.versions)),
            W.HTML(fmt.count(v.rows)),
            W.HTML(fmt.count(v.columns)),
            W.HTML(quality_badge(v.quality_score)),
            W.HTML(f"{v.created_at:%Y-%m-%d %H:%M} by {fmt.escape(v.created_by)}"),
            W.HBox(actions),
        ]

    def _go(self, section: str, **context: Any) -> None:
        if self.navigate is not None:
            self.navigate(section, **context)

    def _delete_button(self, name: str) -> W.Widget:
        """Delete asks first: a second button confirms, naming what goes."""
        box = W.HBox()
        ask = _action("Delete", "trash", lambda: confirm(), f"Delete every version of {name}")

        def confirm() -> None:
            yes = _action(f"Delete {name}", "trash", lambda: self._delete(name))
            yes.button_style = "danger"
            no = _action("Keep", "times", lambda: setattr(box, "children", [ask]))
            box.children = [yes, no]

        box.children = [ask]
        return box

    def _delete(self, name: str) -> None:
        try:
            count = self.ws.datasets.delete(name)
        except Exception as error:  # noqa: BLE001 - shown in plain words
            self.status.fail(error)
            return
        self.status.done(f"Deleted {name} ({count} version{'s' if count != 1 else ''})")
        self.refresh()


class ModelsView(_Listing):
    """Every registered model with its latest version, metrics and aliases; a row opens the
    version's page (metrics, lineage, runtime) with its actions."""

    title = "Models"
    noun = "model"
    columns = ("Name", "Versions", "Task", "Algorithm", "Score", "Aliases", "Actions")

    def fetch(self, search: str | None, limit: int, offset: int) -> list[Any]:
        return self.ws.models.list(search=search, limit=limit, offset=offset)

    def empty(self) -> W.Widget:
        buttons = []
        if self.offers("train"):
            buttons.append(_action("Train a model", "cogs", lambda: self._go("train")))
        return empty_state("No models yet — train one on a dataset and register it.", *buttons)

    def _go(self, section: str, **context: Any) -> None:
        if self.navigate is not None:
            self.navigate(section, **context)

    def cells(self, summary: Any) -> list[W.Widget]:
        v = summary.latest
        from .model_page import headline

        score = fmt.escape(headline(v))
        aliases = " ".join(
            f'<span class="aq-badge">{fmt.escape(a)} → v{n}</span>'
            for a, n in sorted(summary.aliases.items())
        )
        actions = [_action("Details", "info-circle", lambda: self.show(v.ref))]
        if self.offers("predict"):
            actions.append(_action("Predict", "bullseye", lambda: self._go("predict", ref=v.ref)))
        return [
            W.HTML(f"<b>{fmt.escape(summary.name)}</b>"),
            W.HTML(fmt.count(summary.versions)),
            W.HTML(fmt.escape(v.task)),
            W.HTML(fmt.escape(v.algorithm)),
            W.HTML(score),
            W.HTML(aliases or '<span class="aq-muted">none</span>'),
            W.HBox(actions),
        ]

    def show(self, ref: str) -> None:
        """The page of one version: metrics, lineage, signature, runtime, alias actions."""
        try:
            version = self.ws.models.get(ref)
        except Exception as error:  # noqa: BLE001 - shown in plain words
            self.status.fail(error)
            return
        from .model_page import model_page

        self.detail.children = [model_page(self, version)]
