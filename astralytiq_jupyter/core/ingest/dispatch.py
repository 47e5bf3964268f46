"""The ingest entry point: ``ingest_to_parquet`` sends each source to its reader.

It tells the source kind (path, workspace file, URL, bytes, file object, DataFrame, SQL)
and the format apart, checks the read options for that format and ``max_bytes``, and owns
the sink: on any error it is rewound, so nothing is left written.
"""

from __future__ import annotations

import contextlib
import io
import os
import re
from collections.abc import Callable, Sequence
from typing import IO, Any

import pandas as pd
import pyarrow as pa

from ..errors import Invalid
from ..frames import frame_source
from ..workspace_files import WorkspaceFile
from .columnar import _drain_arrow, _drain_parquet
from .csv_reader import _ingest_csv
from .excel_reader import _read_excel
from .json_reader import _read_json
from .options import _check_options, _normalize_format, detect_format
from .sink import (
    _FRAME_BATCH_ROWS,
    IngestResult,
    _conformer,
    _drain,
    _drain_frame,
    _metered,
    _pandas_metadata,
    _ParquetOut,
    _result,
    _storage_schema,
)
from .sources import Progress, _ByteSource, _fileobj_source, _Meter, _path_source, _quota, _ticker
from .sql import SqlSource, _ingest_sql
from .url import _URL_TIMEOUT, _Allowlist, _download, _mask_url, _url_format


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
    """Read ``source`` and write it to ``sink`` as one Parquet file (see the package docstring).

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
