"""The Voila apps: notebooks of a few lines, each building one wizard or dashboard.

They live in this package (``apps/notebooks/``, shipped in the wheel) and nowhere else: the
repository's ``notebooks/`` folder is a link to them (what ``make run`` serves), and
``astralytiq apps install DIR`` copies them into a Jupyter workspace after a pip install. In a
page, an app reads its parameters from the URL query string, which Voila hands the kernel as
``QUERY_STRING`` (``dashboard.ipynb?name=sales-overview``, ``explore.ipynb?ref=sales@2``).
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from urllib.parse import parse_qs, urlencode, urlsplit

NOTEBOOKS = Path(__file__).resolve().parent / "notebooks"


def names() -> list[str]:
    """The shipped apps' file names (``astralytiq.ipynb``, ``explore.ipynb``...)."""
    return sorted(p.name for p in NOTEBOOKS.glob("*.ipynb"))


def query(*keys: str) -> dict[str, str]:
    """The page's URL query parameters (the first value of each), limited to ``keys`` when
    given; empty outside Voila. ``aq.ExploreWizard(**query("ref"))`` passes ``ref`` only when
    the URL has one."""
    params = parse_qs(os.environ.get("QUERY_STRING", ""), keep_blank_values=False)
    found = {key: values[0] for key, values in params.items() if values}
    return {k: v for k, v in found.items() if not keys or k in keys}


def app_url(app: str = "astralytiq.ipynb", /, **params: str) -> str | None:
    """The path of ``app`` as the server extension serves it with Voila
    (``{base_url}astralytiq/apps/<app>?<params>``), for a link from a notebook of that server;
    ``None`` in a Voila page already, or outside a Jupyter server with the extension."""
    server = os.environ.get("ASTRALYTIQ_URL")
    if not server or "VOILA_REQUEST_URL" in os.environ:
        return None
    base = urlsplit(server).path or "/"
    query_string = f"?{urlencode(params)}" if params else ""
    return f"{base.rstrip('/')}/astralytiq/apps/{app}{query_string}"


def install(destination: str | Path, *, overwrite: bool = False) -> list[Path]:
    """Copy the apps into ``destination`` (created if needed), e.g. the Jupyter server's
    contents root, where Voila serves them as ``/voila/render/<name>``. A file already there
    is kept unless ``overwrite`` (it may have been edited). The files written."""
    target = Path(destination)
    target.mkdir(parents=True, exist_ok=True)
    written = []
    for name in names():
        path = target / name
        if path.exists() and not overwrite:
            continue
        shutil.copyfile(NOTEBOOKS / name, path)
        written.append(path)
    return written
