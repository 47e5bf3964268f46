"""The Train wizard: pick a dataset version and a target, start, watch the leaderboard fill in,
look at the chosen model on held-out data, register it.

Everything the form offers (tasks, algorithms, ranking metrics) comes from the engine's
catalogue; training runs in a background thread through ``ws.train`` with the engine's progress
events and cancel flag, so the kernel stays responsive and Cancel stops at the next fold.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import ipywidgets as W

from ..core.errors import Invalid
from ..core.permissions import Permission
from . import format as fmt
from .base import Navigate, Wizard, empty_state, warm_up
from .code import CodeView
from .pickers import DatasetPicker
from .theme import Theme
from .train_board import LiveBoard, leaderboard_html, leaderboard_records, row_label
from .train_result import ModelPage

if TYPE_CHECKING:
    from ..client.workspace import Workspace

__all__ = ["TrainWizard"]

AUTO = "auto"
NO_TARGET = "\x00none"  # the target option of clustering (no column can be named so)
#: The target column's values read to detect the task (the engine's rule on the same values).
TASK_SAMPLE_ROWS = 200_000
_TARGET_HINT = re.compile(r"(^|_)(target|label|class|y|outcome|churn|churned)$", re.IGNORECASE)


def _wide() -> W.Layout:
    """A fresh layout per control (a shared one would show and hide them all together)."""
    return W.Layout(width="420px")


_STYLE = {"description_width": "110px"}


def _catalogue() -> tuple[tuple[str, ...], Callable[[str], list[str]], dict[str, tuple], dict]:
    """The engine's tasks, algorithms per task, metrics per task and default metrics."""
    from ..core import metrics
    from ..core.algorithms import TASKS, available_algorithms

    return TASKS, available_algorithms, metrics.METRICS, metrics.PRIMARY_METRIC


def _spec_fields() -> set[str]:
    from ..core.training import TrainingSpec

    return {f.name for f in dataclasses.fields(TrainingSpec)}


class TrainWizard(Wizard):
    """Train and compare models on a dataset version, then register the chosen one.

    ``TrainWizard("sales@2")`` opens on that version; ``TrainWizard(ws, ref=...)`` with a
    given workspace (the app passes its own, with ``header=False``).
    """

    title = "Train"

    def __init__(
        self,
        ws: Workspace | str | None = None,
        ref: str | None = None,
        *,
        navigate: Navigate | None = None,
        theme: Theme | None = None,
        header: bool = True,
        background: bool = True,
    ) -> None:
        if isinstance(ws, str) and ref is None:  # TrainWizard("sales@2")
            ws, ref = None, ws
        super().__init__(ws, navigate=navigate, theme=theme, header=header, background=background)
        self._warming = warm_up()
        self.result: Any = None  # the TrainingResult of the last run
        self.shown: Any = None  # the result whose model page is shown (the chosen row's)
        self.registered: Any = None  # the ModelVersion registered last
        self._evaluated: dict[str, Any] = {}  # row label -> its own TrainingResult
        self._inferred: tuple[str, str] | None = None  # (task, reason) of the target
        self._version: Any = None
        self._ready = False
        self._quiet = False

        self.picker = DatasetPicker(self.ws, ref, label="Dataset")
        self.dataset_info = W.HTML()
        self.target = W.Dropdown(description="Target", style=_STYLE, layout=_wide())
        self.task = W.Dropdown(description="Task", style=_STYLE, layout=W.Layout(width="300px"))
        self.task_badge = W.HTML()
        self.features = W.SelectMultiple(
            description="Features", rows=7, style=_STYLE, layout=_wide()
        )
        self.all_features = W.Button(description="Use all", layout=W.Layout(width="auto"))
        self.features_info = W.HTML()
        self.compare_all = W.Checkbox(
            value=True, description="Compare all algorithms", indent=False
        )
        self.algorithms = W.SelectMultiple(
            description="Algorithms", rows=6, style=_STYLE, layout=_wide()
        )
        self.metric = W.Dropdown(description="Rank by", style=_STYLE, layout=_wide())
        self.tune = W.Dropdown(
            description="Tuning",
            options=[
                ("off", ""),  # "" not None: a Dropdown shows None as no choice at all
                ("random search of the best model", "random"),
                ("successive halving of the best model", "halving"),
            ],
            style=_STYLE,
            layout=_wide(),
        )
        self.date_column = W.Dropdown(description="Date column", style=_STYLE, layout=_wide())
        self.horizon = W.BoundedIntText(
            value=0, min=0, max=100_000, description="Horizon", style=_STYLE
        )
        self.k_range = W.IntRangeSlider(
            value=tuple(_spec_k_range()),
            min=2,
            max=30,
            description="k range",
            style=_STYLE,
            layout=_wide(),
        )
        self.k_rule = W.Dropdown(description="Choose k by", style=_STYLE, layout=_wide())
        # advanced
        self.holdout = W.FloatSlider(
            value=0.2,
            min=0.05,
            max=0.5,
            step=0.05,
            description="Holdout",
            style=_STYLE,
            readout_format=".0%",
        )
        self.folds = W.BoundedIntText(value=5, min=2, max=20, description="CV folds", style=_STYLE)
        self.n_iter = W.BoundedIntText(
            value=10, min=1, max=500, description="Tuning budget", style=_STYLE
        )
        self.seed = W.IntText(value=0, description="Random seed", style=_STYLE)
        self.frequency = W.Text(
            description="Frequency", placeholder="detected (e.g. D, W, MS)", style=_STYLE
        )
        self.interval = W.FloatSlider(
            value=0.9,
            min=0.5,
            max=0.99,
            step=0.01,
            description="Interval",
            style=_STYLE,
            readout_format=".0%",
        )
        self.start = W.Button(
            description="Start training",
            icon="play",
            button_style="primary",
            layout=W.Layout(width="auto"),
        )
        self.start.on_click(lambda _b: self.train())
        self.role_note = W.HTML()
        self.board = LiveBoard()
        self.summary = W.HTML()
        self.leaderboard = W.HTML()
        self.choose = W.Dropdown(description="Model", style={"description_width": "initial"})
        self.evaluate = W.Button(
            description="Evaluate on the holdout", icon="flask", layout=W.Layout(width="auto")
        )
        self.evaluate.on_click(lambda _b: self.evaluate_chosen())
        self.page = ModelPage(self)
        self.results = W.VBox(layout=W.Layout(display="none"))
        self.code = CodeView("Show code")
        self.code.set_code(self.code_text)

        self._build()
        self.picker.on_change(lambda _ref: self._dataset_changed())
        self.target.observe(lambda _c: self._target_changed(), names="value")
        self.task.observe(lambda _c: self._task_changed(), names="value")
        self.compare_all.observe(lambda _c: self._show_algorithms(), names="value")
        self.tune.observe(lambda _c: self._show_tuning(), names="value")
        self.all_features.on_click(lambda _b: self._select_all_features())
        self.features.observe(lambda _c: self._features_changed(), names="value")
        self.choose.observe(lambda _c: self._chosen_changed(), names="value")
        for control in (self.metric, self.date_column, self.horizon, self.k_range, self.k_rule,
                        self.holdout, self.folds, self.n_iter, self.seed, self.frequency,
                        self.interval, self.algorithms):  # fmt: skip
            control.observe(lambda _c: self.code.refresh(), names="value")
        # The engine's catalogue needs the ML stack: read it off the main thread.
        self.runner.run("Preparing the training form", self._prepare, self._prepared)

    # -- layout ----------------------------------------------------------------------------

    def _build(self) -> None:
        title = W.HTML('<div class="aq-title">Train a model</div>')
        self.forecast_box = W.VBox([self.date_column, self.horizon])
        self.cluster_box = W.VBox([self.k_range, self.k_rule])
        self.algorithm_box = W.VBox([self.algorithms])
        self.forecast_advanced = W.VBox([self.frequency, self.interval])
        self.feature_box = W.VBox([W.HBox([self.features, self.all_features]), self.features_info])
        advanced = W.VBox(
            [
                W.HTML(
                    '<div class="aq-muted">The holdout is never used for training or model '
                    "choice; cross-validation folds split the rest.</div>"
                ),
                self.holdout,
                self.folds,
                self.n_iter,
                self.seed,
                self.forecast_advanced,
            ]
        )
        self.advanced = W.Accordion(children=[advanced], selected_index=None)
        self.advanced.set_title(0, "Advanced settings")
        self.setup = W.VBox(
            [
                W.HBox([self.picker, self.dataset_info], layout=W.Layout(align_items="center")),
                W.HBox(
                    [self.target, self.task, self.task_badge],
                    layout=W.Layout(align_items="center", flex_flow="row wrap"),
                ),  # fmt: skip
                self.forecast_box,
                self.feature_box,
                self.compare_all,
                self.algorithm_box,
                self.metric,
                self.tune,
                self.cluster_box,
                self.advanced,
                W.HBox([self.start, self.role_note], layout=W.Layout(align_items="center")),
            ]
        )
        go = []
        if self.offers("upload"):
            button = W.Button(description="Upload a file", icon="upload")
            button.on_click(lambda _b: self.navigate("upload"))  # type: ignore[misc]
            go = [button]
        self.empty = empty_state("No datasets yet: upload a file first, then train on it.", *go)
        self.results.children = (
            self.summary,
            W.HTML('<div class="aq-title">Leaderboard</div>'),
            self.leaderboard,
            W.HBox([self.choose, self.evaluate], layout=W.Layout(align_items="center")),
            self.page,
        )
        self.empty.layout.display = "none"
        self.body.children = (title, self.empty, self.setup, self.board, self.results, self.code)
        self._apply_role()

    def _apply_role(self) -> None:
        if not self.can(Permission.MODEL_TRAIN):
            self.start.layout.display = "none"
            role = self.ws.me.role.value
            self.role_note.value = (
                f'<span class="aq-muted">Your role ({fmt.escape(role)}) can look at data and '
                "use models but not train them; ask an admin for the analyst role.</span>"
            )

    # -- preparing the form ------------------------------------------------------------------

    def _prepare(self, progress: Any) -> None:
        progress("Loading the training engine")
        if self._warming is not None:  # the same imports: let the warm-up finish them
            self._warming.join()
        tasks, algorithms, metrics, primary = _catalogue()
        self._tasks, self._algorithms_of = tasks, algorithms
        self._metrics, self._primary = metrics, primary
        from ..core.training_spec import K_RULES

        self._k_rules: tuple[str, ...] = tuple(K_RULES)

    def _prepared(self, _none: Any) -> None:
        self._ready = True
        self.task.options = [(AUTO, AUTO)] + [(t, t) for t in self._tasks]
        self.k_rule.options = [(r, r) for r in self._k_rules]
        self.k_rule.value = self._k_rules[0] if self._k_rules else None
        self.k_rule.layout.display = None if self._k_rules else "none"
        self._dataset_changed()

    # -- reacting to choices -----------------------------------------------------------------

    def _dataset_changed(self) -> None:
        if not self._ready:
            return
        ref = self.picker.ref
        self.empty.layout.display = None if ref is None else "none"
        self.setup.layout.display = "none" if ref is None else None
        if ref is None:
            return
        self._version = self.ws.datasets.get(ref)
        v = self._version
        self.dataset_info.value = (
            f'<span class="aq-muted">{fmt.count(v.rows)} rows · {fmt.count(v.columns)} columns'
            "</span>"
        )
        columns = list(v.schema)
        self._quiet = True
        try:
            self.target.options = [("(none: find clusters)", NO_TARGET)] + [(c, c) for c in columns]
            self.target.value = self._default_target(columns)
            dates = [c for c in columns if str(v.schema[c]).startswith(("datetime", "date"))]
            dates += [c for c in columns if "date" in c.lower() and c not in dates]
            self.date_column.options = [(c, c) for c in (dates + [c for c in columns
                                                                  if c not in dates])]  # fmt: skip
            self.date_column.value = (dates or columns)[0] if columns else None
        finally:
            self._quiet = False
        self._target_changed()

    def _default_target(self, columns: list[str]) -> str:
        hinted = [c for c in columns if _TARGET_HINT.search(c)]
        if hinted:
            return hinted[-1]
        return columns[-1] if columns else NO_TARGET

    @property
    def target_column(self) -> str | None:
        value = self.target.value
        return None if value in (None, NO_TARGET) else value

    def _target_changed(self) -> None:
        if self._quiet or not self._ready:
            return
        target = self.target_column
        self._inferred = self._infer(target)
        self._quiet = True
        try:
            self.task.value = AUTO
        finally:
            self._quiet = False
        self._fill_features()
        self._task_changed()

    def _infer(self, target: str | None) -> tuple[str, str]:
        """The engine's task rule on the target column (read whole up to a bound)."""
        from ..core.preprocessing import infer_task

        if target is None:
            return infer_task(None, None)  # type: ignore[arg-type]
        ref = self.picker.ref
        assert ref is not None
        values = self.ws.datasets.load(ref, columns=[target], limit=TASK_SAMPLE_ROWS)
        task, reason = infer_task(values, target)
        if self._version is not None and self._version.rows > TASK_SAMPLE_ROWS:
            reason += f" (first {fmt.count(TASK_SAMPLE_ROWS)} rows)"
        return task, reason

    @property
    def effective_task(self) -> str:
        """The task that will run: the user's choice, else the detected one."""
        if self.task.value not in (None, AUTO):
            return self.task.value
        return self._inferred[0] if self._inferred else "classification"

    def _task_changed(self) -> None:
        if self._quiet or not self._ready:
            return
        task = self.effective_task
        detected, reason = self._inferred or (task, "")
        if self.task.value in (None, AUTO):
            self.task_badge.value = (
                f'<span class="aq-badge aq-badge-ok" title="{fmt.escape(reason)}">{task} '
                f'(detected)</span> <span class="aq-muted">{fmt.escape(reason)}</span>'
            )
        else:
            self.task_badge.value = (
                f'<span class="aq-badge aq-badge-warn">{fmt.escape(task)} (your choice)</span> '
                f'<span class="aq-muted">detected: {fmt.escape(detected)}</span>'
            )
        names = self._algorithms_of(task)
        self.algorithms.options = names
        self.algorithms.value = tuple(names)
        primary = self._primary.get(task)
        # "" not None for the default: a Dropdown whose value is None shows a blank box.
        self.metric.options = [(f"{primary} (default)", "")] + [
            (m, m) for m in self._metrics.get(task, ()) if m != primary
        ]
        self.metric.value = ""
        self.forecast_box.layout.display = None if task == "forecasting" else "none"
        self.forecast_advanced.layout.display = None if task == "forecasting" else "none"
        self.cluster_box.layout.display = None if task == "clustering" else "none"
        self.feature_box.layout.display = "none" if task == "forecasting" else None
        self.tune.layout.display = None if task in ("classification", "regression") else "none"
        self._show_algorithms()
        self._show_tuning()
        self.code.refresh()

    def _fill_features(self) -> None:
        if self._version is None:
            return
        target = self.target_column
        columns = [c for c in self._version.schema if c != target]
        self._quiet = True
        try:
            self.features.options = columns
            self.features.value = tuple(columns)
        finally:
            self._quiet = False
        self._features_changed()

    def _select_all_features(self) -> None:
        self.features.value = tuple(self.features.options)

    def _features_changed(self) -> None:
        chosen, total = len(self.features.value), len(self.features.options)
        self.features_info.value = (
            f'<span class="aq-muted">{chosen} of {total} columns. With all of them, columns '
            "that cannot help (identifiers, constants, free text) are left out with a note; "
            "hold Ctrl/⌘ to pick several.</span>"
        )
        self.code.refresh()

    def _show_algorithms(self) -> None:
        task = self.effective_task if self._ready else None
        shown = not self.compare_all.value
        self.algorithm_box.layout.display = None if shown else "none"
        self.compare_all.layout.display = None if task != "clustering" else "none"
        if task == "clustering":
            self.algorithm_box.layout.display = "none"
        self.code.refresh()

    def _show_tuning(self) -> None:
        self.n_iter.disabled = not self.tune.value
        self.code.refresh()

    # -- the run ------------------------------------------------------------------------------

    def options(self) -> dict[str, Any]:
        """The keyword options of ``ws.train`` for the form as it is (only non-defaults)."""
        task = self.effective_task
        opts: dict[str, Any] = {}
        target = self.target_column
        if task != "clustering":
            if target is None:
                raise Invalid(f"Choose the column to predict: {task} needs a target.")
            opts["target"] = target
        opts["task"] = task
        if task != "forecasting" and len(self.features.value) < len(self.features.options):
            if not self.features.value:
                raise Invalid("Choose at least one feature column (or Use all).")
            opts["features"] = list(self.features.value)
        if task != "clustering" and not self.compare_all.value:
            if not self.algorithms.value:
                raise Invalid("Choose at least one algorithm, or tick Compare all algorithms.")
            opts["algorithms"] = list(self.algorithms.value)
        if self.metric.value:
            opts["metric"] = self.metric.value
        if task in ("classification", "regression") and self.tune.value:
            opts["tune"] = self.tune.value
            opts["n_iter"] = int(self.n_iter.value)
        defaults = {"holdout": 0.2, "cv_folds": 5, "random_state": 0}
        chosen = {
            "holdout": round(float(self.holdout.value), 4),
            "cv_folds": int(self.folds.value),
            "random_state": int(self.seed.value),
        }
        opts.update({k: v for k, v in chosen.items() if v != defaults[k]})
        if task == "forecasting":
            if not self.date_column.value:
                raise Invalid("Choose the date column of the series to forecast.")
            opts["date_column"] = self.date_column.value
            if self.horizon.value:
                opts["horizon"] = int(self.horizon.value)
            if self.frequency.value.strip():
                opts["frequency"] = self.frequency.value.strip()
            if round(float(self.interval.value), 4) != 0.9:
                opts["interval_level"] = round(float(self.interval.value), 4)
        if task == "clustering":
            low, high = (int(v) for v in self.k_range.value)
            if (low, high) != tuple(_spec_k_range()):
                opts["k_range"] = (low, high)
            if self._k_rules and self.k_rule.value and self.k_rule.value != self._k_rules[0]:
                opts["k_rule"] = self.k_rule.value
        return opts

    def code_text(self) -> str:
        """The Python equivalent of the form (and of the registration, once done)."""
        ref = self.picker.ref or "<dataset>"
        try:
            opts = self.options() if self._ready else {}
        except Invalid as error:
            opts = {"...": error.message}
        args = "".join(f", {k}={v!r}" for k, v in opts.items())
        lines = [
            "import astralytiq_jupyter as aq",
            "",
            "ws = aq.connect()",
            f"result = ws.train({ref!r}{args})",
            "result.leaderboard  # ranked by result.primary_metric",
            "result.holdout_metrics, result.notes",
        ]
        if self.registered is not None:
            mv = self.registered
            lines.append(f"version = ws.models.register({mv.name!r}, result)")
            for alias in mv.aliases:
                lines.append(f"ws.models.set_alias({mv.name!r}, {alias!r}, version.version)")
        lines += ["print(result.to_code())  # the same model in plain scikit-learn"]
        return "\n".join(lines)

    @property
    def _controls(self) -> list[W.DOMWidget]:
        """Disabled while a task runs. Not Register: the model page enables it once complete
        (the runner would enable it when the work ends, before the page is drawn)."""
        return [
            self.start, self.picker.name, self.picker.version, self.target, self.task,
            self.features, self.algorithms, self.compare_all, self.evaluate,
        ]  # fmt: skip

    def train(self) -> Any:
        """Start training in the background (the Start button); returns the task."""
        if not self.can(Permission.MODEL_TRAIN):
            self.status.fail("Your role cannot train models.")
            return None
        ref = self.picker.ref
        if ref is None:
            self.status.fail("Choose a dataset first.")
            return None
        try:
            options = self.options()
        except Invalid as error:
            self.status.fail(error)
            return None
        task = options["task"]
        metric = options.get("metric") or self._primary[task]
        self.board.start(metric, options.get("cv_folds", 5), task)
        self.results.layout.display = "none"
        self.page.register_button.disabled = True  # until the new model's page is complete
        self.result = self.shown = None
        self._evaluated = {}
        self.registered = None

        def work(progress: Any) -> Any:
            def on_event(event: Any) -> None:
                self.board.update(event)
                progress(event.message, event.fraction)

            return self.ws.train(ref, progress=on_event, cancel=progress.cancel_event, **options)

        return self.runner.run(
            "Training",
            work,
            self._trained,
            controls=self._controls,
            cancellable=True,
            on_error=lambda error: self.board.stop(f"Stopped: {error}"),
        )

    def _trained(self, result: Any) -> None:
        self.result = result
        self.code.refresh()
        records = leaderboard_records(result.leaderboard)
        self._records = records
        chosen = result.best_algorithm
        best = next(
            (r for r in records if r.get("algorithm") == chosen and not r.get("error")), None
        )
        if result.task == "clustering":
            k = result.output.get("n_clusters")
            best = next(
                (r for r in records if (r.get("params") or {}).get("n_clusters") == k), best
            )
        self._chosen_label = row_label(best, result.task) if best else chosen
        self._evaluated = {self._chosen_label: result}
        metrics = self._metrics.get(result.task, ())
        self.leaderboard.value = leaderboard_html(
            records,
            task=result.task,
            metric=result.primary_metric,
            metrics=metrics,
            chosen=self._chosen_label,
            over=_ranked_on(result),
        )
        self.board.layout.display = "none"
        seconds = fmt.number(result.duration_seconds, 3)
        self.summary.value = (
            f'<div class="aq-muted">{fmt.escape(result.task)} on '
            f"{fmt.escape(result.spec.dataset)}: {len(records)} models compared in {seconds} s; "
            f"{fmt.count(result.n_rows.get('train'))} training rows, "
            f"{fmt.count(result.n_rows.get('holdout'))} held out.</div>"
        )
        labels = [row_label(r, result.task) for r in records if not r.get("error")]
        self._quiet = True
        try:
            self.choose.options = labels
            self.choose.value = self._chosen_label if self._chosen_label in labels else None
        finally:
            self._quiet = False
        self.results.layout.display = None
        self._chosen_changed()
        self.status.done(
            f"Trained: best {self._chosen_label} ({result.primary_metric} "
            f"{fmt.number(result.cv_metrics.get(result.primary_metric), 4)})"
        )

    # -- other rows of the leaderboard ----------------------------------------------------------

    def _row_of(self, label: str) -> dict[str, Any] | None:
        task = self.result.task
        return next((r for r in self._records if row_label(r, task) == label), None)

    def _chosen_changed(self) -> None:
        if self._quiet or self.result is None:
            return
        label = self.choose.value
        evaluated = self._evaluated.get(label)
        self.evaluate.layout.display = "none" if evaluated is not None else None
        if evaluated is not None:
            self.shown = evaluated
            self.page.show(evaluated, label, chosen=label == self._chosen_label)
        else:
            self.shown = None
            self.page.pending(label, self._row_of(label), self.result)

    def evaluate_chosen(self) -> Any:
        """Refit the leaderboard row picked in "Model" on the training split and evaluate it on
        the same holdout (its own training run, with the row's parameters fixed)."""
        label = self.choose.value
        row = self._row_of(label) if label else None
        if self.result is None or row is None:
            return None
        spec = self.result.spec
        options: dict[str, Any] = {
            k: v
            for k, v in spec.to_dict().items()
            if k not in ("dataset", "algorithms", "params", "tune", "n_iter", "search_space")
        }
        options.pop("n_clusters", None)
        if self.result.task == "clustering":
            k = int(row["params"]["n_clusters"])
            options.update(n_clusters=k, k_range=(k, k))
            options.pop("k_rule", None)
        else:
            options.update(algorithms=[row["algorithm"]], params={row["algorithm"]: row["params"]})
        options = {k: v for k, v in options.items() if k in _spec_fields()}
        ref = spec.dataset

        def work(progress: Any) -> Any:
            def on_event(event: Any) -> None:
                progress(f"{label}: {event.message}", event.fraction)

            return self.ws.train(ref, progress=on_event, cancel=progress.cancel_event, **options)

        def done(result: Any) -> None:
            self._evaluated[label] = result
            self._chosen_changed()
            self.status.done(f"Evaluated {label} on the holdout")

        return self.runner.run(
            f"Evaluating {label}", work, done, controls=self._controls, cancellable=True
        )

    # -- the app -------------------------------------------------------------------------------

    def receive(self, **context: Any) -> None:
        ref = context.get("ref")
        if ref:
            self.picker.select(ref)


def _spec_k_range() -> tuple[int, int]:
    return (2, 10)


def _ranked_on(result: Any) -> str:
    selection = getattr(result, "selection", None) or {}
    if selection.get("on"):
        return f"measured on {selection['on']}"
    if result.task == "forecasting":
        return "error on the held-out last points of the series"
    return f"mean over {result.spec.cv_folds} cross-validation folds of the training split"
