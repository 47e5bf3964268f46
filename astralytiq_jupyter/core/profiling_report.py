"""A dataset profile as the API shows it: per-column statistics, quality issues and the
whole profile, JSON-safe, with its HTML page (:mod:`.profiling_html`)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from .recipes import json_value


@dataclass
class ColumnProfile:
    """Statistics of one column. Percentages are 0-100; ``distinct_pct`` is of non-missing."""

    name: str
    dtype: str
    kind: str
    count: int
    missing: int
    missing_pct: float
    distinct: int
    distinct_pct: float
    top_values: list[dict[str, Any]]
    numeric: dict[str, Any] | None = None
    outliers: dict[str, Any] | None = None
    histogram: dict[str, Any] | None = None
    datetime: dict[str, Any] | None = None
    text: dict[str, Any] | None = None
    types: dict[str, int] | None = None
    flags: list[str] = field(default_factory=list)


@dataclass
class QualityIssue:
    """A data-quality finding with a severity and the recipe step that would fix it."""

    code: str
    severity: str
    message: str
    columns: list[str]
    suggestion: dict[str, Any]
    affected_rows: int | None = None


@dataclass
class Profile:
    """The profiling report. ``to_dict()`` is JSON-safe; ``to_html()`` is a standalone page."""

    rows: int
    columns: int
    memory_bytes: int
    missing_cells: int
    missing_cells_pct: float
    duplicate_rows: int
    duplicate_rows_pct: float
    column_profiles: list[ColumnProfile]
    constant_columns: list[str]
    high_cardinality_columns: list[str]
    mixed_type_columns: list[str]
    correlations: dict[str, Any]
    issues: list[QualityIssue]
    quality_score: float | None
    sample: dict[str, Any]
    settings: dict[str, Any]
    seconds: float

    def __repr__(self) -> str:
        return (
            f"Profile(rows={self.rows}, columns={self.columns}, quality_score="
            f"{self.quality_score}, issues={len(self.issues)})"
        )

    def column(self, name: str) -> ColumnProfile:
        for c in self.column_profiles:
            if c.name == name:
                return c
        raise KeyError(name)

    def to_dict(self) -> dict[str, Any]:
        return _json_safe(asdict(self))

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Profile:
        """Rebuild a profile from ``to_dict()`` output (e.g. received over the REST API)."""
        fields = dict(data)
        fields["column_profiles"] = [ColumnProfile(**c) for c in data["column_profiles"]]
        fields["issues"] = [QualityIssue(**i) for i in data["issues"]]
        return cls(**fields)

    def to_html(self, title: str = "Data profile") -> str:
        from .profiling_html import render_profile

        return render_profile(self, title=title)


def _json_safe(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json_safe(v) for v in value]
    return json_value(value)


def pct(part: float, whole: float) -> float:
    return float(100.0 * part / whole) if whole else 0.0
