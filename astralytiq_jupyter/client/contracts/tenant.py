"""``ws.tenant``: settings, branding, plan, members and usage of the current tenant."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from ...core.permissions import Role
    from ...core.tenancy import Member, Tenant


class TenantContract(Protocol):
    """The tenant the workspace acts in."""

    def info(self) -> Tenant:
        """The tenant: name, plan and quotas, branding, settings."""
        ...

    def update(
        self,
        *,
        display_name: str | None = None,
        branding: Mapping[str, Any] | None = None,
        settings: Mapping[str, Any] | None = None,
        plan: str | None = None,
    ) -> Tenant:
        """Change what is given (admins; the plan: the platform owner)."""
        ...

    def members(self) -> list[Member]:
        """Who belongs to the tenant, with their roles."""
        ...

    def add_member(self, username: str, role: str | Role) -> Member:
        """Add a member (admins; never above their own role)."""
        ...

    def set_role(self, username: str, role: str | Role) -> Member:
        """Change a member's role (admins)."""
        ...

    def remove_member(self, username: str) -> None:
        """Remove a member (admins; the last admin stays)."""
        ...

    def usage(self) -> dict[str, Any]:
        """Usage against the plan's quotas."""
        ...
