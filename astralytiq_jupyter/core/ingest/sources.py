"""Byte sources of ingest: files, uploads and downloads as re-readable streams, metered.

A CSV read may restart (a type widened, another reader chosen), so every source can be
opened again from its start: paths are reopened, seekable file objects rewound, and streams
that can be read only once (pipes, non-seekable uploads) are first spooled to a temporary
file. The meter counts the bytes read and enforces ``max_bytes`` as they arrive.
"""

from __future__ import annotations

import contextlib
import io
import os
import tempfile
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import IO, Any

from ..errors import Invalid, QuotaExceeded

Progress = Callable[[int, "int | None"], None]


def _mb(n: int) -> str:
    value = n / 1_000_000
    return f"{value:,.1f} MB" if value >= 1 else f"{value:.3g} MB"


def _quota(limit: int) -> QuotaExceeded:
    return QuotaExceeded(
        f"The data is larger than the {_mb(limit)} limit for one import. Import a smaller "
        "file or ask an administrator to raise the limit.",
        quota="upload_bytes",
        limit=limit,
    )


class _Meter:
    """Counts bytes consumed from a source and enforces ``max_bytes`` as they arrive."""

    def __init__(self, limit: int | None) -> None:
        self.limit = limit
        self.count = 0

    def add(self, n: int) -> None:
        self.count += n
        if self.limit is not None and self.count > self.limit:
            raise _quota(self.limit)


class _Reader(io.RawIOBase):
    """A read-only view of a binary stream starting at ``base``; never closes the stream.

    Seeking is relative to ``base`` so random-access readers (Parquet, Excel) see a file that
    starts at the caller's position. An optional meter counts every byte read.

    On a seekable stream each reader keeps its own position and reads under ``lock``: an
    upload is one file object that every pass of a restarted read opens again, and a pass
    that failed may still have a read in flight (pyarrow reads ahead on its own threads
    and can return the error first), which must not move the next pass's position.
    """

    def __init__(
        self,
        raw: IO[bytes],
        base: int = 0,
        meter: _Meter | None = None,
        watch: _QuoteWatch | None = None,
        lock: threading.Lock | None = None,
    ) -> None:
        super().__init__()
        self._raw = raw
        self._base = base
        self._meter = meter
        self._watch = watch
        self._lock = lock if lock is not None else threading.Lock()
        self._positioned = bool(raw.seekable())
        self._pos = raw.tell() - base if self._positioned else 0

    def _read_raw(self, read: Callable[[], int | bytes]) -> int | bytes:
        with self._lock:
            if self._positioned:
                self._raw.seek(self._base + self._pos)
            got = read()
            size = got if isinstance(got, int) else len(got)
            self._pos += size
            return got

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return bool(self._raw.seekable())

    def readinto(self, buffer: Any) -> int:
        view = memoryview(buffer).cast("B")
        reader = getattr(self._raw, "readinto", None)

        def read_into() -> int:
            if reader is not None:
                return int(reader(view) or 0)
            data = self._raw.read(len(view))
            view[: len(data)] = data
            return len(data)

        n = int(self._read_raw(read_into))
        if self._meter is not None:
            self._meter.add(n)
        return n

    def read(self, size: int = -1) -> bytes:
        whole = size is None or size < 0
        data = self._read_raw(lambda: self._raw.read() if whole else self._raw.read(size))
        assert isinstance(data, bytes)
        if self._meter is not None:
            self._meter.add(len(data))
        if self._watch is not None:
            self._watch.feed(data)
        return data

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        with self._lock:
            if whence == io.SEEK_CUR:
                offset, whence = self._pos + offset, io.SEEK_SET
            if whence == io.SEEK_SET:
                offset += self._base
            self._pos = self._raw.seek(offset, whence) - self._base
            return self._pos

    def tell(self) -> int:
        return self._pos


class _QuoteWatch:
    """Where the last ``"`` of a stream is and which byte precedes it.

    pyarrow accepts a quoted value that is still open at the end of the data and silently
    puts everything after the quote into it; a last quote that opens a field (after a
    delimiter or a line break) means exactly that: the file was cut inside a quoted value.
    """

    def __init__(self) -> None:
        self.offset = 0
        self.last = -1
        self.before: int | None = None
        self._tail: int | None = None

    def feed(self, data: bytes | bytearray, start: int = 0, end: int | None = None) -> None:
        """Account for ``data[start:end]``, the next bytes of the stream."""
        end = len(data) if end is None else end
        i = data.rfind(b'"', start, end)
        if i >= 0:
            self.last = self.offset + i - start
            self.before = data[i - 1] if i > start else self._tail
        if end > start:
            self._tail = data[end - 1]
        self.offset += end - start

    def unterminated(self, delimiter: str) -> bool:
        return self.last >= 0 and (self.before is None or self.before in (ord(delimiter), 10, 13))


@dataclass
class _ByteSource:
    """Re-readable bytes: ``open()`` returns a fresh reader positioned at the start."""

    kind: str
    detail: str
    name: str | None
    size: int | None
    _opener: Callable[[], tuple[IO[bytes], int, bool]]
    _cleanup: list[Callable[[], None]] = field(default_factory=list)
    # Serialises the readers of a stream that every open() shares (see _Reader).
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @contextlib.contextmanager
    def open(
        self, meter: _Meter | None = None, watch: _QuoteWatch | None = None
    ) -> Iterator[_Reader]:
        raw, base, owned = self._opener()
        try:
            with self._lock:
                if raw.seekable():
                    raw.seek(base)
                reader = _Reader(raw, base, meter, watch, self._lock)
            yield reader
        finally:
            if owned:
                raw.close()

    def close(self) -> None:
        for fn in self._cleanup:
            fn()


def _path_source(path: str | os.PathLike[str], detail: str, meter: _Meter) -> _ByteSource:
    fspath = os.fspath(path)
    try:
        stat = os.stat(fspath)
    except FileNotFoundError:
        raise Invalid(f"File not found: {fspath}", path=fspath) from None
    except OSError as exc:
        raise Invalid(f"Cannot read {fspath}: {exc.strerror}.", path=fspath) from None
    if os.path.isdir(fspath):
        raise Invalid(f"{fspath} is a folder, not a file.", path=fspath)

    def opener() -> tuple[IO[bytes], int, bool]:
        try:
            return open(fspath, "rb"), 0, True  # noqa: SIM115 - closed by _ByteSource.open
        except OSError as exc:
            raise Invalid(f"Cannot read {fspath}: {exc.strerror}.", path=fspath) from None

    name = os.path.basename(fspath)
    if not os.path.isfile(fspath):
        # A pipe or device can be read only once; keep a copy to re-read for restarts.
        raw, _, _ = opener()
        with raw:
            src = _fileobj_source(raw, name, meter)
        src.kind, src.detail = "file", detail
        return src
    return _ByteSource("file", detail, name, stat.st_size, opener)


def _spool(stream: IO[bytes], meter: _Meter) -> IO[bytes]:
    spool = tempfile.TemporaryFile(prefix="astralytiq-ingest-")  # noqa: SIM115 - returned
    try:
        while True:
            chunk = stream.read(1024 * 1024)
            if not chunk:
                break
            meter.add(len(chunk))
            spool.write(chunk)
    except BaseException:
        spool.close()
        raise
    return spool


def _fileobj_source(obj: IO[bytes], name: str | None, meter: _Meter) -> _ByteSource:
    seekable = False
    with contextlib.suppress(AttributeError, OSError, ValueError):
        seekable = bool(obj.seekable())
    if seekable:
        base = obj.tell()
        size = obj.seek(0, io.SEEK_END) - base
        obj.seek(base)
        return _ByteSource("upload", name or "upload", name, size, lambda: (obj, base, False))
    spool = _spool(obj, meter)
    size = spool.tell()
    src = _ByteSource("upload", name or "upload", name, size, lambda: (spool, 0, False))
    src._cleanup.append(spool.close)
    return src


def _read_head(src: _ByteSource, n: int) -> tuple[bytes, bool]:
    """Up to ``n`` bytes from the start, and whether that is the whole source."""
    with src.open() as f:
        parts: list[bytes] = []
        remaining = n + 1
        while remaining > 0:
            chunk = f.read(remaining)
            if not chunk:
                break
            parts.append(chunk)
            remaining -= len(chunk)
    data = b"".join(parts)
    return data[:n], len(data) <= n


def _clean(message: str) -> str:
    return message.strip().replace("\n", " ")[:300]


def _bytes_left(size: int, meter: _Meter) -> Callable[[], int]:
    return lambda: size - meter.count


def _ticker(progress: Progress | None, meter: _Meter, total: int | None) -> Callable[[], None]:
    if progress is None:
        return lambda: None
    return lambda: progress(meter.count, total)
