"""The Workspace contract: one ``typing.Protocol`` per area, stating each operation's
signature and meaning once.

Both backends implement every area (``LocalBackend`` binds the core services to its
principal, ``RemoteBackend`` calls the REST API), and ``mypy`` proves in CI that they
conform (``client/conformance.py``); the shared contract suite (``tests/client``) proves they
behave alike. A parameter added to an operation is added here first; the type check then
names every implementation that lags behind.
"""

from __future__ import annotations

from .audit import AuditContract
from .backend import Backend
from .dashboards import DashboardsContract
from .datasets import DatasetsContract
from .models import ModelsContract
from .recipes import RecipesContract
from .tenant import TenantContract
from .tokens import TokensContract
from .training import TrainingContract

#: Area name (``ws.<area>``) -> its contract.
AREAS: dict[str, type] = {
    "datasets": DatasetsContract,
    "recipes": RecipesContract,
    "models": ModelsContract,
    "training": TrainingContract,
    "dashboards": DashboardsContract,
    "tenant": TenantContract,
    "audit": AuditContract,
    "tokens": TokensContract,
}

__all__ = [
    "AREAS",
    "AuditContract",
    "Backend",
    "DashboardsContract",
    "DatasetsContract",
    "ModelsContract",
    "RecipesContract",
    "TenantContract",
    "TokensContract",
    "TrainingContract",
]
