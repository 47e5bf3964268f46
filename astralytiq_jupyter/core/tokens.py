"""Platform API tokens: credentials for callers outside Jupyter (scripts, web apps, kernels
started for a Voila viewer).

A token reads ``aqt_<id>_<secret>``: ``id`` names the row, ``secret`` is 32 random bytes.
Only the SHA-256 of the whole token is stored, so a leaked database yields no usable token,
and the secret is shown once, when the token is created. A random secret of that length
cannot be guessed, so a plain hash is as strong as a keyed one and needs no server secret
to rotate. Every token is scoped to one tenant and one role, expires, and can be revoked;
no one can mint a token with a role above their own.
"""

from __future__ import annotations

import hashlib
import hmac
import math
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from .errors import Forbidden, Invalid, NotFound
from .models import ApiTokenRecord, MemberRecord, TenantRecord, new_id
from .permissions import Permission, Principal, Role, require
from .repository import check_page

if TYPE_CHECKING:
    from .store import Store

PREFIX = "aqt_"
_ID = re.compile(r"^[0-9a-f]{32}$")
_TOKEN = re.compile(r"^aqt_([0-9a-f]{32})_([A-Za-z0-9_\-]{43})$")
DEFAULT_TTL = timedelta(days=30)
MIN_TTL = timedelta(seconds=60)
MAX_TTL = timedelta(days=365)
#: Names of the tokens the server mints for kernels (``server_extension.kernels``); no one
#: else may use it, so a kernel token is told apart from the API tokens admins create.
KERNEL_TOKEN_PREFIX = "kernel: "  # noqa: S105 - a name prefix, not a secret


@dataclass(frozen=True)
class ApiToken:
    """A token as listed: everything but the secret."""

    id: str
    name: str
    user: str
    role: Role
    created_at: datetime
    created_by: str
    expires_at: datetime
    revoked_at: datetime | None

    @property
    def active(self) -> bool:
        return self.revoked_at is None and self.expires_at > datetime.now(timezone.utc)

    @classmethod
    def from_record(cls, row: ApiTokenRecord) -> ApiToken:
        return cls(
            row.id,
            row.name,
            row.username,
            Role(row.role),
            row.created_at,
            row.created_by,
            row.expires_at,
            row.revoked_at,
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "user": self.user,
            "role": self.role.value,
            "created_at": self.created_at.isoformat(),
            "created_by": self.created_by,
            "expires_at": self.expires_at.isoformat(),
            "revoked_at": self.revoked_at.isoformat() if self.revoked_at else None,
            "active": self.active,
        }


@dataclass(frozen=True)
class IssuedToken:
    """A newly created token with its secret: the only time the secret is available."""

    token: ApiToken
    secret: str

    def to_dict(self) -> dict[str, Any]:
        return {**self.token.to_dict(), "token": self.secret}


def looks_like_token(value: str) -> bool:
    """Whether ``value`` is shaped like a platform token (cheap; says nothing of validity)."""
    return value.startswith(PREFIX)


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode("ascii")).hexdigest()


def _ttl(expires_in: float | timedelta | None) -> timedelta:
    if expires_in is None:
        return DEFAULT_TTL
    if isinstance(expires_in, timedelta):
        seconds = expires_in.total_seconds()
    elif isinstance(expires_in, (int, float)) and not isinstance(expires_in, bool):
        seconds = expires_in
    else:
        seconds = math.nan  # refused below, whatever it was ("abc", a list, True)
    if not (
        math.isfinite(seconds) and MIN_TTL.total_seconds() <= seconds <= MAX_TTL.total_seconds()
    ):
        raise Invalid(
            f"expires_in must be a number of seconds from {MIN_TTL.total_seconds():.0f} "
            f"({MIN_TTL.total_seconds() / 60:.0f} minute) to {MAX_TTL.total_seconds():.0f} "
            f"({MAX_TTL.days} days).",
            parameter="expires_in",
        )
    return timedelta(seconds=seconds)


class TokenService:
    """Create, list, revoke and check platform API tokens."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def create(
        self,
        principal: Principal,
        name: str,
        *,
        role: str | Role | None = None,
        expires_in: float | timedelta | None = None,
    ) -> IssuedToken:
        """A token acting as ``principal.user`` in their tenant with ``role`` (default: theirs,
        never higher)."""
        with self.store.audit.action(principal, "token.create", f"token:{name}") as act:
            require(principal, Permission.TOKEN_MANAGE)
            if isinstance(name, str) and name.strip().startswith(KERNEL_TOKEN_PREFIX.strip()):
                raise Invalid(
                    f"Token names starting with {KERNEL_TOKEN_PREFIX.strip()!r} are reserved "
                    "for the tokens the server gives kernels."
                )
            issued = self.issue(
                principal.tenant,
                principal.user,
                Role.parse(role or principal.role),
                name=name,
                expires_in=expires_in,
                created_by=principal.user,
                cap=principal.role,
                requires_membership=principal.via != "hub",
            )
            act.resource = f"token:{issued.token.id}"
            act.detail.update(
                name=issued.token.name,
                role=issued.token.role.value,
                expires_at=issued.token.expires_at.isoformat(),
            )
            return issued

    def issue(
        self,
        tenant: str,
        user: str,
        role: Role,
        *,
        name: str,
        expires_in: float | timedelta | None = None,
        created_by: str,
        cap: Role | None = None,
        requires_membership: bool = True,
    ) -> IssuedToken:
        """Mint a token without a permission check: for the server itself (e.g. a kernel
        started for a dashboard viewer), which has already established ``user``'s role."""
        if cap is not None and role.rank > cap.rank:
            raise Forbidden(
                f"You cannot create a token with role '{role.value}', above your own "
                f"('{cap.value}').",
                role=role.value,
            )
        if not isinstance(name, str) or not name.strip() or len(name) > 128:
            raise Invalid("A token needs a name of 1-128 characters (what it is for).")
        ttl = _ttl(expires_in)
        token_id = new_id()
        secret = f"{PREFIX}{token_id}_{secrets.token_urlsafe(32)}"
        with self.store.transaction() as session:
            tenant_id = self.store.tenant_record(session, tenant).id
            row = ApiTokenRecord(
                id=token_id,
                tenant_id=tenant_id,
                name=name.strip(),
                username=user,
                role=role.value,
                secret_sha256=_digest(secret),
                requires_membership=requires_membership,
                created_by=created_by,
                expires_at=datetime.now(timezone.utc) + ttl,
            )
            session.add(row)
            session.flush()
            return IssuedToken(ApiToken.from_record(row), secret)

    def list(
        self,
        principal: Principal,
        *,
        include_inactive: bool = False,
        limit: int = 100,
        offset: int = 0,
    ) -> list[ApiToken]:
        """Tokens of the tenant, newest first."""
        self.store.audit.authorize(principal, Permission.TOKEN_MANAGE, "token.list")
        check_page(limit, offset)
        with self.store.session() as session:
            repo = self.store.repo(session, principal)
            stmt = repo.select(ApiTokenRecord)
            if not include_inactive:
                stmt = stmt.where(
                    ApiTokenRecord.revoked_at.is_(None),
                    ApiTokenRecord.expires_at > datetime.now(timezone.utc),
                )
            stmt = stmt.order_by(ApiTokenRecord.created_at.desc(), ApiTokenRecord.id)
            rows = session.scalars(stmt.limit(limit).offset(offset))
            return [ApiToken.from_record(r) for r in rows]

    def revoke(self, principal: Principal, token_id: str) -> ApiToken:
        """Revoke a token of the tenant (immediately refused from then on)."""
        with self.store.audit.action(principal, "token.revoke", f"token:{token_id}"):
            require(principal, Permission.TOKEN_MANAGE)
            # A membership change for caches of authenticated tokens: refused at once.
            with self.store.membership_change(), self.store.transaction() as session:
                repo = self.store.repo(session, principal)
                if not isinstance(token_id, str) or not _ID.match(token_id):
                    raise NotFound("Token not found.")
                row = repo.get(ApiTokenRecord, "Token", ApiTokenRecord.id == token_id)
                if row.revoked_at is None:
                    row.revoked_at = datetime.now(timezone.utc)
                    row.revoked_by = principal.user
                return ApiToken.from_record(row)

    def retire(self, token_id: str) -> None:
        """Revoke a token the server minted for itself (a kernel's, when the kernel stops):
        no permission check, no audit event (nobody acted)."""
        with self.store.membership_change(), self.store.transaction() as session:
            row = session.get(ApiTokenRecord, token_id)
            if row is not None and row.revoked_at is None:
                row.revoked_at = datetime.now(timezone.utc)
                row.revoked_by = "astralytiq"

    def extend(self, token: str, ttl: float | timedelta) -> datetime:
        """Push a kernel token's expiry to ``ttl`` from now, for the kernel holding it while it
        runs; the secret stays the same. Only a live kernel token of a member-table identity
        may be extended (a hub identity's groups cannot be checked again here), and its role
        is the member's current one, never more. The new expiry."""
        found = self.authenticate_until(token)
        match = _TOKEN.match(token or "")
        if found is None or match is None:
            raise Forbidden("The API token is invalid, expired or revoked.")
        new_expiry = datetime.now(timezone.utc) + _ttl(ttl)
        with self.store.transaction() as session:
            row = session.get(ApiTokenRecord, match.group(1))
            assert row is not None
            if not row.name.startswith(KERNEL_TOKEN_PREFIX) or not row.requires_membership:
                raise Forbidden(
                    "Only the token the server gave a kernel can be extended, and only for a "
                    "member of the tenant; this one expires as it is."
                )
            row.expires_at = max(row.expires_at, new_expiry)
            return row.expires_at

    def authenticate(self, token: str) -> Principal | None:
        """The principal a token acts as, or ``None`` if it is unknown, expired, revoked,
        or its user is no longer a member. The role is capped by the current membership."""
        found = self.authenticate_until(token)
        return found[0] if found else None

    def authenticate_until(self, token: str) -> tuple[Principal, datetime] | None:
        """Like :meth:`authenticate`, with the moment the token expires (for caches)."""
        match = _TOKEN.match(token or "")
        if match is None:
            return None
        with self.store.session() as session:
            found = session.execute(
                select(ApiTokenRecord, TenantRecord.slug)
                .join(TenantRecord, TenantRecord.id == ApiTokenRecord.tenant_id)
                .where(ApiTokenRecord.id == match.group(1))
            ).first()
            if found is None:
                return None
            row, slug = found
            if not hmac.compare_digest(row.secret_sha256, _digest(token)):
                return None
            if row.revoked_at is not None or row.expires_at <= datetime.now(timezone.utc):
                return None
            role = Role(row.role)
            member_role = session.scalar(
                select(MemberRecord.role).where(
                    MemberRecord.tenant_id == row.tenant_id, MemberRecord.username == row.username
                )
            )
            if member_role is None and row.requires_membership:
                return None
            if member_role is not None and Role(member_role).rank < role.rank:
                role = Role(member_role)
            principal = Principal(user=row.username, tenant=slug, role=role, via="token")
            return principal, row.expires_at
