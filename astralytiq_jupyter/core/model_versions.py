"""Registered model versions as the API shows them, and what registering one takes: the
metadata fields a caller may give, their checks, and the metadata of a training result."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from . import artifacts, compiled
from .errors import Invalid
from .limits import JsonLimits, check_json, check_text
from .model_card import ModelCard
from .training import TrainingResult

# Metadata a caller may give with an uploaded artifact; lineage and storage fields are the
# server's own.
REGISTRATION_FIELDS = frozenset(
    {
        "task",
        "algorithm",
        "signature",
        "output",
        "params",
        "metrics",
        "dataset",
        "recipe",
        "training_spec",
        "library_versions",
        "description",
        "note",
        "input_example",
        "card",
    }
)

#: Rows of a dataset or input example a compilation is verified on.
EXAMPLE_ROWS = 1000
TASKS = ("classification", "regression", "clustering", "forecasting")


@dataclass(frozen=True)
class ModelVersion:
    """One immutable registered version of a model."""

    name: str
    version: int
    task: str
    algorithm: str
    params: dict[str, Any]
    metrics: dict[str, Any]
    signature: list[dict[str, Any]]
    output: dict[str, Any]
    dataset: str | None
    recipe: list[dict[str, Any]] | None
    training_spec: dict[str, Any]
    library_versions: dict[str, Any]
    sha256: str
    size_bytes: int
    aliases: list[str]
    created_by: str
    created_at: datetime
    note: str = ""
    #: "onnx" when predictions run on the verified compiled file, else "sklearn".
    runtime: str = compiled.RUNTIME_SKLEARN
    #: Why the version is (not) compiled.
    runtime_note: str = ""
    #: The evaluation of the training run that produced it (registered from a training
    #: result); given by ``get`` and ``register``, left out (``None``) of listings.
    card: ModelCard | None = None

    @property
    def ref(self) -> str:
        return f"{self.name}@{self.version}"

    def to_dict(self) -> dict[str, Any]:
        data = {k: getattr(self, k) for k in self.__dataclass_fields__}
        data["card"] = self.card.to_dict() if self.card is not None else None
        data["created_at"] = self.created_at.isoformat()
        data["ref"] = self.ref
        return data

    def __repr__(self) -> str:
        return (
            f"ModelVersion(name={self.name!r}, version={self.version}, task={self.task!r}, "
            f"algorithm={self.algorithm!r}, aliases={self.aliases})"
        )


@dataclass(frozen=True)
class ModelSummary:
    name: str
    description: str
    versions: int
    latest: ModelVersion
    aliases: dict[str, int] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "description": self.description,
            "versions": self.versions,
            "latest": self.latest.to_dict(),
            "aliases": self.aliases,
        }


@dataclass(frozen=True)
class AliasMove:
    alias: str
    from_version: int | None
    to_version: int | None
    actor: str
    created_at: datetime

    def to_dict(self) -> dict[str, Any]:
        return {
            "alias": self.alias,
            "from_version": self.from_version,
            "to_version": self.to_version,
            "actor": self.actor,
            "created_at": self.created_at.isoformat(),
        }


#: The most input columns a model signature may list.
MAX_SIGNATURE_COLUMNS = 10_000
_MAPPINGS = ("output", "params", "metrics", "training_spec", "library_versions")


def check_registration(meta: dict[str, Any], limits: JsonLimits) -> None:
    """Registration metadata, checked before anything is stored or compiled: a task the
    registry knows, a signature every predict can use (a list of ``{'name', 'dtype'}``
    columns: ``"x"`` or ``["x"]`` would be stored and then fail every prediction), fields
    of the right JSON types, and the whole within the JSON limits, so it can be served."""
    if meta.get("task") not in TASKS:
        raise Invalid(f"Unknown task {meta.get('task')!r}; expected one of: {', '.join(TASKS)}.")
    signature = meta.get("signature")
    shape = "A model needs an input signature: a list of {'name', 'dtype'} columns"
    if not isinstance(signature, list) or not signature:
        raise Invalid(f"{shape}.")
    if len(signature) > MAX_SIGNATURE_COLUMNS:
        raise Invalid(f"{shape}; at most {MAX_SIGNATURE_COLUMNS:,} columns.")
    for i, column in enumerate(signature):
        if not (
            isinstance(column, dict)
            and isinstance(column.get("name"), str)
            and 0 < len(column["name"]) <= 255
            and all(isinstance(column.get(k, ""), str) for k in ("dtype", "kind"))
        ):
            raise Invalid(
                f"{shape}; column {i + 1} is {json.dumps(column, default=str)[:80]}.", column=i
            )
    names = [c["name"] for c in signature]
    if len(set(names)) != len(names):
        raise Invalid(f"{shape}; each name once.")
    for key in _MAPPINGS:
        if meta.get(key) is not None and not isinstance(meta[key], dict):
            raise Invalid(f"'{key}' must be an object.", field=key)
    check_text(meta.get("algorithm"), "'algorithm'", 64)
    for key in ("dataset", "description", "note"):
        check_text(meta.get(key), f"'{key}'")
    if meta.get("recipe") is not None and not isinstance(meta["recipe"], list):
        raise Invalid("'recipe' must be a list of steps.", field="recipe")
    check_json({k: artifacts.json_safe(v) for k, v in meta.items()}, "The model's metadata", limits)


def registration_metadata(result: TrainingResult) -> dict[str, Any]:
    """The registry metadata a training result carries (both backends register with it)."""
    return {
        "task": result.task,
        "algorithm": result.best_algorithm,
        "signature": result.signature,
        "output": result.output,
        "params": result.best_params,
        "metrics": {
            "primary": result.primary_metric,
            "holdout": result.holdout_metrics,
            "cv": result.cv_metrics,
        },
        "dataset": result.spec.dataset,
        "training_spec": result.spec.to_dict(),
        "library_versions": result.library_versions,
        "card": ModelCard.from_result(result).to_dict(),
    }


def runtime_here(runtime: str, note: str) -> dict[str, str]:
    """The runtime serving a version in this process: a version compiled where the ``serving``
    extra is installed is served by scikit-learn where it is not, and its note says so."""
    if runtime != compiled.RUNTIME_ONNX:
        return {"runtime": runtime, "runtime_note": note}
    unavailable = compiled.unavailable_note()
    if unavailable is None:
        return {"runtime": runtime, "runtime_note": note}
    why = unavailable.removeprefix("Not compiled: ")
    return {
        "runtime": compiled.RUNTIME_SKLEARN,
        "runtime_note": f"{note} Here {why}".strip(),
    }


def checked_card(card: ModelCard | dict[str, Any] | None) -> ModelCard | None:
    """A card given to ``register``, as a checked and bounded :class:`ModelCard`."""
    if card is None or isinstance(card, ModelCard):
        return card.bounded() if card is not None else None
    return ModelCard.from_dict(card)
