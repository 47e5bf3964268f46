"""The Predict wizard: pick a model version (or alias), fill a form generated from its input
signature for one prediction, or score a whole dataset version and download the result."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

import ipywidgets as W

from ..core.errors import Invalid
from ..core.names import check_name
from ..core.permissions import Permission
from . import format as fmt
from .base import Navigate, Wizard, empty_state
from .code import CodeView
from .pickers import DatasetPicker, ModelPicker, split_ref
from .predict_form import SignatureForm, export_csv, prediction_card
from .table import PagedTable
from .theme import Theme

if TYPE_CHECKING:
    from ..client.workspace import Workspace

__all__ = ["PredictWizard"]

#: Where "Download CSV" writes its files, under the kernel's working directory (the folder of
#: the notebook in Jupyter, whose file browser and links then reach them).
EXPORT_FOLDER = "astralytiq-exports"


class PredictWizard(Wizard):
    """Predictions from a registered model: one row from a form, or a whole dataset version.

    ``PredictWizard("churn@production")`` opens on that model; ``PredictWizard(ws, ref=...)``
    with a given workspace (the app passes its own, with ``header=False``).
    """

    title = "Predict"

    def __init__(
        self,
        ws: Workspace | str | None = None,
        ref: str | None = None,
        *,
        navigate: Navigate | None = None,
        theme: Theme | None = None,
        header: bool = True,
        background: bool = True,
        export_folder: str | Path | None = None,
    ) -> None:
        if isinstance(ws, str) and ref is None:  # PredictWizard("churn@production")
            ws, ref = None, ws
        super().__init__(ws, navigate=navigate, theme=theme, header=header, background=background)
        self.export_folder = Path(export_folder or Path(os.getcwd()) / EXPORT_FOLDER)
        self.version: Any = None  # the ModelVersion picked
        self.prediction: Any = None  # the last one-row prediction (a DataFrame)
        self.scored: Any = None  # the DatasetVersion the last batch scoring saved
        self.exported: Path | None = None

        self.picker = ModelPicker(self.ws, ref, label="Model")
        self.model_info = W.HTML()
        self.form = SignatureForm()
        self.predict_button = W.Button(
            description="Predict", icon="magic", button_style="primary",
            layout=W.Layout(width="auto"),
        )  # fmt: skip
        self.predict_button.on_click(lambda _b: self.predict())
        self.card = W.HTML()

        self.dataset = DatasetPicker(self.ws, None, label="Dataset to score")
        self.save_as = W.Text(description="Save as", style={"description_width": "initial"})
        self.score_button = W.Button(
            description="Score the dataset", icon="table", button_style="primary",
            layout=W.Layout(width="auto"),
        )  # fmt: skip
        self.score_button.on_click(lambda _b: self.score())
        self.batch_note = W.HTML()
        self.preview = PagedTable(page_size=20)
        self.preview.layout.display = "none"
        self.download_button = W.Button(
            description="Download CSV", icon="download", layout=W.Layout(width="auto")
        )
        self.download_button.on_click(lambda _b: self.download())
        self.download_button.layout.display = "none"
        self.download_link = W.Output()
        self.code = CodeView("Show code")
        self.code.set_code(self.code_text)

        self._build()
        self.picker.on_change(lambda _ref: self._model_changed())
        self.dataset.on_change(lambda _ref: self.code.refresh())
        self._model_changed()

    # -- layout ----------------------------------------------------------------------------

    def _build(self) -> None:
        single = W.VBox(
            [
                W.HTML('<div class="aq-title">One prediction</div>'),
                self.form,
                self.predict_button,
                self.card,
            ]
        )
        single.add_class("aq-card")
        self.batch = W.VBox(
            [
                W.HTML(
                    '<div class="aq-title">Score a dataset</div><div class="aq-muted">Adds the '
                    "predictions (and class probabilities) to every row and saves the result "
                    "as a new dataset version, with lineage to the model and the data.</div>"
                ),
                self.dataset,
                W.HBox([self.save_as, self.score_button], layout=W.Layout(align_items="center")),
                self.batch_note,
                self.preview,
                W.HBox(
                    [self.download_button, self.download_link],
                    layout=W.Layout(align_items="center"),
                ),  # fmt: skip
            ]
        )
        self.batch.add_class("aq-card")
        self.main = W.VBox([self.model_info, single, self.batch])
        go = []
        if self.offers("train"):
            button = W.Button(description="Train a model", icon="play")
            button.on_click(lambda _b: self.navigate("train"))  # type: ignore[misc]
            go = [button]
        self.empty = empty_state("No models yet: train one and register it, then predict.", *go)
        self.body.children = (
            W.HTML('<div class="aq-title">Predict</div>'),
            self.picker,
            self.main,
            self.empty,
            self.code,
        )
        if not (self.can(Permission.DATASET_WRITE) and self.can(Permission.MODEL_PREDICT)):
            self.batch.children = (
                W.HTML(
                    '<div class="aq-title">Score a dataset</div><div class="aq-muted">Your '
                    f"role ({fmt.escape(self.ws.me.role.value)}) can predict one row but not "
                    "save scored datasets; an analyst or admin can.</div>"
                ),
            )
        if not self.can(Permission.MODEL_PREDICT):
            self.predict_button.disabled = True

    # -- the model ---------------------------------------------------------------------------

    def _model_changed(self) -> None:
        ref = self.picker.ref
        self.card.value = ""
        self.prediction = None
        if ref is None:
            self.version = None
            self.main.layout.display = "none"
            self.empty.layout.display = None
            self.code.refresh()
            return
        self.main.layout.display = None
        self.empty.layout.display = "none"
        self.version = v = self.ws.models.get(ref)
        metrics = v.metrics or {}
        primary = metrics.get("primary")
        holdout = (metrics.get("holdout") or {}).get(primary) if primary else None
        score = (
            f" · holdout {fmt.escape(primary)} {fmt.number(holdout, 4)}"
            if holdout is not None
            else ""
        )
        trained = f" · trained on {fmt.escape(v.dataset)}" if v.dataset else ""
        aliases = "".join(f' <span class="aq-badge">{fmt.escape(a)}</span>' for a in v.aliases)
        self.model_info.value = (
            f'<div class="aq-card"><b>{fmt.escape(v.ref)}</b>{aliases} '
            f'<span class="aq-muted">{fmt.escape(v.task)} · {fmt.escape(v.algorithm)}{trained}'
            f"{score} · runs on {fmt.escape(v.runtime)}</span></div>"
        )
        self.form.build(v.signature, v.output)
        if v.dataset:
            name = split_ref(v.dataset)[0]
            self.dataset.select(name)
            if not self.save_as.value or self.save_as.value.endswith("-scored"):
                self.save_as.value = f"{name}-scored"
        self.code.refresh()

    # -- one prediction ------------------------------------------------------------------------

    def predict(self) -> Any:
        """Predict the form's row (the Predict button); returns the background task."""
        ref = self.picker.ref
        if ref is None or self.version is None:
            self.status.fail("Choose a model first.")
            return None
        row = self.form.row()
        warnings = self.form.warnings()
        output = self.version.output

        def done(frame: Any) -> None:
            self.prediction = frame
            self.card.value = prediction_card(frame, output, warnings)
            self.status.done(f"Predicted with {self.version.ref}")
            self.code.refresh()

        return self.runner.run(
            "Predicting",
            lambda _p: self.ws.models.predict(ref, row),
            done,
            controls=[self.predict_button],
        )

    # -- batch scoring ---------------------------------------------------------------------------

    def score(self) -> Any:
        """Score the chosen dataset version and save it (the Score button)."""
        model, dataset = self.picker.ref, self.dataset.ref
        save_as = self.save_as.value.strip()
        if not (self.can(Permission.DATASET_WRITE) and self.can(Permission.MODEL_PREDICT)):
            self.status.fail("Your role cannot save scored datasets.")
            return None
        if model is None or dataset is None:
            self.status.fail("Choose a model and a dataset to score.")
            return None
        try:
            check_name(save_as, "dataset name")
        except Invalid as error:
            self.status.fail(error)
            return None
        rows = self.ws.datasets.get(dataset).rows

        def work(progress: Any) -> Any:
            progress(f"Scoring {fmt.count(rows)} rows of {dataset} with {model}")
            return self.ws.models.score(model, dataset, save_as=save_as)

        def done(version: Any) -> None:
            self.scored = version
            self.exported = None
            self.download_link.outputs = ()
            self.batch_note.value = (
                f'<div class="aq-muted">Saved <b>{fmt.escape(version.ref)}</b>: '
                f"{fmt.count(version.rows)} rows, the predictions of "
                f"{fmt.escape(version.model or model)} for {fmt.escape(version.parent)}.</div>"
            )
            self.preview.show_rows(
                lambda offset, limit: self.ws.datasets.load(
                    version.ref, offset=offset, limit=limit
                ),
                version.rows,
            )
            self.preview.layout.display = None
            can_export = self.can(Permission.DATASET_EXPORT)
            self.download_button.layout.display = None if can_export else "none"
            self.status.done(
                f"Saved {version.ref} ({fmt.count(version.rows)} rows scored)",
                self.link("Open in Explore", "explore", ref=version.ref),
            )
            self.code.refresh()

        return self.runner.run(
            "Scoring", work, done, controls=[self.score_button, self.predict_button]
        )

    def download(self) -> Any:
        """Write the scored version as CSV into the export folder and link to it; a version
        whose CSV would pass the size bound is cut to its first rows, and says so."""
        version = self.scored
        if version is None:
            return None
        if not self.can(Permission.DATASET_EXPORT):
            self.status.fail("Your role cannot export datasets.")
            return None
        folder = self.export_folder

        def work(progress: Any) -> Any:
            return export_csv(self.ws, version.ref, folder, progress=progress)

        def done(written: Any) -> None:
            path, rows, total = written
            self.exported = path
            size = fmt.size(path.stat().st_size)
            cut = "" if rows >= total else f" (first {fmt.count(rows)} of {fmt.count(total)} rows)"
            self._show_link(path)
            self.status.done(f"Wrote {path.name}: {size}{cut}")

        return self.runner.run(
            "Writing CSV", work, done, controls=[self.download_button], cancellable=True
        )

    def _show_link(self, path: Path) -> None:
        """A link to the file relative to the notebook's folder (Jupyter turns it into a
        download), with the full path for other front-ends."""
        try:
            relative = path.relative_to(Path(os.getcwd())).as_posix()
        except ValueError:
            relative = None
        size = fmt.size(path.stat().st_size)
        link = (
            f'<a href="{fmt.escape(relative)}" download="{fmt.escape(path.name)}" '
            f'target="_blank">{fmt.escape(path.name)}</a> ({size})'
            if relative
            else fmt.escape(path.name)
        )
        html = f'{link} <span class="aq-muted">saved as {fmt.escape(str(path))}</span>'
        self.download_link.outputs = (
            {
                "output_type": "display_data",
                "data": {"text/html": html, "text/plain": str(path)},
                "metadata": {},
            },
        )

    # -- code and the app ------------------------------------------------------------------------

    def code_text(self) -> str:
        ref = self.picker.ref or "<model>"
        lines = ["import astralytiq_jupyter as aq", "import pandas as pd", "", "ws = aq.connect()"]
        if self.form.fields:
            row = {name: field.value for name, field in self.form.fields.items()}
            values = ", ".join(f"{k!r}: [{_literal(v)}]" for k, v in row.items())
            lines.append(f"ws.models.predict({ref!r}, pd.DataFrame({{{values}}}))")
        dataset = self.dataset.ref or "<dataset>"
        save_as = self.save_as.value.strip() or "<name>"
        lines.append(f"scored = ws.models.score({ref!r}, {dataset!r}, save_as={save_as!r})")
        if self.exported is not None:
            name = self.exported.name
            lines.append(f"ws.datasets.load(scored.ref).to_csv({name!r}, index=False)")
        return "\n".join(lines)

    def receive(self, **context: Any) -> None:
        ref = context.get("ref")
        if ref:
            self.picker.select(ref)


def _literal(value: Any) -> str:
    """A value as Python source for the code view (dates as pandas timestamps)."""
    from datetime import date

    if isinstance(value, date):
        return f"pd.Timestamp({value.isoformat()!r})"
    return repr(value)
