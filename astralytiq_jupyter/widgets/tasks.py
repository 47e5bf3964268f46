"""Long work off the kernel's main thread, so that wizards stay responsive (a Cancel click
is a comm message the main thread must be free to handle) and show progress meanwhile."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from typing import Any, Generic, TypeVar

import ipywidgets as W

from ..core.errors import Cancelled
from .status import StatusArea

__all__ = ["Progress", "Task", "TaskRunner"]

T = TypeVar("T")

#: Progress updates closer together than this are dropped (except the last): each one is a
#: comm message to the browser.
MIN_UPDATE_SECONDS = 0.1


class Progress:
    """Handed to background work: report progress, check for cancellation."""

    def __init__(self, status: StatusArea, cancel: threading.Event, title: str) -> None:
        self._status = status
        self.cancel_event = cancel
        self._title = title
        self._last = 0.0

    @property
    def cancelled(self) -> bool:
        return self.cancel_event.is_set()

    def check(self) -> None:
        """Raise :class:`Cancelled` if the user pressed Cancel."""
        if self.cancel_event.is_set():
            raise Cancelled(f"{self._title} was cancelled.")

    def __call__(self, message: str | None = None, fraction: float | None = None) -> None:
        now = time.monotonic()
        if now - self._last < MIN_UPDATE_SECONDS and fraction not in (0.0, 1.0):
            return
        self._last = now
        self._status.busy(message or self._title, fraction)

    def bytes(self, done: int, total: int | None) -> None:
        """An ingest-style callback: ``done`` of ``total`` bytes (total may be unknown)."""
        from .format import size

        self.check()
        if total:
            self(f"{self._title}: {size(done)} of {size(total)}", done / total)
        else:
            self(f"{self._title}: {size(done)}")


class Task(Generic[T]):
    """One piece of background work; ``wait()`` joins it (tests use this)."""

    def __init__(self, title: str) -> None:
        self.title = title
        self.cancel_event = threading.Event()
        self.finished = threading.Event()
        self.result: T | None = None
        self.error: BaseException | None = None
        self.thread: threading.Thread | None = None

    def cancel(self) -> None:
        self.cancel_event.set()

    @property
    def running(self) -> bool:
        return not self.finished.is_set()

    def wait(self, timeout: float | None = 120) -> T | None:
        """Block until the work ends; re-raise nothing (errors are shown, and kept in ``error``)."""
        if not self.finished.wait(timeout):
            raise TimeoutError(f"{self.title} did not finish within {timeout} s")
        return self.result


class TaskRunner:
    """Runs one task at a time for a wizard: shows progress in ``status``, disables ``controls``
    meanwhile, shows a Cancel button if the work can be cancelled, then calls ``on_done`` with
    the result (in the worker thread; widget updates from it reach the browser) or shows the
    error in plain words."""

    def __init__(self, status: StatusArea, *, background: bool = True) -> None:
        self.status = status
        self.background = background
        self.current: Task[Any] | None = None
        self.cancel_button = W.Button(
            description="Cancel", icon="stop", layout=W.Layout(width="auto", display="none")
        )
        self.cancel_button.on_click(lambda _b: self.cancel())

    @property
    def busy(self) -> bool:
        return self.current is not None and self.current.running

    def cancel(self) -> None:
        if self.current is not None:
            self.current.cancel()
            self.status.busy(f"Cancelling {self.current.title.lower()}")

    def run(
        self,
        title: str,
        work: Callable[[Progress], T],
        on_done: Callable[[T], None] | None = None,
        *,
        controls: Sequence[W.DOMWidget] = (),
        cancellable: bool = False,
        on_error: Callable[[BaseException], None] | None = None,
    ) -> Task[T]:
        """Start ``work(progress)``; refuse (with a message) while another task runs."""
        task: Task[T] = Task(title)
        if self.busy:
            self.status.info(f"Please wait: {self.current.title.lower()} is still running.")  # type: ignore[union-attr]
            task.finished.set()
            return task
        self.current = task
        previous = [(c, getattr(c, "disabled", False)) for c in controls]
        for control, _ in previous:
            control.disabled = True
        if cancellable:
            self.cancel_button.layout.display = None
        progress = Progress(self.status, task.cancel_event, title)
        self.status.busy(title, 0.0 if cancellable else None)

        def body() -> None:
            try:
                task.result = work(progress)
                progress.check()
            except BaseException as error:  # noqa: BLE001 - shown to the user, never raised
                task.error = error
            finally:
                for control, was_disabled in previous:
                    control.disabled = was_disabled
                self.cancel_button.layout.display = "none"
            try:
                if task.error is None:
                    self.status.clear()
                    if on_done is not None:
                        on_done(task.result)  # type: ignore[arg-type]
                else:
                    self.status.fail(task.error)
                    if on_error is not None:
                        on_error(task.error)
            except BaseException as error:  # noqa: BLE001 - a display error must not vanish
                task.error = error
                self.status.fail(error)
            finally:
                task.finished.set()

        if self.background:
            task.thread = threading.Thread(target=body, name=f"aq-{title}", daemon=True)
            task.thread.start()
        else:
            body()
        return task


class LatestOnly:
    """Background loads where only the latest request matters (a preview as the user types,
    the profile of the dataset just picked): each ``run`` supersedes the previous one, whose
    result, if it still arrives, is dropped. Errors go to ``status``."""

    def __init__(self, status: StatusArea) -> None:
        self.status = status
        self._generation = 0
        self._lock = threading.Lock()
        self.current: Task[Any] | None = None

    def run(
        self,
        title: str,
        work: Callable[[], T],
        on_done: Callable[[T], None],
        *,
        background: bool = True,
        quiet: bool = False,
    ) -> Task[T]:
        with self._lock:
            self._generation += 1
            generation = self._generation
        task: Task[T] = Task(title)
        self.current = task
        if not quiet:
            self.status.busy(title)

        def body() -> None:
            try:
                result = work()
                with self._lock:
                    stale = generation != self._generation
                if not stale:
                    task.result = result
                    if not quiet:
                        self.status.clear()
                    on_done(result)
            except BaseException as error:  # noqa: BLE001 - shown to the user, never raised
                task.error = error
                with self._lock:
                    stale = generation != self._generation
                if not stale:
                    self.status.fail(error)
            finally:
                task.finished.set()

        if background:
            task.thread = threading.Thread(target=body, name=f"aq-{title}", daemon=True)
            task.thread.start()
        else:
            body()
        return task

    def wait(self, timeout: float | None = 120) -> None:
        if self.current is not None:
            self.current.wait(timeout)
