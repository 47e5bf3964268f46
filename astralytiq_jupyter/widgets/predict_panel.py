"""A dashboard's prediction panel: the signature form of a registered model (by alias or
version) and its answer as a card, for stakeholders who ask "what if"."""

from __future__ import annotations

from typing import TYPE_CHECKING

import ipywidgets as W

from . import format as fmt
from .predict_form import SignatureForm, prediction_card
from .status import describe_error

if TYPE_CHECKING:
    from ..client.workspace import Workspace
    from .theme import Theme

__all__ = ["PredictionPanel"]


class PredictionPanel(W.VBox):
    """The form of ``ref``'s inputs, a Predict button and the result card."""

    def __init__(
        self, ws: Workspace, ref: str, title: str | None = None, *, theme: Theme | None = None
    ) -> None:
        self.ws, self.ref = ws, ref
        self.form = SignatureForm()
        self.button = W.Button(description="Predict", icon="bullseye", button_style="primary")
        self.button.on_click(lambda _b: self.predict())
        self.result = W.HTML()
        heading = W.HTML(f'<div class="aq-title">{fmt.escape(title or "Prediction")}</div>')
        try:
            self.version = ws.models.get(ref)
            self.form.build(self.version.signature, self.version.output)
            about = W.HTML(
                f'<div class="aq-muted">{fmt.escape(self.version.ref)} · '
                f"{fmt.escape(self.version.algorithm)}</div>"
            )
            super().__init__([heading, about, self.form, self.button, self.result])
        except Exception as error:  # noqa: BLE001 - the panel says what is wrong
            self.version = None
            message = describe_error(error)[0]
            super().__init__(
                [heading, W.HTML(f'<div class="aq-status-error">⚠ {fmt.escape(message)}</div>')]
            )

    def predict(self) -> None:
        """Predict the form's row and show the card (errors in plain words)."""
        if self.version is None:
            return
        try:
            frame = self.ws.models.predict(self.version.ref, self.form.row())
        except Exception as error:  # noqa: BLE001 - shown in plain words
            self.result.value = (
                f'<div class="aq-status-error">⚠ {fmt.escape(describe_error(error)[0])}</div>'
            )
            return
        self.result.value = prediction_card(frame, self.version.output, self.form.warnings())
