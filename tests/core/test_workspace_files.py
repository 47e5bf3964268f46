"""The workspace rule for server-side files (``core.workspace_files``): what a server reads
for its API callers, and one refusal, unread, for everything else."""

from __future__ import annotations

import os
from dataclasses import replace
from pathlib import Path

import pytest

from astralytiq_jupyter.core.errors import Forbidden, Invalid
from astralytiq_jupyter.core.ingest.sql import check_sql_allowed
from astralytiq_jupyter.core.permissions import Principal, Role
from astralytiq_jupyter.core.store import Store
from astralytiq_jupyter.core.workspace_files import REFUSED, WorkspaceFiles

from ..conftest import principal_for

CSV = "region,amount\nnorth,1\nsouth,2\n"
SECRET = "secret-marker-7f3a,42\n"


class Tree:
    """A workspace ``root`` with a visible CSV, next to an ``outside`` folder, and every
    kind of path the rule must refuse."""

    def __init__(self, base: Path) -> None:
        self.base = base
        self.root = base / "ws"
        self.outside = base / "outside"
        (self.root / "data").mkdir(parents=True)
        self.outside.mkdir()
        (self.root / "data" / "sales.csv").write_text(CSV)
        (self.outside / "secret.csv").write_text(SECRET)
        (self.root / ".hidden.csv").write_text(SECRET)
        (self.root / ".dot").mkdir()
        (self.root / ".dot" / "x.csv").write_text(SECRET)
        (self.root / "folder").mkdir()
        (self.root / "kept").mkdir()
        (self.root / "kept" / "store.csv").write_text(SECRET)
        os.symlink(self.outside / "secret.csv", self.root / "escape.csv")
        os.symlink(self.outside, self.root / "escape-dir")
        os.symlink(self.root / "data" / "sales.csv", self.root / ".alias.csv")
        os.mkfifo(self.root / "pipe.csv")
        self.big = self.outside / "big.csv"
        with open(self.big, "wb") as fh:  # sparse: a size above any limit, no bytes used
            fh.truncate(10 * 1024**3)

    def probes(self) -> dict[str, str]:
        out, root = self.outside, self.root
        return {
            "absolute outside": str(out / "secret.csv"),
            "relative ../": "../outside/secret.csv",
            "relative ../ deep": "data/../../outside/secret.csv",
            "symlink out of the root": "escape.csv",
            "through a symlinked folder": "escape-dir/secret.csv",
            "hidden file": ".hidden.csv",
            "hidden folder": ".dot/x.csv",
            "hidden name of a visible file": ".alias.csv",
            "FIFO": "pipe.csv",
            "directory": "folder",
            "the root itself": str(root),
            "nonexistent": "data/nope.csv",
            "nonexistent outside": str(out / "nope.csv"),
            "excluded folder inside the root": "kept/store.csv",
            "huge file outside": str(self.big),
            "device": "/dev/zero",
            "proc": "/proc/self/environ",
            "file:// outside": (out / "secret.csv").as_uri(),
            "file:// with a host": f"file://example.com{root / 'data' / 'sales.csv'}",
            "file:// with a query": (root / "data" / "sales.csv").as_uri() + "?x=1",
            "empty": "",
            "NUL byte": "data/sales.csv\x00.txt",
            "very long": "a/" * 5000 + "x.csv",
        }

    def policy(self, **kwargs) -> WorkspaceFiles:
        kwargs.setdefault("excluded", [self.root / "kept"])
        return WorkspaceFiles(self.root, **kwargs)


@pytest.fixture
def tree(tmp_path: Path) -> Tree:
    return Tree(tmp_path)


def jupyter_user(via: str = "member") -> Principal:
    return Principal("alice", "default", Role.ADMIN, via=via)


@pytest.mark.parametrize("via", ["member", "hub"])
def test_a_jupyter_user_reads_a_visible_regular_file_of_the_workspace(tree: Tree, via: str):
    policy = tree.policy()
    for given in (
        "data/sales.csv",
        "./data/../data/sales.csv",
        str(tree.root / "data" / "sales.csv"),
        (tree.root / "data" / "sales.csv").as_uri(),
        Path("data/sales.csv"),
    ):
        found = policy.resolve(jupyter_user(via), given)
        assert found.display == "data/sales.csv" and found.size == len(CSV)
        with found.open() as fh:
            assert fh.read().decode() == CSV


@pytest.mark.parametrize("via", ["token", "local", "remote"])
def test_no_other_caller_reads_even_a_workspace_file(tree: Tree, via: str):
    with pytest.raises(Invalid) as caught:
        tree.policy().resolve(jupyter_user(via), "data/sales.csv")
    assert caught.value.message == REFUSED and not caught.value.detail


def test_every_other_path_gets_the_one_refusal(tree: Tree):
    policy = tree.policy()
    answers = {}
    for what, given in tree.probes().items():
        with pytest.raises(Invalid) as caught:
            policy.resolve(jupyter_user(), given)
        answers[what] = (caught.value.message, repr(caught.value.detail))
    assert set(answers.values()) == {(REFUSED, "{}")}, answers
    assert "secret" not in REFUSED and str(tree.base) not in REFUSED


def test_names_a_file():
    assert WorkspaceFiles.names_a_file("data/x.csv")
    assert WorkspaceFiles.names_a_file("/etc/passwd")
    assert WorkspaceFiles.names_a_file("FILE:///etc/passwd")
    assert WorkspaceFiles.names_a_file(Path("x.csv"))
    assert not WorkspaceFiles.names_a_file("https://example.com/x.csv")
    assert not WorkspaceFiles.names_a_file("s3://bucket/x.csv")
    assert not WorkspaceFiles.names_a_file(b"x,y\n")


def test_hidden_files_follow_allow_hidden(tree: Tree):
    policy = tree.policy(allow_hidden=True)
    assert policy.resolve(jupyter_user(), ".hidden.csv").display == ".hidden.csv"
    assert policy.resolve(jupyter_user(), ".dot/x.csv").display == ".dot/x.csv"
    # Still never outside the root, nor in a folder the server keeps for itself.
    for given in ("escape.csv", "kept/store.csv", str(tree.outside / "secret.csv")):
        with pytest.raises(Invalid, match="cannot be imported"):
            policy.resolve(jupyter_user(), given)


def test_exclusions_that_contain_the_root_are_ignored(tree: Tree):
    policy = WorkspaceFiles(tree.root, excluded=[tree.base, tree.root, tree.root / "kept"])
    assert policy.excluded == (str(tree.root / "kept"),)
    assert policy.resolve(jupyter_user(), "data/sales.csv").size == len(CSV)


def test_a_root_reached_through_a_symlink(tree: Tree):
    link = tree.base / "ws-link"
    os.symlink(tree.root, link)
    policy = WorkspaceFiles(link)
    assert policy.resolve(jupyter_user(), str(link / "data" / "sales.csv")).size == len(CSV)
    with pytest.raises(Invalid, match="cannot be imported"):
        policy.resolve(jupyter_user(), str(link / ".hidden.csv"))


def test_disabled_refuses_everyone(tree: Tree):
    with pytest.raises(Invalid, match="cannot be imported"):
        tree.policy(enabled=False).resolve(jupyter_user(), "data/sales.csv")


def test_a_file_swapped_after_the_check_is_refused_when_opened(tree: Tree):
    policy = tree.policy()
    target = tree.root / "data" / "sales.csv"
    found = policy.resolve(jupyter_user(), "data/sales.csv")
    target.rename(tree.root / "data" / "moved.csv")  # kept, so its inode is not reused
    os.symlink(tree.outside / "secret.csv", target)  # now a symlink out of the root
    with pytest.raises(Invalid, match="cannot be imported"):
        found.open()
    target.unlink()
    (tree.outside / "other.csv").write_text(SECRET)
    os.link(tree.outside / "other.csv", target)  # now another file
    with pytest.raises(Invalid, match="cannot be imported"):
        found.open()


@pytest.fixture
def server_store(store_config, tree: Tree):
    """A store configured as a server configures it: with the workspace rule."""
    config = replace(store_config, workspace_files=tree.policy())
    with Store(config) as s:
        s.ensure_tenant("default", "Default workspace")
        yield s


def test_server_store_ingests_workspace_files_for_jupyter_users_only(server_store, tree: Tree):
    member = replace(principal_for(server_store, "default", "alice", Role.ANALYST), via="member")
    version = server_store.datasets.ingest(member, "data/sales.csv", "sales")
    assert (version.rows, version.source, version.source_detail) == (2, "file", "data/sales.csv")
    token = replace(member, via="token")
    with pytest.raises(Invalid) as caught:
        server_store.datasets.ingest(token, "data/sales.csv", "sales")
    assert caught.value.message == REFUSED
    assert len(server_store.datasets.versions(member, "sales")) == 1


def test_server_store_refuses_every_probe_unread_and_stores_nothing(
    server_store, tree: Tree, stored_files
):
    member = replace(principal_for(server_store, "default", "alice", Role.ANALYST), via="member")
    before = stored_files()
    for what, given in tree.probes().items():
        with pytest.raises(Invalid) as caught:
            # The attack of the finding: read a file as headerless TSV, one column per line.
            server_store.datasets.ingest(
                member, given, "loot", format="csv", delimiter="\t", header=False
            )
        assert caught.value.message == REFUSED, what
    assert stored_files() == before
    assert server_store.datasets.list(member) == []


def test_sql_allowlist_entries_fix_the_query_parameters(tmp_path: Path):
    entry = "postgresql+psycopg://warehouse:5432/sales?sslmode=require"
    check_sql_allowed("postgresql+psycopg://bob:pw@warehouse:5432/sales?sslmode=require", (entry,))
    for url in (
        "postgresql+psycopg://warehouse:5432/sales",  # a parameter left out
        "postgresql+psycopg://warehouse:5432/sales?sslmode=require&sslkey=/etc/shadow",
        "postgresql+psycopg://warehouse:5432/sales?sslmode=require&passfile=/etc/shadow",
        "postgresql+psycopg://warehouse:5432/sales?sslmode=require&service=x",
    ):
        with pytest.raises(Forbidden, match="sql_import_allowlist"):
            check_sql_allowed(url, (entry,))
    db = f"sqlite:///{tmp_path / 'w.db'}"
    check_sql_allowed(db, (db,))
    for url in (db + "?uri=true", f"sqlite:///{tmp_path / '..' / tmp_path.name / 'w.db'}"):
        with pytest.raises(Forbidden, match="sql_import_allowlist"):
            check_sql_allowed(url, (db,))
