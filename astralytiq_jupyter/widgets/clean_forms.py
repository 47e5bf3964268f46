"""Op forms of the Clean wizard, generated from the op catalogue (``core.recipes.op_catalog``):
every parameter gets a field for its type, structured parameters get their own editors, and
an "advanced" JSON box is there as well (never the only way). A form reads back a compact
step: parameters left at their defaults are left out."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from functools import lru_cache
from typing import TYPE_CHECKING, Any

import ipywidgets as W

from ..core.errors import AstralytiqError
from ..core.recipe_base import Schema
from ..core.recipe_ops import parse_step
from ..core.recipe_runtime import CHARACTER_CLASSES
from ..core.recipes import op_catalog
from . import format as fmt
from .clean_editors import (
    AggregationsField,
    CasesField,
    ConditionsField,
    JoinField,
    MappingField,
    OperandField,
    SortField,
)
from .clean_fields import (
    BoolField,
    ChoiceField,
    ColumnField,
    ColumnsField,
    Field,
    FieldError,
    Incomplete,
    JsonField,
    NumberField,
    TagsField,
    TextField,
    ValueField,
)

if TYPE_CHECKING:
    from ..client.workspace import Workspace

__all__ = ["OpForm", "catalog", "describe_step", "groups"]

#: Labels of parameters, by name; ``OP_LABELS`` overrides them where an op means more.
LABELS = {
    "columns": "Columns",
    "column": "Column",
    "strategy": "Fill with",
    "value": "Value",
    "axis": "Drop",
    "threshold": "Threshold",
    "keep": "Keep",
    "method": "Method",
    "action": "Action",
    "case": "Case",
    "side": "Side",
    "find": "Find",
    "replace": "Replace with",
    "match": "Match",
    "case_sensitive": "Case sensitive",
    "classes": "Characters to remove",
    "thousands": "Thousands separator",
    "decimal": "Decimal mark",
    "format": "Date format",
    "dayfirst": "Day comes first (31/12/2024)",
    "utc": "Convert to UTC",
    "unit": "Numbers count (since 1970-01-01)",
    "categories": "Categories",
    "ordered": "Ordered",
    "true_values": "Values meaning true",
    "false_values": "Values meaning false",
    "mapping": "Rename",
    "position": "Move to",
    "conditions": "Conditions",
    "combine": "Rows match when",
    "missing": "Missing values go",
    "n": "Number of rows",
    "fraction": "Share of rows (0 to 1)",
    "seed": "Random seed",
    "keys": "One row per",
    "order_by": "Decided by",
    "output": "New column",
    "left": "Left side",
    "operator": "Operator",
    "right": "Right side",
    "part": "Part",
    "reference": "Reference date",
    "cases": "Cases (the first that matches wins)",
    "default": "Otherwise",
    "separator": "Separator",
    "skip_missing": "Skip missing parts",
    "bins": "Number of bins",
    "edges": "Bin limits",
    "labels": "Bin labels",
    "by": "Group by",
    "aggregations": "Summaries",
    "index": "One row per",
    "values": "Values",
    "function": "Summary",
    "fill_value": "Fill empty cells with",
    "how": "Keep",
    "suffix": "Suffix for clashing names",
}
OP_LABELS = {
    ("drop_missing", "columns"): "Look only at columns",
    ("drop_duplicates", "columns"): "Compare only columns (default: all)",
    ("pivot", "columns"): "New columns from the values of",
    ("select_columns", "columns"): "Columns to keep, in order",
    ("sort_rows", "columns"): "Sort by",
    ("date_part", "column"): "Date column",
    ("bin", "column"): "Number column",
    ("concatenate", "columns"): "Columns to join",
}
CHOICE_LABELS: dict[tuple[str, str], dict[Any, str]] = {
    ("fill_missing", "strategy"): {
        "constant": "a value I type",
        "mean": "the mean",
        "median": "the median",
        "mode": "the most frequent value",
        "ffill": "the previous value",
        "bfill": "the next value",
        "interpolate": "interpolation",
    },
    ("drop_missing", "axis"): {
        "rows": "rows with missing values",
        "columns": "columns with missing values",
    },
    ("drop_duplicates", "keep"): {
        "first": "the first of each",
        "last": "the last of each",
        "none": "none of them",
    },
    ("outliers", "method"): {
        "iqr": "IQR (beyond the quartiles)",
        "zscore": "z-score",
        "modified_zscore": "modified z-score (median based)",
    },
    ("outliers", "action"): {"remove": "remove the rows", "clip": "clip to the limit"},
    ("filter_rows", "combine"): {"all": "all conditions hold", "any": "any condition holds"},
    ("filter_rows", "action"): {"keep": "keep matching rows", "remove": "remove matching rows"},
    ("join", "how"): {
        "left": "every row of this data",
        "inner": "only rows that match",
        "right": "every row of the other dataset",
        "outer": "all rows of both",
    },
    ("deduplicate", "keep"): {"highest": "the highest", "lowest": "the lowest"},
}


@lru_cache(maxsize=1)
def _catalog() -> dict[str, dict[str, Any]]:
    return {entry["op"]: entry for entry in op_catalog()}


def catalog() -> dict[str, dict[str, Any]]:
    """The op catalogue by op name (group, title, parameter specs)."""
    return _catalog()


def groups() -> dict[str, list[str]]:
    """Op names by group, in catalogue order."""
    out: dict[str, list[str]] = {}
    for name, entry in catalog().items():
        out.setdefault(entry["group"], []).append(name)
    return out


def describe_step(step: Mapping[str, Any]) -> str:
    """The step's sentence (its op's ``describe``), or why it is not a valid step."""
    try:
        return parse_step(dict(step)).describe()
    except AstralytiqError as error:
        return f"{step.get('op', '?')}: {error.message}"


def _label(op: str, param: str) -> str:
    return OP_LABELS.get((op, param)) or LABELS.get(param) or param.replace("_", " ").capitalize()


def _field_for(op: str, param: str, spec: dict[str, Any], ws: Workspace | None) -> Field:
    """The field of one parameter (structured ones have editors; JSON is the last resort)."""
    label, kind = _label(op, param), spec["type"]
    if (op, param) == ("filter_rows", "conditions"):
        return ConditionsField(param, spec, label)
    if (op, param) == ("conditional", "cases"):
        return CasesField(param, spec, label)
    if (op, param) == ("group_by", "aggregations"):
        return AggregationsField(param, spec, label)
    if (op, param) == ("remove_characters", "classes"):
        return TagsField(param, spec, label, allowed=CHARACTER_CLASSES)
    if spec.get("choices") is not None:
        return ChoiceField(param, spec, label, CHOICE_LABELS.get((op, param)))
    simple: dict[str, Callable[..., Field]] = {
        "column": ColumnField,
        "columns": ColumnsField,
        "name": TextField,
        "text": TextField,
        "integer": NumberField,
        "number": NumberField,
        "boolean": BoolField,
        "flags": BoolField,
        "scalar": ValueField,
        "scalars": TagsField,
        "numbers": TagsField,
        "texts": TagsField,
        "mapping": MappingField,
        "operand": OperandField,
    }
    if kind in simple:
        return simple[kind](param, spec, label)
    return JsonField(param, spec, label)


class OpForm(W.VBox):
    """The form of one op: its fields, a live sentence of what the step will do, an error
    line, and an advanced JSON box. ``step()`` reads a compact step (or raises
    :class:`FieldError` in plain words); ``load(step)`` shows one for editing."""

    def __init__(
        self,
        op: str,
        schema: Mapping[str, str] | None = None,
        *,
        ws: Workspace | None = None,
    ) -> None:
        if op not in catalog():
            raise KeyError(op)
        self.op = op
        self.entry = catalog()[op]
        self.specs: dict[str, dict[str, Any]] = self.entry["params"]
        self.fields: dict[str, Field] = {}
        self.unique: list[Field] = []
        self._callbacks: list[Callable[[], None]] = []
        self._quiet = False
        self.incomplete = False
        self.problem = ""
        params = list(self.specs)
        if op == "sort_rows":
            self._add(SortField("columns", self.specs["columns"], _label(op, "columns")))
        if op == "join":
            self._add(JoinField("dataset", self.specs["dataset"], "Dataset", ws))
        for param in params:
            if param not in self.fields:
                self._add(_field_for(op, param, self.specs[param], ws))
        #: parameters only a JSON box edits (none today; the op-registry test keeps it so)
        self.json_only = [f.name for f in self.unique if isinstance(f, JsonField)]
        self.summary = W.HTML()
        self.error = W.HTML()
        self.json = W.Textarea(layout=W.Layout(width="100%", height="110px"))
        self.use_json = W.Button(description="Use this JSON", layout=W.Layout(width="auto"))
        self.use_json.on_click(lambda _b: self._load_json())
        self.advanced = W.Accordion(
            children=[W.VBox([self.json, self.use_json])], selected_index=None
        )
        self.advanced.set_title(0, "Advanced: the step as JSON")
        title = W.HTML(
            f'<div class="aq-title">{fmt.escape(self.entry["title"])}</div>'
            f'<div class="aq-muted">{fmt.escape(self.entry["group"])}</div>'
        )
        super().__init__(
            [title, *[f.widget for f in self.unique], self.summary, self.error, self.advanced],
            layout=W.Layout(width="100%"),
        )
        self.add_class("aq-op-form")
        self.set_schema(Schema(schema or {}))
        self._refresh()

    def _add(self, field: Field) -> None:
        self.unique.append(field)
        for param in field.params:
            self.fields[param] = field
        field.on_change(self._changed)
        if isinstance(field, ColumnField | ColumnsField):
            field.on_change(self._hint_values)

    # -- reading and showing steps
    def step(self) -> dict[str, Any]:
        """The step the form describes, leaving out parameters at their defaults."""
        values: dict[str, Any] = {}
        for field in self.unique:
            values.update(field.values())
        step: dict[str, Any] = {"op": self.op}
        for param, spec in self.specs.items():
            value = values.get(param)
            if value is None:
                if spec.get("required"):
                    raise Incomplete(f"To add this step, fill in “{_label(self.op, param)}”.")
                continue
            default = spec.get("default")
            if not spec.get("required") and value == default and type(value) is type(default):
                continue
            step[param] = value
        return step

    def load(self, step: Mapping[str, Any]) -> None:
        """Show ``step`` (of this form's op) for editing."""
        if step.get("op") != self.op:
            raise ValueError(f"this is the form of {self.op!r}, not of {step.get('op')!r}")
        self._quiet = True
        try:
            for field in self.unique:
                field.load(step)
        finally:
            self._quiet = False
        self._hint_values(only_empty=True)
        self._changed()

    def check(self) -> tuple[dict[str, Any] | None, str]:
        """``(step, "")`` if the form holds a valid step, else ``(None, why)``."""
        self.incomplete = False
        try:
            step = self.step()
            parse_step(step)
        except Incomplete as error:
            self.incomplete = True
            return None, str(error)
        except FieldError as error:
            return None, str(error)
        except AstralytiqError as error:
            return None, error.message
        return step, ""

    def set_schema(self, schema: Schema) -> None:
        """The columns the step sees (the schema after the steps before it)."""
        self._quiet = True
        try:
            for field in self.unique:
                field.set_schema(schema)
        finally:
            self._quiet = False

    def on_change(self, callback: Callable[[], None]) -> None:
        self._callbacks.append(callback)

    def show_error(self, message: str) -> None:
        """The problem of the form (a muted hint while required values are still empty)."""
        if not message:
            self.error.value = ""
        elif self.incomplete:
            self.error.value = f'<div class="aq-muted">{fmt.escape(message)}</div>'
        else:
            self.error.value = f'<div class="aq-status-error">⚠ {fmt.escape(message)}</div>'
        self.problem = message

    # -- internals
    def _hint_values(self, only_empty: bool = False) -> None:
        """Type values like the column the step works on (a number for a number column)."""
        if self._quiet:
            return
        kinds = [
            f.kind for f in self.unique if isinstance(f, ColumnField | ColumnsField) and f.kind
        ]
        if not kinds:
            return
        for field in self.unique:
            typed = isinstance(field, ValueField) or (
                isinstance(field, TagsField) and field.item_kind is None
            )
            if typed and not (only_empty and not field.empty):  # type: ignore[union-attr]
                field.hint(kinds[0])  # type: ignore[union-attr]

    def _refresh(self) -> tuple[dict[str, Any] | None, str]:
        step, problem = self.check()
        if step is not None:
            self.summary.value = (
                f'<div class="aq-step-summary">{fmt.escape(describe_step(step))}</div>'
            )
            self.json.value = json.dumps(step, ensure_ascii=False, indent=1)
        else:
            self.summary.value = ""
        self.show_error(problem)
        return step, problem

    def _changed(self) -> None:
        if self._quiet:
            return
        self._refresh()
        for callback in list(self._callbacks):
            callback()

    def _load_json(self) -> None:
        try:
            step = json.loads(self.json.value)
        except json.JSONDecodeError as error:
            self.show_error(f"This is not valid JSON: {error.msg}")
            return
        if not isinstance(step, dict) or step.get("op") != self.op:
            self.show_error(f'The JSON must be one step like {{"op": "{self.op}", ...}}')
            return
        try:
            parse_step(step)
        except AstralytiqError as error:
            self.show_error(error.message)
            return
        self.load(step)
