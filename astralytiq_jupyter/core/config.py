"""Store configuration: where metadata and bytes live, and the limits that protect them."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .workspace_files import WorkspaceFiles

from .limits import DEFAULT_JSON_LIMITS, JsonLimits

MB = 1024 * 1024


def default_home() -> Path:
    """``$ASTRALYTIQ_HOME``, else ``{jupyter_data_dir()}/astralytiq``."""
    env = os.environ.get("ASTRALYTIQ_HOME")
    if env:
        return Path(env).expanduser()
    from jupyter_core.paths import jupyter_data_dir

    return Path(jupyter_data_dir()) / "astralytiq"


@dataclass(frozen=True)
class StoreConfig:
    """Everything a :class:`~astralytiq_jupyter.core.store.Store` needs to open.

    ``database_url`` defaults to SQLite under ``home``; ``storage_url`` to ``home/storage``.
    Any SQLAlchemy URL and any fsspec URL are accepted.
    """

    home: Path = field(default_factory=default_home)
    database_url: str | None = None
    storage_url: str | None = None
    max_upload_bytes: int = 1024 * MB
    url_import_allowlist: tuple[str, ...] = ()
    # None: any database (a local user reads what they can reach anyway). A server sets a
    # tuple: a SQLAlchemy URL from a caller could otherwise reach any database the server can,
    # its own metadata store included.
    sql_import_allowlist: tuple[str, ...] | None = None
    trusted_model_types: tuple[str, ...] | None = None  # None: the engine's default list
    # Compile registered models to ONNX for serving (verified against scikit-learn first).
    compile_models: bool = True
    # How long a process may reuse a model ref's resolution (an alias's target) for predict:
    # other processes' alias moves take effect within this time, this process's at once.
    predict_cache_seconds: float = 2.0
    # None: a local store, whose user reads their own files. A server sets the rule for the
    # server-side files its API callers may name (see core.workspace_files).
    workspace_files: WorkspaceFiles | None = None
    auto_migrate: bool | None = None  # None: only for the embedded SQLite store
    # JSON metadata (recipes, dashboards, settings, model metadata) and JSON request bodies:
    # the largest document in bytes and the deepest nesting accepted.
    max_json_bytes: int = DEFAULT_JSON_LIMITS.max_bytes
    max_json_depth: int = DEFAULT_JSON_LIMITS.max_depth
    # The most bytes an uploaded skops artifact may unpack to (a zip can unpack to 1000x).
    max_artifact_unpacked_bytes: int = 256 * MB
    default_tenant: str = "default"
    #: Where the dashboard app is served; ``?name=<dashboard>`` is added by ``publish``.
    #: Relative by default (standalone ``voila notebooks/``); the server makes it absolute.
    dashboard_app_url: str = "voila/render/dashboard.ipynb"

    @property
    def embedded_database(self) -> Path:
        """The SQLite file of the embedded store (used unless ``database_url`` is set)."""
        return Path(self.home) / "astralytiq.db"

    @property
    def json_limits(self) -> JsonLimits:
        return JsonLimits(self.max_json_bytes, self.max_json_depth)

    @property
    def resolved_database_url(self) -> str:
        return self.database_url or f"sqlite:///{self.embedded_database}"

    @property
    def resolved_storage_url(self) -> str:
        return self.storage_url or str(Path(self.home) / "storage")

    @property
    def embedded(self) -> bool:
        return self.database_url is None
