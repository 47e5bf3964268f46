"""The tenant's audit log (admins)."""

from __future__ import annotations

from ..base import ApiHandler


class AuditHandler(ApiHandler):
    async def get(self) -> None:
        params = self.params
        limit, offset = params.get("limit", 100), params.get("offset", 0)
        events = await self.run(
            self.app.store.audit.list,
            self.principal,
            action=params.get("action") or None,
            actor=params.get("actor") or None,
            outcome=params.get("outcome"),
            resource=params.get("resource") or None,
            since=params.get("since"),
            until=params.get("until"),
            limit=limit,
            offset=offset,
        )
        self.page(events, limit, offset)
