"""The ``astralytiq`` command, and the one store location every entry point shares."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

import astralytiq_jupyter as aq
from astralytiq_jupyter import cli
from astralytiq_jupyter.core import db
from astralytiq_jupyter.core.config import StoreConfig
from astralytiq_jupyter.server_extension.app import AstralytiQ

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """No ASTRALYTIQ_HOME, and a Jupyter data directory of this test's own."""
    monkeypatch.delenv("ASTRALYTIQ_HOME", raising=False)
    monkeypatch.delenv("ASTRALYTIQ_URL", raising=False)
    monkeypatch.setenv("JUPYTER_DATA_DIR", str(tmp_path / "jupyter-data"))
    return tmp_path / "jupyter-data"


def test_every_entry_point_uses_the_same_default_store(data_dir: Path, capsys) -> None:
    expected = data_dir / "astralytiq"
    assert StoreConfig().home == expected
    assert Path(AstralytiQ().home) == expected  # the server extension (and its kernels)
    with aq.connect() as ws:  # plain Python and standalone Voila
        assert ws.backend.store.config.home == expected
        ws.datasets.save(__import__("pandas").DataFrame({"x": [1]}), "here")
    assert cli.main(["info"]) == 0
    out = capsys.readouterr().out
    assert f"home:     {expected}  (default: {{jupyter_data_dir}}/astralytiq" in out
    assert f"database: sqlite:///{expected}/astralytiq.db" in out
    assert f"storage:  {expected}/storage" in out
    assert f"schema:   {db.head_revision()}" in out  # the store aq.connect() made


def test_info_says_why_and_creates_nothing(
    data_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    monkeypatch.setenv("ASTRALYTIQ_HOME", str(tmp_path / "env-home"))
    assert cli.main(["info"]) == 0
    out = capsys.readouterr().out
    assert f"home:     {tmp_path / 'env-home'}  ($ASTRALYTIQ_HOME)" in out
    assert "no store here yet" in out and not (tmp_path / "env-home").exists()
    assert cli.main(["--home", str(tmp_path / "flag"), "info"]) == 0
    assert f"home:     {tmp_path / 'flag'}  (--home)" in capsys.readouterr().out
    url = "postgresql+psycopg://aq:secret@127.0.0.1:1/astralytiq"  # nothing listens there
    assert cli.main(["--database-url", url, "info", "--storage-url", "s3://bucket/aq"]) == 1
    out = capsys.readouterr().out
    assert "database: postgresql+psycopg://aq:***@127.0.0.1:1/astralytiq" in out
    assert "secret" not in out and "storage:  s3://bucket/aq" in out
    assert "schema:   (cannot read the database: OperationalError)" in out


@pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")
def test_make_run_leaves_the_store_location_to_the_default(data_dir: Path) -> None:
    """``make run`` must not point the server at a store of its own (it used ./.astralytiq
    while the CLI and standalone Voila used the default)."""
    env = {k: v for k, v in os.environ.items() if k != "ASTRALYTIQ_HOME"}
    database = subprocess.run(
        ["make", "--no-print-directory", "-p", "-n", "run"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert "ASTRALYTIQ_HOME" not in database.split("# Implicit Rules")[0]
