"""Operator tasks on a store's bytes: sweeping what no version refers to, and verifying
that every version's file is there with the recorded SHA-256 (``astralytiq sweep|verify``).

The sweep is safe beside live writers, through any number of processes sharing the store:

* Each write has a key of its own, so a file left by a crashed writer is never where a
  later version's file goes.
* A writer renames its file into place and records it in one transaction that holds its
  tenant's write lock; the sweep checks each candidate again under that lock right before
  deleting it, so it sees the file either recorded or abandoned, never in between.
* Temporary files of writes in flight are never taken: on a local disk their writer holds
  a lock on them, anywhere they are younger than ``min_age_seconds``.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from sqlalchemy import select
from sqlalchemy.orm import Session

from .models import (
    DatasetRecord,
    DatasetVersionRecord,
    ModelRecord,
    ModelVersionRecord,
    TenantRecord,
)
from .repository import TenantRepository
from .storage import is_temp, key_tenant

if TYPE_CHECKING:
    from .store import Store

_KEY_COLUMNS = (
    DatasetVersionRecord.storage_key,
    ModelVersionRecord.storage_key,
    ModelVersionRecord.compiled_key,
)


def referenced_keys(store: Store) -> set[str]:
    """Every key a version row names (a snapshot: the sweep only uses it to skip files
    that are certainly in use)."""
    keys: set[str] = set()
    with store.session() as session:
        for column in _KEY_COLUMNS:
            keys.update(k for k in session.scalars(select(column)) if k)
    return keys


def _is_referenced(session: Session, tenant_id: str, key: str) -> bool:
    for column in _KEY_COLUMNS:
        table = column.class_
        stmt = select(table.id).where(table.tenant_id == tenant_id, column == key).limit(1)
        if session.scalar(stmt) is not None:
            return True
    return False


@dataclass
class SweepReport:
    """What a sweep removed (keys and empty folders) and what it left to live writers."""

    removed: list[str] = field(default_factory=list)
    folders: list[str] = field(default_factory=list)
    in_flight: int = 0


def sweep(store: Store, min_age_seconds: float = 3600.0, *, temp_only: bool = False) -> SweepReport:
    """Delete files no version refers to (left by crashed or rolled-back writers), older
    than ``min_age_seconds``, then the empty folders of the layout. ``temp_only`` limits
    it to temporary files (what a server does on its own, see ``cleanup_seconds``)."""
    report = SweepReport()
    if not store.bound:
        return report  # a new, empty store: nothing is anyone's yet
    storage = store.storage
    cutoff = time.time() - max(0.0, min_age_seconds)
    known = set() if temp_only else referenced_keys(store)
    for key, mtime in list(storage.iter_objects()):
        if mtime > cutoff:
            continue
        if is_temp(key):
            if storage.remove_temp(key):
                report.removed.append(key)
            else:
                report.in_flight += 1
        elif not temp_only and key not in known and _remove_orphan(store, key):
            report.removed.append(key)
    report.folders = storage.prune_empty_dirs()
    return report


def _remove_orphan(store: Store, key: str) -> bool:
    """Delete ``key`` if, with its tenant's writers held off, no version names it."""
    tenant_id = key_tenant(key)
    with store.transaction() as session:
        TenantRepository(session, tenant_id).lock_tenant()
        if _is_referenced(session, tenant_id, key):
            return False
        # Inside the lock: no writer can record this key while it goes.
        store.storage.remove(key)
    return True


@dataclass(frozen=True)
class Problem:
    """One version whose file is missing or differs from what was recorded."""

    tenant: str
    what: str  # e.g. "dataset sales@3", "compiled model churn@2"
    key: str
    issue: str  # "missing" or "corrupt"
    detail: str = ""

    def __str__(self) -> str:
        text = f"{self.tenant}/{self.what}: {self.issue.upper()} ({self.key})"
        return f"{text}: {self.detail}" if self.detail else text


@dataclass
class VerifyReport:
    checked: int = 0
    problems: list[Problem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def verify(store: Store, tenant: str | None = None) -> VerifyReport:
    """Read every version's file (datasets, model artifacts, compiled models), of one
    tenant (slug) or all, and compare its SHA-256 and size with the recorded ones."""
    report = VerifyReport()
    for slug, what, key, sha256, size in _recorded_files(store, tenant):
        report.checked += 1
        try:
            found_size, found_sha = store.storage.hash(key)
        except FileNotFoundError:
            report.problems.append(Problem(slug, what, key, "missing"))
            continue
        if found_sha != sha256:
            report.problems.append(
                Problem(
                    slug,
                    what,
                    key,
                    "corrupt",
                    f"{found_size} bytes with SHA-256 {found_sha}; recorded: {size} bytes "
                    f"with SHA-256 {sha256}",
                )
            )
    return report


def _recorded_files(store: Store, tenant: str | None) -> Iterator[tuple[str, str, str, str, int]]:
    """``(tenant slug, what, key, sha256, size)`` of every stored file a version records."""
    with store.session() as session:
        datasets = (
            select(
                TenantRecord.slug,
                DatasetRecord.name,
                DatasetVersionRecord.version,
                DatasetVersionRecord.storage_key,
                DatasetVersionRecord.sha256,
                DatasetVersionRecord.size_bytes,
            )
            .join(DatasetRecord, DatasetRecord.id == DatasetVersionRecord.dataset_id)
            .join(TenantRecord, TenantRecord.id == DatasetVersionRecord.tenant_id)
            .order_by(TenantRecord.slug, DatasetRecord.name, DatasetVersionRecord.version)
        )
        models = (
            select(
                TenantRecord.slug,
                ModelRecord.name,
                ModelVersionRecord.version,
                ModelVersionRecord.storage_key,
                ModelVersionRecord.sha256,
                ModelVersionRecord.size_bytes,
                ModelVersionRecord.compiled_key,
                ModelVersionRecord.compiled_sha256,
                ModelVersionRecord.compiled_bytes,
            )
            .join(ModelRecord, ModelRecord.id == ModelVersionRecord.model_id)
            .join(TenantRecord, TenantRecord.id == ModelVersionRecord.tenant_id)
            .order_by(TenantRecord.slug, ModelRecord.name, ModelVersionRecord.version)
        )
        if tenant is not None:
            datasets = datasets.where(TenantRecord.slug == tenant)
            models = models.where(TenantRecord.slug == tenant)
        dataset_rows = list(session.execute(datasets))
        model_rows = list(session.execute(models))
    for slug, name, number, key, sha256, size in dataset_rows:
        yield slug, f"dataset {name}@{number}", key, sha256, size
    for slug, name, number, key, sha256, size, ckey, csha, csize in model_rows:
        yield slug, f"model {name}@{number}", key, sha256, size
        if ckey and csha:
            yield slug, f"compiled model {name}@{number}", ckey, csha, csize
