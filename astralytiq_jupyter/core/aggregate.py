"""Aggregations next to the data: a dataset version summarised by groups and time buckets,
for charts and KPI cards (Explore, dashboards), so only aggregates ever reach a browser.

A query is structured, never code::

    {"group_by": ["region"], "time": {"column": "date", "unit": "month"},
     "metrics": [{"column": "revenue", "function": "sum"}, {"function": "count"}],
     "filters": [{"column": "channel", "op": "in", "value": ["web"]}], "limit": 1000}

Rows are filtered with the recipes' own condition semantics (``recipe_conditions``: one
meaning of ``between``, ``in``, missing values... everywhere), then grouped by DuckDB over the
Arrow columns read from the stored Parquet. Column names reach SQL only as quoted identifiers
checked against the version's schema; functions and units come from fixed tables.
"""

from __future__ import annotations

import math
import threading
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pandas as pd
import pyarrow as pa

from .errors import Invalid
from .limits import MAX_SEED, check_int
from .recipe_base import Schema, kind_of, need_column
from .recipe_conditions import conditions_mask, parse_conditions, validate_conditions

__all__ = [
    "FUNCTIONS",
    "MAX_GROUPS",
    "UNITS",
    "Aggregate",
    "AggregateQuery",
    "ColumnCache",
    "aggregate",
]

#: function -> (SQL template over a quoted column, kinds it accepts, needs a column)
FUNCTIONS: Mapping[str, tuple[str, tuple[str, ...], bool]] = {
    "count": ("count(*)", (), False),
    "count_distinct": ("count(DISTINCT {c})", (), True),
    "sum": ("sum({c})", ("numeric", "boolean"), True),
    "mean": ("avg({c})", ("numeric", "boolean"), True),
    "median": ("median({c})", ("numeric", "datetime"), True),
    "q1": ("quantile_cont({c}, 0.25)", ("numeric",), True),
    "q3": ("quantile_cont({c}, 0.75)", ("numeric",), True),
    "min": ("min({c})", ("numeric", "datetime", "text", "boolean"), True),
    "max": ("max({c})", ("numeric", "datetime", "text", "boolean"), True),
}
UNITS = ("hour", "day", "week", "month", "quarter", "year")
MAX_GROUPS = 10_000
MAX_METRICS = 20
MAX_GROUP_COLUMNS = 4
MAX_FILTERS = 50  # a dashboard has a handful; more is a mistake or an attempt to burn CPU


MAX_SAMPLE = 100_000


def check_sample(n: Any, seed: Any) -> None:
    """The bounds of a sample request (checked before any row is read)."""
    check_int(n, "n", 1, MAX_SAMPLE)
    check_int(seed, "seed", 0, MAX_SEED)


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


@dataclass(frozen=True)
class AggregateQuery:
    """A validated aggregation (see the module docstring for the JSON form)."""

    group_by: tuple[str, ...] = ()
    time: tuple[str, str] | None = None  # (column, unit)
    metrics: tuple[tuple[str, str | None, str], ...] = (("count", None, "rows"),)
    filters: tuple[dict[str, Any], ...] = ()
    combine: str = "all"
    limit: int = 1000

    @classmethod
    def parse(cls, spec: Mapping[str, Any], schema: Mapping[str, str]) -> AggregateQuery:
        """Check a JSON query against a version's ``schema``; errors say what to change."""
        if not isinstance(spec, Mapping):
            raise Invalid("An aggregation must be an object with 'metrics', 'group_by'...")
        unknown = set(spec) - {"group_by", "time", "metrics", "filters", "combine", "limit"}
        if unknown:
            raise Invalid(f"Unknown aggregation field(s): {', '.join(sorted(unknown))}.")
        schema = Schema(schema)
        group_by = spec.get("group_by") or []
        if not isinstance(group_by, list) or not all(isinstance(c, str) for c in group_by):
            raise Invalid("'group_by' must be a list of column names.")
        if len(group_by) > MAX_GROUP_COLUMNS or len(set(group_by)) != len(group_by):
            raise Invalid(f"'group_by' takes at most {MAX_GROUP_COLUMNS} distinct columns.")
        for column in group_by:
            need_column(schema, column)
        time = spec.get("time")
        parsed_time = None
        if time is not None:
            if not isinstance(time, Mapping) or set(time) - {"column", "unit"}:
                raise Invalid("'time' must be {'column': <date column>, 'unit': 'month'}.")
            column, unit = time.get("column"), time.get("unit", "day")
            if not isinstance(column, str):
                raise Invalid("'time' needs the 'column' of dates to bucket.")
            need_column(schema, column, ("datetime",), "date")
            if unit not in UNITS:
                raise Invalid(f"Unknown time unit {unit!r}; use one of {', '.join(UNITS)}.")
            if column in group_by:
                raise Invalid(f"Column '{column}' is both the time axis and a group.")
            parsed_time = (column, unit)
        metrics = spec.get("metrics") or [{"function": "count"}]
        if not isinstance(metrics, list) or not 1 <= len(metrics) <= MAX_METRICS:
            raise Invalid(f"'metrics' must be a list of 1 to {MAX_METRICS} metrics.")
        parsed_metrics = []
        for i, metric in enumerate(metrics):
            parsed_metrics.append(_parse_metric(metric, i, schema))
        names = [
            *group_by,
            *([parsed_time[0]] if parsed_time else []),
            *(m[2] for m in parsed_metrics),
        ]
        if len(set(names)) != len(names):
            raise Invalid("Output names repeat; give metrics distinct 'as' names.")
        parsed_filters = parse_filters(spec.get("filters"), schema)
        combine = spec.get("combine", "all")
        if combine not in ("all", "any"):
            raise Invalid("'combine' must be 'all' or 'any'.")
        limit = spec.get("limit", 1000)
        if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= MAX_GROUPS:
            raise Invalid(f"'limit' must be a whole number from 1 to {MAX_GROUPS:,}.")
        return cls(
            tuple(group_by),
            parsed_time,
            tuple(parsed_metrics),
            tuple(parsed_filters),
            combine,
            limit,
        )

    @property
    def columns(self) -> list[str]:
        """Every column the query reads (the only ones read from storage)."""
        wanted = [*self.group_by]
        if self.time:
            wanted.append(self.time[0])
        wanted += [c for _f, c, _n in self.metrics if c is not None]
        wanted += [f["column"] for f in self.filters]
        return list(dict.fromkeys(wanted))

    def to_dict(self) -> dict[str, Any]:
        return {
            "group_by": list(self.group_by),
            "time": {"column": self.time[0], "unit": self.time[1]} if self.time else None,
            "metrics": [{"function": f, "column": c, "as": n} for f, c, n in self.metrics],
            "filters": [dict(f) for f in self.filters],
            "combine": self.combine,
            "limit": self.limit,
        }


def parse_filters(filters: Any, schema: Mapping[str, str]) -> list[dict[str, Any]]:
    """Filter conditions (as in recipes' ``filter_rows``) checked against ``schema``."""
    if not filters:
        return []
    if isinstance(filters, list) and len(filters) > MAX_FILTERS:
        raise Invalid(f"'filters' takes at most {MAX_FILTERS} conditions.")
    parsed = parse_conditions(filters, "filters")
    validate_conditions(parsed, Schema(schema))
    return parsed


def apply_filters(
    table: pa.Table, conditions: Sequence[dict[str, Any]], combine: str = "all"
) -> pa.Table:
    """The rows of ``table`` meeting the conditions, with the recipes' own semantics."""
    if not conditions:
        return table
    frame = table.select(list(dict.fromkeys(c["column"] for c in conditions))).to_pandas()
    mask = conditions_mask(frame, list(conditions), combine)
    return table.filter(pa.array(mask.to_numpy(dtype=bool)))


def _parse_metric(metric: Any, i: int, schema: Schema) -> tuple[str, str | None, str]:
    where = f"metrics[{i}]"
    if not isinstance(metric, Mapping) or set(metric) - {"function", "column", "as"}:
        raise Invalid(f"{where} must be {{'function': 'sum', 'column': 'revenue', 'as': name}}.")
    function, column, name = metric.get("function"), metric.get("column"), metric.get("as")
    if function not in FUNCTIONS:
        raise Invalid(f"{where}: unknown function {function!r}; use one of {', '.join(FUNCTIONS)}.")
    _sql, kinds, needs_column = FUNCTIONS[function]
    if needs_column:
        if not isinstance(column, str):
            raise Invalid(f"{where}: '{function}' needs a 'column'.")
        need_column(schema, column, kinds, " or ".join(kinds))
    elif column is not None:
        raise Invalid(f"{where}: 'count' counts rows and takes no column.")
    if name is None:
        name = "rows" if function == "count" else f"{function}_{column}"
    if not isinstance(name, str) or not name or len(name) > 200:
        raise Invalid(f"{where}: 'as' must be a non-empty name.")
    return function, column, name


@dataclass
class Aggregate:
    """The answer: one row per group (and time bucket), with how many rows it summarises."""

    frame: pd.DataFrame
    rows_total: int
    rows_matched: int
    groups: int
    truncated: bool
    query: dict[str, Any]

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe: dates as ISO text, missing and non-finite numbers as null."""
        columns = [str(c) for c in self.frame.columns]
        rows = [[_json_cell(v) for v in row] for row in self.frame.itertuples(index=False)]
        return {
            "columns": columns,
            "dtypes": [str(t) for t in self.frame.dtypes],
            "rows": rows,
            "rows_total": self.rows_total,
            "rows_matched": self.rows_matched,
            "groups": self.groups,
            "truncated": self.truncated,
            "query": self.query,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Aggregate:
        frame = pd.DataFrame(data["rows"], columns=data["columns"])
        for column, dtype in zip(data["columns"], data.get("dtypes", []), strict=False):
            if dtype.startswith("datetime64"):
                frame[column] = pd.to_datetime(frame[column])
        return cls(
            frame,
            data["rows_total"],
            data["rows_matched"],
            data["groups"],
            data["truncated"],
            dict(data.get("query") or {}),
        )

    def __repr__(self) -> str:
        return (
            f"Aggregate(groups={self.groups}, rows_matched={self.rows_matched}, "
            f"rows_total={self.rows_total}, truncated={self.truncated})"
        )

    def _repr_html_(self) -> str:
        caption = (
            f"{self.groups:,} group(s) from {self.rows_matched:,} of {self.rows_total:,} rows"
            + (f"; first {len(self.frame):,} shown" if self.truncated else "")
        )
        return f"<p>{caption}</p>" + self.frame.to_html(index=False, max_rows=50)


def _json_cell(v: Any) -> Any:
    if v is None or v is pd.NaT:
        return None
    if isinstance(v, pd.Timestamp):
        return v.isoformat()
    if isinstance(v, float):
        return v if math.isfinite(v) else None
    if hasattr(v, "item"):
        return _json_cell(v.item())
    try:
        if pd.isna(v):
            return None
    except (TypeError, ValueError):
        pass
    return v


def aggregate(table: pa.Table, query: AggregateQuery) -> Aggregate:
    """Run ``query`` over ``table`` (which holds at least ``query.columns``)."""
    import duckdb

    total = table.num_rows
    table = apply_filters(table, query.filters, query.combine)
    matched = table.num_rows
    # keys and ordering by position: a time bucket keeps its column's name, and by name
    # GROUP BY would mean the raw column rather than the bucket
    select = [_quote(c) for c in query.group_by]
    if query.time is not None:
        column, unit = query.time
        select.append(f"date_trunc('{unit}', {_quote(column)}) AS {_quote(column)}")
    keys = [str(i + 1) for i in range(len(select))]
    for function, column, name in query.metrics:
        template = FUNCTIONS[function][0]
        select.append(template.format(c=_quote(column) if column else "") + f" AS {_quote(name)}")
    group = f" GROUP BY {', '.join(keys)}" if keys else ""
    if query.time is not None:  # along the time axis, then by group
        order = f" ORDER BY {keys[-1]}" + "".join(f", {k}" for k in keys[:-1])
    elif keys:  # biggest first
        order = f" ORDER BY {len(keys) + 1} DESC NULLS LAST, " + ", ".join(keys)
    else:
        order = ""
    sql = f"SELECT {', '.join(select)} FROM data{group}{order}"  # noqa: S608 - quoted, checked
    if table.num_columns == 0:  # only count(*): DuckDB needs a column to scan
        table = pa.table({"__row": pa.nulls(table.num_rows)})
    # No file system access, whatever the SQL: only the registered table can be read.
    with duckdb.connect(config={"enable_external_access": False}) as con:
        con.register("data", table)
        groups = con.sql(f"SELECT count(*) FROM ({sql})").fetchall()[0][0]  # noqa: S608
        frame = con.sql(f"{sql} LIMIT {int(query.limit)}").to_arrow_table().to_pandas()
    if query.time is not None:
        column = query.time[0]
        # DuckDB answers the bucket of a zone-less timestamp as a date for day-sized units
        frame[column] = pd.to_datetime(frame[column])
    return Aggregate(frame, total, matched, int(groups), groups > query.limit, query.to_dict())


class ColumnCache:
    """A small cache of Arrow columns of immutable stored versions (keyed by the version's
    SHA-256 and the columns), so that a dashboard's filter changes do not re-read Parquet."""

    def __init__(self, max_bytes: int = 512 * 1024 * 1024) -> None:
        self.max_bytes = max_bytes
        self._items: OrderedDict[tuple[str, tuple[str, ...]], pa.Table] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()

    def get(
        self, sha256: str, columns: Sequence[str], read: Callable[[list[str]], pa.Table]
    ) -> pa.Table:
        key = (sha256, tuple(sorted(columns)))
        with self._lock:
            table = self._items.get(key)
            if table is not None:
                self._items.move_to_end(key)
                return table
        table = read(list(columns))
        with self._lock:
            if key not in self._items and table.nbytes <= self.max_bytes:
                self._items[key] = table
                self._bytes += table.nbytes
                while self._bytes > self.max_bytes and self._items:
                    _k, old = self._items.popitem(last=False)
                    self._bytes -= old.nbytes
        return table


def column_kinds(schema: Mapping[str, str]) -> dict[str, str]:
    """Column -> kind (numeric, text, datetime...) of a schema, e.g. to offer chart axes."""
    return {name: kind_of(dtype) for name, dtype in schema.items()}
