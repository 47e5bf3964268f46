"""How a delimited text file is laid out: its encoding, delimiter, header and null values.

:func:`_plan_csv` reads the first MiB once and decides everything the CSV reader
(:mod:`.csv_reader`) needs before parsing: the encoding (explicit, a BOM, UTF-8, else a
legacy encoding judged from the non-ASCII lines), whether the file is text at all, the
delimiter (``csv.Sniffer`` checked against how consistently each candidate splits lines),
the column names and the rows to skip. The reader may later change the plan and restart.
"""

from __future__ import annotations

import codecs
import csv
import io
import itertools
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import charset_normalizer
import pyarrow as pa

from ..errors import Invalid
from ..quality import check_column_names
from .options import _header_row, _int_option
from .sources import _ByteSource, _read_head

#: The longest CSV row, and so the longest single value, accepted: every reader is given
#: blocks large enough for it, and a longer row is refused with one message.
MAX_CSV_ROW_BYTES = 8 * 1024 * 1024
# The csv module (used on the sample) refuses fields over 128 KiB by default; it must take
# whatever pyarrow takes. The limit is process-wide, so it is only ever raised.
csv.field_size_limit(max(csv.field_size_limit(), MAX_CSV_ROW_BYTES))


# Other blocks are at most half the row limit, so that a row over it always spans more than
# the two blocks pyarrow can join, and is seen.
_MAX_BLOCK_SIZE = MAX_CSV_ROW_BYTES // 2
_SAMPLE_BYTES = 1024 * 1024
_SNIFF_CHARS = 16 * 1024


_DEFAULT_NULLS = [
    "", "#N/A", "#N/A N/A", "#NA", "-1.#IND", "-1.#QNAN", "-NaN", "-nan", "1.#IND",
    "1.#QNAN", "<NA>", "N/A", "NA", "NULL", "NaN", "None", "n/a", "nan", "null",
]  # fmt: skip


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
    header_index = _header_row(opts)

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
