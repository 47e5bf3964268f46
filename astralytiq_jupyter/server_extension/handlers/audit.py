"""The tenant's audit log (admins)."""

from __future__ import annotations

from datetime import datetime

from ...core.errors import Invalid
from ..base import ApiHandler


class AuditHandler(ApiHandler):
    async def get(self) -> None:
        limit = self.int_arg("limit", 100, low=1)
        offset = self.int_arg("offset", 0)
        events = await self.run(
            self.app.store.audit.list,
            self.principal,
            action=self.get_query_argument("action", None) or None,
            actor=self.get_query_argument("actor", None) or None,
            outcome=self.get_query_argument("outcome", None) or None,
            resource=self.get_query_argument("resource", None) or None,
            since=self._time("since"),
            until=self._time("until"),
            limit=limit,
            offset=offset,
        )
        self.page(events, limit, offset)

    def _time(self, name: str) -> datetime | None:
        value = self.get_query_argument(name, None)
        if not value:
            return None
        try:
            return datetime.fromisoformat(value)
        except ValueError:
            raise Invalid(f"Query parameter {name!r} must be an ISO 8601 time.") from None
