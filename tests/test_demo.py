"""The demo content (``astralytiq demo seed``, run by ``make run``): a dataset, a registered
model with its alias and a dashboard, created once; a second run changes nothing."""

from __future__ import annotations

from pathlib import Path

import pytest

from astralytiq_jupyter.cli import main
from astralytiq_jupyter.client import LocalBackend, Workspace
from astralytiq_jupyter.demo import ALIAS, DASHBOARD, DATASET, MODEL


def state(ws: Workspace) -> tuple:
    return (
        [v.ref for v in ws.datasets.versions(DATASET)],
        [v.ref for v in ws.models.versions(MODEL)],
        ws.dashboards.get(DASHBOARD).revision,
        ws.models.get(f"{MODEL}@{ALIAS}").version,
    )


def test_demo_seed_creates_everything_once(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    home = tmp_path / "home"
    assert main(["--home", str(home), "demo", "seed"]) == 0
    assert "created sales@1, revenue@1, sales-overview" in capsys.readouterr().out
    ws = Workspace(LocalBackend.open(home))
    try:
        before = state(ws)
        assert before == ([f"{DATASET}@1"], [f"{MODEL}@1"], 1, 1)
        sample = ws.datasets.load(f"{DATASET}@1", limit=3)
        assert len(ws.models.predict(f"{MODEL}@{ALIAS}", sample)) == 3
        assert main(["--home", str(home), "demo", "seed"]) == 0
        assert "created nothing new" in capsys.readouterr().out
        assert state(ws) == before
    finally:
        ws.backend.close()


def test_the_command_installs_the_apps(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["apps", "install", str(tmp_path)]) == 0
    assert (tmp_path / "astralytiq.ipynb").exists()
    assert main(["apps", "install", str(tmp_path)]) == 0
    assert "0 app(s) written" in capsys.readouterr().out.splitlines()[-1]
