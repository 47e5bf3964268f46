"""Aggregations next to the data: a dataset version summarised by groups and time buckets,
for charts and KPI cards (Explore, dashboards), so only aggregates ever reach a browser.

A query is structured, never code::

    {"group_by": ["region"], "time": {"column": "date", "unit": "month"},
     "metrics": [{"column": "revenue", "function": "sum"}, {"function": "count"}],
     "filters": [{"column": "channel", "op": "in", "value": ["web"]}], "limit": 1000}

Rows are filtered with the recipes' own condition semantics (``recipe_conditions``: one
meaning of ``between``, ``in``, missing values... everywhere), then grouped by DuckDB over the
Arrow columns read from the stored Parquet. Filters become a parameterised WHERE clause of the
same query (:func:`conditions_sql`) whenever SQL means exactly what the pandas mask means, so a
query is one pass over the rows; the rare condition without such a form (case-insensitive text
matching, categories) falls back to the pandas mask. Column names reach SQL only as quoted
identifiers checked against the version's schema, values only as parameters; functions and
units come from fixed tables.

``{"compare": {"column": "date", "unit": "month"}, "metrics": [...]}`` answers a KPI's period
comparison in one query: the metrics over the period holding the latest date the filters keep
and over the period before it (two rows, oldest first, keyed by the period's start).
"""

from __future__ import annotations

import math
import threading
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

import pandas as pd
import pyarrow as pa

from .errors import Invalid
from .limits import MAX_SEED, check_int
from .recipe_base import Schema, _is_number, kind_of, need_column
from .recipe_conditions import conditions_mask, parse_conditions, validate_conditions

__all__ = [
    "FUNCTIONS",
    "MAX_GROUPS",
    "UNITS",
    "Aggregate",
    "AggregateQuery",
    "ColumnCache",
    "aggregate",
    "decoded",
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
#: compare unit -> the SQL interval of one period (weeks start on Monday, as pandas' W-SUN)
PERIODS = {
    "day": "INTERVAL 1 DAY",
    "week": "INTERVAL 7 DAY",
    "month": "INTERVAL 1 MONTH",
    "quarter": "INTERVAL 3 MONTH",
    "year": "INTERVAL 1 YEAR",
}
_HIDDEN = "__aq_"  # prefix of the query's own bookkeeping columns
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
    compare: tuple[str, str] | None = None  # (date column, period unit)
    schema: tuple[tuple[str, str], ...] = ()  # the version's columns the query reads

    @classmethod
    def parse(cls, spec: Mapping[str, Any], schema: Mapping[str, str]) -> AggregateQuery:
        """Check a JSON query against a version's ``schema``; errors say what to change."""
        if not isinstance(spec, Mapping):
            raise Invalid("An aggregation must be an object with 'metrics', 'group_by'...")
        fields = {"group_by", "time", "metrics", "filters", "combine", "limit", "compare"}
        unknown = set(spec) - fields
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
        parsed_compare = _parse_compare(spec.get("compare"), schema, group_by, parsed_time)
        names = [
            *group_by,
            *([parsed_compare[0]] if parsed_compare else []),
            *([parsed_time[0]] if parsed_time else []),
            *(m[2] for m in parsed_metrics),
        ]
        if len(set(names)) != len(names):
            raise Invalid("Output names repeat; give metrics distinct 'as' names.")
        if any(n.startswith(_HIDDEN) for n in names):
            raise Invalid(f"Output names may not start with '{_HIDDEN}'.")
        parsed_filters = parse_filters(spec.get("filters"), schema)
        combine = spec.get("combine", "all")
        if combine not in ("all", "any"):
            raise Invalid("'combine' must be 'all' or 'any'.")
        limit = spec.get("limit", 1000)
        if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= MAX_GROUPS:
            raise Invalid(f"'limit' must be a whole number from 1 to {MAX_GROUPS:,}.")
        query = cls(
            tuple(group_by),
            parsed_time,
            tuple(parsed_metrics),
            tuple(parsed_filters),
            combine,
            limit,
            parsed_compare,
        )
        return replace(query, schema=tuple((c, schema[c]) for c in query.columns))

    @property
    def columns(self) -> list[str]:
        """Every column the query reads (the only ones read from storage)."""
        wanted = [*self.group_by]
        if self.time:
            wanted.append(self.time[0])
        if self.compare:
            wanted.append(self.compare[0])
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
            **(
                {"compare": {"column": self.compare[0], "unit": self.compare[1]}}
                if self.compare
                else {}
            ),
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
    table: pa.Table,
    conditions: Sequence[dict[str, Any]],
    combine: str = "all",
    schema: Mapping[str, str] | None = None,
) -> pa.Table:
    """The rows of ``table`` meeting the conditions, with the recipes' own semantics: the mask
    is computed by DuckDB when ``schema`` is given and the conditions have an exact SQL form,
    else by pandas (which converts the conditions' columns first)."""
    if not conditions:
        return table
    where = conditions_sql(conditions, combine, schema) if schema is not None else None
    if where is None:
        columns = table.select(list(dict.fromkeys(c["column"] for c in conditions)))
        frame = decoded(columns, schema or {}).to_pandas()
        mask = conditions_mask(frame, list(conditions), combine)
        return table.filter(pa.array(mask.to_numpy(dtype=bool)))
    sql, params = where
    with _connect(table.select(list(dict.fromkeys(c["column"] for c in conditions)))) as con:
        # a plain projection keeps the rows' order, so the mask lines up with ``table``
        mask = con.sql(f"SELECT {sql} FROM data", params=params).to_arrow_table()  # noqa: S608
    return table.filter(mask.column(0))


_DATABASE: Any = None
_DATABASE_LOCK = threading.Lock()


def decoded(table: pa.Table, schema: Mapping[str, str]) -> pa.Table:
    """``table`` with its dictionary-encoded text columns (as the column cache keeps them)
    turned back into plain strings, so that pandas sees the column's own dtype rather than
    a category (columns stored as categories stay so)."""
    for i, field in enumerate(table.schema):
        if pa.types.is_dictionary(field.type) and kind_of(schema.get(field.name, "")) == "text":
            plain = table.column(i).cast(field.type.value_type)
            table = table.set_column(i, field.with_type(plain.type), plain)
    return table


def _connect(table: pa.Table) -> Any:
    """A DuckDB cursor that can read only ``table`` (registered as ``data``): a cursor of one
    in-memory database per process, as opening a database costs ~50 ms and a cursor ~1 ms;
    each cursor sees only its own registration, so threads do not see each other's tables."""
    global _DATABASE
    import duckdb

    with _DATABASE_LOCK:
        if _DATABASE is None:
            # No file system access, whatever the SQL: only registered tables can be read.
            _DATABASE = duckdb.connect(config={"enable_external_access": False})
        con = _DATABASE.cursor()
    if table.num_columns == 0:  # only count(*): DuckDB needs a column to scan
        table = pa.table({f"{_HIDDEN}row": pa.nulls(table.num_rows)})
    con.register("data", table)
    return con


def conditions_sql(
    conditions: Sequence[dict[str, Any]], combine: str, schema: Mapping[str, str]
) -> tuple[str, list[Any]] | None:
    """A DuckDB boolean expression (never NULL) and its ``$n`` parameters meaning exactly what
    :func:`conditions_mask` means for these (validated) conditions, or None when one of them
    has no such form here (the caller then uses the pandas mask)."""
    if not conditions:
        return "true", []
    params: list[Any] = []

    def param(value: Any, cast: str = "") -> str:
        params.append(value)
        return f"CAST(${len(params)} AS {cast})" if cast else f"${len(params)}"

    parts = []
    for cond in conditions:
        part = _condition_sql(cond, schema.get(cond["column"], ""), param)
        if part is None:
            return None
        parts.append(f"COALESCE({part}, false)")
    return "(" + (" AND " if combine == "all" else " OR ").join(parts) + ")", params


def _condition_sql(cond: dict[str, Any], dtype: str, param: Callable[..., str]) -> str | None:
    op, value = cond["op"], cond.get("value")
    kind = kind_of(dtype)
    if kind not in ("numeric", "text", "datetime", "boolean"):
        return None  # categories (dictionary columns) and others keep the pandas mask
    column = _quote(cond["column"])
    if kind == "numeric" and pd.api.types.is_float_dtype(pd.api.types.pandas_dtype(dtype)):
        # NaN is missing to pandas, but compares greater than every number in DuckDB
        column = f"(CASE WHEN isnan({column}) THEN NULL ELSE {column} END)"
    if op == "is missing":
        return f"({column} IS NULL)"
    if op == "is not missing":
        return f"({column} IS NOT NULL)"
    if op in ("contains", "starts with"):
        if kind != "text" or not cond.get("case_sensitive", True):
            return None  # case folding differs between engines: keep pandas' own
        function = "contains" if op == "contains" else "starts_with"
        return f"{function}({column}, {param(value)})"
    values = value if isinstance(value, list) else [value]
    cast = ""
    if kind == "datetime":
        dt = pd.api.types.pandas_dtype(dtype)
        tz = getattr(dt, "tz", None)
        stamps = []
        for v in values:
            ts = pd.Timestamp(v)  # naive text means the column's zone, as in the mask
            if tz is not None:
                ts = ts.tz_localize(tz) if ts.tzinfo is None else ts.tz_convert(tz)
            stamps.append(ts.isoformat())
        values = stamps
        if tz is not None:
            cast = "TIMESTAMPTZ"
        else:  # numpy's datetime64[unit]
            import numpy as np

            cast = _TIMESTAMPS.get(np.datetime_data(dt)[0], "")
        if not cast:
            return None
    elif kind == "text" and not all(isinstance(v, str) for v in values):
        return None  # pandas answers text against a number its own way
    elif kind == "boolean" and not all(isinstance(v, bool) for v in values):
        return None  # (validated already; kept so that no other value reaches SQL)
    elif kind == "numeric" and not all(_is_number(v) for v in values):  # noqa: SIM114
        return None
    placeholders = [param(v, cast) for v in values]
    if op == "between":
        return f"({column} BETWEEN {placeholders[0]} AND {placeholders[1]})"
    if op in ("in", "not in"):
        return f"({column} {op.upper()} ({', '.join(placeholders)}))"
    sql_op = {"==": "=", "!=": "<>"}.get(op, op)
    if sql_op not in ("=", "<>", ">", ">=", "<", "<="):
        return None
    return f"({column} {sql_op} {placeholders[0]})"


#: pandas datetime unit -> the DuckDB type its text parameters are cast to (the column's own)
_TIMESTAMPS = {"s": "TIMESTAMP_S", "ms": "TIMESTAMP_MS", "us": "TIMESTAMP", "ns": "TIMESTAMP_NS"}


def _parse_compare(
    compare: Any, schema: Schema, group_by: list[str], time: tuple[str, str] | None
) -> tuple[str, str] | None:
    if compare is None:
        return None
    if not isinstance(compare, Mapping) or set(compare) - {"column", "unit"}:
        raise Invalid("'compare' must be {'column': <date column>, 'unit': 'month'}.")
    column, unit = compare.get("column"), compare.get("unit", "month")
    if not isinstance(column, str):
        raise Invalid("'compare' needs the 'column' of dates whose periods are compared.")
    need_column(schema, column, ("datetime",), "date")
    if unit not in PERIODS:
        raise Invalid(f"Unknown period {unit!r}; use one of {', '.join(PERIODS)}.")
    if group_by or time is not None:
        raise Invalid("'compare' takes no 'group_by' or 'time': it answers one value per period.")
    return column, unit


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
    """Run ``query`` over ``table`` (which holds at least ``query.columns``) in one DuckDB
    query: filters, groups, the number of groups and of rows matched together."""
    total = table.num_rows
    where = conditions_sql(query.filters, query.combine, dict(query.schema))
    if where is None:  # a condition without an exact SQL form: filter with the pandas mask
        table = apply_filters(table, query.filters, query.combine, dict(query.schema))
        where = ("true", [])
    if query.compare is not None:
        return _compare(table, query, total, *where)
    condition, params = where
    # keys and ordering by position: a time bucket keeps its column's name, and by name
    # GROUP BY would mean the raw column rather than the bucket
    select = [_quote(c) for c in query.group_by]
    if query.time is not None:
        column, unit = query.time
        select.append(f"date_trunc('{unit}', {_quote(column)}) AS {_quote(column)}")
    keys = [str(i + 1) for i in range(len(select))]
    select += _metrics_sql(query)
    select.append(f"count(*) AS {_HIDDEN}rows")
    group = f" GROUP BY {', '.join(keys)}" if keys else ""
    if query.time is not None:  # along the time axis, then by group
        order = f" ORDER BY {keys[-1]}" + "".join(f", {k}" for k in keys[:-1])
    elif keys:  # biggest first
        order = f" ORDER BY {len(keys) + 1} DESC NULLS LAST, " + ", ".join(keys)
    else:
        order = ""
    inner = f"SELECT {', '.join(select)} FROM data WHERE {condition}{group}"  # noqa: S608
    # the windows count every group and row before LIMIT keeps the first ones
    sql = (
        f"SELECT *, count(*) OVER () AS {_HIDDEN}groups, "  # noqa: S608 - quoted, checked
        f"sum({_HIDDEN}rows) OVER () AS {_HIDDEN}matched FROM ({inner}){order} "
        f"LIMIT {int(query.limit)}"
    )
    with _connect(table) as con:
        result = con.sql(sql, params=params).to_arrow_table()
    groups, matched = 0, 0
    if result.num_rows:
        groups = int(result.column(f"{_HIDDEN}groups")[0].as_py())
        matched = int(result.column(f"{_HIDDEN}matched")[0].as_py() or 0)
    frame = result.drop_columns(
        [f"{_HIDDEN}rows", f"{_HIDDEN}groups", f"{_HIDDEN}matched"]
    ).to_pandas()
    if query.time is not None:
        column = query.time[0]
        # DuckDB answers the bucket of a zone-less timestamp as a date for day-sized units
        frame[column] = pd.to_datetime(frame[column])
    return Aggregate(frame, total, matched, groups, groups > query.limit, query.to_dict())


def _metrics_sql(query: AggregateQuery, where: str = "", alias: str = "") -> list[str]:
    """The metrics' SELECT items, named as asked (or ``alias`` + position), each over the rows
    ``where`` keeps when given."""
    items = []
    for i, (function, column, name) in enumerate(query.metrics):
        template = FUNCTIONS[function][0]
        only = f" FILTER (WHERE {where})" if where else ""
        label = _quote(f"{_HIDDEN}{alias}{i}" if alias else name)
        items.append(template.format(c=_quote(column) if column else "") + f"{only} AS {label}")
    return items


def _compare(
    table: pa.Table, query: AggregateQuery, total: int, condition: str, params: list[Any]
) -> Aggregate:
    """The metrics over the period holding the latest date the filters keep and over the
    period before it, in one query (see the module docstring)."""
    assert query.compare is not None
    column, unit = query.compare
    date, step = _quote(column), PERIODS[unit]
    current = "(SELECT start FROM latest)"
    now = f"{date} >= {current} AND {date} < {current} + {step}"
    before = f"{date} >= {current} - {step} AND {date} < {current}"
    sql = (
        f"WITH kept AS (SELECT * FROM data WHERE {condition}), "  # noqa: S608 - quoted, checked
        f"latest AS (SELECT date_trunc('{unit}', max({date})) AS start FROM kept) "
        f"SELECT {current} - {step} AS {_HIDDEN}before, {current} AS {_HIDDEN}now, "
        f"count(*) AS {_HIDDEN}matched, "
        + ", ".join(_metrics_sql(query, before, "b") + _metrics_sql(query, now, "n"))
        + " FROM kept"
    )
    with _connect(table) as con:
        row = con.sql(sql, params=params).to_arrow_table().to_pylist()[0]
    frame = pd.DataFrame(
        {
            column: pd.to_datetime([row[f"{_HIDDEN}before"], row[f"{_HIDDEN}now"]]),
            **{
                name: [row[f"{_HIDDEN}b{i}"], row[f"{_HIDDEN}n{i}"]]
                for i, (_f, _c, name) in enumerate(query.metrics)
            },
        }
    )
    if frame[column].isna().any():  # no dates among the rows kept: no period to compare
        frame = frame.iloc[0:0]
    matched = int(row[f"{_HIDDEN}matched"])
    return Aggregate(frame, total, matched, len(frame), False, query.to_dict())


class ColumnCache:
    """A small cache of Arrow columns of immutable stored versions, one entry per column
    (keyed by the version's SHA-256 and the column's name), so that a dashboard's charts,
    KPIs, samples and filter changes read each column from Parquet once, however they
    combine them (a cache of column sets held a column once per set and evicted itself)."""

    def __init__(self, max_bytes: int = 512 * 1024 * 1024) -> None:
        self.max_bytes = max_bytes
        self._items: OrderedDict[tuple[str, str], pa.ChunkedArray] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()

    def get(
        self, sha256: str, columns: Sequence[str], read: Callable[[list[str]], pa.Table]
    ) -> pa.Table:
        """A table of ``columns`` (in that order); ``read`` reads the ones not cached."""
        if not columns:  # no column, but the rows still count (a count(*) alone)
            return read([])
        found: dict[str, pa.ChunkedArray] = {}
        with self._lock:
            for column in columns:
                array = self._items.get((sha256, column))
                if array is not None:
                    self._items.move_to_end((sha256, column))
                    found[column] = array
        missing = [c for c in columns if c not in found]
        if missing:
            table = read(missing)
            fresh = {c: table.column(c) for c in missing}
            found.update(fresh)
            with self._lock:
                for column, array in fresh.items():
                    key = (sha256, column)
                    if key not in self._items and array.nbytes <= self.max_bytes:
                        self._items[key] = array
                        self._bytes += array.nbytes
                while self._bytes > self.max_bytes and self._items:
                    _k, old = self._items.popitem(last=False)
                    self._bytes -= old.nbytes
        return pa.table({c: found[c] for c in columns})


def column_kinds(schema: Mapping[str, str]) -> dict[str, str]:
    """Column -> kind (numeric, text, datetime...) of a schema, e.g. to offer chart axes."""
    return {name: kind_of(dtype) for name, dtype in schema.items()}
