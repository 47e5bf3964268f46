"""The voting ensemble of a comparison: which members it combines, and its cross-validation.

A soft-voting classifier predicts the weighted mean of its members' class probabilities (the
class of the highest mean), a voting regressor the weighted mean of their predictions. Its
members are deterministic (fixed ``random_state``), so on each fold they predict exactly what
the comparison's own fits of them predicted: the ensemble's cross-validation is computed from
those out-of-fold predictions, with no refit. Members not fitted by the comparison (other
parameters, other algorithms) are cross-validated by fitting the ensemble itself.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from . import metrics as mt
from .algorithms import ENSEMBLE_SIZE, Algorithm, ensemble_members

#: The most out-of-fold predictions (rows x classes x algorithms) a comparison keeps to score
#: an ensemble from (200 MB of float64); above it the ensemble is fitted on each fold instead.
MAX_KEPT_VALUES = 25_000_000


def affordable(values: int) -> bool:
    """Whether keeping this many out-of-fold prediction values stays within the budget."""
    return values <= MAX_KEPT_VALUES


def choose_members(
    algorithm: Algorithm,
    params: Mapping[str, Any],
    ranked: Sequence[Mapping[str, Any]],
    fixed: Mapping[str, Mapping[str, Any]],
    metric: str,
) -> tuple[dict[str, dict[str, Any]] | None, str]:
    """The ensemble's members ({algorithm: params}) and a note: those named in ``params``, else
    the ``ENSEMBLE_SIZE`` best rows of the ranked comparison that trained (``None`` when fewer
    than two did)."""
    kind = "soft-voting" if algorithm.task == "classification" else "averaging"
    if params.get("members") is not None:
        members = ensemble_members(algorithm, params["members"], fixed)
        return members, f"'{algorithm.name}': {kind} ensemble of {', '.join(members)} (as given)."
    top = [r for r in ranked if r["error"] is None and r["algorithm"] != algorithm.name]
    top = top[:ENSEMBLE_SIZE]
    if len(top) < 2:
        return None, f"'{algorithm.name}' left out: fewer than two models trained to combine."
    members = {r["algorithm"]: dict(r["params"]) for r in top}
    return members, (
        f"'{algorithm.name}': {kind} ensemble of the top {len(members)} models by {metric} "
        f"({', '.join(members)}), cross-validated on the same folds."
    )


def fold_outcomes(
    task: str,
    members: Mapping[str, Mapping[str, Any]],
    weights: Sequence[float] | None,
    compared: Mapping[str, tuple[Mapping[str, Any], list[dict[str, Any]]]],
    folds: Sequence[tuple[np.ndarray, np.ndarray]],
    y: np.ndarray,
    classes: Sequence[Any] | None,
) -> list[dict[str, Any]] | None:
    """The ensemble's per-fold outcomes (as ``model_selection.fit_fold`` returns them) from the
    members' out-of-fold predictions; ``None`` unless every member was compared with the same
    parameters and predicted every fold. ``compared`` maps an algorithm to its parameters and
    fold outcomes (each with ``predictions``: labels or values, and probabilities)."""
    runs = []
    for name, params in members.items():
        found = compared.get(name)
        if found is None or dict(found[0]) != dict(params):
            return None
        outcomes = found[1]
        if len(outcomes) != len(folds) or any("predictions" not in o for o in outcomes):
            return None
        runs.append(outcomes)
    result = []
    for f, (_, valid) in enumerate(folds):
        outcomes = [run[f] for run in runs]
        if task == "classification":
            assert classes is not None
            proba = np.average([o["predictions"][1] for o in outcomes], axis=0, weights=weights)
            predicted = np.asarray(classes).take(np.argmax(proba, axis=1))
        else:
            proba = None
            predicted = np.average([o["predictions"][0] for o in outcomes], axis=0, weights=weights)
        result.append(
            {
                "metrics": mt.score_predictions(task, y[valid], predicted, proba, classes),
                # What fitting the ensemble on the fold costs: fitting each member.
                "fit_time": float(sum(o["fit_time"] for o in outcomes)),
                "score_time": float(sum(o["score_time"] for o in outcomes)),
                "warnings": [],
            }
        )
    return result
