"""The op registry: the one place that maps op names to op classes.

Each op class carries its own ``name``; this module gathers them, refuses duplicates and gives the
catalogue (ops with their parameter schemas) that the cleaning wizard builds its forms from.
"""

from __future__ import annotations

import copy
import difflib
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

from .errors import Invalid
from .recipe_base import Op
from .recipe_ops_cleaning import CLEANING_OPS
from .recipe_ops_reshape import RESHAPE_OPS
from .recipe_ops_transform import TRANSFORM_OPS


def _registry(*groups: tuple[type[Op], ...]) -> Mapping[str, type[Op]]:
    ops: dict[str, type[Op]] = {}
    for op in (op for group in groups for op in group):
        if op.name in ops:
            raise RuntimeError(f"two recipe ops are named {op.name!r}")
        ops[op.name] = op
    return MappingProxyType(ops)


OPS: Mapping[str, type[Op]] = _registry(CLEANING_OPS, TRANSFORM_OPS, RESHAPE_OPS)


def parse_step(step: Any) -> Op:
    """Build the op of one JSON step (errors say nothing of the step number; the caller does)."""
    if not isinstance(step, Mapping):
        raise Invalid("a step must be an object like {'op': 'drop_columns', ...}")
    name = step.get("op")
    if not isinstance(name, str) or name not in OPS:
        hint = difflib.get_close_matches(name, list(OPS), n=1) if isinstance(name, str) else []
        message = f"unknown op {name!r}" + (f" (did you mean {hint[0]!r}?)" if hint else "")
        raise Invalid(f"{message}; known ops: {', '.join(OPS)}", op=name)
    # a private copy: later edits of the caller's lists must not change the recipe
    return OPS[name].parse(copy.deepcopy(dict(step)))


def op_catalog() -> list[dict[str, Any]]:
    """Every op with its group, title and parameter schema, for forms and documentation."""
    return [
        {
            "op": op.name,
            "group": op.group,
            "title": op.title,
            "params": {name: spec.to_dict() for name, spec in op.params.items()},
        }
        for op in OPS.values()
    ]
