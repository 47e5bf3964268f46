"""CSV/TSV into Arrow batches: three engines, restarts, and errors that name the row.

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
encoding.
"""

from __future__ import annotations

import contextlib
import csv
import io
import re
from collections.abc import Iterator
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv

from ..errors import Invalid
from .sink import (
    _conformer,
    _drain,
    _Drained,
    _pandas_metadata,
    _ParquetOut,
    _prefetch,
    _Restart,
    _storage_schema,
)
from .sources import (
    Progress,
    _bytes_left,
    _ByteSource,
    _clean,
    _mb,
    _Meter,
    _QuoteWatch,
    _Reader,
    _ticker,
)
from .text import _NON_ASCII_LINE, MAX_CSV_ROW_BYTES, _CsvPlan, _legacy_encoding, _plan_csv

#: CSV files up to this size are read in one multithreaded call (see module docstring).
SMALL_CSV_BYTES = 16 * 1024 * 1024
_BLOCK_SIZE = 1024 * 1024
_PIECE_BYTES = 2 * 1024 * 1024
_FIRST_PIECE_BYTES = 4 * 1024 * 1024


# Blocks of the reader used once a row did not fit a block: any allowed row fits.
_WIDE_BLOCK_SIZE = MAX_CSV_ROW_BYTES + 1024 * 1024


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
