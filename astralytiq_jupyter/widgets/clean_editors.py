"""Editors of the structured recipe parameters, so that no op needs JSON typed by hand:
filter conditions (column / operator / value rows), if/then cases, group-by summaries, column
renames, calculation operands, sort keys and the keys of a join with another dataset."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

import ipywidgets as W

from ..core.recipe_base import Schema
from ..core.recipe_conditions import OPERATORS, WORDS
from ..core.recipe_ops_reshape import AGGREGATIONS
from . import format as fmt
from .clean_fields import (
    VALUE_KINDS,
    Field,
    FieldError,
    column_options,
    full,
    kind_of_value,
    parse_number,
    parse_value,
    show_value,
    value_kind,
)

if TYPE_CHECKING:
    from ..client.workspace import Workspace

__all__ = [
    "AggregationsField",
    "CasesField",
    "ConditionsField",
    "JoinField",
    "MappingField",
    "OperandField",
    "SortField",
]

_NO_VALUE = ("is missing", "is not missing")
_LISTS = ("in", "not in")
_TEXT_ONLY = ("contains", "starts with")
_AGG_WORDS = {
    "count": "count of values",
    "nunique": "distinct values",
    "sum": "sum",
    "mean": "mean",
    "median": "median",
    "std": "standard deviation",
    "var": "variance",
    "min": "minimum",
    "max": "maximum",
    "first": "first value",
    "last": "last value",
    "count_rows": "number of rows",
}


def _small_button(icon: str, tooltip: str) -> W.Button:
    return W.Button(
        icon=icon, tooltip=tooltip, layout=W.Layout(width="32px", min_width="32px", padding="0")
    )


def _column_dropdown(schema: Schema, value: str | None = None) -> W.Dropdown:
    options = [("column…", ""), *column_options(schema)]
    if value and value not in schema:
        options.append((f"{value} · not available here", value))
    return W.Dropdown(
        options=options,
        value=value or "",
        layout=W.Layout(flex="1 1 auto", width="auto", min_width="0"),
    )


def _refresh_columns(dropdown: W.Dropdown, schema: Schema) -> None:
    current = dropdown.value
    options = [("column…", ""), *column_options(schema)]
    if current and current not in schema:
        options.append((f"{current} · not available here", current))
    dropdown.options = options
    dropdown.value = current


class _Rows(Field):
    """A list of rows with add and remove buttons (at least ``minimum`` rows)."""

    add_label = "Add"
    minimum = 1

    def __init__(self, name: str, spec: Mapping[str, Any], label: str) -> None:
        super().__init__(name, spec, label)
        self.rows: list[Any] = []
        self.list = W.VBox()
        self.add_button = W.Button(
            description=self.add_label, icon="plus", layout=W.Layout(width="auto")
        )
        self.add_button.on_click(lambda _b: self.add_row())
        self.widget = self._box(self.list, self.add_button)
        self._reset(0)

    def new_row(self) -> Any:
        raise NotImplementedError

    def add_row(self) -> Any:
        row = self.new_row()
        row.remove.on_click(lambda _b, r=row: self.remove_row(r))
        self.rows.append(row)
        self._render()
        self.changed()
        return row

    def remove_row(self, row: Any) -> None:
        if row in self.rows and len(self.rows) > self.minimum:
            self.rows.remove(row)
            self._render()
            self.changed()

    def _render(self) -> None:
        self.list.children = tuple(r.box for r in self.rows)
        for r in self.rows:
            r.remove.disabled = len(self.rows) <= self.minimum

    def _reset(self, count: int) -> None:
        self.rows = []
        for _ in range(max(count, self.minimum)):
            row = self.new_row()
            row.remove.on_click(lambda _b, r=row: self.remove_row(r))
            self.rows.append(row)
        self._render()

    def set_schema(self, schema: Schema) -> None:
        super().set_schema(schema)
        for row in self.rows:
            row.set_schema(schema)


# --- conditions ------------------------------------------------------------------------------


class ConditionRow:
    """``column  operator  value`` (the value box follows the operator: none, one, two, a list)."""

    def __init__(self, schema: Schema, on_change: Callable[[], None]) -> None:
        self.schema = schema
        self.column = _column_dropdown(schema)
        self.operator = W.Dropdown(
            options=[(WORDS[o], o) for o in OPERATORS], value="==", layout=W.Layout(width="42%")
        )
        self.value = W.Text(placeholder="value", continuous_update=False, layout=W.Layout(flex="1"))
        self.high = W.Text(placeholder="and", continuous_update=False, layout=W.Layout(flex="1"))
        self.values = W.TagsInput(value=[], allow_duplicates=False, layout=full())
        self.ignore_case = W.Checkbox(value=False, description="ignore case", indent=False)
        self.remove = _small_button("trash", "Remove this condition")
        for control in (self.column, self.operator, self.value, self.high, self.values):
            control.observe(lambda _c: on_change(), names="value")
        self.ignore_case.observe(lambda _c: on_change(), names="value")
        self.operator.observe(lambda _c: self._show(), names="value")
        self.box = W.VBox(
            [
                W.HBox([self.column, self.operator, self.remove], layout=full()),
                W.HBox([self.value, self.high], layout=full()),
                self.values,
                self.ignore_case,
            ],
            layout=W.Layout(border_bottom="1px solid #eceff3", padding="2px 0 4px 0"),
        )
        self._show()

    def _show(self) -> None:
        op = self.operator.value
        self.value.layout.display = "none" if op in _NO_VALUE + _LISTS else None
        self.high.layout.display = None if op == "between" else "none"
        self.value.placeholder = "from" if op == "between" else "value"
        self.values.layout.display = None if op in _LISTS else "none"
        self.ignore_case.layout.display = None if op in _TEXT_ONLY else "none"

    def set_schema(self, schema: Schema) -> None:
        self.schema = schema
        _refresh_columns(self.column, schema)

    def kind(self) -> str:
        return value_kind(self.schema.get(self.column.value))

    def get(self) -> dict[str, Any]:
        column, op = self.column.value, self.operator.value
        if not column:
            raise FieldError("choose the column of each condition")
        out: dict[str, Any] = {"column": column, "op": op}
        kind = "text" if op in _TEXT_ONLY else self.kind()
        what = f"the value compared with '{column}'"
        if op == "between":
            if not self.value.value.strip() or not self.high.value.strip():
                raise FieldError(f"'between' needs both ends for '{column}'")
            out["value"] = [
                parse_value(self.value.value, kind, what=what),
                parse_value(self.high.value, kind, what=what),
            ]
        elif op in _LISTS:
            if not self.values.value:
                raise FieldError(f"list the values for '{column}' (type one, press Enter)")
            out["value"] = [parse_value(v, kind, what=what) for v in self.values.value]
        elif op not in _NO_VALUE:
            if self.value.value == "":
                raise FieldError(f"type the value compared with '{column}'")
            out["value"] = parse_value(self.value.value, kind, what=what)
        if op in _TEXT_ONLY and self.ignore_case.value:
            out["case_sensitive"] = False
        return out

    def set(self, cond: Mapping[str, Any]) -> None:
        column = cond.get("column") or ""
        if column and column not in [v for _, v in self.column.options]:
            self.column.options = [*self.column.options, (f"{column} · not available here", column)]
        self.column.value = column
        self.operator.value = cond.get("op", "==")
        value = cond.get("value")
        if isinstance(value, list) and cond.get("op") == "between":
            self.value.value, self.high.value = show_value(value[0]), show_value(value[1])
        elif isinstance(value, list):
            self.values.value = [show_value(v) for v in value]
        else:
            self.value.value = show_value(value)
        self.ignore_case.value = cond.get("case_sensitive", True) is False


class ConditionsField(_Rows):
    """``filter_rows``' conditions: rows of column / operator / value."""

    add_label = "Add condition"

    def new_row(self) -> ConditionRow:
        return ConditionRow(self.schema, self.changed)

    def get(self) -> list[dict[str, Any]]:
        return [row.get() for row in self.rows]

    def set(self, value: Any) -> None:
        conditions = list(value or [])
        self._reset(len(conditions))
        for row, cond in zip(self.rows, conditions, strict=False):
            row.set(cond)


# --- if / then cases ---------------------------------------------------------------------------


class CaseRow:
    """One case of ``conditional``: its conditions, how they combine, and the value."""

    def __init__(
        self, schema: Schema, on_change: Callable[[], None], spec: Mapping[str, Any]
    ) -> None:
        self.when = ConditionsField("when", {"type": "list", "required": True}, "When")
        self.when.set_schema(schema)
        self.when.set(None)
        self.when.on_change(on_change)
        self.combine = W.Dropdown(
            options=[("all conditions hold", "all"), ("any condition holds", "any")],
            value="all",
            layout=full(),
        )
        self.kind = W.Dropdown(options=VALUE_KINDS, value="text", layout=W.Layout(width="110px"))
        self.value = W.Text(
            placeholder="then the value is…", continuous_update=False, layout=W.Layout(flex="1")
        )
        self.remove = _small_button("trash", "Remove this case")
        for control in (self.combine, self.kind, self.value):
            control.observe(lambda _c: on_change(), names="value")
        self.box = W.VBox(
            [
                self.when.widget,
                self.combine,
                W.HBox(
                    [W.HTML("<b>then</b>&nbsp;"), self.kind, self.value, self.remove], layout=full()
                ),
            ],
            layout=W.Layout(border="1px solid #dde1e6", padding="4px", margin="0 0 6px 0"),
        )

    def set_schema(self, schema: Schema) -> None:
        self.when.set_schema(schema)

    def get(self) -> dict[str, Any]:
        value = None if self.value.value == "" else parse_value(self.value.value, self.kind.value)
        case: dict[str, Any] = {"when": self.when.get(), "value": value}
        if self.combine.value != "all":
            case["combine"] = self.combine.value
        return case

    def set(self, case: Mapping[str, Any]) -> None:
        self.when.set(case.get("when"))
        self.combine.value = case.get("combine", "all")
        self.kind.value = kind_of_value(case.get("value"))
        self.value.value = show_value(case.get("value"))


class CasesField(_Rows):
    """``conditional``'s cases: the first matching case sets the value."""

    add_label = "Add case"

    def new_row(self) -> CaseRow:
        return CaseRow(self.schema, self.changed, self.spec)

    def get(self) -> list[dict[str, Any]]:
        return [row.get() for row in self.rows]

    def set(self, value: Any) -> None:
        cases = list(value or [])
        self._reset(len(cases))
        for row, case in zip(self.rows, cases, strict=False):
            row.set(case)


# --- group-by summaries --------------------------------------------------------------------------


class AggregationRow:
    """``function of column, named output``."""

    def __init__(self, schema: Schema, on_change: Callable[[], None]) -> None:
        self.function = W.Dropdown(
            options=[(_AGG_WORDS.get(f, f), f) for f in AGGREGATIONS],
            value="sum",
            layout=W.Layout(width="42%"),
        )
        self.column = _column_dropdown(schema)
        self.output = W.Text(
            placeholder="name (default: column_function)", continuous_update=False, layout=full()
        )
        self.remove = _small_button("trash", "Remove this summary")
        for control in (self.function, self.column, self.output):
            control.observe(lambda _c: on_change(), names="value")
        self.function.observe(lambda _c: self._show(), names="value")
        self.box = W.VBox(
            [W.HBox([self.function, self.column, self.remove], layout=full()), self.output],
            layout=W.Layout(border_bottom="1px solid #eceff3", padding="2px 0 4px 0"),
        )

    def _show(self) -> None:
        self.column.layout.display = "none" if self.function.value == "count_rows" else None

    def set_schema(self, schema: Schema) -> None:
        _refresh_columns(self.column, schema)

    def get(self) -> dict[str, Any]:
        fn = self.function.value
        agg: dict[str, Any] = {"function": fn}
        if fn != "count_rows":
            if not self.column.value:
                raise FieldError(f"choose the column to summarise with '{_AGG_WORDS[fn]}'")
            agg["column"] = self.column.value
        if self.output.value.strip():
            agg["output"] = self.output.value.strip()
        return agg

    def set(self, agg: Mapping[str, Any]) -> None:
        self.function.value = agg.get("function", "sum")
        column = agg.get("column") or ""
        if column and column not in [v for _, v in self.column.options]:
            self.column.options = [*self.column.options, (column, column)]
        self.column.value = column
        self.output.value = agg.get("output") or ""


class AggregationsField(_Rows):
    add_label = "Add summary"

    def new_row(self) -> AggregationRow:
        return AggregationRow(self.schema, self.changed)

    def get(self) -> list[dict[str, Any]]:
        return [row.get() for row in self.rows]

    def set(self, value: Any) -> None:
        aggs = list(value or [])
        self._reset(len(aggs))
        for row, agg in zip(self.rows, aggs, strict=False):
            row.set(agg)


# --- renames -------------------------------------------------------------------------------------


class RenameRow:
    def __init__(self, schema: Schema, on_change: Callable[[], None]) -> None:
        self.column = _column_dropdown(schema)
        self.new = W.Text(
            placeholder="new name", continuous_update=False, layout=W.Layout(flex="1")
        )
        self.remove = _small_button("trash", "Remove this rename")
        self.column.observe(lambda _c: on_change(), names="value")
        self.new.observe(lambda _c: on_change(), names="value")
        self.box = W.HBox(
            [self.column, W.HTML("&nbsp;→&nbsp;"), self.new, self.remove], layout=full()
        )

    def set_schema(self, schema: Schema) -> None:
        _refresh_columns(self.column, schema)


class MappingField(_Rows):
    """``rename_columns``: rows of column → new name."""

    add_label = "Rename another"

    def new_row(self) -> RenameRow:
        return RenameRow(self.schema, self.changed)

    def get(self) -> dict[str, str] | None:
        mapping: dict[str, str] = {}
        for row in self.rows:
            old, new = row.column.value, row.new.value.strip()
            if not old and not new:
                continue
            if not old or not new:
                raise FieldError("each rename needs a column and its new name")
            if old in mapping:
                raise FieldError(f"'{old}' is renamed twice")
            mapping[old] = new
        return mapping or None

    def set(self, value: Any) -> None:
        mapping = dict(value or {})
        self._reset(len(mapping))
        for row, (old, new) in zip(self.rows, mapping.items(), strict=False):
            if old not in [v for _, v in row.column.options]:
                row.column.options = [*row.column.options, (old, old)]
            row.column.value, row.new.value = old, new


# --- operands -----------------------------------------------------------------------------------


class OperandField(Field):
    """A side of a calculation: a column or a number."""

    def __init__(self, name: str, spec: Mapping[str, Any], label: str) -> None:
        super().__init__(name, spec, label)
        self.mode = W.ToggleButtons(
            options=["column", "number"], value="column", style={"button_width": "70px"}
        )
        self.column = _column_dropdown(self.schema)
        self.number = W.Text(placeholder="number", continuous_update=False, layout=full())
        for control in (self.mode, self.column, self.number):
            control.observe(self.changed, names="value")
        self.mode.observe(lambda _c: self._show(), names="value")
        self.widget = self._box(self.mode, self.column, self.number)
        self._show()

    def _show(self) -> None:
        column = self.mode.value == "column"
        self.column.layout.display = None if column else "none"
        self.number.layout.display = "none" if column else None

    def set_schema(self, schema: Schema) -> None:
        super().set_schema(schema)
        _refresh_columns(self.column, schema)

    def get(self) -> dict[str, Any] | None:
        if self.mode.value == "column":
            return {"column": self.column.value} if self.column.value else None
        if not self.number.value.strip():
            return None
        return {"value": parse_number(self.number.value, what=f"“{self.label}”")}

    def set(self, value: Any) -> None:
        value = value or {}
        if "value" in value:
            self.mode.value, self.number.value = "number", show_value(value["value"])
        else:
            column = value.get("column") or ""
            if column and column not in [v for _, v in self.column.options]:
                self.column.options = [*self.column.options, (column, column)]
            self.mode.value, self.column.value = "column", column


# --- sort keys -----------------------------------------------------------------------------------


class SortRow:
    def __init__(self, schema: Schema, on_change: Callable[[], None]) -> None:
        self.column = _column_dropdown(schema)
        self.order = W.ToggleButtons(
            options=[("↑ A-Z", False), ("↓ Z-A", True)], value=False, style={"button_width": "60px"}
        )
        self.remove = _small_button("trash", "Remove this sort key")
        self.column.observe(lambda _c: on_change(), names="value")
        self.order.observe(lambda _c: on_change(), names="value")
        self.box = W.HBox([self.column, self.order, self.remove], layout=full())

    def set_schema(self, schema: Schema) -> None:
        _refresh_columns(self.column, schema)


class SortField(_Rows):
    """``sort_rows``' columns and per-column direction, as rows of column + order."""

    add_label = "Then by"

    def __init__(self, name: str, spec: Mapping[str, Any], label: str) -> None:
        super().__init__(name, spec, label)
        self.params = ("columns", "descending")

    def new_row(self) -> SortRow:
        return SortRow(self.schema, self.changed)

    def get(self) -> Any:  # pragma: no cover - values() is the interface of a combined field
        return self.values()

    def values(self) -> dict[str, Any]:
        columns = [row.column.value for row in self.rows if row.column.value]
        flags = [row.order.value for row in self.rows if row.column.value]
        if not columns:
            return {"columns": None, "descending": None}
        if len(set(columns)) != len(columns):
            raise FieldError("each column can be a sort key once")
        descending: Any = flags[0] if len(set(flags)) == 1 else flags
        return {"columns": columns, "descending": descending}

    def load(self, step: Mapping[str, Any]) -> None:
        columns = list(step.get("columns") or [])
        flags = step.get("descending", False)
        flags = flags if isinstance(flags, list) else [bool(flags)] * len(columns)
        self._reset(len(columns))
        for row, column, flag in zip(self.rows, columns, flags, strict=False):
            if column not in [v for _, v in row.column.options]:
                row.column.options = [*row.column.options, (column, column)]
            row.column.value, row.order.value = column, flag

    def set(self, value: Any) -> None:  # pragma: no cover - load() is used
        self.load(value or {})


# --- join -----------------------------------------------------------------------------------------


class KeyRow:
    def __init__(self, left: Schema, right: Schema, on_change: Callable[[], None]) -> None:
        self.left = _column_dropdown(left)
        self.right = _column_dropdown(right)
        self.remove = _small_button("trash", "Remove this key")
        self.left.observe(lambda _c: on_change(), names="value")
        self.right.observe(lambda _c: on_change(), names="value")
        self.box = W.HBox(
            [self.left, W.HTML("&nbsp;=&nbsp;"), self.right, self.remove], layout=full()
        )


class JoinField(Field):
    """``join``'s dataset (picked from the tenant's datasets) and its key columns: the same
    names on both sides, or pairs of this data's column and the other dataset's column."""

    def __init__(
        self, name: str, spec: Mapping[str, Any], label: str, ws: Workspace | None
    ) -> None:
        super().__init__(name, spec, label)
        self.params = ("dataset", "on", "left_on", "right_on")
        self.ws = ws
        self.right_schema = Schema()
        self.problem = ""
        self.picker: Any = None
        if ws is not None:
            from .pickers import DatasetPicker

            self.picker = DatasetPicker(ws, label="Dataset")
            self.picker.on_change(lambda _ref: self._dataset_changed())
            chooser: W.Widget = self.picker
        else:
            self.dataset_text = W.Text(
                placeholder="dataset reference, e.g. customers@2",
                continuous_update=False,
                layout=full(),
            )
            self.dataset_text.observe(lambda _c: self._dataset_changed(), names="value")
            chooser = self.dataset_text
        self.mode = W.ToggleButtons(
            options=[("same column names", "same"), ("different names", "pairs")],
            value="same",
            style={"button_width": "130px"},
        )
        self.on = W.TagsInput(value=[], allowed_tags=[], allow_duplicates=False, layout=full())
        self.pairs: list[KeyRow] = []
        self.pair_list = W.VBox()
        self.add_pair = W.Button(description="Add key", icon="plus", layout=W.Layout(width="auto"))
        self.add_pair.on_click(lambda _b: self._add_pair())
        self.note = W.HTML()
        self.mode.observe(lambda _c: self._show(), names="value")
        self.mode.observe(self.changed, names="value")
        self.on.observe(self.changed, names="value")
        self.widget = W.VBox(
            [
                chooser,
                self.note,
                W.HTML('<div class="aq-field-label">Match rows on</div>'),
                self.mode,
                self.on,
                self.pair_list,
                self.add_pair,
            ]
        )
        self._add_pair(notify=False)
        self._dataset_changed(notify=False)
        self._show()

    @property
    def dataset(self) -> str | None:
        if self.picker is not None:
            return self.picker.ref
        return self.dataset_text.value.strip() or None

    def _dataset_changed(self, notify: bool = True) -> None:
        self.right_schema, self.problem = Schema(), ""
        ref = self.dataset
        if ref and self.ws is not None:
            try:
                self.right_schema = Schema(self.ws.datasets.get(ref).schema)
            except Exception as error:  # noqa: BLE001 - said next to the picker
                from .status import describe_error

                self.problem = describe_error(error)[0]
        self.note.value = (
            f'<span class="aq-status-error">{fmt.escape(self.problem)}</span>'
            if self.problem
            else (
                f'<span class="aq-muted">{fmt.escape(ref)}: '
                f"{fmt.escape(', '.join(list(self.right_schema)[:12]))}</span>"
                if ref and self.right_schema
                else ""
            )
        )
        self._refresh()
        if notify:
            self.changed()

    def _show(self) -> None:
        same = self.mode.value == "same"
        self.on.layout.display = None if same else "none"
        self.pair_list.layout.display = "none" if same else None
        self.add_pair.layout.display = "none" if same else None

    def _add_pair(self, notify: bool = True) -> KeyRow:
        row = KeyRow(self.schema, self.right_schema, self.changed)
        row.remove.on_click(lambda _b, r=row: self._remove_pair(r))
        self.pairs.append(row)
        self._render_pairs()
        if notify:
            self.changed()
        return row

    def _remove_pair(self, row: KeyRow) -> None:
        if row in self.pairs and len(self.pairs) > 1:
            self.pairs.remove(row)
            self._render_pairs()
            self.changed()

    def _render_pairs(self) -> None:
        self.pair_list.children = tuple(r.box for r in self.pairs)
        for r in self.pairs:
            r.remove.disabled = len(self.pairs) <= 1

    def _refresh(self) -> None:
        shared = [c for c in self.schema if c in self.right_schema]
        current = list(self.on.value)
        if self.schema.open or not self.right_schema:
            self.on.allowed_tags = []
        else:
            self.on.allowed_tags = shared + [c for c in current if c not in shared]
        for row in self.pairs:
            _refresh_columns(row.left, self.schema)
            _refresh_columns(row.right, self.right_schema)

    def set_schema(self, schema: Schema) -> None:
        super().set_schema(schema)
        self._refresh()

    def get(self) -> Any:  # pragma: no cover - values() is the interface of a combined field
        return self.values()

    def values(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "dataset": self.dataset,
            "on": None,
            "left_on": None,
            "right_on": None,
        }
        if self.mode.value == "same":
            out["on"] = list(self.on.value) or None
            return out
        pairs = [(r.left.value, r.right.value) for r in self.pairs if r.left.value or r.right.value]
        if any(not left or not right for left, right in pairs):
            raise FieldError("each key needs a column on both sides")
        if pairs:
            out["left_on"] = [left for left, _ in pairs]
            out["right_on"] = [right for _, right in pairs]
        return out

    def load(self, step: Mapping[str, Any]) -> None:
        ref = step.get("dataset")
        if ref:
            if self.picker is not None:
                self.picker.select(ref)
            else:
                self.dataset_text.value = ref
        if step.get("left_on"):
            self.mode.value = "pairs"
            self.pairs = []
            for left, right in zip(step["left_on"], step.get("right_on") or [], strict=False):
                row = self._add_pair(notify=False)
                for dropdown, value in ((row.left, left), (row.right, right)):
                    if value not in [v for _, v in dropdown.options]:
                        dropdown.options = [*dropdown.options, (value, value)]
                    dropdown.value = value
            if not self.pairs:
                self._add_pair(notify=False)
        else:
            self.mode.value = "same"
            on = list(step.get("on") or [])
            if self.on.allowed_tags:
                self.on.allowed_tags = [
                    *self.on.allowed_tags,
                    *(c for c in on if c not in self.on.allowed_tags),
                ]
            self.on.value = on

    def set(self, value: Any) -> None:  # pragma: no cover - load() is used
        self.load(value or {})
