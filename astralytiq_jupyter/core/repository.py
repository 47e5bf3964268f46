"""Tenant-scoped data access.

Every query of a tenant-owned table goes through :class:`TenantRepository`, which adds the
``tenant_id`` condition; a row of another tenant is therefore indistinguishable from a row
that does not exist, and callers report both as :class:`NotFound`.
"""

from __future__ import annotations

from typing import Any, TypeVar

from sqlalchemy import Select, func, select, update
from sqlalchemy.orm import Session

from .errors import NotFound
from .limits import check_int
from .models import (
    DatasetRecord,
    DatasetVersionRecord,
    ModelVersionRecord,
    TenantRecord,
    VersionCounterRecord,
)

T = TypeVar("T")

MAX_PAGE = 1000
MAX_OFFSET = 10**9  # beyond any listing, and within every database's integers


def check_page(limit: int, offset: int) -> None:
    """The paging rule of every listing: 1..MAX_PAGE items from an offset of 0..MAX_OFFSET."""
    check_int(limit, "limit", 1, MAX_PAGE)
    check_int(offset, "offset", 0, MAX_OFFSET)


class TenantRepository:
    """Queries bound to one session and one tenant."""

    def __init__(self, session: Session, tenant_id: str) -> None:
        self.session = session
        self.tenant_id = tenant_id

    def select(self, model: type[T], *columns: Any) -> Select[Any]:
        """``SELECT model`` (or the given columns) restricted to this tenant."""
        stmt = select(*columns) if columns else select(model)
        return stmt.where(model.tenant_id == self.tenant_id)  # type: ignore[attr-defined]

    def one_or_none(self, model: type[T], *conditions: Any) -> T | None:
        return self.session.scalars(self.select(model).where(*conditions)).first()

    def get(self, model: type[T], what: str, *conditions: Any) -> T:
        row = self.one_or_none(model, *conditions)
        if row is None:
            raise NotFound(f"{what} not found.")
        return row

    def count(self, model: type[Any], *conditions: Any) -> int:
        stmt = self.select(model, func.count()).where(*conditions)
        return int(self.session.scalar(stmt) or 0)

    def add(self, row: Any) -> Any:
        if getattr(row, "tenant_id", None) not in (None, self.tenant_id):
            raise ValueError("row belongs to another tenant")
        row.tenant_id = self.tenant_id
        self.session.add(row)
        return row

    def named(
        self, model: type[T], name: str, *, new_id: str, description: str | None, user: str
    ) -> T:
        """The dataset/model row called ``name``, created with ``new_id`` if missing (the id
        its staged bytes were written under); a given ``description`` replaces the old one."""
        row = self.one_or_none(model, model.name == name)  # type: ignore[attr-defined]
        if row is None:
            row = self.add(
                model(id=new_id, name=name, description=description or "", created_by=user)
            )
            self.session.flush()
        elif description is not None:
            row.description = description  # type: ignore[attr-defined]
        return row

    def next_version(self, kind: str, name: str, owner_column: Any, owner_id: str) -> int:
        """The next version number of dataset or model ``name`` (``kind`` is "datasets" or
        "models"; call with the tenant locked). Numbers come from a counter per name that
        outlives deletes, so a number, once given, never names other data."""
        version_model = owner_column.class_
        top = self.session.scalar(
            self.select(version_model, func.max(version_model.version)).where(
                owner_column == owner_id
            )
        )
        counter = self.one_or_none(
            VersionCounterRecord,
            VersionCounterRecord.kind == kind,
            VersionCounterRecord.name == name,
        )
        if counter is None:
            counter = self.add(VersionCounterRecord(kind=kind, name=name, last_version=0))
        counter.last_version = max(counter.last_version, int(top or 0)) + 1
        return counter.last_version

    def lock_tenant(self) -> None:
        """Serialise writers of this tenant until the transaction ends.

        An UPDATE takes a row lock on PostgreSQL and the database write lock on SQLite, so
        quota checks and version numbering that follow see every committed write.
        """
        self.session.execute(
            update(TenantRecord)
            .where(TenantRecord.id == self.tenant_id)
            .values(write_seq=TenantRecord.write_seq + 1)
        )

    def stored_bytes(self) -> int:
        """Bytes this tenant stores: the one definition the storage quota uses."""
        total = 0
        for column in (
            DatasetVersionRecord.size_bytes,
            ModelVersionRecord.size_bytes,
            ModelVersionRecord.compiled_bytes,
        ):
            stmt = self.select(column.class_, func.sum(column))
            total += int(self.session.scalar(stmt) or 0)
        return total

    def dataset_count(self) -> int:
        return self.count(DatasetRecord)
