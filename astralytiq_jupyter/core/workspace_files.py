"""Which server-side files a server may read for its API callers: the workspace rule.

A path given to the server (an ingest ``url`` that is not http(s), a ``file://`` URL) is read
only when every one of these holds:

* the caller is a Jupyter user of that server (identified by jupyter_server: ``via`` is
  ``member`` or ``hub``), never a platform-token caller (``aqt_...``), whoever they are;
* after resolving symlinks, the file lies inside the workspace root (the Jupyter contents
  root); a relative path is relative to that root, never to the server's working directory;
* no part of it below the root is hidden (a name starting with ``.`` or carrying the hidden
  flag), unless hidden files are allowed, exactly as the contents manager's ``allow_hidden``;
* it is not inside a directory the server keeps for itself (Jupyter's runtime, config and
  data directories, the store's home, storage and database), even when that lies in the root;
* it is a regular file (no directory, FIFO, socket or device): checked with ``stat`` before
  it is opened, and again on the opened descriptor, which must be the very file checked.

Anything else is refused with :data:`REFUSED`, one message for every reason, so that an
answer never tells whether a file exists, is a folder, a pipe or hidden, and no refused file
is ever opened (so nothing of its content can reach an error message).

``core`` knows nothing of Jupyter: the server builds a :class:`WorkspaceFiles` with its
contents root and passes it in through ``StoreConfig.workspace_files``. A store without one
(the local Python API in a user's own kernel, the CLI) reads the user's own files as before.
"""

from __future__ import annotations

import os
import re
import stat
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any
from urllib.parse import unquote, urlsplit

from .errors import Invalid
from .permissions import Principal

__all__ = ["JUPYTER_CALLERS", "REFUSED", "WorkspaceFile", "WorkspaceFiles"]

REFUSED = (
    "This file cannot be imported: the server reads only regular, visible files inside the "
    "Jupyter workspace, and only for Jupyter users of this server. Give a path inside the "
    "workspace, upload the file, or use an http(s) URL."
)
#: ``Principal.via`` of callers identified by jupyter_server itself (token, password, hub).
JUPYTER_CALLERS = frozenset({"member", "hub"})
_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*)://")
_OPEN_FLAGS = (
    os.O_RDONLY
    | getattr(os, "O_NOFOLLOW", 0)  # the checked name must not have become a symlink since
    | getattr(os, "O_NONBLOCK", 0)  # opening a FIFO that slipped through must not block
    | getattr(os, "O_NOCTTY", 0)
    | getattr(os, "O_CLOEXEC", 0)
)


def _refused() -> Invalid:
    return Invalid(REFUSED)


@dataclass(frozen=True)
class WorkspaceFile:
    """A file the rule allowed: opened again for each pass of a read, and each time checked
    to be the same regular file (device and inode) that was allowed."""

    path: str  # resolved absolute path
    display: str  # the path relative to the workspace root, as recorded in the version
    size: int
    identity: tuple[int, int]

    @property
    def name(self) -> str:
        return os.path.basename(self.path)

    def open(self) -> IO[bytes]:
        try:
            fd = os.open(self.path, _OPEN_FLAGS)
        except (OSError, ValueError):
            raise _refused() from None
        try:
            st = os.fstat(fd)
            if not stat.S_ISREG(st.st_mode) or (st.st_dev, st.st_ino) != self.identity:
                raise _refused()
            os.set_blocking(fd, True)
            return os.fdopen(fd, "rb")
        except BaseException:
            os.close(fd)
            raise


class WorkspaceFiles:
    """The rule above for one server: its workspace ``root``, whether hidden files are
    allowed, and the directories it keeps for itself (``excluded``; those that contain the
    root are ignored, since they would refuse the whole workspace)."""

    def __init__(
        self,
        root: str | os.PathLike[str],
        *,
        allow_hidden: bool = False,
        excluded: Iterable[str | os.PathLike[str]] = (),
        enabled: bool = True,
    ) -> None:
        self.root = os.path.realpath(os.fspath(root))
        self._lexical_roots = {os.path.abspath(os.fspath(root)), self.root}
        self.allow_hidden = allow_hidden
        self.enabled = enabled
        kept = []
        for entry in excluded:
            path = os.path.realpath(os.fspath(entry))
            if not _inside(self.root, path):
                kept.append(path)
        self.excluded = tuple(sorted(set(kept)))

    def __repr__(self) -> str:
        return (
            f"WorkspaceFiles(root={self.root!r}, allow_hidden={self.allow_hidden}, "
            f"enabled={self.enabled})"
        )

    @staticmethod
    def names_a_file(source: Any) -> bool:
        """Whether ``source`` names a server-side file: a path or a ``file://`` URL (http(s)
        URLs and other schemes are the ingest's to handle)."""
        if isinstance(source, os.PathLike):
            return True
        if not isinstance(source, str):
            return False
        match = _SCHEME.match(source)
        return match is None or match.group(1).lower() == "file"

    def resolve(self, principal: Principal, source: str | os.PathLike[str]) -> WorkspaceFile:
        """The allowed file ``source`` names for ``principal``, else :class:`Invalid` with
        :data:`REFUSED` (whatever the reason)."""
        if not self.enabled or principal.via not in JUPYTER_CALLERS:
            raise _refused()
        try:
            found = self._check(_as_path(source))
        except (OSError, ValueError):
            found = None
        if found is None:
            raise _refused()
        return found

    def _check(self, given: str | None) -> WorkspaceFile | None:
        if given is None or not given or "\x00" in given:
            return None
        joined = os.path.join(self.root, given)  # an absolute ``given`` replaces the root
        requested = os.path.normpath(joined)
        resolved = os.path.realpath(joined)
        if resolved == self.root or not _inside(resolved, self.root):
            return None
        if any(_inside(resolved, d) for d in self.excluded):
            return None
        if not self.allow_hidden and (self._hidden(requested) or _is_hidden(resolved, self.root)):
            return None
        st = os.stat(resolved)  # never opens: a FIFO or device is refused unread
        if not stat.S_ISREG(st.st_mode):
            return None
        display = Path(os.path.relpath(resolved, self.root)).as_posix()
        return WorkspaceFile(resolved, display, st.st_size, (st.st_dev, st.st_ino))

    def _hidden(self, requested: str) -> bool:
        """The name as given is hidden below the root (e.g. a hidden symlink to a visible
        file), as the contents manager, which does not resolve symlinks, would see it."""
        for root in self._lexical_roots:
            if _inside(requested, root):
                return _is_hidden(requested, root)
        return False


def _as_path(source: str | os.PathLike[str]) -> str | None:
    text = os.fspath(source)
    if not isinstance(text, str):
        return None
    if _SCHEME.match(text) is None:
        return text
    parts = urlsplit(text)
    if parts.scheme.lower() != "file" or parts.netloc not in ("", "localhost"):
        return None
    if parts.query or parts.fragment:
        return None
    path = unquote(parts.path)
    return path if path.startswith("/") else None


def _inside(path: str, directory: str) -> bool:
    """``path`` is ``directory`` or below it (both absolute and normalised)."""
    return path == directory or path.startswith(directory.rstrip(os.sep) + os.sep)


def _is_hidden(path: str, root: str) -> bool:
    from jupyter_core.paths import is_hidden

    return is_hidden(path, root)
