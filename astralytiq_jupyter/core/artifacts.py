"""Model artifacts: skops bytes in and out, and trusted-type checks.

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
from collections.abc import Sequence
from importlib.metadata import PackageNotFoundError, version
from typing import Any

import skops.io as sio

from .errors import Invalid
from .metrics import json_safe

__all__ = [
    "DEFAULT_TRUSTED_TYPES",
    "artifact_sha256",
    "check_trusted",
    "dump_model",
    "json_safe",
    "library_versions",
    "load_model",
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
