"""A bounded preview of a file before it is ingested: its first rows exactly as the ingest
would read them (same reader, options, column names, types and errors), from the head of
the file, so that parse options can be tried live on files of any size.

Line-based formats (CSV, TSV, JSON lines) are previewed from their first
:data:`HEAD_BYTES`, cut after the last complete line. Parquet and Arrow files on disk are
previewed from their first rows (their metadata gives the full row count). Excel and JSON
documents can only be read whole: they are previewed up to :data:`WHOLE_BYTES`, larger ones
are read on import only. Types come from the rows read: the import reads every row and may
widen a column (an integer column with text further down becomes text).
"""

from __future__ import annotations

import io
import os
from dataclasses import dataclass, field
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from .errors import Invalid
from .ingest import detect_format, ingest_to_parquet
from .ingest.options import _normalize_format

__all__ = [
    "HEAD_BYTES",
    "LINE_FORMATS",
    "PREVIEW_ROWS",
    "WHOLE_BYTES",
    "FilePreview",
    "bytes_needed",
    "preview_file",
]

PREVIEW_ROWS = 200
HEAD_BYTES = 1024 * 1024
WHOLE_BYTES = 8 * 1024 * 1024
LINE_FORMATS = frozenset({"csv", "tsv", "jsonl"})
_ROW_FORMATS = frozenset({"parquet", "arrow"})


@dataclass
class FilePreview:
    """The first rows of a file as the import would store them."""

    frame: pd.DataFrame  # at most ``rows`` rows
    schema: dict[str, str]  # column -> dtype, as the stored version will report it
    quality: dict[str, Any]  # of the rows read
    rows_read: int  # rows parsed (more than shown, for line formats)
    complete: bool  # the whole file was read: rows_read is its row count
    format: str
    total_rows: int | None = None  # the file's row count, when known
    sheets: list[str] = field(default_factory=list)  # Excel: the workbook's sheets


def file_format(filename: str, format: str | None = None) -> str:  # noqa: A002
    """The ingest format of ``filename`` (or the explicit ``format``)."""
    return _normalize_format(format) if format else detect_format(filename)


def bytes_needed(fmt: str, size: int) -> int | None:
    """How many leading bytes of a ``size``-byte file of format ``fmt`` a preview reads:
    a head for line formats, the whole file for the others if small enough, else ``None``
    (no preview before import). Parquet and Arrow from a path are read by rows instead."""
    if fmt in LINE_FORMATS:
        return min(size, HEAD_BYTES)
    return size if size <= WHOLE_BYTES else None


def _cut_after_last_line(data: bytes) -> bytes:
    """``data`` up to its last complete line (UTF-16 text is cut on a whole code unit)."""
    if data.startswith(b"\xff\xfe"):
        end = len(data) - 2
        while end >= 2 and not (data[end : end + 2] == b"\n\x00" and end % 2 == 0):
            end -= 1
        return data[: end + 2] if end >= 2 else b""
    if data.startswith(b"\xfe\xff"):
        end = len(data) - 2
        while end >= 2 and not (data[end : end + 2] == b"\x00\n" and end % 2 == 0):
            end -= 1
        return data[: end + 2] if end >= 2 else b""
    end = data.rfind(b"\n")
    return data[: end + 1] if end >= 0 else b""


def _excel_sheets(data: bytes) -> list[str]:
    try:
        with pd.ExcelFile(io.BytesIO(data), engine="openpyxl") as book:
            return [str(s) for s in book.sheet_names]
    except Exception:  # noqa: BLE001 - the ingest below reports a broken workbook in words
        return []


def _parse(
    data: bytes, fmt: str, filename: str, rows: int, read_options: dict[str, Any]
) -> tuple[pd.DataFrame, Any]:
    sink = io.BytesIO()
    result = ingest_to_parquet(data, sink, format=fmt, filename=filename, **read_options)
    sink.seek(0)
    parquet = pq.ParquetFile(sink)
    batches = []
    wanted = rows
    for batch in parquet.iter_batches(batch_size=max(1, min(rows, 65_536))):
        batches.append(batch.slice(0, wanted))
        wanted -= min(wanted, batch.num_rows)
        if wanted <= 0:
            break
    table = pa.Table.from_batches(batches, schema=parquet.schema_arrow)
    return table.to_pandas(), result


def preview_file(
    source: bytes | str | os.PathLike[str],
    *,
    filename: str | None = None,
    format: str | None = None,  # noqa: A002 - the ingest's own name
    size: int | None = None,
    rows: int = PREVIEW_ROWS,
    **read_options: Any,
) -> FilePreview:
    """Preview ``source``: a path, or the leading bytes of a file of ``size`` bytes (the
    whole file when ``size`` is omitted). ``filename`` (or ``format``) tells how to read
    bytes. Bad files and options raise the same :class:`Invalid` the import would."""
    if isinstance(rows, bool) or not isinstance(rows, int) or not 1 <= rows <= 10_000:
        raise Invalid("rows must be a whole number from 1 to 10,000.")
    if isinstance(source, (str, os.PathLike)):
        path = os.fspath(source)
        filename = filename or os.path.basename(path)
        fmt = file_format(filename, format)
        total = os.path.getsize(path)
        if fmt in _ROW_FORMATS and total > WHOLE_BYTES:
            return _preview_rows(path, fmt, filename, rows)
        needed = bytes_needed(fmt, total)
        if needed is None:
            raise _too_large(fmt, total)
        with open(path, "rb") as fh:
            head = fh.read(needed)
        return preview_file(
            head, filename=filename, format=fmt, size=total, rows=rows, **read_options
        )
    if not isinstance(source, (bytes, bytearray, memoryview)):
        raise Invalid("A preview reads a file path or the file's first bytes.")
    if filename is None and format is None:
        raise Invalid("A preview needs the file's name (or its format) to know how to read it.")
    fmt = file_format(filename or "", format)
    data = bytes(source)
    complete = size is None or len(data) >= size
    if not complete:
        if fmt not in LINE_FORMATS:
            raise _too_large(fmt, size or len(data))
        data = _cut_after_last_line(data)
        if not data.strip(b"\r\n\x00\xef\xbb\xbf\xfe\xff"):
            raise Invalid(
                f"The first {HEAD_BYTES // 1024:,} kB of the file hold no complete line, so no "
                "preview can be shown. The import reads it whole."
            )
    frame, result = _parse(data, fmt, filename or f"file.{fmt}", rows, dict(read_options))
    return FilePreview(
        frame=frame,
        schema=dict(result.schema),
        quality=dict(result.quality),
        rows_read=result.rows,
        complete=complete,
        format=fmt,
        total_rows=result.rows if complete else None,
        sheets=_excel_sheets(data) if fmt == "excel" else [],
    )


def _too_large(fmt: str, size: int) -> Invalid:
    return Invalid(
        f"{fmt.title()} files are read whole, and this one ({size / 1e6:.1f} MB) is larger than "
        f"the {WHOLE_BYTES // (1024 * 1024)} MB a preview reads. The import reads it whole: "
        "save it to see its rows.",
        preview="too_large",
    )


def _preview_rows(path: str, fmt: str, filename: str, rows: int) -> FilePreview:
    """Parquet/Arrow: the first rows only, rewritten as a small Parquet file and read back
    through the ingest (so types and checks are the import's)."""
    try:
        if fmt == "parquet":
            parquet = pq.ParquetFile(path)
            total = parquet.metadata.num_rows
            first = next(parquet.iter_batches(batch_size=rows), None)
            schema = parquet.schema_arrow
        else:
            reader = pa.ipc.open_file(path)
            total = None  # counting would read every batch
            first = reader.get_batch(0).slice(0, rows) if reader.num_record_batches else None
            schema = reader.schema
    except (pa.ArrowInvalid, OSError) as exc:
        raise Invalid(f"The file is not a valid {fmt.title()} file: {exc}") from None
    table = pa.Table.from_batches([first] if first is not None else [], schema=schema)
    small = io.BytesIO()
    pq.write_table(table, small)
    frame, result = _parse(small.getvalue(), "parquet", filename, rows, {})
    return FilePreview(
        frame=frame,
        schema=dict(result.schema),
        quality=dict(result.quality),
        rows_read=result.rows,
        complete=total is not None and result.rows >= total,
        format=fmt,
        total_rows=total,
    )
