"""How tables travel over HTTP: Parquet and Arrow IPC for programs, CSV for people (with
spreadsheet formula injection neutralised), JSON records for small prediction calls."""

from __future__ import annotations

import io
import json
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.ipc as ipc
import pyarrow.parquet as pq

from ..core.errors import Invalid

PARQUET = "application/vnd.apache.parquet"
ARROW = "application/vnd.apache.arrow.stream"
CSV = "text/csv"
JSON = "application/json"
FORMATS = {"parquet": PARQUET, "arrow": ARROW, "csv": CSV, "json": JSON}
# A cell starting with one of these is a formula to Excel, LibreOffice and Google Sheets.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
MAX_JSON_RECORDS = 100_000


def escape_formula(value: Any) -> Any:
    """Prefix text that a spreadsheet would run as a formula with an apostrophe."""
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return value


def encode_table(table: pa.Table, fmt: str) -> bytes:
    """Serialise a table as ``parquet``, ``arrow`` (IPC stream) or ``csv``."""
    sink = io.BytesIO()
    if fmt == "parquet":
        pq.write_table(table, sink)
    elif fmt == "arrow":
        with ipc.new_stream(sink, table.schema) as writer:
            writer.write_table(table)
    elif fmt == "csv":
        frame = table.to_pandas()
        for column in frame.columns:
            if frame[column].dtype == object or pd.api.types.is_string_dtype(frame[column]):
                frame[column] = frame[column].map(escape_formula)
        frame.columns = [escape_formula(str(c)) for c in frame.columns]
        frame.to_csv(sink, index=False)
    else:
        raise Invalid(f"Unknown format {fmt!r}; use one of: parquet, arrow, csv.")
    return sink.getvalue()


def media_format(content_type: str | None, default: str = "json") -> str:
    """The table format a ``Content-Type``/``Accept`` value names."""
    value = (content_type or "").split(";")[0].strip().lower()
    for name, media in FORMATS.items():
        if value == media or value == f"application/{name}":
            return name
    if value in ("application/x-parquet", "application/octet-stream"):
        return "parquet"
    return default


def decode_frame(body: bytes, content_type: str | None) -> pd.DataFrame:
    """A DataFrame from a request body: JSON ``{"records": [...]}`` (or a bare list),
    Parquet, Arrow IPC stream or CSV."""
    fmt = media_format(content_type)
    try:
        if fmt == "parquet":
            return pq.read_table(pa.BufferReader(body)).to_pandas()
        if fmt == "arrow":
            return ipc.open_stream(pa.BufferReader(body)).read_all().to_pandas()
        if fmt == "csv":
            return pacsv.read_csv(pa.BufferReader(body)).to_pandas()
    except (pa.ArrowException, OSError, ValueError) as exc:
        raise Invalid(f"The request body is not valid {fmt}: {exc}") from None
    try:
        data = json.loads(body or b"null")
    except (ValueError, UnicodeDecodeError):
        raise Invalid("The request body is not valid JSON.") from None
    if isinstance(data, dict):
        unknown = set(data) - {"records"}
        if unknown:
            raise Invalid(
                f"Unknown field(s): {', '.join(sorted(unknown))}; send {{'records': [...]}}."
            )
        data = data.get("records")
    if not isinstance(data, list) or not all(isinstance(r, dict) for r in data):
        raise Invalid("Send the input rows as {'records': [{column: value, ...}, ...]}.")
    if len(data) > MAX_JSON_RECORDS:
        raise Invalid(
            f"At most {MAX_JSON_RECORDS} JSON records per call; send larger batches as Parquet."
        )
    return pd.DataFrame.from_records(data)


def records_document(key: str, df: pd.DataFrame) -> bytes:
    """``{"<key>": [records]}`` as JSON bytes, written by pandas in one pass."""
    records = df.to_json(orient="records", date_format="iso")
    return b'{"' + key.encode() + b'": ' + records.encode() + b"}"
