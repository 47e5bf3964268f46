"""The parse preview: the first rows of a file as the ingest reads them, from its head."""

from __future__ import annotations

import io

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from astralytiq_jupyter.core import ingest_preview
from astralytiq_jupyter.core.errors import Invalid
from astralytiq_jupyter.core.ingest import ingest_to_parquet
from astralytiq_jupyter.core.ingest_preview import HEAD_BYTES, bytes_needed, preview_file


def _stored_schema(data: bytes, filename: str, **options) -> dict[str, str]:
    return ingest_to_parquet(data, io.BytesIO(), filename=filename, **options).schema


def test_small_csv_previews_whole_with_the_ingest_types_and_options() -> None:
    data = b"# exported\nid;amount;when;note\n1;2,5;2024-01-02;-\n2;3;2024-02-03;ok\n"
    options = {"delimiter": ";", "skip_rows": 1, "null_values": ["-"]}
    p = preview_file(data, filename="x.csv", **options)
    assert p.complete and p.rows_read == 2 and p.total_rows == 2 and p.format == "csv"
    assert list(p.frame.columns) == ["id", "amount", "when", "note"]
    assert p.schema == _stored_schema(data, "x.csv", **options)
    assert p.frame["note"].isna().tolist() == [True, False]
    assert p.quality["missing"]["note"]["count"] == 1
    with pytest.raises(Invalid, match="Row 3 has 2 fields but the header has 1"):
        preview_file(data, filename="x.csv", delimiter=",", skip_rows=1)


def test_head_of_a_large_csv_is_cut_after_its_last_complete_line(tmp_path) -> None:
    rows = 120_000
    text = "n,label\n" + "".join(f"{i},row {i}\n" for i in range(rows))
    path = tmp_path / "big.csv"
    path.write_text(text)
    assert path.stat().st_size > HEAD_BYTES
    p = preview_file(path, rows=50)
    assert not p.complete and p.total_rows is None
    assert len(p.frame) == 50 and p.frame["n"].tolist() == list(range(50))
    assert 0 < p.rows_read < rows
    # every row read is whole: the last one is intact
    head = path.read_bytes()[:HEAD_BYTES]
    assert p.rows_read == head.count(b"\n") - 1
    assert p.schema == {"n": "int64", "label": "str"}
    # the same from the head bytes alone (what the browser sends)
    q = preview_file(head, filename="big.csv", size=path.stat().st_size, rows=50)
    assert q.rows_read == p.rows_read and q.frame.equals(p.frame)


def test_utf16_head_is_cut_on_a_code_unit() -> None:
    text = "a,b\n" + "".join(f"{i},é{i}\n" for i in range(40_000))
    data = text.encode("utf-16")
    head = data[: HEAD_BYTES + 1]  # an odd length: a half code unit at the end
    p = preview_file(head, filename="u.csv", size=len(data), rows=5)
    assert p.frame["b"].tolist() == ["é0", "é1", "é2", "é3", "é4"]


def test_excel_lists_its_sheets_and_reads_the_chosen_one() -> None:
    sink = io.BytesIO()
    with pd.ExcelWriter(sink, engine="openpyxl") as writer:
        pd.DataFrame({"a": [1, 2]}).to_excel(writer, sheet_name="First", index=False)
        pd.DataFrame({"b": ["x", "y", "z"]}).to_excel(writer, sheet_name="Second", index=False)
    data = sink.getvalue()
    p = preview_file(data, filename="book.xlsx")
    assert p.sheets == ["First", "Second"] and list(p.frame.columns) == ["a"]
    q = preview_file(data, filename="book.xlsx", sheet="Second")
    assert q.frame["b"].tolist() == ["x", "y", "z"] and q.rows_read == 3
    with pytest.raises(Invalid, match="Sheet 'Third' not found"):
        preview_file(data, filename="book.xlsx", sheet="Third")


def test_large_parquet_is_previewed_from_its_first_rows(tmp_path, monkeypatch) -> None:
    monkeypatch.setattr(ingest_preview, "WHOLE_BYTES", 10_000)
    frame = pd.DataFrame({"i": range(50_000), "s": [f"v{i % 7}" for i in range(50_000)]})
    path = tmp_path / "big.parquet"
    pq.write_table(pa.Table.from_pandas(frame, preserve_index=False), path, row_group_size=8192)
    p = preview_file(path, rows=20)
    assert p.total_rows == 50_000 and not p.complete
    assert p.frame["i"].tolist() == list(range(20)) and p.schema == {"i": "int64", "s": "str"}


def test_formats_read_whole_have_no_preview_above_the_limit(monkeypatch) -> None:
    monkeypatch.setattr(ingest_preview, "WHOLE_BYTES", 100)
    assert bytes_needed("excel", 101) is None and bytes_needed("excel", 100) == 100
    assert bytes_needed("csv", 10**9) == HEAD_BYTES
    with pytest.raises(Invalid, match="read whole") as caught:
        preview_file(b'[{"a": 1}]' * 5, filename="x.json", size=1000)
    assert caught.value.detail == {"preview": "too_large"}


def test_bad_files_get_the_ingest_errors() -> None:
    with pytest.raises(Invalid, match="empty"):
        preview_file(b"", filename="x.csv")
    with pytest.raises(Invalid, match="not a valid Excel"):
        preview_file(b"PK\x03\x04 not really", filename="x.xlsx")
    with pytest.raises(Invalid, match="needs the file's name"):
        preview_file(b"a,b\n1,2\n")
    with pytest.raises(Invalid, match="no complete line"):
        preview_file(b"x" * 5000, filename="x.csv", size=10_000)
