"""Dataset versions as the API shows them: one immutable version, and a dataset's summary."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any


@dataclass(frozen=True)
class DatasetVersion:
    """One immutable version of a dataset, as users see it."""

    name: str
    version: int
    rows: int
    columns: int
    schema: dict[str, str]
    size_bytes: int
    sha256: str
    quality: dict[str, Any]
    format: str
    source: str
    source_detail: str
    parent: str | None
    recipe: list[dict[str, Any]] | None
    created_by: str
    created_at: datetime
    note: str = ""
    model: str | None = None  # the model version whose predictions these are
    #: Columns holding a model's predictions (column -> model version), written by this
    #: version's scoring or an ancestor's: training leaves them out unless asked.
    model_columns: dict[str, str] = field(default_factory=dict)
    # True when an ingest or save found this content already stored as the latest version
    # and returned it instead of making a new one (a fact about the answer, not the version).
    reused: bool = field(default=False, compare=False)

    @property
    def ref(self) -> str:
        return f"{self.name}@{self.version}"

    @property
    def quality_score(self) -> float | None:
        return self.quality.get("score")

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "version": self.version,
            "ref": self.ref,
            "rows": self.rows,
            "columns": self.columns,
            "schema": self.schema,
            "size_bytes": self.size_bytes,
            "sha256": self.sha256,
            "quality": self.quality,
            "format": self.format,
            "source": self.source,
            "source_detail": self.source_detail,
            "parent": self.parent,
            "recipe": self.recipe,
            "created_by": self.created_by,
            "created_at": self.created_at.isoformat(),
            "note": self.note,
            "model": self.model,
            "model_columns": self.model_columns,
            "reused": self.reused,
        }

    def __repr__(self) -> str:
        reused = ", reused=True" if self.reused else ""
        return (
            f"DatasetVersion(name={self.name!r}, version={self.version}, rows={self.rows}, "
            f"columns={self.columns}, quality_score={self.quality_score}{reused})"
        )


@dataclass(frozen=True)
class DatasetSummary:
    """A dataset with its latest version, for listings."""

    name: str
    description: str
    versions: int
    latest: DatasetVersion
    created_by: str
    created_at: datetime
    extra: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "description": self.description,
            "versions": self.versions,
            "latest": self.latest.to_dict(),
            "created_by": self.created_by,
            "created_at": self.created_at.isoformat(),
        }
