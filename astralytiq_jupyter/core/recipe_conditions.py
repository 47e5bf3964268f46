"""Structured conditions, shared by ``filter_rows`` and the ``conditional`` derived column.

A condition is ``{"column": "age", "op": ">=", "value": 18}``; a list of them is combined with
``"all"`` or ``"any"``. Nothing a user types is ever evaluated: the operator picks a pandas method.
A missing value never satisfies a condition, except ``is missing``.
"""

from __future__ import annotations

import operator
from collections.abc import Mapping
from typing import Any

import pandas as pd

from .errors import Invalid
from .recipe_base import Schema, _is_number, _is_scalar, lit, need_column, q, qlist
from .recipe_runtime import _value_like

WORDS = {
    "==": "is",
    "!=": "is not",
    ">": "is greater than",
    ">=": "is at least",
    "<": "is less than",
    "<=": "is at most",
    "between": "is between",
    "in": "is one of",
    "not in": "is not one of",
    "contains": "contains",
    "starts with": "starts with",
    "is missing": "is missing",
    "is not missing": "is not missing",
}
OPERATORS = tuple(WORDS)
_COMPARE = {
    "==": operator.eq,
    ">": operator.gt,
    ">=": operator.ge,
    "<": operator.lt,
    "<=": operator.le,
}
_NO_VALUE = ("is missing", "is not missing")
_TEXT_ONLY = ("contains", "starts with")
_ORDERING = (">", ">=", "<", "<=", "between")
_LISTS = ("in", "not in")


def parse_conditions(raw: Any, param: str) -> list[dict[str, Any]]:
    """Check the structure of a condition list and return it normalised."""
    if not isinstance(raw, list) or not raw:
        raise Invalid(f"parameter '{param}' must be a non-empty list of conditions", param=param)
    return [_parse_one(c, f"{param}[{i}]") for i, c in enumerate(raw)]


def _parse_one(raw: Any, where: str) -> dict[str, Any]:
    if not isinstance(raw, Mapping):
        raise Invalid(f"{where} must be an object like {{'column': 'x', 'op': '==', 'value': 1}}")
    extra = set(raw) - {"column", "op", "value", "case_sensitive"}
    if extra:
        raise Invalid(f"{where} has an unknown key {q(sorted(extra)[0])}", param=where)
    column, op = raw.get("column"), raw.get("op")
    if not isinstance(column, str) or not column:
        raise Invalid(f"{where} needs a 'column' name", param=where)
    if op not in WORDS:
        raise Invalid(
            f"{where} has an unknown operator {op!r}; use one of {', '.join(OPERATORS)}",
            param=where,
            column=column,
        )
    out: dict[str, Any] = {"column": column, "op": op}
    value = raw.get("value")
    if op in _NO_VALUE:
        if value is not None:
            raise Invalid(f"{where}: '{op}' takes no value", param=where, column=column)
    elif op == "between":
        if not (isinstance(value, list) and len(value) == 2 and all(_is_scalar(v) for v in value)):
            raise Invalid(
                f"{where}: 'between' needs a value [low, high]", param=where, column=column
            )
        numbers = all(map(_is_number, value))
        if None in value or not (numbers or type(value[0]) is type(value[1])):
            raise Invalid(f"{where}: the two ends of 'between' must be of one type", param=where)
        if numbers and value[0] > value[1]:
            raise Invalid(f"{where}: 'between' needs low <= high", param=where, column=column)
        out["value"] = value
    elif op in _LISTS:
        if not (isinstance(value, list) and value and all(_is_scalar(v) for v in value)):
            raise Invalid(f"{where}: '{op}' needs a non-empty list of values", param=where)
        if None in value:
            raise Invalid(f"{where}: use 'is missing' rather than null in a list", param=where)
        out["value"] = value
    elif op in _TEXT_ONLY:
        if not isinstance(value, str) or not value:
            raise Invalid(f"{where}: '{op}' needs a non-empty text value", param=where)
        out["value"] = value
    else:
        if value is None or not _is_scalar(value):
            raise Invalid(
                f"{where}: '{op}' needs a value (use 'is missing' to test for missing values)",
                param=where,
                column=column,
            )
        out["value"] = value
    if "case_sensitive" in raw:
        if op not in _TEXT_ONLY or not isinstance(raw["case_sensitive"], bool):
            raise Invalid(f"{where}: 'case_sensitive' is true/false, for text operators only")
        out["case_sensitive"] = raw["case_sensitive"]
    return out


def validate_conditions(conditions: list[dict[str, Any]], schema: Schema) -> None:
    """Check each condition against the column it reads (existence, kind, value type)."""
    for cond in conditions:
        column, name, value = cond["column"], cond["op"], cond.get("value")
        kind = need_column(schema, column)
        if name in _NO_VALUE or kind == "other":
            continue
        values = value if isinstance(value, list) else [value]
        if name in _TEXT_ONLY and kind not in ("text", "category"):
            raise Invalid(
                f"'{name}' works on text, but column {q(column)} holds {kind} values",
                column=column,
            )
        if name in _ORDERING and kind in ("boolean", "category"):
            raise Invalid(
                f"'{name}' needs ordered values, but column {q(column)} holds {kind} values",
                column=column,
            )
        if kind == "numeric" and not all(_is_number(v) for v in values):
            raise Invalid(
                f"column {q(column)} holds numbers, so '{name}' needs numbers, not {value!r}",
                column=column,
            )
        if kind == "boolean" and not all(isinstance(v, bool) for v in values):
            raise Invalid(
                f"column {q(column)} holds true/false, so '{name}' needs true or false",
                column=column,
            )
        if kind == "datetime":
            tz = _tz_of(schema[column])
            for v in values:
                _check_timestamp(v, tz, column)
        if kind == "text" and name in _ORDERING and not all(isinstance(v, str) for v in values):
            raise Invalid(
                f"column {q(column)} holds text, so '{name}' compares with text values",
                column=column,
            )


def _tz_of(dtype: str) -> str | None:
    try:
        dt = pd.api.types.pandas_dtype(dtype)
    except (TypeError, ValueError):  # a type only known with the data
        return None
    return str(dt.tz) if getattr(dt, "tz", None) is not None else None


def _check_timestamp(value: Any, tz: str | None, column: str) -> None:
    if not isinstance(value, str):
        raise Invalid(
            f"column {q(column)} holds dates; compare it with a date text like '2024-01-31'",
            column=column,
        )
    try:
        ts = pd.Timestamp(value)
    except (ValueError, TypeError):
        raise Invalid(f"{value!r} is not a date (for column {q(column)})", column=column) from None
    if ts is pd.NaT:
        raise Invalid(f"{value!r} is not a date (for column {q(column)})", column=column)
    if ts.tzinfo is not None and tz is None:
        raise Invalid(
            f"{value!r} has a timezone but column {q(column)} has none; drop the offset",
            column=column,
        )


def conditions_mask(df: pd.DataFrame, conditions: list[dict[str, Any]], combine: str) -> pd.Series:
    """Boolean mask of the rows meeting all (or any) conditions, never missing."""
    mask = None
    for cond in conditions:
        one = _mask_one(df[cond["column"]], cond)
        mask = one if mask is None else (mask & one if combine == "all" else mask | one)
    return mask.fillna(False)


def _mask_one(s: pd.Series, cond: dict[str, Any]) -> pd.Series:
    name, value = cond["op"], cond.get("value")
    if name == "is missing":
        return s.isna()
    if name == "is not missing":
        return s.notna()
    if name == "contains":
        return s.str.contains(value, regex=False, case=cond.get("case_sensitive", True), na=False)
    if name == "starts with":
        if cond.get("case_sensitive", True):
            return s.str.startswith(value, na=False)
        return s.str.lower().str.startswith(value.lower(), na=False)
    value = _value_like(s, value)
    if name == "between":
        return s.between(value[0], value[1])
    if name == "in":
        return s.isin(value)
    if name == "not in":
        return ~s.isin(value) & s.notna()
    if name == "!=":
        return (s != value) & s.notna()
    return _COMPARE[name](s, value)


def conditions_code(conditions: list[dict[str, Any]], combine: str) -> str:
    """A pandas expression equal to :func:`conditions_mask`."""
    joiner = " & " if combine == "all" else " | "
    parts = [_code_one(c) for c in conditions]
    body = parts[0] if len(parts) == 1 else joiner.join(f"({p})" for p in parts)
    return f"({body}).fillna(False)"


def _code_one(cond: dict[str, Any]) -> str:
    s, name, value = f"df[{lit(cond['column'])}]", cond["op"], cond.get("value")
    if name == "is missing":
        return f"{s}.isna()"
    if name == "is not missing":
        return f"{s}.notna()"
    if name == "contains":
        case = cond.get("case_sensitive", True)
        return f"{s}.str.contains({lit(value)}, regex=False, case={case}, na=False)"
    if name == "starts with":
        if cond.get("case_sensitive", True):
            return f"{s}.str.startswith({lit(value)}, na=False)"
        return f"{s}.str.lower().str.startswith({lit(value.lower())}, na=False)"
    values = value if isinstance(value, list) else [value]
    v = f"_value_like({s}, {lit(value)})" if any(isinstance(x, str) for x in values) else lit(value)
    if name == "between":
        return f"{s}.between(*{v})"
    if name == "in":
        return f"{s}.isin({v})"
    if name == "not in":
        return f"~{s}.isin({v}) & {s}.notna()"
    if name == "!=":
        return f"({s} != {v}) & {s}.notna()"
    return f"{s} {name} {v}"


def describe_conditions(conditions: list[dict[str, Any]], combine: str) -> str:
    parts = []
    for cond in conditions:
        name, value = cond["op"], cond.get("value")
        text = f"{q(cond['column'])} {WORDS[name]}"
        if name == "between":
            text += f" {value[0]!r} and {value[1]!r}"
        elif name in _LISTS:
            text += f" {qlist(value)}"
        elif name not in _NO_VALUE:
            text += f" {value!r}"
        if name in _TEXT_ONLY and not cond.get("case_sensitive", True):
            text += " (ignoring case)"
        parts.append(text)
    if len(parts) == 1:
        return parts[0]
    return (" and " if combine == "all" else " or ").join(parts)
