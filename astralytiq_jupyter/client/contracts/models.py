"""``ws.models``: the model registry, prediction and batch scoring."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    import pandas as pd

    from ...core.dataset_versions import DatasetVersion
    from ...core.model_versions import AliasMove, ModelSummary, ModelVersion


class ModelsContract(Protocol):
    """Registered models of the tenant. A reference is ``"churn"`` (latest), ``"churn@4"``
    or ``"churn@production"`` (an alias)."""

    def register(self, name: str, trained: Any, **metadata: Any) -> ModelVersion:
        """Register a training result (or a fitted estimator with ``task``, ``algorithm`` and
        ``signature``) as the next version of ``name``."""
        ...

    def get(self, ref: str) -> ModelVersion:
        """One version."""
        ...

    def versions(self, name: str) -> list[ModelVersion]:
        """Every version of a model, oldest first."""
        ...

    def set_alias(self, name: str, alias: str, version: int) -> ModelVersion:
        """Point ``alias`` (``production``, ``staging``, any name) at a version."""
        ...

    def remove_alias(self, name: str, alias: str) -> None:
        """Remove an alias (the history keeps the move)."""
        ...

    def alias_history(self, name: str) -> list[AliasMove]:
        """Every alias move of a model, oldest first."""
        ...

    def predict(self, ref: str, df: pd.DataFrame) -> pd.DataFrame:
        """Predictions of a version for input rows (checked against its signature)."""
        ...

    def score(self, model: str, dataset: str, save_as: str, *, note: str = "") -> DatasetVersion:
        """Batch-score a dataset version; predictions become a new dataset version."""
        ...

    def load(self, ref: str) -> Any:
        """The fitted scikit-learn estimator of a version (verified and trusted-types checked)."""
        ...

    def delete(self, name: str, version: int | None = None) -> int:
        """Delete one version, or the whole model; returns how many versions went."""
        ...

    def list(
        self, *, search: str | None = None, limit: int = 100, offset: int = 0
    ) -> list[ModelSummary]:
        """The tenant's models (latest version and aliases of each), a page at a time."""
        ...
