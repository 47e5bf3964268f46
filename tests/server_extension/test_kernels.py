"""Kernel identity on a real server with Voila's server extension and several users: each
kernel acts as the user whose request started it (a Voila page's as its viewer), with a token
of its own, and a page kernel inherits none of the server owner's secrets."""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import requests
from jupyter_client import BlockingKernelClient
from jupyter_client.provisioning import KernelProvisionerFactory

from astralytiq_jupyter.core.permissions import Role

from .live import OTHER_EXTENSIONS, LiveServer, live_server

TOKENS = {"owner-tok": "owner", "bob-tok": "bob", "carol-tok": "carol", "mallory-tok": "mallory"}
OWNER_SECRETS = {
    "JUPYTERHUB_API_TOKEN": "owner-hub-secret-0123456789",
    "ASTRALYTIQ_TOKEN": "aqt_owner-leaked-secret-0123456789",
    "JUPYTER_TOKEN": "owner-jupyter-secret-0123456789",
}
PROBE = (
    "import os\n"
    "import astralytiq_jupyter as aq\n"
    "me = aq.connect().me\n"
    "print('AQPROBE', me.user, me.tenant, me.role.value, os.getpid(), sep='|')\n"
)
FOUND = re.compile(r"AQPROBE\|([^|]+)\|([^|]+)\|([^|]+)\|(\d+)")


def _notebook(source: str) -> str:
    return json.dumps(
        {
            "cells": [
                {
                    "cell_type": "code",
                    "execution_count": None,
                    "id": "probe",
                    "metadata": {},
                    "outputs": [],
                    "source": source,
                }
            ],
            "metadata": {
                "kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"}
            },
            "nbformat": 4,
            "nbformat_minor": 5,
        }
    )


#: What opening the app must not import in the page's kernel (the ML stack, the embedded
#: store's migrations): the first screen needs none of it.
HEAVY = ("sklearn", "scipy", "statsmodels", "skops", "alembic", "plotly")


def _app_probe() -> str:
    """The packaged app notebook, plus a cell that reports the heavy modules its kernel has
    loaded once the app is built."""
    from astralytiq_jupyter.apps import NOTEBOOKS

    notebook = json.loads((NOTEBOOKS / "astralytiq.ipynb").read_text(encoding="utf-8"))
    notebook["cells"].append(
        {
            "cell_type": "code",
            "execution_count": None,
            "id": "heavy",
            "metadata": {},
            "outputs": [],
            "source": (
                "import sys\n"
                f"print('AQHEAVY', [m for m in {HEAVY!r} if m in sys.modules], sep='|')\n"
            ),
        }
    )
    return json.dumps(notebook)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    tmp = tmp_path_factory.mktemp("kernels")
    (tmp / "root").mkdir()
    (tmp / "root" / "probe.ipynb").write_text(_notebook(PROBE), encoding="utf-8")
    (tmp / "root" / "app_probe.ipynb").write_text(_app_probe(), encoding="utf-8")
    config = {
        "ServerApp": {
            "identity_provider_class": "tests.server_extension.users_idp.UsersIdentityProvider",
            "jpserver_extensions": {
                "astralytiq_jupyter": True,
                **dict.fromkeys(OTHER_EXTENSIONS, False),
                "voila.server_extension": True,
            },
        },
        "UsersIdentityProvider": {"users": TOKENS},
    }
    saved = {k: os.environ.get(k) for k in OWNER_SECRETS}
    os.environ.update(OWNER_SECRETS)  # what an owner's server process may hold
    # A singleton: let this server's extension choose the provisioner, as at a real start.
    KernelProvisionerFactory.clear_instance()
    try:
        with live_server(tmp, "sqlite", config) as live:
            live.principal("default", "owner", Role.ADMIN)
            live.principal("acme", "bob", Role.VIEWER)
            live.principal("other", "carol", Role.ANALYST)
            yield live
            km = live.app.kernel_manager
            for kernel_id in list(km.list_kernel_ids()):
                live.app.io_loop.add_callback(km.shutdown_kernel, kernel_id, now=True)
    finally:
        KernelProvisionerFactory.clear_instance()
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def _page(server: LiveServer, token: str) -> requests.Response:
    return requests.get(
        f"{server.url}voila/render/probe.ipynb",
        headers={"Authorization": f"token {token}"},
        timeout=180,
    )


def _environ(pid: int) -> dict[str, str]:
    raw = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
    return dict(item.decode().split("=", 1) for item in raw if b"=" in item)


def test_each_viewer_of_a_page_gets_a_kernel_acting_as_themselves(server: LiveServer) -> None:
    """Two users of different tenants open the same page at the same moment: each page's
    kernel acts as its viewer (checked inside the kernel), with a token of its own, and none
    of the owner's secrets is in the kernel process's environment."""
    with ThreadPoolExecutor(2) as pool:
        bob, carol = pool.map(lambda t: _page(server, t), ["bob-tok", "carol-tok"])
    assert bob.status_code == 200 and carol.status_code == 200
    seen = {}
    for response in (bob, carol):
        match = FOUND.search(response.text)
        assert match is not None, response.text[-2000:]
        user, tenant, role, pid = match.groups()
        seen[user] = (tenant, role, int(pid))
    assert {u: v[:2] for u, v in seen.items()} == {
        "bob": ("acme", "viewer"),
        "carol": ("other", "analyst"),
    }
    tokens = set()
    for user, (tenant, role, pid) in seen.items():
        env = _environ(pid)
        for name, secret in OWNER_SECRETS.items():
            assert secret not in env.values(), f"{name} of the owner reached {user}'s kernel"
        assert server.token not in "".join(env.values())
        principal = server.store.tokens.authenticate(env["ASTRALYTIQ_TOKEN"])
        assert principal is not None
        assert (principal.user, principal.tenant, principal.role.value) == (user, tenant, role)
        tokens.add(env["ASTRALYTIQ_TOKEN"])
    assert len(tokens) == 2


def test_a_user_without_a_role_gets_an_error_page_and_no_kernel(server: LiveServer) -> None:
    km = server.app.kernel_manager
    before = set(km.list_kernel_ids())
    response = _page(server, "mallory-tok")
    assert response.status_code == 403
    assert "not a member" in response.text
    assert set(km.list_kernel_ids()) == before


def test_a_kernel_started_from_jupyterlab_acts_as_its_user_and_its_token_dies_with_it(
    server: LiveServer,
) -> None:
    """The owner's kernel (the sessions API, as JupyterLab starts it) gets a platform token of
    the owner, not the server's token; shutting the kernel down revokes the token."""
    headers = {"Authorization": "token owner-tok"}
    response = requests.post(
        f"{server.url}api/sessions",
        json={"path": "scratch.ipynb", "type": "notebook", "kernel": {"name": "python3"}},
        headers=headers,
        timeout=120,
    )
    assert response.status_code == 201, response.text
    kernel_id = response.json()["kernel"]["id"]
    client = BlockingKernelClient()
    client.load_connection_info(
        server.app.kernel_manager.get_kernel(kernel_id).get_connection_info()
    )
    client.start_channels(hb=False)  # a busy machine may miss heartbeats
    try:
        client.wait_for_ready(timeout=120)
        out: list[str] = []

        def hook(msg: dict) -> None:
            if msg["msg_type"] == "stream":
                out.append(msg["content"]["text"])

        reply = client.execute_interactive(
            PROBE + "print('AQENV', os.environ['ASTRALYTIQ_TOKEN'], '', sep='|')\n",
            output_hook=hook,
            timeout=120,
        )
    finally:
        client.stop_channels()
    assert reply["content"]["status"] == "ok", reply["content"]
    text = "".join(out)
    user, tenant, role, _pid = FOUND.search(text).groups()
    assert (user, tenant, role) == ("owner", "default", "admin")
    token = re.search(r"AQENV\|([^|]+)\|", text).group(1)
    assert token.startswith("aqt_") and token != OWNER_SECRETS["ASTRALYTIQ_TOKEN"]
    assert server.store.tokens.authenticate(token) is not None
    deleted = requests.delete(f"{server.url}api/kernels/{kernel_id}", headers=headers, timeout=60)
    assert deleted.status_code == 204
    assert server.store.tokens.authenticate(token) is None


def test_the_packaged_apps_are_served_by_voila_as_the_viewer(server: LiveServer) -> None:
    """``astralytiq/apps/<name>`` renders the package's app with Voila for the viewer: the
    wizard's widget, no error, nothing fetched from a CDN; an unknown app is 404."""
    headers = {"Authorization": "token bob-tok"}
    page = requests.get(f"{server.url}astralytiq/apps/explore.ipynb", headers=headers, timeout=180)
    assert page.status_code == 200
    assert "application/vnd.jupyter.widget-view+json" in page.text
    assert '"output_type": "error"' not in page.text and "Traceback" not in page.text
    assert "cdn.jsdelivr.net" not in page.text
    missing = requests.get(f"{server.url}astralytiq/apps/nope.ipynb", headers=headers, timeout=60)
    assert missing.status_code == 404


def test_opening_the_app_loads_no_ml_stack_in_the_page_kernel(server: LiveServer) -> None:
    """The app's page kernel builds the app (as the viewer, over the REST API) without
    importing scikit-learn, SciPy, statsmodels, skops, plotly or the store's migrations: its
    first screen needs none of them, and a Voila page waits for its cells. (The ML stack warms
    up only once a front-end has drawn the app; this page is fetched without one.)"""
    page = requests.get(
        f"{server.url}voila/render/app_probe.ipynb",
        headers={"Authorization": "token bob-tok"},
        timeout=180,
    )
    assert page.status_code == 200
    assert "application/vnd.jupyter.widget-view+json" in page.text
    assert '"output_type": "error"' not in page.text and "Traceback" not in page.text
    found = re.search(r"AQHEAVY\|\[([^\]]*)\]", page.text)
    assert found is not None, page.text[-2000:]
    assert found.group(1) == ""
