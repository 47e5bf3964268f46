"""The store: one metadata database plus one byte storage, and the services over them.

``Store`` is what the server extension and the local client hold. It is safe to share
between threads; every service call opens its own short transaction.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cached_property
from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from . import db, identity
from .audit import AuditLog
from .config import StoreConfig
from .dashboards import DashboardService
from .errors import Conflict, Invalid, NotFound
from .models import MemberRecord, TenantRecord
from .permissions import Principal, Role
from .repository import TenantRepository
from .storage import Storage
from .tenancy import PLANS, Quotas, TenantService, quotas_for
from .tokens import TokenService
from .training_slots import TrainingSlots

if TYPE_CHECKING:
    from .datasets import DatasetService
    from .maintenance import VerifyReport
    from .recipebook import RecipeBook
    from .registry import ModelRegistry
    from .training_runs import TrainingRuns


class Store:
    """Open (and, for the embedded store, migrate) the metadata database and storage.

    The two must be halves of one store (``core.identity``): otherwise opening raises
    :class:`StoreMismatch`. A new, empty storage is bound to the database unless
    ``adopt_new_storage`` is off (maintenance commands); ``bound`` then says False."""

    def __init__(
        self, config: StoreConfig | None = None, *, adopt_new_storage: bool = True
    ) -> None:
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
        try:
            self.bound = identity.bind(self, adopt_new=adopt_new_storage)
        except BaseException:
            self.engine.dispose()
            raise
        self.audit = AuditLog(self)
        self.tenants = TenantService(self)
        self.tokens = TokenService(self)
        self.dashboards = DashboardService(self)
        self.training_slots = TrainingSlots(self)
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
        """Create the tenant if missing (bootstrap of ``default``); returns its id. Safe
        when several processes bootstrap one database at once: all get the one tenant."""
        if plan not in PLANS:
            raise Invalid(f"Unknown plan {plan!r}.")
        stmt = select(TenantRecord.id).where(TenantRecord.slug == slug)
        with self.session() as session:
            found = session.scalar(stmt)
        if found is None:
            row = TenantRecord(slug=slug, display_name=display_name or slug, plan=plan)
            found = self._insert_once(row, stmt)
        return found

    def ensure_member(self, tenant: str, username: str, role: Role) -> Role:
        """Make ``username`` a member of ``tenant`` if they are not; returns their role
        (safe under concurrency like :meth:`ensure_tenant`)."""
        with self.session() as session:
            tenant_id = self.tenant_record(session, tenant).id
            stmt = select(MemberRecord.role).where(
                MemberRecord.tenant_id == tenant_id, MemberRecord.username == username
            )
            found = session.scalar(stmt)
        if found is None:
            self.membership_epoch += 1
            row = MemberRecord(
                tenant_id=tenant_id, username=username, role=role.value, created_by="bootstrap"
            )
            found = self._insert_once(row, stmt)
        return Role(found)

    def _insert_once(self, row: Any, existing: Any) -> Any:
        """Insert ``row`` and return ``existing`` (a scalar query of it); if another process
        inserted the same unique row first, return theirs. The insert is the transaction's
        first statement: SQLite then waits for its write lock instead of failing on a stale
        read."""
        try:
            with self.transaction() as session:
                session.add(row)
                session.flush()
        except IntegrityError:
            pass  # made by another process between our read and our insert
        with self.session() as session:
            found = session.scalar(existing)
        if found is None:  # pragma: no cover - the row was deleted again at once
            raise Conflict("A concurrent change removed the row being created; try again.")
        return found

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

    # -- maintenance (see core.maintenance) ---------------------------------------------
    def sweep_orphans(self, min_age_seconds: float = 3600.0) -> list[str]:
        """Delete stored files no version refers to, older than ``min_age_seconds``, and
        the empty folders left; returns the deleted keys. Safe beside live writers."""
        from .maintenance import sweep

        return sweep(self, min_age_seconds).removed

    def verify(self, tenant: str | None = None) -> VerifyReport:
        """Check every version's stored file: present, with the recorded SHA-256."""
        from .maintenance import verify

        return verify(self, tenant)

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()
