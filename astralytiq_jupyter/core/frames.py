"""A pandas DataFrame as a dataset version: the table that is stored, and the check that
pandas reads every column back with the dtype it had. A DataFrame is saved faithfully or
refused with :class:`Invalid`; it is never altered silently. Both backends use this module
(the local one when it stores a frame, the remote one before it uploads it), so they store
and refuse the same frames.

What is stored (:func:`dataset_frame`), so that ``ws.datasets.load(name)`` equals it:

* Row labels: an unnamed integer index (a ``RangeIndex``, or the labels that filtering,
  slicing, sampling or ``pd.concat`` leave, duplicates included) only numbers the rows and is
  not stored; the loaded frame has a fresh ``RangeIndex``. Any other index (named, or of text,
  dates...) is stored as leading columns, as ``DataFrame.reset_index()`` makes them (an
  unnamed one is called ``index``, or ``level_0`` beside a column named ``index``; unnamed
  MultiIndex levels ``level_0``, ``level_1``...); a name a column already has is refused.
* Column names are stored as text. MultiIndex column names are joined with ``_`` (empty
  levels skipped): ``("revenue", "sum")`` becomes ``revenue_sum``. Names must then be
  non-empty and unique.
* Every column keeps its dtype: numpy numbers and booleans, nullable ``Int64``/``Float64``/
  ``boolean``/``string``, ``category`` of text (categories and order), time-zone-aware and naive
  ``datetime64`` of any unit, ``timedelta64``, periods, intervals, and Arrow dtypes
  (``int64[pyarrow]``, ``timestamp[us, tz=UTC][pyarrow]``...). Two names pandas itself gives
  one meaning: ``string[python]`` comes back as pandas' default ``string`` storage, and
  ``pd.ArrowDtype(pa.string())`` (printed ``string[pyarrow]``) as ``string``. Parquet's
  coarsest time unit is the millisecond: ``datetime64[s]`` comes back as
  ``datetime64[ms]``, the same instants.
* ``object`` columns are stored as the one type their values share (numbers, text, dates,
  bytes, ``Decimal``) and come back as pandas reads that type (e.g. ``[1, 2.5]`` as
  ``float64``, text as ``str``); one holding only missing values is stored as a text
  column of missing values, as an empty column of a file is.

Refused: ``object`` columns mixing types no single column holds (numbers and words: convert
with ``.astype(str)``), nested values (lists, dicts, Arrow list/struct/map types: datasets
hold flat columns), complex numbers, sparse columns, and any dtype that pandas would read
back as another dtype (categories of numbers or dates come back as plain values, and
``pd.ArrowDtype(pa.decimal128(10, 2))`` as Python objects).
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterator

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from .errors import Invalid
from .quality import frame_to_batches

__all__ = ["dataset_frame", "frame_parquet", "frame_source"]

# pandas names both pd.ArrowDtype(pa.string()) and StringDtype("pyarrow") "string[pyarrow]"
# in its Parquet metadata and reads that back as the latter.
_SAME_DTYPE = {"string[pyarrow]": "string"}
# Parquet's coarsest time unit is the millisecond: datetime64[s] comes back as
# datetime64[ms], the same instants.
_SECONDS = re.compile(r"^datetime64\[s(\]|, )")


def _stored_dtype(dtype: str) -> str:
    """The name of the dtype a column of ``dtype`` is read back as when stored faithfully."""
    return _SECONDS.sub(r"datetime64[ms\1", _SAME_DTYPE.get(dtype, dtype))


def dataset_frame(df: pd.DataFrame) -> pd.DataFrame:
    """The table a DataFrame is stored as (see the module docstring); ``df`` is not changed."""
    if not isinstance(df, pd.DataFrame):
        raise Invalid(f"Expected a pandas DataFrame, got a {type(df).__name__}.")
    if isinstance(df.columns, pd.MultiIndex):
        flat = ["_".join(str(part) for part in parts if str(part) != "") for parts in df.columns]
        seen: dict[str, tuple] = {}
        for name, parts in zip(flat, df.columns, strict=True):
            if name in seen:
                raise Invalid(
                    f"The column levels {seen[name]!r} and {parts!r} both become {name!r} when "
                    "joined with '_'; rename one of them first.",
                    column=name,
                )
            seen[name] = parts
        df = df.copy(deep=False)
        df.columns = flat
    index = df.index
    numbering = (
        not isinstance(index, pd.MultiIndex)
        and index.name is None
        and pd.api.types.is_integer_dtype(index.dtype)
    )
    if numbering:
        if not isinstance(index, pd.RangeIndex) or index.start != 0 or index.step != 1:
            df = df.reset_index(drop=True)
    else:
        names = [str(c) for c in df.columns]
        # The names reset_index() gives the levels (pandas' own for unnamed ones).
        if index.nlevels > 1:
            stored = [f"level_{i}" if n is None else n for i, n in enumerate(index.names)]
        else:
            unnamed = "index" if "index" not in names else "level_0"
            stored = [unnamed if index.name is None else index.name]
        clash = [str(n) for n in stored if str(n) in names]
        if clash:
            raise Invalid(
                f"The index {clash[0]!r} has the name of a column; rename one of them, or drop "
                "the index with df.reset_index(drop=True) if it only numbers the rows.",
                column=clash[0],
            )
        df = df.reset_index()
    if not all(isinstance(c, str) for c in df.columns):
        df = df.rename(columns=str)
    return df


def frame_source(
    df: pd.DataFrame, rows_per_batch: int = 65_536
) -> tuple[pa.Schema, Iterator[pa.RecordBatch]]:
    """The Arrow schema (with pandas metadata) and batches a DataFrame is stored as, after
    checking that pandas reads every column back as it was; refuses it otherwise."""
    frame = dataset_frame(df)
    schema, batches = frame_to_batches(frame, rows_per_batch, strict=True)
    _check_read_back(frame, schema)
    return schema, batches


def frame_parquet(df: pd.DataFrame) -> bytes:
    """A DataFrame as the Parquet bytes of its dataset table (what the remote backend
    uploads), refused exactly as :func:`frame_source` refuses it."""
    schema, batches = frame_source(df)
    sink = io.BytesIO()
    with pq.ParquetWriter(sink, schema, compression="zstd") as writer:
        for batch in batches:
            writer.write_batch(batch)
    return sink.getvalue()


def _check_read_back(frame: pd.DataFrame, schema: pa.Schema) -> None:
    """Refuse columns pandas would not read back with their dtype: a 0-row file with the
    same schema and pandas metadata is written and read, as a load would."""
    for fld in schema:
        if pa.types.is_nested(fld.type) and not isinstance(fld.type, pa.ExtensionType):
            raise Invalid(
                f"Column {fld.name!r} holds nested values ({fld.type}); a dataset holds flat "
                f"columns. Store them as text, e.g. df[{fld.name!r}] = "
                f"df[{fld.name!r}].map(json.dumps), or spread them over columns.",
                column=fld.name,
            )
    back = _read_back(schema)
    for name, dtype in frame.dtypes.items():
        if pd.api.types.is_object_dtype(dtype):
            continue  # typed by its values (see the module docstring)
        if back is not None:
            after: str | None = str(back[name])
        else:  # some column breaks the read: find which, one column at a time
            alone = _read_back(pa.Schema.from_pandas(frame[[name]].iloc[:0], preserve_index=False))
            after = str(alone[name]) if alone is not None else None
        before = str(dtype)
        if _stored_dtype(before) != after:
            if after:
                shown = f"would be read back as {after}; to store that, convert it first: "
                shown += f"df[{name!r}] = df[{name!r}].astype({after!r})"
            else:
                shown = "pandas cannot read back; convert it to a numpy or nullable dtype first"
            raise Invalid(f"Column {name!r} has dtype {before}, which {shown}.", column=name)


def _read_back(schema: pa.Schema) -> pd.Series | None:
    """The dtypes pandas gives a file of ``schema`` (``None`` if it cannot read it)."""
    buf = io.BytesIO()
    pq.write_table(schema.empty_table(), buf)
    buf.seek(0)
    try:
        return pq.read_table(buf).to_pandas().dtypes
    except (TypeError, ValueError, pa.ArrowException):
        return None
