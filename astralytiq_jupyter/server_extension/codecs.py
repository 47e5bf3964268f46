"""How tables travel over HTTP: Parquet and Arrow IPC for programs, CSV for people (with
spreadsheet formula injection neutralised), JSON records for small prediction calls.

Downloads are encoded batch by batch (:class:`BatchEncoder`), so a response of any size holds
about one batch in memory; whole-table encoding (:func:`encode_table`) serves small results
such as predictions.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import orjson
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.ipc as ipc
import pyarrow.parquet as pq

from ..core.errors import Invalid
from ..core.limits import parse_json
from ..core.storage import WriteOnlyFile

PARQUET = "application/vnd.apache.parquet"
ARROW = "application/vnd.apache.arrow.stream"
CSV = "text/csv"
JSON = "application/json"
FORMATS = {"parquet": PARQUET, "arrow": ARROW, "csv": CSV, "json": JSON}
# A cell starting with one of these is a formula to Excel, LibreOffice and Google Sheets.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_FORMULA_PATTERN = "^[=+\\-@\t\r]"
MAX_JSON_RECORDS = 100_000
#: Records are rows of values: a little nesting is refused by the signature checks, deep
#: nesting before it reaches a recursive parser.
MAX_RECORDS_DEPTH = 32


def escape_formula(value: Any) -> Any:
    """Prefix text that a spreadsheet would run as a formula with an apostrophe."""
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return value


def encode_table(table: pa.Table, fmt: str) -> bytes:
    """Serialise a whole table as ``parquet``, ``arrow`` (IPC stream) or ``csv``."""
    encoder = BatchEncoder(fmt, table.schema, csv_time_formats(table.to_batches()))
    parts = [encoder.start()]
    parts += [encoder.encode(batch) for batch in table.to_batches()]
    parts.append(encoder.finish())
    return b"".join(parts)


class _Drain(WriteOnlyFile):
    """A write-only file that keeps what was written until :meth:`take` hands it out: the
    sink of pyarrow's writers, emptied after every batch so that it stays small."""

    def __init__(self) -> None:
        super().__init__()
        self._parts: list[bytes] = []

    def _write(self, view: memoryview) -> None:
        self._parts.append(bytes(view))

    def take(self) -> bytes:
        data, self._parts = b"".join(self._parts), []
        return data


class BatchEncoder:
    """Encodes a table batch by batch: :meth:`start`, then :meth:`encode` per record batch,
    then :meth:`finish`; each returns the bytes to send next. Parquet gets one row group per
    batch; CSV text cells that a spreadsheet would run as formulas are escaped, and times use
    one format per column (``time_formats``, from :func:`csv_time_formats`) so that every
    batch writes them alike."""

    def __init__(
        self, fmt: str, schema: pa.Schema, time_formats: dict[str, tuple[str, str]] | None = None
    ) -> None:
        if fmt not in ("parquet", "arrow", "csv"):
            raise Invalid(f"Unknown format {fmt!r}; use one of: parquet, arrow, csv.")
        self.fmt = fmt
        self.schema = schema
        self._times = time_formats or {}
        self._sink = _Drain()
        self._writer: Any = None

    def start(self) -> bytes:
        if self.fmt == "parquet":
            # Dictionary encoding pays off for text; tried on numbers it costs several times
            # a batch in memory and time, and rarely a byte.
            text = [
                f.name for f in self.schema if _is_text(f.type) or pa.types.is_dictionary(f.type)
            ]
            self._writer = pq.ParquetWriter(self._sink, self.schema, use_dictionary=text)
        elif self.fmt == "arrow":
            self._writer = ipc.new_stream(self._sink, self.schema)
        else:
            header = pd.DataFrame(columns=[escape_formula(str(n)) for n in self.schema.names])
            return header.to_csv(index=False).encode()
        return self._sink.take()

    def encode(self, batch: pa.RecordBatch) -> bytes:
        if self.fmt == "csv":
            frame = self._csv_frame(batch)
            return frame.to_csv(index=False, header=False).encode()
        if self.fmt == "parquet":
            self._writer.write_batch(batch, row_group_size=max(1, batch.num_rows))
        else:
            self._writer.write_batch(batch)
        return self._sink.take()

    def finish(self) -> bytes:
        if self._writer is not None:
            self._writer.close()
        return self._sink.take()

    def _csv_frame(self, batch: pa.RecordBatch) -> pd.DataFrame:
        columns = []
        for field, column in zip(batch.schema, batch.columns, strict=True):
            if field.name in self._times and pa.types.is_timestamp(field.type):
                unit, pattern = self._times[field.name]
                exact = column.cast(pa.timestamp(unit, field.type.tz), safe=False)
                column = pc.strftime(exact, pattern)
            else:
                if pa.types.is_dictionary(column.type):
                    column = column.dictionary_decode()
                if _is_text(column.type):
                    column = _escape_formulas(column)
            columns.append(column)
        return pa.RecordBatch.from_arrays(columns, names=batch.schema.names).to_pandas()


def _is_text(kind: pa.DataType) -> bool:
    return pa.types.is_string(kind) or pa.types.is_large_string(kind) or kind == pa.string_view()


def _escape_formulas(column: pa.Array) -> pa.Array:
    """:func:`escape_formula` on every cell of a text column, vectorised."""
    formula = pc.match_substring_regex(column, _FORMULA_PATTERN)
    quote, empty = pa.scalar("'", column.type), pa.scalar("", column.type)
    return pc.if_else(formula, pc.binary_join_element_wise(quote, column, empty), column)


_UNITS = ("s", "ms", "us", "ns")
_TICKS = {"s": 1, "ms": 1_000, "us": 1_000_000, "ns": 1_000_000_000}
_DAY_SECONDS = 86_400


def _precision(values: Any, unit: str) -> str:
    """The coarsest unit that still writes every value (in ``unit`` ticks) exactly."""
    for candidate in _UNITS:
        if _TICKS[candidate] >= _TICKS[unit]:
            return unit
        if not (values % (_TICKS[unit] // _TICKS[candidate])).any():
            return candidate
    return unit


def csv_time_formats(batches: Iterable[pa.RecordBatch]) -> dict[str, tuple[str, str]]:
    """For each timestamp column of ``batches``: the unit and ``strftime`` pattern that write
    its values as pandas writes a whole column (the date alone when every naive value is a
    midnight, else the finest fraction of a second any value needs, then the UTC offset of
    zoned values), so that CSV encoded batch by batch is consistent down each column."""
    units: dict[str, str] = {}
    dates_only: dict[str, bool] = {}
    zoned: dict[str, bool] = {}
    for batch in batches:
        for field, column in zip(batch.schema, batch.columns, strict=True):
            if not pa.types.is_timestamp(field.type):
                continue
            name, unit = field.name, field.type.unit
            values = pc.fill_null(column.cast(pa.int64()), 0).to_numpy(zero_copy_only=False)
            units[name] = max(units.get(name, "s"), _precision(values, unit), key=_UNITS.index)
            zoned[name] = field.type.tz is not None
            if dates_only.get(name, not zoned[name]):
                dates_only[name] = not (values % (_DAY_SECONDS * _TICKS[unit])).any()
    formats = {}
    for name, unit in units.items():
        if dates_only.get(name):
            formats[name] = ("s", "%Y-%m-%d")
        else:
            formats[name] = (unit, "%Y-%m-%d %H:%M:%S" + ("%Ez" if zoned[name] else ""))
    return formats


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
    return pd.DataFrame.from_records(decode_records(body))


def decode_records(body: bytes) -> list[dict[str, Any]]:
    """The rows of a JSON body: ``{"records": [...]}`` or a bare list of objects."""
    try:
        data = orjson.loads(body or b"null")
    except orjson.JSONDecodeError:
        # orjson is strict JSON (and stops at 1024 levels); Python clients send NaN for
        # missing values, which the standard library reads, within a depth it can take.
        data = parse_json(body, "The request body", MAX_RECORDS_DEPTH)
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
    return data


def records_document(key: str, df: pd.DataFrame) -> bytes:
    """``{"<key>": [records]}`` as JSON bytes, written by pandas in one pass."""
    records = df.to_json(orient="records", date_format="iso", double_precision=15)
    return b'{"' + key.encode() + b'": ' + records.encode() + b"}"
