"""Parquet and Arrow (IPC file or stream, .feather) files: read batch by batch, types kept.

Index columns that pandas wrote (``__index_level_0__``) are dropped; pandas metadata is kept
when it still describes the kept columns, so DataFrame dtypes survive the round trip.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from ..errors import Invalid
from ..quality import check_column_names
from .sink import _FRAME_BATCH_ROWS, _drain, _Drained, _pandas_metadata, _ParquetOut
from .sources import _ByteSource, _clean, _Meter


def _drop_index_columns(schema: pa.Schema) -> tuple[list[str], dict | None]:
    """Columns to keep from a pandas-written file, and its pandas metadata if still valid."""
    meta = schema.pandas_metadata
    dropped = {n for n in schema.names if re.fullmatch(r"__index_level_\d+__", n)}
    keep = [n for n in schema.names if n not in dropped]
    if meta is None:
        return keep, None
    index_columns = meta.get("index_columns", [])
    if any(isinstance(c, str) for c in index_columns):
        # A named index stored as a column stays a column; the metadata would turn it back
        # into the index, so it is rebuilt from the schema instead.
        return keep, None
    return keep, meta


def _kept_schema(schema_in: pa.Schema) -> tuple[list[str], pa.Schema]:
    """Columns to ingest from a Parquet/Arrow file and the schema (with pandas metadata)."""
    keep, meta = _drop_index_columns(schema_in)
    if not keep:
        raise Invalid("The file has no columns.")
    check_column_names(keep)
    fields = pa.schema([schema_in.field(name) for name in keep])
    if meta is not None:
        return keep, fields.with_metadata({b"pandas": json.dumps(meta).encode()})
    return keep, _pandas_metadata(fields)


def _drain_parquet(
    src: _ByteSource, out: _ParquetOut, meter: _Meter, tick: Callable[[], None]
) -> _Drained:
    with src.open() as f:
        try:
            pf = pq.ParquetFile(f)
        except (pa.ArrowInvalid, OSError) as exc:
            raise Invalid(f"The file is not a valid Parquet file: {_clean(str(exc))}") from None
        keep, schema = _kept_schema(pf.schema_arrow)
        total_rows = max(pf.metadata.num_rows, 1)

        def batches() -> Iterator[pa.RecordBatch]:
            done = 0
            for batch in pf.iter_batches(batch_size=_FRAME_BATCH_ROWS, columns=keep):
                done += batch.num_rows
                meter.count = (src.size or 0) * done // total_rows
                yield batch

        try:
            return _drain(schema, batches(), out, tick)
        except (pa.ArrowInvalid, OSError) as exc:
            raise Invalid(f"The Parquet file is damaged: {_clean(str(exc))}") from None


def _drain_arrow(
    src: _ByteSource, out: _ParquetOut, meter: _Meter, tick: Callable[[], None]
) -> _Drained:
    with src.open() as f:
        reader: Any
        try:
            reader = pa.ipc.open_file(f)
            count = reader.num_record_batches
            batches: Iterator[pa.RecordBatch] = (reader.get_batch(i) for i in range(count))
        except pa.ArrowInvalid:
            f.seek(0)
            try:
                reader = pa.ipc.open_stream(f)
            except pa.ArrowInvalid as exc:
                raise Invalid(
                    f"The file is not a valid Arrow/Feather file: {_clean(str(exc))}"
                ) from None
            batches = iter(reader)
        keep, schema = _kept_schema(reader.schema)

        def selected() -> Iterator[pa.RecordBatch]:
            for batch in batches:
                meter.count += batch.nbytes
                yield batch.select(keep)

        try:
            return _drain(schema, selected(), out, tick)
        except (pa.ArrowInvalid, OSError) as exc:
            raise Invalid(f"The Arrow file is damaged: {_clean(str(exc))}") from None
