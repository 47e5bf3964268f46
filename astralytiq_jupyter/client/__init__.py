"""Client side of the Workspace API."""

from __future__ import annotations

import os
from pathlib import Path

from ..core.config import StoreConfig
from .local import LocalBackend
from .session import env_expiry
from .workspace import Workspace

__all__ = ["LocalBackend", "RemoteBackend", "Workspace", "connect"]


def connect(
    home: str | Path | None = None,
    *,
    url: str | None = None,
    token: str | None = None,
    user: str | None = None,
    tenant: str | None = None,
    config: StoreConfig | None = None,
) -> Workspace:
    """Open a :class:`Workspace`.

    With ``url`` (or ``$ASTRALYTIQ_URL``, which the server extension sets for the kernels it
    starts) the workspace talks to that server's REST API, authenticated by ``token``, else
    ``$ASTRALYTIQ_TOKEN`` (the kernel's own platform token: it acts as the user who started
    the kernel, or as a Voila page's viewer, and is extended while the kernel runs), else
    ``$JUPYTERHUB_API_TOKEN``; ``tenant`` picks one of several tenants. Otherwise, or when
    ``home``/``config`` name a local store, it opens the
    embedded store (``home`` defaults to ``$ASTRALYTIQ_HOME`` or
    ``{jupyter_data_dir}/astralytiq``), where the local user is admin of tenant ``default``.
    """
    if url is None and home is None and config is None and user is None:
        url = os.environ.get("ASTRALYTIQ_URL") or None
    if url is not None:
        from .remote import RemoteBackend

        token = (
            token
            or os.environ.get("ASTRALYTIQ_TOKEN")
            or os.environ.get("JUPYTERHUB_API_TOKEN")
            or None
        )
        return Workspace(RemoteBackend(url, token, tenant=tenant, expires_at=env_expiry(token)))
    return Workspace(LocalBackend.open(home, user=user, tenant=tenant, config=config))


def __getattr__(name: str) -> object:
    if name == "RemoteBackend":
        from .remote import RemoteBackend

        return RemoteBackend
    raise AttributeError(name)
