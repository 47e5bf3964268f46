"""Byte storage for dataset versions and model artifacts.

Keys are built only from server-generated ids, never from user-supplied names, and are
validated before any filesystem call. Every write has a key of its own,
``{tenant_id}/datasets/{dataset_id}/{n}-{write_id}.parquet``, so a file left by a crashed
writer never sits where a later version's file goes (stores written before keep their
``{n}.parquet`` keys). Writes go to a temporary file beside the final one, are fsynced,
and are renamed into place only when the caller commits; a SHA-256 of the exact bytes is
computed while writing. On a local disk a writer holds an advisory lock on its temporary
file until it is renamed, so the sweeper never removes a write in flight.
"""

from __future__ import annotations

import abc
import contextlib
import hashlib
import json
import os
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import IO, Any

import fsspec
from fsspec.implementations.local import LocalFileSystem

from .errors import Conflict, FileMissing, Invalid
from .models import new_id

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows: only --min-age protects writes in flight
    fcntl = None  # type: ignore[assignment]

_ID = r"[0-9a-f]{32}"
_KINDS = r"(datasets|models|compiled)"
_KEY = re.compile(rf"^({_ID})/{_KINDS}/{_ID}/[1-9][0-9]{{0,9}}(-{_ID})?\.(parquet|skops|onnx)$")
_TEMP = re.compile(rf"^({_ID})/{_KINDS}/{_ID}/\.tmp-{_ID}$")
_ANY_ID = re.compile(rf"^{_ID}$")
# Folders of the layout (tenant, kind, object): the only ones the sweeper removes when empty.
_LAYOUT_DIR = re.compile(rf"^{_ID}(/{_KINDS}(/{_ID})?)?$")
#: The file in the storage root naming the store it belongs to (see ``core.identity``).
MARKER = ".astralytiq-store.json"
_ATTEMPTS = 5
_VANISHED = (
    "The upload's temporary file was removed before it could be stored (by a sweep whose "
    "--min-age is shorter than the upload took?); nothing was stored, try again."
)

EXTENSIONS = {"datasets": "parquet", "models": "skops", "compiled": "onnx"}


def object_key(tenant_id: str, kind: str, object_id: str, version: int, write_id: str) -> str:
    """The storage key of one write of one version; raises if any part is not server-made."""
    if kind not in EXTENSIONS:
        raise ValueError(f"unknown storage kind {kind!r}")
    key = f"{tenant_id}/{kind}/{object_id}/{int(version)}-{write_id}.{EXTENSIONS[kind]}"
    if not _KEY.match(key):
        raise Invalid(f"Refusing storage key {key!r}: not a server-generated path.")
    return key


def is_temp(key: str) -> bool:
    """Whether ``key`` is a temporary file (never referenced by a version)."""
    return bool(_TEMP.match(key))


def key_tenant(key: str) -> str:
    """The tenant id a valid key (object or temporary) lives under."""
    found = _KEY.match(key) or _TEMP.match(key)
    if not found:
        raise Invalid(f"Refusing storage key {key!r}: not a server-generated path.")
    return found.group(1)


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
    tenant_id: str
    kind: str
    write_id: str
    final_key: str | None = None
    _lock_fd: int | None = field(default=None, repr=False)

    def commit(self, object_id: str, version: int) -> str:
        """Rename into place as ``version`` of ``object_id``; returns the key. Call it in the
        transaction that records the key, with the tenant locked: the sweeper checks a file
        against the database under the same lock, so it never sees this one placed but not
        yet recorded."""
        key = object_key(self.tenant_id, self.kind, object_id, version, self.write_id)
        try:
            self.storage._rename(self.temp_key, key)
        finally:
            self._unlock()
        self.final_key = key
        return key

    def discard(self) -> None:
        """Remove whatever this object left behind (temp or committed file)."""
        for key in (self.temp_key, self.final_key):
            if key:
                self.storage.remove(key)
        self._unlock()

    def _unlock(self) -> None:
        if self._lock_fd is not None:
            os.close(self._lock_fd)
            self._lock_fd = None


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

    def open(self, key: str, mode: str = "rb", *, label: str | None = None) -> IO[bytes]:
        """Open ``key``; a missing file raises :class:`FileMissing` naming ``label`` (e.g.
        ``"dataset sales@3"``) when given."""
        try:
            return self.fs.open(self.path(key), mode)
        except FileNotFoundError:
            if label is None or "r" not in mode:
                raise
            raise FileMissing(
                f"The stored file of {label} is missing; run `astralytiq verify` to check "
                "the store.",
                key=key,
            ) from None

    def read_bytes(self, key: str, *, label: str | None = None) -> bytes:
        with self.open(key, label=label) as fh:
            return fh.read()

    def exists(self, key: str) -> bool:
        return self.fs.exists(self.path(key))

    def size(self, key: str) -> int:
        return int(self.fs.size(self.path(key)))

    def hash(self, key: str, chunk: int = 1 << 22) -> tuple[int, str]:
        """Size and SHA-256 of the stored bytes of ``key``, read in chunks."""
        digest, size = hashlib.sha256(), 0
        with self.open(key) as fh:
            while block := fh.read(chunk):
                digest.update(block)
                size += len(block)
        return size, digest.hexdigest()

    def remove(self, key: str) -> None:
        path = self.path(key)
        with contextlib.suppress(FileNotFoundError):
            self.fs.rm_file(path)

    def prune(self, key: str) -> None:
        """Remove the folder of ``key``'s object if it is empty (local disks), e.g. after
        the last version of a dataset was deleted."""
        if self.local:
            with contextlib.suppress(OSError):
                os.rmdir(os.path.dirname(self.path(key)))

    def remove_temp(self, key: str) -> bool:
        """Remove the temporary file ``key`` unless a live writer still holds it (local
        disks: its lock); returns whether it was removed."""
        if not is_temp(key):
            raise Invalid(f"{key!r} is not a temporary file.")
        path = self.path(key)
        if not self.local or fcntl is None:
            self.remove(key)
            return True
        try:
            fd = os.open(path, os.O_RDONLY)
        except FileNotFoundError:
            return False
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                return False  # a writer is still at work on it
            # Unlinked while we hold the lock: a writer that opened it meanwhile sees, once it
            # has its lock, that the name no longer leads to its file, and starts over.
            with contextlib.suppress(FileNotFoundError):
                os.unlink(path)
            return True
        finally:
            os.close(fd)

    def prune_empty_dirs(self) -> list[str]:
        """Remove the empty folders of the layout (tenant, kind, object) on a local disk;
        object stores have no folders of their own. Returns them, relative to the root.
        A writer that loses its folder this way makes it again (see :class:`_Stager`)."""
        if not self.local or not os.path.isdir(self.root):
            return []
        removed = []
        for dirpath, _dirs, _files in os.walk(self.root, topdown=False):
            relative = os.path.relpath(dirpath, self.root).replace(os.sep, "/")
            if not _LAYOUT_DIR.match(relative):
                continue
            try:
                os.rmdir(dirpath)  # atomic: fails if anything is (or was just put) inside
            except OSError:
                continue
            removed.append(relative)
        return removed

    def stage(self, tenant_id: str, kind: str, object_id: str) -> _Stager:
        """Context manager yielding a :class:`HashingWriter` on a temp file; on clean exit
        the bytes are flushed and fsynced and ``stager.result`` is a :class:`StagedObject`.
        On error the temp file is removed."""
        if kind not in EXTENSIONS or not (_ANY_ID.match(tenant_id) and _ANY_ID.match(object_id)):
            raise Invalid("Refusing to stage an object outside the server-generated layout.")
        return _Stager(self, tenant_id, kind, object_id)

    def put_bytes(self, tenant_id: str, kind: str, object_id: str, data: bytes) -> StagedObject:
        with self.stage(tenant_id, kind, object_id) as stager:
            stager.writer.write(data)
        assert stager.result is not None
        return stager.result

    def _rename(self, src: str, dst: str) -> None:
        src_path, dst_path = self.path(src), self.path(dst)
        if not self.local:
            if not self.fs.exists(src_path):
                raise Conflict(_VANISHED)
            self.fs.mv(src_path, dst_path)
            return
        for _ in range(_ATTEMPTS):
            # The target folder differs when another writer created the dataset first, and
            # a sweep may remove an empty one between these two calls.
            os.makedirs(os.path.dirname(dst_path), exist_ok=True)
            try:
                os.replace(src_path, dst_path)
                break
            except FileNotFoundError:
                if not os.path.exists(src_path):
                    raise Conflict(_VANISHED) from None
        else:
            raise Conflict(_VANISHED)
        _fsync_dir(os.path.dirname(dst_path))

    def iter_objects(self) -> Iterator[tuple[str, float]]:
        """Every object and temp file under the root as ``(key, mtime)``."""
        if not self.fs.exists(self.root):
            return
        for path, info in self.fs.find(self.root, detail=True).items():
            key = path[len(self.root) + 1 :] if path.startswith(self.root) else path
            if _KEY.match(key) or _TEMP.match(key):
                yield key, _mtime(info)

    # -- the store marker (see core.identity) -------------------------------------------
    def read_marker(self) -> dict[str, Any] | None:
        """The store marker in the root, or None if there is none."""
        try:
            with self.fs.open(f"{self.root}/{MARKER}", "rb") as fh:
                data = json.loads(fh.read() or b"null")
        except FileNotFoundError:
            return None
        except ValueError:
            data = None
        if not isinstance(data, dict) or not isinstance(data.get("store_id"), str):
            raise Invalid(
                f"The store marker {self.url.rstrip('/')}/{MARKER} is not readable; restore it "
                "or remove it to have it written again."
            )
        return data

    def write_marker(self, data: dict[str, Any]) -> None:
        """Write the store marker unless one exists (on a local disk atomically: of two
        processes adopting the storage at once, one marker wins and both read it)."""
        body = json.dumps(data, indent=1).encode()
        target = f"{self.root}/{MARKER}"
        if not self.local:
            if not self.fs.exists(target):
                with self.fs.open(target, "wb") as fh:
                    fh.write(body)
            return
        temp = f"{self.root}/.{MARKER}.{new_id()}"
        with open(temp, "wb") as fh:
            fh.write(body)
            fh.flush()
            os.fsync(fh.fileno())
        try:
            os.link(temp, target)  # fails if a marker exists: never replaces one
        except FileExistsError:
            pass
        finally:
            os.unlink(temp)
        _fsync_dir(self.root)


class _Stager:
    def __init__(self, storage: Storage, tenant_id: str, kind: str, object_id: str) -> None:
        self.storage = storage
        self.tenant_id = tenant_id
        self.kind = kind
        self.prefix = f"{tenant_id}/{kind}/{object_id}"
        self.write_id = new_id()
        self.temp_key = f"{self.prefix}/.tmp-{self.write_id}"
        self.result: StagedObject | None = None
        self._raw: IO[bytes] | None = None
        self._lock_fd: int | None = None
        self.writer: HashingWriter

    def __enter__(self) -> _Stager:
        storage = self.storage
        for _ in range(_ATTEMPTS):
            path = storage.path(self.temp_key)
            try:
                storage.fs.makedirs(path.rsplit("/", 1)[0], exist_ok=True)
                if storage.local and fcntl is not None:
                    self._lock_fd = _create_locked(path)
                    if self._lock_fd is None:  # swept between creation and lock
                        raise FileNotFoundError(path)
                self._raw = storage.fs.open(path, "wb")
                break
            except FileNotFoundError:
                # A sweep removed the (empty) folder or the new file: start over elsewhere.
                self._unlock()
                self.write_id = new_id()
                self.temp_key = f"{self.prefix}/.tmp-{self.write_id}"
        else:
            raise Conflict("Could not create a temporary file in the storage; try again.")
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
                self._unlock()
        if exc_type is None:
            self.result = StagedObject(
                self.storage,
                self.temp_key,
                self.writer.sha256,
                self.writer.size,
                tenant_id=self.tenant_id,
                kind=self.kind,
                write_id=self.write_id,
                _lock_fd=self._lock_fd,
            )
            self._lock_fd = None  # the staged object releases it

    def _unlock(self) -> None:
        if self._lock_fd is not None:
            os.close(self._lock_fd)
            self._lock_fd = None


def _create_locked(path: str) -> int | None:
    """Create ``path`` and hold an exclusive lock on it (released when the returned
    descriptor is closed, or the process dies); None if a sweeper removed it meanwhile."""
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        if os.fstat(fd).st_ino == os.stat(path).st_ino:
            return fd
    except FileNotFoundError:
        pass
    except BaseException:
        os.close(fd)
        raise
    os.close(fd)
    return None


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
    for name in ("mtime", "LastModified", "last_modified", "created"):
        value = info.get(name)
        if value is None:
            continue
        if hasattr(value, "timestamp"):
            return float(value.timestamp())
        return float(value)
    return time.time()
