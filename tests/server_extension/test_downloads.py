"""Dataset downloads (``GET /datasets/{ref}/data``): every format, the row limit and column
options, CSV formula escaping, and that the server streams batch by batch instead of
building the whole file in memory."""

from __future__ import annotations

import hashlib
import http.client
import io
import os
import socket
import struct
import threading
import time
import urllib.parse
from collections.abc import Iterator
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.ipc as ipc
import pyarrow.parquet as pq
import pytest
import requests

from astralytiq_jupyter.core.dataset_reads import STREAM_BATCH_BYTES, STREAM_BATCH_ROWS
from astralytiq_jupyter.core.permissions import Principal, Role
from astralytiq_jupyter.server_extension import codecs

from .live import LiveServer, live_server

ROWS = 2 * STREAM_BATCH_ROWS + 1234  # three batches, the last one partial


def _frame(rows: int = ROWS) -> pd.DataFrame:
    """Mixed columns whose CSV form depends on all rows: ``stamp`` has midnights only in the
    first batch and a time of day later; ``day`` is midnights throughout; ``fine`` needs
    milliseconds in one row only."""
    rng = np.random.default_rng(0)
    day = pd.Timestamp("2021-03-01") + pd.to_timedelta(np.arange(rows) % 900, unit="D")
    stamp = day.to_numpy().copy()
    stamp[STREAM_BATCH_ROWS + 5] += np.timedelta64(90, "m")
    fine = pd.Timestamp("2022-01-01") + pd.to_timedelta(np.arange(rows), unit="s")
    fine = fine.to_numpy().copy()
    fine[-1] += np.timedelta64(250, "ms")
    words = np.array(["plain", "=SUM(A1)", "+1", "-x", "@cmd", "\tTab", "ok=fine", ""])
    return pd.DataFrame(
        {
            "n": np.arange(rows),
            "x": rng.normal(size=rows).round(6),
            "word": words[np.arange(rows) % len(words)],
            "cat": pd.Categorical(np.where(np.arange(rows) % 3 == 0, "=bad", "good")),
            "day": day,
            "stamp": stamp,
            "fine": fine,
            "flag": np.arange(rows) % 2 == 0,
        }
    ).assign(x=lambda f: f["x"].mask(f["n"] % 97 == 0))


def _whole_csv(frame: pd.DataFrame) -> str:
    """The whole table through pandas in one piece (formulas escaped): each column
    formatted for all of its values. (pandas itself writes large frames in chunks that may
    format a time column differently from one chunk to the next.)"""
    frame = frame.copy()
    for column in frame.columns:
        series = frame[column]
        if isinstance(series.dtype, pd.CategoricalDtype):
            series = series.astype(object)
        if series.dtype == object or pd.api.types.is_string_dtype(series):
            frame[column] = series.map(codecs.escape_formula)
    frame.columns = [codecs.escape_formula(str(c)) for c in frame.columns]
    return frame.to_csv(index=False, chunksize=max(1, len(frame)))


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    with live_server(tmp_path_factory.mktemp("downloads"), "sqlite") as s:
        yield s


@pytest.fixture(scope="module")
def stored(server: LiveServer) -> dict[str, Any]:
    """The dataset ``big`` of tenant ``dl`` and a token of one of its viewers."""
    admin = server.principal("dl", "ann", Role.ADMIN)
    frame = _frame()
    version = server.store.datasets.save(admin, frame, "big")
    key = server.store.datasets.storage_key(admin, version.ref)
    return {
        "token": server.token_for("dl", "vic", Role.VIEWER),
        "frame": server.store.datasets.load(admin, "big"),
        "version": version,
        "path": server.store.storage.path(key),
        "admin": admin,
    }


def _get(server: LiveServer, stored: dict[str, Any], **params: Any) -> requests.Response:
    session = server.session(stored["token"])
    return session.get(server.api("/datasets/big/data"), params=params, timeout=120)


def test_whole_parquet_is_the_stored_file(server: LiveServer, stored: dict[str, Any]) -> None:
    response = _get(server, stored)
    assert response.status_code == 200
    assert response.headers["Content-Type"] == codecs.PARQUET
    with open(stored["path"], "rb") as fh:
        assert response.content == fh.read()
    version = stored["version"]
    assert hashlib.sha256(response.content).hexdigest() == version.sha256
    assert response.headers["X-AstralytiQ-SHA256"] == version.sha256
    assert int(response.headers["Content-Length"]) == version.size_bytes
    assert response.headers["X-AstralytiQ-Rows"] == str(ROWS)


def _raw_get(
    server: LiveServer, token: str, ref: str, connection: http.client.HTTPConnection | None = None
) -> http.client.HTTPConnection:
    """An HTTP/1.1 connection (``connection``, or a new one) with a whole-version download
    request sent on it."""
    connection = connection or http.client.HTTPConnection("127.0.0.1", server.port, timeout=60)
    path = urllib.parse.urlsplit(server.api(f"/datasets/{ref}/data")).path
    connection.request("GET", path, headers={"Authorization": f"Bearer {token}"})
    return connection


@pytest.fixture
def sendfile_calls(monkeypatch: pytest.MonkeyPatch) -> dict[str, list]:
    """What the server's sendfile path does: bytes per ``sendfile``, waits for writability,
    descriptors duplicated and closed (``os`` is patched process-wide, so ``closed`` lists
    others too), and how each send ended."""
    from astralytiq_jupyter.server_extension import sendfile

    calls: dict[str, list] = {"sent": [], "waits": [], "dup": [], "closed": [], "ended": []}
    real_sendfile, real_dup, real_close = os.sendfile, os.dup, os.close
    real_send, real_writable = sendfile._sendfile, sendfile._writable

    def counting_sendfile(*args: int) -> int:
        calls["sent"].append(real_sendfile(*args))
        return calls["sent"][-1]

    def dup(fd: int) -> int:
        calls["dup"].append(real_dup(fd))
        return calls["dup"][-1]

    def close(fd: int) -> None:
        calls["closed"].append(fd)
        real_close(fd)

    async def writable(*args: Any) -> None:
        calls["waits"].append(1)
        await real_writable(*args)

    async def send(*args: Any) -> int:
        try:
            sent = await real_send(*args)
        except BaseException as exc:
            calls["ended"].append(type(exc).__name__)
            raise
        calls["ended"].append(sent)
        return sent

    monkeypatch.setattr(sendfile.os, "sendfile", counting_sendfile)
    monkeypatch.setattr(sendfile.os, "dup", dup)
    monkeypatch.setattr(sendfile.os, "close", close)
    monkeypatch.setattr(sendfile, "_writable", writable)
    monkeypatch.setattr(sendfile, "_sendfile", send)
    return calls


def test_whole_versions_go_by_sendfile_and_keep_the_connection(
    server: LiveServer, stored: dict[str, Any], sendfile_calls: dict[str, list]
) -> None:
    """The body bypasses tornado, yet tornado's books balance: the connection stays open for
    the next request, which gets the same bytes."""
    with open(stored["path"], "rb") as fh:
        expected = fh.read()
    connection = _raw_get(server, stored["token"], "big")
    first = connection.getresponse()
    assert first.status == 200 and first.read() == expected
    assert first.getheader("Connection") != "close"
    sock = connection.sock
    second = _raw_get(server, stored["token"], "big", connection).getresponse()
    assert connection.sock is sock  # the same TCP connection, not a reconnect
    assert second.status == 200 and second.read() == expected
    connection.close()
    assert sum(sendfile_calls["sent"]) == 2 * len(expected)
    assert sendfile_calls["ended"] == [len(expected)] * 2
    assert set(sendfile_calls["dup"]) <= set(sendfile_calls["closed"])


def test_storage_without_a_descriptor_is_copied_alike(
    server: LiveServer, stored: dict[str, Any], sendfile_calls: dict[str, list], monkeypatch
) -> None:
    from astralytiq_jupyter.server_extension import sendfile

    monkeypatch.setattr(sendfile, "_file_descriptor", lambda fh: None)
    monkeypatch.setattr(sendfile, "CHUNK", 100_000)  # several chunks
    response = _get(server, stored)
    with open(stored["path"], "rb") as fh:
        assert response.status_code == 200 and response.content == fh.read()
    assert sendfile_calls["sent"] == [] and sendfile_calls["dup"] == []


def _incompressible(rows: int) -> pd.DataFrame:
    return pd.DataFrame({"x": np.random.default_rng(5).random(rows)})


def test_a_client_gone_mid_download_ends_the_send(
    server: LiveServer, stored: dict[str, Any], sendfile_calls: dict[str, list]
) -> None:
    """16 MB, more than the socket buffers hold, so the send waits for the client; the
    client reads a little and hangs up: the send ends, its descriptor is closed, and the
    server goes on serving."""
    server.store.datasets.save(stored["admin"], _incompressible(2_000_000), "wide")
    connection = _raw_get(server, stored["token"], "wide")
    connection.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    response = connection.getresponse()
    assert response.status == 200 and len(response.read(65536)) == 65536
    connection.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    connection.close()  # a reset, as a killed client's
    deadline = time.monotonic() + 20
    while not sendfile_calls["ended"] and time.monotonic() < deadline:
        time.sleep(0.05)
    assert sendfile_calls["ended"] == ["StreamClosedError"]
    assert sendfile_calls["waits"]  # it did wait for the slow client
    assert set(sendfile_calls["dup"]) <= set(sendfile_calls["closed"])
    assert _get(server, stored).status_code == 200


@pytest.mark.parametrize("way", ["sendfile", "copy"])
def test_a_stored_file_shorter_than_recorded_cuts_the_connection(
    server: LiveServer,
    stored: dict[str, Any],
    sendfile_calls: dict[str, list],
    monkeypatch: pytest.MonkeyPatch,
    way: str,
) -> None:
    """The client must not wait for bytes that never come, nor take a short body as whole,
    whichever way the body goes."""
    from astralytiq_jupyter.server_extension import sendfile

    if way == "copy":
        monkeypatch.setattr(sendfile, "_file_descriptor", lambda fh: None)
    version = server.store.datasets.save(stored["admin"], _incompressible(1000), f"cut-{way}")
    path = server.store.storage.path(
        server.store.datasets.storage_key(stored["admin"], version.ref)
    )
    with open(path, "r+b") as fh:
        fh.truncate(version.size_bytes // 2)
    response = _raw_get(server, stored["token"], f"cut-{way}").getresponse()
    assert response.status == 200
    with pytest.raises(http.client.IncompleteRead):
        response.read()
    expected_sends = [version.size_bytes // 2] if way == "sendfile" else []
    assert sendfile_calls["ended"] == expected_sends
    assert _get(server, stored).status_code == 200


@pytest.mark.parametrize("fmt", ["parquet", "arrow"])
def test_columns_and_limit_stream_batch_by_batch(
    server: LiveServer, stored: dict[str, Any], fmt: str
) -> None:
    limit = STREAM_BATCH_ROWS + 10
    response = _get(server, stored, format=fmt, columns="word,stamp,n", limit=limit)
    assert response.status_code == 200 and response.headers["X-AstralytiQ-Rows"] == str(limit)
    assert "Content-Length" not in response.headers  # chunked: sent as it is encoded
    if fmt == "parquet":
        parquet = pq.ParquetFile(io.BytesIO(response.content))
        assert parquet.metadata.num_row_groups == 2  # one row group per batch
        table = parquet.read()
    else:
        table = ipc.open_stream(pa.BufferReader(response.content)).read_all()
    expected = stored["frame"][["word", "stamp", "n"]].head(limit)
    pd.testing.assert_frame_equal(table.to_pandas(), expected)


def test_every_row_through_arrow(server: LiveServer, stored: dict[str, Any]) -> None:
    response = _get(server, stored, format="arrow")
    table = ipc.open_stream(pa.BufferReader(response.content)).read_all()
    pd.testing.assert_frame_equal(table.to_pandas(), stored["frame"])


def test_csv_matches_the_whole_table_rendering(server: LiveServer, stored: dict[str, Any]) -> None:
    """Batch by batch, yet byte for byte what pandas writes for the whole table: formulas
    escaped, and each time column formatted alike in every batch."""
    response = _get(server, stored, format="csv")
    assert response.status_code == 200
    assert response.headers["Content-Disposition"] == 'attachment; filename="big.csv"'
    text = response.content.decode()
    assert text == _whole_csv(stored["frame"])
    lines = text.splitlines()
    assert lines[1].split(",")[4:7] == [
        "2021-03-01",
        "2021-03-01 00:00:00",
        "2022-01-01 00:00:00.000",
    ]
    assert "'=SUM(A1)" in text and "'=bad" in text and "ok=fine" in text
    limited = _get(server, stored, format="csv", limit=3, columns="word,day").content.decode()
    assert limited == _whole_csv(stored["frame"][["word", "day"]].head(3))


def test_zero_rows_still_carry_the_schema(server: LiveServer, stored: dict[str, Any]) -> None:
    parquet = pq.read_table(io.BytesIO(_get(server, stored, limit=0).content))
    assert parquet.num_rows == 0 and parquet.schema.names == list(stored["frame"].columns)
    arrow = _get(server, stored, format="arrow", limit=0, columns="n").content
    assert ipc.open_stream(pa.BufferReader(arrow)).read_all().schema.names == ["n"]
    csv = _get(server, stored, format="csv", limit=0, columns="word,n").content
    assert csv.decode().splitlines() == ["word,n"]


def test_bad_options_are_refused_before_any_byte(
    server: LiveServer, stored: dict[str, Any]
) -> None:
    for params in ({"columns": "n,ghost"}, {"limit": "-1"}, {"format": "xlsx"}):
        response = _get(server, stored, **params)
        assert response.status_code == 400, params
        assert response.json()["error"] == "invalid"


def _long(rows: int) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "n": np.arange(rows),
            "x": np.random.default_rng(1).normal(size=rows),
            "at": pd.Timestamp("2020-01-01") + pd.to_timedelta(np.arange(rows), unit="s"),
        }
    )


def _download_peak(server: LiveServer, token: str, ref: str, fmt: str, columns: str) -> int:
    """Most bytes Arrow had allocated beyond the start while the download ran."""
    peak, done = [0], threading.Event()
    start = pa.total_allocated_bytes()

    def sample() -> None:
        while not done.is_set():
            peak[0] = max(peak[0], pa.total_allocated_bytes() - start)
            time.sleep(0.0002)

    sampler = threading.Thread(target=sample)
    sampler.start()
    try:
        url, params = server.api(f"/datasets/{ref}/data"), {"format": fmt, "columns": columns}
        with server.session(token).get(url, params=params, stream=True, timeout=120) as response:
            assert response.status_code == 200
            assert sum(len(chunk) for chunk in response.iter_content(1 << 16)) > 0
    finally:
        done.set()
        sampler.join()
    return peak[0]


def test_server_memory_stays_bounded(server: LiveServer, stored: dict[str, Any]) -> None:
    """A version five times longer takes no more server memory to download: about a batch
    is alive at a time, never the table."""
    sizes = {"short": 3 * STREAM_BATCH_ROWS, "long": 12 * STREAM_BATCH_ROWS}
    refs, table_bytes = {}, {}
    for name, rows in sizes.items():
        frame = _long(rows)
        refs[name] = server.store.datasets.save(stored["admin"], frame, name).ref
        table_bytes[name] = pa.Table.from_pandas(frame).nbytes
    # CSV is slow to write (pandas formats every float), so it gets fewer columns.
    for fmt, columns in (("arrow", "n,x,at"), ("parquet", "n,x,at"), ("csv", "n,at")):
        short, long = (
            _download_peak(server, stored["token"], refs[name], fmt, columns) for name in sizes
        )
        assert long < 1.5 * short + (1 << 20), (fmt, short, long)
        assert long < table_bytes["long"] / 2, (fmt, long, table_bytes["long"])


def test_stream_service_batches_and_limit(server: LiveServer, stored: dict[str, Any]) -> None:
    admin: Principal = stored["admin"]
    with server.store.datasets.stream(admin, "big", columns=["n"], limit=25, batch_size=10) as s:
        sizes = [batch.num_rows for batch in s]
        assert (s.rows, s.schema.names) == (25, ["n"])
    assert sizes == [10, 10, 5]
    whole = server.store.datasets.stream(admin, "big@1", batch_size=STREAM_BATCH_ROWS)
    assert whole.rows == ROWS and len(list(whole)) == 3


def test_wide_versions_stream_in_smaller_batches(
    server: LiveServer, stored: dict[str, Any]
) -> None:
    """Batches are sized in bytes, not only rows: 300 columns give short batches."""
    wide = pd.DataFrame(np.random.default_rng(2).normal(size=(8_000, 300))).add_prefix("c")
    server.store.datasets.save(stored["admin"], wide, "wide")
    with server.store.datasets.stream(stored["admin"], "wide") as stream:
        batches = list(stream)
    assert sum(b.num_rows for b in batches) == 8_000 and len(batches) > 1
    assert max(b.nbytes for b in batches) <= 1.25 * STREAM_BATCH_BYTES
