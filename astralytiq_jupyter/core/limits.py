"""Bounds on what a caller may ask for, shared by the core services and the REST API.

Every number a caller gives (a page, a row count, a seed, a version) is checked against a
stated range before any work starts, so that no request can make the server build something
huge (``range(2, 10**30)``) or overflow a database integer. JSON metadata (recipes,
dashboards, tenant settings, model metadata) is held to a size and a nesting depth before it
is stored, so that everything stored can be served back: a document nested 900 deep is
stored by any database, but then no JSON encoder can write it out again.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

import numpy as np

from .errors import Invalid

#: Seeds go to NumPy, which takes 0 .. 2**32 - 1.
MAX_SEED = 2**32 - 1
#: Version numbers, revisions and other counters stored in 32-bit database integers.
MAX_INT32 = 2**31 - 1
#: Free text a person writes (descriptions, notes), in characters.
MAX_TEXT = 10_000


@dataclass(frozen=True)
class JsonLimits:
    """The largest JSON document (serialised, in bytes) and the deepest nesting accepted for
    stored metadata and for JSON request bodies (``c.AstralytiQ.max_json_bytes`` and
    ``c.AstralytiQ.max_json_depth`` on a server)."""

    max_bytes: int = 1024 * 1024
    max_depth: int = 32


DEFAULT_JSON_LIMITS = JsonLimits()


def shown(number: float) -> str:
    """A bound as people read it: ``1,000,000`` rather than ``1e+06``."""
    if float(number).is_integer():
        return f"{int(number):,}"
    return f"{number:,}"


def check_int(value: Any, name: str, low: int, high: int, *, label: str | None = None) -> int:
    """``value`` if it is a whole number (not a bool) from ``low`` to ``high``, else
    :class:`Invalid` naming the range (``label`` says what it is, default ``name``)."""
    if isinstance(value, bool) or not _is_int(value) or not low <= int(value) <= high:
        raise Invalid(
            f"{label or name} must be a whole number from {shown(low)} to {shown(high)}.",
            parameter=name,
            minimum=low,
            maximum=high,
        )
    return int(value)


def check_number(
    value: Any, name: str, low: float, high: float, *, label: str | None = None
) -> float:
    """``value`` if it is a finite number (not a bool) from ``low`` to ``high``."""
    if (
        isinstance(value, bool)
        or not isinstance(value, (int, float))
        or not math.isfinite(value)
        or not low <= value <= high
    ):
        raise Invalid(
            f"{label or name} must be a number from {shown(low)} to {shown(high)}.",
            parameter=name,
            minimum=low,
            maximum=high,
        )
    return float(value)


def check_text(value: Any, name: str, max_length: int = MAX_TEXT, *, optional: bool = True) -> Any:
    """``value`` if it is text of at most ``max_length`` characters (or ``None`` when
    ``optional``)."""
    if value is None and optional:
        return None
    if not isinstance(value, str):
        raise Invalid(f"{name} must be text.", parameter=name)
    if len(value) > max_length:
        raise Invalid(
            f"{name} is longer than {max_length:,} characters.", parameter=name, maximum=max_length
        )
    return value


def _is_int(value: Any) -> bool:
    return isinstance(value, (int, np.integer))


def json_depth(value: Any, stop_at: int) -> int:
    """The nesting depth of ``value`` (a scalar is 0, ``[1]`` is 1), counted without
    recursion and at most ``stop_at + 1``, so any document is measured safely."""
    deepest = 0
    stack: list[tuple[Any, int]] = [(value, 0)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, Mapping):
            children: Any = item.values()
        elif isinstance(item, (list, tuple)):
            children = item
        else:
            continue
        depth += 1
        if depth > stop_at:
            return depth
        deepest = max(deepest, depth)
        stack.extend((child, depth) for child in children)
    return deepest


def check_json(value: Any, what: str, limits: JsonLimits = DEFAULT_JSON_LIMITS) -> Any:
    """``value`` if it can be stored and served back as JSON within ``limits``; else
    :class:`Invalid` saying which limit it exceeds. The depth is checked first, since
    serialising a deep document to measure its size would itself recurse."""
    if json_depth(value, limits.max_depth) > limits.max_depth:
        raise Invalid(
            f"{what} is nested more than {limits.max_depth} levels deep.",
            max_depth=limits.max_depth,
        )
    try:
        size = len(json.dumps(value, default=str, allow_nan=True).encode())
    except (TypeError, ValueError) as exc:
        raise Invalid(f"{what} cannot be stored as JSON: {exc}.") from None
    if size > limits.max_bytes:
        raise Invalid(
            f"{what} is {size / 1e6:.1f} MB as JSON; the limit is {limits.max_bytes / 1e6:.1f} MB.",
            max_bytes=limits.max_bytes,
        )
    return value


def parse_json(data: bytes | str, what: str, max_depth: int, max_bytes: int | None = None) -> Any:
    """Parse JSON text (NaN and Infinity allowed, as Python clients send them), refusing
    text larger than ``max_bytes`` or nested deeper than ``max_depth`` before the parser,
    which recurses once per level, ever sees it."""
    if max_bytes is not None and len(data) > max_bytes:
        raise Invalid(
            f"{what} is {len(data) / 1e6:.1f} MB; the limit is {max_bytes / 1e6:.1f} MB.",
            max_bytes=max_bytes,
        )
    if text_depth(data) > max_depth:
        raise Invalid(f"{what} is nested more than {max_depth} levels deep.", max_depth=max_depth)
    try:
        return json.loads(data)
    except (ValueError, UnicodeDecodeError):
        raise Invalid(f"{what} is not valid JSON.") from None


# A JSON string: quotes around anything but quotes and backslashes, or escapes.
_STRING = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"', re.DOTALL)


def text_depth(data: bytes | str) -> int:
    """The deepest bracket nesting of JSON text outside its strings, in one pass at C speed
    (strings removed by a regular expression, then a running sum over the brackets).
    Malformed text gets some number; the parser then reports it."""
    raw = data.encode() if isinstance(data, str) else bytes(data)
    if b"[" not in raw and b"{" not in raw:
        return 0
    skeleton = np.frombuffer(_STRING.sub(b"", raw), dtype=np.uint8)
    steps = np.zeros(len(skeleton), dtype=np.int64)
    steps[(skeleton == 0x5B) | (skeleton == 0x7B)] = 1
    steps[(skeleton == 0x5D) | (skeleton == 0x7D)] = -1
    return int(np.cumsum(steps).max(initial=0))


def check_time(value: datetime, name: str, *, label: str | None = None) -> datetime:
    """``value`` in UTC (naive times are taken as UTC), refused if it falls outside the
    years 1 to 9999 once converted (``9999-12-31T23:59:59-14:00`` does)."""
    label = label or name
    if not isinstance(value, datetime):
        raise Invalid(f"{label} must be a date and time.", parameter=name)
    try:
        if value.tzinfo is None:
            return value.replace(tzinfo=timezone.utc)
        return value.astimezone(timezone.utc)
    except (OverflowError, ValueError):
        raise Invalid(
            f"{label} is outside the supported range of times (years 1 to 9999 in UTC).",
            parameter=name,
        ) from None


def parse_time(text: str, name: str, *, label: str | None = None) -> datetime:
    """An ISO 8601 time (``Z`` or an offset; naive means UTC), in UTC."""
    label = label or name
    raw = text.strip()
    if raw[-1:] in ("Z", "z"):
        raw = raw[:-1] + "+00:00"
    try:
        value = datetime.fromisoformat(raw)
    except ValueError:
        raise Invalid(
            f"{label} must be an ISO 8601 time such as 2024-05-01T12:00:00Z.", parameter=name
        ) from None
    return check_time(value, name, label=label)
