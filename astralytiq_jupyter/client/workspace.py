"""The Workspace: one API over the local store or a server's REST API.

Widgets and notebooks only ever talk to a :class:`Workspace`; which backend serves it is
decided once, by :func:`connect`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..core.permissions import Principal

if TYPE_CHECKING:
    import pandas as pd

    from ..core.training import TrainingResult
    from .contracts import (
        AuditContract,
        Backend,
        DashboardsContract,
        DatasetsContract,
        ModelsContract,
        RecipesContract,
        TenantContract,
        TokensContract,
    )


class Workspace:
    """Entry point of the Python API: ``ws.datasets``, ``ws.recipes``, ``ws.models``,
    ``ws.dashboards``, ``ws.tenant``, ``ws.audit``, ``ws.tokens`` (each stated once in
    :mod:`astralytiq_jupyter.client.contracts`), ``ws.train`` and ``ws.compare``."""

    datasets: DatasetsContract
    recipes: RecipesContract
    models: ModelsContract
    dashboards: DashboardsContract
    tenant: TenantContract
    audit: AuditContract
    tokens: TokensContract

    def __init__(self, backend: Backend) -> None:
        self._backend = backend
        self.datasets = backend.datasets
        self.recipes = backend.recipes
        self.models = backend.models
        self.tenant = backend.tenant
        self.audit = backend.audit
        self.dashboards = backend.dashboards
        self.tokens = backend.tokens

    def train(self, dataset: str, spec: Any = None, **options: Any) -> TrainingResult:
        """Train and compare models on a dataset version (``target=``, ``algorithms=``,
        ``task=``, ``tune=``... or a :class:`~astralytiq_jupyter.core.training.TrainingSpec`);
        returns a result with a leaderboard, the best model and its plots. Register it with
        ``ws.models.register(name, result)``. Training runs in this process (the kernel), on
        the dataset version read from the store or, remotely, through the API."""
        return self._backend.training.train(dataset, spec, **options)

    def compare(self, dataset: str, spec: Any = None, **options: Any) -> pd.DataFrame:
        """Cross-validated leaderboard of several algorithms, without refitting: a DataFrame,
        best first, ranked by the spec's ``metric`` (stated in ``.attrs["ranked_by"]``)."""
        return self._backend.training.compare(dataset, spec, **options)

    @property
    def me(self) -> Principal:
        """Who this workspace acts as: user, tenant, role and permissions."""
        return self._backend.me

    @property
    def backend(self) -> Backend:
        return self._backend

    def close(self) -> None:
        self._backend.close()

    def __enter__(self) -> Workspace:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def __repr__(self) -> str:
        me = self.me
        kind = type(self._backend).__name__
        return f"<Workspace {kind} user={me.user!r} tenant={me.tenant!r} role={me.role.value!r}>"
