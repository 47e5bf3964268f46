"""What a ``pip install`` brings, with no manual step after it: the wheel ships the apps, the
server config that enables the extension, the Voila template and the prebuilt JupyterLab
extension (Launcher tile + command) in ``share/jupyter/labextensions``; JupyterLab lists it."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from astralytiq_jupyter import __version__
from astralytiq_jupyter.apps import names

REPO = Path(__file__).resolve().parents[1]
LABEXT = "share/jupyter/labextensions/astralytiq-jupyter"


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> zipfile.ZipFile:
    from hatchling.build import build_wheel

    out = tmp_path_factory.mktemp("wheel")
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(REPO)  # hatchling reads pyproject.toml from the working directory
        name = build_wheel(str(out))
    return zipfile.ZipFile(out / name)


def test_the_wheel_ships_apps_config_template_and_lab_extension(wheel: zipfile.ZipFile) -> None:
    files = set(wheel.namelist())
    data = f"astralytiq_jupyter-{__version__}.data/data/"
    expected = {f"astralytiq_jupyter/apps/notebooks/{n}" for n in names()} | {
        f"{data}etc/jupyter/jupyter_server_config.d/astralytiq_jupyter.json",
        f"{data}share/jupyter/voila/templates/astralytiq/conf.json",
        f"{data}share/jupyter/voila/templates/astralytiq/index.html.j2",
        f"{data}{LABEXT}/package.json",
        f"{data}{LABEXT}/install.json",
    }
    assert expected <= files
    package = json.loads(wheel.read(f"{data}{LABEXT}/package.json"))
    assert package["name"] == "astralytiq-jupyter" and package["jupyterlab"]["extension"]
    entry = f"{data}{LABEXT}/{package['jupyterlab']['_build']['load']}"
    assert entry in files  # the module JupyterLab loads is in the wheel
    source = wheel.read(entry).decode()
    # A module federation container registered under the package's name.
    assert "_JUPYTERLAB)[NAME] = container" in source and 'NAME = "astralytiq-jupyter"' in source
    entry_points = next(n for n in files if n.endswith(".dist-info/entry_points.txt"))
    assert re.search(
        r"astralytiq-provisioner = astralytiq_jupyter\.server_extension\.kernels:",
        wheel.read(entry_points).decode(),
    )


@pytest.mark.skipif(shutil.which("node") is None, reason="needs Node.js (.ci/run installs it)")
def test_the_lab_extension_is_valid_javascript() -> None:
    entry = REPO / "labextension" / "astralytiq-jupyter" / "static" / "remoteEntry.js"
    subprocess.run(["node", "--check", str(entry)], check=True, timeout=60)


def test_jupyterlab_lists_the_installed_extension() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "jupyter", "labextension", "list"],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    text = re.sub(r"\x1b\[[0-9;]*m", "", out.stdout + out.stderr)
    assert re.search(rf"astralytiq-jupyter v{re.escape(__version__)} enabled\s+OK", text), text


#: The compiled runtime's distributions (numba brings llvmlite): the ``serving`` extra only.
SERVING_DISTRIBUTIONS = ("onnx", "onnxruntime", "skl2onnx", "numba")
SERVING_MODULES = (*SERVING_DISTRIBUTIONS, "llvmlite")


def test_the_compiled_runtime_is_the_serving_extra(wheel: zipfile.ZipFile) -> None:
    """A base install brings none of the compiled runtime; ``[serving]`` brings all of it."""
    metadata_name = next(n for n in wheel.namelist() if n.endswith(".dist-info/METADATA"))
    requires = re.findall(r"^Requires-Dist: (.+)$", wheel.read(metadata_name).decode(), re.M)
    by_name = {re.match(r"[A-Za-z0-9_.-]+", r).group(0).lower(): r for r in requires}
    for name in SERVING_DISTRIBUTIONS:
        assert "extra == 'serving'" in by_name[name].replace('"', "'"), by_name[name]
    base = [r for r in requires if "extra ==" not in r]
    assert base and not any(r.lower().startswith(SERVING_MODULES) for r in base)


def test_importing_the_package_loads_no_compiled_runtime() -> None:
    """The package, its server extension and widgets import none of the compiled runtime, and
    finding out whether it is installed imports none of it either."""
    code = (
        "import sys, json\n"
        "import astralytiq_jupyter, astralytiq_jupyter.server_extension\n"
        "import astralytiq_jupyter.widgets, astralytiq_jupyter.cli\n"
        "from astralytiq_jupyter.core import compiled, registry\n"
        "missing = compiled.missing_modules()\n"
        "loaded = sorted({m.split('.')[0] for m in sys.modules} & set(sys.argv[1:]))\n"
        "print(json.dumps({'loaded': loaded, 'missing': missing}))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code, *SERVING_MODULES],
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result == {"loaded": [], "missing": []}  # the test environment has the extra
