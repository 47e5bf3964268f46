"""Serving registered models: the loaded-model caches, the runtime each version runs on
(compiled or scikit-learn), and prediction, online and as records.

:class:`ModelServing` is the serving half of :class:`~.registry.ModelRegistry`, which adds
registration, aliases and listings; prediction is on the latency-critical path, so everything
here avoids the database and storage once a version is warm."""

from __future__ import annotations

import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, NamedTuple

import pandas as pd

from . import artifacts, compiled
from .compiled import CompiledModel, compiled_outputs
from .errors import FileMissing, Invalid, NotFound
from .models import ModelAliasRecord, ModelRecord, ModelVersionRecord
from .names import parse_ref
from .outputs import proba_columns, sklearn_outputs
from .permissions import Permission, Principal
from .preprocessing import coerce_frame
from .repository import TenantRepository

if TYPE_CHECKING:
    from .store import Store

log = logging.getLogger(__name__)


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


class _Resolved(NamedTuple):
    """What serving a ref needs from its version row."""

    sha256: str
    storage_key: str
    signature: list[dict[str, Any]]
    output: dict[str, Any] | None
    compiled_sha256: str | None
    compiled_key: str | None
    version: int


_RESOLVED_COLUMNS = (  # in _Resolved's field order
    ModelVersionRecord.sha256,
    ModelVersionRecord.storage_key,
    ModelVersionRecord.signature,
    ModelVersionRecord.output,
    ModelVersionRecord.compiled_sha256,
    ModelVersionRecord.compiled_key,
    ModelVersionRecord.version,
)


@dataclass(frozen=True)
class Serving:
    """A version ready to predict: the model, its compiled form (or ``None``), its contract."""

    model: Any
    compiled: compiled.CompiledModel | None
    signature: list[dict[str, Any]]
    output: dict[str, Any]


class _ModelCache:
    """Loaded models by artifact hash: deserialising a skops file per request would
    dominate prediction latency. Versions are immutable, so the hash is a safe key."""

    def __init__(self, size: int = 16) -> None:
        self._items: OrderedDict[str, Any] = OrderedDict()
        self._lock = threading.Lock()
        self._size = size

    def get(self, sha256: str) -> Any:
        with self._lock:
            model = self._items.get(sha256)
            if model is not None:
                self._items.move_to_end(sha256)
            return model

    def contains(self, sha256: str) -> bool:
        return sha256 in self._items

    def put(self, sha256: str, model: Any) -> None:
        with self._lock:
            self._items[sha256] = model
            self._items.move_to_end(sha256)
            while len(self._items) > self._size:
                self._items.popitem(last=False)


class ModelServing:
    """Prediction with the registry's versions for a :class:`Principal`, from caches."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self._cache = _ModelCache()
        self._compiled = _ModelCache()
        self._stale: set[str] = set()  # compiled files of another format
        #: How many artifacts this registry has read from storage into its caches.
        self.loads = 0
        # (tenant, ref) -> (model epoch, monotonic time, resolution)
        self._resolved: dict[tuple[str, str], tuple[int, float, _Resolved]] = {}
        self._epoch = 0

    @property
    def trusted_types(self) -> list[str]:
        configured = self.store.config.trusted_model_types
        return list(configured) if configured is not None else list(artifacts.DEFAULT_TRUSTED_TYPES)

    def _cached_model(self, sha256: str, key: str, label: str) -> Any:
        loaded = self._cache.get(sha256)
        if loaded is None:
            data = self.store.storage.read_bytes(key, label=label)
            loaded = artifacts.load_model(data, trusted=self.trusted_types, expected_sha256=sha256)
            self._cache.put(sha256, loaded)
            self.loads += 1
        return loaded

    def _version_query(self, repo: TenantRepository, ref: str, *columns: Any) -> Any:
        """``SELECT columns`` of the version ``ref`` names (number, alias or latest)."""
        parsed = parse_ref(ref, allow_alias=True, what="model")
        stmt = (
            repo.select(ModelVersionRecord, *columns)
            .join(ModelRecord, ModelRecord.id == ModelVersionRecord.model_id)
            .where(ModelRecord.name == parsed.name)
        )
        if parsed.version is not None:
            return stmt.where(ModelVersionRecord.version == parsed.version)
        if parsed.alias is not None:
            return stmt.join(
                ModelAliasRecord, ModelAliasRecord.version_id == ModelVersionRecord.id
            ).where(ModelAliasRecord.alias == parsed.alias)
        return stmt.order_by(ModelVersionRecord.version.desc()).limit(1)

    def predict(self, principal: Principal, ref: str, df: pd.DataFrame) -> pd.DataFrame:
        """Validate ``df`` against the version's signature and predict (with probabilities
        for classifiers), on the compiled runtime when the version has one."""
        self.store.audit.authorize(principal, Permission.MODEL_PREDICT, "model.predict")
        if not isinstance(df, pd.DataFrame):
            raise Invalid("predict() takes a pandas DataFrame of input rows.")
        serving = self.serving(principal, ref)
        return predict_frame(serving.model, df, serving.signature, serving.output, serving.compiled)

    def predict_records(
        self, principal: Principal, ref: str, records: list[dict[str, Any]]
    ) -> list[dict[str, Any]] | None:
        """Predictions as records for JSON rows whose values already have their columns'
        types, on a compiled model, without building DataFrames (the online-serving fast
        path); ``None`` when the rows or the version need :meth:`predict`'s full validation
        (which then converts, or explains any error)."""
        self.store.audit.authorize(principal, Permission.MODEL_PREDICT, "model.predict")
        serving = self.serving(principal, ref)
        runtime = serving.compiled
        if runtime is None or not records:
            return None
        X = runtime.feed_records(records)
        if X is None:
            return None
        prediction, proba = compiled.compiled_outputs(serving.model, runtime, X, serving.output)
        columns = [prediction.tolist()]
        names_out = ["prediction"]
        if proba is not None:
            columns += proba.T.tolist()
            names_out += proba_columns(serving.model.classes_)
        return [dict(zip(names_out, values, strict=True)) for values in zip(*columns, strict=True)]

    def serving(self, principal: Principal, ref: str) -> Serving:
        """What predicting with ``ref`` needs, loaded: the latency-critical path. The ref's
        resolution is remembered for ``predict_cache_seconds`` (this process forgets it at once
        when it changes a model; other processes within that time), the loaded model and its
        compiled form by their hashes, which never change."""
        found = self._fresh_resolution(principal, ref)
        if found is None:
            found = self._resolve_for_serving(principal, ref)
        label = f"model {ref.partition('@')[0]}@{found.version}"
        model = self._cached_model(found.sha256, found.storage_key, label)
        runtime = None
        if found.compiled_sha256 and found.compiled_key and not self._is_stale(found):
            try:
                runtime = self._cached_compiled(
                    found.compiled_sha256, found.compiled_key, found.signature, label
                )
            except (compiled.NotCompilable, FileMissing) as exc:
                # Written by another release, or lost: scikit-learn serves it from the
                # artifact (the source of truth), as before compiling.
                log.warning("Serving %s with scikit-learn: %s", label, exc)
                self._stale.add(found.compiled_sha256)
        return Serving(model, runtime, found.signature, found.output or {})

    def _resolve_for_serving(self, principal: Principal, ref: str) -> _Resolved:
        """One query for what :meth:`serving` needs; remembered when caching is on."""
        epoch, now = self._epoch, time.monotonic()
        with self.store.session() as session:
            repo = self.store.repo(session, principal)
            stmt = self._version_query(repo, ref, *_RESOLVED_COLUMNS)
            row = session.execute(stmt).first()
        if row is None:
            raise NotFound(f"Model {ref} not found.")
        found = _Resolved(*row)
        if self.store.config.predict_cache_seconds > 0:
            if len(self._resolved) > 4096:
                self._resolved.clear()
            self._resolved[(principal.tenant, ref)] = (epoch, now, found)
        return found

    def _fresh_resolution(self, principal: Principal, ref: str) -> _Resolved | None:
        """The remembered resolution of ``ref`` if no model changed in this process since
        and it is younger than ``predict_cache_seconds``."""
        hit = self._resolved.get((principal.tenant, ref))
        if hit is None or hit[0] != self._epoch:
            return None
        if time.monotonic() - hit[1] >= self.store.config.predict_cache_seconds:
            return None
        return hit[2]

    def _is_stale(self, found: _Resolved) -> bool:
        return found.compiled_sha256 in self._stale

    def runtime_of(self, principal: Principal, ref: str) -> str | None:
        """The runtime ``ref`` was last seen to use in this process (``None``: not known
        yet), without touching the database: for choosing where to run a prediction."""
        hit = self._resolved.get((principal.tenant, ref))
        if hit is None:
            return None
        if hit[2].compiled_sha256 and not self._is_stale(hit[2]):
            return compiled.RUNTIME_ONNX
        return compiled.RUNTIME_SKLEARN

    def is_warm(self, principal: Principal, ref: str) -> bool:
        """Whether :meth:`serving` would answer from memory alone (no query, no file read)
        with a compiled model: then predicting a few rows takes microseconds."""
        found = self._fresh_resolution(principal, ref)
        return (
            found is not None
            and bool(found.compiled_sha256)
            and self._cache.contains(found.sha256)
            and self._compiled.contains(found.compiled_sha256)
        )

    def _cached_compiled(
        self, sha256: str, key: str, signature: list[dict[str, Any]], label: str
    ) -> compiled.CompiledModel:
        runtime = self._compiled.get(sha256)
        if runtime is None:
            data = self.store.storage.read_bytes(key, label=f"compiled {label}")
            if artifacts.artifact_sha256(data) != sha256:
                raise Invalid(
                    "The compiled model file is corrupted or was tampered with: its SHA-256 "
                    "does not match the registry's record.",
                    expected=sha256,
                )
            runtime = compiled.CompiledModel(data, signature)
            self._compiled.put(sha256, runtime)
            self.loads += 1
        return runtime

    def _changed(self) -> None:
        """Forget cached ref resolutions: a version, alias or model changed."""
        self._epoch += 1
