"""The app: every wizard in one window, with the tenant's branding, a left navigation that
follows the user's role, and sections that keep their state while the user moves between
them (``aq.App()``).

Sections are built the first time they are opened, so opening the app costs the header, the
navigation and the first section only. The ML stack is imported in the background once the
app is on screen (the front-end reports its first view), so that it does not compete with the
page being drawn, yet is ready before the user's first Train or Explore click.
A section leads to another through ``navigate`` ("Open in Explore", "Fix in Clean"...).
"""

from __future__ import annotations

import importlib
import inspect
import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import ipywidgets as W

from ..apps import app_url
from ..core.permissions import Permission
from .base import BrandHeader, Wizard, theme_of, warm_up
from .theme import style_widget

if TYPE_CHECKING:
    from ..client.workspace import Workspace

__all__ = ["SECTIONS", "App", "Section"]


@dataclass(frozen=True)
class Section:
    """A place in the navigation: its key, label, icon, the permission it needs to be shown
    and the class that draws it (``module:Class`` inside this package)."""

    key: str
    label: str
    icon: str
    needs: Permission | None
    view: str

    def build(self, **kwargs: Any) -> Wizard:
        module, name = self.view.split(":")
        cls = getattr(importlib.import_module(module, __package__), name)
        accepted = inspect.signature(cls).parameters
        return cls(**{k: v for k, v in kwargs.items() if k in accepted or k != "ref"})


SECTIONS = (
    Section("datasets", "Datasets", "database", Permission.DATASET_READ, ".catalog:DatasetsView"),
    Section("upload", "Upload", "upload", Permission.DATASET_WRITE, ".upload:UploadWizard"),
    Section("explore", "Explore", "chart-bar", Permission.DATASET_READ, ".explore:ExploreWizard"),
    Section("clean", "Clean", "magic", Permission.DATASET_WRITE, ".clean:CleanWizard"),
    Section("train", "Train", "play", Permission.MODEL_TRAIN, ".train:TrainWizard"),
    Section("models", "Models", "cubes", Permission.MODEL_READ, ".catalog:ModelsView"),
    Section("predict", "Predict", "bullseye", Permission.MODEL_PREDICT, ".predict:PredictWizard"),
    Section(
        "dashboards",
        "Dashboards",
        "th-large",
        Permission.DASHBOARD_READ,
        ".dashboards_view:DashboardsView",
    ),
    Section("admin", "Admin", "users-cog", Permission.MEMBER_MANAGE, ".admin:AdminView"),
)


class Navigator:
    """What the app hands its sections: ``navigator(section, **context)`` switches, and
    ``offers(section)`` says whether the section exists for the user (so no button leads to
    a section the role does not have)."""

    def __init__(self, app: App) -> None:
        self._app = app

    def __call__(self, section: str, **context: Any) -> None:
        self._app.show(section, **context)

    def offers(self, section: str) -> bool:
        return section in self._app.buttons


class App(W.VBox):
    """All wizards in one window: ``aq.App()`` (or ``aq.App(section="train")``)."""

    def __init__(
        self,
        ws: Workspace | None = None,
        *,
        section: str = "datasets",
        background: bool = True,
        **context: Any,
    ) -> None:
        if ws is None:
            from ..client import connect

            ws = connect()
        self.ws = ws
        self.theme = theme_of(ws)
        self.background = background
        me = ws.me
        self.sections = [s for s in SECTIONS if s.needs is None or me.can(s.needs)]
        self.views: dict[str, Wizard] = {}
        self.current: str | None = None
        self.navigator = Navigator(self)
        self.buttons: dict[str, W.Button] = {}
        for s in self.sections:
            button = W.Button(
                description=s.label, icon=s.icon, tooltip=s.label, layout=W.Layout(width="140px")
            )
            button.on_click(lambda _b, key=s.key: self.show(key))
            self.buttons[s.key] = button
        nav = W.VBox(list(self.buttons.values()), layout=W.Layout(min_width="150px"))
        nav.add_class("aq-nav")
        self.main = W.Box(layout=W.Layout(flex="1 1 auto", min_width="0", width="100%"))
        self.header = BrandHeader(ws, self.theme, link=app_url("astralytiq.ipynb"))
        super().__init__(
            [
                style_widget(self.theme),
                self.header,
                W.HBox([nav, self.main], layout=W.Layout(width="100%", align_items="flex-start")),
            ],
            # ipywidgets' view tracking: the front-end reports each view it draws.
            _view_count=0,
        )
        self.add_class("aq-root")
        self.add_class("aq-app")
        self.show(section if section in self.buttons else self.sections[0].key, **context)
        self.warming: threading.Thread | None = None
        self.observe(self._shown, "_view_count")

    def _shown(self, change: dict[str, Any]) -> None:
        """The front-end drew the app: warm the ML stack up now (once), not while the page
        is still loading."""
        if change["new"]:
            self.unobserve(self._shown, "_view_count")
            self.warming = warm_up()

    def show(self, section: str, **context: Any) -> Wizard:
        """Show ``section`` (building it on first use) and hand it ``context`` (e.g. ``ref=``,
        ``step=``); the other sections keep their state."""
        if section not in self.buttons:
            names = ", ".join(self.buttons)
            raise KeyError(f"No section {section!r} for your role; available: {names}")
        view = self.views.get(section)
        if view is None:
            spec = next(s for s in self.sections if s.key == section)
            view = spec.build(
                ws=self.ws,
                navigate=self.navigator,
                theme=self.theme,
                header=False,
                background=self.background,
                ref=context.get("ref"),
            )
            self.views[section] = view
            rest = {k: v for k, v in context.items() if k != "ref"}
            if rest:
                view.receive(**context)
        elif context:
            view.receive(**context)
        for key, button in self.buttons.items():
            button.button_style = "primary" if key == section else ""
        self.main.children = (view,)
        self.current = section
        return view

    def view(self, section: str) -> Wizard:
        """The widget of ``section`` (built if needed, without switching to it)."""
        if section not in self.views:
            current = self.current
            self.show(section)
            if current is not None:
                self.show(current)
        return self.views[section]
