"""The building blocks every recipe op shares: column kinds, schemas, parameters, the Op base.

A recipe step is JSON (``{"op": "fill_missing", "columns": ["price"], "strategy": "median"}``).
Each op class declares its parameters once (:class:`Param`), which gives parsing, type checks, the
UI catalogue and ``to_json`` for free; the class then only writes ``validate`` (against a schema,
before any data is touched), ``apply``, ``describe`` and ``to_code``.
"""

from __future__ import annotations

import difflib
import math
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, ClassVar

import pandas as pd
from pandas.api import types as ptypes

from .errors import Invalid

KINDS = ("numeric", "boolean", "datetime", "timedelta", "text", "category", "other")
# dtype of a column known to exist but whose type is only known with the data (after a pivot)
UNKNOWN = "unknown"


@lru_cache(maxsize=512)
def kind_of(dtype: str) -> str:
    """Map a dtype name (``"int64"``, ``"str"``, ``"datetime64[us, UTC]"``...) to a column kind."""
    try:
        dt = ptypes.pandas_dtype(dtype)
    except (TypeError, ValueError):
        return "other"
    if ptypes.is_bool_dtype(dt):
        return "boolean"
    if ptypes.is_numeric_dtype(dt):
        return "numeric"
    if ptypes.is_datetime64_any_dtype(dt):
        return "datetime"
    if ptypes.is_timedelta64_dtype(dt):
        return "timedelta"
    if isinstance(dt, pd.CategoricalDtype):
        return "category"
    if ptypes.is_string_dtype(dt) or ptypes.is_object_dtype(dt):
        return "text"
    return "other"


def schema_of(df: pd.DataFrame) -> Schema:
    """The schema (column -> dtype name) of a DataFrame."""
    return Schema({str(c): str(t) for c, t in df.dtypes.items()})


class Schema(dict):
    """Column name -> dtype name, in column order.

    ``open`` is True once a step produces columns that cannot be known without the data (a pivot,
    or a join whose right-hand dataset could not be looked up): later column checks are then
    deferred to run time, where they raise the same errors.
    """

    def __init__(self, columns: Mapping[str, str] | Iterable[tuple[str, str]] = (), *, open=False):
        super().__init__(columns)
        self.open = open

    def copy(self) -> Schema:
        return Schema(self, open=self.open)

    def kind(self, column: str) -> str | None:
        dtype = self.get(column)
        return None if dtype is None else kind_of(dtype)


# --- parameters ----------------------------------------------------------------------------

_SCALAR = (str, int, float, bool, type(None))


def _is_number(v: Any) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v)


def _is_scalar(v: Any) -> bool:
    return isinstance(v, _SCALAR) and (not isinstance(v, float) or math.isfinite(v))


def _is_nonempty_str(v: Any) -> bool:
    return isinstance(v, str) and v != ""


def _is_name_list(v: Any) -> bool:
    return (
        isinstance(v, list)
        and len(v) > 0
        and all(_is_nonempty_str(c) for c in v)
        and len(set(v)) == len(v)
    )


# type name -> (check, words used in error messages)
_CHECKS: dict[str, tuple[Callable[[Any], bool], str]] = {
    "column": (_is_nonempty_str, "a column name"),
    "columns": (_is_name_list, "a non-empty list of distinct column names"),
    "name": (_is_nonempty_str, "a non-empty text"),
    "text": (lambda v: isinstance(v, str), "a text"),
    "integer": (lambda v: isinstance(v, int) and not isinstance(v, bool), "a whole number"),
    "number": (_is_number, "a number"),
    "boolean": (lambda v: isinstance(v, bool), "true or false"),
    "scalar": (_is_scalar, "a text, a number, true/false or null"),
    "scalars": (
        lambda v: isinstance(v, list) and all(_is_scalar(x) and x is not None for x in v),
        "a list of texts, numbers or true/false",
    ),
    "numbers": (
        lambda v: isinstance(v, list) and len(v) > 0 and all(_is_number(x) for x in v),
        "a non-empty list of numbers",
    ),
    "texts": (
        lambda v: isinstance(v, list) and all(isinstance(x, str) for x in v),
        "a list of texts",
    ),
    "flags": (
        lambda v: (
            isinstance(v, bool) or (isinstance(v, list) and all(isinstance(x, bool) for x in v))
        ),
        "true/false or a list of true/false",
    ),
    "mapping": (
        lambda v: (
            isinstance(v, dict)
            and len(v) > 0
            and all(_is_nonempty_str(k) and _is_nonempty_str(x) for k, x in v.items())
        ),
        "an object mapping column names to new names",
    ),
    "operand": (
        lambda v: (
            isinstance(v, dict)
            and (
                (set(v) == {"column"} and _is_nonempty_str(v["column"]))
                or (set(v) == {"value"} and _is_number(v["value"]))
            )
        ),
        "{'column': name} or {'value': number}",
    ),
    # structured values checked further by the op that owns them
    "list": (lambda v: isinstance(v, list) and len(v) > 0, "a non-empty list"),
    "object": (lambda v: isinstance(v, dict), "an object"),
}


@dataclass(frozen=True)
class Param:
    """One parameter of an op: its type (a key of the checks above), default and limits."""

    type: str
    required: bool = False
    default: Any = None
    choices: tuple[Any, ...] | None = None
    minimum: float | None = None
    maximum: float | None = None
    help: str = ""

    def check(self, name: str, value: Any) -> Any:
        check, words = _CHECKS[self.type]
        if self.choices is not None:
            if value not in self.choices:
                options = ", ".join(repr(c) for c in self.choices)
                raise Invalid(
                    f"parameter '{name}' must be one of {options}, not {value!r}", param=name
                )
            return value
        if not check(value):
            raise Invalid(f"parameter '{name}' must be {words}, not {_short(value)}", param=name)
        if self.minimum is not None and value < self.minimum:
            raise Invalid(f"parameter '{name}' must be at least {self.minimum:g}", param=name)
        if self.maximum is not None and value > self.maximum:
            raise Invalid(f"parameter '{name}' must be at most {self.maximum:g}", param=name)
        return value

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"type": self.type, "required": self.required}
        if not self.required:
            out["default"] = self.default
        for key in ("choices", "minimum", "maximum"):
            if getattr(self, key) is not None:
                out[key] = list(self.choices) if key == "choices" else getattr(self, key)
        if self.help:
            out["help"] = self.help
        return out


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


# --- messages and code literals ------------------------------------------------------------


def q(name: Any) -> str:
    """Quote a column name or value for a message."""
    return f"'{name}'"


def qlist(names: Iterable[Any]) -> str:
    names = [q(n) for n in names]
    if len(names) <= 1:
        return "".join(names)
    return ", ".join(names[:-1]) + " and " + names[-1]


def lit(value: Any) -> str:
    """A Python literal for a JSON value; repr() escapes any user text safely."""
    if isinstance(value, tuple):
        return "(" + ", ".join(lit(v) for v in value) + ("," if len(value) == 1 else "") + ")"
    if isinstance(value, list):
        return "[" + ", ".join(lit(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{lit(k)}: {lit(v)}" for k, v in value.items()) + "}"
    if isinstance(value, _SCALAR):
        return repr(value)
    raise TypeError(f"cannot write {type(value).__name__} as a literal")


def col(name: str) -> str:
    """Code for a column of the working frame."""
    return f"df[{lit(name)}]"


# --- running ---------------------------------------------------------------------------------


@dataclass
class ApplyContext:
    """What an op may use while applying: the dataset loader and a place for its notes."""

    datasets: Callable[[str], pd.DataFrame] | None = None
    notes: dict[str, Any] = field(default_factory=dict)
    column: str | None = None  # the column being worked on, named in unexpected errors

    def note(self, key: str, column: str | None, value: Any) -> None:
        """Record a fact for the report, e.g. ``note("failed", "price", 3)``."""
        if column is None:
            self.notes[key] = value
        else:
            self.notes.setdefault(key, {})[column] = value


class Op:
    """Base of every recipe op. Subclasses set the class attributes and four methods."""

    name: ClassVar[str]
    group: ClassVar[str]
    title: ClassVar[str]
    params: ClassVar[dict[str, Param]] = {}
    # functions of recipe_runtime the generated code needs (their source is copied verbatim)
    helpers: ClassVar[tuple[Callable[..., Any], ...]] = ()
    imports: ClassVar[tuple[str, ...]] = ()
    # name of the parameter holding a dataset reference (the join), resolved by the Recipe
    dataset_param: ClassVar[str | None] = None

    def __init__(self, values: dict[str, Any]) -> None:
        self.p = values

    @classmethod
    def parse(cls, step: Mapping[str, Any]) -> Op:
        """Build the op from its JSON step, checking names and types of every parameter."""
        unknown = [k for k in step if k != "op" and k not in cls.params]
        if unknown:
            known = ", ".join(cls.params) or "none"
            raise Invalid(
                f"unknown parameter {q(unknown[0])} (this op takes: {known})", param=unknown[0]
            )
        values: dict[str, Any] = {}
        for name, spec in cls.params.items():
            if name in step and not (step[name] is None and not spec.required):
                values[name] = spec.check(name, step[name])
            elif spec.required:
                raise Invalid(f"parameter '{name}' is required", param=name)
            else:
                values[name] = spec.default
        op = cls(values)
        op.check()
        return op

    def check(self) -> None:
        """Rules between parameters that need no data (override when there are any)."""

    def to_json(self) -> dict[str, Any]:
        return {"op": self.name, **self.p}

    # the four methods each op writes
    def validate(self, schema: Schema) -> Schema:
        raise NotImplementedError

    def apply(self, df: pd.DataFrame, ctx: ApplyContext) -> pd.DataFrame:
        raise NotImplementedError

    def describe(self) -> str:
        raise NotImplementedError

    def to_code(self) -> list[str]:
        raise NotImplementedError

    # shared checks
    def need(self, schema: Schema, column: str, kinds: Iterable[str] = (), what: str = "") -> str:
        """Check that ``column`` exists (and has one of ``kinds``); return its kind."""
        return need_column(schema, column, kinds, what)

    def need_all(self, schema: Schema, columns: Iterable[str], kinds=(), what: str = "") -> None:
        for c in columns:
            self.need(schema, c, kinds, what)

    def fresh(self, schema: Schema, column: str) -> None:
        """Check that a new output column does not overwrite an existing one by accident."""
        if column in schema:
            raise Invalid(
                f"column {q(column)} already exists; choose another output name or drop it first",
                column=column,
            )


def need_column(schema: Schema, column: str, kinds: Iterable[str] = (), what: str = "") -> str:
    """Check that ``column`` exists in ``schema`` (and has one of ``kinds``); return its kind.
    The one column check of recipe steps, conditions and aggregations."""
    if column not in schema:
        if schema.open:
            return "other"
        raise missing_column(column, schema)
    kind = kind_of(schema[column])
    kinds = tuple(kinds)
    if kinds and kind not in kinds and schema[column] != UNKNOWN:
        wanted = what or " or ".join(kinds)
        raise Invalid(
            f"column {q(column)} holds {kind} values ({schema[column]}); "
            f"this step needs {wanted} values",
            column=column,
            kind=kind,
        )
    return kind


def missing_column(column: str, schema: Mapping[str, str]) -> Invalid:
    names = list(schema)
    hint = difflib.get_close_matches(column, names, n=1)
    shown = ", ".join(q(n) for n in names[:20]) + (" ..." if len(names) > 20 else "")
    message = f"column {q(column)} does not exist"
    if hint:
        message += f" (did you mean {q(hint[0])}?)"
    message += f"; columns available: {shown or 'none'}"
    return Invalid(message, column=column)
