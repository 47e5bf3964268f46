"""Byte sources: every open() of an upload reads the same bytes, whatever else reads it."""

from __future__ import annotations

import io
import tempfile
import threading

from astralytiq_jupyter.core.ingest.sources import _fileobj_source, _Meter

DATA = bytes(range(256)) * 4096  # 1 MiB, every offset recognisable


def _upload() -> tempfile.SpooledTemporaryFile[bytes]:
    spool = tempfile.SpooledTemporaryFile(max_size=1024)  # noqa: SIM115 - returned
    spool.write(b"prefix")
    spool.write(DATA)
    spool.seek(len(b"prefix"))  # the source starts where the caller's position is
    return spool


def test_two_opens_of_one_upload_read_independently() -> None:
    """A restarted pass opens the upload again while a failed pass may still read it: the
    two readers share one file object, so each must keep its own position."""
    src = _fileobj_source(_upload(), "u.csv", _Meter(None))
    with src.open() as first, src.open() as second:
        parts_first, parts_second = [], []
        for _ in range(64):
            parts_first.append(first.read(10_000))
            parts_second.append(second.read(7_000))
        assert first.tell() == 640_000 and second.tell() == 448_000
        parts_first.append(first.read())
        parts_second.append(second.read())
    assert b"".join(parts_first) == DATA
    assert b"".join(parts_second) == DATA


def test_readinto_and_seek_keep_the_readers_apart() -> None:
    src = _fileobj_source(_upload(), "u.csv", _Meter(None))
    with src.open() as first, src.open() as second:
        buf = bytearray(300)
        assert first.readinto(buf) == 300 and bytes(buf) == DATA[:300]
        assert second.seek(1000) == 1000
        assert first.readinto(buf) == 300 and bytes(buf) == DATA[300:600]
        assert second.seek(-10, io.SEEK_CUR) == 990
        assert second.read(20) == DATA[990:1010]
        assert second.seek(-5, io.SEEK_END) == len(DATA) - 5
        assert second.read() == DATA[-5:]
        assert first.read(4) == DATA[600:604]


def test_concurrent_readers_on_threads_each_read_the_whole_upload() -> None:
    src = _fileobj_source(_upload(), "u.csv", _Meter(None))
    results: list[bytes] = []

    def read_all(chunk: int) -> None:
        with src.open() as reader:
            parts = []
            while block := reader.read(chunk):
                parts.append(block)
            results.append(b"".join(parts))

    threads = [threading.Thread(target=read_all, args=(n,)) for n in (4093, 8191, 65536)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results == [DATA] * 3


def test_the_meter_counts_each_readers_bytes() -> None:
    meter = _Meter(None)
    src = _fileobj_source(_upload(), "u.csv", meter)
    with src.open(meter) as reader:
        reader.read(1000)
        reader.readinto(bytearray(24))
    assert meter.count == 1024
