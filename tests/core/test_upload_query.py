"""Read options as query parameters of the streamed upload: one codec, both directions."""

from __future__ import annotations

import pytest

from astralytiq_jupyter.core.errors import Invalid
from astralytiq_jupyter.core.upload_query import MAX_ROW_NUMBER, QUERY_PARAMETERS, decode, encode


def _arguments(query: dict[str, str | list[str]]):
    def get(name: str) -> list[str]:
        value = query.get(name)
        if value is None:
            return []
        return list(value) if isinstance(value, list) else [value]

    return get


@pytest.mark.parametrize(
    "options",
    [
        {},
        {"delimiter": ";", "encoding": "latin-1"},
        {"delimiter": "\t", "header": False, "skip_rows": 3},
        {"header": True, "null_values": ["", "-", "n/a"]},
        {"header": 2, "null_values": ["NA"]},
        {"sheet": "Q2 sales"},
        {"sheet": 1, "header": 0},
        {"sheet": "7"},  # a sheet named "7" stays a name
        {"records_path": "data.items"},
    ],
)
def test_every_option_round_trips(options: dict) -> None:
    query = encode(options)
    assert set(query) <= set(QUERY_PARAMETERS)
    assert all(isinstance(v, (str, list)) for v in query.values())
    assert decode(_arguments(query)) == options


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"header": "yes"}, "header"),
        ({"header": -1}, "header"),
        ({"skip_rows": 1.5}, "skip_rows"),
        ({"null_values": "NA"}, "list of strings"),
        ({"null_values": []}, "at least one"),
        ({"sheet": 1.0}, "sheet"),
        ({"delimiter": 44}, "text"),
        ({"block_size": 1024}, "cannot be sent"),
        ({"format": "csv"}, "cannot be sent"),
    ],
)
def test_options_an_upload_cannot_carry_are_refused(options: dict, message: str) -> None:
    with pytest.raises(Invalid, match=message):
        encode(options)


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ({"header": "maybe"}, "header"),
        ({"skip_rows": "-1"}, "skip_rows"),
        ({"skip_rows": "1e3"}, "skip_rows"),
        ({"skip_rows": str(MAX_ROW_NUMBER + 1)}, "skip_rows"),
        ({"skip_rows": "١٢"}, "skip_rows"),  # digits of another script
        ({"header": str(10**30)}, "header"),
        ({"sheet": "a", "sheet_number": "1"}, "not both"),
        ({"delimiter": [";", ","]}, "more than once"),
    ],
)
def test_malformed_query_values_are_refused(query: dict, message: str) -> None:
    with pytest.raises(Invalid, match=message):
        decode(_arguments(query))
