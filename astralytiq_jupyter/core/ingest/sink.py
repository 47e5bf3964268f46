"""The Parquet sink of ingest and the batch pipeline every source shares.

Each reader turns its source into Arrow batches; :func:`_drain` writes them into row groups
(encoded by a writer thread) and folds each batch into the quality summary in the same pass,
after flattening nested columns. :func:`_result` then states what was written.

Schema convention: ``IngestResult.schema`` maps each column to ``str(dtype)`` of that
column in ``pandas.read_parquet(<written file>)`` with default options. It is computed by
literally reading back a one-row Parquet file with the same schema, metadata and nulls, so
it cannot drift from pandas' behaviour. With pandas 3 that gives: ``int64`` (``float64``
when the column has missing values), ``float64``, ``bool`` (``object`` with missing values),
``str`` for text, ``datetime64[ms]`` for dates and second-resolution timestamps (Parquet
stores those in ms), ``datetime64[ns]``/``[us]`` for finer timestamps, ``datetime64[ms,
UTC]`` with a time zone, and ``object`` for times of day and nested values. DataFrame
sources keep their pandas dtypes (``category``, ``Int64``, ...) through pandas metadata;
:mod:`..frames` says what is stored of a DataFrame and what is refused.

Normalisation of text-like sources (CSV, TSV, JSON, Excel, SQL): dates become timestamps
(pandas has no date dtype; ``datetime64`` is what analyses expect) and all-missing columns
become text columns. Parquet, Arrow and DataFrame sources keep their types. Surrounding
spaces are removed from CSV header names.

Sinks: the Parquet bytes go to a seekable sink directly (rewound if a restart or error
happens); a non-seekable sink receives them in one copy from a private temporary file at
the end, since a restart must be able to discard what was written.
"""

from __future__ import annotations

import contextlib
import io
import json
import queue
import shutil
import tempfile
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import IO, Any

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from ..errors import Invalid
from ..quality import QualityAccumulator, check_column_names, frame_to_batches
from .sources import _Meter

# A row group is flushed at this many bytes of Arrow data: small enough that writing
# overlaps reading, large enough for good compression and fast reads (DuckDB uses ~120k rows).
_ROW_GROUP_BYTES = 12 * 1024 * 1024
_ROW_GROUP_MAX_ROWS = 1024 * 1024
_FRAME_BATCH_ROWS = 65_536
_COMPRESSION = "zstd"


@dataclass
class IngestResult:
    """What was written: counts, schema (see module docstring), quality and provenance."""

    rows: int
    columns: int
    schema: dict[str, str]
    quality: dict
    source_kind: str
    source_detail: str
    format: str
    bytes_read: int


class _ParquetOut:
    """One Parquet file written to the caller's sink, restartable until ``finish``.

    Row groups are encoded and compressed in a writer thread while the calling thread
    computes quality for the same rows and the reader thread parses the next ones.
    """

    def __init__(self, sink: IO[bytes]) -> None:
        self._sink = sink
        rewindable = False
        with contextlib.suppress(AttributeError, OSError, ValueError):
            rewindable = bool(sink.seekable()) and hasattr(sink, "truncate")
        if rewindable:
            self._target: IO[bytes] = sink
            self._start = sink.tell()
            self._spool: IO[bytes] | None = None
        else:
            self._spool = tempfile.TemporaryFile(prefix="astralytiq-parquet-")  # noqa: SIM115
            self._target, self._start = self._spool, 0
        self._schema: pa.Schema | None = None
        self._writer: pq.ParquetWriter | None = None
        self._executor: ThreadPoolExecutor | None = None
        self._future: Future[None] | None = None
        self._finishing = False

    def begin(self, schema: pa.Schema) -> None:
        # The writer is opened with the first row group, whose values decide which columns
        # get dictionary encoding.
        self._schema = schema

    def _open(self, first: pa.Table | None) -> pq.ParquetWriter:
        assert self._schema is not None
        return pq.ParquetWriter(
            self._target,
            self._schema,
            compression=_COMPRESSION,
            use_dictionary=_dictionary_columns(first) if first is not None else True,
        )

    def write_group(self, table: pa.Table) -> None:
        """Queue one row group for the writer thread (after the previous one is done)."""
        self._wait()
        if self._writer is None:
            self._writer = self._open(table)
        if self._executor is None:
            self._executor = ThreadPoolExecutor(1, thread_name_prefix="astralytiq-parquet")
        self._future = self._executor.submit(self._write, self._writer, table)
        # Arrow's allocator keeps freed blocks per thread; handing them back once per row
        # group keeps the process's peak memory near what is really alive (~25 MB less).
        pa.default_memory_pool().release_unused()

    @staticmethod
    def _write(writer: pq.ParquetWriter, table: pa.Table) -> None:
        writer.write_table(table, row_group_size=_ROW_GROUP_MAX_ROWS)
        pa.default_memory_pool().release_unused()

    def _wait(self) -> None:
        future, self._future = self._future, None
        if future is not None:
            future.result()

    def rewind(self) -> None:
        """Forget everything written so far (a restart or an error)."""
        with contextlib.suppress(Exception):
            self._wait()
        if self._writer is not None:
            with contextlib.suppress(Exception):
                self._writer.close()
            self._writer = None
        self._target.seek(self._start)
        self._target.truncate()
        self._finishing = False

    def start_finish(self) -> None:
        """Close the file and copy it to the sink in the writer thread (the data is final:
        no restart can follow), while the caller computes the quality report."""
        self._wait()
        if self._executor is None:
            self._executor = ThreadPoolExecutor(1, thread_name_prefix="astralytiq-parquet")
        self._future = self._executor.submit(self._finish)
        self._finishing = True

    def finish(self) -> None:
        if not self._finishing:
            self.start_finish()
        self._wait()

    def _finish(self) -> None:
        if self._writer is None:
            self._writer = self._open(None)  # no rows: schema only
        self._writer.close()
        self._writer = None
        if self._spool is not None:
            self._spool.seek(0)
            shutil.copyfileobj(self._spool, self._sink, 1024 * 1024)

    def close(self) -> None:
        if self._executor is not None:
            self._executor.shutdown(wait=True)
        if self._spool is not None:
            self._spool.close()


def _dictionary_columns(table: pa.Table) -> list[str]:
    """Columns worth dictionary-encoding: few distinct values in a sample of the first rows.

    Dictionary-encoding mostly unique values (ids, emails, timestamps) costs time and
    makes small row groups larger; Parquet falls back to plain encoding only per page.
    """
    sample = table.slice(0, 20_000)
    rows = max(sample.num_rows, 1)
    chosen = []
    for fld, column in zip(sample.schema, sample.columns, strict=True):
        if (
            pa.types.is_nested(fld.type)
            or pa.types.is_boolean(fld.type)
            or pa.types.is_null(fld.type)
            or isinstance(fld.type, pa.ExtensionType)  # no distinct count (pandas periods...)
        ):
            continue
        if pa.types.is_dictionary(fld.type) or pc.count_distinct(column).as_py() <= rows // 2:
            chosen.append(fld.name)
    return chosen


def _storage_type(typ: pa.DataType) -> pa.DataType:
    """Types stored for text-like sources (see module docstring)."""
    if pa.types.is_null(typ):
        return pa.string()
    if pa.types.is_date(typ):
        return pa.timestamp("ms")
    return typ


def _storage_schema(schema: pa.Schema) -> pa.Schema:
    return pa.schema([pa.field(f.name, _storage_type(f.type)) for f in schema])


def _pandas_metadata(schema: pa.Schema) -> pa.Schema:
    """``schema`` with pandas metadata describing the dtypes pandas reads it back as."""
    frame = schema.empty_table().to_pandas()
    metadata = pa.Schema.from_pandas(frame, preserve_index=False).metadata
    return schema.with_metadata(metadata)


def _conformer(source: pa.Schema, target: pa.Schema) -> Callable[[pa.RecordBatch], pa.RecordBatch]:
    """Cast batches of ``source`` to ``target`` (same names, possibly different types)."""
    casts = [i for i, (a, b) in enumerate(zip(source, target, strict=True)) if a.type != b.type]
    if not casts:
        # Parquet and the quality pass compare types, not metadata: nothing to do.
        return lambda batch: batch

    def conform(batch: pa.RecordBatch) -> pa.RecordBatch:
        arrays = list(batch.columns)
        for i in casts:
            arrays[i] = arrays[i].cast(target.field(i).type)
        return pa.RecordBatch.from_arrays(arrays, schema=target)

    return conform


class _Raised:
    def __init__(self, exc: BaseException) -> None:
        self.exc = exc


def _prefetch(batches: Iterator[Any], depth: int = 1) -> Iterator[Any]:
    """Run ``batches`` in a reader thread so reading overlaps quality and writing."""
    q: queue.Queue[Any] = queue.Queue(maxsize=depth)
    stop = threading.Event()
    done = object()

    def put(item: Any) -> bool:
        while not stop.is_set():
            try:
                q.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def run() -> None:
        try:
            for item in batches:
                if not put(item):
                    return
            put(done)
        except BaseException as exc:  # forwarded to the consuming thread
            put(_Raised(exc))

    thread = threading.Thread(target=run, name="astralytiq-ingest-reader", daemon=True)
    thread.start()
    try:
        while True:
            item = q.get()
            if item is done:
                return
            if isinstance(item, _Raised):
                raise item.exc
            yield item
    finally:
        stop.set()
        thread.join()


@dataclass
class _Drained:
    rows: int
    schema: pa.Schema
    quality: QualityAccumulator
    first_row: pa.RecordBatch | None


def _drain(
    schema: pa.Schema,
    batches: Iterator[pa.RecordBatch],
    out: _ParquetOut,
    tick: Callable[[], None],
    remaining: Callable[[], int] | None = None,
) -> _Drained:
    """Write every batch (already in ``schema``) and fold it into the quality summary.

    Batches are gathered into row groups of about ``_ROW_GROUP_BYTES`` for the writer
    thread; the calling thread meanwhile runs the quality accumulator over each batch.
    ``remaining`` (input bytes not read yet) lets the last groups be small, so the writing
    left once the reader is done (when only one core has work) is short.
    """
    if not schema.names:
        raise Invalid("The data has no columns.")
    schema, batches = _flattened(schema, batches)
    acc = QualityAccumulator(schema)
    out.begin(schema)
    rows = 0
    first: pa.RecordBatch | None = None
    pending: list[pa.RecordBatch] = []
    pending_bytes = pending_rows = 0

    with contextlib.closing(batches) if hasattr(batches, "close") else contextlib.nullcontext():
        for batch in batches:
            if not batch.num_rows:
                continue
            if first is None:
                first = batch.take(pa.array([0]))  # a copy: a slice would pin the batch
            acc.update(batch)
            pending.append(batch)
            pending_bytes += batch.nbytes
            pending_rows += batch.num_rows
            rows += batch.num_rows
            limit = _ROW_GROUP_BYTES
            if remaining is not None and remaining() < 2 * _ROW_GROUP_BYTES:
                limit //= 4
            if pending_bytes >= limit or pending_rows >= _ROW_GROUP_MAX_ROWS:
                out.write_group(pa.Table.from_batches(pending, schema=schema))
                pending, pending_bytes, pending_rows = [], 0, 0
            tick()
    if pending:
        out.write_group(pa.Table.from_batches(pending, schema=schema))
    return _Drained(rows, schema, acc, first)


def _is_flat(typ: pa.DataType) -> bool:
    return not (pa.types.is_nested(typ) or pa.types.is_null(typ))


def _flat_table(table: pa.Table) -> pa.Table:
    """``table`` with only flat columns: struct fields become ``parent.child`` columns, lists,
    maps and unions JSON text, and all-missing (null-type) columns text, as the JSON reader
    stores them (nested values cannot be profiled, filtered or charted)."""
    while any(pa.types.is_struct(f.type) for f in table.schema):
        table = table.flatten()
    check_column_names(table.column_names)
    if all(_is_flat(f.type) for f in table.schema):
        return table
    columns = {}
    for name, column in zip(table.column_names, table.columns, strict=True):
        if pa.types.is_null(column.type):
            column = column.cast(pa.string())
        elif pa.types.is_nested(column.type):
            text = [
                None if v is None else json.dumps(v, ensure_ascii=False, default=str)
                for v in column.to_pylist()
            ]
            column = pa.chunked_array([pa.array(text, pa.string())])
        columns[name] = column
    return pa.table(columns)


def _flattened(
    schema: pa.Schema, batches: Iterator[pa.RecordBatch]
) -> tuple[pa.Schema, Iterator[pa.RecordBatch]]:
    """The schema and batches of :func:`_flat_table` (unchanged when already flat)."""
    if all(_is_flat(f.type) for f in schema):
        return schema, batches
    target = _pandas_metadata(_flat_table(schema.empty_table()).schema)

    def flat() -> Iterator[pa.RecordBatch]:
        with contextlib.closing(batches) if hasattr(batches, "close") else contextlib.nullcontext():
            for batch in batches:
                table = _flat_table(pa.Table.from_batches([batch], schema=schema))
                yield from table.cast(target).to_batches()

    return target, flat()


def _read_back_dtypes(drained: _Drained, quality: dict) -> dict[str, str]:
    """The dtypes pandas reports for the written file (see module docstring)."""
    schema = drained.schema
    if drained.first_row is None:
        table = schema.empty_table()
    else:
        arrays = []
        for i, fld in enumerate(schema):
            if quality["missing"][fld.name]["count"]:
                arrays.append(pa.nulls(1, fld.type))
            else:
                arrays.append(drained.first_row.column(i))
        table = pa.Table.from_arrays(arrays, schema=schema)
    buf = io.BytesIO()
    pq.write_table(table, buf)
    buf.seek(0)
    frame = pd.read_parquet(buf)
    return {str(name): str(dtype) for name, dtype in frame.dtypes.items()}


class _Restart(Exception):  # noqa: N818 - control flow, not an error
    """The CSV read must start over with an updated plan."""


def _drain_frame(
    df: pd.DataFrame, out: _ParquetOut, tick: Callable[[], None], normalize: bool
) -> _Drained:
    source, batches = frame_to_batches(df, _FRAME_BATCH_ROWS)
    target = _pandas_metadata(_storage_schema(source)) if normalize else source
    conform = _conformer(source, target)
    return _drain(target, (conform(b) for b in batches), out, tick)


def _metered(batches: Iterator[pa.RecordBatch], meter: _Meter) -> Iterator[pa.RecordBatch]:
    """Count (and limit) the in-memory Arrow bytes of sources that have no file size."""
    for batch in batches:
        meter.add(batch.nbytes)
        yield batch


def _result(drained: _Drained, kind: str, detail: str, fmt: str, consumed: int) -> IngestResult:
    quality = drained.quality.result()
    return IngestResult(
        rows=drained.rows,
        columns=len(drained.schema.names),
        schema=_read_back_dtypes(drained, quality),
        quality=quality,
        source_kind=kind,
        source_detail=detail,
        format=fmt,
        bytes_read=consumed,
    )
