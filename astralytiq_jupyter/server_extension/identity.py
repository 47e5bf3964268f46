"""From jupyter_server's ``current_user`` to a :class:`Principal` (DESIGN §6).

1. JupyterHub: the hub user model (``current_user.hub_user``) carries ``groups``. The tenant
   is the group with the tenant prefix (default ``astralytiq-tenant-``); the role comes from a
   role group (default prefix ``astralytiq-role-``, the highest wins) or else the member table.
2. Otherwise the member table. On a single-user server (jupyter_server's own token/password
   identity) whoever authenticated holds the server's credentials, so they act as its owner.
3. Platform API tokens are checked before this resolver runs (``base.ApiHandler``).

When a user belongs to several tenants, the ``X-AstralytiQ-Tenant`` header picks one.
Subclass :class:`PrincipalResolver` and set ``c.AstralytiQ.principal_resolver_class`` to
change the rules.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Iterable
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from ..core.errors import Forbidden, NotFound
from ..core.permissions import Principal, Role

if TYPE_CHECKING:
    from .app import AstralytiQ


class PrincipalResolver:
    """Resolves identities with the rules above; configured by the extension's traits."""

    #: How long a resolved principal is reused for the same identity. Membership changes
    #: made through this server take effect at once (they bump ``store.membership_epoch``);
    #: changes made elsewhere (another server on the same database, hub group edits) within
    #: this many seconds.
    cache_seconds = 5.0

    def __init__(self, app: AstralytiQ) -> None:
        self.app = app
        self.store = app.store
        self._cache: dict[tuple[Any, ...], tuple[float, int, Principal]] = {}

    def cached(self, user: Any, tenant: str | None) -> Principal | None:
        """A fresh resolution of the same identity, without touching the database: every
        request resolves its principal, and most come from the same few users."""
        return self._lookup(_cache_key(user, tenant))

    def resolve_and_cache(self, user: Any, tenant: str | None) -> Principal:
        epoch = self.store.membership_epoch
        principal = self.resolve(user, tenant)
        self._remember(_cache_key(user, tenant), principal, epoch, self.cache_seconds)
        return principal

    def cached_token(self, token: str) -> Principal | None:
        """The principal of a platform token authenticated within ``cache_seconds`` (and
        not expired since), without touching the database."""
        return self._lookup(_token_key(token))

    def authenticate_token(self, token: str) -> Principal | None:
        """Authenticate a platform token and remember the result until it expires, for at
        most ``cache_seconds``; revocations through this server apply at once."""
        epoch = self.store.membership_epoch
        found = self.store.tokens.authenticate_until(token)
        if found is None:
            return None
        principal, expires_at = found
        remaining = (expires_at - datetime.now(timezone.utc)).total_seconds()
        self._remember(_token_key(token), principal, epoch, min(self.cache_seconds, remaining))
        return principal

    def _lookup(self, key: tuple[Any, ...]) -> Principal | None:
        entry = self._cache.get(key)
        if entry is None:
            return None
        expires, epoch, principal = entry
        if expires < time.monotonic() or epoch != self.store.membership_epoch:
            return None
        return principal

    def _remember(
        self, key: tuple[Any, ...], principal: Principal, epoch: int, seconds: float
    ) -> None:
        if len(self._cache) > 10_000:
            self._cache.clear()
        self._cache[key] = (time.monotonic() + seconds, epoch, principal)

    def resolve(self, user: Any, tenant: str | None = None) -> Principal:
        """The principal of ``user`` (in ``tenant`` when given); :class:`Forbidden` if the
        user has no role anywhere."""
        hub_user = getattr(user, "hub_user", None)
        if isinstance(hub_user, dict):
            return self.from_hub(hub_user, tenant)
        return self.from_members(_username(user), tenant, owner_fallback=self.app.owner_fallback)

    # -- JupyterHub ------------------------------------------------------------------------
    def from_hub(self, hub_user: dict[str, Any], tenant: str | None) -> Principal:
        username = str(hub_user.get("name") or "")
        if not username:
            raise Forbidden("The JupyterHub user has no name.")
        groups = [str(g) for g in hub_user.get("groups") or []]
        tenants = _suffixes(groups, self.app.tenant_group_prefix)
        platform_owner = bool(self.app.platform_owner_group) and (
            self.app.platform_owner_group in groups
        )
        if not tenants:
            principal = self.from_members(username, tenant, owner_fallback=False)
            return _with(
                principal, platform_owner=platform_owner or principal.platform_owner, via="hub"
            )
        if tenant is None:
            if len(tenants) > 1:
                raise Forbidden(
                    f"You belong to several tenants ({', '.join(sorted(tenants))}); choose one "
                    "with the X-AstralytiQ-Tenant header."
                )
            tenant = tenants[0]
        elif tenant not in tenants:
            raise Forbidden(f"You are not a member of tenant {tenant!r}.")
        roles = [
            Role(r)
            for r in _suffixes(groups, self.app.role_group_prefix)
            if r in Role._value2member_map_
        ]
        role = (
            max(roles, key=lambda r: r.rank) if roles else self.store.member_role(tenant, username)
        )
        if role is None:
            raise Forbidden(
                f"You have no role in tenant {tenant!r}: ask an admin to add you, or "
                f"the hub admin to put you in a '{self.app.role_group_prefix}<role>' "
                "group."
            )
        self._require_tenant(tenant)
        return Principal(
            user=username,
            tenant=tenant,
            role=role,
            platform_owner=platform_owner,
            display_name=hub_user.get("display_name") or username,
            via="hub",
        )

    # -- member table ----------------------------------------------------------------------
    def from_members(self, username: str, tenant: str | None, *, owner_fallback: bool) -> Principal:
        memberships = dict(self.store.memberships(username))
        if not memberships and owner_fallback:
            username = self.app.owner
            memberships = dict(self.store.memberships(username))
        if tenant is None:
            if self.app.default_tenant in memberships:
                tenant = self.app.default_tenant
            elif len(memberships) == 1:
                tenant = next(iter(memberships))
            elif memberships:
                raise Forbidden(
                    f"You belong to several tenants ({', '.join(sorted(memberships))}); choose "
                    "one with the X-AstralytiQ-Tenant header."
                )
            else:
                raise Forbidden("You are not a member of any tenant; ask a tenant admin.")
        role = memberships.get(tenant)
        if role is None:
            raise Forbidden(f"You are not a member of tenant {tenant!r}.")
        return Principal(
            user=username,
            tenant=tenant,
            role=role,
            platform_owner=username in self.app.platform_owner_names,
            via="member",
        )

    def _require_tenant(self, tenant: str) -> None:
        with self.store.session() as session:
            try:
                self.store.tenant_record(session, tenant)
            except NotFound:
                raise Forbidden(
                    f"Tenant {tenant!r} is not set up on this platform yet; ask "
                    "the platform owner to create it."
                ) from None


def _username(user: Any) -> str:
    return str(getattr(user, "username", None) or user)


def _suffixes(groups: Iterable[str], prefix: str) -> list[str]:
    return sorted(
        {
            g[len(prefix) :]
            for g in groups
            if prefix and g.startswith(prefix) and len(g) > len(prefix)
        }
    )


def _with(principal: Principal, **changes: Any) -> Principal:
    from dataclasses import replace

    return replace(principal, **changes)


def _token_key(token: str) -> tuple[str, str]:
    """A platform token's cache key: its digest, never the secret itself."""
    return ("platform-token", hashlib.sha256(token.encode()).hexdigest())


def _cache_key(user: Any, tenant: str | None) -> tuple[Any, ...]:
    hub_user = getattr(user, "hub_user", None)
    groups = (
        tuple(sorted(map(str, hub_user.get("groups") or [])))
        if isinstance(hub_user, dict)
        else None
    )
    return (_username(user), tenant, groups, type(user).__name__)
