"""The profile behind the Clean wizard's suggested fixes, and when it runs.

The profile reads every row of the version (14 s for 5,000,000 rows on 2 CPUs). Started at
the same moment as the grid's first preview, it competed with it for the CPUs and made
opening Clean on large data slow; so it is queued when a version is picked and starts only
once that version's first preview is on screen. Meanwhile, and while it runs, the
suggested-fixes area says so with a progress bar. A profile already computed for the
version (by Explore, or a Clean opened before) comes from the profiling service's cache.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from .clean_steps import Suggestions
from .status import StatusArea
from .tasks import LatestOnly

if TYPE_CHECKING:
    from ..client.workspace import Workspace

__all__ = ["IssueFinder"]


class IssueFinder:
    """Queues the profile of a version and runs it once that version's preview is shown;
    its issues go to ``on_issues`` (if the wizard is still on that version)."""

    def __init__(
        self,
        ws: Workspace,
        view: Suggestions,
        status: StatusArea,
        *,
        current: Callable[[], str | None],
        on_issues: Callable[[list[Any]], None],
        background: bool = True,
    ) -> None:
        self.ws, self.view, self.current = ws, view, current
        self.on_issues, self.background = on_issues, background
        self.runs = LatestOnly(status)
        self.issues: list[Any] = []  # of the version's profile, once it is done
        self.due: str | None = None  # the version whose profile waits for its preview
        self._for: str | None = None  # the version queued, being profiled or profiled
        self._rows: int | None = None
        self._lock = threading.Lock()

    def queue(self, ref: str | None, rows: int | None = None) -> None:
        """The wizard is now on ``ref`` (None: on nothing): its profile waits for a preview.
        The version it is already on (picked again, or the wizard's own redraw) keeps its
        profile, queued, running or done."""
        with self._lock:
            if ref is not None and ref == self._for:
                return
            self._for, self.due, self._rows, self.issues = ref, ref, rows, []
        if ref is None:
            self.view.clear()
        else:
            self.view.waiting()

    def preview_shown(self, ref: str) -> None:
        """A preview of ``ref`` is on screen: start the profile queued for it, if any."""
        with self._lock:
            due = self.due == ref == self.current()
            if due:
                self.due = None
        if due:
            self._start(ref)

    def _start(self, ref: str) -> None:
        self.view.loading(self._rows)

        def work() -> Any:
            try:
                return list(self.ws.datasets.profile(ref).issues)
            except Exception as error:  # noqa: BLE001 - suggestions are a help, not the task
                return error

        def done(issues: Any) -> None:
            if ref != self.current():
                return
            if isinstance(issues, BaseException):
                self.view.failed(issues)
                with self._lock:
                    self._for = None  # picking the version again tries again
            else:
                self.issues = issues
                self.on_issues(issues)

        self.runs.run(
            "Looking for quality issues", work, done, background=self.background, quiet=True
        )

    def wait(self, timeout: float | None = 120) -> None:
        """Join the profile running, if any (tests and scripts)."""
        self.runs.wait(timeout)
