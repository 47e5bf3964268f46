"""Transform ops: columns, rows, derived columns and scaling."""

from __future__ import annotations

from typing import Any

import pandas as pd

from .errors import Invalid
from .recipe_base import (
    UNKNOWN,
    ApplyContext,
    Op,
    Param,
    Schema,
    _is_number,
    _is_scalar,
    col,
    lit,
    q,
    qlist,
)
from .recipe_conditions import (
    _check_timestamp,
    _tz_of,
    conditions_code,
    conditions_mask,
    describe_conditions,
    parse_conditions,
    validate_conditions,
)
from .recipe_runtime import _bin, _bin_edges, _concat, _scale, _value_like


def _columns(names: list[str]) -> str:
    return ("column " if len(names) == 1 else "columns ") + qlist(names)


# --- columns ----------------------------------------------------------------------------------


class RenameColumns(Op):
    name, group, title = "rename_columns", "columns", "Rename columns"
    params = {"mapping": Param("mapping", required=True, help="old name -> new name")}

    def validate(self, schema: Schema) -> Schema:
        mapping = self.p["mapping"]
        self.need_all(schema, mapping)
        names = [mapping.get(c, c) for c in schema]
        for new in mapping.values():
            if names.count(new) > 1:
                raise Invalid(f"renaming would give two columns named {q(new)}", column=new)
        return Schema({mapping.get(c, c): t for c, t in schema.items()}, open=schema.open)

    def apply(self, df: pd.DataFrame, ctx: ApplyContext) -> pd.DataFrame:
        return df.rename(columns=self.p["mapping"])

    def to_code(self) -> list[str]:
        return [f"df = df.rename(columns={lit(self.p['mapping'])})"]

    def describe(self) -> str:
        pairs = ", ".join(f"{q(a)} to {q(b)}" for a, b in self.p["mapping"].items())
        return f"Rename {pairs}."


class DropColumns(Op):
    name, group, title = "drop_columns", "columns", "Drop columns"
    params = {"columns": Param("columns", required=True)}

    def validate(self, schema: Schema) -> Schema:
        self.need_all(schema, self.p["columns"])
        drop = set(self.p["columns"])
        return Schema({c: t for c, t in schema.items() if c not in drop}, open=schema.open)

    def apply(self, df: pd.DataFrame, ctx: ApplyContext) -> pd.DataFrame:
        return df.drop(columns=self.p["columns"])

    def to_code(self) -> list[str]:
        return [f"df = df.drop(columns={lit(self.p['columns'])})"]

    def describe(self) -> str:
        return f"Drop {_columns(self.p['columns'])}."


class SelectColumns(Op):
    name, group, title = "select_columns", "columns", "Keep columns"
    params = {"columns": Param("columns", required=True, help="kept, in this order")}

    def validate(self, schema: Schema) -> Schema:
        self.need_all(schema, self.p["columns"])
        return Schema({c: schema.get(c, UNKNOWN) for c in self.p["columns"]})

    def apply(self, df: pd.DataFrame, ctx: ApplyContext) -> pd.DataFrame:
        return df[self.p["columns"]]

    def to_code(self) -> list[str]:
        return [f"df = df[{lit(self.p['columns'])}]"]

    def describe(self) -> str:
        return f"Keep only {_columns(self.p['columns'])}, in that order."


class ReorderColumns(Op):
    name, group, title = "reorder_columns", "columns", "Reorder columns"
    params = {
        "columns": Param("columns", required=True),
        "position": Param("text", default="first", choices=("first", "last")),
    }

    def validate(self, schema: Schema) -> Schema:
        self.need_all(schema, self.p["columns"])
        moved = {c: schema.get(c, UNKNOWN) for c in self.p["columns"]}
        rest = {c: t for c, t in schema.items() if c not in moved}
        first, last = (moved, rest) if self.p["position"] == "first" else (rest, moved)
        return Schema({**first, **last}, open=schema.open)

    def apply(self, df: pd.DataFrame, ctx: ApplyContext) -> pd.DataFrame:
        moved = self.p["columns"]
        rest = [c for c in df.columns if c not in moved]
        return df[moved + rest if self.p["position"] == "first" else rest + moved]

    def to_code(self) -> list[str]:
        moved = lit(self.p["columns"])
        order = "moved + rest" if self.p["position"] == "first" else "rest + moved"
        return [
            f"moved = {moved}",
            "rest = [c for c in df.columns if c not in moved]",
            f"df = df[{order}]",
        ]

    def describe(self) -> str:
        return f"Move {_columns(self.p['columns'])} to the {self.p['position']} position."


# --- rows ------------------------------------------------------------------------------------


class FilterRows(Op):
    name, group, title = "filter_rows", "rows", "Filter rows"
    params = {
        "conditions": Param("list", required=True),
        "combine": Param("text", default="all", choices=("all", "any")),
        "action": Param("text", default="keep", choices=("keep", "remove")),
    }

    helpers = (_value_like,)

    def check(self) -> None:
        self.p["conditions"] = parse_conditions(self.p["conditions"], "conditions")

    def validate(self, schema: Schema) -> Schema:
        validate_conditions(self.p["conditions"], schema)
        return schema.copy()

    def apply(self, df: pd.DataFrame, ctx: ApplyContext) -> pd.DataFrame:
        mask = conditions_mask(df, self.p["conditions"], self.p["combine"])
        return df[mask if self.p["action"] == "keep" else ~mask].reset_index(drop=True)

    def to_code(self) -> list[str]:
        keep = "mask" if self.p["action"] == "keep" else "~mask"
        return [
            f"mask = {conditions_code(self.p['conditions'], self.p['combine'])}",
            f"df = df[{keep}].reset_index(drop=True)",
        ]

    def describe(self) -> str:
        verb = "Keep" if self.p["action"] == "keep" else "Remove"
        return f"{verb} rows where {describe_conditions(self.p['conditions'], self.p['combine'])}."


class SortRows(Op):
    name, group, title = "sort_rows", "rows", "Sort rows"
    params = {
        "columns": Param("columns", required=True),
        "descending": Param("flags", default=False, help="one flag, or one per column"),
        "missing": Param("text", default="last", choices=("first", "last")),
    }

    def check(self) -> None:
        flags = self.p["descending"]
        if isinstance(flags, list) and len(flags) != len(self.p["columns"]):
            raise Invalid("give one 'descending' flag per sort column", param="descending")

    def _ascending(self) -> list[bool]:
        flags = self.p["descending"]
        flags = flags if isinstance(flags, list) else [flags] * len(self.p["columns"])
        return [not f for f in flags]

    def validate(self, schema: Schema) -> Schema:
        self.need_all(schema, self.p["columns"])
        return schema.copy()

    def apply(self, df: pd.DataFrame, ctx: ApplyContext) -> pd.DataFrame:
        out = df.sort_values(
            self.p["columns"],
            ascending=self._ascending(),
            na_position=self.p["missing"],
            kind="stable",
        )
        return out.reset_index(drop=True)

    def to_code(self) -> list[str]:
        return [
            f"df = df.sort_values({lit(self.p['columns'])}, ascending={self._ascending()}, "
            f"na_position={lit(self.p['missing'])}, kind='stable').reset_index(drop=True)"
        ]

    def describe(self) -> str:
        keys = [
            f"{q(c)} ({'ascending' if a else 'descending'})"
            for c, a in zip(self.p["columns"], self._ascending(), strict=True)
        ]
        return f"Sort rows by {', then '.join(keys)}, missing values {self.p['missing']}."


class SampleRows(Op):
    name, group, title = "sample_rows", "rows", "Sample rows"
    params = {
        "n": Param("integer", minimum=0, help="number of rows (capped at the row count)"),
        "fraction": Param("number", minimum=0, maximum=1),
        "seed": Param("integer", default=0, minimum=0),
    }

    def check(self) -> None:
        if (self.p["n"] is None) == (self.p["fraction"] is None):
            raise Invalid("give either 'n' or 'fraction'", param="n")

    def validate(self, schema: Schema) -> Schema:
        return schema.copy()

    def apply(self, df: pd.DataFrame, ctx: ApplyContext) -> pd.DataFrame:
        seed = self.p["seed"]
        if self.p["n"] is not None:
            out = df.sample(n=min(self.p["n"], len(df)), random_state=seed)
        else:
            out = df.sample(frac=self.p["fraction"], random_state=seed)
        return out.sort_index().reset_index(drop=True)

    def to_code(self) -> list[str]:
        seed = self.p["seed"]
        size = f"n=min({self.p['n']}, len(df))" if self.p["n"] is not None else None
        size = size or f"frac={self.p['fraction']!r}"
        return [f"df = df.sample({size}, random_state={seed}).sort_index().reset_index(drop=True)"]

    def describe(self) -> str:
        seed = self.p["seed"]
        if self.p["n"] is not None:
            return f"Keep a random sample of {self.p['n']} rows (seed {seed}), in their order."
        share = f"{self.p['fraction']:.1%}"
        return f"Keep a random {share} of the rows (seed {seed}), in their order."


class Deduplicate(Op):
    name, group, title = "deduplicate", "rows", "Keep one row per key"
    params = {
        "keys": Param("columns", required=True),
        "order_by": Param("column", required=True, help="decides which row of a key is kept"),
        "keep": Param("text", default="highest", choices=("highest", "lowest")),
    }

    def validate(self, schema: Schema) -> Schema:
        self.need_all(schema, self.p["keys"])
        self.need(schema, self.p["order_by"])
        return schema.copy()

    def apply(self, df: pd.DataFrame, ctx: ApplyContext) -> pd.DataFrame:
        ordered = df.sort_values(
            self.p["order_by"],
            ascending=self.p["keep"] == "lowest",
            na_position="last",
            kind="stable",
        )
        out = ordered.drop_duplicates(self.p["keys"], keep="first").sort_index()
        return out.reset_index(drop=True)

    def to_code(self) -> list[str]:
        ascending = self.p["keep"] == "lowest"
        return [
            f"df = df.sort_values({lit(self.p['order_by'])}, ascending={ascending}, "
            "na_position='last', kind='stable')",
            f"df = df.drop_duplicates({lit(self.p['keys'])}, keep='first')"
            ".sort_index().reset_index(drop=True)",
        ]

    def describe(self) -> str:
        return (
            f"Keep one row per {qlist(self.p['keys'])}: the one with the {self.p['keep']} "
            f"{q(self.p['order_by'])}."
        )


# --- derived columns ---------------------------------------------------------------------------


class Arithmetic(Op):
    name, group, title = "arithmetic", "derived columns", "Calculate"
    params = {
        "output": Param("name", required=True),
        "left": Param("operand", required=True),
        "operator": Param("text", required=True, choices=("+", "-", "*", "/", "//", "%")),
        "right": Param("operand", required=True),
    }

    def check(self) -> None:
        left, right = self.p["left"], self.p["right"]
        if "column" not in left and "column" not in right:
            raise Invalid("at least one side must be a column", param="left")
        if self.p["operator"] in ("/", "//", "%") and right.get("value") == 0:
            raise Invalid("cannot divide by the constant 0", param="right")

    def validate(self, schema: Schema) -> Schema:
        for side in (self.p["left"], self.p["right"]):
            if "column" in side:
                self.need(schema, side["column"], ("numeric",), "numeric")
        out = schema.copy()
        out[self.p["output"]] = "float64"
        return out

    def _code_side(self, side: dict[str, Any], divisor: bool) -> str:
        if "value" in side:
            return lit(side["value"])
        s = col(side["column"])
        return f"{s}.where({s} != 0)" if divisor else s

    def _side(self, df: pd.DataFrame, side: dict[str, Any], divisor: bool) -> Any:
        if "value" in side:
            return side["value"]
        s = df[side["column"]]
        return s.where(s != 0) if divisor else s  # division by zero gives missing, not infinity

    def apply(self, df: pd.DataFrame, ctx: ApplyContext) -> pd.DataFrame:
        divides = self.p["operator"] in ("/", "//", "%")
        left = self._side(df, self.p["left"], False)
        right = self._side(df, self.p["right"], divides)
        df[self.p["output"]] = _ARITHMETIC[self.p["operator"]](left, right)
        return df

    def to_code(self) -> list[str]:
        divides = self.p["operator"] in ("/", "//", "%")
        left = self._code_side(self.p["left"], False)
        right = self._code_side(self.p["right"], divides)
        return [f"{col(self.p['output'])} = {left} {self.p['operator']} {right}"]

    def describe(self) -> str:
        def side(s: dict[str, Any]) -> str:
            return q(s["column"]) if "column" in s else f"{s['value']:g}"

        words = {"/": "divided by", "//": "divided (whole part) by", "%": "modulo"}
        op = words.get(self.p["operator"], self.p["operator"])
        note = " (division by zero gives a missing value)" if self.p["operator"] in words else ""
        return (
            f"Set {q(self.p['output'])} to {side(self.p['left'])} {op} "
            f"{side(self.p['right'])}{note}."
        )


_ARITHMETIC = {
    "+": lambda a, b: a + b,
    "-": lambda a, b: a - b,
    "*": lambda a, b: a * b,
    "/": lambda a, b: a / b,
    "//": lambda a, b: a // b,
    "%": lambda a, b: a % b,
}

_ATTRIBUTES = {"weekday": "day_of_week"}
_PARTS = ("year", "quarter", "month", "day", "weekday", "weekday_name", "hour", "days_since")


class DatePart(Op):
    name, group, title = "date_part", "derived columns", "Date part"
    params = {
        "column": Param("column", required=True),
        "part": Param("text", required=True, choices=_PARTS),
        "output": Param("name", help="default: '<column>_<part>'"),
        "reference": Param("name", help="for days_since: the date counted to, e.g. '2025-01-01'"),
    }
    helpers = (_value_like,)

    def check(self) -> None:
        if self.p["output"] is None:
            self.p["output"] = f"{self.p['column']}_{self.p['part']}"
        if (self.p["part"] == "days_since") != (self.p["reference"] is not None):
            raise Invalid(
                "parameter 'reference' (a date) is needed for days_since, and only there",
                param="reference",
            )

    def validate(self, schema: Schema) -> Schema:
        c = self.p["column"]
        self.need(schema, c, ("datetime",), "date/time")
        if self.p["reference"] is not None and c in schema:
            _check_timestamp(self.p["reference"], _tz_of(schema[c]), c)
        out = schema.copy()
        out[self.p["output"]] = "str" if self.p["part"] == "weekday_name" else "int64"
        return out

    def _expression(self, s: str) -> str:
        part = self.p["part"]
        if part == "days_since":
            return f"(_value_like({s}, {lit(self.p['reference'])}) - {s}).dt.days"
        if part == "weekday_name":
            return f"{s}.dt.day_name()"
        return f"{s}.dt.{_ATTRIBUTES.get(part, part)}"

    def apply(self, df: pd.DataFrame, ctx: ApplyContext) -> pd.DataFrame:
        s, part = df[self.p["column"]], self.p["part"]
        if part == "days_since":
            result = (_value_like(s, self.p["reference"]) - s).dt.days
        elif part == "weekday_name":
            result = s.dt.day_name()
        else:
            result = getattr(s.dt, _ATTRIBUTES.get(part, part))
        df[self.p["output"]] = result
        return df

    def to_code(self) -> list[str]:
        return [f"{col(self.p['output'])} = {self._expression(col(self.p['column']))}"]

    def describe(self) -> str:
        c, part, out = q(self.p["column"]), self.p["part"], q(self.p["output"])
        if part == "days_since":
            return f"Set {out} to the number of days from {c} to {self.p['reference']}."
        words = {
            "weekday": "weekday number (Monday = 0)",
            "weekday_name": "weekday name",
        }.get(part, part)
        return f"Set {out} to the {words} of {c}."


def _literal_dtype(values: list[Any]) -> str:
    """The dtype of a column holding these constants (None = missing)."""
    present = [v for v in values if v is not None]
    has_missing = len(present) < len(values)
    if not present or all(isinstance(v, str) for v in present):
        return "str" if present else "object"
    if all(isinstance(v, bool) for v in present):
        return "boolean" if has_missing else "bool"
    if all(_is_number(v) for v in present):
        ints = all(isinstance(v, int) for v in present)
        return "int64" if ints and not has_missing else "float64"
    return "object"


class Conditional(Op):
    name, group, title = "conditional", "derived columns", "If / then"
    params = {
        "output": Param("name", required=True),
        "cases": Param("list", required=True, help="[{'when': [conditions], 'value': v}, ...]"),
        "default": Param("scalar", help="value when no case matches (default: missing)"),
    }
    helpers = (_value_like,)

    def check(self) -> None:
        cases = []
        for i, case in enumerate(self.p["cases"]):
            where = f"cases[{i}]"
            if not isinstance(case, dict) or not {"when", "value"} <= set(case):
                raise Invalid(f"{where} must be {{'when': [conditions], 'value': v}}", param=where)
            extra = set(case) - {"when", "value", "combine"}
            if extra:
                raise Invalid(f"{where} has an unknown key {q(sorted(extra)[0])}", param=where)
            combine = case.get("combine", "all")
            if combine not in ("all", "any"):
                raise Invalid(f"{where}.combine must be 'all' or 'any'", param=where)
            if not _is_scalar(case["value"]):
                raise Invalid(f"{where}.value must be a text, number, true/false or null")
            when = parse_conditions(case["when"], f"{where}.when")
            cases.append({"when": when, "combine": combine, "value": case["value"]})
        self.p["cases"] = cases
        if _literal_dtype(self._values()) == "object" and any(
            v is not None for v in self._values()
        ):
            raise Invalid("all values of the cases and the default must be of one type")

    def _values(self) -> list[Any]:
        return [c["value"] for c in self.p["cases"]] + [self.p["default"]]

    def validate(self, schema: Schema) -> Schema:
        for case in self.p["cases"]:
            validate_conditions(case["when"], schema)
        out = schema.copy()
        out[self.p["output"]] = _literal_dtype(self._values())
        return out

    def apply(self, df: pd.DataFrame, ctx: ApplyContext) -> pd.DataFrame:
        dtype = _literal_dtype(self._values())
        values = pd.Series(self.p["default"], index=df.index, dtype=dtype)
        for case in reversed(self.p["cases"]):  # the first matching case wins
            values = values.mask(conditions_mask(df, case["when"], case["combine"]), case["value"])
        df[self.p["output"]] = values
        return df

    def to_code(self) -> list[str]:
        dtype = _literal_dtype(self._values())
        lines = [f"values = pd.Series({lit(self.p['default'])}, index=df.index, dtype={dtype!r})"]
        for case in reversed(self.p["cases"]):
            mask = conditions_code(case["when"], case["combine"])
            lines.append(f"values = values.mask({mask}, {lit(case['value'])})")
        lines.append(f"{col(self.p['output'])} = values")
        return lines

    def describe(self) -> str:
        parts = [
            f"{c['value']!r} when {describe_conditions(c['when'], c['combine'])}"
            for c in self.p["cases"]
        ]
        default = self.p["default"]
        otherwise = "missing" if default is None else repr(default)
        return f"Set {q(self.p['output'])} to {'; else '.join(parts)}; otherwise {otherwise}."


class Concatenate(Op):
    name, group, title = "concatenate", "derived columns", "Join text"
    params = {
        "columns": Param("columns", required=True),
        "output": Param("name", required=True),
        "separator": Param("text", default=" "),
        "skip_missing": Param("boolean", default=True),
    }
    helpers = (_concat,)

    def validate(self, schema: Schema) -> Schema:
        self.need_all(schema, self.p["columns"])
        out = schema.copy()
        out[self.p["output"]] = "str"
        return out

    def apply(self, df: pd.DataFrame, ctx: ApplyContext) -> pd.DataFrame:
        p = self.p
        df[p["output"]] = _concat(df, p["columns"], p["separator"], p["skip_missing"])
        return df

    def to_code(self) -> list[str]:
        p = self.p
        args = f"{lit(p['columns'])}, {lit(p['separator'])}, {p['skip_missing']}"
        return [f"{col(p['output'])} = _concat(df, {args})"]

    def describe(self) -> str:
        missing = "skipping missing parts" if self.p["skip_missing"] else "missing if any is"
        return (
            f"Set {q(self.p['output'])} to {qlist(self.p['columns'])} joined with "
            f"{self.p['separator']!r} ({missing})."
        )


class Bin(Op):
    name, group, title = "bin", "derived columns", "Bin numbers"
    params = {
        "column": Param("column", required=True),
        "output": Param("name", help="default: '<column>_bin'"),
        "method": Param(
            "text", default="equal_width", choices=("equal_width", "quantile", "edges")
        ),
        "bins": Param("integer", default=5, minimum=1, maximum=1000),
        "edges": Param("numbers", help="for method 'edges': increasing bin limits"),
        "labels": Param("texts", help="one label per bin"),
    }
    helpers = (_bin_edges, _bin)

    def check(self) -> None:
        p = self.p
        if p["output"] is None:
            p["output"] = f"{p['column']}_bin"
        edges = p["edges"]
        if (p["method"] == "edges") != (edges is not None):
            raise Invalid("parameter 'edges' is needed for method 'edges', and only there")
        if edges is not None and (
            len(edges) < 2 or any(a >= b for a, b in zip(edges, edges[1:], strict=False))
        ):
            raise Invalid("parameter 'edges' must be at least two increasing numbers")
        count = len(edges) - 1 if edges is not None else p["bins"]
        if p["labels"] is not None and len(p["labels"]) != count:
            raise Invalid(f"give {count} labels, one per bin", param="labels")

    def validate(self, schema: Schema) -> Schema:
        self.need(schema, self.p["column"], ("numeric",), "numeric")
        out = schema.copy()
        out[self.p["output"]] = "category"
        return out

    def apply(self, df: pd.DataFrame, ctx: ApplyContext) -> pd.DataFrame:
        p, s = self.p, df[self.p["column"]]
        edges = p["edges"] if p["method"] == "edges" else _bin_edges(s, p["method"], p["bins"])
        df[p["output"]] = _bin(s, edges, p["labels"])
        return df

    def to_code(self) -> list[str]:
        p, s = self.p, col(self.p["column"])
        edges = lit(p["edges"]) if p["method"] == "edges" else None
        edges = edges or f"_bin_edges({s}, {lit(p['method'])}, {p['bins']})"
        return [f"{col(p['output'])} = _bin({s}, {edges}, {lit(p['labels'])})"]

    def describe(self) -> str:
        p = self.p
        how = {
            "equal_width": f"{p['bins']} equal-width bins",
            "quantile": f"{p['bins']} bins of equal counts",
            "edges": f"bins with limits {', '.join(f'{e:g}' for e in p['edges'] or [])}",
        }[p["method"]]
        return f"Set {q(p['output'])} to the bin of {q(p['column'])} ({how})."


# --- scaling ---------------------------------------------------------------------------------


class Scale(Op):
    name, group, title = "scale", "scaling", "Scale numbers"
    params = {
        "columns": Param("columns", required=True),
        "method": Param("text", required=True, choices=("minmax", "zscore", "robust")),
    }
    helpers = (_scale,)

    def validate(self, schema: Schema) -> Schema:
        self.need_all(schema, self.p["columns"], ("numeric",), "numeric")
        out = schema.copy()
        out.update({c: "float64" for c in self.p["columns"]})
        return out

    def apply(self, df: pd.DataFrame, ctx: ApplyContext) -> pd.DataFrame:
        for c in self.p["columns"]:
            df[c] = _scale(df[c], self.p["method"])
        return df

    def to_code(self) -> list[str]:
        return [f"{col(c)} = _scale({col(c)}, {lit(self.p['method'])})" for c in self.p["columns"]]

    def describe(self) -> str:
        how = {
            "minmax": "to the range 0 to 1 (min-max)",
            "zscore": "to mean 0 and standard deviation 1 (z-score)",
            "robust": "by subtracting the median and dividing by the IQR (robust)",
        }[self.p["method"]]
        return f"Scale {_columns(self.p['columns'])} {how}."


TRANSFORM_OPS: tuple[type[Op], ...] = (
    RenameColumns,
    DropColumns,
    SelectColumns,
    ReorderColumns,
    FilterRows,
    SortRows,
    SampleRows,
    Deduplicate,
    Arithmetic,
    DatePart,
    Conditional,
    Concatenate,
    Bin,
    Scale,
)
