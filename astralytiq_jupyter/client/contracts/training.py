"""``ws.train`` and ``ws.compare``: the ML engine on the tenant's dataset versions."""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    import pandas as pd

    from ...core.training import TrainingProgress, TrainingResult, TrainingSpec


class TrainingContract(Protocol):
    """Training runs where the kernel is (kernels do the compute), on a dataset version."""

    def train(
        self,
        dataset: str,
        spec: TrainingSpec | Mapping[str, Any] | None = None,
        *,
        progress: Callable[[TrainingProgress], None] | None = None,
        cancel: threading.Event | None = None,
        **options: Any,
    ) -> TrainingResult:
        """Train and compare models on a dataset version (``target=``, ``algorithms=``,
        ``task=``, ``tune=``... or a ``TrainingSpec``); the result records the version, and
        ``ws.models.register(name, result)`` registers it."""
        ...

    def compare(
        self,
        dataset: str,
        spec: TrainingSpec | Mapping[str, Any] | None = None,
        *,
        progress: Callable[[TrainingProgress], None] | None = None,
        cancel: threading.Event | None = None,
        **options: Any,
    ) -> pd.DataFrame:
        """Only the cross-validated leaderboard, a DataFrame, best first (no tuning, no
        refit), ranked by the spec's ``metric`` (stated in ``.attrs["ranked_by"]``)."""
        ...
