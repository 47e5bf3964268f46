"""The "show code" view: the Python equivalent of what the user did, folded away until asked."""

from __future__ import annotations

import ipywidgets as W

from . import format as fmt

__all__ = ["CodeView", "highlight"]


def highlight(code: str) -> str:
    """``code`` as highlighted HTML (inline styles, so no stylesheet is needed)."""
    try:
        from pygments import highlight as _highlight
        from pygments.formatters import HtmlFormatter
        from pygments.lexers import PythonLexer
    except ImportError:  # pragma: no cover - pygments comes with IPython
        return f"<pre>{fmt.escape(code)}</pre>"
    return _highlight(
        code, PythonLexer(), HtmlFormatter(noclasses=True, nowrap=False, style="friendly")
    )


class CodeView(W.VBox):
    """A "Show code" toggle over a highlighted, selectable code block. ``code`` may be a
    string or a function producing it (called only when shown, and on every ``refresh``)."""

    def __init__(self, label: str = "Show code") -> None:
        self._source: object = ""
        self.toggle = W.ToggleButton(
            description=label, icon="code", value=False, layout=W.Layout(width="auto")
        )
        self.view = W.HTML(layout=W.Layout(display="none"))
        self.view.add_class("aq-code")
        self.toggle.observe(lambda _c: self.refresh(), names="value")
        super().__init__([self.toggle, self.view])

    @property
    def code(self) -> str:
        source = self._source
        return source() if callable(source) else str(source)  # type: ignore[operator]

    def set_code(self, code: object) -> None:
        self._source = code
        self.refresh()

    def refresh(self) -> None:
        shown = self.toggle.value
        self.view.layout.display = None if shown else "none"
        if shown:
            try:
                self.view.value = highlight(self.code)
            except Exception as error:  # noqa: BLE001 - the code view must not break a wizard
                from .status import describe_error

                self.view.value = (
                    f'<span class="aq-status-error">{fmt.escape(describe_error(error)[0])}</span>'
                )
