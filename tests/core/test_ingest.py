"""Ingest: every format and read option, bad inputs, streaming restarts, quotas, SSRF, SQL."""

from __future__ import annotations

import io
import os
import sqlite3
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.feather as feather
import pyarrow.parquet as pq
import pytest

from astralytiq_jupyter.core.errors import Cancelled, Invalid, QuotaExceeded
from astralytiq_jupyter.core.ingest import (
    IngestResult,
    SqlSource,
    csv_reader,
    detect_format,
    ingest_to_parquet,
)
from astralytiq_jupyter.core.ingest import sink as ingest_sink
from astralytiq_jupyter.core.ingest import text as ingest_text


def ingest(source, **kwargs) -> tuple[IngestResult, pd.DataFrame]:
    """Ingest into memory; return the result and the Parquet read back by pandas."""
    sink = io.BytesIO()
    result = ingest_to_parquet(source, sink, **kwargs)
    sink.seek(0)
    frame = pd.read_parquet(sink)
    # The documented convention: schema is exactly what pandas reads back.
    assert result.schema == {c: str(t) for c, t in frame.dtypes.items()}
    assert (result.rows, result.columns) == frame.shape
    assert result.quality["rows"] == result.rows
    return result, frame


def write(path: Path, text: str, encoding: str = "utf-8") -> Path:
    path.write_bytes(text.encode(encoding))
    return path


class NonSeekable(io.RawIOBase):
    """A write-only or read-only stream without seek, like the store's hashing writer."""

    def __init__(self, data: bytes = b"") -> None:
        self._in = io.BytesIO(data)
        self.out = bytearray()

    def readable(self) -> bool:
        return True

    def writable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return False

    def readinto(self, b) -> int:
        return self._in.readinto(b)

    def write(self, b) -> int:
        self.out += bytes(b)
        return len(b)


# -- formats -------------------------------------------------------------------------


def test_csv_types_schema_and_provenance(tmp_path):
    path = write(
        tmp_path / "sales.csv",
        "id,price,name,active,day,at\n"
        "1,2.5,ann,true,2024-01-02,2024-01-02 10:00:00\n"
        "2,,bob,false,2024-01-03,\n"
        "3,4.0,,true,2024-01-04,2024-01-04 11:30:00\n",
    )
    result, df = ingest(path)
    assert result.schema == {
        "id": "int64",
        "price": "float64",
        "name": "str",
        "active": "bool",
        "day": "datetime64[ms]",
        "at": "datetime64[ms]",
    }
    assert result.format == "csv" and result.source_kind == "file"
    assert result.source_detail == str(path)
    assert result.bytes_read == path.stat().st_size
    assert df["name"].tolist()[:2] == ["ann", "bob"] and pd.isna(df["name"][2])
    assert df["day"][0] == pd.Timestamp("2024-01-02")
    assert result.quality["missing"]["price"] == {"count": 1, "percent": 33.33}


def test_tsv_and_txt_extensions(tmp_path):
    result, df = ingest(write(tmp_path / "a.tsv", "x\ty\n1\thello, world\n"))
    assert result.format == "tsv" and df["y"][0] == "hello, world"
    result, df = ingest(write(tmp_path / "b.txt", "x|y\n1|2\n"))
    assert result.format == "csv" and list(df.columns) == ["x", "y"]


def test_excel_sheets_header_and_missing_sheet(tmp_path):
    path = tmp_path / "book.xlsx"
    with pd.ExcelWriter(path) as xl:
        pd.DataFrame({"a": [1, 2], "b": ["x", None]}).to_excel(xl, sheet_name="First", index=False)
        pd.DataFrame({"when": pd.to_datetime(["2024-01-01"]), "v": [1.5]}).to_excel(
            xl, sheet_name="Second", index=False, startrow=2
        )
    result, df = ingest(path)
    assert result.format == "excel" and df["a"].tolist() == [1, 2]
    assert result.schema["a"] == "int64" and result.schema["b"] == "str"
    _, df = ingest(path, sheet="Second", skip_rows=2)
    assert list(df.columns) == ["when", "v"] and df["when"][0] == pd.Timestamp("2024-01-01")
    _, df = ingest(path, sheet=1, header=2)
    assert list(df.columns) == ["when", "v"]
    _, df = ingest(path, header=False)
    assert list(df.columns) == ["column_1", "column_2"] and df["column_1"][0] == "a"
    with pytest.raises(Invalid, match=r"Sheet 'Nope' not found.*'First', 'Second'"):
        ingest(path, sheet="Nope")
    with pytest.raises(Invalid, match=r"no sheet number 5.*'First', 'Second'"):
        ingest(path, sheet=5)
    # The header option is read by the one rule CSV files use, with the same message.
    with pytest.raises(Invalid, match="header option must be True, False or a row") as bad:
        ingest(path, header=-1)
    assert bad.value.detail == {"option": "header"}


def test_excel_duplicate_header_and_not_a_workbook(tmp_path):
    path = tmp_path / "dup.xlsx"
    pd.DataFrame([["price", "price"], [1, 2]]).to_excel(path, header=False, index=False)
    with pytest.raises(Invalid, match="'price' appears twice"):
        ingest(path)
    (tmp_path / "fake.xlsx").write_bytes(b"this is not a zip file")
    with pytest.raises(Invalid, match="not a valid Excel workbook"):
        ingest(tmp_path / "fake.xlsx")


def test_json_records_nested_and_records_path(tmp_path):
    path = write(
        tmp_path / "a.json",
        '[{"id": 1, "user": {"name": "ann"}, "tags": ["a", "b"]},'
        ' {"id": 2, "user": {"name": null}}]',
    )
    result, df = ingest(path)
    assert result.format == "json"
    assert list(df.columns) == ["id", "tags", "user.name"]
    assert df["tags"][0] == '["a", "b"]' and pd.isna(df["tags"][1])
    path = write(tmp_path / "b.json", '{"meta": {}, "data": {"items": [{"x": 1}, {"x": 2}]}}')
    _, df = ingest(path, records_path="data.items")
    assert df["x"].tolist() == [1, 2]
    with pytest.raises(Invalid, match="single object.*records_path"):
        ingest(write(tmp_path / "c.json", '{"data": [{"x": 1}]}'))
    with pytest.raises(Invalid, match="records_path 'data.nope' does not exist"):
        ingest(path, records_path="data.nope")
    with pytest.raises(Invalid, match="not valid JSON: .* line 1"):
        ingest(write(tmp_path / "d.json", '[{"x": 1},'))


def test_json_lines_both_extensions_and_type_changes(tmp_path):
    lines = "".join(f'{{"n": {i}, "s": "v{i}", "o": {{"k": {i}}}}}\n' for i in range(5))
    result, df = ingest(write(tmp_path / "a.jsonl", lines))
    assert result.format == "jsonl" and list(df.columns) == ["n", "s", "o.k"]
    # .json holding JSON lines is detected; a type change falls back to the Python parser.
    _, df = ingest(write(tmp_path / "b.json", lines + '{"n": "text", "s": null}\n'))
    assert df["n"].tolist()[-1] == "text" and len(df) == 6
    with pytest.raises(Invalid, match="Line 2 is not valid JSON"):
        ingest(write(tmp_path / "c.jsonl", '{"a": 1}\n{"a": \n'))


def test_parquet_and_arrow_inputs_keep_types(tmp_path):
    df = pd.DataFrame(
        {"n": pd.array([1, None], dtype="Int64"), "c": pd.Categorical(["x", "y"]), "s": ["a", "b"]},
        index=pd.Index([10, 20]),
    )
    df.to_parquet(tmp_path / "in.parquet")  # unnamed non-range index -> __index_level_0__
    result, back = ingest(tmp_path / "in.parquet")
    assert list(back.columns) == ["n", "c", "s"] and result.format == "parquet"
    assert result.schema["c"] == "category"
    feather.write_feather(pa.table({"a": [1, 2], "b": ["x", "y"]}), tmp_path / "in.feather")
    result, back = ingest(tmp_path / "in.feather")
    assert result.format == "arrow" and back["b"].tolist() == ["x", "y"]
    with (
        pa.OSFile(str(tmp_path / "s.arrow"), "wb") as f,
        pa.ipc.new_stream(f, pa.schema([("a", pa.int64())])) as writer,
    ):
        writer.write_batch(pa.record_batch([pa.array([7])], names=["a"]))
    _, back = ingest(tmp_path / "s.arrow")
    assert back["a"].tolist() == [7]
    (tmp_path / "bad.parquet").write_bytes(b"PAR1 nope")
    with pytest.raises(Invalid, match="not a valid Parquet file"):
        ingest(tmp_path / "bad.parquet")


def test_dataframe_source_keeps_dtypes_and_index():
    df = pd.DataFrame(
        {"n": pd.array([1, None, 3], dtype="Int64"), "c": pd.Categorical(["a", "b", "a"])},
        index=pd.Index(["r1", "r2", "r3"], name="key"),
    )
    result, back = ingest(df)
    assert result.source_kind == "dataframe" and result.format == "dataframe"
    assert list(back.columns) == ["key", "n", "c"]
    assert result.schema == {"key": "str", "n": "Int64", "c": "category"}
    mixed = pd.DataFrame({"m": [1, "two", None]})  # no column type holds both: refused
    with pytest.raises(Invalid, match=r"'m' mixes values of different types \(int, str\)"):
        ingest(mixed)


def test_uploads_bytes_fileobj_and_nonseekable(tmp_path):
    data = b"a,b\n1,2\n3,4\n"
    result, df = ingest(data, filename="up.csv")
    assert result.source_kind == "upload" and result.source_detail == "up.csv"
    _, df2 = ingest(io.BytesIO(data), format="csv")
    stream = NonSeekable(data)
    _, df3 = ingest(stream, filename="x.csv")
    assert df.equals(df2) and df.equals(df3)
    with pytest.raises(Invalid, match="needs a filename"):
        ingest(data)
    fifo = tmp_path / "pipe.csv"  # readable once: copied so restarts can re-read it
    os.mkfifo(fifo)
    feeder = threading.Thread(target=lambda: fifo.write_bytes(data))
    feeder.start()
    result, df4 = ingest(fifo)
    feeder.join()
    assert result.source_kind == "file" and df.equals(df4)
    with pytest.raises(Invalid, match="Unknown format 'xml'"):
        ingest(data, format="xml")


def test_nonseekable_sink_gets_one_valid_file_even_after_restart(tmp_path):
    rows = "".join(f"{i},{i}\n" for i in range(3000)) + "abc,1\n"
    path = write(tmp_path / "late.csv", "a,b\n" + rows)
    sink = NonSeekable()
    result = ingest_to_parquet(path, sink, block_size=4096)
    back = pq.read_table(io.BytesIO(bytes(sink.out))).to_pandas()
    assert result.rows == len(back) == 3001 and back["a"].iloc[-1] == "abc"


# -- read options ----------------------------------------------------------------------


@pytest.mark.parametrize("delimiter", [";", "|", "\t", ","])
def test_delimiter_sniffed(tmp_path, delimiter):
    text = delimiter.join(["a", "b", "c"]) + "\n" + delimiter.join(["1", "x y", "3.5"]) + "\n"
    _, df = ingest(write(tmp_path / "d.csv", text * 1))
    assert list(df.columns) == ["a", "b", "c"] and df["b"][0] == "x y"


def test_explicit_delimiter_header_skip_and_nulls(tmp_path):
    text = "exported by tool\n\nid;name\n1;n/a\n2;-\n"
    _, df = ingest(write(tmp_path / "e.csv", text), delimiter=";", skip_rows=2)
    assert list(df.columns) == ["id", "name"] and df["name"].isna().tolist() == [True, False]
    _, df = ingest(write(tmp_path / "f.csv", text), skip_rows=2, null_values=["-"])
    assert df["name"].tolist()[0] == "n/a" and pd.isna(df["name"][1])
    _, df = ingest(write(tmp_path / "g.csv", text), skip_rows=1, header=0)
    assert list(df.columns) == ["id", "name"]
    _, df = ingest(write(tmp_path / "g2.csv", text), header=2)
    assert list(df.columns) == ["id", "name"] and len(df) == 2
    _, df = ingest(write(tmp_path / "h.csv", "\n1,2\n3,4\n"), header=False)
    assert list(df.columns) == ["column_1", "column_2"] and df["column_1"].tolist() == [1, 3]
    with pytest.raises(Invalid, match="single character"):
        ingest(write(tmp_path / "i.csv", "a,b\n"), delimiter=";;")
    with pytest.raises(Invalid, match="header option"):
        ingest(write(tmp_path / "j.csv", "a,b\n"), header="yes")
    with pytest.raises(Invalid, match=r"Unknown option 'delimeter'.*Valid options: block_size"):
        ingest(write(tmp_path / "k.csv", "a,b\n"), delimeter=";")


def test_encodings_detected_given_and_wrong(tmp_path):
    text = "name,city\nJosé,Zürich\nRenée,Malmö\n" * 20
    for encoding in ("utf-8-sig", "utf-16", "cp1252"):
        _, df = ingest(write(tmp_path / f"{encoding}.csv", text, encoding))
        assert list(df.columns) == ["name", "city"] and df["city"][0] == "Zürich", encoding
    _, df = ingest(write(tmp_path / "l1.csv", text, "latin-1"), encoding="latin-1")
    assert df["name"][1] == "Renée"
    with pytest.raises(Invalid, match=r"not valid ascii text: byte 0xC3 on line 2"):
        ingest(write(tmp_path / "u8.csv", text), encoding="ascii")
    with pytest.raises(Invalid, match="Unknown text encoding 'klingon'"):
        ingest(write(tmp_path / "u9.csv", text), encoding="klingon")


def test_late_non_utf8_byte_after_ascii_sample_switches_encoding(tmp_path, monkeypatch):
    monkeypatch.setattr(ingest_text, "_SAMPLE_BYTES", 256)
    body = "".join(f"{i},plain\n" for i in range(200))
    path = tmp_path / "late.csv"
    path.write_bytes(("n,word\n" + body).encode() + "201,café\n".encode("cp1252"))
    _, df = ingest(path, block_size=1024)
    assert df["word"].iloc[-1] == "café" and len(df) == 201


def test_late_non_utf8_byte_after_utf8_sample_is_refused(tmp_path, monkeypatch):
    monkeypatch.setattr(ingest_text, "_SAMPLE_BYTES", 256)
    body = "".join(f"{i},naïve\n" for i in range(200)).encode()
    path = tmp_path / "mixed.csv"
    path.write_bytes(b"n,word\n" + body + "201,café\n".encode("cp1252"))
    with pytest.raises(Invalid, match=r"byte 0xE9 on line 202 .*mixes text encodings"):
        ingest(path, block_size=1024)


# -- bad input -------------------------------------------------------------------------


def test_empty_and_header_only(tmp_path):
    with pytest.raises(Invalid, match=r"empty \(0 bytes\)"):
        ingest(write(tmp_path / "e.csv", ""))
    with pytest.raises(Invalid, match="no header row"):
        ingest(write(tmp_path / "b.csv", "\n\n\n"))
    result, df = ingest(write(tmp_path / "h.csv", "a,b,c\n"))
    assert result.rows == 0 and result.schema == {"a": "str", "b": "str", "c": "str"}
    assert result.quality["score"] == 0 and result.quality["issues"][0]["kind"] == "empty"


def test_ragged_and_truncated_rows_name_the_row(tmp_path):
    with pytest.raises(Invalid, match=r"Row 4 has 5 fields but the header has 4 .*unquoted"):
        ingest(write(tmp_path / "r.csv", "a,b,c,d\n1,2,3,4\n1,2,3,4\n1,2,3,4,5\n"))
    with pytest.raises(Invalid, match=r"Row 3 has 2 fields but the header has 4 .*truncated"):
        ingest(write(tmp_path / "t.csv", "a,b,c,d\n1,2,3,4\n1,2"))
    # Also when the bad row is far into a streamed file.
    rows = [f"{i},{i}\n" for i in range(5000)]
    text = "a,b\n" + "".join(rows[:4000]) + "1,2,3\n" + "".join(rows[4000:])
    with pytest.raises(Invalid, match=r"Row 4,002 has 3 fields but the header has 2") as info:
        ingest(write(tmp_path / "s.csv", text), block_size=2048)
    assert info.value.detail["line"] == 4002


def test_binary_garbage_and_bad_names(tmp_path):
    (tmp_path / "x.csv").write_bytes(bytes(range(256)) * 10)
    with pytest.raises(Invalid, match="not valid UTF-8/Latin-1 text: it contains binary data"):
        ingest(tmp_path / "x.csv")
    with pytest.raises(Invalid, match="Column names must be unique: 'price' appears twice"):
        ingest(write(tmp_path / "d.csv", "price,qty,price\n1,2,3\n"))
    with pytest.raises(Invalid, match="Column 2 has no name"):
        ingest(write(tmp_path / "n.csv", "a,,c\n1,2,3\n"))
    with pytest.raises(Invalid, match="Column 1 has no name"):
        ingest(pd.DataFrame({"": [1]}))


def test_unsupported_extensions_and_schemes(tmp_path):
    with pytest.raises(Invalid, match=r"'\.pdf' files are not supported.*\.csv.*\.xlsx"):
        detect_format("report.pdf")
    with pytest.raises(Invalid, match=r"\.xls file, which is not supported.*\.xlsx"):
        detect_format("old.xls")
    with pytest.raises(Invalid, match="has no extension"):
        detect_format("README")
    assert [detect_format(n) for n in ("a.CSV", "b.ndjson", "c.feather", "d.xlsm")] == [
        "csv",
        "jsonl",
        "arrow",
        "excel",
    ]
    with pytest.raises(Invalid, match="'file://' addresses cannot be imported"):
        ingest(f"file://{tmp_path}/a.csv")
    with pytest.raises(Invalid, match="'ftp://' addresses cannot be imported"):
        ingest("ftp://example.com/a.csv")
    with pytest.raises(Invalid, match="File not found"):
        ingest(str(tmp_path / "missing.csv"))
    with pytest.raises(Invalid, match="Cannot import a int"):
        ingest(42)


# -- streaming -------------------------------------------------------------------------


def _late_change_csv(tmp_path: Path, late: str, rows: int = 3000) -> Path:
    body = "".join(f"{i},{i * 2},,x{i}\n" for i in range(rows))
    return write(tmp_path / "late.csv", "id,num,empty,s\n" + body + late)


@pytest.mark.parametrize(
    ("encoding", "engine"), [("utf-8", "pieces"), ("latin-1", "pieces"), ("utf-16", "stream")]
)
def test_late_type_changes_restart_without_losing_data(tmp_path, monkeypatch, encoding, engine):
    engines = []
    choose = csv_reader._csv_engine
    monkeypatch.setattr(
        csv_reader, "_csv_engine", lambda *a: engines.append(choose(*a)) or engines[-1]
    )
    path = _late_change_csv(tmp_path, "abc,1.5,7,é\n")
    path.write_bytes(path.read_text().encode(encoding))
    result, df = ingest(path, block_size=4096, encoding=encoding)
    assert engines == [engine] * 4  # first pass + one restart per widened column
    assert result.schema == {"id": "str", "num": "float64", "empty": "float64", "s": "str"}
    assert len(df) == 3001 and df["id"].iloc[0] == "0" and df["id"].iloc[-1] == "abc"
    assert df["num"].iloc[-1] == 1.5 and df["num"].iloc[10] == 20.0
    assert df["empty"].iloc[-1] == 7 and df["empty"].isna().sum() == 3000
    assert df["s"].iloc[-1] == "é"


def test_quoted_line_breaks_across_blocks(tmp_path):
    body = "".join(f'{i},"line one\nline two {i}"\n' for i in range(2000))
    result, df = ingest(write(tmp_path / "q.csv", "id,note\n" + body), block_size=2048)
    assert len(df) == 2000 and df["note"].iloc[-1] == "line one\nline two 1999"
    # Line breaks that only appear after the sample: pieces cut inside quotes are detected
    # (pyarrow alone would silently split such a value into two wrong rows).
    plain = "".join(f"{i},plain\n" for i in range(3000))
    late = plain + "".join(f'{i},"a\nb"\n' for i in range(3000, 8000))
    _, df = ingest(write(tmp_path / "r.csv", "id,note\n" + late), block_size=2048)
    assert len(df) == 8000 and (df["note"].iloc[3000:] == "a\nb").all()
    assert df["id"].tolist() == list(range(8000))


@pytest.mark.parametrize("rows", [10, 5000])  # one read, and pieces
def test_stray_quotes_and_values_cut_inside_quotes(tmp_path, rows):
    body = "".join(f"{i},5'11\",x\n" for i in range(rows))
    _, df = ingest(write(tmp_path / "s.csv", "id,height,z\n" + body), block_size=2048)
    assert len(df) == rows and df["height"].iloc[-1] == "5'11\""
    cut = "id,note\n" + "".join(f'{i},"fine"\n' for i in range(rows)) + '7,"the rest was lo'
    with pytest.raises(
        Invalid, match=rf'ends inside a quoted value: the " opened on line {rows + 2:,}'
    ):
        ingest(write(tmp_path / "t.csv", cut), block_size=2048)


def test_big_file_streams_in_row_groups(tmp_path, monkeypatch):
    monkeypatch.setattr(ingest_sink, "_ROW_GROUP_BYTES", 64 * 1024)
    n = 40_000
    df = pd.DataFrame(
        {"i": np.arange(n), "f": np.arange(n) / 3, "s": [f"v{i % 7}" for i in range(n)]}
    )
    path = tmp_path / "big.csv"
    df.to_csv(path, index=False)
    sink = io.BytesIO()
    result = ingest_to_parquet(path, sink, block_size=64 * 1024)
    meta = pq.ParquetFile(io.BytesIO(sink.getvalue())).metadata
    assert result.rows == n and meta.num_row_groups > 3
    back = pd.read_parquet(io.BytesIO(sink.getvalue()))
    assert back["i"].tolist() == df["i"].tolist() and back["s"].tolist() == df["s"].tolist()
    assert result.quality["duplicate_rows"] == 0 and result.quality["score"] == 100.0


def test_progress_and_cancel(tmp_path):
    path = write(tmp_path / "p.csv", "a\n" + "".join(f"{i}\n" for i in range(20_000)))
    calls: list[tuple[int, int | None]] = []
    ingest_to_parquet(
        path, io.BytesIO(), progress=lambda d, t: calls.append((d, t)), block_size=4096
    )
    assert calls and calls[-1] == (path.stat().st_size, path.stat().st_size)
    assert [d for d, _ in calls] == sorted(d for d, _ in calls)

    def cancel(done, total):
        raise Cancelled("stopped by the user")

    sink = io.BytesIO(b"keep")
    sink.seek(4)
    with pytest.raises(Cancelled):
        ingest_to_parquet(path, sink, progress=cancel, block_size=4096)
    assert sink.getvalue() == b"keep"  # nothing useful written


# -- quotas ----------------------------------------------------------------------------


def test_max_bytes_for_files_uploads_and_streams(tmp_path):
    data = b"a,b\n" + b"1,2\n" * 1000
    path = tmp_path / "q.csv"
    path.write_bytes(data)
    with pytest.raises(QuotaExceeded, match=r"larger than the 0.001 MB limit") as info:
        ingest(path, max_bytes=1000)
    assert info.value.detail["limit"] == 1000
    with pytest.raises(QuotaExceeded, match="MB limit"):
        ingest(data, filename="q.csv", max_bytes=1000)
    with pytest.raises(QuotaExceeded, match="MB limit"):
        ingest(NonSeekable(data), filename="q.csv", max_bytes=1000)
    result, _ = ingest(data, filename="q.csv", max_bytes=len(data))
    assert result.bytes_read == len(data)
    with pytest.raises(QuotaExceeded):
        ingest(pd.DataFrame({"a": range(10_000)}), max_bytes=1000)


# -- URL import ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1/a.csv",
        "http://localhost:8080/a.csv",
        "http://[::1]/a.csv",
        "http://10.1.2.3/a.csv",
        "http://169.254.169.254/latest/meta-data/",
        "http://[::ffff:127.0.0.1]/a.csv",
        "http://0.0.0.0/a.csv",
        "http://100.64.0.1/a.csv",
        "http://2130706433/a.csv",
    ],
)
def test_url_refuses_private_and_local_addresses(url):
    with pytest.raises(Invalid, match="private, local or reserved network address"):
        ingest(url)


class _Handler(BaseHTTPRequestHandler):
    body = b"a,b\n1,x\n2,y\n"

    def log_message(self, *args) -> None:
        pass

    def do_GET(self) -> None:
        routes = {
            "/data.csv": (200, {"Content-Type": "text/plain"}, self.body),
            "/export": (200, {"Content-Type": "text/csv; charset=utf-8"}, self.body),
            "/unknown": (200, {"Content-Type": "application/octet-stream"}, self.body),
            "/hop": (302, {"Location": "/data.csv"}, b""),
            "/loop": (302, {"Location": "/loop"}, b""),
            "/evil": (301, {"Location": "http://169.254.169.254/latest/meta-data/"}, b""),
            "/big": (200, {"Content-Type": "text/csv"}, b"a\n" + b"1\n" * 50_000),
        }
        status, headers, body = routes.get(self.path.split("?")[0], (404, {}, b"no"))
        self.send_response(status)
        for key, value in headers.items():
            self.send_header(key, value)
        if self.path.startswith("/big") and "nolength" in self.path:
            self.send_header("Connection", "close")
            self.end_headers()
            self.wfile.write(body)
            return
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


@pytest.fixture(scope="module")
def server():
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


def test_url_download_from_allowlisted_loopback(server):
    result, df = ingest(f"{server}/data.csv?token=secret", url_allowlist=["127.0.0.1"])
    assert result.source_kind == "url" and df["b"].tolist() == ["x", "y"]
    assert "secret" not in result.source_detail and "token=%2A%2A%2A" in result.source_detail
    result, _ = ingest(f"{server}/export", url_allowlist=["127.0.0.0/8"])
    assert result.format == "csv"  # from the Content-Type
    _, df = ingest(f"{server}/hop", url_allowlist=["127.0.0.1"])
    assert len(df) == 2
    with pytest.raises(Invalid, match="Cannot tell the format"):
        ingest(f"{server}/unknown", url_allowlist=["127.0.0.1"])
    _, df = ingest(f"{server}/unknown", url_allowlist=["127.0.0.1"], format="csv")
    assert len(df) == 2


def test_url_redirects_errors_and_quota(server):
    allow = ["127.0.0.1"]
    with pytest.raises(Invalid, match=r"169\.254\.169\.254.*private, local or reserved"):
        ingest(f"{server}/evil", url_allowlist=allow)
    with pytest.raises(Invalid, match="Too many redirects"):
        ingest(f"{server}/loop", url_allowlist=allow)
    with pytest.raises(Invalid, match="answered 404"):
        ingest(f"{server}/missing.csv", url_allowlist=allow)
    with pytest.raises(QuotaExceeded, match="MB limit"):  # refused from Content-Length
        ingest(f"{server}/big", url_allowlist=allow, max_bytes=1000)
    with pytest.raises(QuotaExceeded, match="MB limit"):  # counted while streaming
        ingest(f"{server}/big?nolength=1", url_allowlist=allow, max_bytes=1000)
    with pytest.raises(Invalid, match="Unknown option 'sheet' for csv files"):
        ingest(f"{server}/data.csv", url_allowlist=allow, sheet=1)


# -- SQL -------------------------------------------------------------------------------


@pytest.fixture
def db(tmp_path) -> str:
    path = tmp_path / "shop.db"
    con = sqlite3.connect(path)
    con.execute("CREATE TABLE orders (id INTEGER, amount REAL, note TEXT, extra INTEGER)")
    rows = [(i, i * 1.5, f"n{i}", None if i < 150 else i) for i in range(200)]
    con.executemany("INSERT INTO orders VALUES (?, ?, ?, ?)", rows)
    con.commit()
    con.close()
    return f"sqlite:///{path}"


def test_sql_select_in_chunks_with_late_types(db):
    query = "-- recent orders\nSELECT id, amount, note, extra FROM orders ORDER BY id"
    result, df = ingest(SqlSource(db, query), chunksize=64)
    assert result.source_kind == "sql" and result.format == "sql" and len(df) == 200
    # 'extra' is NULL in the first chunks and numeric later: typed by the restart.
    assert result.schema["extra"] == "float64" and df["extra"].iloc[-1] == 199
    assert query.strip() in result.source_detail
    _, df = ingest(SqlSource(db, "WITH t AS (SELECT id FROM orders) SELECT count(*) AS n FROM t"))
    assert df["n"][0] == 200


@pytest.fixture
def pg_source() -> Iterator[str]:
    """A PostgreSQL database URL whose search path is a throwaway schema holding ``orders``
    (200 rows, ``extra`` NULL in the first 150) and a sequence ``ticket``."""
    from sqlalchemy import create_engine, text

    from ..conftest import PG_URL, pg_schema

    if PG_URL is None:
        pytest.skip("ASTRALYTIQ_TEST_DATABASE_URL is not set")
    with pg_schema("src") as url:
        engine = create_engine(url)
        with engine.begin() as conn:
            conn.execute(text("CREATE TABLE orders (id int, amount float8, note text, extra int)"))
            conn.execute(
                text(
                    "INSERT INTO orders SELECT i, i * 1.5, 'n' || i, CASE WHEN i < 150 THEN NULL "
                    "ELSE i END FROM generate_series(0, 199) AS i"
                )
            )
            conn.execute(text("CREATE SEQUENCE ticket"))
        engine.dispose()
        yield url


def test_sql_on_postgresql_streams_in_a_read_only_transaction(pg_source):
    """A live PostgreSQL source: rows come through a server-side cursor in chunks (late
    types restart the query), and statements that write while looking like reads, a
    data-modifying CTE and ``nextval``, are refused and change nothing."""
    query = "SELECT id, amount, note, extra FROM orders ORDER BY id"
    result, df = ingest(SqlSource(pg_source, query), chunksize=64)
    assert len(df) == 200 and result.schema["extra"] == "float64"
    assert df["extra"].iloc[-1] == 199 and df["note"].iloc[3] == "n3"
    writes = {
        # The server-side cursor already refuses this one; the transaction would too.
        "WITH gone AS (DELETE FROM orders RETURNING id) SELECT count(*) AS n FROM gone": (
            "data-modifying|read-only transaction"
        ),
        "SELECT nextval('ticket') AS n": "read-only transaction",
    }
    for write, reason in writes.items():
        with pytest.raises(Invalid, match=reason):
            ingest(SqlSource(pg_source, write))
    assert ingest(SqlSource(pg_source, "SELECT count(*) AS n FROM orders"))[1]["n"][0] == 200
    assert ingest(SqlSource(pg_source, "SELECT last_value FROM ticket"))[1].iloc[0, 0] == 1


def test_sql_refuses_writes_and_bad_connections(db, tmp_path):
    for query in ("DELETE FROM orders", "  /* hi */ DROP TABLE orders", "PRAGMA x"):
        with pytest.raises(Invalid, match="Only queries that read data"):
            ingest(SqlSource(db, query))
    with pytest.raises(Invalid, match="Only one SQL statement"):
        ingest(SqlSource(db, "SELECT 1; DELETE FROM orders"))
    # Passes the keyword check but writes: the read-only transaction refuses it.
    with pytest.raises(Invalid, match="readonly|read-only|no result set"):
        ingest(SqlSource(db, "WITH x AS (SELECT 1) DELETE FROM orders"))
    assert ingest(SqlSource(db, "SELECT count(*) AS n FROM orders"))[1]["n"][0] == 200
    with pytest.raises(Invalid, match="Could not connect to sqlite"):
        ingest(SqlSource(f"sqlite:///{tmp_path}/no/such/dir/x.db", "SELECT 1"))
    with pytest.raises(Invalid, match="Could not run the query") as info:
        ingest(SqlSource(db, "SELECT nope FROM orders"))
    assert "no such column" in str(info.value)
    secret_url = "postgresql+psycopg://ann:hunter2@127.0.0.1:1/shop"
    with pytest.raises(Invalid) as info:
        ingest(SqlSource(secret_url, "SELECT 1"))
    assert "hunter2" not in str(info.value) and "ann:***@127.0.0.1" in str(info.value)
    assert "hunter2" not in repr(SqlSource(secret_url, "SELECT 1"))
    with pytest.raises(Invalid, match="Unknown option 'sheet' for SQL queries"):
        ingest(SqlSource(db, "SELECT 1"), sheet=0)
