"""What a fitted scikit-learn model predicts on coerced input rows: its predictions, its
class probabilities when it gives them, and their column names. The compiled runtime
(:mod:`.compiled`) is verified against, and labels its results like, these."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
from sklearn.calibration import CalibratedClassifierCV
from sklearn.ensemble import (
    ExtraTreesClassifier,
    HistGradientBoostingClassifier,
    RandomForestClassifier,
)
from sklearn.neighbors import KNeighborsClassifier
from sklearn.neural_network import MLPClassifier
from sklearn.pipeline import Pipeline
from sklearn.tree import DecisionTreeClassifier

#: Classifiers whose ``predict`` is, by scikit-learn's definition, the first class of maximal
#: ``predict_proba`` (checked against ``predict`` for each in tests/core/test_artifacts.py).
ARGMAX_PROBA_CLASSIFIERS: tuple[type, ...] = (
    RandomForestClassifier,
    ExtraTreesClassifier,
    HistGradientBoostingClassifier,
    CalibratedClassifierCV,
    KNeighborsClassifier,
    MLPClassifier,
    DecisionTreeClassifier,
)


def proba_columns(classes: Sequence[Any]) -> list[str]:
    """The output column of each class's probability."""
    return [f"proba_{c.item() if isinstance(c, np.generic) else c}" for c in classes]


def wants_probabilities(estimator: Any, output: Mapping[str, Any]) -> bool:
    """Whether predictions carry class probabilities. Artifacts uploaded from elsewhere may
    carry no output description: a classifier is then recognised by its probabilities."""
    return output.get("kind") in ("classification", None) and hasattr(estimator, "predict_proba")


def sklearn_outputs(
    model: Any, X: pd.DataFrame, output: Mapping[str, Any]
) -> tuple[np.ndarray, np.ndarray | None]:
    """Predictions and (for classifiers) probabilities of ``model`` on coerced rows ``X``."""
    # Preprocess once for both predict and predict_proba: half the work of calling both on
    # the pipeline, the same results.
    estimator, features = model, X
    if isinstance(model, Pipeline) and len(model.steps) > 1:
        estimator, features = model.steps[-1][1], model[:-1].transform(X)
    if not wants_probabilities(estimator, output):
        return np.asarray(estimator.predict(features)), None
    proba = np.asarray(estimator.predict_proba(features))
    if isinstance(estimator, ARGMAX_PROBA_CLASSIFIERS):
        # These predict the most probable class, first one on ties: deriving it from the
        # probabilities saves a second pass through every tree or neighbour search.
        return estimator.classes_.take(np.argmax(proba, axis=1)), proba
    return np.asarray(estimator.predict(features)), proba
