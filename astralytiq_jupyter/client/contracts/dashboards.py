"""``ws.dashboards``: dashboard specs of the tenant."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from ...core.dashboards import Dashboard


class DashboardsContract(Protocol):
    """Dashboards: JSON specs (title, bindings, charts, KPIs, filters, layout)."""

    def save(self, spec: dict[str, Any], *, expected_revision: int | None = None) -> Dashboard:
        """Create or replace the dashboard named ``spec['name']`` (validated first); with
        ``expected_revision``, only if nobody saved it since (else ``Conflict``)."""
        ...

    def get(self, name: str) -> Dashboard:
        """A saved dashboard."""
        ...

    def delete(self, name: str) -> None:
        """Delete a dashboard."""
        ...

    def publish(self, name: str) -> str:
        """The shareable Voila address of a saved dashboard."""
        ...

    def list(
        self, *, search: str | None = None, limit: int = 100, offset: int = 0
    ) -> list[Dashboard]:
        """The tenant's dashboards, by name, a page at a time."""
        ...
