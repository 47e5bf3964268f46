"""The Clean wizard, driven as a person would (set values, ``.click()``), on the LocalBackend
and on the RemoteBackend of a live Jupyter server, asserting what was stored."""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pytest

from astralytiq_jupyter.client import Workspace
from astralytiq_jupyter.core.permissions import Role
from astralytiq_jupyter.core.recipe_base import schema_of
from astralytiq_jupyter.core.recipe_ops import OPS, parse_step
from astralytiq_jupyter.core.recipes import Recipe
from astralytiq_jupyter.widgets.clean import CleanWizard
from astralytiq_jupyter.widgets.clean_fields import JsonField
from astralytiq_jupyter.widgets.clean_forms import OpForm
from astralytiq_jupyter.widgets.clean_steps import Entry, History

from ..core.test_recipes import CASES, CUSTOMERS, frame
from ..server_extension.live import WorkspaceFactory
from .conftest import SAMPLE

# --- the op registry: every op has a usable form ------------------------------------------------


def _cols(form: OpForm, param: str, *names: str) -> None:
    form.fields[param].tags.value = list(names)


def _pick(form: OpForm, param: str, value: object) -> None:
    form.fields[param].dropdown.value = value


def _type(form: OpForm, param: str, text: str) -> None:
    form.fields[param].text.value = text


def _rename(form: OpForm) -> None:
    field = form.fields["mapping"]
    field.rows[0].column.value, field.rows[0].new.value = "price", "prix"
    second = field.add_row()
    second.column.value, second.new.value = "name", "full name"


def _filter(form: OpForm) -> None:
    field = form.fields["conditions"]
    first = field.rows[0]
    first.column.value, first.operator.value, first.value.value = "price", ">", "15"
    second = field.add_row()
    second.column.value, second.operator.value = "city", "in"
    second.values.value = ["Paris", "Oslo"]
    third = field.add_row()
    third.column.value, third.operator.value = "qty", "between"
    third.value.value, third.high.value = "1", "4"
    _pick(form, "combine", "any")


def _sort(form: OpForm) -> None:
    field = form.fields["columns"]
    field.rows[0].column.value = "city"
    second = field.add_row()
    second.column.value, second.order.value = "price", True


def _arithmetic(form: OpForm) -> None:
    _type(form, "output", "double")
    form.fields["left"].column.value = "price"
    _pick(form, "operator", "*")
    form.fields["right"].mode.value = "number"
    form.fields["right"].number.value = "2"


def _conditional(form: OpForm) -> None:
    _type(form, "output", "band")
    case = form.fields["cases"].rows[0]
    cond = case.when.rows[0]
    cond.column.value, cond.operator.value, cond.value.value = "price", ">=", "100"
    case.value.value = "high"
    second = form.fields["cases"].add_row()
    other = second.when.rows[0]
    other.column.value, other.operator.value, other.value.value = "name", "contains", "o"
    other.ignore_case.value = True
    second.value.value = "has an o"
    _type(form, "default", "low")


def _group_by(form: OpForm) -> None:
    _cols(form, "by", "city")
    field = form.fields["aggregations"]
    field.rows[0].function.value, field.rows[0].column.value = "mean", "price"
    field.rows[0].output.value = "avg price"
    field.add_row().function.value = "count_rows"


def _join(form: OpForm) -> None:
    field = form.fields["dataset"]
    field.picker.select("customers")
    field.mode.value = "pairs"
    field.pairs[0].left.value, field.pairs[0].right.value = "qty", "id"
    _pick(form, "how", "inner")


def _tree(widget) -> list:
    """A widget and every widget inside it (accordions and boxes included)."""
    out, stack = [], [widget]
    while stack:
        w = stack.pop()
        out.append(w)
        stack.extend(getattr(w, "children", ()))
    return out


# How a person fills each op's form. The test below fails when an op is added without an
# entry here, so every op keeps a form that is proven to produce a valid step.
FILL: dict[str, Callable[[OpForm], None]] = {
    "drop_missing": lambda f: _cols(f, "columns", "price"),
    "fill_missing": lambda f: (
        _cols(f, "columns", "price"),
        _pick(f, "strategy", "constant"),
        _type(f, "value", "0"),
    ),
    "drop_duplicates": lambda f: (_cols(f, "columns", "city"), _pick(f, "keep", "last")),
    "outliers": lambda f: (_cols(f, "columns", "price"), _pick(f, "action", "clip")),
    "text_case": lambda f: (_cols(f, "columns", "name"), _pick(f, "case", "upper")),
    "trim": lambda f: _cols(f, "columns", "name"),
    "collapse_spaces": lambda f: _cols(f, "columns", "name"),
    "remove_characters": lambda f: (
        _cols(f, "columns", "name"),
        setattr(f.fields["classes"].tags, "value", ["digits", "punctuation"]),
    ),
    "find_replace": lambda f: (
        _cols(f, "columns", "name"),
        _type(f, "find", "BOB"),
        _type(f, "replace", "Bob"),
    ),
    "to_number": lambda f: (_cols(f, "columns", "amount_text"), _type(f, "thousands", ",")),
    "to_datetime": lambda f: (_cols(f, "columns", "when_text"), _type(f, "format", "%Y-%m-%d")),
    "to_category": lambda f: (
        _cols(f, "columns", "city"),
        setattr(f.fields["categories"].tags, "value", ["Paris", "Oslo"]),
        setattr(f.fields["ordered"].check, "value", True),
    ),
    "to_boolean": lambda f: _cols(f, "columns", "yes_no"),
    "to_text": lambda f: _cols(f, "columns", "price"),
    "rename_columns": _rename,
    "drop_columns": lambda f: _cols(f, "columns", "notes", "empty"),
    "select_columns": lambda f: _cols(f, "columns", "name", "id"),
    "reorder_columns": lambda f: (_cols(f, "columns", "id"), _pick(f, "position", "last")),
    "filter_rows": _filter,
    "sort_rows": _sort,
    "sample_rows": lambda f: _type(f, "n", "3"),
    "deduplicate": lambda f: (_cols(f, "keys", "city"), _pick(f, "order_by", "price")),
    "arithmetic": _arithmetic,
    "date_part": lambda f: (_pick(f, "column", "ts"), _pick(f, "part", "month")),
    "conditional": _conditional,
    "concatenate": lambda f: (_cols(f, "columns", "name", "city"), _type(f, "output", "label")),
    "bin": lambda f: (_pick(f, "column", "price"), _type(f, "bins", "3")),
    "scale": lambda f: (_cols(f, "columns", "price"), _pick(f, "method", "zscore")),
    "group_by": _group_by,
    "pivot": lambda f: (
        _cols(f, "index", "flag"),
        _pick(f, "columns", "city"),
        _pick(f, "values", "price"),
    ),
    "join": _join,
}


def test_every_op_has_a_form_that_produces_a_valid_step(ws: Workspace) -> None:
    ws.datasets.save(CUSTOMERS, "customers")
    data = frame()
    schema = schema_of(data)

    def right(ref: str) -> dict[str, str]:
        return ws.datasets.get(ref).schema

    assert set(FILL) == set(OPS), "every op of the registry needs a tested form"
    for name in OPS:
        form = OpForm(name, schema, ws=ws)
        assert form.json_only == [], f"{name}: a parameter can only be typed as JSON"
        assert not any(isinstance(f, JsonField) for f in form.unique)
        FILL[name](form)
        layouts = [w.layout.model_id for w in _tree(form) if hasattr(w, "layout")]
        assert len(layouts) == len(set(layouts)), f"{name}: widgets share a layout"
        step, problem = form.check()
        assert problem == "" and step is not None, f"{name}: {problem}"
        assert step["op"] == name and form.error.value == ""
        recipe = Recipe.from_json([step])
        recipe.validate(schema, datasets=right)
        out = recipe.apply(data, datasets=lambda ref: ws.datasets.load(ref))
        assert isinstance(out, pd.DataFrame), name
        assert form.summary.value  # the sentence of what the step will do


def test_filled_forms_give_the_steps_a_person_means(ws: Workspace) -> None:
    ws.datasets.save(CUSTOMERS, "customers")
    schema = schema_of(frame())
    built = {}
    for name in ("filter_rows", "sort_rows", "conditional", "join", "rename_columns"):
        form = OpForm(name, schema, ws=ws)
        FILL[name](form)
        built[name] = form.step()
    assert built["filter_rows"] == {
        "op": "filter_rows",
        "conditions": [
            {"column": "price", "op": ">", "value": 15},
            {"column": "city", "op": "in", "value": ["Paris", "Oslo"]},
            {"column": "qty", "op": "between", "value": [1, 4]},
        ],
        "combine": "any",
    }
    assert built["sort_rows"] == {
        "op": "sort_rows",
        "columns": ["city", "price"],
        "descending": [False, True],
    }
    assert built["conditional"]["cases"][1] == {
        "when": [{"column": "name", "op": "contains", "value": "o", "case_sensitive": False}],
        "value": "has an o",
    }
    assert built["join"] == {
        "op": "join",
        "dataset": "customers",
        "left_on": ["qty"],
        "right_on": ["id"],
        "how": "inner",
    }
    assert built["rename_columns"]["mapping"] == {"price": "prix", "name": "full name"}


def test_every_catalogue_example_round_trips_through_its_form(ws: Workspace) -> None:
    """Each example step of the recipe tests, shown in its form for editing, reads back as
    the same step (so editing a step and saving it unchanged changes nothing), also when the
    form showed another step before."""
    ws.datasets.save(CUSTOMERS, "customers")
    schema = schema_of(frame())
    assert set(CASES) == set(OPS)
    for name, steps in CASES.items():
        form = OpForm(name, schema, ws=ws)  # one form: each step loads over the one before
        for step in steps:
            form.load(step)
            got = form.step()
            assert parse_step(got).to_json() == parse_step(step).to_json(), (step, got)


def test_forms_offer_the_columns_each_step_sees_and_say_what_is_wrong() -> None:
    form = OpForm("fill_missing", {"price": "float64", "name": "str"})
    assert form.check() == (None, "To add this step, fill in “Columns”.")
    assert "aq-muted" in form.error.value  # a hint, not an alarm, while it is empty
    assert form.fields["columns"].tags.allowed_tags == ["price", "name"]
    form.fields["columns"].tags.value = ["price"]
    form.fields["strategy"].dropdown.value = "constant"
    assert form.fields["value"].kind.value == "number"  # typed like the column
    form.fields["value"].text.value = "zero"
    assert form.check()[1] == "“Value” must be a number, not 'zero'"
    assert "aq-status-error" in form.error.value
    form.fields["value"].text.value = "0"
    assert form.check() == (
        {"op": "fill_missing", "columns": ["price"], "strategy": "constant", "value": 0},
        "",
    )
    # the advanced JSON box is there too, and checks what is typed into it
    form.json.value = '{"op": "fill_missing", "columns": ["name"], "strategy": "mode"}'
    form.use_json.click()
    assert form.step() == {"op": "fill_missing", "columns": ["name"], "strategy": "mode"}
    form.json.value = '{"op": "trim"}'
    form.use_json.click()
    assert "one step like" in form.error.value


def test_history_undo_redo_and_a_new_change_drops_the_redo() -> None:
    a, b = Entry.of({"op": "drop_duplicates"}), Entry.of({"op": "trim", "columns": ["x"]})
    h = History()
    assert h.change([a], "add a") and not h.change([a], "nothing")
    h.change([a, b], "add b")
    assert h.undo() == "add b" and h.state == (a,)
    assert h.redo() == "add b" and h.state == (a, b)
    h.undo()
    h.change([b], "other")
    assert not h.can_redo and h.undo_label == "other"
    assert h.undo() == "other" and h.undo() == "add a" and h.state == () and h.undo() is None


# --- the wizard on both backends -------------------------------------------------------------


@pytest.fixture
def sales_csv(tmp_path: Path) -> Path:
    """The first 400 rows of the sample sales data (missing discounts and channels)."""
    path = tmp_path / "sales.csv"
    lines = SAMPLE.read_text().splitlines()
    path.write_text("\n".join(lines[:401]) + "\n")
    return path


def _add(wizard: CleanWizard, op: str, fill: Callable[[OpForm], None]) -> None:
    wizard.op_buttons[op].click()
    assert wizard.form is not None and wizard.form.op == op
    fill(wizard.form)
    assert not wizard.apply_button.disabled, wizard.form.error.value
    wizard.apply_button.click()
    assert wizard.form is None


def test_full_flow_on_both_backends(both: WorkspaceFactory, sales_csv: Path) -> None:
    ws = both("alice", Role.ANALYST)
    ws.datasets.ingest(sales_csv, name="sales")
    wizard = CleanWizard("sales@1", ws, background=False)
    assert wizard.ref == "sales@1" and wizard.preview.mode == "data"
    assert "400 rows" in wizard.preview.caption.value
    # quality suggestions from the profile, one click to add
    fixes = wizard.suggestions.cards
    assert any(card.suggestion["op"] == "fill_missing" for card in fixes)
    states = [wizard.entries]

    # 1. fill missing discounts with 0, previewed before it is added
    wizard.op_buttons["fill_missing"].click()
    form = wizard.form
    _cols(form, "columns", "discount")
    _pick(form, "strategy", "constant")
    _type(form, "value", "0")
    assert wizard.preview.mode == "step" and wizard.entries == states[0]  # not added yet
    assert "1 column changed (discount)" in wizard.preview.caption.value
    assert "aq-changed" in wizard.preview.table.grid.value  # the filled cells
    wizard.apply_button.click()
    states.append(wizard.entries)
    # 2. drop a column
    _add(wizard, "drop_columns", lambda f: _cols(f, "columns", "channel"))
    states.append(wizard.entries)
    assert "1 column removed (channel)" in wizard.preview.caption.value
    assert "aq-removed" in wizard.preview.table.grid.value
    # 3. filter rows
    _add(
        wizard,
        "filter_rows",
        lambda f: (
            setattr(f.fields["conditions"].rows[0].column, "value", "units"),
            setattr(f.fields["conditions"].rows[0].operator, "value", ">"),
            setattr(f.fields["conditions"].rows[0].value, "value", "15"),
        ),
    )
    states.append(wizard.entries)
    report = wizard.preview.report
    removed = report.rows_before - report.rows_after
    assert removed > 0 and f"{removed} rows removed" in wizard.preview.caption.value
    # each step of the list says what it did on the preview rows
    assert set(wizard.effects) == {0, 1, 2}
    assert f"{removed} rows removed" in wizard.steps.rows[2].text.value
    assert "1 column removed" in wizard.steps.rows[1].text.value
    assert [e.step["op"] for e in wizard.entries] == ["fill_missing", "drop_columns", "filter_rows"]
    # reorder: the filter first
    wizard.steps.rows[2].up.click()
    states.append(wizard.entries)
    wizard.steps.rows[1].up.click()
    states.append(wizard.entries)
    assert [e.step["op"] for e in wizard.entries] == ["filter_rows", "fill_missing", "drop_columns"]
    # switch the column drop off: not in the recipe, still in the list
    wizard.steps.rows[2].enabled.value = False
    states.append(wizard.entries)
    assert [s["op"] for s in wizard.recipe_steps] == ["filter_rows", "fill_missing"]
    pandas_code = wizard.code.code.split("# The same with AstralytiQ")[0]
    assert "df.drop(columns=" not in pandas_code and "# Step 2: Fill missing" in pandas_code
    # undo everything, then redo everything: the recipe round-trips exactly
    for expected in reversed(states[:-1]):
        wizard.undo_button.click()
        assert wizard.entries == expected
    assert wizard.undo_button.disabled and wizard.entries == ()
    for expected in states[1:]:
        wizard.redo_button.click()
        assert wizard.entries == expected
    assert wizard.redo_button.disabled
    steps = wizard.recipe_steps
    assert "df['discount'] = df['discount'].fillna(value)" in wizard.code.code

    # save as a new version with lineage
    wizard.save_name.value = "sales-clean"
    wizard.save_button.click()
    wizard.wait()
    saved = wizard.last_saved
    assert saved is not None and saved.ref == "sales-clean@1", wizard.status.text
    assert wizard.status.text.startswith("✓ Saved sales-clean@1")
    stored = ws.datasets.get("sales-clean@1")
    assert stored.parent == "sales@1"
    assert Recipe.from_json(stored.recipe) == Recipe.from_json(steps)
    expected = Recipe.from_json(steps).apply(ws.datasets.load("sales@1"))
    got = ws.datasets.load("sales-clean@1")
    assert list(got.columns) == list(expected.columns) and len(got) == len(expected)
    assert got["discount"].isna().sum() == 0 and (got["units"] > 15).all()
    pd.testing.assert_frame_equal(got, expected, check_dtype=False)

    # save the recipe by name, then replay it on another version
    wizard.recipe_name.value = "monthly-clean"
    wizard.recipe_description.value = "fill discounts, keep big orders"
    wizard.save_recipe_button.click()
    wizard.wait()
    assert Recipe.from_json(ws.recipes.get("monthly-clean").steps) == Recipe.from_json(steps)
    lines = SAMPLE.read_text().splitlines()
    next_month = sales_csv.with_name("next.csv")
    next_month.write_text("\n".join([lines[0], *lines[401:851]]) + "\n")
    ws.datasets.ingest(next_month, name="sales")  # sales@2: 450 other rows
    other = CleanWizard("sales@2", ws, background=False)
    assert other.entries == ()
    other.refresh_recipes()
    other.saved_recipes.value = "monthly-clean"
    other.load_recipe_button.click()
    assert other.recipe_steps == ws.recipes.get("monthly-clean").steps
    other.save_name.value = "sales-clean"
    other.save_button.click()
    other.wait()
    replayed = ws.datasets.get("sales-clean@2")
    assert replayed.parent == "sales@2" and other.last_saved.ref == "sales-clean@2"
    assert Recipe.from_json(replayed.recipe) == Recipe.from_json(steps)
    assert replayed.rows == len(Recipe.from_json(steps).apply(ws.datasets.load("sales@2")))


def test_a_viewer_previews_but_cannot_save(both: WorkspaceFactory, sales_csv: Path) -> None:
    both("alice", Role.ANALYST).datasets.ingest(sales_csv, name="sales")
    viewer = both("val", Role.VIEWER)
    wizard = CleanWizard("sales", viewer, background=False)
    assert wizard.save_button.disabled and wizard.save_recipe_button.disabled
    assert "viewer" in wizard.save_reason.value and "viewer" in wizard.recipe_reason.value
    _add(wizard, "drop_duplicates", lambda f: None)
    assert wizard.preview.mode == "step"  # previews are reading
    wizard.save_version()
    assert "cannot save" in wizard.status.text
    wizard.save_recipe()
    assert "cannot save" in wizard.status.text
    assert [v.version for v in viewer.datasets.versions("sales")] == [1]
    assert viewer.recipes.list() == []


def test_step_problems_show_next_to_the_step_and_block_saving(ws: Workspace, sales) -> None:
    wizard = CleanWizard(sales.ref, ws, background=False)
    wizard.add_step({"op": "fill_missing", "columns": ["channel"], "strategy": "mode"})
    wizard.add_step({"op": "drop_columns", "columns": ["channel"]})
    assert wizard.problems == {}
    wizard.steps.rows[1].up.click()  # now the fill reads a column already dropped
    assert list(wizard.problems) == [1]
    row = wizard.steps.rows[1]
    assert "column 'channel' does not exist" in row.problem
    assert "aq-step-problem" in row.text.value
    wizard.save_version()
    assert wizard.status.text.startswith("⚠ Step 2 has a problem: column 'channel'")
    assert [v.name for v in ws.datasets.list()] == ["sales"]
    # the form of a later step offers the columns it sees
    wizard.steps.rows[1].enabled.value = False
    assert wizard.problems == {}
    form = wizard.choose("fill_missing")
    assert "channel" not in form.fields["columns"].tags.allowed_tags
    assert "discount" in form.fields["columns"].tags.allowed_tags
    form.fields["columns"].tags.value = ["revenue"]
    form.fields["strategy"].dropdown.value = "mean"
    assert not wizard.apply_button.disabled


def test_edit_receive_suggestions_and_bad_steps(ws: Workspace, sales) -> None:
    wizard = CleanWizard(ws, background=False)  # as the app builds it
    wizard.receive(ref=sales.ref, step={"op": "drop_duplicates"})
    assert wizard.ref == sales.ref and wizard.recipe_steps == [{"op": "drop_duplicates"}]
    assert wizard.status.text.startswith("✓ Added step 1")
    assert not wizard.add_step({"op": "drop_columns"})
    assert "cannot be added" in wizard.status.text and len(wizard.entries) == 1
    card = next(c for c in wizard.suggestions.cards if c.suggestion["op"] == "fill_missing")
    card.button.click()
    assert wizard.recipe_steps[-1] == card.suggestion and card.button.disabled
    # edit the fill: a constant instead
    wizard.steps.rows[1].edit.click()
    form = wizard.form
    assert form is not None and wizard.apply_button.description == "Update step"
    assert form.step() == card.suggestion
    form.fields["strategy"].dropdown.value = "constant"
    assert form.fields["value"].kind.value == "number"  # typed like the discount column
    form.fields["value"].text.value = "0"
    wizard.apply_button.click()
    assert wizard.recipe_steps[1]["strategy"] == "constant" and len(wizard.entries) == 2
    wizard.undo_button.click()
    assert wizard.recipe_steps[1] == card.suggestion
    wizard.steps.rows[0].delete.click()
    assert [s["op"] for s in wizard.recipe_steps] == ["fill_missing"]
    # a step selected in the list previews before and after
    wizard.steps.rows[0].view.click()
    assert wizard.preview.mode == "step" and wizard.preview.side.layout.display is None
    wizard.preview.side.value = "Before"
    assert "aq-changed" in wizard.preview.table.grid.value  # the column about to change


def test_background_previews_and_the_empty_state(ws: Workspace, sales) -> None:
    wizard = CleanWizard(sales.ref, ws)  # previews and the profile in threads
    form = wizard.choose("text_case")
    form.fields["columns"].tags.value = ["region"]
    form.fields["case"].dropdown.value = "upper"
    wizard.wait()
    assert wizard.preview.mode == "step" and "EAST" in wizard.preview.table.grid.value
    assert wizard.suggestions.cards


def test_the_grid_shows_before_the_profile_starts_and_fixes_follow(
    ws: Workspace, sales, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The profile behind the suggested fixes reads every row: it starts only once the grid
    shows the version (it no longer competes with the preview), and the fixes appear when it
    is done, with the suggestions area showing progress meanwhile."""
    read, profile = ws.datasets.load, ws.datasets.profile
    order: list[str] = []
    started, release = threading.Event(), threading.Event()

    def reading(*args: object, **kwargs: object) -> pd.DataFrame:
        rows = read(*args, **kwargs)
        order.append("rows read")
        return rows

    def profiling(ref: str, **options: object) -> object:
        order.append("profile")
        started.set()
        assert release.wait(60)
        return profile(ref, **options)

    monkeypatch.setattr(ws.datasets, "load", reading)
    monkeypatch.setattr(ws.datasets, "profile", profiling)
    wizard = CleanWizard(sales.ref, ws)  # previews and the profile in threads
    assert started.wait(60)
    assert order[0] == "rows read" and "profile" in order  # the grid's page came first
    assert "East" in wizard.preview.table.grid.value  # on screen while the profile runs
    assert wizard.suggestions.busy and not wizard.suggestions.cards
    note = wizard.suggestions.children[0].value
    assert f"Looking for quality issues in {sales.rows:,} rows" in note
    release.set()
    wizard.wait()
    assert order.count("profile") == 1  # once, whatever redraws opening the wizard made
    assert not wizard.suggestions.busy and wizard.issues
    assert any(card.suggestion["op"] == "fill_missing" for card in wizard.suggestions.cards)


def test_clean_reuses_the_profile_explore_computed(ws: Workspace, sales, store) -> None:
    from astralytiq_jupyter.widgets.explore import ExploreWizard

    explore = ExploreWizard(sales.ref, ws, background=False)
    computed = store.datasets.profiles.computed
    clean = CleanWizard(sales.ref, ws, background=False)
    assert store.datasets.profiles.computed == computed  # served from the cache
    fixes = [card.suggestion for card in clean.suggestions.cards]
    assert fixes and fixes == [i.suggestion for i in explore.profile.issues][: len(fixes)]


def test_an_empty_store_says_what_to_do(store) -> None:
    from ..conftest import workspace_for

    ws = workspace_for(store, "empty", "eve", Role.ANALYST)
    opened = []
    wizard = CleanWizard(ws, background=False, navigate=lambda section, **c: opened.append(section))
    assert wizard.ref is None and wizard.main.layout.display == "none"
    assert wizard.empty.layout.display is None
    wizard.empty.children[1].children[0].click()
    assert opened == ["upload"]


def test_explore_fixes_arrive_in_the_apps_clean_section(ws: Workspace, sales) -> None:
    from astralytiq_jupyter.widgets.app import App

    app = App(ws, background=False)
    explore = app.show("explore", ref=sales.ref)
    issue = next(i for i in ws.datasets.profile(sales.ref).issues if i.suggestion)
    explore.navigate("clean", ref=sales.ref, step=dict(issue.suggestion))
    clean = app.views["clean"]
    assert isinstance(clean, CleanWizard) and app.current == "clean"
    assert clean.ref == sales.ref and clean.recipe_steps == [issue.suggestion]
    clean.save_name.value = "sales-fixed"
    clean.save_button.click()
    clean.wait()
    assert ws.datasets.get("sales-fixed").parent == sales.ref
    actions = dict(_actions(clean))  # "Train a model" too, once the app has a Train section
    assert set(actions) >= {"Open in Explore", "Clean it further"}
    actions["Open in Explore"].click()
    assert app.current == "explore" and explore.version.ref == "sales-fixed@1"


def _actions(wizard: CleanWizard) -> list[tuple[str, object]]:
    return [(b.description, b) for b in wizard.status.actions.children]
