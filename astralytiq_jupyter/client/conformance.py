"""The static proof that both backends implement every area's contract.

Nothing imports this module at run time: mypy checks it (``make test`` runs mypy over
``client/``), so a backend whose operation lacks a parameter of its contract, takes it with
another type or default kind, or returns something else fails CI, naming the operation.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .contracts import (
        AuditContract,
        Backend,
        DashboardsContract,
        DatasetsContract,
        ModelsContract,
        RecipesContract,
        TenantContract,
        TokensContract,
        TrainingContract,
    )
    from .local import LocalBackend
    from .remote import RemoteBackend

    def _conforms(b: LocalBackend | RemoteBackend) -> None:
        """Each area of either backend assigned to its contract: mypy names the area and
        the operations that differ."""
        _backend: Backend = b
        _datasets: DatasetsContract = b.datasets
        _recipes: RecipesContract = b.recipes
        _models: ModelsContract = b.models
        _training: TrainingContract = b.training
        _dashboards: DashboardsContract = b.dashboards
        _tenant: TenantContract = b.tenant
        _audit: AuditContract = b.audit
        _tokens: TokensContract = b.tokens
