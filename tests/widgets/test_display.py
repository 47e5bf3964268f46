"""Rich display of the API's objects in IPython, and short plain reprs."""

from __future__ import annotations

import pytest
from IPython.core.interactiveshell import InteractiveShell
from IPython.utils.capture import capture_output

from astralytiq_jupyter.widgets import figures
from astralytiq_jupyter.widgets.display import register


@pytest.fixture(scope="module")
def shell():
    shell = InteractiveShell.instance()
    register(shell)
    yield shell
    InteractiveShell.clear_instance()


@pytest.fixture(scope="module")
def api(tmp_path_factory):
    import astralytiq_jupyter as aq

    from .conftest import SAMPLE

    ws = aq.connect(home=tmp_path_factory.mktemp("display"))
    version = ws.datasets.ingest(str(SAMPLE), name="sales")
    result = ws.train("sales", target="channel", algorithms=["logistic_regression"], cv_folds=2)
    model = ws.models.register("channel", result)
    preview = ws.recipes.preview([{"op": "drop_duplicates"}], "sales", rows=500)
    return {
        "version": version,
        "profile": ws.datasets.profile("sales"),
        "result": result,
        "model": model,
        "preview": preview,
        "aggregate": ws.datasets.aggregate("sales", {"group_by": ["region"]}),
    }


@pytest.mark.parametrize(
    ("key", "expected"),
    [
        ("version", "sales@1"),
        ("profile", "duplicate rows"),
        ("model", "channel@1"),
        ("preview", "Recipe preview"),
        ("aggregate", "group(s)"),
    ],
)
def test_objects_display_as_html_and_repr_short(shell, api, key, expected):
    obj = api[key]
    data, _ = shell.display_formatter.format(obj)
    assert expected in data["text/html"]
    assert len(repr(obj)) < 200


def test_training_result_shows_summary_leaderboard_and_figures(shell, api):
    with capture_output() as captured:
        shell.display_formatter.format(api["result"])
    kinds = [set(o.data) for o in captured.outputs]
    assert any(
        "text/html" in k and "ranked by" in o.data["text/html"]
        for k, o in zip(kinds, captured.outputs)
    )
    plots = [o for o in captured.outputs if figures.PLOT_MIME in o.data]
    assert len(plots) == len(api["result"].plots) >= 3
    assert any(
        "leaderboard" in o.data.get("text/html", "") or "<table" in o.data.get("text/html", "")
        for o in captured.outputs
    )
    assert len(repr(api["result"])) < 200


def test_import_registers_inside_ipython_only():
    import subprocess
    import sys

    code = (
        "from IPython.core.interactiveshell import InteractiveShell;"
        "s = InteractiveShell.instance();"
        "import astralytiq_jupyter;"
        "from astralytiq_jupyter.core.dataset_versions import DatasetVersion;"
        "f = s.display_formatter.formatters['text/html'];"
        "key = ('astralytiq_jupyter.core.dataset_versions', 'DatasetVersion');"
        "print(key in f.deferred_printers)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "True"
    plain = subprocess.run(
        [sys.executable, "-c", "import sys, astralytiq_jupyter; print('IPython' in sys.modules)"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert plain.stdout.strip() == "False"
