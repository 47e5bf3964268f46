"""``ws.audit``: the tenant's audit log."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from ...core.audit import AuditEvent


class AuditContract(Protocol):
    """Every mutating action and every refusal, newest first (admins)."""

    def list(
        self,
        *,
        action: str | None = None,
        actor: str | None = None,
        outcome: str | None = None,
        resource: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        limit: int = 100,
        offset: int = 0,
    ) -> list[AuditEvent]:
        """Events meeting every filter given (exact ``action``, ``actor``, ``resource``;
        ``outcome`` is ``ok``, ``denied`` or ``error``; ``since`` <= time < ``until``), a page
        at a time."""
        ...
