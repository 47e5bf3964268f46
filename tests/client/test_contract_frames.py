"""The Workspace contract for ``ws.datasets.save(df, name)``: every DataFrame is stored
faithfully (``load`` gives back the frame, dtypes included, after the documented rules for
row labels and column names of :mod:`astralytiq_jupyter.core.frames`) or refused with a clear
``Invalid`` that stores nothing, on both backends. Saving the same frame again reuses the
version, which also shows that each shape is stored deterministically.
"""

from __future__ import annotations

import datetime as dt
import decimal
from collections.abc import Callable, Iterator

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from astralytiq_jupyter.client import Workspace
from astralytiq_jupyter.core.errors import Invalid, NotFound

from ..conftest import BACKENDS
from ..server_extension.live import LiveServer, WorkspaceFactory, live_server


@pytest.fixture(scope="module", params=BACKENDS)
def server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LiveServer]:
    with live_server(tmp_path_factory.mktemp(f"frames-{request.param}"), request.param) as s:
        yield s


@pytest.fixture(params=["local", "remote"])
def ws(request: pytest.FixtureRequest, server: LiveServer) -> Workspace:
    return WorkspaceFactory(server, request.param)("alice", "admin")


def _text(*values: object) -> pd.Series:
    return pd.Series(values, dtype="str")


def _sales() -> pd.DataFrame:
    return pd.DataFrame(
        {"region": _text("north", "south", "north"), "units": [3, 1, 4], "price": [2.5, 3.0, 1.0]}
    )


def _arrow(values: list, typ: pa.DataType) -> pd.Series:
    return pd.Series(pd.array(values, dtype=pd.ArrowDtype(typ)))


PARIS = pd.date_range("2024-03-31 00:30", periods=3, freq="h", tz="Europe/Paris")


def _dates() -> pd.DataFrame:
    naive = ["2024-01-01 00:00:00.000000001", None, "2024-01-02 00:00:00.5"]
    return pd.DataFrame(
        {
            "paris": pd.Series(PARIS).astype("datetime64[ns, Europe/Paris]"),  # DST change
            "utc_us": pd.Series(PARIS.tz_convert("UTC")).astype("datetime64[us, UTC]"),
            "naive_ns": pd.to_datetime(naive, format="ISO8601").astype("datetime64[ns]"),
            "naive_s": pd.to_datetime(["2024-01-01", "2024-06-01", None]).astype("datetime64[s]"),
            "utc_s": pd.Series(PARIS.tz_convert("UTC")).astype("datetime64[s, UTC]"),
            "td": pd.to_timedelta([1.5, None, -3], unit="s"),
            "td_s": pd.to_timedelta([1, None, -3], unit="s").astype("timedelta64[s]"),
        }
    )


# id -> (frame, what load gives back: None for the frame itself)
SAVED: dict[str, tuple[Callable[[], pd.DataFrame], Callable[[], pd.DataFrame] | None]] = {
    # pandas 3 keeps text in Arrow arrays; concatenating frames leaves them in chunks.
    "concat_text": (
        lambda: pd.concat([_sales(), _sales()]),
        lambda: pd.concat([_sales(), _sales()], ignore_index=True),
    ),
    "concat_keys": (
        lambda: pd.concat({"jan": _sales(), "feb": _sales()}, names=["month", "row"]),
        lambda: (
            pd.concat({"jan": _sales(), "feb": _sales()}, names=["month", "row"])
            .reset_index()
            .astype({"month": "str"})
        ),
    ),
    "slice": (
        lambda: pd.concat([_sales()] * 4, ignore_index=True).iloc[2:7],
        lambda: pd.concat([_sales()] * 4, ignore_index=True).iloc[2:7].reset_index(drop=True),
    ),
    "filtered_duplicate_labels": (
        lambda: pd.concat([_sales(), _sales()]).query("units > 1"),
        lambda: pd.DataFrame(
            {
                "region": _text("north", "north", "north", "north"),
                "units": [3, 4, 3, 4],
                "price": [2.5, 1.0, 2.5, 1.0],
            }
        ),
    ),
    "sample": (
        lambda: _sales().sample(frac=1.0, random_state=3),
        lambda: _sales().sample(frac=1.0, random_state=3).reset_index(drop=True),
    ),
    "categorical": (
        lambda: pd.DataFrame(
            {
                "size": pd.Categorical(
                    ["m", None, "s", "m"], categories=["s", "m", "l"], ordered=True
                ),
            }
        ),
        None,
    ),
    "arrow_dtypes": (
        lambda: pd.DataFrame(
            {
                "i": _arrow([1, None, 3], pa.int64()),
                "f": _arrow([1.5, None, -0.0], pa.float64()),
                "b": _arrow([True, None, False], pa.bool_()),
                "ts": _arrow(
                    [dt.datetime(2024, 1, 1, 12), None, dt.datetime(2024, 1, 2)],
                    pa.timestamp("us", "UTC"),
                ),
                "d": _arrow([dt.date(2024, 1, 1), None, dt.date(2024, 2, 29)], pa.date32()),
                "t": _arrow(["é", None, "z"], pa.large_string()),
            }
        ),
        None,
    ),
    "arrow_chunked": (
        lambda: pd.concat(
            [
                pd.DataFrame({"n": _arrow([1, 2], pa.int32())}),
                pd.DataFrame({"n": _arrow([None], pa.int32())}),
            ]
        ),
        lambda: pd.DataFrame({"n": _arrow([1, 2, None], pa.int32())}),
    ),
    # pandas gives pd.ArrowDtype(pa.string()) and StringDtype("pyarrow") one name in Parquet.
    "arrow_string": (
        lambda: pd.DataFrame({"s": _arrow(["a", None], pa.string())}),
        lambda: pd.DataFrame({"s": pd.Series(["a", None], dtype="string")}),
    ),
    "nullable": (
        lambda: pd.DataFrame(
            {
                "I": pd.array([1, None, 3], dtype="Int64"),
                "u": pd.array([255, 0, None], dtype="UInt8"),
                "F": pd.array([0.5, None, 2.0], dtype="Float64"),
                "B": pd.array([True, None, False], dtype="boolean"),
                "S": pd.array(["x", None, "z"], dtype="string"),
            }
        ),
        None,
    ),
    # The string storage is pandas' default (pyarrow) whichever was given.
    "python_string": (
        lambda: pd.DataFrame({"S": pd.array(["x", None], dtype="string[python]")}),
        lambda: pd.DataFrame({"S": pd.array(["x", None], dtype="string")}),
    ),
    "dates_and_durations": (
        lambda: _dates(),
        # Parquet's coarsest unit is the millisecond: the same instants, in ms.
        lambda: _dates().astype({"naive_s": "datetime64[ms]", "utc_s": "datetime64[ms, UTC]"}),
    ),
    "numpy_types": (
        lambda: pd.DataFrame(
            {
                "i8": np.array([-1, 0, 1], dtype=np.int8),
                "u64": np.array([2**64 - 1, 0, 1], dtype=np.uint64),
                "f32": np.array([0.1, np.nan, 3], dtype=np.float32),
                "f16": np.array([0.5, 1, 2], dtype=np.float16),
                "flag": [True, False, True],
            }
        ),
        None,
    ),
    "periods_and_intervals": (
        lambda: pd.DataFrame(
            {
                "month": pd.period_range("2024-01", periods=3, freq="M"),
                "bucket": pd.interval_range(0, 3),
            }
        ),
        None,
    ),
    # object columns are stored as the one type their values share
    "object_values": (
        lambda: pd.DataFrame(
            {
                "num": pd.Series([1, 2.5, None], dtype=object),
                "text": pd.Series(["a", None, "c"], dtype=object),
                "money": pd.Series(
                    [decimal.Decimal("1.10"), None, decimal.Decimal("-2")], dtype=object
                ),
                "raw": pd.Series([b"\x00\x01", None, b""], dtype=object),
                "day": pd.Series([dt.date(2024, 1, 1), None, dt.date(1999, 12, 31)], dtype=object),
                "flag": pd.Series([True, None, False], dtype=object),
                "nothing": pd.Series([None, None, None], dtype=object),
            }
        ),
        lambda: pd.DataFrame(
            {
                "num": [1.0, 2.5, np.nan],
                "text": _text("a", None, "c"),
                "money": pd.Series(
                    [decimal.Decimal("1.10"), None, decimal.Decimal("-2.00")], dtype=object
                ),
                "raw": pd.Series([b"\x00\x01", None, b""], dtype=object),
                "day": pd.Series([dt.date(2024, 1, 1), None, dt.date(1999, 12, 31)], dtype=object),
                "flag": pd.Series([True, None, False], dtype=object),
                "nothing": _text(None, None, None),  # text of missing values, as from files
            }
        ),
    ),
    "multiindex_columns": (
        lambda: _sales().groupby("region").agg({"units": ["sum", "max"], "price": ["mean"]}),
        lambda: pd.DataFrame(
            {
                "region": _text("north", "south"),
                "units_sum": [7, 1],
                "units_max": [4, 1],
                "price_mean": [1.75, 3.0],
            }
        ),
    ),
    "named_duplicate_index": (
        lambda: _sales().set_index("units").rename_axis("id"),
        lambda: _sales().rename(columns={"units": "id"})[["id", "region", "price"]],
    ),
    "text_index": (
        lambda: pd.DataFrame({"v": [1, 2]}, index=pd.Index(["a", "b"], dtype="str")),
        lambda: pd.DataFrame({"index": _text("a", "b"), "v": [1, 2]}),
    ),
    "date_index": (
        lambda: pd.DataFrame(
            {"v": [1.0, 2.0]}, index=pd.date_range("2024-01-01", periods=2, name="day")
        ),
        lambda: pd.DataFrame({"day": pd.date_range("2024-01-01", periods=2), "v": [1.0, 2.0]}),
    ),
    "text_index_beside_a_column_named_index": (
        lambda: pd.DataFrame({"index": [1, 2]}, index=pd.Index(["a", "b"], dtype="str")),
        lambda: pd.DataFrame({"level_0": _text("a", "b"), "index": [1, 2]}),
    ),
    "number_column_names": (
        lambda: pd.DataFrame({0: [1], 1: ["x"]}),
        lambda: pd.DataFrame({"0": [1], "1": _text("x")}),
    ),
    "no_rows": (
        lambda: pd.DataFrame({"a": pd.Series([], dtype="int64"), "b": pd.Series([], dtype="str")}),
        None,
    ),
}

# id -> (frame, the refusal's message)
REFUSED: dict[str, tuple[Callable[[], pd.DataFrame], str]] = {
    "mixed_object": (
        lambda: pd.DataFrame({"m": pd.Series([1, "two", None], dtype=object)}),
        r"'m' mixes values of different types \(int, str\).*astype\(str\)",
    ),
    "lists": (
        lambda: pd.DataFrame({"tags": pd.Series([["a"], [], None], dtype=object)}),
        r"'tags' holds nested values \(list<item: string>\); a dataset holds flat columns",
    ),
    "dicts": (
        lambda: pd.DataFrame({"meta": [{"k": 1}, {"k": 2}]}),
        r"'meta' holds nested values \(struct<k: int64>\)",
    ),
    "arrow_list": (
        lambda: pd.DataFrame({"l": _arrow([[1], None], pa.list_(pa.int64()))}),
        r"'l' holds nested values",
    ),
    "number_categories": (
        lambda: pd.DataFrame({"code": pd.Categorical([3, 1, 3, 2])}),
        r"'code' has dtype category, which would be read back as int64; to store that, "
        r"convert it first: df\['code'\] = df\['code'\].astype\('int64'\)",
    ),
    "arrow_decimal": (
        lambda: pd.DataFrame({"d": _arrow([decimal.Decimal("1.5")], pa.decimal128(10, 2))}),
        r"'d' has dtype decimal128\(10, 2\)\[pyarrow\], which would be read back as object",
    ),
    "arrow_dictionary": (
        lambda: pd.DataFrame(
            {
                "d": pd.Series(
                    pa.array(["a"]).dictionary_encode(),
                    dtype=pd.ArrowDtype(pa.dictionary(pa.int32(), pa.string())),
                )
            }
        ),
        r"'d' has dtype dictionary<.*pandas cannot read back",
    ),
    "complex": (
        lambda: pd.DataFrame({"z": [1 + 2j, 3j]}),
        r"'z' \(dtype complex128\) cannot be stored: complex numbers",
    ),
    "sparse": (
        lambda: pd.DataFrame({"s": pd.arrays.SparseArray([0, 0, 1])}),
        r"'s' \(dtype Sparse\[int64, 0\]\) cannot be stored: it is sparse.*to_dense",
    ),
    "duplicate_columns": (
        lambda: pd.DataFrame([[1, 2]], columns=["a", "a"]),
        r"Column names must be unique: 'a' appears twice",
    ),
    "flattened_names_collide": (
        lambda: pd.DataFrame(
            [[1, 2]], columns=pd.MultiIndex.from_tuples([("a_b", ""), ("a", "b")])
        ),
        r"\('a_b', ''\) and \('a', 'b'\) both become 'a_b'",
    ),
    "unnamed_levels_named_like_a_column": (
        lambda: pd.DataFrame(
            {"level_1": [1, 2]}, index=pd.MultiIndex.from_tuples([("a", 1), ("b", 2)])
        ),
        r"The index 'level_1' has the name of a column",
    ),
    "index_named_like_a_column": (
        lambda: _sales().set_index(pd.Index([7, 8, 9], name="units"), drop=False),
        r"The index 'units' has the name of a column",
    ),
}


@pytest.mark.parametrize("case", SAVED, ids=str)
def test_save_is_faithful(ws: Workspace, case: str) -> None:
    make, expect = SAVED[case]
    frame = make()
    before = frame.copy()
    version = ws.datasets.save(frame, "shape")
    pd.testing.assert_frame_equal(frame, before)  # the caller's frame is left as it was
    loaded = ws.datasets.load("shape")
    expected = (expect or make)()
    pd.testing.assert_frame_equal(loaded, expected, check_exact=True)
    assert version.rows == len(expected) and list(version.schema) == list(expected.columns)
    again = ws.datasets.save(make(), "shape")
    assert again.reused and again.ref == version.ref


@pytest.mark.parametrize("case", REFUSED, ids=str)
def test_save_refuses_what_it_cannot_store(ws: Workspace, case: str) -> None:
    make, message = REFUSED[case]
    with pytest.raises(Invalid, match=message):
        ws.datasets.save(make(), "refused")
    with pytest.raises(NotFound):
        ws.datasets.get("refused")
