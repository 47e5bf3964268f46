"""Aggregations next to the data: edge cases of the engine itself (the contract suite covers
the API on both backends)."""

from __future__ import annotations

import pyarrow as pa

from astralytiq_jupyter.core.aggregate import AggregateQuery, aggregate


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
