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
    "Workspace",
    "__version__",
    "connect",
]


def __getattr__(name: str):  # noqa: ANN202 - lazy re-export keeps `import` light
    if name == "SqlSource":
        from .core.ingest import SqlSource

        return SqlSource
    raise AttributeError(name)


def _jupyter_server_extension_points() -> list[dict[str, object]]:
    from .server_extension.app import AstralytiQ

    return [{"module": "astralytiq_jupyter.server_extension", "app": AstralytiQ}]
