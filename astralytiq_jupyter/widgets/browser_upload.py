"""The browser-side upload: a small ``anywidget`` whose front-end (``static/browser_upload.js``,
a plain ES module, no build step) streams a file chosen in the browser straight to the REST
upload endpoint, with the page's own session (cookies, and the ``_xsrf`` cookie as the
``X-XSRFToken`` header).

Why: ipywidgets' ``FileUpload`` sends the file through the kernel's websocket, and tornado
drops messages above 10 MB without a word (jupyter-widgets/ipywidgets#2522). Here the kernel
never holds the file: it asks the browser for the first bytes (for the parse preview), tells
it where to upload (dataset name and read options as query parameters), and hears back the
progress and the server's answer. No credential is ever put in widget state, which notebooks
save to disk.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anywidget
import traitlets

from ..core import errors

__all__ = ["ACCEPT", "BrowserUpload", "ChosenFile", "UploadResult"]

ACCEPT = ".csv,.tsv,.tab,.txt,.xlsx,.xlsm,.json,.jsonl,.ndjson,.parquet,.pq,.arrow,.feather"


@dataclass(frozen=True)
class ChosenFile:
    """A file picked in the browser: its name and size, and once read its first bytes."""

    name: str
    size: int
    head: bytes = b""
    complete: bool = False  # ``head`` is the whole file


@dataclass(frozen=True)
class UploadResult:
    """What the browser reported when the upload ended: the server's answer (``body``
    parsed), or ``error`` when no answer came (network failure, cancelled)."""

    status: int
    body: dict[str, Any] | None
    error: str | None = None
    cancelled: bool = False

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300 and isinstance(self.body, dict)

    def exception(self) -> errors.AstralytiqError:
        """The product's error for a failed upload (the server's own message when it sent
        one), as the RemoteBackend would raise it."""
        if self.cancelled:
            return errors.Cancelled("The upload was cancelled; nothing was stored.")
        if self.body is None and self.error:
            return errors.AstralytiqError(self.error)
        from ..client.remote import error_from_reply

        return error_from_reply(self.status, self.body, "the upload endpoint")


class BrowserUpload(anywidget.AnyWidget):
    """A "Choose a file" button whose file goes from the browser to the server.

    ``on_chosen(cb)``: ``cb(ChosenFile)`` when a file is picked; ``request_head(n)`` asks
    for its first ``n`` bytes, delivered to ``on_head(cb)``. ``upload(name, query)`` starts
    the upload (``query``: the endpoint's query parameters); ``on_progress(cb)`` gets
    ``(loaded, total)`` and ``on_result(cb)`` the :class:`UploadResult`. ``cancel()`` aborts.
    """

    _esm = Path(__file__).resolve().parent / "static" / "browser_upload.js"
    accept = traitlets.Unicode(ACCEPT).tag(sync=True)
    label = traitlets.Unicode("Choose a file…").tag(sync=True)
    disabled = traitlets.Bool(False).tag(sync=True)

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.file: ChosenFile | None = None
        self.uploading = False
        self._chosen: list[Callable[[ChosenFile], None]] = []
        self._head: list[Callable[[ChosenFile], None]] = []
        self._progress: list[Callable[[int, int], None]] = []
        self._result: list[Callable[[UploadResult], None]] = []
        self.on_msg(self._receive)

    # -- callbacks
    def on_chosen(self, callback: Callable[[ChosenFile], None]) -> None:
        self._chosen.append(callback)

    def on_head(self, callback: Callable[[ChosenFile], None]) -> None:
        self._head.append(callback)

    def on_progress(self, callback: Callable[[int, int], None]) -> None:
        self._progress.append(callback)

    def on_result(self, callback: Callable[[UploadResult], None]) -> None:
        self._result.append(callback)

    # -- commands to the browser
    def request_head(self, length: int) -> None:
        """Ask the browser for the first ``length`` bytes of the chosen file."""
        self.send({"type": "read", "length": int(length)})

    def upload(self, name: str, query: dict[str, str | list[str]]) -> None:
        """Start streaming the chosen file to ``datasets/{name}/versions?{query}``."""
        if self.file is None:
            raise errors.Invalid("Choose a file first.")
        self.uploading = True
        self.send({"type": "upload", "name": name, "query": query})

    def cancel(self) -> None:
        self.send({"type": "cancel"})

    def reset(self) -> None:
        """Forget the chosen file (in the browser too)."""
        self.file = None
        self.send({"type": "reset"})

    # -- messages from the browser
    def _receive(self, _widget: Any, content: dict[str, Any], buffers: list[Any]) -> None:
        kind = content.get("type")
        if kind == "chosen":
            self.file = ChosenFile(str(content.get("name", "")), int(content.get("size", 0)))
            for callback in self._chosen:
                callback(self.file)
        elif kind == "head":
            head = bytes(buffers[0]) if buffers else b""
            self.file = ChosenFile(
                str(content.get("name", "")),
                int(content.get("size", 0)),
                head,
                bool(content.get("complete")),
            )
            for callback in self._head:
                callback(self.file)
        elif kind == "progress":
            loaded, total = int(content.get("loaded", 0)), int(content.get("total", 0))
            for callback in self._progress:
                callback(loaded, total)
        elif kind == "result":
            self.uploading = False
            result = _result(content)
            for callback in self._result:
                callback(result)


def _result(content: dict[str, Any]) -> UploadResult:
    status = int(content.get("status") or 0)
    body: dict[str, Any] | None = None
    text = content.get("body")
    if isinstance(text, str) and text:
        try:
            parsed = json.loads(text)
        except ValueError:
            parsed = None
        body = parsed if isinstance(parsed, dict) else None
    error = content.get("error")
    return UploadResult(
        status=status,
        body=body,
        error=str(error) if error else None,
        cancelled=bool(content.get("cancelled")),
    )
