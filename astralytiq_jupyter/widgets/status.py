"""The progress-and-error area every wizard has: what is happening, what went wrong (in plain
words, technical detail folded away, never a traceback) and what was done, with a link on."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Sequence

import ipywidgets as W

from ..core.errors import AstralytiqError, Cancelled
from . import format as fmt

__all__ = ["StatusArea", "describe_error"]

log = logging.getLogger("astralytiq_jupyter.widgets")

Action = tuple[str, Callable[[], None]]


def describe_error(error: BaseException) -> tuple[str, str]:
    """``(message, details)`` of an error for people: the product's own errors say what was
    wrong and how to fix it; anything else is named without internals (the traceback goes to
    the kernel's log, not to the screen)."""
    if isinstance(error, AstralytiqError):
        details = json.dumps(error.detail, indent=1, default=str) if error.detail else ""
        return error.message, (f"{error.code}\n{details}" if details else error.code)
    if isinstance(error, MemoryError):
        return "There was not enough memory for this. Try a smaller sample or fewer columns.", ""
    if isinstance(error, (ConnectionError, TimeoutError)):
        return (
            "The AstralytiQ server could not be reached. Check that Jupyter is still running "
            "and try again.",
            f"{type(error).__name__}: {error}",
        )
    log.error("unexpected error in a wizard", exc_info=error)
    text = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
    return (
        f"Something went wrong: {text[:300]}",
        f"{type(error).__name__}: {str(error)[:2000]}",
    )


class StatusArea(W.VBox):
    """Progress bar, message line, optional details and follow-up actions."""

    def __init__(self) -> None:
        self.bar = W.FloatProgress(
            value=0.0, min=0.0, max=1.0, layout=W.Layout(width="320px", display="none")
        )
        self.message = W.HTML(layout=W.Layout(margin="0 0 0 6px"))
        self.details = W.HTML()
        self.actions = W.HBox()
        self.kind = "idle"
        super().__init__(
            [
                W.HBox([self.bar, self.message], layout=W.Layout(align_items="center")),
                self.details,
                self.actions,
            ],
            layout=W.Layout(min_height="28px"),
        )
        self.add_class("aq-status")

    @property
    def text(self) -> str:
        """The message shown, as plain text (tests read this)."""
        import html
        import re

        return html.unescape(re.sub(r"<[^>]+>", "", self.message.value)).strip()

    def _set(self, kind: str, html: str, details: str = "", actions: Sequence[Action] = ()) -> None:
        self.kind = kind
        self.message.value = f'<span class="aq-status-{kind}">{html}</span>'
        self.details.value = (
            f'<details class="aq-details"><summary>Details</summary><pre>{fmt.escape(details)}'
            "</pre></details>"
            if details
            else ""
        )
        buttons = []
        for label, callback in actions:
            button = W.Button(description=label, layout=W.Layout(width="auto"))
            button.on_click(lambda _b, cb=callback: cb())
            buttons.append(button)
        self.actions.children = tuple(buttons)

    def busy(self, message: str, fraction: float | None = None) -> None:
        """Show work in progress: a bar (full and pulsing when the amount is unknown)."""
        self.bar.layout.display = None
        if fraction is None:
            self.bar.value, self.bar.bar_style = 1.0, "info"
        else:
            self.bar.value, self.bar.bar_style = max(0.0, min(1.0, fraction)), ""
        self._set("info", fmt.escape(message) + " …")

    def done(self, message: str, actions: Sequence[Action] = ()) -> None:
        """Confirm a completed action, with buttons leading to its result."""
        self.bar.layout.display = "none"
        self._set("ok", "✓ " + fmt.escape(message), actions=actions)

    def info(self, message: str) -> None:
        self.bar.layout.display = "none"
        self._set("info", fmt.escape(message))

    def fail(self, error: BaseException | str) -> None:
        """Show an error in plain words (details folded away)."""
        self.bar.layout.display = "none"
        if isinstance(error, Cancelled):
            self._set("info", fmt.escape(error.message))
            return
        if isinstance(error, str):
            message, details = error, ""
        else:
            message, details = describe_error(error)
        self._set("error", "⚠ " + fmt.escape(message), details)

    def clear(self) -> None:
        self.bar.layout.display = "none"
        self.kind = "idle"
        self.message.value = ""
        self.details.value = ""
        self.actions.children = ()
