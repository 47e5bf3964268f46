"""Byte storage for dataset versions and model artifacts.

Keys are built only from server-generated ids (``{tenant_id}/datasets/{dataset_id}/{n}.parquet``),
never from user-supplied names, and are validated before any filesystem call. Writes go to a
temporary file beside the final one, are fsynced, and are renamed into place only when the
caller commits; a SHA-256 of the exact bytes is computed while writing.
"""

from __future__ import annotations

import abc
import contextlib
import hashlib
import os
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import IO, Any

import fsspec
from fsspec.implementations.local import LocalFileSystem

from .errors import Invalid
from .models import new_id

_ID = r"[0-9a-f]{32}"
_KEY = re.compile(
    rf"^{_ID}/(datasets|models|compiled)/{_ID}/[1-9][0-9]{{0,9}}\.(parquet|skops|onnx)$"
)
_TEMP = re.compile(rf"^{_ID}/(datasets|models|compiled)/{_ID}/\.tmp-{_ID}$")
_ANY_ID = re.compile(rf"^{_ID}$")

EXTENSIONS = {"datasets": "parquet", "models": "skops", "compiled": "onnx"}


def object_key(tenant_id: str, kind: str, object_id: str, version: int) -> str:
    """The storage key of one immutable version; raises if any part is not server-made."""
    if kind not in EXTENSIONS:
        raise ValueError(f"unknown storage kind {kind!r}")
    key = f"{tenant_id}/{kind}/{object_id}/{int(version)}.{EXTENSIONS[kind]}"
    _check_key(key)
    return key


def _check_key(key: str) -> None:
    if not (_KEY.match(key) or _TEMP.match(key)):
        raise Invalid(f"Refusing storage key {key!r}: not a server-generated path.")


class WriteOnlyFile(abc.ABC):
    """The file protocol pyarrow's writers need (``write``/``tell``/``flush``/``closed``)
    for sinks that are not files: subclasses implement :meth:`_write`."""

    def __init__(self) -> None:
        self.size = 0
        self.closed = False

    def write(self, data: Any) -> int:
        view = memoryview(data).cast("B")
        self._write(view)
        self.size += len(view)
        return len(view)

    @abc.abstractmethod
    def _write(self, view: memoryview) -> None:
        """Take the bytes of one write."""

    def tell(self) -> int:
        return self.size

    def flush(self) -> None:  # noqa: B027 - a real no-op: nothing is buffered here
        """Nothing is buffered here."""

    def writable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return False

    def readable(self) -> bool:
        return False

    def close(self) -> None:
        # The owner of any underlying file closes it; pyarrow may call close() on us.
        self.closed = True


class HashingWriter(WriteOnlyFile):
    """Writes through to ``raw`` while hashing and counting what passes."""

    def __init__(self, raw: IO[bytes]) -> None:
        super().__init__()
        self._raw = raw
        self._hash = hashlib.sha256()

    def _write(self, view: memoryview) -> None:
        self._hash.update(view)
        self._raw.write(view)

    def flush(self) -> None:
        self._raw.flush()

    @property
    def sha256(self) -> str:
        return self._hash.hexdigest()


@dataclass
class StagedObject:
    """A fully written, fsynced temporary file waiting to be renamed to its final key."""

    storage: Storage
    temp_key: str
    sha256: str
    size: int
    final_key: str | None = None

    def commit(self, key: str) -> None:
        """Rename into place. An existing file at ``key`` is an orphan of a crashed writer
        (no committed row can point at it while the caller holds the version lock)."""
        self.storage._rename(self.temp_key, key)
        self.final_key = key

    def discard(self) -> None:
        """Remove whatever this object left behind (temp or committed file)."""
        for key in (self.temp_key, self.final_key):
            if key:
                self.storage.remove(key)


class Storage:
    """A local directory or any fsspec URL holding the tenant-partitioned object tree."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.fs, root = fsspec.core.url_to_fs(url)
        self.root = root.rstrip("/")
        self.local = isinstance(self.fs, LocalFileSystem)
        if self.local:
            os.makedirs(self.root, exist_ok=True)

    def path(self, key: str) -> str:
        """The filesystem path of ``key`` (for pyarrow's dataset/parquet readers)."""
        _check_key(key)
        return f"{self.root}/{key}"

    def open(self, key: str, mode: str = "rb") -> IO[bytes]:
        return self.fs.open(self.path(key), mode)

    def read_bytes(self, key: str) -> bytes:
        with self.open(key) as fh:
            return fh.read()

    def exists(self, key: str) -> bool:
        return self.fs.exists(self.path(key))

    def size(self, key: str) -> int:
        return int(self.fs.size(self.path(key)))

    def remove(self, key: str) -> None:
        path = self.path(key)
        with contextlib.suppress(FileNotFoundError):
            self.fs.rm_file(path)

    def stage(self, tenant_id: str, kind: str, object_id: str) -> _Stager:
        """Context manager yielding a :class:`HashingWriter` on a temp file; on clean exit
        the bytes are flushed and fsynced and ``stager.result`` is a :class:`StagedObject`.
        On error the temp file is removed."""
        if kind not in EXTENSIONS or not (_ANY_ID.match(tenant_id) and _ANY_ID.match(object_id)):
            raise Invalid("Refusing to stage an object outside the server-generated layout.")
        return _Stager(self, f"{tenant_id}/{kind}/{object_id}/.tmp-{new_id()}")

    def put_bytes(self, tenant_id: str, kind: str, object_id: str, data: bytes) -> StagedObject:
        with self.stage(tenant_id, kind, object_id) as stager:
            stager.writer.write(data)
        assert stager.result is not None
        return stager.result

    def _rename(self, src: str, dst: str) -> None:
        src_path, dst_path = self.path(src), self.path(dst)
        if self.local:
            # The target directory differs when another writer created the dataset first.
            os.makedirs(os.path.dirname(dst_path), exist_ok=True)
            os.replace(src_path, dst_path)
            _fsync_dir(os.path.dirname(dst_path))
        else:
            self.fs.mv(src_path, dst_path)

    def iter_objects(self) -> Iterator[tuple[str, float]]:
        """Every object and temp file under the root as ``(key, mtime)``."""
        if not self.fs.exists(self.root):
            return
        for path, info in self.fs.find(self.root, detail=True).items():
            key = path[len(self.root) + 1 :] if path.startswith(self.root) else path
            if _KEY.match(key) or _TEMP.match(key):
                yield key, _mtime(info)


class _Stager:
    def __init__(self, storage: Storage, temp_key: str) -> None:
        self.storage = storage
        self.temp_key = temp_key
        self.result: StagedObject | None = None
        self._raw: IO[bytes] | None = None
        self.writer: HashingWriter

    def __enter__(self) -> _Stager:
        path = self.storage.path(self.temp_key)
        self.storage.fs.makedirs(path.rsplit("/", 1)[0], exist_ok=True)
        self._raw = self.storage.fs.open(path, "wb")
        self.writer = HashingWriter(self._raw)
        return self

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        raw = self._raw
        assert raw is not None
        try:
            if exc_type is None:
                raw.flush()
                if self.storage.local:
                    os.fsync(raw.fileno())
        finally:
            raw.close()
            if exc_type is not None:
                self.storage.remove(self.temp_key)
        if exc_type is None:
            self.result = StagedObject(
                self.storage, self.temp_key, self.writer.sha256, self.writer.size
            )


def _fsync_dir(path: str) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _mtime(info: dict[str, Any]) -> float:
    for field in ("mtime", "LastModified", "last_modified", "created"):
        value = info.get(field)
        if value is None:
            continue
        if hasattr(value, "timestamp"):
            return float(value.timestamp())
        return float(value)
    return time.time()
