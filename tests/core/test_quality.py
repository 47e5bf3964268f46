"""Quality summary: streaming accumulator vs pandas, score formula, issues, frames."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from astralytiq_jupyter.core.errors import Invalid
from astralytiq_jupyter.core.quality import (
    QualityAccumulator,
    column_hashes,
    frame_to_batches,
    quality_of_frame,
)


def accumulate(table: pa.Table, rows_per_batch: int) -> dict:
    acc = QualityAccumulator(table.schema)
    for batch in table.to_batches(max_chunksize=rows_per_batch):
        acc.update(batch)
    return acc.result()


@pytest.fixture
def messy() -> pd.DataFrame:
    rng = np.random.default_rng(7)
    n = 5000
    df = pd.DataFrame(
        {
            "id": rng.integers(0, 1500, n),
            "price": np.where(rng.random(n) < 0.1, np.nan, rng.integers(0, 5, n) / 2),
            "city": rng.choice(["Oslo", "Rome", "", None], n),
            "flag": rng.choice([True, False], n),
            "when": pd.Timestamp("2024-01-01") + pd.to_timedelta(rng.integers(0, 3, n), "D"),
            "country": "NO",
            "notes": None,
        }
    )
    df["notes"] = df["notes"].astype(object)
    return df


def test_matches_pandas_across_batch_boundaries(messy):
    table = pa.Table.from_pandas(messy, preserve_index=False)
    expected_dups = int(messy.duplicated().sum())
    assert expected_dups > 0
    results = [accumulate(table, size) for size in (37, 1000, 5000)]
    assert results[0] == results[1] == results[2]
    q = results[0]
    assert q["rows"] == 5000 and q["columns"] == 7 and q["cells"] == 35_000
    assert q["duplicate_rows"] == expected_dups
    for column in messy.columns:
        assert q["missing"][column]["count"] == int(messy[column].isna().sum()), column
    assert q["missing"]["notes"] == {"count": 5000, "percent": 100.0}
    assert q["missing_cells"] == int(messy.isna().sum().sum())
    assert q["constant_columns"] == ["country", "notes"]


def test_score_formula_and_issues(messy):
    q = quality_of_frame(messy)
    missing = min(50, 100 * q["missing_cells"] / q["cells"])
    dups = min(30, 100 * q["duplicate_rows"] / q["rows"])
    constant = min(20, 50 * 2 / 7)
    assert q["score"] == round(100 - missing - dups - constant, 1)
    kinds = {(i["kind"], i["column"]) for i in q["issues"]}
    assert {("missing", "price"), ("missing", "notes"), ("duplicates", None)} <= kinds
    # notes is constant for the score, and reported once: as all missing
    assert ("constant", "country") in kinds and ("constant", "notes") not in kinds
    severities = [i["severity"] for i in q["issues"]]
    assert severities == sorted(severities, key=["error", "warning", "info"].index)
    by_column = {(i["kind"], i["column"]): i for i in q["issues"]}
    assert by_column[("missing", "notes")]["severity"] == "error"
    assert "all 5,000 values are missing" in by_column[("missing", "notes")]["message"]
    assert "'NO'" in by_column[("constant", "country")]["message"]
    assert by_column[("missing", "price")]["severity"] == "warning"
    assert "exact copies" in by_column[("duplicates", None)]["message"]


def test_clean_data_scores_100_and_empty_scores_0():
    clean = quality_of_frame(pd.DataFrame({"a": [1, 2, 3], "b": ["x", "y", "z"]}))
    assert clean["score"] == 100.0 and clean["issues"] == []
    empty = QualityAccumulator(pa.schema([("a", pa.int64())])).result()
    assert empty["rows"] == 0 and empty["score"] == 0.0
    assert empty["issues"][0]["kind"] == "empty" and empty["issues"][0]["severity"] == "error"


def test_hash_equality_semantics():
    # Equal values hash equally wherever they sit in a buffer; different values do not.
    strings = pa.array(["", None, "abc", "ab", "abc", "x" * 5000, "bca"])
    h = column_hashes(strings)
    assert h[2] == h[4] and len({h[0], h[1], h[2], h[3], h[5], h[6]}) == 6
    sliced = column_hashes(strings.slice(2, 3))
    assert sliced[0] == h[2]
    floats = column_hashes(pa.array([0.0, -0.0, 1.5, None]))
    assert floats[0] == floats[1] and floats[2] != floats[0] and floats[3] != floats[0]
    assert (
        column_hashes(pa.array([True, None, False])).tolist()
        == column_hashes(pa.array([True, None, False]).slice(0)).tolist()
    )
    big = pa.array(["y" * 300_000, "y" * 300_000])  # longer than a hashing slice
    assert column_hashes(big)[0] == column_hashes(big)[1]


def test_rows_differing_in_one_column_are_not_duplicates():
    df = pd.DataFrame({"a": [1, 1, 1, 2], "b": ["x", "y", "x", "x"], "c": [None, None, None, 0.5]})
    assert quality_of_frame(df)["duplicate_rows"] == 1
    swapped = pd.DataFrame({"a": [1, 2], "b": [2, 1]})  # same values, other columns
    assert quality_of_frame(swapped)["duplicate_rows"] == 0


def test_nan_counts_as_missing_and_other_types():
    table = pa.table(
        {
            "f": pa.array([1.0, float("nan"), None]),
            "d": pa.array([1, 1, 1], pa.date32()),
            "dec": pa.array([1, 2, 2], pa.decimal128(10, 2)),
            "cat": pa.array(["a", "b", "a"]).dictionary_encode(),
            "lst": pa.array([[1], [1], [2]]),
            "nul": pa.nulls(3),
        }
    )
    q = accumulate(table, 2)
    assert q["missing"]["f"]["count"] == 2
    assert q["constant_columns"] == ["f", "d", "nul"]
    assert q["duplicate_rows"] == 0


def test_frame_to_batches_validates_and_converts():
    with pytest.raises(Invalid, match="'a' appears twice"):
        frame_to_batches(pd.DataFrame([[1, 2]], columns=["a", "a"]))
    schema, batches = frame_to_batches(pd.DataFrame({0: [1, "x"], "b": [None, None]}), 1)
    assert schema.names == ["0", "b"] and schema.field("0").type == pa.string()
    assert [b.num_rows for b in batches] == [1, 1]
