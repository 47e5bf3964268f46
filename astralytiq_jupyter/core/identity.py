"""Which metadata database and which byte storage make one store.

The database holds a store id (``store_identity``, made by migration 0005) and the storage
root a marker file with the same id (``storage.MARKER``). A store opens only if the two
agree, so that a sweep, a server or a kernel never pairs a bucket with another store's
database (or an empty one), where every file would look orphaned.

A storage without a marker is bound the first time it is opened: at once if both halves are
new (no files, no versions), or, for a store written before markers existed, if the
database records some of the storage's files. Anything else is refused with a message
saying why.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import TYPE_CHECKING

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from .errors import StoreMismatch
from .models import (
    DatasetVersionRecord,
    ModelVersionRecord,
    StoreIdentityRecord,
    new_id,
)
from .storage import MARKER, is_temp

if TYPE_CHECKING:
    from .store import Store

_FIX = (
    "Give the database URL and the storage URL of the same store (--database-url and "
    "--storage-url, or c.AstralytiQ.database_url and c.AstralytiQ.storage_url)."
)


def database_store_id(store: Store) -> str:
    """The store id recorded in the database (made if a database lost it)."""
    with store.session() as session:
        found = session.get(StoreIdentityRecord, 1)
    if found is not None:
        return found.store_id
    try:
        with store.transaction() as session:
            session.add(StoreIdentityRecord(id=1, store_id=new_id()))
    except IntegrityError:
        pass  # another process made it first: theirs stands
    with store.session() as session:
        made = session.get(StoreIdentityRecord, 1)
        assert made is not None
        return made.store_id


def bind(store: Store, *, adopt_new: bool = True) -> bool:
    """Check that the storage belongs to the database, marking a storage that has no marker
    yet when that is safe (see the module's description). Returns whether the storage is
    bound; False only for a new store with ``adopt_new`` off (maintenance commands: they
    must not bind a new bucket to whatever database they were given). Raises
    :class:`StoreMismatch` when the two belong to different stores."""
    storage = store.storage
    store_id = database_store_id(store)
    marker = storage.read_marker()
    if marker is not None:
        _check(store, marker, store_id)
        return True
    files = [key for key, _ in storage.iter_objects() if not is_temp(key)]
    with store.session() as session:
        versions = int(session.scalar(select(func.count(DatasetVersionRecord.id))) or 0)
        versions += int(session.scalar(select(func.count(ModelVersionRecord.id))) or 0)
    if not files and not versions:
        if not adopt_new:
            return False
    elif not files:
        raise StoreMismatch(
            f"The database {_database(store)} records {versions} version(s), but the storage "
            f"at {storage.url} holds none of their files: it is not this database's storage. "
            f"{_FIX} (If the files are lost and this is the right storage, write "
            f'{{"store_id": "{store_id}"}} to {MARKER} in its root.)'
        )
    elif not versions:
        raise StoreMismatch(
            f"The storage at {storage.url} holds {len(files)} file(s) but the database "
            f"{_database(store)} records no version: they belong to another store's database. "
            f"{_FIX}"
        )
    else:
        _check_recognised(store, files)
    storage.write_marker(
        {
            "store_id": store_id,
            "database": _database(store),
            "created_at": datetime.now(timezone.utc).isoformat(),
        }
    )
    written = storage.read_marker()
    assert written is not None
    _check(store, written, store_id)
    return True


def _check(store: Store, marker: dict[str, str], store_id: str) -> None:
    if marker["store_id"] != store_id:
        raise StoreMismatch(
            f"The storage at {store.storage.url} belongs to store {marker['store_id']} "
            f"(database {marker.get('database', 'unknown')}), but the database "
            f"{_database(store)} is store {store_id}. {_FIX}",
            storage_store_id=marker["store_id"],
            database_store_id=store_id,
        )


def _check_recognised(store: Store, files: list[str]) -> None:
    """A storage written before markers: the database must record some of its files (ids
    are random, so another store's database records none)."""
    from .maintenance import referenced_keys

    if not referenced_keys(store).intersection(files):
        raise StoreMismatch(
            f"The storage at {store.storage.url} holds {len(files)} file(s), none of which "
            f"the database {_database(store)} records: they belong to another store's "
            f"database. {_FIX}"
        )


def _database(store: Store) -> str:
    return store.engine.url.render_as_string(hide_password=True)
