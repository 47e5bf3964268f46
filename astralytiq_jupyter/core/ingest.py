"""Ingest: read a file, upload, URL, SQL query or DataFrame into one Parquet file.

``ingest_to_parquet`` is the only entry point the dataset service needs. It validates the
input, converts it to Arrow batch by batch, computes the quality summary in the same pass and
writes a single Parquet file (zstd, pandas metadata) to the caller's sink.

Sources (``source_kind``):

* ``"file"``: a local path (``str`` or ``os.PathLike``), or a
  :class:`~.workspace_files.WorkspaceFile` a server's workspace rule allowed.
* ``"url"``: an ``http://`` or ``https://`` URL, downloaded with SSRF protections (below).
* ``"upload"``: ``bytes`` or a binary file object; needs ``filename=`` or ``format=``.
* ``"sql"``: a :class:`SqlSource` (SQLAlchemy URL and one SELECT/WITH query).
* ``"dataframe"``: a pandas DataFrame.

Formats: csv, tsv, excel (.xlsx/.xlsm), json (array of records, or JSON lines), jsonl,
parquet, arrow (IPC file or stream, .feather).

Read options (anything else is rejected with the list of valid ones):

* CSV/TSV
    - ``delimiter``: one character; default: detected with ``csv.Sniffer`` among
      ``, ; TAB |`` (TSV defaults to TAB).
    - ``encoding``: a Python codec name; default: UTF-8 (with or without BOM, UTF-16/32 with
      BOM), else detected by charset-normalizer on the first MiB.
    - ``header``: ``True`` (default, first row after ``skip_rows`` holds the names),
      ``False`` (no header: columns are named ``column_1`` .. ``column_n``) or a row index
      ``n`` (names are on row ``n`` after ``skip_rows``; rows above it are skipped).
    - ``skip_rows``: rows to skip at the top of the file before anything else (default 0).
    - ``null_values``: strings read as missing, replacing the defaults (empty, NA, N/A, NULL,
      NaN, nan, null, #N/A, ...).
    - ``block_size``: bytes read per block (default 4 MiB then 2 MiB pieces, 1 MiB for the
      streaming reader); types are inferred from the first block. Mostly useful for tests.
* Excel: ``sheet`` (name or 0-based index, default the first sheet), ``header``,
  ``skip_rows`` and ``null_values`` as for CSV.
* JSON: ``records_path``: dotted path to the list of records inside a JSON object, e.g.
  ``"data.items"``. Nested objects become ``parent.child`` columns; lists and objects that
  remain are stored as JSON text.
* SQL: ``chunksize``: rows fetched per round trip (default 50,000).
* URL: ``timeout``: seconds for connecting and for each read (default 30); a download may
  take at most 20 timeouts in total. The format options of the downloaded file also apply.

Schema convention: ``IngestResult.schema`` maps each column to ``str(dtype)`` of that
column in ``pandas.read_parquet(<written file>)`` with default options. It is computed by
literally reading back a one-row Parquet file with the same schema, metadata and nulls, so
it cannot drift from pandas' behaviour. With pandas 3 that gives: ``int64`` (``float64``
when the column has missing values), ``float64``, ``bool`` (``object`` with missing values),
``str`` for text, ``datetime64[ms]`` for dates and second-resolution timestamps (Parquet
stores those in ms), ``datetime64[ns]``/``[us]`` for finer timestamps, ``datetime64[ms,
UTC]`` with a time zone, and ``object`` for times of day and nested values. DataFrame
sources keep their pandas dtypes (``category``, ``Int64``, ...) through pandas metadata;
:mod:`.frames` says what is stored of a DataFrame and what is refused.

Normalisation of text-like sources (CSV, TSV, JSON, Excel, SQL): dates become timestamps
(pandas has no date dtype; ``datetime64`` is what analyses expect) and all-missing columns
become text columns. Parquet, Arrow and DataFrame sources keep their types. Surrounding
spaces are removed from CSV header names.

Rejected with :class:`Invalid` (and nothing written to the sink): 0-byte files, files that
are not text (NUL bytes, undecodable), wrong explicit encodings, rows whose field count
differs from the header (truncated or unquoted delimiters), empty or duplicate column names,
unsupported extensions and schemes, malformed JSON/Excel/Parquet/Arrow, SQL that is not a
single SELECT/WITH or cannot connect. A CSV with a header and no data rows is a valid
0-row dataset (all columns text); its quality report flags it.

CSV engines (three threads: a reader parses, the caller computes quality, a writer thread
encodes row groups of ~12 MB, so the two cores stay busy and memory stays bounded by a few
blocks, two row groups and 8 bytes per row for duplicate detection):

* files up to ``SMALL_CSV_BYTES``: one multithreaded ``pyarrow.csv.read_csv`` call;
* larger files without line breaks inside values: cut at newlines into pieces (4 MiB
  first, for type inference, then 2 MiB), transcoded to UTF-8 if needed and parsed with
  ``read_csv`` by a reader thread (``open_csv`` parsed block by block on one core and
  made ingest ~1.5x slower than the floor);
* otherwise (quoted line breaks, UTF-16/32, bare CR line ends): ``pyarrow.csv.open_csv``,
  which handles quotes across blocks and transcodes as it streams.

Later pieces/blocks must convert to the types inferred from the first one. When one cannot
(an int column with ``abc`` in row 900,000), the read restarts with that column widened
(int -> float -> text, date -> timestamp -> text, empty -> the value's type), at most a few
times per column; a line break inside quotes met after the sample restarts with the
quote-aware reader, and a non-UTF-8 byte after an ASCII sample restarts with the detected
encoding. Excel and JSON inputs are read whole, Parquet by row group; ``max_bytes`` bounds
them.

Sinks: the Parquet bytes go to a seekable sink directly (rewound if a restart or error
happens); a non-seekable sink receives them in one copy from a private temporary file at
the end, since a restart must be able to discard what was written.

URL safety: only http/https; the host is resolved and every address must be public
(private, loopback, link-local incl. 169.254.169.254, CGNAT, reserved, multicast,
unspecified, and IPv4-mapped/6to4/NAT64 forms of those are refused) unless the host name,
or a CIDR containing the address, is in ``url_allowlist``. The connection goes to the
checked address (with the original Host header and TLS server name), so DNS rebinding
between check and connect is not possible. Redirects are followed by hand (at most 5),
each hop checked the same way. No proxy is used and no compressed transfer encoding is
requested, so ``max_bytes`` counts the real bytes.
"""

from __future__ import annotations

import base64
import codecs
import contextlib
import csv
import http.client
import io
import ipaddress
import itertools
import json
import os
import queue
import re
import shutil
import socket
import ssl
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import IO, Any
from urllib.parse import parse_qsl, urlencode, urljoin, urlsplit, urlunsplit

import charset_normalizer
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.json as pajson
import pyarrow.parquet as pq

from .errors import Invalid, QuotaExceeded
from .frames import frame_source
from .limits import text_depth
from .quality import QualityAccumulator, check_column_names, frame_to_batches
from .workspace_files import WorkspaceFile

__all__ = [
    "FORMATS",
    "READ_OPTIONS",
    "check_read_options",
    "IngestResult",
    "SqlSource",
    "detect_format",
    "ingest_to_parquet",
]

Progress = Callable[[int, "int | None"], None]

FORMATS = ("csv", "tsv", "excel", "json", "jsonl", "parquet", "arrow")
_EXTENSIONS = {
    ".csv": "csv",
    ".txt": "csv",
    ".tsv": "tsv",
    ".tab": "tsv",
    ".xlsx": "excel",
    ".xlsm": "excel",
    ".json": "json",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".parquet": "parquet",
    ".pq": "parquet",
    ".arrow": "arrow",
    ".feather": "arrow",
    ".ipc": "arrow",
}
_FORMAT_ALIASES = {"xlsx": "excel", "xlsm": "excel", "ndjson": "jsonl", "feather": "arrow"}
FORMAT_ALIASES = tuple(_FORMAT_ALIASES)  # other names a format may be given by
_CONTENT_TYPES = {
    "text/csv": "csv",
    "application/csv": "csv",
    "text/tab-separated-values": "tsv",
    "application/json": "json",
    "application/x-ndjson": "jsonl",
    "application/jsonl": "jsonl",
    "application/x-jsonlines": "jsonl",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": "excel",
    "application/vnd.apache.parquet": "parquet",
    "application/x-parquet": "parquet",
    "application/vnd.apache.arrow.file": "arrow",
    "application/vnd.apache.arrow.stream": "arrow",
}
_CSV_OPTIONS = {"delimiter", "encoding", "header", "skip_rows", "null_values", "block_size"}
_OPTIONS = {
    "csv": _CSV_OPTIONS,
    "tsv": _CSV_OPTIONS,
    "excel": {"sheet", "header", "skip_rows", "null_values"},
    "json": {"records_path"},
    "jsonl": set(),
    "parquet": set(),
    "arrow": set(),
    "sql": {"chunksize"},
    "dataframe": set(),
}

#: CSV files up to this size are read in one multithreaded call (see module docstring).
SMALL_CSV_BYTES = 16 * 1024 * 1024
_BLOCK_SIZE = 1024 * 1024
_PIECE_BYTES = 2 * 1024 * 1024
_FIRST_PIECE_BYTES = 4 * 1024 * 1024
#: The longest CSV row, and so the longest single value, accepted: every reader is given
#: blocks large enough for it, and a longer row is refused with one message.
MAX_CSV_ROW_BYTES = 8 * 1024 * 1024
# The csv module (used on the sample) refuses fields over 128 KiB by default; it must take
# whatever pyarrow takes. The limit is process-wide, so it is only ever raised.
csv.field_size_limit(max(csv.field_size_limit(), MAX_CSV_ROW_BYTES))
# Blocks of the reader used once a row did not fit a block: any allowed row fits.
_WIDE_BLOCK_SIZE = MAX_CSV_ROW_BYTES + 1024 * 1024
# Other blocks are at most half the row limit, so that a row over it always spans more than
# the two blocks pyarrow can join, and is seen.
_MAX_BLOCK_SIZE = MAX_CSV_ROW_BYTES // 2
_SAMPLE_BYTES = 1024 * 1024
_SNIFF_CHARS = 16 * 1024
# A row group is flushed at this many bytes of Arrow data: small enough that writing
# overlaps reading, large enough for good compression and fast reads (DuckDB uses ~120k rows).
_ROW_GROUP_BYTES = 12 * 1024 * 1024
_ROW_GROUP_MAX_ROWS = 1024 * 1024
_FRAME_BATCH_ROWS = 65_536
_COMPRESSION = "zstd"
_SQL_CHUNKSIZE = 50_000
#: Deepest nesting of a JSON or JSON-lines file (nested objects become parent.child columns).
MAX_JSON_FILE_DEPTH = 64
_URL_TIMEOUT = 30.0
_MAX_REDIRECTS = 5
_DEFAULT_NULLS = [
    "", "#N/A", "#N/A N/A", "#NA", "-1.#IND", "-1.#QNAN", "-NaN", "-nan", "1.#IND",
    "1.#QNAN", "<NA>", "N/A", "NA", "NULL", "NaN", "None", "n/a", "nan", "null",
]  # fmt: skip


@dataclass(frozen=True)
class SqlSource:
    """A read-only query against a database reachable with a SQLAlchemy URL."""

    url: str  # SQLAlchemy URL
    query: str  # a SELECT; run read-only via pandas.read_sql / SQLAlchemy, streamed in chunks

    def __repr__(self) -> str:
        return f"SqlSource(url={_mask_sql_url(self.url)!r}, query={self.query!r})"


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


def detect_format(filename: str) -> str:
    """The format implied by a file name's extension; Invalid for unsupported ones."""
    name = os.path.basename(str(filename)).lower()
    ext = os.path.splitext(name)[1]
    if ext in _EXTENSIONS:
        return _EXTENSIONS[ext]
    supported = ", ".join(sorted(_EXTENSIONS))
    if ext == ".xls":
        raise Invalid(
            f"'{name}' is an old-style Excel .xls file, which is not supported. Open it in "
            "Excel and save it as .xlsx, or export it as CSV.",
            filename=name,
        )
    shown = f"'{ext}' files are" if ext else f"'{name}' has no extension, so it is"
    raise Invalid(
        f"{shown} not supported. Supported extensions: {supported}.",
        filename=name,
        supported=sorted(_EXTENSIONS),
    )


def _normalize_format(fmt: str) -> str:
    key = str(fmt).strip().lower().lstrip(".")
    key = _FORMAT_ALIASES.get(key, key)
    if key not in FORMATS:
        raise Invalid(
            f"Unknown format '{fmt}'. Supported formats: {', '.join(FORMATS)}.", format=fmt
        )
    return key


def _mb(n: int) -> str:
    value = n / 1_000_000
    return f"{value:,.1f} MB" if value >= 1 else f"{value:.3g} MB"


def _quota(limit: int) -> QuotaExceeded:
    return QuotaExceeded(
        f"The data is larger than the {_mb(limit)} limit for one import. Import a smaller "
        "file or ask an administrator to raise the limit.",
        quota="upload_bytes",
        limit=limit,
    )


# --------------------------------------------------------------------------------------
# Byte sources
# --------------------------------------------------------------------------------------


class _Meter:
    """Counts bytes consumed from a source and enforces ``max_bytes`` as they arrive."""

    def __init__(self, limit: int | None) -> None:
        self.limit = limit
        self.count = 0

    def add(self, n: int) -> None:
        self.count += n
        if self.limit is not None and self.count > self.limit:
            raise _quota(self.limit)


class _Reader(io.RawIOBase):
    """A read-only view of a binary stream starting at ``base``; never closes the stream.

    Seeking is relative to ``base`` so random-access readers (Parquet, Excel) see a file that
    starts at the caller's position. An optional meter counts every byte read.
    """

    def __init__(
        self,
        raw: IO[bytes],
        base: int = 0,
        meter: _Meter | None = None,
        watch: _QuoteWatch | None = None,
    ) -> None:
        super().__init__()
        self._raw = raw
        self._base = base
        self._meter = meter
        self._watch = watch

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return bool(self._raw.seekable())

    def readinto(self, buffer: Any) -> int:
        view = memoryview(buffer).cast("B")
        reader = getattr(self._raw, "readinto", None)
        if reader is not None:
            n = reader(view) or 0
        else:
            data = self._raw.read(len(view))
            n = len(data)
            view[:n] = data
        if self._meter is not None:
            self._meter.add(n)
        return n

    def read(self, size: int = -1) -> bytes:
        data = self._raw.read() if size is None or size < 0 else self._raw.read(size)
        if self._meter is not None:
            self._meter.add(len(data))
        if self._watch is not None:
            self._watch.feed(data)
        return data

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        if whence == io.SEEK_SET:
            offset += self._base
        return self._raw.seek(offset, whence) - self._base

    def tell(self) -> int:
        return self._raw.tell() - self._base


class _QuoteWatch:
    """Where the last ``"`` of a stream is and which byte precedes it.

    pyarrow accepts a quoted value that is still open at the end of the data and silently
    puts everything after the quote into it; a last quote that opens a field (after a
    delimiter or a line break) means exactly that: the file was cut inside a quoted value.
    """

    def __init__(self) -> None:
        self.offset = 0
        self.last = -1
        self.before: int | None = None
        self._tail: int | None = None

    def feed(self, data: bytes | bytearray, start: int = 0, end: int | None = None) -> None:
        """Account for ``data[start:end]``, the next bytes of the stream."""
        end = len(data) if end is None else end
        i = data.rfind(b'"', start, end)
        if i >= 0:
            self.last = self.offset + i - start
            self.before = data[i - 1] if i > start else self._tail
        if end > start:
            self._tail = data[end - 1]
        self.offset += end - start

    def unterminated(self, delimiter: str) -> bool:
        return self.last >= 0 and (self.before is None or self.before in (ord(delimiter), 10, 13))


@dataclass
class _ByteSource:
    """Re-readable bytes: ``open()`` returns a fresh reader positioned at the start."""

    kind: str
    detail: str
    name: str | None
    size: int | None
    _opener: Callable[[], tuple[IO[bytes], int, bool]]
    _cleanup: list[Callable[[], None]] = field(default_factory=list)

    @contextlib.contextmanager
    def open(
        self, meter: _Meter | None = None, watch: _QuoteWatch | None = None
    ) -> Iterator[_Reader]:
        raw, base, owned = self._opener()
        try:
            if raw.seekable():
                raw.seek(base)
            yield _Reader(raw, base, meter, watch)
        finally:
            if owned:
                raw.close()

    def close(self) -> None:
        for fn in self._cleanup:
            fn()


def _path_source(path: str | os.PathLike[str], detail: str, meter: _Meter) -> _ByteSource:
    fspath = os.fspath(path)
    try:
        stat = os.stat(fspath)
    except FileNotFoundError:
        raise Invalid(f"File not found: {fspath}", path=fspath) from None
    except OSError as exc:
        raise Invalid(f"Cannot read {fspath}: {exc.strerror}.", path=fspath) from None
    if os.path.isdir(fspath):
        raise Invalid(f"{fspath} is a folder, not a file.", path=fspath)

    def opener() -> tuple[IO[bytes], int, bool]:
        try:
            return open(fspath, "rb"), 0, True  # noqa: SIM115 - closed by _ByteSource.open
        except OSError as exc:
            raise Invalid(f"Cannot read {fspath}: {exc.strerror}.", path=fspath) from None

    name = os.path.basename(fspath)
    if not os.path.isfile(fspath):
        # A pipe or device can be read only once; keep a copy to re-read for restarts.
        raw, _, _ = opener()
        with raw:
            src = _fileobj_source(raw, name, meter)
        src.kind, src.detail = "file", detail
        return src
    return _ByteSource("file", detail, name, stat.st_size, opener)


def _spool(stream: IO[bytes], meter: _Meter) -> IO[bytes]:
    spool = tempfile.TemporaryFile(prefix="astralytiq-ingest-")  # noqa: SIM115 - returned
    try:
        while True:
            chunk = stream.read(1024 * 1024)
            if not chunk:
                break
            meter.add(len(chunk))
            spool.write(chunk)
    except BaseException:
        spool.close()
        raise
    return spool


def _fileobj_source(obj: IO[bytes], name: str | None, meter: _Meter) -> _ByteSource:
    seekable = False
    with contextlib.suppress(AttributeError, OSError, ValueError):
        seekable = bool(obj.seekable())
    if seekable:
        base = obj.tell()
        size = obj.seek(0, io.SEEK_END) - base
        obj.seek(base)
        return _ByteSource("upload", name or "upload", name, size, lambda: (obj, base, False))
    spool = _spool(obj, meter)
    size = spool.tell()
    src = _ByteSource("upload", name or "upload", name, size, lambda: (spool, 0, False))
    src._cleanup.append(spool.close)
    return src


def _read_head(src: _ByteSource, n: int) -> tuple[bytes, bool]:
    """Up to ``n`` bytes from the start, and whether that is the whole source."""
    with src.open() as f:
        parts: list[bytes] = []
        remaining = n + 1
        while remaining > 0:
            chunk = f.read(remaining)
            if not chunk:
                break
            parts.append(chunk)
            remaining -= len(chunk)
    data = b"".join(parts)
    return data[:n], len(data) <= n


# --------------------------------------------------------------------------------------
# Parquet output and the shared batch pipeline
# --------------------------------------------------------------------------------------


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


# --------------------------------------------------------------------------------------
# CSV
# --------------------------------------------------------------------------------------


@dataclass
class _CsvPlan:
    delimiter: str
    names: list[str]
    skip_rows: int
    encoding: str | None  # None: UTF-8 passed straight to pyarrow
    encoding_given: bool
    sample_ascii: bool
    null_values: list[str]
    block_size: int | None  # None: the engine's default
    newlines_in_values: bool
    lf_lines: bool  # lines end with \n (not bare \r)
    header: bool
    column_types: dict[str, pa.DataType] = field(default_factory=dict)
    # A row did not fit a block: read with blocks that fit any row up to MAX_CSV_ROW_BYTES.
    wide_rows: bool = False


class _Restart(Exception):  # noqa: N818 - control flow, not an error
    """The CSV read must start over with an updated plan."""


_LINE_END = re.compile(r"\r\n|\n|\r")
_BLANK_LINES = re.compile(r"(?:[ \t]*(?:\r\n|\n|\r))+")
_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)


def _codec_name(encoding: str) -> str:
    """The codec's canonical name; only text encodings a CSV file can be written in (those
    that write ASCII as ASCII, and UTF-16/32) are accepted: 'rot13', 'hex' or 'zlib' are
    codecs, but not of text."""
    try:
        name = codecs.lookup(encoding).name
        b"".decode(name)  # LookupError for codecs that are not text encodings
    except (LookupError, TypeError, ValueError):
        name = None
    if name is None or not (name.startswith(("utf-16", "utf-32")) or _writes_ascii(name)):
        raise Invalid(
            f"Unknown text encoding {str(encoding)[:40]!r}. Use a name such as 'utf-8', "
            "'cp1252', 'latin-1' or 'utf-16'.",
            encoding=str(encoding)[:40],
        )
    return name


def _writes_ascii(codec: str) -> bool:
    sample = '\n",;|\t abcxyzABCXYZ0189.-'
    try:
        return sample.encode(codec) == sample.encode("ascii") and b"a,b".decode(codec) == "a,b"
    except (UnicodeError, LookupError, ValueError, TypeError):
        return False


def _decode_sample(sample: bytes, complete: bool, codec: str, what: str) -> str:
    decoder = codecs.getincrementaldecoder(codec)(errors="strict")
    try:
        return decoder.decode(sample, final=complete)
    except UnicodeError as exc:
        if not isinstance(exc, UnicodeDecodeError):
            raise Invalid(f"The file is not valid {what} text.", encoding=what) from None
        line = sample.count(b"\n", 0, exc.start) + 1
        raise Invalid(
            f"The file is not valid {what} text: byte 0x{sample[exc.start]:02X} on line {line} "
            f"(byte offset {exc.start:,}) cannot be decoded. Choose the file's real encoding "
            "(for example 'cp1252' or 'latin-1' for Western European Windows files).",
            encoding=what,
            offset=exc.start,
            line=line,
        ) from None


_CONTROL_CHARS = re.compile(r"[\x00-\x08\x0e-\x1f]")


def _looks_binary(text: str) -> bool:
    """More than 0.5% control characters (other than tab and line breaks): not text."""
    text = text[:65536]
    return len(_CONTROL_CHARS.findall(text)) > max(8, len(text) // 200)


def _binary_error(fmt: str) -> Invalid:
    return Invalid(
        f"The file is not valid UTF-8/Latin-1 text: it contains binary data, so it is not a "
        f"{fmt.upper()} file. Check that you picked the right file; a spreadsheet must be "
        "saved as .xlsx (or exported as CSV) first.",
        format=fmt,
    )


def _detect_encoding(
    sample: bytes, complete: bool, given: str | None, fmt: str
) -> tuple[str | None, str]:
    """(encoding for pyarrow or None for UTF-8, decoded sample text)."""
    if given is not None:
        codec = _codec_name(given)
        if codec == "utf-8" and sample.startswith(codecs.BOM_UTF8):
            codec = "utf-8-sig"
        text = _decode_sample(sample, complete, codec, given)
        return (None if codec in ("utf-8", "utf-8-sig") else codec), text.lstrip("\ufeff")
    for bom, codec in _BOMS:
        if sample.startswith(bom):
            text = _decode_sample(sample, complete, codec, codec.upper())
            return (None if codec == "utf-8-sig" else codec), text.lstrip("\ufeff")
    if b"\x00" in sample:
        raise _binary_error(fmt)
    try:
        text = codecs.getincrementaldecoder("utf-8")(errors="strict").decode(sample, complete)
        return None, text
    except UnicodeDecodeError:
        pass
    codec = _legacy_encoding(b"\n".join(_NON_ASCII_LINE.findall(sample)))
    if codec is None:
        raise _binary_error(fmt)
    text = codecs.getincrementaldecoder(codec)(errors="replace").decode(sample, complete)
    return codec, text


_NON_ASCII_LINE = re.compile(rb"[^\n]*[\x80-\xff][^\n]*")
_NON_ASCII_BYTE = re.compile(rb"[\x80-\xff]")
# Below this many non-ASCII bytes, statistical charset detection is a coin toss (one "é"
# reads as "È" in Mac Roman just as well).
_MIN_EVIDENCE = 32


def _legacy_encoding(evidence: bytes) -> str | None:
    """The encoding of text that is not UTF-8, judged from its non-ASCII lines.

    With enough evidence charset-normalizer decides; with a few accented letters it cannot,
    and Windows-1252, the usual encoding of such files in Western Europe, is assumed.
    """
    if len(_NON_ASCII_BYTE.findall(evidence)) >= _MIN_EVIDENCE:
        best = charset_normalizer.from_bytes(evidence, cp_exclusion=["utf_8"]).best()
        return _codec_name(best.encoding) if best is not None else None
    try:
        evidence.decode("cp1252")
        return "cp1252"
    except UnicodeDecodeError:
        return "latin-1"


def _records(text: str, delimiter: str) -> csv.reader:  # type: ignore[valid-type]
    return csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, quotechar='"')


def _field_counts(text: str, delimiter: str, limit: int = 50) -> list[int]:
    counts = []
    try:
        for record in _records(text, delimiter):
            if record:
                counts.append(len(record))
            if len(counts) >= limit:
                break
    except csv.Error:
        return []
    return counts


def _split_score(text: str, delimiter: str) -> tuple[float, int]:
    """(share of lines with the most common field count, that count); count 1 scores 0."""
    counts = _field_counts(text, delimiter)
    if not counts:
        return 0.0, 0
    mode = max(set(counts), key=counts.count)
    if mode < 2:
        return 0.0, 0
    return counts.count(mode) / len(counts), mode


def _sniff_delimiter(text: str) -> str:
    candidates = ",;\t|"
    snippet = text[:_SNIFF_CHARS]
    cut = snippet.rfind("\n")
    if cut > 0 and len(text) > len(snippet):
        snippet = snippet[:cut]
    scores = {d: _split_score(snippet, d) for d in candidates}
    try:
        guess = csv.Sniffer().sniff(snippet, delimiters=candidates).delimiter
    except csv.Error:
        guess = None
    # Sniffer's guess stands if it splits lines at least as consistently as any other
    # candidate (preamble lines with one field do not count against it); otherwise the
    # most consistent split wins, then the one with more fields, then the usual order.
    best = max(candidates, key=lambda d: (scores[d], -candidates.index(d)))
    if guess in scores and scores[guess][1] >= 2 and scores[guess][0] >= scores[best][0]:
        return guess
    return best if scores[best][1] >= 2 else ","


def _plan_csv(src: _ByteSource, fmt: str, opts: dict[str, Any]) -> _CsvPlan:
    sample, complete = _read_head(src, _SAMPLE_BYTES)
    if not sample:
        raise Invalid("The file is empty (0 bytes).", filename=src.name)
    given = opts.get("encoding")
    encoding, text = _detect_encoding(sample, complete, given, fmt)
    if _looks_binary(text):
        raise _binary_error(fmt)
    if not complete:
        # Drop the last, probably partial, line of the sample.
        cut = text.rfind("\n")
        text = text[: cut + 1] if cut >= 0 else text

    skip = _int_option(opts, "skip_rows", 0)
    header_opt = opts.get("header", True)
    if isinstance(header_opt, bool):
        header_index = 0 if header_opt else None
    elif isinstance(header_opt, int) and header_opt >= 0:
        header_index = header_opt
    else:
        raise Invalid(
            "The header option must be True, False or a row number (0 or more).",
            option="header",
        )

    records_text = text
    if skip:
        ends = [m.end() for m, _ in zip(_LINE_END.finditer(text), range(skip), strict=False)]
        records_text = text[ends[-1] :] if len(ends) == skip else ""
    # Blank lines before the header (or first row) are skipped, as pandas does.
    blank = _BLANK_LINES.match(records_text)
    if blank and blank.end():
        skip += len(_LINE_END.findall(blank.group(0)))
        records_text = records_text[blank.end() :]
    delimiter = opts.get("delimiter")
    if delimiter is None:
        delimiter = "\t" if fmt == "tsv" else _sniff_delimiter(records_text)
    if not isinstance(delimiter, str) or len(delimiter) != 1 or delimiter in '\r\n"':
        raise Invalid(
            "The delimiter must be a single character such as ',', ';', '|' or a tab.",
            option="delimiter",
        )

    try:
        rows = list(_first_records(records_text, delimiter, (header_index or 0) + 1))
    except csv.Error as exc:
        raise Invalid(f"The start of the file is not valid CSV: {exc}.") from None
    wanted = (header_index or 0) + 1
    if len(rows) < wanted or not any(field.strip() for field in rows[wanted - 1]):
        what = "header row" if header_index is not None else "data"
        raise Invalid(
            f"The file has no {what}"
            + (f" after skipping {skip} rows." if skip else " (it contains only blank lines).")
        )
    first = rows[wanted - 1]
    if header_index is None:
        names = [f"column_{i}" for i in range(1, len(first) + 1)]
        skip_total = skip
    else:
        names = [name.strip() for name in first]
        check_column_names(names)
        skip_total = skip + header_index + 1
    newlines = '"' in records_text and _quoted_line_breaks(records_text)
    null_values = opts.get("null_values")
    if null_values is None:
        null_values = list(_DEFAULT_NULLS)
    elif isinstance(null_values, str) or not all(isinstance(v, str) for v in null_values):
        raise Invalid("null_values must be a list of strings, e.g. ['', 'NA', '-'].")
    return _CsvPlan(
        delimiter=delimiter,
        names=names,
        skip_rows=skip_total,
        encoding=encoding,
        encoding_given=given is not None,
        sample_ascii=sample.isascii(),
        null_values=list(null_values),
        block_size=_int_option(opts, "block_size", 0, minimum=1024, maximum=_MAX_BLOCK_SIZE)
        if "block_size" in opts
        else None,
        newlines_in_values=newlines,
        lf_lines="\n" in text,
        header=header_index is not None,
    )


def _quoted_line_breaks(text: str) -> bool:
    """Whether a value in the sample may contain a line break: some line has an odd number
    of quotes. Stray quotes (5'11") give false alarms, which only choose the quote-aware
    reader; parsing the sample with the csv module instead cost ~50 ms per MB."""
    return any(line.count('"') % 2 for line in text.split("\n"))


def _first_records(text: str, delimiter: str, count: int) -> Iterator[list[str]]:
    """The first ``count`` records, blank lines included (pyarrow's skip_rows counts them)."""
    yield from itertools.islice(_records(text, delimiter), count)


def _int_option(
    opts: dict[str, Any], name: str, default: int, minimum: int = 0, maximum: int = 2**31 - 1
) -> int:
    value = opts.get(name, default)
    if isinstance(value, bool) or not isinstance(value, int) or not minimum <= value <= maximum:
        raise Invalid(
            f"The {name} option must be a whole number from {minimum:,} to {maximum:,}.",
            option=name,
        )
    return value


def _csv_options(
    plan: _CsvPlan,
    block_size: int | None,
    skip_rows: int | None = None,
    column_types: pa.Schema | None = None,
    utf8: bool = False,
    threads: bool = True,
) -> dict[str, Any]:
    """pyarrow options; ``utf8``: the bytes were already transcoded to UTF-8."""
    return {
        "read_options": pacsv.ReadOptions(
            block_size=block_size,
            skip_rows=plan.skip_rows if skip_rows is None else skip_rows,
            column_names=plan.names,
            encoding="utf8" if utf8 else plan.encoding or "utf8",
            use_threads=threads,
        ),
        "parse_options": pacsv.ParseOptions(
            delimiter=plan.delimiter,
            quote_char='"',
            newlines_in_values=plan.newlines_in_values,
        ),
        "convert_options": pacsv.ConvertOptions(
            column_types=column_types if column_types is not None else plan.column_types,
            null_values=plan.null_values,
            strings_can_be_null=True,
            quoted_strings_can_be_null=True,
        ),
    }


_CONVERSION_RE = re.compile(
    r"In CSV column #(\d+): (?:Row #\d+: )?CSV conversion error to ([^:]+): invalid value '(.*)'",
    re.S,
)
_FIELD_COUNT_RE = re.compile(r"Expected (\d+) columns, got (\d+)")


def _value_type(value: str, plan: _CsvPlan) -> pa.DataType:
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\n").writerow([value])
    table = pacsv.read_csv(
        io.BytesIO(b"v\n" + buf.getvalue().encode("utf-8")),
        convert_options=pacsv.ConvertOptions(
            null_values=plan.null_values, strings_can_be_null=True
        ),
    )
    return table.schema.field(0).type


def _widen(current: pa.DataType, value: str, plan: _CsvPlan) -> pa.DataType:
    """The narrowest type holding both ``current`` values and ``value`` (text at worst)."""
    found = _value_type(value, plan)
    wider: pa.DataType = pa.string()
    if pa.types.is_null(current) and not pa.types.is_null(found):
        wider = found
    elif (
        pa.types.is_integer(current)
        and pa.types.is_floating(found)
        and not re.fullmatch(r"\s*[+-]?\d+\s*", value)  # an int too big for int64 stays text
    ):
        wider = pa.float64()
    elif pa.types.is_date(current) and pa.types.is_timestamp(found):
        wider = found
    elif pa.types.is_timestamp(current) and pa.types.is_timestamp(found):
        wider = pa.timestamp("ns", tz=current.tz or found.tz)
    return pa.string() if wider == current else wider


def _locate_bad_row(src: _ByteSource, plan: _CsvPlan) -> tuple[int, int, str] | None:
    """(line number, field count, text) of the first record whose field count is wrong."""
    with src.open() as raw:
        text = io.TextIOWrapper(
            io.BufferedReader(raw),
            encoding=plan.encoding or "utf-8-sig",
            errors="replace",
            newline="",
        )
        reader = csv.reader(text, delimiter=plan.delimiter, quotechar='"')
        expected = len(plan.names)
        try:
            for index, record in enumerate(reader):
                if index < plan.skip_rows or not record:
                    continue
                if len(record) != expected:
                    shown = plan.delimiter.join(record)
                    return reader.line_num, len(record), shown
        except csv.Error:
            return None
    return None


def _line_of(src: _ByteSource, offset: int) -> int:
    """1-based line number of a byte offset."""
    lines = 1
    with src.open() as f:
        while offset > 0:
            chunk = f.read(min(offset, 1024 * 1024))
            if not chunk:
                break
            lines += chunk.count(b"\n")
            offset -= len(chunk)
    return lines


def _first_invalid_utf8(src: _ByteSource) -> tuple[int, int, int] | None:
    """(byte offset, line, byte value) of the first byte that is not valid UTF-8."""
    offset, lines, carry = 0, 0, b""
    with src.open() as f:
        while True:
            chunk = f.read(1024 * 1024)
            data = carry + chunk
            good = len(data)
            try:
                data.decode("utf-8")
            except UnicodeDecodeError as exc:
                if chunk and exc.reason == "unexpected end of data":
                    good = exc.start  # a character split by the chunk boundary
                else:
                    at = exc.start
                    return offset + at, lines + data.count(b"\n", 0, at) + 1, data[at]
            if not chunk:
                return None
            lines += data.count(b"\n", 0, good)
            offset += good
            carry = data[good:]


def _utf8_restart(src: _ByteSource, plan: _CsvPlan) -> None:
    """Invalid UTF-8 after the sample: switch encoding if that is safe, else explain."""
    found = _first_invalid_utf8(src)
    if found is None:
        raise Invalid("The file is not valid UTF-8 text; choose its encoding (e.g. 'cp1252').")
    offset, line, byte = found
    if plan.encoding is None and not plan.encoding_given and plan.sample_ascii:
        # Everything before was ASCII, which every candidate encoding reads the same way, so
        # re-reading the whole file in the detected encoding changes no earlier character.
        evidence = bytearray()
        with src.open() as f:
            f.seek(offset - offset % 4096)
            # Lines with non-ASCII bytes from the first bad one on (bounded work).
            for _ in range(64):
                chunk = f.read(1024 * 1024)
                evidence += b"\n".join(_NON_ASCII_LINE.findall(chunk))
                if not chunk or len(evidence) >= 64 * 1024:
                    break
        encoding = _legacy_encoding(bytes(evidence))
        if encoding is not None:
            plan.encoding = encoding
            raise _Restart()
    raise Invalid(
        f"The file is not valid UTF-8 text: byte 0x{byte:02X} on line {line:,} (byte offset "
        f"{offset:,}) cannot be decoded, although earlier lines are UTF-8, so the file mixes "
        "text encodings. Re-save it as UTF-8, or choose its encoding (for example 'cp1252').",
        line=line,
        offset=offset,
    )


_UTF8_CHARACTER = re.compile(
    rb"[\xc2-\xdf][\x80-\xbf]|[\xe0-\xef][\x80-\xbf]{2}|[\xf0-\xf4][\x80-\xbf]{3}"
)


def _refuse_mixed_utf8(src: _ByteSource, plan: _CsvPlan) -> None:
    """A file read in a detected legacy encoding must not also hold UTF-8 text, which that
    encoding would turn into other characters ('Zoë' into 'ZoÃ«') without any error: such
    a file is refused, saying where each encoding is. An encoding chosen by the caller is
    taken as it is."""
    offset, carry = 0, b""
    found: re.Match[bytes] | None = None
    with src.open() as f:
        while chunk := f.read(4 * 1024 * 1024):
            data = carry + chunk
            found = _UTF8_CHARACTER.search(data)
            if found is not None:
                break
            offset += len(data) - 3
            carry = data[-3:]  # a character split by the chunk boundary
    if found is None:
        return
    utf8_line = _line_of(src, offset + found.start())
    bad = _first_invalid_utf8(src)
    other = (
        f"line {bad[1]:,} is not (byte 0x{bad[2]:02X})"
        if bad is not None
        else "other lines are not"
    )
    raise Invalid(
        f"The file mixes text encodings: line {utf8_line:,} is UTF-8 "
        f"({found.group().decode('utf-8')!r}) but {other}, so no single encoding reads all of it "
        f"correctly. Re-save it as UTF-8, or choose its encoding (e.g. '{plan.encoding}') to read "
        "every line in that one.",
        line=utf8_line,
        encoding=plan.encoding,
    )


def _csv_failure(exc: pa.ArrowInvalid, src: _ByteSource, plan: _CsvPlan) -> BaseException:
    """Turn a pyarrow CSV error into a restart (raised) or an Invalid (returned)."""
    message = str(exc)
    if "invalid UTF8" in message:
        _utf8_restart(src, plan)
    match = _CONVERSION_RE.search(message)
    if match:
        index, target, value = int(match.group(1)), match.group(2), match.group(3)
        name = plan.names[index]
        current = plan.column_types.get(name)
        if current is None:
            current = pa.null() if target == "null" else _csv_type(target)
        plan.column_types[name] = _widen(current, value, plan)
        raise _Restart()
    if "straddling object" in message:
        # A row spans more than two blocks (every block is at most half the row limit, so
        # any row over the limit does): refused if a line is over the limit, else read
        # again with blocks that fit any row up to the limit.
        line = _first_long_line(src, MAX_CSV_ROW_BYTES)
        if line is not None:
            return _long_row(line)
        if not plan.wide_rows:
            plan.wide_rows = True
            raise _Restart()
        return _long_row(None)
    count = _FIELD_COUNT_RE.search(message)
    if count:
        if not plan.newlines_in_values:
            # A quoted value with a line break may straddle two blocks: retry quote-aware.
            plan.newlines_in_values = True
            raise _Restart()
        expected = int(count.group(1))
        located = _locate_bad_row(src, plan)
        against = "header" if plan.header else "first row"
        delim = {"\t": "tab", ",": "comma", ";": "semicolon", "|": "pipe"}.get(
            plan.delimiter, repr(plan.delimiter)
        )
        if located:
            line, got, text = located
            shown = text if len(text) <= 80 else text[:77] + "..."
            return Invalid(
                f"Row {line:,} has {got} fields but the {against} has {expected} — the file "
                f"looks truncated or has unquoted delimiters ({delim}) inside values: {shown!r}",
                line=line,
                fields=got,
                expected=expected,
            )
        got = int(count.group(2))
        return Invalid(
            f"A row has {got} fields but the {against} has {expected} — the file looks "
            f"truncated or has unquoted delimiters ({delim}) inside values.",
            fields=got,
            expected=expected,
        )
    return Invalid(f"The file could not be read as CSV: {_clean(message)}")


def _long_row(line: int | None) -> Invalid:
    """The one refusal of a CSV row (so of a value) longer than :data:`MAX_CSV_ROW_BYTES`."""
    where = f"Row {line:,} of the file" if line is not None else "A row of the file"
    return Invalid(
        f"{where} is longer than {_mb(MAX_CSV_ROW_BYTES)}: a CSV row, and so any single value, "
        f"can be at most {_mb(MAX_CSV_ROW_BYTES)}. Check the delimiter and quoting (an "
        "unbalanced quote makes the rest of the file one value), or shorten such values.",
        line=line,
        limit=MAX_CSV_ROW_BYTES,
    )


def _first_long_line(src: _ByteSource, limit: int) -> int | None:
    """The 1-based number of the first line longer than ``limit`` bytes (``None``: no line
    is; a row may still be, through quoted line breaks). Newlines are found by NumPy, so
    the scan runs at memory speed whatever the number of lines."""
    lines = since = 0  # lines ended so far; bytes of the current line read so far
    with src.open() as f:
        while chunk := f.read(4 * 1024 * 1024):
            ends = np.flatnonzero(np.frombuffer(chunk, dtype=np.uint8) == 0x0A)
            lengths = np.diff(ends, prepend=-1) - 1
            if len(lengths):
                lengths[0] += since
                too_long = np.flatnonzero(lengths > limit)
                if len(too_long):
                    return lines + int(too_long[0]) + 1
                since = len(chunk) - int(ends[-1]) - 1
            else:
                since += len(chunk)
            lines += len(ends)
            if since > limit:
                return lines + 1
    return None


def _csv_type(name: str) -> pa.DataType:
    """A pyarrow type from the name used in CSV conversion errors (e.g. ``timestamp[s]``)."""
    simple = {
        "int64": pa.int64(),
        "double": pa.float64(),
        "bool": pa.bool_(),
        "date32[day]": pa.date32(),
        "time32[s]": pa.time32("s"),
        "time32[ms]": pa.time32("ms"),
        "time64[us]": pa.time64("us"),
        "time64[ns]": pa.time64("ns"),
        "null": pa.null(),
        "string": pa.string(),
    }
    if name in simple:
        return simple[name]
    match = re.fullmatch(r"timestamp\[(\w+)(?:, tz=(.+))?\]", name)
    if match:
        return pa.timestamp(match.group(1), tz=match.group(2))
    return pa.string()


def _clean(message: str) -> str:
    return message.strip().replace("\n", " ")[:300]


def _csv_engine(src: _ByteSource, plan: _CsvPlan) -> str:
    """``whole`` (one multithreaded read), ``pieces`` (line-aligned pieces, each read
    multithreaded, by a reader thread) or ``stream`` (pyarrow's streaming reader)."""
    if plan.wide_rows:
        return "stream"
    limit = SMALL_CSV_BYTES if plan.block_size is None else plan.block_size
    if src.size is not None and src.size <= limit:
        return "whole"
    # Cutting at newlines is only safe when no value holds a line break and the encoding
    # writes newline and quote as those single bytes; otherwise pyarrow's quote-aware,
    # transcoding stream reader is used.
    if not plan.newlines_in_values and plan.lf_lines and _ascii_compatible(plan.encoding):
        return "pieces"
    return "stream"


def _ascii_compatible(encoding: str | None) -> bool:
    """UTF-8, or an encoding in which 0x0A and 0x22 only ever mean newline and quote."""
    if encoding is None:
        return True
    if encoding.startswith(("utf-16", "utf-32", "utf-7")):
        return False
    try:
        return '\n",;|\t'.encode(encoding) == b'\n",;|\t'
    except (LookupError, UnicodeError):
        return False


def _line_pieces(
    f: _Reader, size: int, first_size: int, watch: _QuoteWatch | None
) -> Iterator[memoryview]:
    """The stream cut into pieces that end at a newline: ``first_size`` bytes, then ``size``."""
    carry = b""
    while True:
        buf = bytearray(len(carry) + (first_size if first_size else size))
        first_size = 0
        buf[: len(carry)] = carry
        view = memoryview(buf)
        filled = len(carry)
        while filled < len(buf):
            n = f.readinto(view[filled:])
            if not n:
                break
            filled += n
        if watch is not None:
            watch.feed(buf, len(carry), filled)
        if filled == len(carry):
            if carry.strip():
                yield memoryview(carry)
            return
        cut = buf.rfind(b"\n", 0, filled) + 1
        if cut == 0:
            if filled > MAX_CSV_ROW_BYTES:
                raise _long_row(None)
            carry = bytes(view[:filled])
            continue
        carry = bytes(view[cut:filled])
        yield view[:cut]


def _cut_inside_quotes(table: pa.Table, plan: _CsvPlan) -> pa.Table:
    """Restart with the quote-aware reader if a piece ended inside a quoted value.

    pyarrow reads a quoted value still open at the end of a piece as ending there, so that
    value (in the last row) then ends with the line break where the piece was cut, and the
    next piece would start mid-value: two wrong rows, silently. A value that legitimately
    ends with a quoted line break only costs a slower re-read.
    """
    if table.num_rows:
        last = table.slice(table.num_rows - 1)
        for column in last.columns:
            if pa.types.is_string(column.type) or pa.types.is_large_string(column.type):
                value = column[0].as_py()
                if value and value[-1] in "\r\n":
                    plan.newlines_in_values = True
                    raise _Restart()
    return table


def _csv_batches(
    src: _ByteSource, plan: _CsvPlan, meter: _Meter, watch: _QuoteWatch | None
) -> tuple[pa.Schema, Iterator[pa.RecordBatch], contextlib.ExitStack]:
    """Schema (storage types) and batches of one CSV pass (see ``_csv_engine``)."""
    stack = contextlib.ExitStack()
    f = stack.enter_context(src.open(meter, watch))
    engine = _csv_engine(src, plan)
    try:
        if engine == "whole":
            # Two or more blocks keep both cores parsing; bigger blocks mean fewer batches.
            block = min(max((src.size or 0) // 4, 1 << 20), 4 << 20)
            table = pacsv.read_csv(f, **_csv_options(plan, block))
            source_schema = table.schema
            groups: Iterator[list[pa.RecordBatch]] = iter([table.to_batches()])
        elif engine == "pieces":
            piece_size = plan.block_size or _PIECE_BYTES
            # Types come from the first piece, so it is bigger: fewer restarts later.
            first_size = plan.block_size or _FIRST_PIECE_BYTES
            pieces = _line_pieces(f, piece_size, first_size, watch)
            encoding = plan.encoding
            if encoding is not None:
                # Legacy encodings are transcoded piece by piece (a cut at a newline byte never
                # splits a character in them), which is cheaper than the streaming reader.
                pieces = (memoryview(bytes(p).decode(encoding).encode()) for p in pieces)
            first = next(pieces, memoryview(b""))
            # The first piece is parsed by all cores while nothing else runs yet; later ones
            # in one block by the reader thread alone (one batch each, and the other core is
            # left to the quality pass and the writer: less CPU than splitting them too).
            first_options = _csv_options(plan, max(first_size // 4, 1 << 16), utf8=True)
            table = _cut_inside_quotes(
                pacsv.read_csv(pa.BufferReader(first), **first_options), plan
            )
            source_schema = table.schema
            # Later pieces have no header and must produce the first piece's types.
            later = _csv_options(
                plan, 2 * piece_size, 0, column_types=source_schema, utf8=True, threads=False
            )

            def piece_groups(first_table: pa.Table = table) -> Iterator[list[pa.RecordBatch]]:
                yield first_table.to_batches()
                for piece in pieces:
                    piece_table = pacsv.read_csv(pa.BufferReader(piece), **later)
                    yield _cut_inside_quotes(piece_table, plan).to_batches()

            groups = piece_groups()
        else:
            block = plan.block_size or _BLOCK_SIZE
            if plan.wide_rows:
                block = max(block, _WIDE_BLOCK_SIZE)
            reader = pacsv.open_csv(f, **_csv_options(plan, block))
            source_schema = reader.schema
            groups = ([batch] for batch in reader)
    except BaseException:
        stack.close()
        raise
    for fld in source_schema:
        if pa.types.is_binary(fld.type):
            stack.close()
            _utf8_restart(src, plan)
    target = _pandas_metadata(_storage_schema(source_schema))
    conform = _conformer(source_schema, target)
    conformed = ([conform(b) for b in group] for group in groups)
    if engine != "whole":
        conformed = _prefetch(conformed)
        # Stop and join the reader thread before the file it reads is closed.
        stack.callback(conformed.close)
    return target, (batch for group in conformed for batch in group), stack


def _ingest_csv(
    src: _ByteSource,
    fmt: str,
    opts: dict[str, Any],
    out: _ParquetOut,
    max_bytes: int | None,
    progress: Progress | None,
) -> tuple[_Drained, int]:
    plan = _plan_csv(src, fmt, opts)
    checked_encoding = None
    # Each restart moves one column up a short type ladder (or flips a flag), so this bound
    # is never reached by a real file; it only guards against a logic error looping forever.
    for _ in range(4 * len(plan.names) + 4):
        legacy = plan.encoding is not None and not plan.encoding.startswith(("utf-16", "utf-32"))
        if legacy and not plan.encoding_given and checked_encoding != plan.encoding:
            _refuse_mixed_utf8(src, plan)
            checked_encoding = plan.encoding
        meter = _Meter(max_bytes)
        tick = _ticker(progress, meter, src.size)
        # Quote bytes are only recognisable in ASCII-compatible encodings.
        wide = (plan.encoding or "").startswith(("utf-16", "utf-32"))
        watch = None if wide else _QuoteWatch()
        try:
            schema, batches, stack = _csv_batches(src, plan, meter, watch)
            remaining = _bytes_left(src.size, meter) if src.size is not None else None
            with stack:
                drained = _drain(schema, batches, out, tick, remaining)
            if watch is not None and watch.unterminated(plan.delimiter):
                line = _line_of(src, watch.last)
                raise Invalid(
                    f'The file ends inside a quoted value: the " opened on line {line:,} is '
                    "never closed, so the file looks truncated (or that quote is unbalanced).",
                    line=line,
                )
            out.start_finish()
            return drained, meter.count
        except _Restart:
            out.rewind()
        except pa.ArrowInvalid as exc:
            out.rewind()
            try:
                failure = _csv_failure(exc, src, plan)
            except _Restart:
                continue
            raise failure from None
        except UnicodeDecodeError as exc:
            # Non-UTF-8 files are decoded with Python's codec as they are read.
            out.rewind()
            raise Invalid(
                f"The file is not valid {plan.encoding} text: {exc.reason} (byte "
                f"0x{exc.object[exc.start]:02X}). Choose the file's real encoding, or re-save it "
                "as UTF-8.",
                encoding=plan.encoding,
            ) from None
    raise Invalid("The column types of this CSV file could not be settled; please report it.")


def _bytes_left(size: int, meter: _Meter) -> Callable[[], int]:
    return lambda: size - meter.count


def _ticker(progress: Progress | None, meter: _Meter, total: int | None) -> Callable[[], None]:
    if progress is None:
        return lambda: None
    return lambda: progress(meter.count, total)


# --------------------------------------------------------------------------------------
# Excel, JSON, Parquet, Arrow, DataFrame
# --------------------------------------------------------------------------------------


def _read_excel(src: _ByteSource, opts: dict[str, Any]) -> pd.DataFrame:
    skip = _int_option(opts, "skip_rows", 0)
    header_opt = opts.get("header", True)
    if isinstance(header_opt, bool):
        header_index = 0 if header_opt else None
    elif isinstance(header_opt, int) and header_opt >= 0:
        header_index = header_opt
    else:
        raise Invalid("The header option must be True, False or a row number (0 or more).")
    null_values = opts.get("null_values")
    with src.open() as f:
        try:
            book = pd.ExcelFile(f, engine="openpyxl")
        except Exception as exc:  # openpyxl raises zip, XML and KeyError variants
            raise Invalid(
                "The file is not a valid Excel workbook (.xlsx). Open it in Excel and save it "
                f"again as .xlsx, or export it as CSV. ({type(exc).__name__}: {_clean(str(exc))})"
            ) from None
        with book:
            sheets = list(book.sheet_names)
            sheet = opts.get("sheet", 0)
            listed = ", ".join(f"'{s}'" for s in sheets)
            if isinstance(sheet, bool) or not isinstance(sheet, (int, str)):
                raise Invalid(f"The sheet option must be a sheet name or number. Sheets: {listed}.")
            if isinstance(sheet, int) and not 0 <= sheet < len(sheets):
                raise Invalid(
                    f"The workbook has no sheet number {sheet} (sheets are numbered from 0). "
                    f"Available sheets: {listed}.",
                    sheets=sheets,
                )
            if isinstance(sheet, str) and sheet not in sheets:
                raise Invalid(
                    f"Sheet '{sheet}' not found. Available sheets: {listed}.", sheets=sheets
                )
            raw = pd.read_excel(
                book,
                sheet_name=sheet,
                header=None,
                skiprows=skip,
                na_values=null_values,
                keep_default_na=null_values is None,
            )
    if header_index is None:
        # Rows and columns with no value at all are formatting leftovers in most workbooks.
        data = raw.dropna(how="all").dropna(axis=1, how="all")
        data.columns = [f"column_{i}" for i in range(1, data.shape[1] + 1)]
    else:
        if len(raw) <= header_index:
            raise Invalid(
                "The sheet has no header row" + (f" after skipping {skip} rows." if skip else ".")
            )
        header = raw.iloc[header_index]
        data = raw.iloc[header_index + 1 :]
        used = [
            i
            for i in range(raw.shape[1])
            if not (pd.isna(header.iloc[i]) and data.iloc[:, i].isna().all())
        ]
        names = [_cell_name(header.iloc[i]) for i in used]
        check_column_names(names)
        data = data.iloc[:, used].dropna(how="all")
        data.columns = names
    return data.reset_index(drop=True).infer_objects()


def _cell_name(value: Any) -> str:
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return ""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return str(value).strip()


def _to_json_text(value: Any) -> Any:
    if isinstance(value, (list, dict)):
        return json.dumps(value, ensure_ascii=False, default=str)
    return value


def _records_frame(records: list[Any]) -> pd.DataFrame:
    if not records:
        raise Invalid("The JSON file contains no records.")
    if not all(isinstance(r, dict) for r in records):
        kinds = sorted({type(r).__name__ for r in records if not isinstance(r, dict)})
        raise Invalid(
            'Each JSON record must be an object like {"name": ..., "price": ...}; found '
            f"{', '.join(kinds)} values. Use records_path to point at the list of objects."
        )
    df = pd.json_normalize(records, sep=".")
    for name in df.columns:
        if df[name].dtype == object:
            df[name] = df[name].map(_to_json_text)
    return df


def _read_json(
    src: _ByteSource, fmt: str, opts: dict[str, Any], meter: _Meter
) -> pd.DataFrame | pa.Table:
    with src.open(meter) as f:
        data = f.read()
    if not data.strip():
        raise Invalid("The file is empty.")
    if data.startswith(codecs.BOM_UTF8):
        data = data[len(codecs.BOM_UTF8) :]
    if b"\x00" in data[:4096] and not data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        raise _binary_error(fmt)
    if text_depth(data) > MAX_JSON_FILE_DEPTH:
        # Python's parser recurses per level: refuse before it runs out of stack.
        raise Invalid(
            f"The JSON file is nested more than {MAX_JSON_FILE_DEPTH} levels deep; records "
            "this deep cannot become columns.",
            max_depth=MAX_JSON_FILE_DEPTH,
        )
    records_path = opts.get("records_path")
    head = data.lstrip()[:1]
    if fmt == "jsonl" or (head == b"{" and not records_path and _is_json_lines(data)):
        return _read_json_lines(data)
    try:
        obj = json.loads(data)
    except UnicodeDecodeError:
        raise Invalid("The JSON file is not valid UTF-8 text.") from None
    except json.JSONDecodeError as exc:
        raise Invalid(
            f"The file is not valid JSON: {exc.msg} at line {exc.lineno}, column {exc.colno}.",
            line=exc.lineno,
        ) from None
    if records_path:
        for part in str(records_path).split("."):
            if isinstance(obj, dict) and part in obj:
                obj = obj[part]
            elif isinstance(obj, list) and part.isdigit() and int(part) < len(obj):
                obj = obj[int(part)]
            else:
                raise Invalid(
                    f"records_path '{records_path}' does not exist in the JSON file "
                    f"(no '{part}' there).",
                    records_path=records_path,
                )
    if isinstance(obj, dict):
        lists = [k for k, v in obj.items() if isinstance(v, list)]
        hint = f" Keys holding lists: {', '.join(lists)}." if lists else ""
        raise Invalid(
            "The JSON file holds a single object, not a list of records. Set records_path to "
            f"the key that holds the records.{hint}",
            keys=list(obj)[:50],
        )
    if not isinstance(obj, list):
        raise Invalid("The JSON file must hold a list of records (objects).")
    return _records_frame(obj)


def _is_json_lines(data: bytes) -> bool:
    first = data.lstrip().split(b"\n", 1)
    if len(first) < 2:
        return False
    try:
        json.loads(first[0])
    except (json.JSONDecodeError, UnicodeDecodeError):
        return False
    return first[1].lstrip()[:1] in (b"{", b"")


def _read_json_lines(data: bytes) -> pd.DataFrame | pa.Table:
    try:
        table = pajson.read_json(io.BytesIO(data))
    except pa.ArrowInvalid:
        # Types that change between blocks, or malformed lines: the Python parser copes with
        # the first and names the line for the second.
        records = []
        for number, line in enumerate(data.split(b"\n"), start=1):
            if line.strip():
                try:
                    records.append(json.loads(line))
                except (json.JSONDecodeError, UnicodeDecodeError) as exc:
                    raise Invalid(
                        f"Line {number} is not valid JSON: {getattr(exc, 'msg', exc)}.", line=number
                    ) from None
        return _records_frame(records)
    return _flat_table(table)


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


# --------------------------------------------------------------------------------------
# URL download with SSRF protection
# --------------------------------------------------------------------------------------

_NAT64 = ipaddress.ip_network("64:ff9b::/96")
_CGNAT = ipaddress.ip_network("100.64.0.0/10")


def _forbidden(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    """True for addresses a server-side fetch must not reach without an allowlist entry."""
    if isinstance(ip, ipaddress.IPv6Address):
        embedded = ip.ipv4_mapped or ip.sixtofour
        if embedded is None and ip in _NAT64:
            embedded = ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
        if embedded is not None:
            return _forbidden(embedded)
        if ip.teredo:
            return True
    elif ip in _CGNAT:
        return True
    return (
        not ip.is_global
        or ip.is_private
        or ip.is_loopback
        or ip.is_link_local
        or ip.is_reserved
        or ip.is_multicast
        or ip.is_unspecified
    )


@dataclass
class _Allowlist:
    hosts: set[str]
    networks: list[ipaddress.IPv4Network | ipaddress.IPv6Network]

    @classmethod
    def parse(cls, entries: Sequence[str]) -> _Allowlist:
        if isinstance(entries, str):
            entries = [entries]
        hosts: set[str] = set()
        networks = []
        for entry in entries:
            text = str(entry).strip().strip("[]")
            try:
                networks.append(ipaddress.ip_network(text, strict=False))
            except ValueError:
                hosts.add(text.lower().rstrip("."))
        return cls(hosts, networks)

    def allows(self, host: str, ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
        candidates = [ip]
        if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped:
            candidates.append(ip.ipv4_mapped)
        return host in self.hosts or any(
            c in net for c in candidates for net in self.networks if c.version == net.version
        )


def _mask_url(url: str) -> str:
    """The URL without password or query-string values (they often carry tokens)."""
    parts = urlsplit(url)
    netloc = parts.netloc
    if "@" in netloc:
        userinfo, hostport = netloc.rsplit("@", 1)
        user = userinfo.split(":", 1)[0]
        netloc = f"{user}:***@{hostport}" if ":" in userinfo else f"{user}@{hostport}"
    query = urlencode([(k, "***") for k, _ in parse_qsl(parts.query, keep_blank_values=True)])
    return urlunsplit((parts.scheme, netloc, parts.path, query, ""))


def _resolve_checked(host: str, port: int, allow: _Allowlist, shown: str) -> list[str]:
    try:
        literal = ipaddress.ip_address(host)
        addresses = [literal]
    except ValueError:
        try:
            infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except (socket.gaierror, UnicodeError) as exc:
            raise Invalid(f"The host '{host}' could not be found ({exc}).", url=shown) from None
        addresses = []
        for info in infos:
            ip = ipaddress.ip_address(info[4][0].split("%", 1)[0])
            if ip not in addresses:
                addresses.append(ip)
    for ip in addresses:
        if _forbidden(ip) and not allow.allows(host.lower().rstrip("."), ip):
            raise Invalid(
                f"Refusing to download from {shown}: '{host}' points to {ip}, a private, local "
                "or reserved network address. Imports may only read public web addresses; an "
                "administrator can allow specific internal hosts.",
                url=shown,
                address=str(ip),
            )
    return [str(ip) for ip in addresses]


class _PinnedHTTPConnection(http.client.HTTPConnection):
    """Connects to an already-checked IP address while speaking to ``host``."""

    def __init__(self, host: str, port: int, ip: str, timeout: float) -> None:
        super().__init__(host, port, timeout=timeout)
        self._ip = ip

    def connect(self) -> None:
        self.sock = socket.create_connection((self._ip, self.port), self.timeout)


class _PinnedHTTPSConnection(http.client.HTTPSConnection):
    """HTTPS to a checked IP; the certificate is verified against the original host name."""

    def __init__(self, host: str, port: int, ip: str, timeout: float) -> None:
        self._tls = ssl.create_default_context()
        super().__init__(host, port, timeout=timeout, context=self._tls)
        self._ip = ip

    def connect(self) -> None:
        sock = socket.create_connection((self._ip, self.port), self.timeout)
        self.sock = self._tls.wrap_socket(sock, server_hostname=self.host)


@dataclass
class _Download:
    spool: IO[bytes]
    size: int
    content_type: str
    filename: str | None
    final_url: str


def _download(
    url: str,
    allow: _Allowlist,
    meter: _Meter,
    timeout: float,
    progress: Progress | None,
) -> _Download:
    deadline = time.monotonic() + 20 * timeout
    current = url
    for _hop in range(_MAX_REDIRECTS + 1):
        shown = _mask_url(current)
        parts = urlsplit(current)
        if parts.scheme.lower() not in ("http", "https"):
            raise Invalid(f"Only http and https URLs can be imported, not {shown}.", url=shown)
        host = parts.hostname
        if not host:
            raise Invalid(f"The URL {shown} has no host name.", url=shown)
        try:
            port = parts.port or (443 if parts.scheme.lower() == "https" else 80)
        except ValueError:
            raise Invalid(f"The URL {shown} has an invalid port.", url=shown) from None
        ips = _resolve_checked(host, port, allow, shown)
        path = parts.path or "/"
        if parts.query:
            path += "?" + parts.query
        conn_cls = (
            _PinnedHTTPSConnection if parts.scheme.lower() == "https" else _PinnedHTTPConnection
        )
        response, conn = None, None
        error: Exception | None = None
        for ip in ips:
            conn = conn_cls(host, port, ip, timeout)
            try:
                headers = {"User-Agent": "AstralytiQ-ingest/1", "Accept-Encoding": "identity"}
                if parts.username:
                    token = f"{parts.username}:{parts.password or ''}".encode()
                    headers["Authorization"] = "Basic " + base64.b64encode(token).decode()
                conn.request("GET", path, headers=headers)
                response = conn.getresponse()
                break
            except (OSError, http.client.HTTPException) as exc:
                conn.close()
                error = exc
        if response is None or conn is None:
            reason = "timed out" if isinstance(error, TimeoutError) else str(error)
            raise Invalid(f"Could not download {shown}: {reason}.", url=shown) from None
        try:
            if response.status in (301, 302, 303, 307, 308):
                location = response.getheader("Location")
                if not location:
                    raise Invalid(f"{shown} redirects without saying where to.", url=shown)
                current = urljoin(current, location)
                continue
            if response.status != 200:
                raise Invalid(
                    f"The server answered {response.status} {response.reason} for {shown}.",
                    url=shown,
                    status=response.status,
                )
            length = response.getheader("Content-Length")
            total = int(length) if length and length.isdigit() else None
            if total is not None and meter.limit is not None and total > meter.limit:
                raise _quota(meter.limit)
            spool = tempfile.TemporaryFile(prefix="astralytiq-download-")  # noqa: SIM115
            try:
                while True:
                    if time.monotonic() > deadline:
                        raise Invalid(f"Downloading {shown} took too long.", url=shown)
                    chunk = response.read(1024 * 1024)
                    if not chunk:
                        break
                    meter.add(len(chunk))
                    spool.write(chunk)
                    if progress is not None:
                        progress(meter.count, total)
            except (OSError, http.client.HTTPException) as exc:
                spool.close()
                raise Invalid(f"The download of {shown} failed: {exc}.", url=shown) from None
            except BaseException:
                spool.close()
                raise
            if total is not None and spool.tell() != total:
                # http.client returns what came before the connection closed, without error.
                received = spool.tell()
                spool.close()
                raise Invalid(
                    f"The download of {shown} is incomplete: the server announced {total:,} "
                    f"bytes and sent {received:,}. Nothing was stored; try again.",
                    url=shown,
                    expected=total,
                    received=received,
                )
            content_type = (response.getheader("Content-Type") or "").split(";")[0].strip().lower()
            return _Download(
                spool, spool.tell(), content_type, response.headers.get_filename(), current
            )
        finally:
            conn.close()
    raise Invalid(
        f"Too many redirects (more than {_MAX_REDIRECTS}) starting at {_mask_url(url)}.",
        url=_mask_url(url),
    )


# --------------------------------------------------------------------------------------
# SQL
# --------------------------------------------------------------------------------------


def _mask_sql_url(url: str) -> str:
    try:
        from sqlalchemy.engine import make_url

        return make_url(url).render_as_string(hide_password=True)
    except Exception:
        return re.sub(r"(://[^:/@]*:)[^@]*@", r"\1***@", str(url))


_SQL_COMMENT = re.compile(r"\s+|--[^\n]*(?:\n|$)|/\*.*?\*/", re.S)


def _check_query(query: str) -> None:
    """Accept one SELECT/WITH statement; the read-only transaction is the real guard."""
    if not isinstance(query, str) or not query.strip():
        raise Invalid("The SQL query is empty.")
    pos = 0
    while True:
        match = _SQL_COMMENT.match(query, pos)
        if match and match.end() > pos:
            pos = match.end()
        elif query.startswith("(", pos):
            pos += 1
        else:
            break
    keyword = re.match(r"[A-Za-z]+", query[pos:])
    first = keyword.group(0).upper() if keyword else query[pos : pos + 10]
    if first not in ("SELECT", "WITH"):
        raise Invalid(
            f"Only queries that read data (SELECT or WITH) can be imported; this one starts "
            f"with '{first}'.",
            keyword=first,
        )
    # A second statement after a semicolon (outside quotes and comments) is refused.
    i, n = pos, len(query)
    while i < n:
        ch = query[i]
        if ch in "'\"`":
            end = query.find(ch, i + 1)
            while end != -1 and query.startswith(ch, end + 1):
                end = query.find(ch, end + 2)
            i = n if end == -1 else end + 1
        elif query.startswith("--", i) or query.startswith("/*", i):
            match = _SQL_COMMENT.match(query, i)
            i = match.end() if match else n
        elif ch == ";":
            rest = _SQL_COMMENT.sub("", query[i + 1 :])
            if rest.strip(" ;"):
                raise Invalid(
                    "Only one SQL statement can be imported at a time; remove the ';' and "
                    "what follows it."
                )
            i = n
        else:
            i += 1


def _sql_reason(exc: BaseException, url: Any) -> str:
    orig = getattr(exc, "orig", None)
    reason = str(orig if orig is not None else exc).strip().splitlines()
    text = reason[0] if reason else type(exc).__name__
    password = getattr(url, "password", None)
    if password:
        text = text.replace(str(password), "***")
    return text[:300]


def _sql_batches(
    source: SqlSource,
    chunksize: int,
    overrides: dict[str, pa.DataType],
    stack: contextlib.ExitStack,
) -> tuple[pa.Schema, Iterator[pa.RecordBatch]]:
    import sqlalchemy as sa
    from sqlalchemy import exc as sa_exc
    from sqlalchemy.pool import NullPool

    try:
        url = sa.engine.make_url(source.url)
    except sa_exc.ArgumentError:
        raise Invalid(
            "The database URL is not valid, e.g. postgresql+psycopg://user@host/db."
        ) from None
    masked = url.render_as_string(hide_password=True)
    try:
        engine = sa.create_engine(url, poolclass=NullPool)
    except (sa_exc.ArgumentError, sa_exc.NoSuchModuleError, ImportError) as exc:
        raise Invalid(f"Cannot use the database URL {masked}: {_sql_reason(exc, url)}") from None
    stack.callback(engine.dispose)
    try:
        conn = stack.enter_context(engine.connect())
    except sa_exc.SQLAlchemyError as exc:
        raise Invalid(f"Could not connect to {masked}: {_sql_reason(exc, url)}") from None
    try:
        # The transaction SQLAlchemy begins is rolled back whatever happens: the SELECT check
        # is not trusted on its own. Where the database can, it also refuses any write.
        stack.callback(conn.rollback)
        if engine.dialect.name == "sqlite":
            conn.exec_driver_sql("PRAGMA query_only = ON")
        elif engine.dialect.name == "postgresql":
            conn.exec_driver_sql("SET TRANSACTION READ ONLY")
        result = conn.execution_options(
            stream_results=True, max_row_buffer=chunksize
        ).exec_driver_sql(source.query)
    except sa_exc.SQLAlchemyError as exc:
        raise Invalid(f"Could not run the query on {masked}: {_sql_reason(exc, url)}") from None
    if not result.returns_rows:
        raise Invalid("The query returned no result set; only SELECT queries can be imported.")
    keys = result.keys()
    names = [str(k) for k in keys]
    check_column_names(names)

    def frames() -> Iterator[pd.DataFrame]:
        try:
            while True:
                rows = result.fetchmany(chunksize)
                if not rows:
                    return
                yield pd.DataFrame.from_records(rows, columns=names, coerce_float=True)
        except sa_exc.SQLAlchemyError as exc:
            raise Invalid(f"The query failed on {masked}: {_sql_reason(exc, url)}") from None

    frame_iter = frames()
    first = next(frame_iter, None)
    if first is None:
        first = pd.DataFrame({n: pd.Series([], dtype=object) for n in names})
    inferred, _ = frame_to_batches(first, _FRAME_BATCH_ROWS)
    # Columns with no value in the first chunk are text unless a later chunk shows a type,
    # in which case the query is run again with that type (a restart).
    untyped = {f.name for f in inferred if pa.types.is_null(f.type) and f.name not in overrides}
    fields = [pa.field(f.name, overrides.get(f.name, _storage_type(f.type))) for f in inferred]
    target = _pandas_metadata(pa.schema(fields))

    def convert(df: pd.DataFrame) -> Iterator[pa.RecordBatch]:
        _, batches = frame_to_batches(df, _FRAME_BATCH_ROWS)
        for batch in batches:
            arrays = []
            for fld, arr in zip(target, batch.columns, strict=True):
                if arr.type != fld.type:
                    if fld.name in untyped and not pa.types.is_null(arr.type):
                        overrides[fld.name] = _storage_type(arr.type)
                        raise _Restart()
                    try:
                        arr = arr.cast(fld.type)
                    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
                        overrides[fld.name] = _widen_arrow(fld.type, arr.type)
                        raise _Restart() from None
                arrays.append(arr)
            yield pa.RecordBatch.from_arrays(arrays, schema=target)

    def gen() -> Iterator[pa.RecordBatch]:
        yield from convert(first)
        for df in frame_iter:
            yield from convert(df)

    return target, gen()


def _widen_arrow(current: pa.DataType, found: pa.DataType) -> pa.DataType:
    if pa.types.is_integer(current) and pa.types.is_floating(found):
        return pa.float64()
    if pa.types.is_timestamp(current) and pa.types.is_timestamp(found):
        return pa.timestamp("us", tz=current.tz)
    if pa.types.is_string(current):
        # Text already: the values cannot be cast back, so this is a logic error.
        raise Invalid(f"A column changed type in a way that cannot be stored ({found}).")
    return pa.string()


# --------------------------------------------------------------------------------------
# Entry point
# --------------------------------------------------------------------------------------


#: Every read option of any source, and the URL download's ``timeout``.
READ_OPTIONS = frozenset({"timeout"}.union(*_OPTIONS.values()))


def check_read_options(options: Any) -> dict[str, Any]:
    """Read options given as data (a JSON object from the API): each must be a read option
    of some source, so that a key such as ``format``, ``progress`` or ``principal`` never
    reaches the ingest call's own arguments. Each format then checks its own."""
    if not isinstance(options, dict):
        raise Invalid("read_options must be an object of read options, e.g. {'delimiter': ';'}.")
    unknown = sorted(set(options) - READ_OPTIONS)
    if unknown:
        raise Invalid(
            f"Unknown read option(s): {', '.join(map(repr, unknown))}. Read options are "
            f"{', '.join(sorted(READ_OPTIONS))}; the format, description and note are fields of "
            "their own.",
            options=unknown,
        )
    return options


def _check_options(fmt: str, options: dict[str, Any]) -> None:
    allowed = _OPTIONS[fmt]
    unknown = sorted(set(options) - allowed)
    if unknown:
        valid = ", ".join(sorted(allowed)) or "none"
        what = {"sql": "SQL queries", "dataframe": "DataFrames"}.get(fmt, f"{fmt} files")
        raise Invalid(
            f"Unknown option {', '.join(repr(u) for u in unknown)} for {what}. Valid options: "
            f"{valid}.",
            options=unknown,
        )


def ingest_to_parquet(
    source: Any,
    sink: IO[bytes],
    *,
    format: str | None = None,  # noqa: A002 - the public name the service uses
    filename: str | None = None,
    max_bytes: int | None = None,
    url_allowlist: Sequence[str] = (),
    progress: Progress | None = None,
    **read_options: Any,
) -> IngestResult:
    """Read ``source`` and write it to ``sink`` as one Parquet file (see module docstring).

    ``progress(done, total)`` is called from the calling thread with bytes consumed so far
    and the total when known (rows for SQL/DataFrame sources are reported as Arrow bytes);
    a restart or the parse after a download starts again from 0. It may raise (for example
    :class:`Cancelled`) to abort; the exception propagates and nothing useful is written.
    The sink is never closed.
    """
    out = _ParquetOut(sink)
    cleanups: list[Callable[[], None]] = [out.close]
    try:
        result = _ingest(
            source,
            out,
            cleanups,
            format,
            filename,
            max_bytes,
            url_allowlist,
            progress,
            read_options,
        )
        out.finish()
        return result
    except BaseException:
        with contextlib.suppress(Exception):
            out.rewind()
        raise
    finally:
        for fn in reversed(cleanups):
            with contextlib.suppress(Exception):
                fn()


def _ingest(
    source: Any,
    out: _ParquetOut,
    cleanups: list[Callable[[], None]],
    fmt: str | None,
    filename: str | None,
    max_bytes: int | None,
    url_allowlist: Sequence[str],
    progress: Progress | None,
    opts: dict[str, Any],
) -> IngestResult:
    if max_bytes is not None and (not isinstance(max_bytes, int) or max_bytes < 0):
        raise Invalid("max_bytes must be a whole number of bytes.")
    if isinstance(source, SqlSource):
        if fmt not in (None, "sql"):
            raise Invalid("A SQL source has no file format; leave format empty.")
        _check_options("sql", opts)
        return _ingest_sql(source, out, opts, max_bytes, progress)
    if isinstance(source, pd.DataFrame):
        _check_options("dataframe", opts)
        return _ingest_frame(source, out, max_bytes, progress)
    meter = _Meter(max_bytes)
    if isinstance(source, str) and re.match(r"(?i)https?://", source):
        timeout = opts.pop("timeout", _URL_TIMEOUT)
        if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or timeout <= 0:
            raise Invalid("The timeout option must be a positive number of seconds.")
        download = _download(
            source, _Allowlist.parse(url_allowlist), meter, float(timeout), progress
        )
        cleanups.append(download.spool.close)
        shown = _mask_url(source)
        resolved = _url_format(fmt, download, shown)
        spool = download.spool
        src = _ByteSource("url", shown, None, download.size, lambda: (spool, 0, False))
        return _ingest_bytes(src, resolved, out, opts, None, progress)
    if isinstance(source, str) and re.match(r"[A-Za-z][A-Za-z0-9+.-]*://", source):
        scheme = source.split("://", 1)[0]
        raise Invalid(
            f"'{scheme}://' addresses cannot be imported. Use an http(s) URL, or upload the file.",
            scheme=scheme,
        )
    if isinstance(source, WorkspaceFile):
        # A file the server's workspace rule allowed: each pass reopens and re-checks it.
        checked = source
        src = _ByteSource(
            "file", checked.display, checked.name, checked.size, lambda: (checked.open(), 0, True)
        )
        resolved = _normalize_format(fmt) if fmt else detect_format(filename or checked.name)
    elif isinstance(source, (str, os.PathLike)):
        src = _path_source(source, os.fspath(source), meter)
        cleanups.append(src.close)
        resolved = _normalize_format(fmt) if fmt else detect_format(filename or os.fspath(source))
    elif isinstance(source, (bytes, bytearray, memoryview)):
        if fmt is None and filename is None:
            raise Invalid("An upload needs a filename (or a format) to know how to read it.")
        data = memoryview(source).cast("B")
        src = _ByteSource(
            "upload", filename or "upload", filename, len(data), lambda: (io.BytesIO(data), 0, True)
        )
        resolved = _normalize_format(fmt) if fmt else detect_format(filename or "")
    elif hasattr(source, "read"):
        if fmt is None and filename is None:
            raise Invalid("An upload needs a filename (or a format) to know how to read it.")
        resolved = _normalize_format(fmt) if fmt else detect_format(filename or "")
        src = _fileobj_source(source, filename, meter)
        cleanups.append(src.close)
    else:
        raise Invalid(
            f"Cannot import a {type(source).__name__}: pass a file path, an http(s) URL, bytes, "
            "a file object, a pandas DataFrame or a SqlSource."
        )
    if max_bytes is not None and src.size is not None and src.size > max_bytes:
        raise _quota(max_bytes)
    return _ingest_bytes(src, resolved, out, opts, max_bytes, progress)


def _url_format(fmt: str | None, download: _Download, shown: str) -> str:
    if fmt:
        return _normalize_format(fmt)
    for name in (urlsplit(download.final_url).path, download.filename or ""):
        ext = os.path.splitext(name.lower())[1]
        if ext in _EXTENSIONS:
            return _EXTENSIONS[ext]
    if download.content_type in _CONTENT_TYPES:
        return _CONTENT_TYPES[download.content_type]
    raise Invalid(
        f"Cannot tell the format of {shown} (content type '{download.content_type or 'none'}'). "
        f"Choose the format explicitly: {', '.join(FORMATS)}.",
        url=shown,
    )


def _ingest_bytes(
    src: _ByteSource,
    fmt: str,
    out: _ParquetOut,
    opts: dict[str, Any],
    max_bytes: int | None,
    progress: Progress | None,
) -> IngestResult:
    _check_options(fmt, opts)
    if src.size == 0:
        raise Invalid("The file is empty (0 bytes).", filename=src.name)
    if fmt in ("csv", "tsv"):
        drained, consumed = _ingest_csv(src, fmt, opts, out, max_bytes, progress)
        return _result(drained, src.kind, src.detail, fmt, consumed)
    meter = _Meter(max_bytes)
    tick = _ticker(progress, meter, src.size)
    if fmt == "excel":
        df = _read_excel(src, opts)
        drained = _drain_frame(df, out, tick, normalize=True)
    elif fmt in ("json", "jsonl"):
        data = _read_json(src, fmt, opts, meter)
        if isinstance(data, pa.Table):
            schema = _pandas_metadata(_storage_schema(data.schema))
            conform = _conformer(data.schema, schema)
            drained = _drain(schema, (conform(b) for b in data.to_batches()), out, tick)
        else:
            drained = _drain_frame(data, out, tick, normalize=True)
    elif fmt == "parquet":
        drained = _drain_parquet(src, out, meter, tick)
    else:
        drained = _drain_arrow(src, out, meter, tick)
    return _result(drained, src.kind, src.detail, fmt, src.size or meter.count)


def _drain_frame(
    df: pd.DataFrame, out: _ParquetOut, tick: Callable[[], None], normalize: bool
) -> _Drained:
    source, batches = frame_to_batches(df, _FRAME_BATCH_ROWS)
    target = _pandas_metadata(_storage_schema(source)) if normalize else source
    conform = _conformer(source, target)
    return _drain(target, (conform(b) for b in batches), out, tick)


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


def _ingest_frame(
    df: pd.DataFrame, out: _ParquetOut, max_bytes: int | None, progress: Progress | None
) -> IngestResult:
    meter = _Meter(max_bytes)
    total = int(df.memory_usage(deep=False, index=False).sum())
    tick = _ticker(progress, meter, total)
    source, batches = frame_source(df, _FRAME_BATCH_ROWS)
    drained = _drain(source, _metered(batches, meter), out, tick)
    shape = f"DataFrame with {len(df):,} rows and {df.shape[1]} columns"
    return _result(drained, "dataframe", shape, "dataframe", meter.count)


def _ingest_sql(
    source: SqlSource,
    out: _ParquetOut,
    opts: dict[str, Any],
    max_bytes: int | None,
    progress: Progress | None,
) -> IngestResult:
    _check_query(source.query)
    chunksize = _int_option(opts, "chunksize", _SQL_CHUNKSIZE, minimum=1)
    overrides: dict[str, pa.DataType] = {}
    masked = _mask_sql_url(source.url)
    # Each restart fixes the type of one more column, so the loop ends; the bound is a guard.
    for _ in range(256):
        meter = _Meter(max_bytes)
        with contextlib.ExitStack() as stack:
            try:
                schema, batches = _sql_batches(source, chunksize, overrides, stack)
                drained = _drain(
                    schema, _metered(batches, meter), out, _ticker(progress, meter, None)
                )
            except _Restart:
                out.rewind()
                continue
        detail = f"{masked} :: {source.query.strip()}"
        return _result(drained, "sql", detail, "sql", meter.count)
    raise Invalid("The column types of this query could not be settled; please report it.")


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
