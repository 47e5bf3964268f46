"""The tenant's audit log (admins)."""

from __future__ import annotations

from ..base import PageHandler


class AuditHandler(PageHandler):
    service = "audit"
