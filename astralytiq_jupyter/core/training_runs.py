"""Training on a tenant's dataset versions: lineage, and a training slot (permission and the
concurrent-training quota, :mod:`.training_slots`) around the ML engine of :mod:`.training`."""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from .permissions import Principal
from .training import TrainingProgress, TrainingResult, TrainingSpec
from .training import compare as compare_models
from .training import train as train_models

if TYPE_CHECKING:
    import pandas as pd

    from .store import Store


class TrainingRuns:
    """``train``/``compare`` for a :class:`Principal` on a dataset reference."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def train(
        self,
        principal: Principal,
        /,
        dataset: str,
        spec: TrainingSpec | Mapping[str, Any] | None = None,
        *,
        progress: Callable[[TrainingProgress], None] | None = None,
        cancel: threading.Event | None = None,
        **options: Any,
    ) -> TrainingResult:
        """Train on a dataset version; the result remembers the exact version (lineage)."""
        return self._run(
            train_models, "model.train", principal, dataset, spec, progress, cancel, options
        )

    def compare(
        self,
        principal: Principal,
        /,
        dataset: str,
        spec: TrainingSpec | Mapping[str, Any] | None = None,
        *,
        progress: Callable[[TrainingProgress], None] | None = None,
        cancel: threading.Event | None = None,
        **options: Any,
    ) -> pd.DataFrame:
        """Only the cross-validated leaderboard, a DataFrame (no tuning, no refit)."""
        return self._run(
            compare_models, "model.compare", principal, dataset, spec, progress, cancel, options
        )

    def _run(
        self,
        engine: Callable[..., Any],
        action: str,
        principal: Principal,
        dataset: str,
        spec: TrainingSpec | Mapping[str, Any] | None,
        progress: Callable[[TrainingProgress], None] | None,
        cancel: threading.Event | None,
        options: dict[str, Any],
    ) -> Any:
        version = self.store.datasets.get(principal, dataset)
        # The slot checks the permission and the tenant's quota, counted in the shared
        # database across processes, and audits the outcome.
        with self.store.training_slots.hold(
            principal, action=action, resource=f"dataset:{version.ref}"
        ):
            frame = self.store.datasets.load(principal, version.ref)
            return engine(
                frame,
                spec,
                progress=progress,
                cancel=cancel,
                model_columns=version.model_columns,
                **{**options, "dataset": version.ref},
            )
