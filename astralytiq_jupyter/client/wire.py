"""Core dataclasses back from their JSON form (``to_dict()``), for the remote backend."""

from __future__ import annotations

import types
import typing
from dataclasses import fields, is_dataclass
from datetime import datetime
from typing import Any, TypeVar

from ..core.permissions import Role

T = TypeVar("T")


def from_dict(cls: type[T], data: dict[str, Any]) -> T:
    """Rebuild a core dataclass from its ``to_dict()``: ISO times become datetimes, roles
    Roles, nested versions their dataclasses."""
    assert is_dataclass(cls)
    hints = typing.get_type_hints(cls)
    kwargs = {}
    for f in fields(cls):
        if f.name not in data:
            continue
        kwargs[f.name] = _convert(hints[f.name], data[f.name])
    return cls(**kwargs)


def _convert(hint: Any, value: Any) -> Any:
    if value is None:
        return None
    if isinstance(hint, types.UnionType) or typing.get_origin(hint) is typing.Union:
        options = [a for a in typing.get_args(hint) if a is not type(None)]
        return _convert(options[0], value) if len(options) == 1 else value
    if hint is datetime:
        return datetime.fromisoformat(value)
    if hint is Role:
        return Role(value)
    if isinstance(hint, type) and is_dataclass(hint) and isinstance(value, dict):
        return from_dict(hint, value)
    return value
