"""The Clean wizard (the Data Wrangler / Mito pattern): operations on the left, the grid in
the middle, the step list on the right, the generated pandas code below.

Choosing an operation opens its form (generated from the op catalogue); the grid previews
the step on the first rows before it is added, with changed cells and added or removed
columns highlighted and the counts written out. Steps can be edited, reordered, switched off
and deleted, and every change can be undone and redone. The recipe is saved as a new dataset
version with lineage, or by name to replay it on another version later.

Usage::

    import astralytiq_jupyter as aq
    from astralytiq_jupyter.widgets import CleanWizard
    CleanWizard("sales@1")          # or CleanWizard(ws, navigate=app.open, header=False)
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import ipywidgets as W

from ..core.errors import AstralytiqError
from ..core.permissions import Permission
from ..core.recipe_base import Schema
from ..core.recipe_ops import parse_step
from ..core.recipes import Recipe
from . import format as fmt
from .base import Wizard, empty_state
from .clean_forms import OpForm, catalog, describe_step, groups
from .clean_issues import IssueFinder
from .clean_preview import PREVIEW_HEAD, PREVIEW_ROWS, PreviewTarget, PreviewView, step_effect
from .clean_steps import Entry, History, StepList, Suggestions
from .code import CodeView
from .pickers import DatasetPicker
from .tasks import LatestOnly

if TYPE_CHECKING:
    from ..client.workspace import Workspace
    from ..core.dataset_versions import DatasetVersion
    from ..core.recipes import RecipePreview

__all__ = ["CleanWizard"]


def _panel(title: str, *children: W.Widget, width: str | None = None) -> W.VBox:
    box = W.VBox(
        [W.HTML(f'<div class="aq-title">{fmt.escape(title)}</div>'), *children],
        layout=W.Layout(
            width=width or "auto",
            min_width=width or "0",
            flex="0 0 auto" if width else "1 1 auto",
            padding="0 6px",
        ),
    )
    box.add_class("aq-clean-panel")
    return box


class CleanWizard(Wizard):
    """Build a cleaning recipe step by step on a dataset version and save the result.

    ``CleanWizard("sales@1")`` alone, or ``CleanWizard(ws, navigate=..., header=False)`` in
    the app (which then calls ``receive(ref=..., step=...)``).
    """

    title = "Clean"

    def __init__(
        self,
        ref: str | Workspace | None = None,
        ws: Workspace | None = None,
        *,
        navigate: Callable[..., None] | None = None,
        theme: Any = None,
        header: bool = True,
        background: bool = True,
    ) -> None:
        if ref is not None and not isinstance(ref, str):  # CleanWizard(ws, ...) as the app does
            ws, ref = ref, None
        super().__init__(ws, navigate=navigate, theme=theme, header=header, background=background)
        self.history = History()
        self.version: DatasetVersion | None = None
        self.schema = Schema()
        self.schemas: dict[int, Schema] = {}  # the schema each step sees
        self.problems: dict[int, str] = {}
        self.effects: dict[int, str] = {}
        self.final_schema = Schema()
        self.selected: int | None = None
        self.editing: int | None = None
        self.form: OpForm | None = None
        self.last_saved: DatasetVersion | None = None
        self.last_preview: RecipePreview | None = None
        self._right_schemas: dict[str, dict[str, str]] = {}
        self._previews = LatestOnly(self.status)
        self._build()
        self.picker.on_change(lambda _ref: self._version_changed())
        if ref is not None:
            self.picker.select(ref)
        self._version_changed()

    # ---------------------------------------------------------------- layout
    def _build(self) -> None:
        self.picker = DatasetPicker(self.ws)
        self.about = W.HTML()
        # operations, grouped as the catalogue groups them
        self.op_buttons: dict[str, W.Button] = {}
        sections = []
        for group, names in groups().items():
            buttons = []
            for name in names:
                button = W.Button(
                    description=catalog()[name]["title"],
                    tooltip=name,
                    layout=W.Layout(width="auto"),
                )
                button.on_click(lambda _b, name=name: self.choose(name))
                self.op_buttons[name] = button
                buttons.append(button)
            sections.append((group, W.VBox(buttons)))
        self.ops = W.Accordion(children=[box for _, box in sections], selected_index=0)
        for i, (group, _) in enumerate(sections):
            self.ops.set_title(i, group.capitalize())
        self.suggestions = Suggestions(lambda step: self.add_step(dict(step)))
        self.finder = IssueFinder(
            self.ws,
            self.suggestions,
            self.status,
            current=lambda: self.ref,
            on_issues=self._on_issues,
            background=self.runner.background,
        )
        self.form_box = W.VBox()
        self.apply_button = W.Button(description="Add step", icon="check", button_style="primary")
        self.discard_button = W.Button(description="Cancel", icon="times")
        self.apply_button.on_click(lambda _b: self.apply_form())
        self.discard_button.on_click(lambda _b: self.close_form())
        self.form_panel = W.VBox(
            [self.form_box, W.HBox([self.apply_button, self.discard_button])],
            layout=W.Layout(display="none"),
        )
        self.ops_panel = W.VBox(
            [
                self.ops,
                W.HTML('<div class="aq-title">Suggested fixes</div>'),
                self.suggestions,
            ]
        )
        left = _panel("Operations", self.ops_panel, self.form_panel, width="300px")
        # the grid
        self.preview = PreviewView(page_size=PREVIEW_HEAD)
        middle = _panel("Preview", self.preview)
        middle.layout.overflow = "auto"
        # steps, undo/redo, saved recipes
        self.undo_button = W.Button(description="Undo", icon="undo", layout=W.Layout(width="auto"))
        self.redo_button = W.Button(
            description="Redo", icon="repeat", layout=W.Layout(width="auto")
        )
        self.undo_button.on_click(lambda _b: self.undo())
        self.redo_button.on_click(lambda _b: self.redo())
        self.steps = StepList(
            on_toggle=self.toggle_step,
            on_move=self.move_step,
            on_edit=self.edit_step,
            on_delete=self.delete_step,
            on_select=self.select_step,
        )
        self.recipe_name = W.Text(placeholder="recipe name", layout=W.Layout(width="98%"))
        self.recipe_description = W.Text(
            placeholder="what it does (optional)", layout=W.Layout(width="98%")
        )
        self.save_recipe_button = W.Button(
            description="Save recipe", icon="save", layout=W.Layout(width="auto")
        )
        self.save_recipe_button.on_click(lambda _b: self.save_recipe())
        self.recipe_reason = W.HTML()
        self.saved_recipes = W.Dropdown(options=[], layout=W.Layout(flex="1 1 auto", width="auto"))
        self.load_recipe_button = W.Button(
            description="Load", icon="folder-open", layout=W.Layout(width="auto")
        )
        self.load_recipe_button.on_click(lambda _b: self.load_recipe())
        self.refresh_recipes_button = W.Button(
            icon="refresh", tooltip="Reload the list", layout=W.Layout(width="36px")
        )
        self.refresh_recipes_button.on_click(lambda _b: self.refresh_recipes())
        recipes = W.VBox(
            [
                W.HTML('<div class="aq-title">Recipes</div>'),
                W.HTML('<div class="aq-field-label">Save these steps as a recipe</div>'),
                self.recipe_name,
                self.recipe_description,
                self.save_recipe_button,
                self.recipe_reason,
                W.HTML('<div class="aq-field-label">Saved recipes</div>'),
                W.HBox(
                    [self.saved_recipes, self.refresh_recipes_button],
                    layout=W.Layout(width="98%"),
                ),
                self.load_recipe_button,
                W.HTML(
                    '<div class="aq-muted">Load a saved recipe, pick another version above '
                    "and save: the recipe is replayed on it.</div>"
                ),
            ]
        )
        right = _panel(
            "Steps",
            W.HBox([self.undo_button, self.redo_button]),
            self.steps,
            recipes,
            width="340px",
        )
        self.columns = W.HBox([left, middle, right], layout=W.Layout(width="100%"))
        # code and saving
        self.code = CodeView("Show code")
        self.code.toggle.value = True
        self.code.set_code(self.code_text)
        self.save_name = W.Text(description="Save as", layout=W.Layout(width="320px"))
        self.save_button = W.Button(
            description="Save as new version",
            icon="save",
            button_style="primary",
            layout=W.Layout(width="auto"),
        )
        self.save_button.on_click(lambda _b: self.save_version())
        self.save_reason = W.HTML()
        self.save_bar = W.HBox(
            [self.save_name, self.save_button, self.save_reason],
            layout=W.Layout(align_items="center", flex_flow="row wrap"),
        )
        self.empty = empty_state("No datasets yet — upload a file first.", *self._upload_button())
        self.main = W.VBox([self.columns, self.save_bar, self.code])
        self.body.children = (W.HBox([self.picker, self.about]), self.empty, self.main)
        self._apply_roles()
        self.refresh_recipes()

    def _upload_button(self) -> list[W.Button]:
        if self.navigate is None:
            return []
        button = W.Button(description="Upload a file", icon="upload")
        navigate = self.navigate
        button.on_click(lambda _b: navigate("upload"))
        return [button]

    def _apply_roles(self) -> None:
        """Hide nothing silently: disabled controls say which permission is missing."""
        role = self.ws.me.role.value
        if not self.can(Permission.DATASET_WRITE):
            self.save_button.disabled = self.save_name.disabled = True
            self.save_reason.value = (
                f'<span class="aq-muted">Your role ({fmt.escape(role)}) can preview cleaning '
                "but not save dataset versions.</span>"
            )
        if not self.can(Permission.RECIPE_WRITE):
            self.save_recipe_button.disabled = True
            self.recipe_name.disabled = self.recipe_description.disabled = True
            self.recipe_reason.value = (
                f'<span class="aq-muted">Your role ({fmt.escape(role)}) cannot save recipes.</span>'
            )

    # ---------------------------------------------------------------- the app's side
    def receive(self, **context: Any) -> None:
        """``ref=`` picks a version; ``step=`` (e.g. a fix from Explore) adds a step."""
        if context.get("ref"):
            self.picker.select(context["ref"])
        if context.get("step"):
            self.add_step(context["step"])

    # ---------------------------------------------------------------- versions
    @property
    def ref(self) -> str | None:
        """The version being cleaned (``name@version``), or None."""
        return self.version.ref if self.version is not None else None

    @property
    def entries(self) -> tuple[Entry, ...]:
        return self.history.state

    @property
    def recipe_steps(self) -> list[dict[str, Any]]:
        """The steps that are switched on: the recipe that is previewed and saved."""
        return [e.step for e in self.entries if e.enabled]

    def _version_changed(self) -> None:
        picked = self.picker.ref
        self.empty.layout.display = "none" if picked else None
        self.main.layout.display = None if picked else "none"
        self.version, self.schema = None, Schema()
        self.effects = {}  # counts of the steps on the version left behind
        self._right_schemas.clear()
        if picked:
            try:
                self.version = self.ws.datasets.get(picked)
            except Exception as error:  # noqa: BLE001 - shown in plain words
                self.status.fail(error)
        if self.version is not None:
            v = self.version
            self.schema = Schema(v.schema)
            self.about.value = (
                f'<span class="aq-muted">{fmt.escape(v.ref)} · {fmt.count(v.rows)} rows · '
                f"{fmt.count(v.columns)} columns</span>"
            )
            if not self.save_name.value or self.save_name.value.startswith(f"{v.name}-clean"):
                self.save_name.value = f"{v.name}-clean"
        else:
            self.about.value = ""
        self.preview.forget_raw()
        # the profile behind the suggested fixes starts once the preview below is on screen
        self.finder.queue(self.ref, self.version.rows if self.version is not None else None)
        self._refresh()

    # ---------------------------------------------------------------- the step list
    def _schema_of(self, ref: str) -> dict[str, str]:
        """A joined dataset's schema (cached while the wizard stays on one version)."""
        if ref not in self._right_schemas:
            self._right_schemas[ref] = self.ws.datasets.get(ref).schema
        return self._right_schemas[ref]

    def _analyse(self) -> None:
        """Check each step against the schema it sees (switched-off steps see the schema of
        the steps before them), so forms offer the right columns and problems show."""
        self.schemas, self.problems = {}, {}
        current = self.schema
        enabled = [i for i, e in enumerate(self.entries) if e.enabled]
        try:
            checks = Recipe.from_json([self.entries[i].step for i in enabled]).check_steps(
                self.schema, datasets=self._schema_of
            )
        except AstralytiqError as error:  # a step that does not parse (never added so)
            self.problems = {i: error.message for i in enabled}
            checks = []
        by_index = dict(zip(enabled, checks, strict=False))
        for i, _entry in enumerate(self.entries):
            check = by_index.get(i)
            if check is None:
                self.schemas[i] = current
                continue
            self.schemas[i] = check.schema_in
            if check.error is not None:
                self.problems[i] = check.error.message
            current = check.schema_out
        self.final_schema = current

    def _refresh(self, preview: bool = True) -> None:
        """Redraw after any change: problems, the list, undo/redo, code, form, preview."""
        self._analyse()
        if self.selected is not None and self.selected >= len(self.entries):
            self.selected = None
        self.steps.show(self.entries, self.problems, self.effects, self.selected, self.editing)
        h = self.history
        self.undo_button.disabled, self.redo_button.disabled = not h.can_undo, not h.can_redo
        self.undo_button.tooltip = f"Undo: {h.undo_label}" if h.can_undo else "Nothing to undo"
        self.redo_button.tooltip = f"Redo: {h.redo_label}" if h.can_redo else "Nothing to redo"
        self.code.refresh()
        self.suggestions.mark([e.step for e in self.entries])
        if self.form is not None:
            self.form.set_schema(self._form_schema())
        if preview:
            self.request_preview()

    def _change(self, entries: list[Entry] | tuple[Entry, ...], what: str) -> None:
        self.effects = {}
        if self.history.change(entries, what):
            self._refresh()

    def add_step(self, step: dict[str, Any], *, enabled: bool = True) -> bool:
        """Add ``step`` at the end (the Explore wizard's and the app's fixes come here)."""
        try:
            parse_step(step)
        except AstralytiqError as error:
            self.status.fail(f"This step cannot be added: {error.message}")
            return False
        self.selected = len(self.entries)
        self._change([*self.entries, Entry.of(step, enabled)], f"add {_title(step)}")
        problem = self.problems.get(len(self.entries) - 1)
        if problem:
            self.status.fail(f"Step {len(self.entries)} was added but has a problem: {problem}")
        else:
            self.status.done(f"Added step {len(self.entries)}: {describe_step(step)}")
        return True

    def toggle_step(self, index: int, enabled: bool) -> None:
        entries = list(self.entries)
        if entries[index].enabled == enabled:
            return
        entries[index] = Entry(entries[index].text, enabled)
        verb = "switch on" if enabled else "switch off"
        self._change(entries, f"{verb} step {index + 1}")

    def move_step(self, index: int, delta: int) -> None:
        target = index + delta
        entries = list(self.entries)
        if not 0 <= target < len(entries):
            return
        entries[index], entries[target] = entries[target], entries[index]
        self.selected = target
        if self.editing in (index, target):  # the form follows the step it edits
            self.editing = target if self.editing == index else index
        self._change(entries, f"move step {index + 1} {'up' if delta < 0 else 'down'}")

    def delete_step(self, index: int) -> None:
        entries = list(self.entries)
        removed = entries.pop(index)
        if self.editing == index:
            self.close_form(refresh=False)
        elif self.editing is not None and self.editing > index:
            self.editing -= 1
        self.selected = None
        self._change(entries, f"delete {_title(removed.step)}")

    def select_step(self, index: int) -> None:
        """Preview what step ``index`` does (before and after it)."""
        self.selected = None if self.selected == index else index
        self._refresh()

    def undo(self) -> None:
        what = self.history.undo()
        if what is not None:
            self.effects, self.selected = {}, None
            self.close_form(refresh=False)
            self._refresh()
            self.status.info(f"Undone: {what}")

    def redo(self) -> None:
        what = self.history.redo()
        if what is not None:
            self.effects, self.selected = {}, None
            self.close_form(refresh=False)
            self._refresh()
            self.status.info(f"Redone: {what}")

    # ---------------------------------------------------------------- forms
    def _form_position(self) -> int:
        return self.editing if self.editing is not None else len(self.entries)

    def _form_schema(self) -> Schema:
        position = self._form_position()
        return self.schemas.get(position, self.final_schema)

    def choose(self, op: str) -> OpForm:
        """Open the form of ``op`` to add a step at the end."""
        self.editing = None
        return self._open_form(op, None)

    def edit_step(self, index: int) -> OpForm:
        """Open step ``index`` in its form; "Update step" replaces it."""
        self.editing = index
        self.selected = index
        step = self.entries[index].step
        form = self._open_form(step["op"], step)
        self.steps.show(self.entries, self.problems, self.effects, self.selected, self.editing)
        return form

    def _open_form(self, op: str, step: dict[str, Any] | None) -> OpForm:
        form = OpForm(op, self._form_schema(), ws=self.ws)
        if step is not None:
            form.load(step)
        form.on_change(self._form_changed)
        self.form = form
        self.form_box.children = (form,)
        self.apply_button.description = "Update step" if self.editing is not None else "Add step"
        self.ops_panel.layout.display = "none"
        self.form_panel.layout.display = None
        self._form_changed()
        return form

    def close_form(self, refresh: bool = True) -> None:
        was_open = self.form is not None
        self.form, self.editing = None, None
        self.form_box.children = ()
        self.form_panel.layout.display = "none"
        self.ops_panel.layout.display = None
        if refresh and was_open:
            self._refresh()

    def _pending(self) -> tuple[dict[str, Any] | None, str]:
        """The form's step checked against the columns it sees: ``(step, "")`` or why not."""
        if self.form is None:
            return None, ""
        step, problem = self.form.check()
        if step is None:
            return None, problem
        check = Recipe.from_json([step]).check_steps(self._form_schema(), datasets=self._schema_of)[
            0
        ]
        if check.error is not None:
            return None, check.error.message
        return step, ""

    def _form_changed(self) -> None:
        step, problem = self._pending()
        if self.form is not None:
            self.form.show_error(problem)
        self.apply_button.disabled = step is None
        if step is not None:
            self.request_preview()

    def apply_form(self) -> bool:
        """Add (or update) the step in the form; refuse with the reason if it is not valid."""
        step, problem = self._pending()
        if step is None:
            if self.form is not None:
                self.form.show_error(problem or "Fill in the form first.")
            return False
        entries = list(self.entries)
        if self.editing is not None:
            index = self.editing
            entries[index] = Entry.of(step, entries[index].enabled)
            what = f"edit step {index + 1}"
        else:
            index = len(entries)
            entries.append(Entry.of(step))
            what = f"add {_title(step)}"
        self.form, self.editing = None, None
        self.form_box.children = ()
        self.form_panel.layout.display = "none"
        self.ops_panel.layout.display = None
        self.selected = index
        self._change(entries, what)
        return True

    # ---------------------------------------------------------------- preview
    def _preview_target(self) -> PreviewTarget | None:
        """What to preview: the switched-on steps, with the form's step put in its place
        (or a switched-off step looked at put back), and which of them the grid shows
        (``focus``; None shows the result). None when there is nothing to preview."""
        enabled = [(i, e.step) for i, e in enumerate(self.entries) if e.enabled]
        position: int | None = None
        step: dict[str, Any] | None = None
        if self.form is not None:
            step, _problem = self._pending()
            if step is None:
                return None
            position = self._form_position()
            label = (
                f"Step {position + 1} as edited"
                if self.editing is not None
                else "New step (not added yet)"
            )
        elif self.selected is not None and self.selected < len(self.entries):
            position = self.selected
            step = self.entries[position].step
            label = f"Step {position + 1}"
        if step is None or position is None:
            if not enabled:
                return None
            return PreviewTarget([s for _, s in enabled], [i for i, _ in enabled], None, "all")
        before = [(i, s) for i, s in enabled if i < position]
        after = [(i, s) for i, s in enabled if i > position]
        # the list's effects hold when what is previewed is the recipe as it stands
        real = self.form is None and self.entries[position].enabled
        return PreviewTarget(
            [s for _, s in before] + [step] + [s for _, s in after],
            [i for i, _ in before] + [position if real else None] + [i for i, _ in after],
            len(before),
            label,
            record=real,
        )

    def request_preview(self) -> None:
        """Preview in the background; a newer request supersedes an older one."""
        ref = self.ref
        if ref is None:
            self._previews.run(
                "Preview",
                lambda: None,
                lambda _r: self.preview.clear(),
                background=False,
                quiet=True,
            )
            return
        target = self._preview_target()
        if target is None:
            total = self.version.rows if self.version is not None else 0
            self._previews.run(
                "Preview",
                lambda: None,
                self._then_profile(ref, lambda _r: self.preview.show_raw(self.ws, ref, total)),
                background=self.runner.background,
                quiet=True,
            )
            return
        total = self.version.rows if self.version is not None else None
        self.preview.busy()

        def work() -> tuple[Any, Any]:
            try:
                result = self.ws.recipes.preview(
                    target.steps, ref, rows=PREVIEW_ROWS, head=PREVIEW_HEAD
                )
                before = None
                if target.focus == 0:  # the data before the first step
                    before = self.preview.raw_head(self.ws, ref, PREVIEW_HEAD)
            except Exception as error:  # noqa: BLE001 - said in the preview's caption
                return error, None
            return result, before

        def done(outcome: tuple[Any, Any]) -> None:
            result, before = outcome
            if isinstance(result, BaseException):
                self.preview.failed(result)
                return
            self.last_preview = result
            if target.record:
                self._record_effects(result, target.positions)
            self.preview.show(result, before, target.label, total, focus=target.focus)

        self._previews.run(
            "Preview",
            work,
            self._then_profile(ref, done),
            background=self.runner.background,
            quiet=True,
        )

    def _record_effects(self, result: RecipePreview, positions: list[int | None]) -> None:
        """Per-step counts under each step of the list (and a failing step's problem)."""
        effects = {}
        for report, index in zip(result.steps, positions, strict=False):
            if index is not None:
                effects[index] = step_effect(report)
        if result.error is not None:
            step = result.error.get("detail", {}).get("step")
            if (
                isinstance(step, int)
                and 0 < step <= len(positions)
                and positions[step - 1] is not None
            ):
                message = result.error.get("message", "")
                prefix = message.split(": ", 1)
                self.problems.setdefault(
                    positions[step - 1], prefix[1] if len(prefix) == 2 else message
                )
        if effects != self.effects or result.error is not None:
            self.effects = effects
            self.steps.show(self.entries, self.problems, self.effects, self.selected, self.editing)

    # ---------------------------------------------------------------- suggestions
    def _then_profile(self, ref: str, show: Callable[[Any], None]) -> Callable[[Any], None]:
        """``show`` (a preview of ``ref``), then start the profile queued for ``ref``."""

        def done(result: Any) -> None:
            try:
                show(result)
            finally:
                self.finder.preview_shown(ref)

        return done

    def _on_issues(self, issues: list[Any]) -> None:
        self.suggestions.show(issues, [e.step for e in self.entries])

    @property
    def issues(self) -> list[Any]:
        """The quality issues of the version's profile (empty until it is done)."""
        return self.finder.issues

    # ---------------------------------------------------------------- code
    def code_text(self) -> str:
        steps = self.recipe_steps
        if not steps:
            return "# No steps yet: add one and its pandas code appears here."
        code = Recipe.from_json(steps).to_code()
        ref = self.ref or "dataset"
        name = self.save_name.value or "dataset-clean"
        return (
            f"{code}\n\n"
            "# The same with AstralytiQ, stored as a new version with lineage:\n"
            "# import astralytiq_jupyter as aq\n"
            "# ws = aq.connect()\n"
            f"# steps = {steps!r}\n"
            f"# ws.recipes.apply(steps, {ref!r}, save_as={name!r})\n"
            f"# or with pandas alone: df = clean(ws.datasets.load({ref!r}))\n"
        )

    # ---------------------------------------------------------------- saving
    def save_version(self) -> None:
        """Apply the recipe to the whole version and store the result as a new version."""
        steps, ref, name = self.recipe_steps, self.ref, self.save_name.value.strip()
        if not self.can(Permission.DATASET_WRITE):
            self.status.fail("Your role cannot save dataset versions.")
            return
        if ref is None:
            self.status.fail("Pick a dataset version first.")
            return
        if not steps:
            self.status.fail("Add at least one step first.")
            return
        problems = {i: p for i, p in self.problems.items() if self.entries[i].enabled}
        if problems:
            first = min(problems)
            self.status.fail(f"Step {first + 1} has a problem: {problems[first]}")
            return
        if not name:
            self.status.fail("Give the new version's dataset a name.")
            return

        def work(progress: Any) -> Any:
            def report(done: int, total: int, what: str) -> None:
                if done < total:
                    progress(f"Step {done + 1} of {total}: {what}", done / max(total, 1))
                else:
                    progress("Saving", 1.0)

            return self.ws.recipes.apply(steps, ref, save_as=name, progress=report)

        def done(version: DatasetVersion) -> None:
            self.last_saved = version
            actions = [
                *self.link("Open in Explore", "explore", ref=version.ref),
                *self.link("Train a model", "train", ref=version.ref),
                ("Clean it further", lambda: self.open_version(version.ref)),
            ]
            self.status.done(
                f"Saved {version.ref}: {fmt.count(version.rows)} rows, "
                f"{fmt.count(version.columns)} columns",
                actions=actions,
            )

        self.runner.run(
            f"Saving {name}",
            work,
            done,
            controls=[self.save_button, self.save_recipe_button, self.load_recipe_button],
        )

    def open_version(self, ref: str) -> None:
        """Go on cleaning ``ref`` with an empty step list (the old steps stay undoable)."""
        self.picker.refresh(select=ref)
        self.picker.select(ref)
        self.selected = None
        self._change([], f"start over on {ref}")

    def save_recipe(self) -> None:
        """Save the switched-on steps by name (replaces a recipe of that name)."""
        name, steps = self.recipe_name.value.strip(), self.recipe_steps
        if not self.can(Permission.RECIPE_WRITE):
            self.status.fail("Your role cannot save recipes.")
            return
        if not name:
            self.status.fail("Give the recipe a name.")
            return
        if not steps:
            self.status.fail("Add at least one step first.")
            return
        description = self.recipe_description.value.strip() or None

        def done(saved: Any) -> None:
            self.status.done(f"Saved recipe {saved.name!r} ({len(saved.steps)} steps)")
            self.refresh_recipes(select=saved.name)

        self.runner.run(
            f"Saving recipe {name}",
            lambda _p: self.ws.recipes.save(name, steps, description=description),
            done,
            controls=[self.save_recipe_button],
        )

    def refresh_recipes(self, select: str | None = None) -> None:
        try:
            saved = self.ws.recipes.list(limit=500)
        except Exception as error:  # noqa: BLE001 - shown in plain words
            self.status.fail(error)
            return
        self.saved_recipes.options = [(f"{r.name} · {len(r.steps)} steps", r.name) for r in saved]
        if select is not None:
            self.saved_recipes.value = select
        self.load_recipe_button.disabled = not saved

    def load_recipe(self, name: str | None = None) -> None:
        """Replace the steps with the saved recipe ``name`` (undoable)."""
        name = name or self.saved_recipes.value
        if not name:
            self.status.fail("Choose a saved recipe first.")
            return
        try:
            saved = self.ws.recipes.get(name)
        except Exception as error:  # noqa: BLE001 - shown in plain words
            self.status.fail(error)
            return
        self.close_form(refresh=False)
        self.selected = None
        self._change([Entry.of(step) for step in saved.steps], f"load recipe {name}")
        self.recipe_name.value = saved.name
        self.recipe_description.value = saved.description
        bad = len(self.problems)
        note = f"; {bad} step(s) do not fit this version" if bad else ""
        self.status.done(f"Loaded recipe {name!r}: {len(saved.steps)} steps{note}")

    # ---------------------------------------------------------------- tests and scripts
    def wait(self, timeout: float | None = 120) -> None:
        super().wait(timeout)
        self._previews.wait(timeout)
        self.finder.wait(timeout)


def _title(step: dict[str, Any]) -> str:
    return catalog().get(step.get("op"), {}).get("title", str(step.get("op"))).lower()
