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
