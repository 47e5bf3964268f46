"""Read options as query parameters of the streamed upload (``POST datasets/{name}/versions``).

The body of that request is the file itself, so its read options travel in the query string.
This module is the one codec for them: the RemoteBackend and the browser upload widget
encode with :func:`encode`, the handler decodes with :func:`decode`; both agree by
construction, and a test round-trips every option.

Parameters (each optional; which ones a format accepts is checked by the ingest itself):

* ``delimiter``, ``encoding``, ``records_path``: text, as given;
* ``header``: ``true``, ``false`` or a row number;
* ``skip_rows``: a whole number;
* ``null_values``: repeated once per value (``null_values=NA&null_values=-``); it replaces
  the default list;
* ``sheet``: an Excel sheet's name, or ``sheet_number``: its 0-based position.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from .errors import Invalid

__all__ = ["MAX_ROW_NUMBER", "QUERY_PARAMETERS", "decode", "encode"]

QUERY_PARAMETERS = (
    "delimiter",
    "encoding",
    "header",
    "skip_rows",
    "null_values",
    "sheet",
    "sheet_number",
    "records_path",
)
#: Row numbers (``header``, ``skip_rows``, ``sheet_number``) above this are refused before
#: any byte is read: no file has that many rows to skip, and huge numbers must not reach
#: the readers.
MAX_ROW_NUMBER = 10**9
_TEXT = ("delimiter", "encoding", "records_path")


def encode(read_options: Mapping[str, Any]) -> dict[str, str | list[str]]:
    """Query parameters for ``read_options`` (the keyword options of ``ingest``). Options
    that cannot travel this way are refused with the list of those that can."""
    query: dict[str, str | list[str]] = {}
    for key, value in read_options.items():
        if value is None:
            continue
        if key in _TEXT:
            if not isinstance(value, str):
                raise Invalid(f"The {key} option must be text.")
            query[key] = value
        elif key == "header":
            if isinstance(value, bool):
                query[key] = "true" if value else "false"
            elif isinstance(value, int) and value >= 0:
                query[key] = str(value)
            else:
                raise Invalid("The header option must be True, False or a row number (0 or more).")
        elif key == "skip_rows":
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise Invalid("The skip_rows option must be a whole number of at least 0.")
            query[key] = str(value)
        elif key == "null_values":
            if isinstance(value, str) or not isinstance(value, Sequence):
                raise Invalid("The null_values option must be a list of strings.")
            if not all(isinstance(v, str) for v in value):
                raise Invalid("The null_values option must be a list of strings.")
            if not value:
                raise Invalid("The null_values option needs at least one value to upload.")
            query[key] = list(value)
        elif key == "sheet":
            if isinstance(value, bool) or not isinstance(value, (int, str)):
                raise Invalid("The sheet option must be a sheet name or number.")
            if isinstance(value, int):
                query["sheet_number"] = str(value)
            else:
                query["sheet"] = value
        else:
            raise Invalid(
                f"The option {key!r} cannot be sent with an upload. Options that can: "
                "delimiter, encoding, header, skip_rows, null_values, sheet, records_path.",
                options=[key],
            )
    return query


def _row_number(name: str, text: str) -> int:
    if not text.isascii() or not text.isdigit() or int(text) > MAX_ROW_NUMBER:
        raise Invalid(
            f"Query parameter {name!r} must be a whole number from 0 to {MAX_ROW_NUMBER:,}."
        )
    return int(text)


def decode(arguments: Callable[[str], list[str]]) -> dict[str, Any]:
    """Read options from the query: ``arguments(name)`` gives every value of a parameter
    (tornado's ``get_query_arguments``). Malformed values are refused with what is expected."""

    def one(name: str) -> str | None:
        values = arguments(name)
        if len(values) > 1:
            raise Invalid(f"Query parameter {name!r} was given more than once.")
        return values[0] if values else None

    options: dict[str, Any] = {}
    for key in _TEXT:
        value = one(key)
        if value is not None:
            options[key] = value
    header = one("header")
    if header is not None:
        if header.lower() in ("true", "false"):
            options["header"] = header.lower() == "true"
        elif header.isascii() and header.isdigit():
            options["header"] = _row_number("header", header)
        else:
            raise Invalid("Query parameter 'header' must be true, false or a row number.")
    skip = one("skip_rows")
    if skip is not None:
        options["skip_rows"] = _row_number("skip_rows", skip)
    nulls = arguments("null_values")
    if nulls:
        options["null_values"] = list(nulls)
    sheet, number = one("sheet"), one("sheet_number")
    if sheet is not None and number is not None:
        raise Invalid("Give either 'sheet' (a name) or 'sheet_number', not both.")
    if sheet is not None:
        options["sheet"] = sheet
    if number is not None:
        options["sheet"] = _row_number("sheet_number", number)
    return options
