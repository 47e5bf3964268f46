"""Sweeping and verifying a store's files: the sweep never takes a committed file, even
racing uploads through two processes' stores, and ``verify`` finds missing and corrupted
files."""

from __future__ import annotations

import os
import threading
import time

import numpy as np
import pandas as pd
from sklearn.linear_model import LogisticRegression

from astralytiq_jupyter import cli
from astralytiq_jupyter.core import maintenance
from astralytiq_jupyter.core.models import new_id
from astralytiq_jupyter.core.permissions import Role
from astralytiq_jupyter.core.storage import StagedObject
from astralytiq_jupyter.core.store import Store

from ..conftest import principal_for

HOUR_AGO = time.time() - 3600


def _frame(n: int) -> pd.DataFrame:
    return pd.DataFrame({"k": np.arange(n), "v": np.arange(n) * 0.5})


def _age(path: str) -> None:
    os.utime(path, (HOUR_AGO, HOUR_AGO))


def _plant(store: Store, folder: str, name: str, data: bytes = b"") -> str:
    """A file as a crashed writer leaves it: an hour old, in ``folder`` of the layout."""
    key = f"{folder}/{name}"
    path = os.path.join(store.storage.root, key)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as fh:
        fh.write(data)
    _age(path)
    return key


def _args(store_config) -> list[str]:
    args = ["--home", str(store_config.home)]
    if store_config.database_url:
        args += ["--database-url", store_config.database_url]
    return args


def test_sweep_racing_uploads_through_two_stores(store_config, store) -> None:
    """Two stores (two servers) on one database and one storage: uploads through both while
    the second sweeps with --min-age 0 over and over, among files of crashed writers. Every
    committed version keeps its file; every crashed writer's file goes; numbers stay gapless."""
    other = Store(store_config)
    try:
        a = principal_for(store, "default", "alice", Role.ADMIN)
        first = store.datasets.save(a, _frame(3), "sales")
        folder = store.datasets.storage_key(a, first.ref).rsplit("/", 1)[0]
        crashed = [
            _plant(store, folder, f"2-{new_id()}.parquet", b"placed, never recorded"),
            _plant(store, folder, f".tmp-{new_id()}"),  # 0 bytes: died before writing
            _plant(store, folder, f".tmp-{new_id()}", b"died mid-write"),
        ]
        done = threading.Event()
        errors: list[BaseException] = []
        saved = []
        sweeps = []

        def upload(via: Store, n: int) -> None:
            try:
                for i in range(n):
                    # force: the uploaders send equal frames, each must make a version
                    saved.append(via.datasets.save(a, _frame(10 + i), "sales", force=True))
            except BaseException as exc:  # pragma: no cover - reported below
                errors.append(exc)

        def sweep() -> None:
            try:
                while not done.is_set():
                    sweeps.append(maintenance.sweep(other, 0))
            except BaseException as exc:  # pragma: no cover - reported below
                errors.append(exc)

        sweeper = threading.Thread(target=sweep)
        uploaders = [threading.Thread(target=upload, args=(s, 6)) for s in (store, other) * 2]
        sweeper.start()
        for t in uploaders:
            t.start()
        for t in uploaders:
            t.join()
        done.set()
        sweeper.join()
        assert errors == []
        assert len(sweeps) >= 2
        assert sorted(v.version for v in saved) == list(range(2, 26))
        versions = store.datasets.versions(a, "sales")
        assert [v.version for v in versions] == list(range(1, 26))
        for v in [first, *saved]:
            assert len(store.datasets.load(a, v.ref)) == v.rows
        assert store.verify().ok and store.verify().checked == 25
        maintenance.sweep(other, 0)
        left = {key for key, _ in store.storage.iter_objects()}
        assert not left & set(crashed)
        assert len(left) == 25
    finally:
        other.close()


def test_a_sweep_between_placing_and_recording_a_file_keeps_it(
    store_config, store, monkeypatch
) -> None:
    """The narrowest window: a writer has renamed its file into place and not yet committed
    its row when another process's sweep (--min-age 0) takes up that very file. The sweep
    re-checks it under the tenant's write lock, which the writer holds until its commit."""
    other = Store(store_config)
    a = principal_for(store, "default", "alice", Role.ADMIN)
    store.datasets.save(a, _frame(3), "sales")
    taken_up = threading.Event()
    results: list[maintenance.SweepReport] = []
    sweepers: list[threading.Thread] = []
    real_commit, real_remove = StagedObject.commit, maintenance._remove_orphan

    def remove_orphan(via: Store, key: str) -> bool:
        taken_up.set()
        return real_remove(via, key)

    def commit_then_sweep(self: StagedObject, object_id: str, version: int) -> str:
        key = real_commit(self, object_id, version)
        sweeper = threading.Thread(target=lambda: results.append(maintenance.sweep(other, 0)))
        sweepers.append(sweeper)
        sweeper.start()
        assert taken_up.wait(30), "the sweep never took up the placed file"
        return key  # the writer goes on to record it and commit

    monkeypatch.setattr(maintenance, "_remove_orphan", remove_orphan)
    monkeypatch.setattr(StagedObject, "commit", commit_then_sweep)
    try:
        v2 = store.datasets.save(a, _frame(7), "sales")
        (sweeper,) = sweepers
        sweeper.join(60)
        assert results and results[0].removed == []
        assert len(store.datasets.load(a, v2.ref)) == 7
        assert store.verify().ok
    finally:
        other.close()


def test_sweep_removes_crash_leftovers_and_empty_folders_only(store, stored_files) -> None:
    a = principal_for(store, "default", "alice", Role.ADMIN)
    kept = store.datasets.save(a, _frame(3), "kept")
    gone = store.datasets.save(a, _frame(3), "gone")
    folder = store.datasets.storage_key(a, gone.ref).rsplit("/", 1)[0]
    tenant = folder.split("/", 1)[0]
    store.datasets.delete(a, "gone")
    zero = _plant(store, folder, f".tmp-{new_id()}")  # a crashed write's 0-byte temp file
    orphan_folder = f"{tenant}/models/{new_id()}"
    os.makedirs(os.path.join(store.storage.root, orphan_folder))  # left empty by a crash
    young = _plant(store, folder, f"1-{new_id()}.parquet")
    os.utime(os.path.join(store.storage.root, young))  # just written: younger than min-age
    with store.storage.stage(tenant, "datasets", new_id()) as in_flight:
        in_flight.writer.write(b"a write stalled for an hour: only its lock protects it")
        _age(store.storage.path(in_flight.temp_key))
        report = maintenance.sweep(store, 60)
    assert report.removed == [zero]
    assert report.in_flight == 1
    assert report.folders == [orphan_folder, f"{tenant}/models"]
    assert young in stored_files()
    in_flight.result.discard()
    report = maintenance.sweep(store, 0)  # now young counts as old enough
    assert report.removed == [young]
    assert f"{tenant}/datasets/{folder.rsplit('/', 1)[1]}" in report.folders
    assert stored_files() == [store.datasets.storage_key(a, kept.ref)]
    assert sorted(os.listdir(os.path.join(store.storage.root, tenant, "datasets"))) == [
        store.datasets.storage_key(a, kept.ref).split("/")[2]
    ]


def test_verify_finds_missing_and_corrupted_files(store_config, store, capsys) -> None:
    a = principal_for(store, "default", "alice", Role.ADMIN)
    sales = store.datasets.save(a, _frame(5), "sales")
    other = store.datasets.save(a, _frame(6), "other")
    rng = np.random.default_rng(0)
    X = pd.DataFrame({"f0": rng.normal(size=60), "f1": rng.normal(size=60)})
    model = LogisticRegression().fit(X, (X["f0"] > 0).astype(int))
    mv = store.models.register(
        a,
        "churn",
        model,
        task="classification",
        algorithm="logistic_regression",
        signature=[{"name": "f0", "dtype": "float64"}, {"name": "f1", "dtype": "float64"}],
        output={"kind": "classification", "classes": [0, 1]},
    )
    assert mv.runtime == "onnx"
    assert cli.main([*_args(store_config), "verify"]) == 0
    assert "Checked 4 stored file(s): 0 missing, 0 corrupted." in capsys.readouterr().out

    os.unlink(store.storage.path(store.datasets.storage_key(a, sales.ref)))
    with open(store.storage.path(store.datasets.storage_key(a, other.ref)), "r+b") as fh:
        fh.seek(10)
        fh.write(b"\xff")  # one flipped byte, same size
    with store.session() as session:
        from astralytiq_jupyter.core.models import ModelVersionRecord

        compiled_key = session.query(ModelVersionRecord.compiled_key).scalar()
    with open(store.storage.path(compiled_key), "ab") as fh:
        fh.write(b"appended")

    assert cli.main([*_args(store_config), "verify"]) == 1
    out = capsys.readouterr().out
    assert "default/dataset sales@1: MISSING" in out
    assert "default/dataset other@1: CORRUPT" in out
    assert "default/compiled model churn@1: CORRUPT" in out
    assert "recorded:" in out and "default/model churn@1" not in out  # the artifact is fine
    assert "Checked 4 stored file(s): 1 missing, 2 corrupted." in out
    report = store.verify(tenant="default")
    assert [(p.what, p.issue) for p in report.problems] == [
        ("dataset other@1", "corrupt"),
        ("dataset sales@1", "missing"),
        ("compiled model churn@1", "corrupt"),
    ]
    assert store.verify(tenant="nobody").checked == 0


def test_cli_sweep_reports_what_it_removed(store_config, store, capsys) -> None:
    a = principal_for(store, "default", "alice", Role.ADMIN)
    v = store.datasets.save(a, _frame(3), "sales")
    folder = store.datasets.storage_key(a, v.ref).rsplit("/", 1)[0]
    orphan = _plant(store, folder, f"9-{new_id()}.parquet", b"x")
    assert cli.main([*_args(store_config), "sweep", "--min-age", "60"]) == 0
    out = capsys.readouterr().out
    assert f"Removed 1 orphaned file(s).\n  {orphan}\n" in out
    assert not store.storage.exists(orphan)
    assert len(store.datasets.load(a, v.ref)) == 3
