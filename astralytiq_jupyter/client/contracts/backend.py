"""What a Workspace needs of a backend: the principal and every area."""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from ...core.permissions import Principal
    from .audit import AuditContract
    from .dashboards import DashboardsContract
    from .datasets import DatasetsContract
    from .models import ModelsContract
    from .recipes import RecipesContract
    from .tenant import TenantContract
    from .tokens import TokensContract
    from .training import TrainingContract


class Backend(Protocol):
    """A backend of the Workspace API (``LocalBackend``, ``RemoteBackend``)."""

    @property
    def me(self) -> Principal:
        """Who the backend acts as: user, tenant, role and permissions."""
        ...

    @property
    def datasets(self) -> DatasetsContract: ...
    @property
    def recipes(self) -> RecipesContract: ...
    @property
    def models(self) -> ModelsContract: ...
    @property
    def training(self) -> TrainingContract: ...
    @property
    def dashboards(self) -> DashboardsContract: ...
    @property
    def tenant(self) -> TenantContract: ...
    @property
    def audit(self) -> AuditContract: ...
    @property
    def tokens(self) -> TokensContract: ...

    def close(self) -> None:
        """Release the store or the HTTP session."""
        ...
