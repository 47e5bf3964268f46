"""Shared fixtures: every store-backed test runs on SQLite and, when
``ASTRALYTIQ_TEST_DATABASE_URL`` is set, on PostgreSQL (a fresh schema per test)."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from astralytiq_jupyter.client import LocalBackend, Workspace
from astralytiq_jupyter.core.config import StoreConfig
from astralytiq_jupyter.core.permissions import Principal, Role
from astralytiq_jupyter.core.storage import MARKER
from astralytiq_jupyter.core.store import Store

PG_URL = os.environ.get("ASTRALYTIQ_TEST_DATABASE_URL")
BACKENDS = ["sqlite"] + (["postgresql"] if PG_URL else [])


@contextmanager
def pg_schema(prefix: str = "t") -> Iterator[str]:
    """A throwaway PostgreSQL schema of the test database, as a URL whose search path is it;
    dropped with all it holds afterwards."""
    assert PG_URL is not None
    schema = f"{prefix}_{uuid.uuid4().hex[:16]}"
    admin = create_engine(PG_URL)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    url = make_url(PG_URL).update_query_dict({"options": f"-csearch_path={schema}"})
    try:
        yield url.render_as_string(hide_password=False)
    finally:
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


@pytest.fixture(params=BACKENDS)
def database_url(request: pytest.FixtureRequest) -> Iterator[str | None]:
    """``None`` for the embedded SQLite default, else a URL bound to a throwaway PG schema."""
    if request.param == "sqlite":
        yield None
        return
    with pg_schema() as url:
        yield url


@pytest.fixture
def store_config(tmp_path: Path, database_url: str | None) -> StoreConfig:
    return StoreConfig(home=tmp_path / "home", database_url=database_url, auto_migrate=True)


@pytest.fixture
def store(store_config: StoreConfig) -> Iterator[Store]:
    with Store(store_config) as s:
        s.ensure_tenant("default", "Default workspace")
        yield s


def principal_for(
    store: Store, tenant: str, user: str, role: Role | str, plan: str = "enterprise"
) -> Principal:
    """Create ``tenant`` (if needed) and ``user`` as a member with ``role``."""
    role = Role(role)
    store.ensure_tenant(tenant, tenant.title(), plan=plan)
    store.ensure_member(tenant, user, role)
    return Principal(user=user, tenant=tenant, role=role)


def workspace_for(
    store: Store, tenant: str, user: str, role: Role | str, plan: str = "enterprise"
) -> Workspace:
    return Workspace(LocalBackend(store, principal_for(store, tenant, user, role, plan)))


@pytest.fixture
def ws(store: Store) -> Workspace:
    """The admin of tenant ``default``."""
    return workspace_for(store, "default", "alice", Role.ADMIN)


@pytest.fixture
def stored_files(store: Store):
    """A function listing every file under the storage root but the store's marker (to
    prove nothing was left)."""

    def files() -> list[str]:
        root = Path(store.storage.root)
        return sorted(
            str(p.relative_to(root)) for p in root.rglob("*") if p.is_file() and p.name != MARKER
        )

    return files
