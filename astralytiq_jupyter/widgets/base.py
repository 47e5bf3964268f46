"""What every wizard shares: its workspace, the tenant's theme, a status area, a background
task runner, permission checks and the way to lead the user on to another section."""

from __future__ import annotations

import threading
import weakref
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import ipywidgets as W

from ..core.permissions import Permission
from . import format as fmt
from .status import StatusArea
from .tasks import TaskRunner
from .theme import Theme, style_widget

if TYPE_CHECKING:
    from ..client.workspace import Workspace

__all__ = ["BrandHeader", "Navigate", "Wizard", "empty_state", "theme_of", "warm_up"]

#: ``navigate(section, **context)``: the app switches to ``section`` (e.g. ``"explore"``)
#: and hands it the context (``ref=...``, ``step=...``).
Navigate = Callable[..., None]

_THEMES: weakref.WeakKeyDictionary[Any, Theme] = weakref.WeakKeyDictionary()


def theme_of(ws: Workspace) -> Theme:
    """The tenant's branding as a :class:`Theme` (read once per workspace)."""
    theme = _THEMES.get(ws)
    if theme is None:
        try:
            tenant = ws.tenant.info()
            theme = Theme.from_branding(tenant.branding, tenant.display_name)
        except Exception:  # noqa: BLE001 - branding is decoration; never block a wizard on it
            theme = Theme()
        _THEMES[ws] = theme
    return theme


def empty_state(message: str, *buttons: W.Button) -> W.VBox:
    """What a section shows when there is nothing yet, with the next step right there."""
    box = W.VBox(
        [W.HTML(f"<div>{fmt.escape(message)}</div>"), W.HBox(list(buttons))],
        layout=W.Layout(align_items="center"),
    )
    box.add_class("aq-empty")
    return box


class BrandHeader(W.HBox):
    """The tenant's name and logo, the user, their tenant and a role badge (and ``link``, a
    link to open the screen as a dashboard)."""

    def __init__(
        self, ws: Workspace, theme: Theme, title: str | None = None, link: str | None = None
    ) -> None:
        me = ws.me
        logo = f'<img src="{fmt.escape(theme.logo_url)}" alt="">' if theme.logo_url else ""
        subtitle = f" · {fmt.escape(title)}" if title else ""
        brand = W.HTML(
            f'<span class="aq-brand">{logo}{fmt.escape(theme.company_name)}{subtitle}</span>'
        )
        user = W.HTML(
            f'<span class="aq-user">{fmt.escape(me.display_name or me.user)} · '
            f"{fmt.escape(me.tenant)} "
            f'<span class="aq-badge" title="your role">{fmt.escape(me.role.value)}</span></span>'
        )
        if link:  # e.g. the app's own Voila page, from the app shown in a notebook
            user.value += (
                f' <a class="aq-muted" href="{fmt.escape(link)}" target="_blank" '
                'rel="noopener" title="Open this app as a dashboard (Voila) in a new tab">'
                "Open as dashboard ↗</a>"
            )
        super().__init__(
            [brand, user], layout=W.Layout(justify_content="space-between", width="100%")
        )
        self.add_class("aq-header")


class Wizard(W.VBox):
    """Base of the wizards. Subclasses build their controls in ``__init__`` after calling
    ``super().__init__`` and put them in ``self.body.children``.

    ``ws`` defaults to :func:`astralytiq_jupyter.connect` (the server's API in a kernel of a
    Jupyter server with the extension, the embedded store otherwise). ``navigate`` is set by
    the app so that "open in Explore" links work; a wizard shown alone offers no such links.
    """

    title = "Wizard"

    def __init__(
        self,
        ws: Workspace | None = None,
        *,
        navigate: Navigate | None = None,
        theme: Theme | None = None,
        header: bool = True,
        background: bool = True,
    ) -> None:
        if ws is None:
            from ..client import connect

            ws = connect()
        self.ws = ws
        self.theme = theme or theme_of(ws)
        self.navigate = navigate
        self.status = StatusArea()
        self.runner = TaskRunner(self.status, background=background)
        self.body = W.VBox()
        top: list[W.Widget] = []
        if header:  # shown alone: bring the stylesheet and the brand header along
            top = [style_widget(self.theme), BrandHeader(ws, self.theme, self.title)]
        # the status sits above the body so that progress and errors are seen on long pages
        status = W.HBox(
            [self.status, self.runner.cancel_button], layout=W.Layout(align_items="center")
        )
        super().__init__([*top, status, self.body])
        self.add_class("aq-root")
        self.add_class(f"aq-{type(self).__name__.lower()}")

    def can(self, permission: Permission) -> bool:
        """Whether the user's role allows ``permission`` (the server checks again anyway)."""
        return self.ws.me.can(permission)

    def offers(self, section: str) -> bool:
        """Whether this wizard can lead the user to ``section`` (it is inside an app that has
        that section for the user's role)."""
        if self.navigate is None:
            return False
        offers = getattr(self.navigate, "offers", None)
        return True if offers is None else bool(offers(section))

    def link(
        self, label: str, section: str, **context: Any
    ) -> list[tuple[str, Callable[[], None]]]:
        """A follow-up action for :meth:`StatusArea.done`, if this wizard is part of an app
        that offers ``section``."""
        if self.navigate is None or not self.offers(section):
            return []
        navigate = self.navigate
        return [(label, lambda: navigate(section, **context))]

    def receive(self, **context: Any) -> None:
        """Called by the app when the user is sent here with ``context`` (e.g. ``ref=``);
        wizards override it to pick what they were given."""

    def wait(self, timeout: float | None = 120) -> None:
        """Wait for the wizard's background work to end (tests and scripts)."""
        task = self.runner.current
        if task is not None:
            task.wait(timeout)


_warmed = threading.Event()
_warm_lock = threading.Lock()


def warm_up() -> threading.Thread | None:
    """Import the ML stack in the background (once per kernel) so that the first Train or
    Explore click does not wait for scikit-learn, scipy, statsmodels and skops to load."""
    with _warm_lock:
        if _warmed.is_set():
            return None
        _warmed.set()

    def run() -> None:
        import importlib

        for module in (
            "astralytiq_jupyter.core.profiling",
            "astralytiq_jupyter.core.training",
            "astralytiq_jupyter.core.artifacts",
            "statsmodels.tsa.holtwinters",
            "statsmodels.tsa.statespace.sarimax",
        ):
            try:
                importlib.import_module(module)
            except Exception:  # noqa: BLE001,S112 - warming is best effort; the real use will report
                continue

    thread = threading.Thread(target=run, name="aq-warm-up", daemon=True)
    thread.start()
    return thread
