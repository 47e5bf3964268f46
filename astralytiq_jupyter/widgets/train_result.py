"""The Train wizard's model page: one trained model's metrics on held-out data, its plots and
notes, and registering it (with an optional alias) in the model registry."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import ipywidgets as W

from ..core.errors import Invalid
from ..core.names import check_alias, check_name
from ..core.permissions import Permission
from . import format as fmt
from .code import CodeView

if TYPE_CHECKING:
    from .train import TrainWizard

__all__ = ["ModelPage", "metric_cards"]

#: Plots in the order a person reads them; kinds the engine adds later follow.
PLOT_ORDER = (
    "forecast",
    "confusion_matrix",
    "roc",
    "precision_recall",
    "predicted_vs_actual",
    "residuals",
    "elbow",
    "cluster_scatter",
    "cluster_sizes",
    "feature_importance",
)


def metric_cards(
    holdout: Mapping[str, Any], cv: Mapping[str, Any] | None, primary: str | None
) -> str:
    """Holdout metrics as KPI cards (the ranking metric first), with the CV mean beside."""
    names = sorted(holdout, key=lambda m: (m != primary, m))
    cards = []
    for name in names:
        value = holdout.get(name)
        cv_value = (cv or {}).get(name)
        under = f"CV mean {fmt.number(cv_value, 4)}" if cv_value is not None else ""
        star = " ★" if name == primary else ""
        cards.append(
            f'<div class="aq-kpi"><div class="aq-kpi-value">{fmt.number(value, 4)}</div>'
            f'<div class="aq-kpi-label">{fmt.escape(name)}{star}</div>'
            f'<div class="aq-muted">{fmt.escape(under)}</div></div>'
        )
    return "".join(cards)


def _selection_html(selection: Mapping[str, Any]) -> str:
    """How the model was chosen, as the engine recorded it (for clustering: the k of each
    rule, so the user can pick the other one)."""
    if not selection.get("metric"):
        return ""
    better = "higher" if selection.get("higher_is_better", True) else "lower"
    text = (
        f"Chosen by {fmt.escape(selection['metric'])} ({better} is better) measured on "
        f"{fmt.escape(selection.get('on', 'cross-validation'))}"
    )
    if selection.get("rule"):
        text += f"; k = {fmt.escape(selection.get('chosen_k'))} by {fmt.escape(selection['rule'])}"
        others = [
            f"{rule} would pick k = {fmt.escape(selection[f'{rule}_k'])}"
            for rule in ("silhouette", "elbow")
            if selection.get(f"{rule}_k") is not None and rule != selection["rule"]
        ]
        if others:
            text += " (" + ", ".join(others) + "; change “Choose k by” or pick a row below)"
    return f'<div class="aq-muted">{text}.</div>'


def _model_name(dataset: str, target: str | None, task: str) -> str:
    """A registry name suggested from the dataset and the target (``sales-revenue``)."""
    base = f"{dataset}-{target or task}"
    cleaned = re.sub(r"[^\w.\-]+", "-", base).strip("-_.")[:100]
    return cleaned or "model"


def _suggested_name(wizard: TrainWizard, result: Any) -> str:
    dataset = (result.spec.dataset or "model").split("@")[0]
    return _model_name(dataset, result.target, result.task)


class ModelPage(W.VBox):
    """What one model did on the holdout, and the Register form."""

    def __init__(self, wizard: TrainWizard) -> None:
        self.wizard = wizard
        self.heading = W.HTML()
        self.cards = W.HTML()
        self.selection = W.HTML()
        self.plots = W.GridBox(
            layout=W.Layout(
                grid_template_columns="repeat(auto-fit, minmax(420px, 1fr))",
                grid_gap="8px",
                width="100%",
            )
        )
        self.outputs: dict[str, W.Output] = {}
        self.notes = W.HTML()
        self.name = W.Text(description="Model name", style={"description_width": "initial"})
        self.alias = W.Text(
            description="Alias (optional)",
            placeholder="e.g. production",
            style={"description_width": "initial"},
        )
        self.register_button = W.Button(
            description="Register", icon="archive", button_style="primary",
            layout=W.Layout(width="auto"),
        )  # fmt: skip
        # Enabled only once a model's page is complete (show): clicking it while the page is
        # still being built would register a model the user has not seen yet.
        self.register_button.disabled = True
        self.register_button.on_click(lambda _b: self.register())
        self.register_box = W.VBox(
            [
                W.HTML('<div class="aq-title">Register</div>'),
                W.HTML(
                    '<div class="aq-muted">Stores the fitted pipeline with its signature, '
                    "metrics and lineage to the dataset version as the next version of the "
                    "name; an alias such as <i>production</i> then points at it.</div>"
                ),
                W.HBox(
                    [self.name, self.alias, self.register_button],
                    layout=W.Layout(flex_flow="row wrap", align_items="center"),
                ),  # fmt: skip
            ]
        )
        self.register_box.add_class("aq-card")
        self.model_code = CodeView("Show the model's scikit-learn code")
        super().__init__(
            [
                self.heading,
                self.cards,
                self.selection,
                self.plots,
                self.notes,
                self.register_box,
                self.model_code,
            ]
        )
        if not wizard.can(Permission.MODEL_WRITE):
            self.register_box.children = (
                W.HTML(
                    '<div class="aq-muted">Your role cannot register models; an analyst or '
                    "admin can.</div>"
                ),
            )
            self.register_button.disabled = True

    # -- showing a model -------------------------------------------------------------------

    def show(self, result: Any, label: str, *, chosen: bool) -> None:
        """The model page of an evaluated result; Register becomes clickable when it is
        complete (metrics, plots, notes)."""
        self.register_button.disabled = True
        from .plotly_import import figures as _figures

        figures = _figures()

        theme = self.wizard.theme
        n_holdout = result.n_rows.get("holdout")
        why = "chosen by the ranking" if chosen else "evaluated on request"
        self.heading.value = (
            f'<div class="aq-title">{fmt.escape(label)} <span class="aq-badge">{why}</span>'
            f'</div><div class="aq-muted">Metrics on {fmt.count(n_holdout)} held-out rows that '
            "took no part in training or in choosing the model (★ the ranking metric).</div>"
        )
        self.cards.value = metric_cards(
            result.holdout_metrics, result.cv_metrics, result.primary_metric
        )
        self.selection.value = _selection_html(getattr(result, "selection", None) or {})
        kinds = [k for k in PLOT_ORDER if k in result.plots]
        kinds += [k for k in result.plots if k not in kinds]
        boxes = []
        self.outputs = {}
        for kind in kinds:
            output = W.Output(layout=W.Layout(min_height="300px"))
            try:
                figures.show(output, figures.figure_for(result.plots[kind], theme))
            except (KeyError, ValueError, TypeError) as error:
                output.outputs = (
                    {
                        "output_type": "display_data",
                        "data": {"text/plain": f"{kind}: cannot be drawn ({error})"},
                        "metadata": {},
                    },
                )
            self.outputs[kind] = output
            boxes.append(output)
        self.plots.children = tuple(boxes)
        dropped = [f"{d['column']}: {d['reason']}" for d in result.dropped_columns]
        notes = list(result.notes) + [f"Left out {d}" for d in dropped if d not in result.notes]
        self.notes.value = (
            '<div class="aq-title">Notes</div><ul>'
            + "".join(f"<li>{fmt.escape(n)}</li>" for n in notes)
            + "</ul>"
            if notes
            else ""
        )
        if not self.name.value or self._suggested == self.name.value:
            self._suggested = _suggested_name(self.wizard, result)
            self.name.value = self._suggested
        self.register_box.layout.display = None
        self.model_code.set_code(result.to_code)
        self.model_code.layout.display = None
        self.register_button.disabled = not self.wizard.can(Permission.MODEL_WRITE)

    _suggested = ""

    def pending(self, label: str, row: Mapping[str, Any] | None, result: Any) -> None:
        """A leaderboard row not refitted yet: its cross-validation scores, and how to see
        it on the holdout."""
        self.heading.value = (
            f'<div class="aq-title">{fmt.escape(label)}</div><div class="aq-muted">Only '
            "cross-validated so far. Press <b>Evaluate on the holdout</b> to refit it on the "
            "training split and measure it on the same held-out rows (then register it if you "
            "prefer it).</div>"
        )
        cv = {}
        if row is not None:
            cv = {
                k[: -len("_mean")]: v
                for k, v in row.items()
                if k.endswith("_mean") and v is not None
            }
        self.cards.value = "".join(
            f'<div class="aq-kpi"><div class="aq-kpi-value">{fmt.number(v, 4)}</div>'
            f'<div class="aq-kpi-label">CV {fmt.escape(k)}</div></div>'
            for k, v in sorted(cv.items(), key=lambda kv: (kv[0] != result.primary_metric, kv[0]))
        )
        self.selection.value = ""
        self.plots.children = ()
        self.outputs = {}
        self.notes.value = ""
        self.register_box.layout.display = "none"
        self.model_code.layout.display = "none"
        self.register_button.disabled = True

    # -- registering -----------------------------------------------------------------------

    def register(self) -> Any:
        """Register the shown model under the name, then point the alias at it."""
        wizard = self.wizard
        result = wizard.shown
        if result is None:
            wizard.status.fail("Evaluate this model on the holdout before registering it.")
            return None
        if not wizard.can(Permission.MODEL_WRITE):
            wizard.status.fail("Your role cannot register models.")
            return None
        name, alias = self.name.value.strip(), self.alias.value.strip() or None
        try:  # checked before anything is stored: a bad alias must not leave a half-done job
            check_name(name, "model name")
            if alias is not None:
                check_alias(alias)
        except Invalid as error:
            wizard.status.fail(error)
            return None

        def work(progress: Any) -> Any:
            progress(f"Registering {name} (saving and compiling the model)")
            version = wizard.ws.models.register(name, result)
            if alias is not None:
                progress(f"Pointing {name}@{alias} at version {version.version}")
                version = wizard.ws.models.set_alias(name, alias, version.version)
            return version

        def done(version: Any) -> None:
            wizard.registered = version
            wizard.code.refresh()
            where = f" ({name}@{alias})" if alias else ""
            actions = wizard.link("Open in Predict", "predict", ref=version.ref)
            hint = "" if actions else f"; open it with aq.PredictWizard({version.ref!r})"
            wizard.status.done(
                f"Registered {version.ref}{where}, runtime {version.runtime}{hint}", actions
            )

        controls = [*wizard._controls, self.register_button]
        return wizard.runner.run("Registering", work, done, controls=controls)
