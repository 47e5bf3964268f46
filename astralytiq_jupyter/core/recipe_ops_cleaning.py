"""Cleaning ops: missing values, duplicates, outliers, text and type conversions."""

from __future__ import annotations

from typing import Any

import pandas as pd

from .errors import Invalid
from .recipe_base import ApplyContext, Op, Param, Schema, col, lit, q, qlist
from .recipe_conditions import _check_timestamp, _tz_of
from .recipe_runtime import (
    CHARACTER_CLASSES,
    _apply_text,
    _fill_mode,
    _map_text,
    _outlier_bounds,
    _remove_characters,
    _to_boolean,
    _to_datetime,
    _to_number,
    _value_like,
)

TEXTUAL = ("text", "category")


def _columns(names: list[str]) -> str:
    return ("column " if len(names) == 1 else "columns ") + qlist(names)


# --- missing values ----------------------------------------------------------------------


class DropMissing(Op):
    name, group, title = "drop_missing", "missing values", "Drop missing"
    params = {
        "axis": Param("text", default="rows", choices=("rows", "columns")),
        "columns": Param("columns", help="rows: columns to look at; columns: candidates to drop"),
        "threshold": Param(
            "number", minimum=0, maximum=1, help="share of missing values (above 0) that drops"
        ),
    }

    def check(self) -> None:
        if self.p["threshold"] == 0:
            raise Invalid("parameter 'threshold' must be above 0", param="threshold")

    def validate(self, schema: Schema) -> Schema:
        self.need_all(schema, self.p["columns"] or ())
        # dropped columns depend on the data; a later step reading one fails at run time
        return schema.copy()

    def apply(self, df: pd.DataFrame, ctx: ApplyContext) -> pd.DataFrame:
        cols, threshold = self.p["columns"], self.p["threshold"]
        missing = (df[cols] if cols else df).isna()
        if self.p["axis"] == "rows":
            drop = missing.any(axis=1) if threshold is None else missing.mean(axis=1) >= threshold
            return df[~drop].reset_index(drop=True)
        share = missing.mean()
        drop = share > 0 if threshold is None else share >= threshold
        return df.drop(columns=list(share.index[drop]))

    def to_code(self) -> list[str]:
        cols, threshold = self.p["columns"], self.p["threshold"]
        frame = f"df[{lit(cols)}]" if cols else "df"
        if self.p["axis"] == "rows":
            test = ".any(axis=1)" if threshold is None else f".mean(axis=1) >= {threshold!r}"
            return [f"drop = {frame}.isna(){test}", "df = df[~drop].reset_index(drop=True)"]
        test = " > 0" if threshold is None else f" >= {threshold!r}"
        return [
            f"share = {frame}.isna().mean()",
            f"df = df.drop(columns=list(share.index[share{test}]))",
        ]

    def describe(self) -> str:
        cols, threshold = self.p["columns"], self.p["threshold"]
        among = f" among {qlist(cols)}" if cols else ""
        if self.p["axis"] == "rows":
            if threshold is None:
                return f"Drop rows with any missing value{among}."
            return f"Drop rows where at least {threshold:.0%} of the values{among} are missing."
        if threshold is None:
            return f"Drop columns{among} that have any missing value."
        return f"Drop columns{among} where at least {threshold:.0%} of the values are missing."


class FillMissing(Op):
    name, group, title = "fill_missing", "missing values", "Fill missing"
    params = {
        "columns": Param("columns", required=True),
        "strategy": Param(
            "text",
            required=True,
            choices=("constant", "mean", "median", "mode", "ffill", "bfill", "interpolate"),
        ),
        "value": Param("scalar", help="the constant, for strategy 'constant'"),
    }
    helpers = (_fill_mode, _value_like)

    def check(self) -> None:
        if self.p["strategy"] == "constant" and self.p["value"] is None:
            raise Invalid(
                "parameter 'value' is required when strategy is 'constant'", param="value"
            )
        if self.p["strategy"] != "constant" and self.p["value"] is not None:
            raise Invalid("parameter 'value' is only used with strategy 'constant'", param="value")

    def validate(self, schema: Schema) -> Schema:
        strategy, value = self.p["strategy"], self.p["value"]
        for c in self.p["columns"]:
            if strategy in ("mean", "median", "interpolate"):
                self.need(schema, c, ("numeric",), "numeric")
                continue
            kind = self.need(schema, c)
            if strategy != "constant":
                continue
            expected = {"numeric": (int, float), "boolean": (bool,), "datetime": (str,)}
            if kind in expected and (
                not isinstance(value, expected[kind])
                or (kind == "numeric" and isinstance(value, bool))
            ):
                raise Invalid(
                    f"column {q(c)} holds {kind} values; {value!r} cannot fill it", column=c
                )
            if kind == "datetime":
                _check_timestamp(value, _tz_of(schema[c]), c)
            if kind == "text" and not isinstance(value, str) and schema[c] != "object":
                raise Invalid(f"column {q(c)} holds text; fill it with a text value", column=c)
        return schema.copy()

    def apply(self, df: pd.DataFrame, ctx: ApplyContext) -> pd.DataFrame:
        strategy = self.p["strategy"]
        for c in self.p["columns"]:
            ctx.column = c
            s = df[c]
            if strategy == "constant":
                value = _value_like(s, self.p["value"])
                if isinstance(s.dtype, pd.CategoricalDtype) and value not in s.cat.categories:
                    s = s.cat.add_categories([value])
                df[c] = s.fillna(value)
            elif strategy in ("mean", "median"):
                df[c] = s.fillna(getattr(s, strategy)())
            elif strategy == "mode":
                df[c] = _fill_mode(s)
            else:
                df[c] = getattr(s, strategy)()
        return df

    def to_code(self) -> list[str]:
        strategy, lines = self.p["strategy"], []
        for c in self.p["columns"]:
            s = col(c)
            if strategy == "constant":
                value = self.p["value"]
                v = f"_value_like({s}, {lit(value)})" if isinstance(value, str) else lit(value)
                lines += [
                    f"value = {v}",
                    f"if isinstance({s}.dtype, pd.CategoricalDtype) and "
                    f"value not in {s}.cat.categories:",
                    f"    {s} = {s}.cat.add_categories([value])",
                    f"{s} = {s}.fillna(value)",
                ]
            elif strategy in ("mean", "median"):
                lines.append(f"{s} = {s}.fillna({s}.{strategy}())")
            elif strategy == "mode":
                lines.append(f"{s} = _fill_mode({s})")
            else:
                lines.append(f"{s} = {s}.{strategy}()")
        return lines

    def describe(self) -> str:
        how = {
            "constant": f"the value {self.p['value']!r}",
            "mean": "the column mean",
            "median": "the column median",
            "mode": "the most frequent value",
            "ffill": "the previous value (forward fill)",
            "bfill": "the next value (backward fill)",
            "interpolate": "values interpolated linearly between neighbours",
        }[self.p["strategy"]]
        return f"Fill missing values in {_columns(self.p['columns'])} with {how}."


# --- duplicates and outliers -----------------------------------------------------------------


class DropDuplicates(Op):
    name, group, title = "drop_duplicates", "duplicates", "Drop duplicates"
    params = {
        "columns": Param("columns", help="compare only these columns (default: all)"),
        "keep": Param("text", default="first", choices=("first", "last", "none")),
    }

    def validate(self, schema: Schema) -> Schema:
        self.need_all(schema, self.p["columns"] or ())
        return schema.copy()

    def _keep(self) -> Any:
        return False if self.p["keep"] == "none" else self.p["keep"]

    def apply(self, df: pd.DataFrame, ctx: ApplyContext) -> pd.DataFrame:
        out = df.drop_duplicates(subset=self.p["columns"], keep=self._keep())
        return out.reset_index(drop=True)

    def to_code(self) -> list[str]:
        subset = lit(self.p["columns"]) if self.p["columns"] else "None"
        return [
            f"df = df.drop_duplicates(subset={subset}, keep={self._keep()!r})"
            ".reset_index(drop=True)"
        ]

    def describe(self) -> str:
        basis = f"the same {qlist(self.p['columns'])}" if self.p["columns"] else "identical values"
        keep = {"first": "keeping the first", "last": "keeping the last", "none": "keeping none"}
        return f"Drop duplicate rows (rows with {basis}), {keep[self.p['keep']]} of each."


_OUTLIER_DEFAULTS = {"iqr": 1.5, "zscore": 3.0, "modified_zscore": 3.5}


class Outliers(Op):
    name, group, title = "outliers", "outliers", "Remove or clip outliers"
    params = {
        "columns": Param("columns", required=True),
        "method": Param("text", default="iqr", choices=tuple(_OUTLIER_DEFAULTS)),
        "action": Param("text", default="remove", choices=("remove", "clip")),
        "threshold": Param(
            "number",
            minimum=0,
            help="IQR multiple (1.5), z-score (3) or modified z-score (3.5) limit",
        ),
    }
    helpers = (_outlier_bounds,)

    def check(self) -> None:
        if self.p["threshold"] is None:
            self.p["threshold"] = _OUTLIER_DEFAULTS[self.p["method"]]

    def validate(self, schema: Schema) -> Schema:
        self.need_all(schema, self.p["columns"], ("numeric",), "numeric")
        return schema.copy()

    def apply(self, df: pd.DataFrame, ctx: ApplyContext) -> pd.DataFrame:
        method, threshold = self.p["method"], self.p["threshold"]
        bounds = {c: _outlier_bounds(df[c], method, threshold) for c in self.p["columns"]}
        if self.p["action"] == "clip":
            for c, (low, high) in bounds.items():
                ctx.note("clipped", c, int(((df[c] < low) | (df[c] > high)).sum()))
                df[c] = df[c].clip(low, high)
            return df
        outlier = pd.Series(False, index=df.index)
        for c, (low, high) in bounds.items():
            hit = ((df[c] < low) | (df[c] > high)).fillna(False)
            ctx.note("outliers", c, int(hit.sum()))
            outlier |= hit
        return df[~outlier].reset_index(drop=True)

    def to_code(self) -> list[str]:
        method, threshold = lit(self.p["method"]), lit(self.p["threshold"])
        if self.p["action"] == "clip":
            lines = []
            for c in self.p["columns"]:
                lines += [
                    f"low, high = _outlier_bounds({col(c)}, {method}, {threshold})",
                    f"{col(c)} = {col(c)}.clip(low, high)",
                ]
            return lines
        return [
            f"bounds = {{c: _outlier_bounds(df[c], {method}, {threshold}) "
            f"for c in {lit(self.p['columns'])}}}",
            "outlier = pd.Series(False, index=df.index)",
            "for c, (low, high) in bounds.items():",
            "    outlier |= ((df[c] < low) | (df[c] > high)).fillna(False)",
            "df = df[~outlier].reset_index(drop=True)",
        ]

    def describe(self) -> str:
        rule = {
            "iqr": f"more than {self.p['threshold']:g} IQR outside the quartiles",
            "zscore": f"more than {self.p['threshold']:g} standard deviations from the mean",
            "modified_zscore": f"a modified z-score above {self.p['threshold']:g}",
        }[self.p["method"]]
        cols = _columns(self.p["columns"])
        if self.p["action"] == "clip":
            return f"Clip values of {cols} with {rule} to that limit."
        return f"Remove rows whose {cols} has a value with {rule}."


# --- text -----------------------------------------------------------------------------------

# Unicode whitespace written out, so Python's re and pyarrow's RE2 match the same characters.
WHITESPACE = "[\t\n\x0b\x0c\r\x1c-\x1f \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]+"


class _TextOp(Op):
    """A text op: runs one ``.str`` transform on each column, whatever its text dtype."""

    helpers = (_apply_text,)

    def validate(self, schema: Schema) -> Schema:
        self.need_all(schema, self.p["columns"], TEXTUAL, "text")
        return schema.copy()

    def transform(self) -> str:
        """Code of the transform, applied to a Series called ``t``."""
        raise NotImplementedError

    def _run(self, t: pd.Series) -> pd.Series:
        raise NotImplementedError

    def apply(self, df: pd.DataFrame, ctx: ApplyContext) -> pd.DataFrame:
        for c in self.p["columns"]:
            ctx.column = c
            df[c] = _apply_text(df[c], self._run)
        return df

    def to_code(self) -> list[str]:
        return [
            f"{col(c)} = _apply_text({col(c)}, lambda t: {self.transform()})"
            for c in self.p["columns"]
        ]


class TextCase(_TextOp):
    name, group, title = "text_case", "text", "Change case"
    params = {
        "columns": Param("columns", required=True),
        "case": Param("text", required=True, choices=("lower", "upper", "title", "sentence")),
    }

    def _method(self) -> str:
        return "capitalize" if self.p["case"] == "sentence" else self.p["case"]

    def _run(self, t: pd.Series) -> pd.Series:
        return getattr(t.str, self._method())()

    def transform(self) -> str:
        return f"t.str.{self._method()}()"

    def describe(self) -> str:
        case = {"lower": "lower case", "upper": "upper case", "title": "title case"}
        words = case.get(self.p["case"], "sentence case")
        return f"Convert text in {_columns(self.p['columns'])} to {words}."


class Trim(_TextOp):
    name, group, title = "trim", "text", "Trim spaces"
    params = {
        "columns": Param("columns", required=True),
        "side": Param("text", default="both", choices=("both", "left", "right")),
    }

    def _method(self) -> str:
        return {"both": "strip", "left": "lstrip", "right": "rstrip"}[self.p["side"]]

    def _run(self, t: pd.Series) -> pd.Series:
        return getattr(t.str, self._method())()

    def transform(self) -> str:
        return f"t.str.{self._method()}()"

    def describe(self) -> str:
        side = {"both": "leading and trailing", "left": "leading", "right": "trailing"}
        return f"Remove {side[self.p['side']]} spaces in {_columns(self.p['columns'])}."


class CollapseSpaces(_TextOp):
    name, group, title = "collapse_spaces", "text", "Collapse spaces"
    params = {"columns": Param("columns", required=True)}

    def _run(self, t: pd.Series) -> pd.Series:
        return t.str.replace(WHITESPACE, " ", regex=True)

    def transform(self) -> str:
        return f"t.str.replace({lit(WHITESPACE)}, ' ', regex=True)"

    def describe(self) -> str:
        return (
            f"Replace each run of spaces, tabs or line breaks in {_columns(self.p['columns'])} "
            "with a single space."
        )


class FindReplace(_TextOp):
    name, group, title = "find_replace", "text", "Find and replace"
    params = {
        "columns": Param("columns", required=True),
        "find": Param("name", required=True, help="literal text, never a pattern"),
        "replace": Param("text", default=""),
        "match": Param("text", default="substring", choices=("substring", "whole")),
        "case_sensitive": Param("boolean", default=True),
    }

    def _run(self, t: pd.Series) -> pd.Series:
        find, repl, case = self.p["find"], self.p["replace"], self.p["case_sensitive"]
        if self.p["match"] == "substring":
            return t.str.replace(find, repl, regex=False, case=case)
        if case:
            return t.mask(t == find, repl)
        return t.mask(t.str.lower() == find.lower(), repl)

    def transform(self) -> str:
        find, repl, case = self.p["find"], self.p["replace"], self.p["case_sensitive"]
        if self.p["match"] == "substring":
            return f"t.str.replace({lit(find)}, {lit(repl)}, regex=False, case={case})"
        if case:
            return f"t.mask(t == {lit(find)}, {lit(repl)})"
        return f"t.mask(t.str.lower() == {lit(find.lower())}, {lit(repl)})"

    def describe(self) -> str:
        where = "every occurrence of" if self.p["match"] == "substring" else "values equal to"
        case = "" if self.p["case_sensitive"] else " (ignoring case)"
        return (
            f"In {_columns(self.p['columns'])}, replace {where} {self.p['find']!r}{case} "
            f"with {self.p['replace']!r}."
        )


class RemoveCharacters(Op):
    name, group, title = "remove_characters", "text", "Remove characters"
    params = {
        "columns": Param("columns", required=True),
        "classes": Param("texts", required=True, help=", ".join(CHARACTER_CLASSES)),
    }
    helpers = (_map_text, _remove_characters)
    imports = ("unicodedata",)

    def check(self) -> None:
        classes = self.p["classes"]
        bad = [c for c in classes if c not in CHARACTER_CLASSES]
        if not classes or bad:
            raise Invalid(
                f"parameter 'classes' takes a non-empty list of {', '.join(CHARACTER_CLASSES)}"
                + (f", not {bad[0]!r}" if bad else ""),
                param="classes",
            )

    def validate(self, schema: Schema) -> Schema:
        self.need_all(schema, self.p["columns"], TEXTUAL, "text")
        return schema.copy()

    def apply(self, df: pd.DataFrame, ctx: ApplyContext) -> pd.DataFrame:
        for c in self.p["columns"]:
            df[c] = _remove_characters(df[c], self.p["classes"])
        return df

    def to_code(self) -> list[str]:
        classes = lit(self.p["classes"])
        return [f"{col(c)} = _remove_characters({col(c)}, {classes})" for c in self.p["columns"]]

    def describe(self) -> str:
        classes = qlist(c.replace("_", "-") for c in self.p["classes"])
        return f"Remove {classes} characters from {_columns(self.p['columns'])}."


# --- types ------------------------------------------------------------------------------------


def _failure_check(
    ctx: ApplyContext, column: str, before: pd.Series, after: pd.Series, target: str
) -> None:
    """Count values a conversion could not read; a conversion that reads none is an error."""
    failed_mask = before.notna() & after.isna()
    failed = int(failed_mask.sum())
    ctx.note("failed", column, failed)
    if failed and failed == int(before.notna().sum()):
        examples = ", ".join(repr(v) for v in pd.unique(before[failed_mask].head(200))[:3])
        raise Invalid(
            f"none of the {failed} values in column {q(column)} could be read as {target} "
            f"(for example {examples})",
            column=column,
        )
    if failed:
        ctx.note("failed_examples", column, [str(v) for v in pd.unique(before[failed_mask])[:5]])


class ToNumber(Op):
    name, group, title = "to_number", "types", "Convert to number"
    params = {
        "columns": Param("columns", required=True),
        "thousands": Param("text", help="thousands separator to remove, e.g. ','"),
        "decimal": Param("text", default=".", help="decimal mark, e.g. ','"),
    }
    helpers = (_to_number,)

    def check(self) -> None:
        if len(self.p["decimal"]) != 1:
            raise Invalid("parameter 'decimal' must be one character", param="decimal")
        if self.p["thousands"] is not None and self.p["thousands"] in ("", self.p["decimal"]):
            raise Invalid("parameter 'thousands' must differ from 'decimal'", param="thousands")

    def validate(self, schema: Schema) -> Schema:
        out = schema.copy()
        for c in self.p["columns"]:
            kind = self.need(schema, c, ("numeric", "boolean", "text", "category", "other"))
            if kind != "numeric":
                out[c] = "float64"
        return out

    def apply(self, df: pd.DataFrame, ctx: ApplyContext) -> pd.DataFrame:
        for c in self.p["columns"]:
            ctx.column = c
            before = df[c]
            df[c] = _to_number(before, self.p["thousands"], self.p["decimal"])
            _failure_check(ctx, c, before, df[c], "numbers")
        return df

    def to_code(self) -> list[str]:
        args = f"{lit(self.p['thousands'])}, {lit(self.p['decimal'])}"
        return [f"{col(c)} = _to_number({col(c)}, {args})" for c in self.p["columns"]]

    def describe(self) -> str:
        extra = []
        if self.p["thousands"]:
            extra.append(f"ignoring the thousands separator {self.p['thousands']!r}")
        if self.p["decimal"] != ".":
            extra.append(f"reading {self.p['decimal']!r} as the decimal mark")
        more = f" ({', '.join(extra)})" if extra else ""
        return (
            f"Convert {_columns(self.p['columns'])} to numbers{more}; "
            "values that are not numbers become missing."
        )


class ToDatetime(Op):
    name, group, title = "to_datetime", "types", "Convert to date/time"
    params = {
        "columns": Param("columns", required=True),
        "format": Param(
            "name", help="strftime format like '%d/%m/%Y', 'ISO8601' or 'mixed'; default: inferred"
        ),
        "dayfirst": Param("boolean", default=False),
        "utc": Param("boolean", default=False, help="convert to UTC (needed for mixed offsets)"),
        "unit": Param("text", choices=("s", "ms", "us", "ns", "D"), help="for numeric epochs"),
    }
    helpers = (_to_datetime,)

    def validate(self, schema: Schema) -> Schema:
        out = schema.copy()
        for c in self.p["columns"]:
            kind = self.need(schema, c, ("datetime", "text", "category", "numeric", "other"))
            if kind == "numeric" and self.p["unit"] is None:
                raise Invalid(
                    f"column {q(c)} holds numbers; set 'unit' to say what they count since "
                    "1970-01-01 ('s' for seconds, 'ms' for milliseconds...)",
                    column=c,
                )
            if kind == "datetime":
                out[c] = "datetime64[ns, UTC]" if self.p["utc"] else schema[c]
            else:
                out[c] = "datetime64[ns, UTC]" if self.p["utc"] else "datetime64[ns]"
        return out

    def apply(self, df: pd.DataFrame, ctx: ApplyContext) -> pd.DataFrame:
        p = self.p
        for c in p["columns"]:
            ctx.column = c
            before = df[c]
            try:
                df[c] = _to_datetime(before, p["format"], p["dayfirst"], p["utc"], p["unit"])
            except ValueError as error:
                if "utc=True" in str(error) or "timezone" in str(error).lower():
                    raise Invalid(
                        f"column {q(c)} mixes time zones; set 'utc' to true to convert them all "
                        "to UTC",
                        column=c,
                    ) from error
                raise
            _failure_check(ctx, c, before, df[c], "dates")
        return df

    def to_code(self) -> list[str]:
        p = self.p
        args = f"{lit(p['format'])}, {p['dayfirst']}, {p['utc']}, {lit(p['unit'])}"
        return [f"{col(c)} = _to_datetime({col(c)}, {args})" for c in p["columns"]]

    def describe(self) -> str:
        how = (
            f"with the format {self.p['format']!r}" if self.p["format"] else "inferring the format"
        )
        if self.p["unit"]:
            how += f" (numbers count {self.p['unit']} since 1970-01-01)"
        if self.p["dayfirst"]:
            how += ", day first"
        if self.p["utc"]:
            how += ", converted to UTC"
        return (
            f"Convert {_columns(self.p['columns'])} to dates {how}; "
            "values that are not dates become missing."
        )


class ToCategory(Op):
    name, group, title = "to_category", "types", "Convert to category"
    params = {
        "columns": Param("columns", required=True),
        "categories": Param("scalars", help="allowed values in order; others become missing"),
        "ordered": Param("boolean", default=False),
    }

    def check(self) -> None:
        cats = self.p["categories"]
        if cats is not None and (not cats or len({repr(c) for c in cats}) != len(cats)):
            raise Invalid("parameter 'categories' must list distinct values", param="categories")
        if self.p["ordered"] and cats is None:
            raise Invalid("an ordered category needs its 'categories' in order", param="ordered")

    def _dtype(self) -> str:
        if self.p["categories"] is None:
            return "'category'"
        return f"pd.CategoricalDtype({lit(self.p['categories'])}, ordered={self.p['ordered']})"

    def validate(self, schema: Schema) -> Schema:
        out = schema.copy()
        cats = self.p["categories"] or []
        for c in self.p["columns"]:
            kind = self.need(schema, c, ("text", "category", "numeric", "boolean", "other"))
            want = {"numeric": (int, float), "text": (str,), "boolean": (bool,)}.get(kind, object)
            wrong = [v for v in cats if not isinstance(v, want)]
            if kind == "numeric":
                wrong += [v for v in cats if isinstance(v, bool)]
            if wrong:
                raise Invalid(f"the categories do not match the {kind} values of {q(c)}", column=c)
            out[c] = "category"
        return out

    def apply(self, df: pd.DataFrame, ctx: ApplyContext) -> pd.DataFrame:
        cats = self.p["categories"]
        dtype = "category" if cats is None else pd.CategoricalDtype(cats, ordered=self.p["ordered"])
        for c in self.p["columns"]:
            ctx.column = c
            before = df[c]
            df[c] = (before if cats is None else before.where(before.isin(cats))).astype(dtype)
            if cats is not None:
                ctx.note("not_in_categories", c, int((before.notna() & df[c].isna()).sum()))
        return df

    def to_code(self) -> list[str]:
        cats = self.p["categories"]
        return [
            f"{col(c)} = {col(c)}.astype({self._dtype()})"
            if cats is None
            else f"{col(c)} = {col(c)}.where({col(c)}.isin({lit(cats)})).astype({self._dtype()})"
            for c in self.p["columns"]
        ]

    def describe(self) -> str:
        text = f"Convert {_columns(self.p['columns'])} to categories"
        if self.p["categories"] is not None:
            order = "ordered " if self.p["ordered"] else ""
            text += f" with the {order}values {qlist(self.p['categories'])}; others become missing"
        return text + "."


_TRUE = ["true", "t", "yes", "y", "1", "on"]
_FALSE = ["false", "f", "no", "n", "0", "off"]


class ToBoolean(Op):
    name, group, title = "to_boolean", "types", "Convert to true/false"
    params = {
        "columns": Param("columns", required=True),
        "true_values": Param("texts", default=_TRUE),
        "false_values": Param("texts", default=_FALSE),
    }
    helpers = (_to_boolean,)

    def check(self) -> None:
        for key in ("true_values", "false_values"):
            self.p[key] = [v.strip().lower() for v in self.p[key]]
        if set(self.p["true_values"]) & set(self.p["false_values"]):
            raise Invalid("a value cannot be both true and false", param="true_values")

    def validate(self, schema: Schema) -> Schema:
        out = schema.copy()
        for c in self.p["columns"]:
            self.need(schema, c, ("boolean", "numeric", "text", "category", "other"))
            out[c] = "boolean"
        return out

    def apply(self, df: pd.DataFrame, ctx: ApplyContext) -> pd.DataFrame:
        for c in self.p["columns"]:
            ctx.column = c
            before = df[c]
            df[c] = _to_boolean(before, self.p["true_values"], self.p["false_values"])
            _failure_check(ctx, c, before, df[c], "true/false")
        return df

    def to_code(self) -> list[str]:
        args = f"{lit(self.p['true_values'])}, {lit(self.p['false_values'])}"
        return [f"{col(c)} = _to_boolean({col(c)}, {args})" for c in self.p["columns"]]

    def describe(self) -> str:
        return (
            f"Convert {_columns(self.p['columns'])} to true/false (true: "
            f"{', '.join(self.p['true_values'])}; false: {', '.join(self.p['false_values'])}); "
            "other values become missing."
        )


class ToText(Op):
    name, group, title = "to_text", "types", "Convert to text"
    params = {"columns": Param("columns", required=True)}

    def validate(self, schema: Schema) -> Schema:
        out = schema.copy()
        for c in self.p["columns"]:
            self.need(schema, c)
            out[c] = "str"
        return out

    def apply(self, df: pd.DataFrame, ctx: ApplyContext) -> pd.DataFrame:
        for c in self.p["columns"]:
            df[c] = df[c].astype("str")
        return df

    def to_code(self) -> list[str]:
        return [f"{col(c)} = {col(c)}.astype('str')" for c in self.p["columns"]]

    def describe(self) -> str:
        return f"Convert {_columns(self.p['columns'])} to text."


CLEANING_OPS: tuple[type[Op], ...] = (
    DropMissing,
    FillMissing,
    DropDuplicates,
    Outliers,
    TextCase,
    Trim,
    CollapseSpaces,
    RemoveCharacters,
    FindReplace,
    ToNumber,
    ToDatetime,
    ToCategory,
    ToBoolean,
    ToText,
)
