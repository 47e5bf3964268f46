from __future__ import annotations

import hashlib
import os
import time

import pytest

from astralytiq_jupyter.core.errors import Conflict, FileMissing, Invalid
from astralytiq_jupyter.core.models import new_id
from astralytiq_jupyter.core.storage import MARKER, Storage, object_key


@pytest.fixture
def storage(tmp_path):
    return Storage(str(tmp_path / "storage"))


def test_stage_commit_hashes_exact_bytes(storage):
    tenant, obj = new_id(), new_id()
    staged = storage.put_bytes(tenant, "datasets", obj, b"hello world")
    assert staged.sha256 == hashlib.sha256(b"hello world").hexdigest()
    assert staged.size == 11
    key = staged.commit(obj, 1)
    assert key == object_key(tenant, "datasets", obj, 1, staged.write_id)
    assert key.endswith(f"/1-{staged.write_id}.parquet")
    assert storage.read_bytes(key) == b"hello world"
    assert [k for k, _ in storage.iter_objects()] == [key]


def test_every_write_has_a_key_of_its_own(storage):
    """Two writes of the same version number (the second after the first was abandoned)
    never share a key, so one never lands on the other's file."""
    tenant, obj = new_id(), new_id()
    first = storage.put_bytes(tenant, "datasets", obj, b"crashed writer").commit(obj, 3)
    second = storage.put_bytes(tenant, "datasets", obj, b"next writer").commit(obj, 3)
    assert first != second
    assert storage.read_bytes(first) == b"crashed writer"
    assert storage.read_bytes(second) == b"next writer"


def test_failed_write_leaves_no_temp_file(storage, tmp_path):
    tenant, obj = new_id(), new_id()
    with pytest.raises(RuntimeError), storage.stage(tenant, "datasets", obj) as stager:
        stager.writer.write(b"partial")
        raise RuntimeError("reader failed")
    assert list(storage.iter_objects()) == []


def test_discard_removes_committed_file(storage):
    tenant, obj = new_id(), new_id()
    staged = storage.put_bytes(tenant, "models", obj, b"x")
    staged.commit(obj, 2)
    staged.discard()
    assert list(storage.iter_objects()) == []


@pytest.mark.parametrize(
    "parts",
    [
        ("..", "datasets", "a" * 32, 1, "c" * 32),
        ("a" * 32, "datasets", "../etc", 1, "c" * 32),
        ("a" * 32, "other", "b" * 32, 1, "c" * 32),
        ("/abs", "datasets", "b" * 32, 1, "c" * 32),
        ("a" * 32, "datasets", "b" * 32, 0, "c" * 32),
        ("a" * 32, "datasets", "b" * 32, 1, "../x"),
    ],
)
def test_keys_only_from_server_ids(parts):
    with pytest.raises((Invalid, ValueError)):
        object_key(*parts)


def test_path_refuses_traversal(storage):
    for key in ["../x", "a/../../etc/passwd", "/etc/passwd", "x\x00y"]:
        with pytest.raises(Invalid):
            storage.path(key)


def test_stage_refuses_user_ids(storage):
    with pytest.raises(Invalid):
        storage.stage("../t", "datasets", new_id())


def test_iter_objects_reports_temp_files_with_age(storage):
    tenant, obj = new_id(), new_id()
    with storage.stage(tenant, "datasets", obj) as stager:
        stager.writer.write(b"abc")
    temp = stager.result.temp_key
    old = time.time() - 7200
    os.utime(storage.path(temp), (old, old))
    ((key, mtime),) = list(storage.iter_objects())
    assert key == temp and mtime == pytest.approx(old, abs=2)


def test_legacy_keys_stay_readable(storage):
    """Stores written before per-write keys name files ``{n}.parquet``: still valid keys."""
    tenant, obj = new_id(), new_id()
    legacy = f"{tenant}/datasets/{obj}/4.parquet"
    os.makedirs(os.path.dirname(storage.path(legacy)))
    with open(storage.path(legacy), "wb") as fh:
        fh.write(b"old layout")
    assert storage.read_bytes(legacy) == b"old layout"
    assert [k for k, _ in storage.iter_objects()] == [legacy]


def test_missing_file_names_what_it_belongs_to(storage):
    key = f"{new_id()}/datasets/{new_id()}/3-{new_id()}.parquet"
    with pytest.raises(FileMissing, match=r"dataset sales@3 is missing; run `astralytiq verify`"):
        storage.read_bytes(key, label="dataset sales@3")
    with pytest.raises(FileNotFoundError):
        storage.read_bytes(key)  # without a label: the plain error, for callers that handle it


def test_a_temp_file_in_flight_is_not_removed(storage):
    """A live writer holds a lock on its temp file until it is renamed into place."""
    tenant, obj = new_id(), new_id()
    with storage.stage(tenant, "datasets", obj) as stager:
        stager.writer.write(b"in flight")
        assert storage.remove_temp(stager.temp_key) is False
    assert storage.remove_temp(stager.result.temp_key) is False  # staged, not yet committed
    key = stager.result.commit(obj, 1)
    assert storage.read_bytes(key) == b"in flight"


def test_an_abandoned_temp_file_is_removed(storage):
    """A writer that died (here: dropped its lock) leaves a temp file anyone may remove,
    empty or not."""
    tenant, obj = new_id(), new_id()
    staged = storage.put_bytes(tenant, "datasets", obj, b"")
    staged._unlock()
    assert os.path.getsize(storage.path(staged.temp_key)) == 0
    assert storage.remove_temp(staged.temp_key) is True
    assert list(storage.iter_objects()) == []


def test_commit_after_the_temp_file_was_swept_is_a_clear_conflict(storage):
    tenant, obj = new_id(), new_id()
    staged = storage.put_bytes(tenant, "datasets", obj, b"x")
    os.unlink(storage.path(staged.temp_key))
    with pytest.raises(Conflict, match="temporary file was removed"):
        staged.commit(obj, 1)


def test_prune_removes_only_empty_layout_folders(storage, tmp_path):
    tenant, obj, other = new_id(), new_id(), new_id()
    keep = storage.put_bytes(tenant, "datasets", obj, b"x").commit(obj, 1)
    empty = os.path.join(storage.root, tenant, "models", other)
    os.makedirs(empty)
    foreign = os.path.join(storage.root, "not-ours")
    os.makedirs(foreign)
    assert sorted(storage.prune_empty_dirs()) == [f"{tenant}/models", f"{tenant}/models/{other}"]
    assert storage.exists(keep) and os.path.isdir(foreign)
    storage.remove(keep)
    storage.prune(keep)
    assert not os.path.exists(os.path.join(storage.root, tenant, "datasets", obj))
    assert storage.prune_empty_dirs() == [f"{tenant}/datasets", tenant]
    assert os.path.isdir(storage.root)


def test_a_writer_whose_folder_was_pruned_makes_it_again(storage, monkeypatch):
    """A sweep may remove an empty folder between a writer's makedirs and its open."""
    tenant, obj = new_id(), new_id()
    real_makedirs = storage.fs.makedirs
    calls = []

    def makedirs_then_pruned(path, exist_ok=False):
        real_makedirs(path, exist_ok=exist_ok)
        calls.append(path)
        if len(calls) == 1:
            storage.prune_empty_dirs()

    monkeypatch.setattr(storage.fs, "makedirs", makedirs_then_pruned)
    key = storage.put_bytes(tenant, "datasets", obj, b"x").commit(obj, 1)
    assert len(calls) == 2 and storage.read_bytes(key) == b"x"


def test_marker_is_written_once(storage):
    assert storage.read_marker() is None
    storage.write_marker({"store_id": "a" * 32})
    storage.write_marker({"store_id": "b" * 32})  # never replaces one
    assert storage.read_marker()["store_id"] == "a" * 32
    assert [k for k, _ in storage.iter_objects()] == []  # not an object: never swept
    with open(os.path.join(storage.root, MARKER), "w") as fh:
        fh.write("{broken")
    with pytest.raises(Invalid, match="not readable"):
        storage.read_marker()
