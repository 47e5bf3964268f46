"""Tenants, plans with quotas, members and usage."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, replace
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from .errors import Conflict, Forbidden, Invalid, QuotaExceeded
from .limits import check_json, check_text
from .models import MemberRecord, ModelRecord, TenantRecord
from .names import check_slug
from .permissions import Permission, Principal, Role, can_grant, require

if TYPE_CHECKING:
    from .repository import TenantRepository
    from .store import Store

MB = 1024 * 1024
GB = 1024 * MB


@dataclass(frozen=True)
class Quotas:
    """Limits of a plan; ``None`` means unlimited."""

    members: int | None
    datasets: int | None
    models: int | None
    storage_bytes: int | None
    upload_bytes: int | None
    api_calls_per_month: int | None
    concurrent_trainings: int | None

    def to_dict(self) -> dict[str, int | None]:
        return asdict(self)


PLANS: Mapping[str, Quotas] = {
    "free": Quotas(3, 10, 5, 1 * GB, 100 * MB, 10_000, 1),
    "basic": Quotas(10, 100, 50, 20 * GB, 500 * MB, 100_000, 2),
    "professional": Quotas(50, 1_000, 500, 200 * GB, 2 * GB, 1_000_000, 4),
    "enterprise": Quotas(None, None, None, None, 10 * GB, None, 16),
}


def check_plan(plan: str) -> str:
    if plan not in PLANS:
        raise Invalid(f"Unknown plan {plan!r}; expected one of: {', '.join(PLANS)}.", plan=plan)
    return plan


def quotas_for(row: TenantRecord) -> Quotas:
    """The plan's quotas with the tenant's overrides applied."""
    base = PLANS[row.plan]
    overrides = {
        k: v for k, v in (row.quota_overrides or {}).items() if k in Quotas.__dataclass_fields__
    }
    return replace(base, **overrides)


def enforce_quotas(
    repo: TenantRepository,
    quotas: Quotas,
    *,
    new_dataset: bool = False,
    new_model: bool = False,
    incoming_bytes: int = 0,
) -> None:
    """Raise :class:`QuotaExceeded` if storing this would break the tenant's plan.

    Called once before any byte is read (``incoming_bytes=0``: refuse when already full) and
    again under the tenant lock with the real size, right before the commit.
    """
    if new_dataset and quotas.datasets is not None and repo.dataset_count() >= quotas.datasets:
        raise QuotaExceeded(
            f"Your plan allows {quotas.datasets} datasets; delete one or upgrade the plan.",
            quota="datasets",
            limit=quotas.datasets,
        )
    if new_model and quotas.models is not None and repo.count(ModelRecord) >= quotas.models:
        raise QuotaExceeded(
            f"Your plan allows {quotas.models} models; delete one or upgrade the plan.",
            quota="models",
            limit=quotas.models,
        )
    if quotas.storage_bytes is not None:
        used = repo.stored_bytes()
        full = used + incoming_bytes > quotas.storage_bytes or (
            incoming_bytes == 0 and used >= quotas.storage_bytes
        )
        if full:
            raise QuotaExceeded(
                f"Storage quota exceeded: {used / 1e6:.1f} MB used + {incoming_bytes / 1e6:.1f} MB "
                f"new > {quotas.storage_bytes / 1e6:.1f} MB allowed by your plan.",
                quota="storage_bytes",
                limit=quotas.storage_bytes,
            )


BRANDING_KEYS = ("company_name", "logo_url", "primary_color", "secondary_color")


@dataclass(frozen=True)
class Tenant:
    id: str
    slug: str
    display_name: str
    plan: str
    quotas: Quotas
    branding: dict[str, Any] = field(default_factory=dict)
    settings: dict[str, Any] = field(default_factory=dict)
    created_at: datetime | None = None

    @classmethod
    def from_record(cls, row: TenantRecord) -> Tenant:
        return cls(
            id=row.id,
            slug=row.slug,
            display_name=row.display_name,
            plan=row.plan,
            quotas=quotas_for(row),
            branding=dict(row.branding or {}),
            settings=dict(row.settings or {}),
            created_at=row.created_at,
        )

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["created_at"] = self.created_at.isoformat() if self.created_at else None
        return data


@dataclass(frozen=True)
class Member:
    username: str
    role: Role
    created_at: datetime
    created_by: str | None

    @classmethod
    def from_record(cls, row: MemberRecord) -> Member:
        return cls(row.username, Role(row.role), row.created_at, row.created_by)

    def to_dict(self) -> dict[str, Any]:
        return {
            "username": self.username,
            "role": self.role.value,
            "created_at": self.created_at.isoformat(),
            "created_by": self.created_by,
        }


def current_period(now: datetime | None = None) -> str:
    return (now or datetime.now(timezone.utc)).strftime("%Y-%m")


class TenantService:
    """Tenant settings, members and usage, each call acting as a :class:`Principal`."""

    def __init__(self, store: Store) -> None:
        self.store = store

    # -- tenants -----------------------------------------------------------------------
    def get(self, principal: Principal) -> Tenant:
        with self.store.session() as session:
            return Tenant.from_record(self.store.tenant_record(session, principal.tenant))

    def create(
        self,
        principal: Principal,
        slug: str,
        display_name: str | None = None,
        plan: str = "free",
        admin: str | None = None,
    ) -> Tenant:
        """Create a tenant (platform owners only), optionally with its first admin."""
        with self.store.audit.action(principal, "tenant.create", f"tenant:{slug}") as act:
            if not principal.platform_owner:
                raise Forbidden("Only the platform owner can create tenants.")
            check_slug(slug)
            check_plan(plan)
            with self.store.membership_change(), self.store.transaction() as session:
                if session.scalar(select(TenantRecord.id).where(TenantRecord.slug == slug)):
                    raise Conflict(f"A tenant named {slug!r} already exists.", slug=slug)
                row = TenantRecord(slug=slug, display_name=display_name or slug, plan=plan)
                session.add(row)
                session.flush()
                if admin:
                    session.add(
                        MemberRecord(
                            tenant_id=row.id,
                            username=admin,
                            role=Role.ADMIN.value,
                            created_by=principal.user,
                        )
                    )
                act.detail.update(plan=plan, admin=admin)
                return Tenant.from_record(row)

    def list_all(self, principal: Principal) -> list[Tenant]:
        if not principal.platform_owner:
            raise Forbidden("Only the platform owner can list tenants.")
        with self.store.session() as session:
            rows = session.scalars(select(TenantRecord).order_by(TenantRecord.slug))
            return [Tenant.from_record(r) for r in rows]

    def update(
        self,
        principal: Principal,
        *,
        display_name: str | None = None,
        branding: Mapping[str, Any] | None = None,
        settings: Mapping[str, Any] | None = None,
        plan: str | None = None,
    ) -> Tenant:
        """Change settings and branding (admins); the plan only by the platform owner."""
        with self.store.audit.action(
            principal, "tenant.update", f"tenant:{principal.tenant}"
        ) as act:
            require(principal, Permission.TENANT_MANAGE)
            if plan is not None and not principal.platform_owner:
                raise Forbidden("Only the platform owner can change a tenant's plan.")
            with self.store.transaction() as session:
                row = self.store.tenant_record(session, principal.tenant)
                if display_name is not None:
                    check_text(display_name, "The display name", 200)
                    if not display_name.strip():
                        raise Invalid("The display name cannot be empty.")
                    row.display_name = display_name.strip()
                if branding is not None:
                    if not isinstance(branding, Mapping):
                        raise Invalid("Branding must be an object of branding fields.")
                    unknown = set(branding) - set(BRANDING_KEYS)
                    if unknown:
                        raise Invalid(
                            f"Unknown branding fields: {', '.join(sorted(unknown))}; "
                            f"allowed: {', '.join(BRANDING_KEYS)}."
                        )
                    row.branding = {**(row.branding or {}), **_check_branding(branding)}
                if settings is not None:
                    if not isinstance(settings, Mapping):
                        raise Invalid("Settings must be an object of named settings.")
                    merged = {**(row.settings or {}), **dict(settings)}
                    # Checked before storing: settings that cannot be served back would
                    # break GET /tenant for every member.
                    row.settings = check_json(
                        merged, "The tenant settings", self.store.config.json_limits
                    )
                if plan is not None:
                    row.plan = check_plan(plan)
                act.detail.update(
                    changed=[
                        k
                        for k, v in (
                            ("display_name", display_name),
                            ("branding", branding),
                            ("settings", settings),
                            ("plan", plan),
                        )
                        if v is not None
                    ]
                )
                return Tenant.from_record(row)

    # -- members -----------------------------------------------------------------------
    def members(self, principal: Principal) -> list[Member]:
        self.store.audit.authorize(principal, Permission.MEMBER_READ, "tenant.members")
        with self.store.session() as session:
            repo = self.store.repo(session, principal)
            rows = session.scalars(repo.select(MemberRecord).order_by(MemberRecord.username))
            return [Member.from_record(r) for r in rows]

    def add_member(self, principal: Principal, username: str, role: str | Role) -> Member:
        with self.store.audit.action(principal, "member.add", f"member:{username}") as act:
            require(principal, Permission.MEMBER_MANAGE)
            new_role = Role.parse(role)
            _check_grant(principal, new_role)
            username = _check_username(username)
            with self.store.membership_change(), self.store.transaction() as session:
                repo = self.store.repo(session, principal)
                repo.lock_tenant()
                if repo.one_or_none(MemberRecord, MemberRecord.username == username):
                    raise Conflict(f"{username!r} is already a member of this tenant.")
                limit = self.store.quotas(session, principal).members
                if limit is not None and repo.count(MemberRecord) >= limit:
                    raise QuotaExceeded(
                        f"Your plan allows {limit} members; remove one or upgrade the plan.",
                        quota="members",
                        limit=limit,
                    )
                row = repo.add(
                    MemberRecord(username=username, role=new_role.value, created_by=principal.user)
                )
                session.flush()
                act.detail.update(role=new_role.value)
                return Member.from_record(row)

    def set_role(self, principal: Principal, username: str, role: str | Role) -> Member:
        with self.store.audit.action(principal, "member.set_role", f"member:{username}") as act:
            require(principal, Permission.MEMBER_MANAGE)
            username = _check_username(username)
            new_role = Role.parse(role)
            _check_grant(principal, new_role)
            with self.store.membership_change(), self.store.transaction() as session:
                repo = self.store.repo(session, principal)
                row = repo.get(
                    MemberRecord, f"Member {username!r}", MemberRecord.username == username
                )
                _check_grant(principal, Role(row.role))  # cannot demote someone at or above you
                act.detail.update(old_role=row.role, role=new_role.value)
                row.role = new_role.value
                return Member.from_record(row)

    def remove_member(self, principal: Principal, username: str) -> None:
        with self.store.audit.action(principal, "member.remove", f"member:{username}"):
            require(principal, Permission.MEMBER_MANAGE)
            username = _check_username(username)
            if username == principal.user:
                raise Invalid("You cannot remove yourself; ask another admin.")
            with self.store.membership_change(), self.store.transaction() as session:
                repo = self.store.repo(session, principal)
                row = repo.get(
                    MemberRecord, f"Member {username!r}", MemberRecord.username == username
                )
                _check_grant(principal, Role(row.role))
                session.delete(row)

    # -- usage -------------------------------------------------------------------------
    def usage(self, principal: Principal) -> dict[str, Any]:
        """Current usage next to the plan's quotas."""
        self.store.audit.authorize(principal, Permission.TENANT_READ, "tenant.usage")
        with self.store.session() as session:
            repo = self.store.repo(session, principal)
            quotas = self.store.quotas(session, principal)
            api_calls = self.store.usage.calls_this_month(principal.tenant)
            used = {
                "members": repo.count(MemberRecord),
                "datasets": repo.dataset_count(),
                "models": repo.count(ModelRecord),
                "storage_bytes": repo.stored_bytes(),
                "api_calls_per_month": api_calls,
            }
            return {
                "plan": self.store.tenant_record(session, principal.tenant).plan,
                "period": current_period(),
                "used": used,
                "quotas": quotas.to_dict(),
            }


def _check_grant(principal: Principal, role: Role) -> None:
    if principal.platform_owner:
        return
    if not can_grant(principal.role, role):
        raise Forbidden(
            f"A {principal.role.value} cannot manage members with role '{role.value}': "
            "only roles below your own.",
            role=role.value,
        )


def _check_username(username: object) -> str:
    if not isinstance(username, str) or not username.strip() or len(username) > 200:
        raise Invalid("A username must be a non-empty string of at most 200 characters.")
    if any(ord(c) < 32 for c in username):
        raise Invalid("A username cannot contain control characters.")
    return username.strip()


def _check_branding(branding: Mapping[str, Any]) -> dict[str, Any]:
    import re

    out: dict[str, Any] = {}
    for key, value in branding.items():
        if value is None:
            out[key] = None
            continue
        if not isinstance(value, str) or len(value) > 2000:
            raise Invalid(f"Branding field {key!r} must be a string of at most 2000 characters.")
        if key.endswith("_color") and not re.fullmatch(r"#[0-9a-fA-F]{6}", value):
            raise Invalid(f"Branding field {key!r} must be a colour like '#1f6feb'.")
        if key == "logo_url" and not re.match(
            r"^(https://|data:image/(png|svg\+xml|jpeg);base64,)", value
        ):
            raise Invalid("The logo must be an https:// URL or a base64 data:image URL.")
        out[key] = value
    return out
