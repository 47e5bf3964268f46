"""The audit log: every mutating action and every denied access, per tenant."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from .errors import AstralytiqError, Forbidden, Invalid
from .limits import check_time
from .models import AuditEventRecord, TenantRecord
from .permissions import Permission, Principal, require
from .repository import check_page

if TYPE_CHECKING:
    from .store import Store

OUTCOMES = ("ok", "denied", "error")


@dataclass(frozen=True)
class AuditEvent:
    id: int
    tenant: str | None
    actor: str
    action: str
    resource: str
    outcome: str
    detail: dict[str, Any]
    created_at: datetime

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "tenant": self.tenant,
            "actor": self.actor,
            "action": self.action,
            "resource": self.resource,
            "outcome": self.outcome,
            "detail": self.detail,
            "created_at": self.created_at.isoformat(),
        }


@dataclass
class AuditAction:
    """What a running action will record; the body may refine ``resource`` and ``detail``."""

    resource: str
    detail: dict[str, Any] = field(default_factory=dict)


class AuditLog:
    def __init__(self, store: Store) -> None:
        self.store = store

    @contextmanager
    def action(
        self, principal: Principal, action: str, resource: str = "", **detail: Any
    ) -> Iterator[AuditAction]:
        """Run a mutating action and record its outcome: ``ok``, ``denied`` (Forbidden) or
        ``error`` (any other failure, with its message)."""
        act = AuditAction(resource, dict(detail))
        try:
            yield act
        except Forbidden as exc:
            self.record(
                principal, action, act.resource, "denied", {**act.detail, "reason": exc.message}
            )
            raise
        except AstralytiqError as exc:
            self.record(
                principal,
                action,
                act.resource,
                "error",
                {**act.detail, "error": exc.code, "reason": exc.message},
            )
            raise
        except Exception as exc:
            self.record(
                principal,
                action,
                act.resource,
                "error",
                {**act.detail, "error": type(exc).__name__},
            )
            raise
        else:
            self.record(principal, action, act.resource, "ok", act.detail)

    def record(
        self, principal: Principal, action: str, resource: str, outcome: str, detail: dict[str, Any]
    ) -> None:
        """Write one event in its own transaction (it must survive the action's rollback)."""
        with self.store.transaction() as session:
            tenant_id = session.scalar(
                select(TenantRecord.id).where(TenantRecord.slug == principal.tenant)
            )
            session.add(
                AuditEventRecord(
                    tenant_id=tenant_id,
                    actor=_text(principal.user)[:200],
                    action=_text(action)[:64],
                    resource=_text(resource)[:255],
                    outcome=outcome,
                    detail=_jsonable(detail),
                )
            )

    def authorize(
        self, principal: Principal, permission: Permission, action: str, resource: str = ""
    ) -> None:
        """:func:`~.permissions.require` for reads: a refusal is recorded as ``denied``."""
        try:
            require(principal, permission)
        except Forbidden as exc:
            self.record(principal, action, resource, "denied", {"reason": exc.message})
            raise

    def denied(self, principal: Principal, action: str, resource: str, reason: str) -> None:
        """Record an access refused before any service ran (e.g. by the server's authorizer)."""
        self.record(principal, action, resource, "denied", {"reason": reason})

    def list(
        self,
        principal: Principal,
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
        """Events of the principal's tenant, newest first (admins only)."""
        self.authorize(principal, Permission.AUDIT_READ, "audit.list")
        if outcome is not None and outcome not in OUTCOMES:
            raise Invalid(f"Unknown outcome {outcome!r}; expected one of: {', '.join(OUTCOMES)}.")
        check_page(limit, offset)
        since = check_time(since, "since") if since is not None else None
        until = check_time(until, "until") if until is not None else None
        with self.store.session() as session:
            repo = self.store.repo(session, principal)
            stmt = repo.select(AuditEventRecord)
            if action:
                stmt = stmt.where(AuditEventRecord.action == action)
            if actor:
                stmt = stmt.where(AuditEventRecord.actor == actor)
            if outcome:
                stmt = stmt.where(AuditEventRecord.outcome == outcome)
            if resource:
                stmt = stmt.where(AuditEventRecord.resource == resource)
            if since:
                stmt = stmt.where(AuditEventRecord.created_at >= since)
            if until:
                stmt = stmt.where(AuditEventRecord.created_at < until)
            stmt = stmt.order_by(AuditEventRecord.id.desc()).limit(limit).offset(offset)
            return [
                AuditEvent(
                    r.id,
                    principal.tenant,
                    r.actor,
                    r.action,
                    r.resource,
                    r.outcome,
                    dict(r.detail or {}),
                    r.created_at,
                )
                for r in session.scalars(stmt)
            ]


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, str):
        return _text(value)
    if value is None or isinstance(value, (bool, int, float)):
        return value
    return _text(str(value))


def _text(value: str) -> str:
    """Make attacker-supplied text storable and readable: PostgreSQL refuses NUL bytes,
    and control characters would garble log views."""
    if value.isprintable():
        return value
    return "".join(ch if ch.isprintable() else repr(ch)[1:-1] for ch in value)
