"""Training on a tenant's dataset versions: permission, lineage and the concurrency quota
around the ML engine of :mod:`.training`."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from .errors import QuotaExceeded
from .permissions import Permission, Principal
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
        self._running: Counter[str] = Counter()
        self._lock = threading.Lock()

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
        self.store.audit.authorize(principal, Permission.MODEL_TRAIN, action)
        version = self.store.datasets.get(principal, dataset)
        with self._slot(principal):
            frame = self.store.datasets.load(principal, version.ref)
            return engine(
                frame,
                spec,
                progress=progress,
                cancel=cancel,
                model_columns=version.model_columns,
                **{**options, "dataset": version.ref},
            )

    @contextmanager
    def _slot(self, principal: Principal) -> Iterator[None]:
        """Hold one of the plan's concurrent-training slots (counted per process)."""
        with self.store.session() as session:
            limit = self.store.quotas(session, principal).concurrent_trainings
        with self._lock:
            if limit is not None and self._running[principal.tenant] >= limit:
                raise QuotaExceeded(
                    f"Your plan allows {limit} training run(s) at a time; wait for the running "
                    "one to finish.",
                    quota="concurrent_trainings",
                    limit=limit,
                )
            self._running[principal.tenant] += 1
        try:
            yield
        finally:
            with self._lock:
                self._running[principal.tenant] -= 1
