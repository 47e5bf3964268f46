"""Client side of the Workspace API."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

from .session import env_expiry
from .workspace import Workspace

if TYPE_CHECKING:
    from ..core.config import StoreConfig

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
    # Imported here: the embedded store brings SQLAlchemy and the migrations, which a kernel
    # talking to a server (a Voila page) does not need.
    from .local import LocalBackend

    return Workspace(LocalBackend.open(home, user=user, tenant=tenant, config=config))


def __getattr__(name: str) -> object:
    if name == "RemoteBackend":
        from .remote import RemoteBackend

        return RemoteBackend
    if name == "LocalBackend":
        from .local import LocalBackend

        return LocalBackend
    raise AttributeError(name)
