"""The app's Dashboards section: the tenant's dashboards, opened in place or edited in the
builder, with the address to share (its Voila page) for those who may publish."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import ipywidgets as W

from ..core.permissions import Permission
from . import format as fmt
from .base import Navigate, Wizard, empty_state

if TYPE_CHECKING:
    from ..client.workspace import Workspace
    from .theme import Theme

__all__ = ["DashboardsView"]


class DashboardsView(Wizard):
    """List, open, build and publish dashboards."""

    title = "Dashboards"

    def __init__(
        self,
        ws: Workspace | None = None,
        *,
        navigate: Navigate | None = None,
        theme: Theme | None = None,
        header: bool = True,
        background: bool = True,
        name: str | None = None,
    ) -> None:
        super().__init__(ws, navigate=navigate, theme=theme, header=header, background=background)
        self.background = background
        self.writable = self.can(Permission.DASHBOARD_WRITE)
        self.listing = W.VBox()
        self.new_button = W.Button(
            description="New dashboard",
            icon="plus",
            button_style="primary",
            layout=W.Layout(display=None if self.writable else "none"),
        )
        self.new_button.on_click(lambda _b: self.edit(None))
        self.area = W.VBox()
        self.body.children = [self.new_button, self.listing, self.area]
        self.refresh()
        if name:
            self.show_dashboard(name)

    def receive(self, **context: Any) -> None:
        self.refresh()
        if context.get("name"):
            self.show_dashboard(context["name"])

    def refresh(self) -> None:
        try:
            dashboards = self.ws.dashboards.list(limit=500)
        except Exception as error:  # noqa: BLE001 - shown in plain words
            self.status.fail(error)
            return
        if not dashboards:
            buttons = (
                [self._button("Build one", "plus", lambda: self.edit(None))]
                if self.writable
                else []
            )
            self.listing.children = [empty_state("No dashboards yet.", *buttons)]
            return
        rows = []
        for d in dashboards:
            actions = [self._button("Open", "eye", lambda n=d.name: self.show_dashboard(n))]
            if self.writable:
                actions += [
                    self._button("Edit", "pencil", lambda n=d.name: self.edit(n)),
                    self._button("Share", "share-alt", lambda n=d.name: self.share(n)),
                ]
            rows.append(
                W.HBox(
                    [
                        W.HTML(
                            f"<b>{fmt.escape(d.title)}</b> "
                            f'<span class="aq-muted">{fmt.escape(d.name)} · '
                            f"rev. {d.revision} by {fmt.escape(d.updated_by)} on "
                            f"{d.updated_at:%Y-%m-%d %H:%M}</span>",
                            layout=W.Layout(min_width="420px"),
                        ),
                        *actions,
                    ],
                    layout=W.Layout(align_items="center"),
                )
            )
        self.listing.children = rows

    @staticmethod
    def _button(label: str, icon: str, action: Any) -> W.Button:
        button = W.Button(description=label, icon=icon, layout=W.Layout(width="auto"))
        button.on_click(lambda _b: action())
        return button

    def show_dashboard(self, name: str) -> None:
        """Render a dashboard below the list, as viewers see it."""
        from .dashboard import Dashboard

        self.area.children = [
            Dashboard(name, self.ws, theme=self.theme, header=False, background=self.background)
        ]

    def edit(self, name: str | None) -> None:
        from .dashboard_builder import DashboardBuilder

        builder = DashboardBuilder(
            name, self.ws, theme=self.theme, header=False, background=self.background
        )
        self.area.children = [builder]

    def share(self, name: str) -> None:
        try:
            url = self.ws.dashboards.publish(name)
        except Exception as error:  # noqa: BLE001
            self.status.fail(error)
            return
        self.area.children = [
            W.HTML(
                f'Share this address with viewers of your tenant: <a href="{fmt.escape(url)}" '
                f'target="_blank">{fmt.escape(url)}</a>'
            )
        ]
        self.status.done(f"Published {name}")
