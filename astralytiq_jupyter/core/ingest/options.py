"""Formats, file extensions and read options of ingest, and the checks on them.

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

The server's API and the upload widget read the format names and extensions from here, so
they cannot offer a format ingest does not read.
"""

from __future__ import annotations

import os
from typing import Any

from ..errors import Invalid

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


def _header_row(opts: dict[str, Any]) -> int | None:
    """The ``header`` option of CSV and Excel as the index of the row holding the names
    (after ``skip_rows``), or ``None`` when there is no header row."""
    header = opts.get("header", True)
    if isinstance(header, bool):
        return 0 if header else None
    if isinstance(header, int) and header >= 0:
        return header
    raise Invalid(
        "The header option must be True, False or a row number (0 or more).",
        option="header",
    )


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
