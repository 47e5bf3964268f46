"""The Workspace: one API over the local store or a server's REST API.

Widgets and notebooks only ever talk to a :class:`Workspace`; which backend serves it is
decided once, by :func:`connect`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..core.permissions import Principal

if TYPE_CHECKING:
    import pandas as pd


class Workspace:
    """Entry point of the Python API: ``ws.datasets``, ``ws.recipes``, ``ws.models``,
    ``ws.tenant``, ``ws.audit``."""

    def __init__(self, backend: Any) -> None:
        self._backend = backend
        self.datasets = backend.datasets
        self.recipes = backend.recipes
        self.models = backend.models
        self.tenant = backend.tenant
        self.audit = backend.audit
        self.dashboards = backend.dashboards

    def train(self, dataset: str, spec: Any = None, **options: Any) -> Any:
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
    def backend(self) -> Any:
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
