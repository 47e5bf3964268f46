"""Admission of long requests, per tenant: so that one tenant cannot starve another.

Long work (ingest, downloads, profiles, clusters, recipes, scoring, registration; see
``operations.LONG_OPERATIONS``) runs on a pool of its own, apart from short requests and
``/health``. On top of that each tenant may have at most ``running`` long requests at once;
up to ``waiting`` more wait their turn in arrival order (holding no thread: an upload's body
is not read meanwhile), and beyond that a request is refused at once with 429 and
``Retry-After``. Everything here runs on the event loop, so it needs no locks.
"""

from __future__ import annotations

import asyncio
from collections import deque

from ..core.errors import QuotaExceeded

#: The ``Retry-After`` (seconds) of a request refused because its tenant has too many waiting.
RETRY_AFTER_SECONDS = 5


class Withdrawn(Exception):  # noqa: N818 - not an error: the client left while waiting
    """The request left (its connection closed) before its turn came."""


class TenantGate:
    """At most ``running`` long requests per tenant at once, ``waiting`` more queued."""

    def __init__(self, running: int, waiting: int) -> None:
        self.running = max(1, running)
        self.waiting = max(0, waiting)
        self._active: dict[str, int] = {}
        self._queues: dict[str, deque[Pass]] = {}

    def active(self, tenant: str) -> int:
        return self._active.get(tenant, 0)

    def queued(self, tenant: str) -> int:
        return len(self._queues.get(tenant, ()))

    def enter(self, tenant: str) -> Pass:
        """A pass for one long request of ``tenant``: admitted at once when a place is free,
        else waiting (see :meth:`Pass.wait`); :class:`QuotaExceeded` when the queue is full."""
        ticket = Pass(self, tenant)
        queue = self._queues.get(tenant)
        if self.active(tenant) < self.running and not queue:
            self._active[tenant] = self.active(tenant) + 1
            ticket.admitted = True
            return ticket
        if len(queue or ()) >= self.waiting:
            raise QuotaExceeded(
                f"Tenant '{tenant}' already has {self.active(tenant)} long requests running "
                f"and {len(queue or ())} waiting (the limits are {self.running} and "
                f"{self.waiting}); retry in {RETRY_AFTER_SECONDS} s.",
                quota="long_requests",
                limit=self.running,
                retry_after=RETRY_AFTER_SECONDS,
            )
        ticket.turn = asyncio.get_running_loop().create_future()
        self._queues.setdefault(tenant, deque()).append(ticket)
        return ticket

    def _leave(self, ticket: Pass) -> None:
        tenant = ticket.tenant
        if not ticket.admitted:  # withdrawn while waiting
            queue = self._queues.get(tenant)
            if queue is not None and ticket in queue:
                queue.remove(ticket)
                if not queue:
                    del self._queues[tenant]
            if ticket.turn is not None and not ticket.turn.done():
                ticket.turn.set_exception(Withdrawn())
            return
        queue = self._queues.get(tenant)
        if queue:  # the place goes straight to the next in line
            following = queue.popleft()
            if not queue:
                del self._queues[tenant]
            following.admitted = True
            assert following.turn is not None
            following.turn.set_result(None)
            return
        remaining = self.active(tenant) - 1
        if remaining > 0:
            self._active[tenant] = remaining
        else:
            self._active.pop(tenant, None)


class Pass:
    """One long request's place: ``wait()`` for the turn, ``leave()`` once (idempotent)."""

    def __init__(self, gate: TenantGate, tenant: str) -> None:
        self.gate = gate
        self.tenant = tenant
        self.admitted = False
        self.turn: asyncio.Future[None] | None = None
        self._left = False

    async def wait(self) -> None:
        """Return once admitted; :class:`Withdrawn` if :meth:`leave` came first."""
        if self.admitted:
            return
        assert self.turn is not None
        await self.turn

    def leave(self) -> None:
        if not self._left:
            self._left = True
            self.gate._leave(self)
