"""JSON (an array of records, or JSON lines) into a DataFrame or an Arrow table.

The file is read whole; its nesting depth is checked before Python's parser runs. Nested
objects become ``parent.child`` columns; lists and objects that remain are stored as JSON
text.
"""

from __future__ import annotations

import codecs
import io
import json
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.json as pajson

from ..errors import Invalid
from ..limits import text_depth
from .sink import _flat_table
from .sources import _ByteSource, _Meter
from .text import _binary_error

#: Deepest nesting of a JSON or JSON-lines file (nested objects become parent.child columns).
MAX_JSON_FILE_DEPTH = 64


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
