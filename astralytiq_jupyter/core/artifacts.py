"""Model artifacts: skops bytes in and out, trusted-type checks, and validated prediction.

Artifacts are never pickled. Loading checks the bytes' SHA-256 against the registry's record
first (corruption, tampering), then asks skops which types the file would instantiate and refuses
the file if any is outside the server's trusted list, which comes from configuration and never
from the artifact itself.
"""

from __future__ import annotations

import hashlib
import io
import platform
import zipfile
from collections.abc import Mapping, Sequence
from importlib.metadata import PackageNotFoundError, version
from typing import Any

import numpy as np
import pandas as pd
import skops.io as sio
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

from .compiled import CompiledModel, compiled_outputs
from .errors import Invalid
from .metrics import json_safe
from .preprocessing import coerce_frame

__all__ = [
    "DEFAULT_TRUSTED_TYPES",
    "artifact_sha256",
    "check_trusted",
    "dump_model",
    "json_safe",
    "library_versions",
    "load_model",
    "predict_frame",
    "TRUSTED_TYPES_HEADER",
    "trusted_types_in",
    "untrusted_types",
]

#: The types the engine's pipelines contain beyond those skops trusts by default. Computed by
#: ``tests/core/test_artifacts.py`` (which fails when an algorithm needs a type missing here)
#: and written out literally so a review sees exactly what the server will instantiate.
DEFAULT_TRUSTED_TYPES: tuple[str, ...] = (
    "astralytiq_jupyter.core.forecasting.SeriesForecaster",
    "astralytiq_jupyter.core.preprocessing.DateParts",
    "numpy.dtype",
    "sklearn.calibration._CalibratedClassifier",
    "sklearn.calibration._SigmoidCalibration",
    "sklearn.ensemble._hist_gradient_boosting.predictor.TreePredictor",
    "sklearn.metrics._dist_metrics.EuclideanDistance64",
    "sklearn.metrics._dist_metrics.ManhattanDistance64",
    "sklearn.neighbors._kd_tree.KDTree",
    "sklearn.neural_network._stochastic_optimizers.AdamOptimizer",
    "sklearn.tree._tree.Tree",
    # A voting ensemble's members by name (a dict with attribute access).
    "sklearn.utils._bunch.Bunch",
)


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


def dump_model(obj: Any) -> bytes:
    """Serialize a fitted model with skops (zip-deflated)."""
    return sio.dumps(obj, compression=zipfile.ZIP_DEFLATED)


def check_unpacked_size(data: bytes, limit: int) -> None:
    """Refuse an artifact (a zip file) that would unpack to more than ``limit`` bytes, from
    the sizes its directory declares (reading checks each member against its declared size
    and CRC, so a member cannot unpack to more), before anything is unpacked."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            total = sum(member.file_size for member in archive.infolist())
    except (zipfile.BadZipFile, ValueError, OSError) as exc:
        raise Invalid(f"Not a valid model artifact (a skops file): {exc}") from None
    if total > limit:
        raise Invalid(
            f"The model artifact unpacks to {total / 1e6:,.1f} MB; the server's limit is "
            f"{limit / 1e6:,.1f} MB (c.AstralytiQ.max_artifact_unpacked_bytes).",
            unpacked_bytes=total,
            limit=limit,
        )


def artifact_sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _types_beyond_skops(data: bytes) -> list[str]:
    """Types the artifact would instantiate that skops does not trust by default."""
    try:
        return sio.get_untrusted_types(data=data)
    except (zipfile.BadZipFile, KeyError, ValueError, TypeError) as exc:
        raise Invalid(f"Not a valid model artifact: {exc}") from exc


def untrusted_types(data: bytes, trusted: Sequence[str]) -> list[str]:
    """Types the artifact would instantiate that are neither skops defaults nor ``trusted``."""
    allowed = set(trusted)
    return sorted(t for t in _types_beyond_skops(data) if t not in allowed)


#: The response header of an artifact download listing :func:`trusted_types_in` it (JSON).
TRUSTED_TYPES_HEADER = "X-AstralytiQ-Trusted-Types"


def trusted_types_in(data: bytes, trusted: Sequence[str]) -> list[str]:
    """Types the artifact would instantiate, beyond skops defaults, that are in ``trusted``."""
    allowed = set(trusted)
    return sorted(t for t in _types_beyond_skops(data) if t in allowed)


def check_trusted(data: bytes, trusted: Sequence[str]) -> None:
    """Refuse an artifact that would instantiate any type outside ``trusted``."""
    refused = untrusted_types(data, trusted)
    if refused:
        raise Invalid(
            "The model artifact contains types this server does not trust: "
            + ", ".join(refused)
            + ". Add them to the trusted model types only if you know where the file came from.",
            untrusted=refused,
        )


def library_versions() -> dict[str, str]:
    """Versions that decide whether an artifact loads and predicts the same elsewhere."""
    found = {"python": platform.python_version()}
    for name in (
        "numpy",
        "pandas",
        "scikit-learn",
        "scipy",
        "skops",
        "statsmodels",
        "joblib",
        "astralytiq-jupyter",
    ):
        try:
            found[name] = version(name)
        except PackageNotFoundError:
            continue
    return found


def load_model(data: bytes, *, trusted: Sequence[str], expected_sha256: str | None = None) -> Any:
    """Load a skops artifact after checking its hash and that every type in it is trusted."""
    if expected_sha256 is not None and artifact_sha256(data) != expected_sha256.lower():
        raise Invalid(
            "The model artifact is corrupted or was tampered with: its SHA-256 does not match "
            "the registry's record.",
            expected=expected_sha256,
            actual=artifact_sha256(data),
        )
    check_trusted(data, trusted)
    try:
        return sio.loads(data, trusted=list(trusted))
    except (zipfile.BadZipFile, KeyError, ValueError, TypeError, AttributeError) as exc:
        raise Invalid(f"The model artifact could not be loaded: {exc}") from exc


def predict_frame(
    model: Any,
    df: pd.DataFrame,
    signature: Sequence[Mapping[str, Any]],
    output: Mapping[str, Any],
    compiled: CompiledModel | None = None,
) -> pd.DataFrame:
    """Validate ``df`` against the input signature and predict.

    Missing columns are an error listing them; extra columns are ignored; values are converted
    to the signature's kinds where that is safe ("3" -> 3.0) and a value that cannot be converted
    is an error naming the column and the value. Returns ``prediction`` (plus ``proba_<class>``
    per class for classifiers, ``lower``/``upper`` for forecasts), indexed like ``df``.
    ``compiled``, when given, is the verified ONNX form of ``model`` and does the arithmetic.
    """
    if not isinstance(df, pd.DataFrame):
        raise Invalid("Predictions need a table of input rows (a DataFrame).")
    X = coerce_frame(df, signature, strict=True)
    kind = output.get("kind")
    if kind == "forecasting":
        estimator = model.steps[-1][1] if hasattr(model, "steps") else model
        try:
            frame = estimator.predict_interval(X)
        except ValueError as exc:
            raise Invalid(f"Cannot forecast these dates: {exc}") from exc
        return frame.set_index(df.index)
    if len(X) == 0:
        columns = ["prediction"]
        if kind == "classification" and output.get("classes") is not None:
            columns += [f"proba_{c}" for c in output["classes"]]
        return pd.DataFrame(columns=columns, index=df.index)
    if compiled is not None:
        prediction, proba = compiled_outputs(model, compiled, X, output)
    else:
        try:
            prediction, proba = sklearn_outputs(model, X, output)
        except ValueError as exc:  # e.g. missing values a model without imputation refuses
            raise Invalid(f"The model cannot predict these rows: {exc}") from None
    columns = {"prediction": prediction}
    if proba is not None:
        for j, name in enumerate(proba_columns(model.classes_)):
            columns[name] = proba[:, j]
    return pd.DataFrame(columns, index=df.index)


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
