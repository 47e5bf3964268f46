"""Schema migrations: the shipped Alembic history builds exactly the ORM schema."""

from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect

from astralytiq_jupyter import cli
from astralytiq_jupyter.core import db
from astralytiq_jupyter.core.config import StoreConfig
from astralytiq_jupyter.core.errors import Invalid
from astralytiq_jupyter.core.models import Base
from astralytiq_jupyter.core.store import Store


def test_migrations_build_the_orm_schema(database_url, tmp_path):
    engine = db.make_engine(database_url or f"sqlite:///{tmp_path / 'm.db'}")
    try:
        db.upgrade(engine)
        assert db.is_current(engine)
        with engine.connect() as conn:
            diff = compare_metadata(
                MigrationContext.configure(conn, opts={"compare_type": True}), Base.metadata
            )
        assert diff == []
        db.upgrade(engine)  # idempotent
        assert set(Base.metadata.tables) <= set(inspect(engine).get_table_names())
    finally:
        engine.dispose()


def test_embedded_store_migrates_itself(tmp_path):
    with Store(StoreConfig(home=tmp_path)) as store:
        assert db.is_current(store.engine)
    assert (tmp_path / "astralytiq.db").exists()


def test_shared_database_must_be_migrated_explicitly(tmp_path, capsys):
    url = f"sqlite:///{tmp_path / 'shared.db'}"
    with pytest.raises(Invalid, match="astralytiq db upgrade"):
        Store(StoreConfig(home=tmp_path, database_url=url))
    assert cli.main(["--database-url", url, "db", "upgrade"]) == 0
    assert "Schema at revision" in capsys.readouterr().out
    with Store(StoreConfig(home=tmp_path, database_url=url)) as store:
        assert db.is_current(store.engine)
    cli.main(["--database-url", url, "db", "current"])
    assert db.head_revision() in capsys.readouterr().out


def test_bad_database_url_is_invalid():
    with pytest.raises(Invalid, match="database URL"):
        db.make_engine("not a url")
