"""Form fields of the Clean wizard, one kind per parameter type of the recipe op catalogue
(``core.recipe_base._CHECKS``): column pickers that offer the columns a step sees, number and
value boxes that read what people type, tag lists, and true/false boxes.

Every field has the same small interface: ``widget`` (what is shown), ``values()`` (the
parameters it sets, ``None`` for "not set"), ``load(step)`` (show a step's parameters),
``set_schema(schema)`` (the columns available at this step) and ``on_change(callback)``.
Structured parameters (conditions, aggregations, cases, renames, join keys) have their own
editors in :mod:`.clean_editors`.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import ipywidgets as W

from ..core.recipe_base import Schema, kind_of
from . import format as fmt

__all__ = [
    "Field",
    "FieldError",
    "Incomplete",
    "column_options",
    "parse_number",
    "parse_value",
    "value_kind",
]

#: What people type a value as; "date" values travel as ISO text.
VALUE_KINDS = ("text", "number", "true/false", "date")
_TRUE_WORDS = {"true", "yes", "y", "1", "t"}
_FALSE_WORDS = {"false", "no", "n", "0", "f"}


def full() -> W.Layout:
    """A full-width layout (each widget needs its own: a shared one would hide them all)."""
    return W.Layout(width="auto")  # stretched by the column it is in, margins included


class FieldError(ValueError):
    """A value a person typed that cannot be used, said in plain words."""


class Incomplete(FieldError):
    """A required value is not filled in yet (a hint, not an error)."""


def parse_number(text: str, *, integer: bool = False, what: str = "this") -> int | float:
    """``"12"`` -> 12, ``"1.5"`` -> 1.5 (whole numbers stay integers); plain words otherwise."""
    cleaned = text.strip().replace("\u2212", "-")
    try:
        if integer or not any(ch in cleaned for ch in ".eE"):
            return int(cleaned)
        number = float(cleaned)
    except ValueError:
        kind = "a whole number" if integer else "a number"
        raise FieldError(f"{what} must be {kind}, not {text.strip()!r}") from None
    if number != number or number in (float("inf"), float("-inf")):
        raise FieldError(f"{what} must be a finite number")
    return number


def parse_value(text: str, kind: str, *, what: str = "the value") -> Any:
    """A typed value of ``kind`` (one of :data:`VALUE_KINDS`)."""
    if kind == "number":
        return parse_number(text, what=what)
    if kind == "true/false":
        word = text.strip().lower()
        if word in _TRUE_WORDS:
            return True
        if word in _FALSE_WORDS:
            return False
        raise FieldError(f"{what} must be true or false, not {text.strip()!r}")
    if kind == "date":
        return text.strip()
    return text


def value_kind(dtype: str | None) -> str:
    """How values compared with (or put into) a column of ``dtype`` are typed."""
    kind = kind_of(dtype) if dtype else "text"
    return {"numeric": "number", "boolean": "true/false", "datetime": "date"}.get(kind, "text")


def kind_of_value(value: Any, hint: str = "text") -> str:
    if isinstance(value, bool):
        return "true/false"
    if isinstance(value, int | float):
        return "number"
    return "date" if hint == "date" else "text"


def show_value(value: Any) -> str:
    """A value as people type it back."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


_KIND_WORDS = {
    "numeric": "number",
    "boolean": "true/false",
    "datetime": "date",
    "timedelta": "duration",
    "text": "text",
    "category": "category",
    "other": "mixed",
}


def column_options(schema: Mapping[str, str]) -> list[tuple[str, str]]:
    """Dropdown options of a schema's columns: ``("price · number", "price")``."""
    return [(f"{name} · {_KIND_WORDS.get(kind_of(t), t)}", name) for name, t in schema.items()]


def label_html(text: str, help_text: str = "") -> W.HTML:
    tip = f'<div class="aq-muted aq-field-help">{fmt.escape(help_text)}</div>' if help_text else ""
    return W.HTML(f'<div class="aq-field-label">{fmt.escape(text)}</div>{tip}')


class Field:
    """One parameter (or a few tied together) of an op form."""

    def __init__(self, name: str, spec: Mapping[str, Any], label: str) -> None:
        self.name = name
        self.spec = dict(spec)
        self.label = label
        self.params: tuple[str, ...] = (name,)
        self._callbacks: list[Callable[[], None]] = []
        self.schema = Schema()
        self.widget: W.Widget = W.VBox()

    # -- the interface
    def get(self) -> Any:
        raise NotImplementedError

    def set(self, value: Any) -> None:
        raise NotImplementedError

    def values(self) -> dict[str, Any]:
        """The parameters this field sets (``None``: not set)."""
        return {self.name: self.get()}

    def load(self, step: Mapping[str, Any]) -> None:
        """Show the step's value (or the default when the step leaves it out)."""
        self.set(step.get(self.name, self.spec.get("default")))

    def set_schema(self, schema: Schema) -> None:
        self.schema = schema

    def on_change(self, callback: Callable[[], None]) -> None:
        self._callbacks.append(callback)

    def changed(self, *_args: Any) -> None:
        for callback in list(self._callbacks):
            callback()

    def _box(self, *controls: W.Widget) -> W.VBox:
        box = W.VBox([label_html(self.label, self.spec.get("help", "")), *controls])
        box.add_class("aq-field")
        return box


# --- simple fields ---------------------------------------------------------------------------


class ColumnField(Field):
    """One column of the step's input: a dropdown (free text once columns are unknown)."""

    def __init__(self, name: str, spec: Mapping[str, Any], label: str) -> None:
        super().__init__(name, spec, label)
        self.dropdown = W.Dropdown(options=[("", "")], value="", layout=full())
        self.free = W.Combobox(
            placeholder="column name", ensure_option=False, layout=W.Layout(width="100%")
        )
        self.free.layout.display = "none"
        self.dropdown.observe(self.changed, names="value")
        self.free.observe(self.changed, names="value")
        self.widget = self._box(self.dropdown, self.free)

    @property
    def open(self) -> bool:
        return self.free.layout.display != "none"

    def set_schema(self, schema: Schema) -> None:
        current = self.get()
        super().set_schema(schema)
        options = [("", ""), *column_options(schema)]
        if current and current not in schema:  # keep a stale pick visible (the step says why)
            options.append((f"{current} · not available here", current))
        self.dropdown.options = options
        self.dropdown.value = current or ""
        self.free.options = list(schema)
        self.free.layout.display = None if schema.open else "none"
        self.dropdown.layout.display = "none" if schema.open else None
        self.free.value = current or ""

    def get(self) -> str | None:
        value = self.free.value.strip() if self.open else self.dropdown.value
        return value or None

    def set(self, value: Any) -> None:
        value = value or ""
        if value and value not in [v for _, v in self.dropdown.options]:
            self.dropdown.options = [
                *self.dropdown.options,
                (f"{value} · not available here", value),
            ]
        self.dropdown.value = value
        self.free.value = value

    @property
    def kind(self) -> str | None:
        """The picked column's value kind (number, text...)."""
        column = self.get()
        return value_kind(self.schema.get(column)) if column else None


class ColumnsField(Field):
    """Several columns in order, picked from the step's input (tags with completion)."""

    def __init__(self, name: str, spec: Mapping[str, Any], label: str) -> None:
        super().__init__(name, spec, label)
        self.tags = W.TagsInput(value=[], allowed_tags=[], allow_duplicates=False, layout=full())
        self.add = W.Dropdown(options=[("add a column…", "")], value="", layout=full())
        self.add.observe(self._add, names="value")
        self.tags.observe(self.changed, names="value")
        self.widget = self._box(self.tags, self.add)

    def _add(self, change: dict[str, Any]) -> None:
        column = change["new"]
        if column:
            if column not in self.tags.value:
                self.tags.value = [*self.tags.value, column]
            self.add.value = ""

    def set_schema(self, schema: Schema) -> None:
        super().set_schema(schema)
        current = list(self.tags.value)
        self.tags.allowed_tags = (
            [] if schema.open else [*schema, *(c for c in current if c not in schema)]
        )
        self.add.options = [("add a column…", ""), *column_options(schema)]

    def get(self) -> list[str] | None:
        return list(self.tags.value) or None

    def set(self, value: Any) -> None:
        value = list(value or [])
        allowed = list(self.tags.allowed_tags)
        if allowed:
            self.tags.allowed_tags = allowed + [c for c in value if c not in allowed]
        self.tags.value = value

    @property
    def kind(self) -> str | None:
        columns = self.get() or []
        return value_kind(self.schema.get(columns[0])) if columns else None


def _choice_label(value: Any) -> str:
    return "(not set)" if value is None else str(value).replace("_", " ")


class ChoiceField(Field):
    """One of a fixed set of values (optional ones can be left unset)."""

    def __init__(
        self,
        name: str,
        spec: Mapping[str, Any],
        label: str,
        labels: Mapping[Any, str] | None = None,
    ) -> None:
        super().__init__(name, spec, label)
        labels = labels or {}
        choices = list(spec["choices"])
        if not spec.get("required") and spec.get("default") is None:
            choices = [None, *choices]
        options = [(labels.get(c, _choice_label(c)), c) for c in choices]
        default = spec.get("default")
        self.dropdown = W.Dropdown(
            options=options, value=default if default in choices else choices[0], layout=full()
        )
        self.dropdown.observe(self.changed, names="value")
        self.widget = self._box(self.dropdown)

    def get(self) -> Any:
        return self.dropdown.value

    def set(self, value: Any) -> None:
        values = [v for _, v in self.dropdown.options]
        self.dropdown.value = value if value in values else values[0]


class TextField(Field):
    """Free text (names, separators, date formats). Empty means "not set" for optional ones."""

    def __init__(self, name: str, spec: Mapping[str, Any], label: str) -> None:
        super().__init__(name, spec, label)
        default = spec.get("default")
        self.text = W.Text(
            value="" if default is None else str(default),
            placeholder="(not set)" if not spec.get("required") else "",
            continuous_update=False,
            layout=full(),
        )
        self.text.observe(self.changed, names="value")
        self.widget = self._box(self.text)

    def get(self) -> str | None:
        value = self.text.value
        if value == "" and (self.spec.get("required") or self.spec.get("default") is None):
            return None
        if self.spec["type"] == "name" and not value.strip():
            return None
        return value

    def set(self, value: Any) -> None:
        self.text.value = "" if value is None else str(value)


class NumberField(Field):
    """A number typed as text (empty: not set), so that "not set" and limits read plainly."""

    def __init__(self, name: str, spec: Mapping[str, Any], label: str) -> None:
        super().__init__(name, spec, label)
        self.integer = spec["type"] == "integer"
        default = spec.get("default")
        limits = []
        if spec.get("minimum") is not None:
            limits.append(f"at least {fmt.number(spec['minimum'])}")
        if spec.get("maximum") is not None:
            limits.append(f"at most {fmt.number(spec['maximum'])}")
        self.text = W.Text(
            value="" if default is None else str(default),
            placeholder=("(not set) " + ", ".join(limits)).strip(),
            continuous_update=False,
            layout=full(),
        )
        self.text.observe(self.changed, names="value")
        self.widget = self._box(self.text)

    def get(self) -> int | float | None:
        if not self.text.value.strip():
            return None
        return parse_number(self.text.value, integer=self.integer, what=f"“{self.label}”")

    def set(self, value: Any) -> None:
        self.text.value = "" if value is None else str(value)


class BoolField(Field):
    def __init__(self, name: str, spec: Mapping[str, Any], label: str) -> None:
        super().__init__(name, spec, label)
        self.check = W.Checkbox(
            value=bool(spec.get("default")), description=label, indent=False, layout=full()
        )
        self.check.observe(self.changed, names="value")
        help_text = spec.get("help", "")
        extra = (
            [W.HTML(f'<div class="aq-muted">{fmt.escape(help_text)}</div>')] if help_text else []
        )
        self.widget = W.VBox([self.check, *extra])

    def get(self) -> bool:
        return bool(self.check.value)

    def set(self, value: Any) -> None:
        self.check.value = bool(value)


class ValueField(Field):
    """One value (text, number, true/false or a date), typed with its kind; empty means
    missing. The kind follows the column the step works on unless the user picks another."""

    def __init__(self, name: str, spec: Mapping[str, Any], label: str) -> None:
        super().__init__(name, spec, label)
        self.kind = W.Dropdown(options=VALUE_KINDS, value="text", layout=W.Layout(width="110px"))
        self.text = W.Text(
            placeholder="(empty: missing)", continuous_update=False, layout=W.Layout(flex="1")
        )
        self.kind.observe(self.changed, names="value")
        self.text.observe(self.changed, names="value")
        self.widget = self._box(W.HBox([self.kind, self.text], layout=full()))

    @property
    def empty(self) -> bool:
        return self.text.value == ""

    def hint(self, kind: str | None) -> None:
        if kind is not None:
            self.kind.value = kind

    def get(self) -> Any:
        if self.text.value == "":
            return None
        return parse_value(self.text.value, self.kind.value, what=f"“{self.label}”")

    def set(self, value: Any) -> None:
        self.kind.value = kind_of_value(value, self.kind.value)
        self.text.value = show_value(value)


class TagsField(Field):
    """A list of texts, numbers or values typed as tags (``texts``, ``numbers``, ``scalars``);
    ``allowed`` limits texts to a fixed set."""

    def __init__(
        self,
        name: str,
        spec: Mapping[str, Any],
        label: str,
        allowed: Sequence[str] = (),
    ) -> None:
        super().__init__(name, spec, label)
        self.item_kind = {"numbers": "number", "texts": "text"}.get(spec["type"])
        self.tags = W.TagsInput(
            value=[], allowed_tags=list(allowed), allow_duplicates=False, layout=full()
        )
        self.kind = W.Dropdown(
            options=VALUE_KINDS[:3], value="text", description="as", layout=W.Layout(width="150px")
        )
        self.tags.observe(self.changed, names="value")
        self.kind.observe(self.changed, names="value")
        controls: list[W.Widget] = [self.tags]
        if self.item_kind is None:
            controls.append(self.kind)
        self.widget = self._box(*controls)
        self.set(spec.get("default"))

    @property
    def empty(self) -> bool:
        return not self.tags.value

    def hint(self, kind: str | None) -> None:
        if kind in VALUE_KINDS[:3]:
            self.kind.value = kind

    def get(self) -> list[Any] | None:
        items = list(self.tags.value)
        if not items:
            return None
        kind = self.item_kind or self.kind.value
        what = f"each of “{self.label}”"
        return [parse_value(item, kind, what=what) for item in items]

    def set(self, value: Any) -> None:
        items = list(value or [])
        if self.item_kind is None and items:
            self.kind.value = kind_of_value(items[0])
        self.tags.value = [show_value(v) for v in items]


class JsonField(Field):
    """Raw JSON, for a parameter shape no editor knows (the op form marks it advanced)."""

    def __init__(self, name: str, spec: Mapping[str, Any], label: str) -> None:
        super().__init__(name, spec, label)
        self.text = W.Textarea(
            placeholder="JSON",
            continuous_update=False,
            layout=W.Layout(width="100%", height="90px"),
        )
        self.text.observe(self.changed, names="value")
        self.widget = self._box(self.text)

    def get(self) -> Any:
        if not self.text.value.strip():
            return None
        try:
            return json.loads(self.text.value)
        except json.JSONDecodeError as error:
            raise FieldError(f"“{self.label}” is not valid JSON: {error.msg}") from None

    def set(self, value: Any) -> None:
        self.text.value = "" if value is None else json.dumps(value, ensure_ascii=False)
