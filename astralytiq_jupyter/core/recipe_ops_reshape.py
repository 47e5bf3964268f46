"""Reshape ops: group-by with aggregations, pivot, and join with another dataset of the tenant."""

from __future__ import annotations

from typing import Any

import pandas as pd

from .errors import Invalid
from .recipe_base import UNKNOWN, ApplyContext, Op, Param, Schema, kind_of, lit, q, qlist, schema_of

# function -> (kinds it accepts, result dtype or None for "same as the column")
AGGREGATIONS: dict[str, tuple[tuple[str, ...], str | None]] = {
    "count": ((), "int64"),
    "nunique": ((), "int64"),
    "sum": (("numeric", "boolean"), "float64"),
    "mean": (("numeric", "boolean"), "float64"),
    "median": (("numeric",), "float64"),
    "std": (("numeric",), "float64"),
    "var": (("numeric",), "float64"),
    "min": (("numeric", "datetime", "text", "timedelta"), None),
    "max": (("numeric", "datetime", "text", "timedelta"), None),
    "first": ((), None),
    "last": ((), None),
    "count_rows": ((), "int64"),
}
_WORDS = {
    "count": "number of values",
    "nunique": "number of distinct values",
    "std": "standard deviation",
    "var": "variance",
    "count_rows": "number of rows",
}


class GroupBy(Op):
    name, group, title = "group_by", "reshape", "Group and summarise"
    params = {
        "by": Param("columns", required=True),
        "aggregations": Param(
            "list", required=True, help="[{'column': c, 'function': f, 'output': name}, ...]"
        ),
    }

    def check(self) -> None:
        aggs = []
        for i, raw in enumerate(self.p["aggregations"]):
            where = f"aggregations[{i}]"
            if not isinstance(raw, dict) or set(raw) - {"column", "function", "output"}:
                raise Invalid(f"{where} must be {{'column', 'function', 'output'}}", param=where)
            fn, column = raw.get("function"), raw.get("column")
            if fn not in AGGREGATIONS:
                raise Invalid(
                    f"{where}: unknown function {fn!r}; use one of {', '.join(AGGREGATIONS)}",
                    param=where,
                )
            if fn != "count_rows" and not (isinstance(column, str) and column):
                raise Invalid(f"{where}: '{fn}' needs a 'column'", param=where)
            if fn == "count_rows" and column is not None:
                raise Invalid(f"{where}: 'count_rows' takes no column", param=where)
            output = raw.get("output") or ("rows" if fn == "count_rows" else f"{column}_{fn}")
            if not isinstance(output, str):
                raise Invalid(f"{where}: 'output' must be a name", param=where)
            aggs.append({"column": column, "function": fn, "output": output})
        names = list(self.p["by"]) + [a["output"] for a in aggs]
        for name in names:
            if names.count(name) > 1:
                raise Invalid(f"the result would have two columns named {q(name)}", column=name)
        self.p["aggregations"] = aggs

    def validate(self, schema: Schema) -> Schema:
        self.need_all(schema, self.p["by"])
        out = Schema({c: schema.get(c, UNKNOWN) for c in self.p["by"]})
        for agg in self.p["aggregations"]:
            kinds, dtype = AGGREGATIONS[agg["function"]]
            if agg["column"] is not None:
                self.need(schema, agg["column"], kinds)
            out[agg["output"]] = dtype or schema.get(agg["column"], UNKNOWN)
        return out

    def _spec(self) -> dict[str, tuple[str, str]]:
        first_key = self.p["by"][0]
        return {
            a["output"]: (first_key, "size")
            if a["function"] == "count_rows"
            else (a["column"], a["function"])
            for a in self.p["aggregations"]
        }

    def apply(self, df: pd.DataFrame, ctx: ApplyContext) -> pd.DataFrame:
        grouped = df.groupby(self.p["by"], dropna=False, sort=True, observed=True)
        return grouped.agg(**self._spec()).reset_index()

    def to_code(self) -> list[str]:
        return [
            f"df = df.groupby({lit(self.p['by'])}, dropna=False, sort=True, observed=True)"
            f".agg(**{lit(self._spec())}).reset_index()"
        ]

    def describe(self) -> str:
        parts = []
        for a in self.p["aggregations"]:
            what = _WORDS.get(a["function"], a["function"])
            source = "" if a["column"] is None else f" of {q(a['column'])}"
            parts.append(f"{q(a['output'])} = {what}{source}")
        return f"Group rows by {qlist(self.p['by'])} and compute {', '.join(parts)}."


class Pivot(Op):
    name, group, title = "pivot", "reshape", "Pivot"
    params = {
        "index": Param("columns", required=True, help="columns kept as rows"),
        "columns": Param("column", required=True, help="its values become new columns"),
        "values": Param("column", required=True),
        "function": Param(
            "text",
            default="sum",
            choices=("sum", "mean", "median", "min", "max", "count", "nunique", "first", "last"),
        ),
        "fill_value": Param("number", help="value for empty cells (default: missing)"),
    }

    def validate(self, schema: Schema) -> Schema:
        p = self.p
        self.need_all(schema, p["index"])
        self.need(schema, p["columns"])
        kinds = AGGREGATIONS[p["function"]][0]
        self.need(schema, p["values"], kinds)
        if p["columns"] in p["index"] or p["values"] in p["index"] + [p["columns"]]:
            raise Invalid("'index', 'columns' and 'values' must be different columns")
        # the new columns are the distinct values of 'columns': only known with the data
        return Schema({c: schema.get(c, UNKNOWN) for c in p["index"]}, open=True)

    def apply(self, df: pd.DataFrame, ctx: ApplyContext) -> pd.DataFrame:
        p = self.p
        table = df.pivot_table(
            index=p["index"],
            columns=p["columns"],
            values=p["values"],
            aggfunc=p["function"],
            fill_value=p["fill_value"],
            observed=True,
            sort=True,
        )
        table.columns = [str(c) for c in table.columns]
        clash = set(table.columns) & set(p["index"])
        if clash:
            name = sorted(clash)[0]
            raise Invalid(
                f"a value of {q(p['columns'])} is also the name of the index column {q(name)}",
                column=name,
            )
        return table.reset_index()

    def to_code(self) -> list[str]:
        p = self.p
        return [
            f"table = df.pivot_table(index={lit(p['index'])}, columns={lit(p['columns'])}, "
            f"values={lit(p['values'])}, aggfunc={lit(p['function'])}, "
            f"fill_value={lit(p['fill_value'])}, observed=True, sort=True)",
            "table.columns = [str(c) for c in table.columns]",
            "df = table.reset_index()",
        ]

    def describe(self) -> str:
        p = self.p
        fill = "" if p["fill_value"] is None else f", empty cells set to {p['fill_value']:g}"
        return (
            f"Pivot: one row per {qlist(p['index'])}, one column per value of {q(p['columns'])}, "
            f"holding the {_WORDS.get(p['function'], p['function'])} of {q(p['values'])}{fill}."
        )


def _key_kind(dtype: str) -> str:
    kind = kind_of(dtype)
    return "text" if kind == "category" else kind


class Join(Op):
    name, group, title = "join", "reshape", "Join a dataset"
    params = {
        "dataset": Param("name", required=True, help="dataset reference: 'customers' or 'x@2'"),
        "on": Param("columns", help="key columns with the same name on both sides"),
        "left_on": Param("columns"),
        "right_on": Param("columns"),
        "how": Param("text", default="left", choices=("left", "inner", "right", "outer")),
        "suffix": Param("name", default="_right", help="added to clashing right-hand names"),
    }
    dataset_param = "dataset"

    def check(self) -> None:
        p = self.p
        if p["on"] is not None:
            if p["left_on"] is not None or p["right_on"] is not None:
                raise Invalid("give either 'on' or 'left_on' and 'right_on', not both")
        elif p["left_on"] is None or p["right_on"] is None:
            raise Invalid("give the key columns: 'on', or 'left_on' and 'right_on'", param="on")
        elif len(p["left_on"]) != len(p["right_on"]):
            raise Invalid("'left_on' and 'right_on' need the same number of columns")

    def keys(self) -> tuple[list[str], list[str]]:
        p = self.p
        return (p["on"], p["on"]) if p["on"] is not None else (p["left_on"], p["right_on"])

    def validate(self, schema: Schema, right: Schema | None = None) -> Schema:
        left_keys, right_keys = self.keys()
        self.need_all(schema, left_keys)
        if right is None:
            out = schema.copy()
            out.open = True
            return out
        ref = self.p["dataset"]
        for lk, rk in zip(left_keys, right_keys, strict=True):
            if rk not in right:
                raise Invalid(
                    f"column {q(rk)} does not exist in dataset {q(ref)}; it has "
                    + ", ".join(q(c) for c in list(right)[:20]),
                    column=rk,
                )
            if lk not in schema or UNKNOWN in (schema[lk], right[rk]):
                continue
            lt, rt = schema[lk], right[rk]
            lkind, rkind = _key_kind(lt), _key_kind(rt)
            tz_differs = lkind == rkind == "datetime" and (", " in lt) != (", " in rt)
            if lkind != rkind or tz_differs:
                raise Invalid(
                    f"cannot join column {q(lk)} ({lt}) with column {q(rk)} ({rt}) of dataset "
                    f"{q(ref)}: the key types differ; convert one side first "
                    "(to_number, to_text or to_datetime)",
                    column=lk,
                    right_column=rk,
                )
        out = schema.copy()
        shared_keys = set(right_keys) if self.p["on"] is not None else set()
        for c, t in right.items():
            if c in shared_keys:
                continue
            out[c + self.p["suffix"] if c in schema else c] = t
        return out

    def _merge_args(self) -> dict[str, Any]:
        p = self.p
        keys = {"on": p["on"]} if p["on"] is not None else {}
        keys = keys or {"left_on": p["left_on"], "right_on": p["right_on"]}
        return {**keys, "how": p["how"], "suffixes": ("", p["suffix"])}

    def apply(self, df: pd.DataFrame, ctx: ApplyContext) -> pd.DataFrame:
        ref = self.p["dataset"]
        if ctx.datasets is None:
            raise Invalid(f"this step joins dataset {q(ref)}, but no dataset loader was given")
        right = ctx.datasets(ref)
        self.validate(schema_of(df), schema_of(right))
        suffix, shared = self.p["suffix"], set(self.p["on"] or ())
        clash = [
            c for c in right.columns if c in df.columns and c not in shared and c + suffix in df
        ]
        if clash:
            raise Invalid(
                f"column {q(clash[0] + self.p['suffix'])} exists on both sides; choose another "
                "'suffix'",
                column=clash[0],
            )
        ctx.note("right_rows", None, len(right))
        return df.merge(right, **self._merge_args())

    def to_code(self) -> list[str]:
        args = ", ".join(f"{k}={lit(v)}" for k, v in self._merge_args().items())
        return [
            "if datasets is None:",
            "    raise ValueError('pass datasets=, a function loading a dataset by reference')",
            f"df = df.merge(datasets({lit(self.p['dataset'])}), {args})",
        ]

    def describe(self) -> str:
        left_keys, right_keys = self.keys()
        if left_keys == right_keys:
            on = f"on {qlist(left_keys)}"
        else:
            on = f"matching {qlist(left_keys)} with {qlist(right_keys)}"
        kind = {
            "left": "keeping every row of this data",
            "inner": "keeping only matching rows",
            "right": f"keeping every row of {q(self.p['dataset'])}",
            "outer": "keeping all rows of both",
        }[self.p["how"]]
        return f"Join dataset {q(self.p['dataset'])} {on}, {kind}."


RESHAPE_OPS: tuple[type[Op], ...] = (GroupBy, Pivot, Join)
