"""The store: one metadata database plus one byte storage, and the services over them.

``Store`` is what the server extension and the local client hold. It is safe to share
between threads; every service call opens its own short transaction.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cached_property
from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from . import db
from .audit import AuditLog
from .config import StoreConfig
from .dashboards import DashboardService
from .errors import Invalid, NotFound
from .models import DatasetVersionRecord, MemberRecord, ModelVersionRecord, TenantRecord
from .permissions import Principal, Role
from .repository import TenantRepository
from .storage import Storage
from .tenancy import PLANS, Quotas, TenantService, quotas_for
from .tokens import TokenService

if TYPE_CHECKING:
    from .datasets import DatasetService
    from .recipebook import RecipeBook
    from .registry import ModelRegistry
    from .training_runs import TrainingRuns


class Store:
    """Open (and, for the embedded store, migrate) the metadata database and storage."""

    def __init__(self, config: StoreConfig | None = None) -> None:
        self.config = config or StoreConfig()
        self.engine = db.make_engine(self.config.resolved_database_url)
        auto = self.config.auto_migrate
        if auto is None:
            auto = self.config.embedded
        if auto:
            db.upgrade(self.engine)
        elif not db.is_current(self.engine):
            raise Invalid(
                "The metadata database schema is not up to date (revision "
                f"{db.current_revision(self.engine)!r}, expected {db.head_revision()!r}). "
                "Run `astralytiq db upgrade --database-url ...` to migrate it."
            )
        self._sessions = db.make_session_factory(self.engine)
        self._tenant_ids: dict[str, str] = {}
        # Bumped on every membership or role change, so that caches of resolved principals
        # in this process are invalidated at once.
        self.membership_epoch = 0
        self.storage = Storage(self.config.resolved_storage_url)
        self.audit = AuditLog(self)
        self.tenants = TenantService(self)
        self.tokens = TokenService(self)
        self.dashboards = DashboardService(self)
        self._lazy_lock = threading.Lock()
        from .usage import UsageMeter

        self.usage = UsageMeter(self)

    # The data and ML services are built on first use: their modules pull in pyarrow's
    # readers, scikit-learn and skops, which a process that only lists or predicts from a
    # REST client, or a kernel that only ingests, should not pay for at start.
    @cached_property
    def datasets(self) -> DatasetService:
        from .datasets import DatasetService

        with self._lazy_lock:
            return self.__dict__.get("datasets") or DatasetService(self)

    @cached_property
    def recipes(self) -> RecipeBook:
        from .recipebook import RecipeBook

        with self._lazy_lock:
            return self.__dict__.get("recipes") or RecipeBook(self)

    @cached_property
    def models(self) -> ModelRegistry:
        from .registry import ModelRegistry

        with self._lazy_lock:
            return self.__dict__.get("models") or ModelRegistry(self)

    @cached_property
    def training(self) -> TrainingRuns:
        from .training_runs import TrainingRuns

        with self._lazy_lock:
            return self.__dict__.get("training") or TrainingRuns(self)

    def close(self) -> None:
        self.engine.dispose()

    # -- sessions ----------------------------------------------------------------------
    @contextmanager
    def session(self) -> Iterator[Session]:
        """A read session (nothing it does is committed)."""
        with self._sessions() as session:
            yield session

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        with db.transaction(self._sessions) as session:
            yield session

    @contextmanager
    def membership_change(self) -> Iterator[None]:
        """Wrap (outside its transaction) any write to members or tenants: on exit, after
        the commit, in-process caches of resolved principals are invalidated."""
        try:
            yield
        finally:
            self.membership_epoch += 1

    # -- tenants -----------------------------------------------------------------------
    def tenant_record(self, session: Session, slug: str) -> TenantRecord:
        row = session.scalars(select(TenantRecord).where(TenantRecord.slug == slug)).first()
        if row is None:
            raise NotFound(f"Tenant {slug!r} not found.")
        return row

    def repo(self, session: Session, principal: Principal) -> TenantRepository:
        return TenantRepository(session, self.tenant_id(session, principal.tenant))

    def tenant_id(self, session: Session, slug: str) -> str:
        """The id of tenant ``slug``. Ids and slugs never change, so found ones are cached:
        every request resolves its tenant, and this saves it a query."""
        found = self._tenant_ids.get(slug)
        if found is None:
            found = self._tenant_ids[slug] = self.tenant_record(session, slug).id
        return found

    def quotas(self, session: Session, principal: Principal) -> Quotas:
        return quotas_for(self.tenant_record(session, principal.tenant))

    def ensure_tenant(
        self, slug: str, display_name: str | None = None, plan: str = "enterprise"
    ) -> str:
        """Create the tenant if missing (bootstrap of ``default``); returns its id."""
        with self.transaction() as session:
            row = session.scalars(select(TenantRecord).where(TenantRecord.slug == slug)).first()
            if row is None:
                if plan not in PLANS:
                    raise Invalid(f"Unknown plan {plan!r}.")
                row = TenantRecord(slug=slug, display_name=display_name or slug, plan=plan)
                session.add(row)
                session.flush()
            return row.id

    def ensure_member(self, tenant: str, username: str, role: Role) -> Role:
        """Make ``username`` a member of ``tenant`` if they are not; returns their role."""
        with self.transaction() as session:
            tenant_id = self.tenant_record(session, tenant).id
            row = session.scalars(
                select(MemberRecord).where(
                    MemberRecord.tenant_id == tenant_id, MemberRecord.username == username
                )
            ).first()
            if row is None:
                self.membership_epoch += 1
                row = MemberRecord(
                    tenant_id=tenant_id, username=username, role=role.value, created_by="bootstrap"
                )
                session.add(row)
            return Role(row.role)

    def member_role(self, tenant: str, username: str) -> Role | None:
        with self.session() as session:
            role = session.scalar(
                select(MemberRecord.role)
                .join(TenantRecord, TenantRecord.id == MemberRecord.tenant_id)
                .where(TenantRecord.slug == tenant, MemberRecord.username == username)
            )
            return Role(role) if role else None

    def memberships(self, username: str) -> list[tuple[str, Role]]:
        with self.session() as session:
            rows = session.execute(
                select(TenantRecord.slug, MemberRecord.role)
                .join(TenantRecord, TenantRecord.id == MemberRecord.tenant_id)
                .where(MemberRecord.username == username)
                .order_by(TenantRecord.slug)
            )
            return [(slug, Role(role)) for slug, role in rows]

    # -- maintenance -------------------------------------------------------------------
    def referenced_keys(self) -> set[str]:
        with self.session() as session:
            keys = set(session.scalars(select(DatasetVersionRecord.storage_key)))
            keys |= set(session.scalars(select(ModelVersionRecord.storage_key)))
            keys |= set(
                session.scalars(
                    select(ModelVersionRecord.compiled_key).where(
                        ModelVersionRecord.compiled_key.is_not(None)
                    )
                )
            )
        return keys

    def sweep_orphans(self, min_age_seconds: float = 3600.0) -> list[str]:
        """Delete stored files no committed row refers to (crashed or rolled-back writes).

        Files younger than ``min_age_seconds`` are kept: they may belong to a write that is
        still in flight in another process.
        """
        referenced = self.referenced_keys()
        cutoff = time.time() - min_age_seconds
        removed = []
        for key, mtime in list(self.storage.iter_objects()):
            if key not in referenced and mtime <= cutoff:
                self.storage.remove(key)
                removed.append(key)
        return removed

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()
