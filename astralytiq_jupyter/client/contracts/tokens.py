"""``ws.tokens``: platform API tokens of the tenant."""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from ...core.permissions import Role
    from ...core.tokens import ApiToken, IssuedToken


class TokensContract(Protocol):
    """Expiring, revocable tokens for callers outside Jupyter (admins)."""

    def create(
        self, name: str, *, role: str | Role | None = None, expires_in: float | None = None
    ) -> IssuedToken:
        """A token acting as you in this tenant with ``role`` (default: yours, never higher)
        for ``expires_in`` seconds; its secret is shown only here."""
        ...

    def revoke(self, token_id: str) -> None:
        """Revoke a token: refused from then on."""
        ...

    def list(
        self, *, include_inactive: bool = False, limit: int = 100, offset: int = 0
    ) -> list[ApiToken]:
        """The tenant's tokens, newest first (with ``include_inactive``, revoked and expired
        ones too); never their secrets."""
        ...
