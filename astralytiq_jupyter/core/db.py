"""Engine, sessions and schema migrations of the metadata store."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, create_engine, event, inspect, text
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import NullPool

from .errors import Invalid

MIGRATIONS_DIR = Path(__file__).parent / "migrations"


def make_engine(url: str) -> Engine:
    """Create an engine; SQLite gets WAL, foreign keys and a generous busy timeout so
    several kernels and the server can share one embedded store."""
    try:
        parsed = make_url(url)
    except Exception as exc:
        raise Invalid(f"Not a valid database URL: {exc}") from None
    kwargs: dict[str, Any] = {"pool_pre_ping": True}
    if parsed.get_backend_name() == "sqlite":
        database = parsed.database
        if database and database != ":memory:":
            Path(database).parent.mkdir(parents=True, exist_ok=True)
        kwargs["connect_args"] = {"timeout": 60, "check_same_thread": False}
    engine = create_engine(parsed, **kwargs)
    if parsed.get_backend_name() == "sqlite":
        event.listen(engine, "connect", _sqlite_pragmas)
    return engine


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    _use_wal(cursor)
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def _use_wal(cursor: Any, wait: float = 60.0) -> None:
    """Put the database in WAL mode (a setting kept in the file, so only its first
    connection changes it). Changing the journal mode needs the database to itself and
    SQLite answers "locked" at once rather than waiting its busy timeout: a fresh database
    opened by several processes together retries here until one of them has switched it."""
    deadline = time.monotonic() + wait
    while True:
        if cursor.execute("PRAGMA journal_mode").fetchone()[0].lower() == "wal":
            return
        try:
            cursor.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(0.02)


def make_session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)


@contextmanager
def transaction(factory: sessionmaker[Session]) -> Iterator[Session]:
    """A session whose work commits on success and rolls back on any exception."""
    with factory() as session, session.begin():
        yield session


def _alembic_config(engine: Engine) -> Any:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    # ConfigParser interpolates '%': URL-encoded options (e.g. search_path) must be escaped.
    url = engine.url.render_as_string(hide_password=False).replace("%", "%%")
    config.set_main_option("sqlalchemy.url", url)
    return config


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Bring the schema to ``revision`` (default: the newest shipped migration).

    Processes starting at once on a fresh database (two servers, or kernels of the
    embedded store) migrate one after the other: the others wait, then find it done."""
    from alembic import command

    config = _alembic_config(engine)
    with _migration_lock(engine) as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, revision)


@contextmanager
def _migration_lock(engine: Engine) -> Iterator[Connection]:
    """A transaction that holds the database's migration lock from its first statement:
    a PostgreSQL advisory lock (per schema), or SQLite's write lock (``BEGIN IMMEDIATE``:
    pysqlite would otherwise run the DDL outside any transaction, and two migrators would
    both create the same tables)."""
    database = engine.url.database
    if engine.dialect.name != "sqlite" or not database or database == ":memory:":
        with engine.begin() as connection:
            if engine.dialect.name == "postgresql":
                connection.execute(
                    text(
                        "SELECT pg_advisory_xact_lock("
                        "hashtext('astralytiq.migrate.' || coalesce(current_schema(), '')))"
                    )
                )
            yield connection
        return
    locked = create_engine(
        engine.url,
        poolclass=NullPool,
        connect_args={"timeout": 60, "check_same_thread": False},
    )

    @event.listens_for(locked, "connect")
    def _connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # transactions are begun below, not by pysqlite
        cursor = dbapi_connection.cursor()
        _use_wal(cursor)
        # Batch migrations copy and drop tables: cascades must not fire while they do.
        cursor.execute("PRAGMA foreign_keys=OFF")
        cursor.close()

    @event.listens_for(locked, "begin")
    def _begin(connection: Connection) -> None:
        connection.exec_driver_sql("BEGIN IMMEDIATE")

    try:
        with locked.begin() as connection:
            yield connection
    finally:
        locked.dispose()


def current_revision(engine: Engine) -> str | None:
    from alembic.runtime.migration import MigrationContext

    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def head_revision() -> str:
    from alembic.script import ScriptDirectory

    config = _alembic_config(make_engine("sqlite://"))
    head = ScriptDirectory.from_config(config).get_current_head()
    assert head is not None
    return head


def is_current(engine: Engine) -> bool:
    return current_revision(engine) == head_revision()


def has_schema(engine: Engine) -> bool:
    return "tenants" in inspect(engine).get_table_names()
