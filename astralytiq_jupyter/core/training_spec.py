"""What to train: the :class:`TrainingSpec` of the engine (``training``), JSON-safe so that
wizards and the registry can store it."""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from . import metrics as mt
from .algorithms import TASKS
from .errors import Invalid
from .limits import MAX_SEED, check_int, check_number
from .profiling_clusters import MAX_CLUSTERS

TUNING = (None, "random", "halving")
MAX_CV_FOLDS = 50
MAX_N_ITER = 1000
MAX_N_JOBS = 1024
MAX_HORIZON = 100_000
K_RULES = ("silhouette", "elbow")


@dataclass
class TrainingSpec:
    """What to train. JSON-safe through ``to_dict``/``from_dict`` so wizards can store it.

    ``params`` fixes hyperparameters per algorithm (``{"random_forest": {"n_estimators": 300}}``);
    ``search_space`` overrides the tuning grid per algorithm, each parameter a list of values or
    ``{"low": .., "high": .., "log": true}``; ``tune`` searches the best algorithm's grid with
    ``n_iter`` candidates. ``metric`` ranks the leaderboard and picks the best model (default:
    the task's primary metric, balanced accuracy for classification). ``k_range`` is the
    inclusive range of cluster counts compared; ``k_rule`` picks k among them by the highest
    held-out ``"silhouette"`` or at the ``"elbow"`` of the inertia curve; ``n_clusters`` forces
    it. ``dataset`` records the dataset version trained on (lineage). Columns a model wrote
    into that version (its lineage says which) are left out of the features unless
    ``include_model_columns``.
    """

    target: str | None = None
    features: list[str] | None = None
    task: str | None = None
    algorithms: list[str] | None = None
    params: dict[str, dict[str, Any]] = field(default_factory=dict)
    search_space: dict[str, dict[str, Any]] = field(default_factory=dict)
    tune: str | None = None
    n_iter: int = 10
    metric: str | None = None
    holdout: float = 0.2
    cv_folds: int = 5
    random_state: int = 0
    n_jobs: int = 1
    joblib_backend: str | None = None
    dataset: str | None = None
    date_column: str | None = None
    horizon: int | None = None
    frequency: str | None = None
    interval_level: float = 0.9
    n_clusters: int | None = None
    k_range: tuple[int, int] = (2, 10)
    k_rule: str = "silhouette"
    include_model_columns: bool = False

    def to_dict(self) -> dict[str, Any]:
        return mt.json_safe(dataclasses.asdict(self))

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> TrainingSpec:
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise Invalid(f"Unknown training option(s): {', '.join(unknown)}.", options=unknown)
        values = dict(data)
        for name in ("params", "search_space"):
            if values.get(name) is None:
                values.pop(name, None)
        if values.get("k_range") is not None:
            values["k_range"] = tuple(values["k_range"])
        spec = cls(**values)
        spec.validate()
        return spec

    def validate(self) -> None:
        """Check the option values that do not depend on the data."""
        if self.task is not None and self.task not in TASKS:
            raise Invalid(f"Unknown task {self.task!r}; choose one of {', '.join(TASKS)}.")
        known = {m for names in mt.METRICS.values() for m in names}
        if self.metric is not None and self.metric not in known:
            raise Invalid(
                f"Unknown metric {self.metric!r}; choose one of {', '.join(sorted(known))}.",
                metric=self.metric,
            )
        if self.k_rule not in K_RULES:
            raise Invalid(f"k_rule must be 'silhouette' or 'elbow', not {self.k_rule!r}.")
        if self.tune not in TUNING:
            raise Invalid(f"tune must be None, 'random' or 'halving', not {self.tune!r}.")
        # Every number is bounded, so that no option can ask for unbounded work.
        check_int(self.cv_folds, "cv_folds", 2, MAX_CV_FOLDS)
        check_number(self.holdout, "holdout", 0, 0.9)
        if not 0 < self.holdout < 0.9:
            raise Invalid("holdout must be a fraction between 0 and 0.9.", holdout=self.holdout)
        check_int(self.n_iter, "n_iter", 1, MAX_N_ITER)
        check_int(self.random_state, "random_state", 0, MAX_SEED)
        if check_int(self.n_jobs, "n_jobs", -1, MAX_N_JOBS) == 0:
            raise Invalid("n_jobs must be a positive number or -1 (all cores).")
        check_number(self.interval_level, "interval_level", 0, 1)
        if not 0 < self.interval_level < 1:
            raise Invalid("interval_level must be between 0 and 1.")
        if self.horizon is not None:
            check_int(self.horizon, "horizon", 1, MAX_HORIZON)
        if not isinstance(self.k_range, (tuple, list)) or len(self.k_range) != 2:
            raise Invalid("k_range must be (low, high) with 2 <= low <= high.")
        low, high = (check_int(k, "k_range", 2, MAX_CLUSTERS) for k in self.k_range)
        if not low <= high:
            raise Invalid("k_range must be (low, high) with 2 <= low <= high.")
        if self.n_clusters is not None:
            check_int(self.n_clusters, "n_clusters", 2, MAX_CLUSTERS)
        if not isinstance(self.include_model_columns, bool):
            raise Invalid("include_model_columns must be true or false.")
        if self.k_rule == "elbow" and self.n_clusters is None and high - low < 2:
            raise Invalid("k_rule='elbow' needs a k_range of at least three values of k.")
        if self.features is not None and len(self.features) == 0:
            raise Invalid("The feature list is empty; choose at least one feature column.")
        for name in ("params", "search_space"):
            value = getattr(self, name)
            if not isinstance(value, Mapping) or not all(
                isinstance(v, Mapping) for v in value.values()
            ):
                raise Invalid(f"{name} must map algorithm names to dicts of parameters.")


def check_rows(
    spec: TrainingSpec, task: str, n: int, y: np.ndarray | None, target: pd.Series | None
) -> list[Any] | None:
    """Refuse ``n`` rows the spec cannot split into a holdout and cross-validation folds (or a
    target that cannot be learnt: one class, a constant, text to regress). ``y`` is the target
    array (``None`` for clustering), ``target`` the raw target column it came from. Returns
    the sorted classes of a classification."""
    n_holdout = math.ceil(n * spec.holdout)
    if n - n_holdout < spec.cv_folds:
        raise Invalid(
            f"Only {n} usable row(s): after holding out {spec.holdout:.0%} for evaluation, "
            f"{n - n_holdout} remain, fewer than the {spec.cv_folds} cross-validation folds. "
            "Use more data or fewer folds.",
            rows=n,
            cv_folds=spec.cv_folds,
        )
    if task == "classification":
        return _check_classes(spec, y, n_holdout)
    if task == "regression":
        assert y is not None and target is not None
        if np.isnan(y).any():
            values = target.dropna()
            example = values[pd.to_numeric(values, errors="coerce").isna()].iloc[0]
            raise Invalid(
                f"Regression needs a numeric target; '{spec.target}' contains {example!r}.",
                column=spec.target,
            )
        if np.unique(y).size < 2:
            raise Invalid(f"The target '{spec.target}' is constant; there is nothing to learn.")
        return None
    fold_rows = (n - n_holdout) - math.ceil((n - n_holdout) / spec.cv_folds)
    most = max(spec.k_range[1], spec.n_clusters or 0)
    if fold_rows <= most:
        raise Invalid(
            f"Too few rows ({n}) to compare up to {most} clusters with "
            f"{spec.cv_folds}-fold cross-validation; lower k_range or add data."
        )
    return None


def _check_classes(spec: TrainingSpec, y: Any, n_holdout: int) -> list[Any]:
    counts = pd.Series(y).value_counts()
    if len(counts) < 2:
        raise Invalid(
            f"The target '{spec.target}' has only one class ({counts.index[0]!r}); a "
            "classifier needs at least two.",
            column=spec.target,
        )
    needed = math.ceil(spec.cv_folds / (1 - spec.holdout)) + 1
    rare = counts[counts < needed]
    if len(rare):
        shown = ", ".join(f"{k!r} ({v})" for k, v in rare.head(5).items())
        raise Invalid(
            f"Some classes of '{spec.target}' are too rare for a {spec.holdout:.0%} holdout "
            f"and {spec.cv_folds}-fold cross-validation (each needs at least {needed} rows): "
            f"{shown}. Merge or remove them, or use fewer folds.",
            column=spec.target,
            classes=[str(k) for k in rare.index],
        )
    if n_holdout < len(counts):
        raise Invalid(
            f"The holdout ({n_holdout} rows) is smaller than the number of classes "
            f"({len(counts)}); increase holdout or add data."
        )
    return sorted(counts.index.tolist())
