"""AstralytiQ for Jupyter: governed, multi-tenant no-code analytics inside Jupyter."""

from __future__ import annotations

from ._version import __version__
from .client import Workspace, connect
from .core.errors import (
    AstralytiqError,
    Conflict,
    FileMissing,
    Forbidden,
    Invalid,
    NotFound,
    QuotaExceeded,
    StoreMismatch,
)

__all__ = [
    "AstralytiqError",
    "Conflict",
    "FileMissing",
    "Forbidden",
    "Invalid",
    "NotFound",
    "QuotaExceeded",
    "SqlSource",
    "StoreMismatch",
    "UploadWizard",
    "Workspace",
    "__version__",
    "connect",
]


def __getattr__(name: str):  # noqa: ANN202 - lazy re-export keeps `import` light
    if name == "SqlSource":
        from .core.ingest import SqlSource

        return SqlSource
    if name.endswith("Wizard") or name in ("App", "Dashboard", "DashboardBuilder"):
        from . import widgets  # aq.TrainWizard("sales"), aq.App(), aq.Dashboard("overview")

        if name in widgets.__all__:
            return getattr(widgets, name)
    raise AttributeError(name)


def _register_display() -> None:
    """Inside IPython (a notebook, Voila), show the API's objects richly; nothing otherwise
    (IPython is never imported by this)."""
    import sys

    ipython = sys.modules.get("IPython")
    shell = ipython.get_ipython() if ipython is not None else None
    if shell is None or not hasattr(shell, "display_formatter"):
        return
    from .widgets.display import register

    register(shell)


_register_display()


def _jupyter_server_extension_points() -> list[dict[str, object]]:
    from .server_extension.app import AstralytiQ

    return [{"module": "astralytiq_jupyter.server_extension", "app": AstralytiQ}]
