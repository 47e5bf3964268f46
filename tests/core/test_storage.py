from __future__ import annotations

import hashlib
import os
import time

import pytest

from astralytiq_jupyter.core.errors import Invalid
from astralytiq_jupyter.core.models import new_id
from astralytiq_jupyter.core.storage import Storage, object_key


@pytest.fixture
def storage(tmp_path):
    return Storage(str(tmp_path / "storage"))


def test_stage_commit_hashes_exact_bytes(storage):
    tenant, obj = new_id(), new_id()
    staged = storage.put_bytes(tenant, "datasets", obj, b"hello world")
    assert staged.sha256 == hashlib.sha256(b"hello world").hexdigest()
    assert staged.size == 11
    key = object_key(tenant, "datasets", obj, 1)
    staged.commit(key)
    assert storage.read_bytes(key) == b"hello world"
    assert [k for k, _ in storage.iter_objects()] == [key]


def test_failed_write_leaves_no_temp_file(storage, tmp_path):
    tenant, obj = new_id(), new_id()
    with pytest.raises(RuntimeError), storage.stage(tenant, "datasets", obj) as stager:
        stager.writer.write(b"partial")
        raise RuntimeError("reader failed")
    assert list(storage.iter_objects()) == []


def test_discard_removes_committed_file(storage):
    tenant, obj = new_id(), new_id()
    staged = storage.put_bytes(tenant, "models", obj, b"x")
    staged.commit(object_key(tenant, "models", obj, 2))
    staged.discard()
    assert list(storage.iter_objects()) == []


@pytest.mark.parametrize(
    "parts",
    [
        ("..", "datasets", "a" * 32, 1),
        ("a" * 32, "datasets", "../etc", 1),
        ("a" * 32, "other", "b" * 32, 1),
        ("/abs", "datasets", "b" * 32, 1),
        ("a" * 32, "datasets", "b" * 32, 0),
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
