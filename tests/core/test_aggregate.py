"""Aggregations next to the data: edge cases of the engine itself (the contract suite covers
the API on both backends)."""

from __future__ import annotations

import pyarrow as pa
import pytest

from astralytiq_jupyter.core.aggregate import AggregateQuery, aggregate, parse_filters
from astralytiq_jupyter.core.errors import Invalid


def test_a_count_alone_reads_no_column() -> None:
    """``{"metrics": [{"function": "count"}]}`` needs no column: the rows are counted (it
    was a DuckDB error, and a 500 through the API)."""
    table = pa.table({"x": [1, 2, 3]}).select([])
    result = aggregate(table, AggregateQuery())
    assert result.frame.to_dict("records") == [{"rows": 3}] and result.groups == 1


def test_filters_are_bounded_and_checked_against_the_schema() -> None:
    """A sample or an aggregation takes at most MAX_FILTERS conditions, each naming a column
    of the version; the error says which rule was broken."""
    import pytest

    from astralytiq_jupyter.core.aggregate import MAX_FILTERS, parse_filters
    from astralytiq_jupyter.core.errors import Invalid

    schema = {"x": "int64", "region": "str"}
    one = {"column": "x", "op": ">", "value": 1}
    assert parse_filters([one] * MAX_FILTERS, schema) == [one] * MAX_FILTERS
    with pytest.raises(Invalid, match=f"at most {MAX_FILTERS} conditions"):
        parse_filters([one] * (MAX_FILTERS + 1), schema)
    with pytest.raises(Invalid, match="at most"):
        AggregateQuery.parse({"filters": [one] * (MAX_FILTERS + 1)}, schema)
    with pytest.raises(Invalid, match="nope"):
        parse_filters([{"column": "nope", "op": "==", "value": 1}], schema)


def _table():
    """Every kind a filter meets, with missing values (and a NaN kept as NaN, not null)."""
    import numpy as np
    import pandas as pd

    frame = pd.DataFrame(
        {
            "x": [1.5, np.nan, 3.0, -2.0, 10.0, 0.0, 7.25, 3.0],
            "n": pd.array([1, 2, None, 4, 5, 6, 7, 8], dtype="Int64"),
            "s": pd.array(["Ab", "b", None, "abc", "B", "xyz", "ab", "é"], dtype="str"),
            "flag": pd.array([True, False, None, True, False, True, False, True], "boolean"),
            "day": pd.to_datetime(
                [
                    "2024-01-01",
                    "2024-01-31T23:00:00",
                    None,
                    "2024-02-01",
                    "2024-02-29",
                    "2024-03-01",
                    "2023-12-31",
                    "2024-01-15",
                ],
                format="ISO8601",
            ),
            "utc": pd.to_datetime(
                [
                    "2024-01-01T00:30:00",
                    "2024-01-01T23:30:00",
                    None,
                    "2024-02-01",
                    "2024-02-29",
                    "2024-03-01",
                    "2023-12-31",
                    "2024-01-15",
                ],
                format="ISO8601",
            ).tz_localize("Europe/Paris"),
            "cat": pd.Categorical(["a", "b", "a", None, "c", "a", "b", "c"]),
        }
    )
    table = pa.Table.from_pandas(frame, preserve_index=False)
    # a NaN stored as NaN (from_pandas makes it null): pandas reads both as missing
    table = table.set_column(0, "x", pa.array(frame["x"].to_numpy(), from_pandas=False))
    return frame, table, {c: str(t) for c, t in frame.dtypes.items()}


CONDITIONS = [
    [{"column": "x", "op": ">", "value": 2}],
    [{"column": "x", "op": "!=", "value": 3}],
    [{"column": "x", "op": "is missing"}],
    [{"column": "x", "op": "between", "value": [0, 3]}],
    [{"column": "x", "op": "not in", "value": [3, 10]}],
    [{"column": "n", "op": "<=", "value": 4}, {"column": "x", "op": "is not missing"}],
    [{"column": "s", "op": "in", "value": ["b", "B", "é"]}],
    [{"column": "s", "op": "!=", "value": "b"}],
    [{"column": "s", "op": ">=", "value": "ab"}],
    [{"column": "s", "op": "contains", "value": "b"}],
    [{"column": "s", "op": "starts with", "value": "a"}],
    [{"column": "flag", "op": "==", "value": True}],
    [
        {"column": "day", "op": ">=", "value": "2024-01-31"},
        {"column": "day", "op": "<", "value": "2024-03-01"},
    ],
    [{"column": "day", "op": "between", "value": ["2024-01-01", "2024-02-01"]}],
    [{"column": "utc", "op": "<", "value": "2024-01-01T01:00"}],
    [{"column": "utc", "op": ">", "value": "2024-01-01T00:00+00:00"}],
]
FALLBACK = [
    [{"column": "s", "op": "contains", "value": "B", "case_sensitive": False}],
    [{"column": "s", "op": "starts with", "value": "A", "case_sensitive": False}],
    [{"column": "cat", "op": "in", "value": ["a", "c"]}],
]


@pytest.mark.parametrize("encoded", [False, True], ids=["strings", "dictionary"])
@pytest.mark.parametrize("combine", ["all", "any"])
@pytest.mark.parametrize("conditions", CONDITIONS + FALLBACK, ids=repr)
def test_filters_in_duckdb_keep_the_rows_the_pandas_mask_keeps(
    conditions, combine, encoded
) -> None:
    """Filters run as DuckDB SQL (one pass with the aggregation) where that is exact, and
    keep exactly the rows of the recipes' pandas mask (NaN and null both missing, naive date
    text in the column's zone, != and not in never keeping missing values), on text columns
    as strings and dictionary-encoded (as the column cache keeps them)."""
    import pyarrow.compute as pc

    from astralytiq_jupyter.core.aggregate import apply_filters, conditions_sql
    from astralytiq_jupyter.core.recipe_conditions import conditions_mask

    frame, table, schema = _table()
    if encoded:
        at = table.schema.get_field_index("s")
        table = table.set_column(at, "s", pc.dictionary_encode(table.column("s")))
    parsed = parse_filters(conditions, schema)
    expected = frame[conditions_mask(frame, parsed, combine).to_numpy(dtype=bool)]
    sql = conditions_sql(parsed, combine, schema)
    assert (sql is None) == (conditions in FALLBACK)
    kept = apply_filters(table, parsed, combine, schema).to_pandas()
    assert kept["n"].tolist() == expected["n"].tolist()
    assert len(kept) == len(expected)
    # the same rows counted and summed by an aggregation (WHERE inside the query)
    query = AggregateQuery.parse(
        {
            "metrics": [{"function": "count"}, {"function": "sum", "column": "n"}],
            "filters": conditions,
            "combine": combine,
        },
        schema,
    )
    result = aggregate(table.select(query.columns), query)
    assert result.rows_matched == len(expected) and result.rows_total == len(frame)
    assert result.frame["rows"].iloc[0] == len(expected)
    total = result.frame["sum_n"].iloc[0]  # sum of no rows is missing in SQL
    assert (0 if total is None or total != total else int(total)) == int(expected["n"].sum())


def test_groups_matched_and_truncation_come_from_one_query() -> None:
    """Groups are counted before LIMIT keeps the biggest; rows matched counts the filtered rows."""
    frame, table, schema = _table()
    spec = {
        "group_by": ["s"],
        "metrics": [{"function": "count"}],
        "filters": [{"column": "n", "op": ">", "value": 1}],
        "limit": 2,
    }
    query = AggregateQuery.parse(spec, schema)
    result = aggregate(table.select(query.columns), query)
    kept = frame[frame["n"].fillna(0) > 1]
    assert result.rows_matched == len(kept)
    assert result.groups == kept["s"].nunique(dropna=False)
    assert result.truncated and len(result.frame) == 2


@pytest.mark.parametrize("unit", ["day", "week", "month", "quarter", "year"])
def test_compare_answers_the_latest_period_and_the_one_before(unit) -> None:
    """``compare``: one query for a KPI's two periods, equal to pandas' periods (weeks start
    on Monday), over the rows the filters keep."""
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(3)
    n = 3000
    frame = pd.DataFrame(
        {
            "date": pd.Timestamp("2022-01-01")
            + pd.to_timedelta(rng.integers(0, 900, n), "D")
            + pd.to_timedelta(rng.integers(0, 86400, n), "s"),
            "region": rng.choice(["N", "S"], n),
            "v": rng.integers(0, 100, n).astype(float),
        }
    )
    frame.loc[::7, "v"] = np.nan
    table = pa.Table.from_pandas(frame, preserve_index=False)
    schema = {c: str(t) for c, t in frame.dtypes.items()}
    filters = [{"column": "region", "op": "==", "value": "S"}]
    spec = {
        "metrics": [
            {"function": "sum", "column": "v", "as": "total"},
            {"function": "count"},
            {"function": "median", "column": "v", "as": "mid"},
        ],
        "filters": filters,
        "compare": {"column": "date", "unit": unit},
    }
    query = AggregateQuery.parse(spec, schema)
    result = aggregate(table.select(query.columns), query)
    kept = frame[frame["region"] == "S"]
    code = {"day": "D", "week": "W-SUN", "month": "M", "quarter": "Q", "year": "Y"}[unit]
    periods = kept["date"].dt.to_period(code)
    last = kept["date"].max().to_period(code)
    assert result.rows_matched == len(kept) and result.groups == 2
    assert result.frame["date"].tolist() == [(last - 1).start_time, last.start_time]
    for row, period in zip(result.frame.itertuples(), [last - 1, last], strict=True):
        part = kept[periods == period]["v"]
        assert row.total == pytest.approx(part.sum()) and row.rows == len(part)
        assert (row.mid == pytest.approx(part.median())) or (part.isna().all() and pd.isna(row.mid))


def test_compare_without_dates_and_bad_compare_requests() -> None:
    import pandas as pd

    frame = pd.DataFrame({"date": pd.to_datetime([None, None]), "v": [1.0, 2.0], "k": ["a", "b"]})
    schema = {c: str(t) for c, t in frame.dtypes.items()}
    query = AggregateQuery.parse(
        {"metrics": [{"function": "sum", "column": "v"}], "compare": {"column": "date"}}, schema
    )
    result = aggregate(pa.Table.from_pandas(frame, preserve_index=False), query)
    assert len(result.frame) == 0 and result.rows_matched == 2
    for bad, message in [
        ({"compare": {"column": "v"}}, "date"),
        ({"compare": {"column": "date", "unit": "hour"}}, "Unknown period"),
        ({"compare": {"column": "date"}, "group_by": ["k"]}, "takes no 'group_by'"),
        ({"compare": "date"}, "must be"),
        ({"metrics": [{"function": "count", "as": "__aq_rows"}]}, "may not start"),
    ]:
        with pytest.raises(Invalid, match=message):
            AggregateQuery.parse(bad, schema)


def test_the_column_cache_reads_each_column_once_whatever_the_sets() -> None:
    """Charts, KPIs and samples ask for overlapping column sets: each column is read from
    storage once, returned in the order asked, and the cache stays within its bytes."""
    from astralytiq_jupyter.core.aggregate import ColumnCache

    stored = pa.table({"a": [1, 2, 3], "b": ["x", "y", "z"], "c": [1.0, 2.0, 3.0]})
    reads: list[list[str]] = []

    def read(columns: list[str]) -> pa.Table:
        reads.append(columns)
        return stored.select(columns)

    cache = ColumnCache()
    assert cache.get("v1", ["b", "a"], read).column_names == ["b", "a"]
    assert cache.get("v1", ["a", "c"], read).equals(stored.select(["a", "c"]))
    assert cache.get("v1", ["c", "b", "a"], read).num_rows == 3
    assert reads == [["b", "a"], ["c"]]
    assert cache.get("v1", [], read).num_rows == 3  # count(*) alone: rows without columns
    cache.get("v2", ["a"], read)  # another version is another entry
    assert reads[-1] == ["a"]
    small = ColumnCache(max_bytes=stored.column("a").nbytes + stored.column("c").nbytes)
    for column in ("a", "b", "c"):
        small.get("v1", [column], read)
    assert small._bytes <= small.max_bytes
