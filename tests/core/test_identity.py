"""A store's two halves carry one id: a storage is never swept, or served, against a
database it does not belong to; stores written before the marker adopt it safely; several
processes starting at once on a fresh database all come up."""

from __future__ import annotations

import json
import os
import threading
from contextlib import nullcontext
from dataclasses import replace
from pathlib import Path

import pandas as pd
import pytest
from alembic import command
from sqlalchemy import func, select, text

from astralytiq_jupyter import cli
from astralytiq_jupyter.core import db
from astralytiq_jupyter.core.config import StoreConfig
from astralytiq_jupyter.core.errors import StoreMismatch
from astralytiq_jupyter.core.models import (
    DatasetVersionRecord,
    MemberRecord,
    StoreIdentityRecord,
    TenantRecord,
    new_id,
)
from astralytiq_jupyter.core.permissions import Role
from astralytiq_jupyter.core.storage import MARKER, Storage
from astralytiq_jupyter.core.store import Store

from ..conftest import PG_URL, pg_schema, principal_for


def _database_url(config: StoreConfig) -> str:
    return config.resolved_database_url


def _files(root: str) -> list[str]:
    return sorted(
        str(p.relative_to(root)) for p in Path(root).rglob("*") if p.is_file() and p.name != MARKER
    )


def _store_id(store: Store) -> str:
    with store.session() as session:
        return session.scalar(select(StoreIdentityRecord.store_id))


def test_a_new_store_writes_its_id_on_both_sides(store) -> None:
    marker = store.storage.read_marker()
    assert marker["store_id"] == _store_id(store) and len(marker["store_id"]) == 32
    assert ":astralytiq@" not in marker["database"]  # a database password never gets written
    with Store(store.config) as again:  # opening again checks, and changes nothing
        assert again.bound and again.storage.read_marker() == marker


def test_sweep_with_the_wrong_database_is_refused(store_config, store, tmp_path, capsys) -> None:
    """`sweep --storage-url <a store's storage>` without its --database-url pairs it with
    an empty embedded database; the reverse pairs a database with the embedded storage.
    Both refuse, and delete nothing."""
    a = principal_for(store, "default", "alice", Role.ADMIN)
    store.datasets.save(a, pd.DataFrame({"x": [1, 2]}), "sales")
    storage = store.storage.root
    before = _files(storage)
    elsewhere = tmp_path / "elsewhere"
    code = cli.main(["--home", str(elsewhere), "sweep", "--storage-url", storage, "--min-age", "0"])
    assert code == 2
    err = capsys.readouterr().err
    assert f"The storage at {storage} belongs to store {_store_id(store)}" in err
    assert "--database-url" in err
    assert _files(storage) == before

    # The reverse: the store's database with another (embedded) store's storage.
    with Store(StoreConfig(home=elsewhere)) as embedded:
        e = principal_for(embedded, "default", "eve", Role.ADMIN)
        embedded.datasets.save(e, pd.DataFrame({"y": [3]}), "theirs")
        theirs = _files(embedded.storage.root)
    code = cli.main(
        [
            "--home",
            str(elsewhere),
            "--database-url",
            _database_url(store_config),
            "sweep",
            "--min-age",
            "0",
        ]
    )
    assert code == 2
    assert "belongs to store" in capsys.readouterr().err
    assert _files(str(elsewhere / "storage")) == theirs
    assert _files(storage) == before
    # verify refuses alike; with the right pair both work.
    assert cli.main(["--home", str(elsewhere), "verify", "--storage-url", storage]) == 2
    capsys.readouterr()
    right = ["--home", str(store_config.home)]
    if store_config.database_url:
        right += ["--database-url", store_config.database_url]
    assert cli.main([*right, "sweep", "--min-age", "0"]) == 0
    assert cli.main([*right, "verify"]) == 0
    assert _files(storage) == before


def test_a_server_will_not_open_another_stores_storage(store_config, store, tmp_path) -> None:
    other = StoreConfig(home=tmp_path / "other", storage_url=store.storage.root)
    with pytest.raises(StoreMismatch, match="belongs to store"):
        Store(other)
    assert not (tmp_path / "other" / "storage").exists()


def _unmark(store: Store) -> None:
    """Make ``store`` look like one written before markers."""
    os.unlink(os.path.join(store.storage.root, MARKER))


def test_a_store_from_before_the_marker_adopts_it(store_config, store) -> None:
    a = principal_for(store, "default", "alice", Role.ADMIN)
    store.datasets.save(a, pd.DataFrame({"x": [1]}), "sales")
    _unmark(store)
    with Store(store_config) as reopened:
        assert reopened.storage.read_marker()["store_id"] == _store_id(store)


@pytest.mark.parametrize("case", ["empty database", "unrelated database", "empty storage"])
def test_an_unmarked_pair_that_does_not_match_is_refused(store_config, store, tmp_path, case):
    a = principal_for(store, "default", "alice", Role.ADMIN)
    store.datasets.save(a, pd.DataFrame({"x": [1]}), "sales")
    if case == "empty storage":
        config = replace(store_config, storage_url=str(tmp_path / "new-bucket"))
        message = "records 1 version\\(s\\), but the storage .* holds none of their files"
    else:
        _unmark(store)
        other_home = tmp_path / "other"
        if case == "unrelated database":
            with Store(StoreConfig(home=other_home)) as unrelated:
                b = principal_for(unrelated, "default", "bob", Role.ADMIN)
                unrelated.datasets.save(b, pd.DataFrame({"y": [2]}), "theirs")
            message = "holds 1 file\\(s\\), none of which the database"
        else:
            message = "holds 1 file\\(s\\) but the database .* records no version"
        config = StoreConfig(home=other_home, storage_url=store.storage.root)
    with pytest.raises(StoreMismatch, match=message):
        Store(config)
    # Refused: no marker was written on either side.
    assert Storage(config.resolved_storage_url).read_marker() is None


def test_an_old_layout_store_keeps_working_after_the_upgrade(store_config, store) -> None:
    """A store written by the previous release: keys ``{n}.parquet``, no counters, no
    marker. After `db upgrade` it opens, adopts a marker, serves its versions, numbers on
    from its highest one, and the sweep leaves its files alone."""
    a = principal_for(store, "default", "alice", Role.ADMIN)
    for n in range(2):
        store.datasets.save(a, pd.DataFrame({"x": range(n + 1)}), "sales")
    with store.transaction() as session:  # back to the old key layout
        for row in session.scalars(select(DatasetVersionRecord)):
            old = row.storage_key.rsplit("/", 1)[0] + f"/{row.version}.parquet"
            os.replace(store.storage.path(row.storage_key), store.storage.path(old))
            row.storage_key = old
    _unmark(store)
    config = db._alembic_config(store.engine)
    with store.engine.begin() as connection:
        config.attributes["connection"] = connection
        command.downgrade(config, "0004")
    db.upgrade(store.engine)
    with store.session() as session:
        counters = list(
            session.execute(text("SELECT kind, name, last_version FROM version_counters"))
        )
    assert [tuple(c) for c in counters] == [("datasets", "sales", 2)]
    with Store(store_config) as upgraded:
        assert upgraded.storage.read_marker()["store_id"] == _store_id(upgraded)
        assert len(upgraded.datasets.load(a, "sales@2")) == 2
        v3 = upgraded.datasets.save(a, pd.DataFrame({"x": [9]}), "sales")
        assert v3.version == 3
        assert upgraded.sweep_orphans(0) == []
        assert upgraded.verify().ok and upgraded.verify().checked == 3


def _first_start(config: StoreConfig, barrier: threading.Barrier, out: list, errors: list):
    try:
        barrier.wait()
        store = Store(config)
        try:
            # What the server extension's bootstrap does.
            store.ensure_tenant("default", "Default workspace")
            out.append((store.ensure_member("default", "owner", Role.ADMIN), _store_id(store)))
        finally:
            store.close()
    except BaseException as exc:  # pragma: no cover - reported by the test
        errors.append(exc)


@pytest.mark.parametrize("backend", ["sqlite"] + (["postgresql"] if PG_URL else []))
def test_servers_starting_at_once_on_a_fresh_database(tmp_path, backend) -> None:
    """Four processes' stores open a fresh database and storage at the same moment, each
    migrating it and bootstrapping the owner: all come up, with one tenant, one member,
    one store id."""
    for attempt in range(3):
        home = tmp_path / f"try{attempt}"
        with pg_schema("start") if backend == "postgresql" else nullcontext() as url:
            config = StoreConfig(home=home, database_url=url, auto_migrate=True)
            barrier, out, errors = threading.Barrier(4), [], []
            threads = [
                threading.Thread(target=_first_start, args=(config, barrier, out, errors))
                for _ in range(4)
            ]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            assert errors == []
            assert {role for role, _ in out} == {Role.ADMIN} and len(out) == 4
            (store_id,) = {sid for _, sid in out}
            marker = json.loads((home / "storage" / MARKER).read_text())
            assert marker["store_id"] == store_id
            with Store(config) as store, store.session() as session:
                assert session.scalar(select(func.count(TenantRecord.id))) == 1
                assert session.scalar(select(func.count(MemberRecord.id))) == 1
                assert session.scalar(select(func.count(StoreIdentityRecord.id))) == 1


def test_bootstrap_that_loses_the_race_returns_the_winner(store) -> None:
    """Another process inserted the same tenant (or member) between this one's read and its
    insert: the insert's IntegrityError is taken as "made already" and the row returned."""
    tenant_id = store.ensure_tenant("acme", "Acme")
    existing = select(TenantRecord.id).where(TenantRecord.slug == "acme")
    late = TenantRecord(slug="acme", display_name="Mine", plan="enterprise")
    assert store._insert_once(late, existing) == tenant_id
    assert store.ensure_member("acme", "ann", Role.VIEWER) is Role.VIEWER
    role = select(MemberRecord.role).where(MemberRecord.username == "ann")
    late_member = MemberRecord(tenant_id=tenant_id, username="ann", role="admin")
    assert store._insert_once(late_member, role) == "viewer"  # never changes a role
    with store.session() as session:
        assert session.scalar(select(func.count(TenantRecord.id))) == 2  # default and acme


def test_an_object_store_is_bound_swept_and_refused_alike(store_config, tmp_path, capsys):
    """The same rules on a non-local fsspec filesystem (fsspec's in-memory one, like a
    bucket): no folders, no file locks, renames by copy."""
    bucket = f"memory://aq-{new_id()}/store"
    config = replace(store_config, storage_url=bucket)
    with Store(config) as store:
        a = principal_for(store, "default", "alice", Role.ADMIN)
        v1 = store.datasets.save(a, pd.DataFrame({"x": [1, 2]}), "sales")
        key = store.datasets.storage_key(a, v1.ref)
        orphan = key.rsplit("/", 1)[0] + f"/2-{new_id()}.parquet"
        with store.storage.open(orphan, "wb") as fh:
            fh.write(b"placed by a writer that died")
        assert store.sweep_orphans(0) == [orphan]
        assert len(store.datasets.load(a, v1.ref)) == 2 and store.verify().ok
        marker = store.storage.read_marker()
        assert marker["store_id"] == _store_id(store)
    elsewhere = ["--home", str(tmp_path / "elsewhere")]
    assert cli.main([*elsewhere, "sweep", "--storage-url", bucket, "--min-age", "0"]) == 2
    assert f"belongs to store {marker['store_id']}" in capsys.readouterr().err
    with Store(config) as store:
        assert [k for k, _ in store.storage.iter_objects()] == [key]
