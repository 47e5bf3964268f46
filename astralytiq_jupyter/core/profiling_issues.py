"""Quality issues of a profiled column, each with the recipe step that would fix it (its
``suggestion``), at the severities of :mod:`.quality`."""

from __future__ import annotations

from typing import Any

from .profiling_report import ColumnProfile, QualityIssue
from .quality import CONSTANT_SEVERITY, missing_severity


def _fill_step(cp: ColumnProfile) -> dict[str, Any]:
    strategy = "median" if cp.kind == "numeric" and cp.dtype != "object" else "mode"
    return {"op": "fill_missing", "columns": [cp.name], "strategy": strategy}


def issue(code, severity, message, columns, suggestion, rows=None) -> QualityIssue:
    return QualityIssue(code, severity, message, list(columns), suggestion, rows)


def column_issues(cp: ColumnProfile, extra: dict[str, Any]) -> list[QualityIssue]:
    name, issues = cp.name, []
    drop = {"op": "drop_columns", "columns": [name]}
    rows = cp.count + cp.missing
    if rows == 0:
        return []  # nothing can be missing or repeated without rows (as in quality.py)
    if "all_missing" in cp.flags:
        severity = missing_severity(cp.missing, rows)
        return [issue("all_missing", severity, f"'{name}' has no values at all.", [name], drop)]
    if cp.missing:
        pct = cp.missing_pct
        severity = missing_severity(cp.missing, rows)
        if pct >= 50:
            issues.append(
                issue(
                    "missing_values",
                    severity,
                    f"'{name}' is {pct:.1f}% missing; consider dropping it.",
                    [name],
                    drop,
                    cp.missing,
                )
            )
        else:
            issues.append(
                issue(
                    "missing_values",
                    severity,
                    f"'{name}' has {cp.missing} missing values ({pct:.1f}%).",
                    [name],
                    _fill_step(cp),
                    cp.missing,
                )
            )
    if "constant" in cp.flags:
        issues.append(
            issue(
                "constant",
                CONSTANT_SEVERITY,
                f"'{name}' holds a single value; it carries no information.",
                [name],
                drop,
                cp.count,
            )
        )
    if "mixed_types" in cp.flags:
        kinds = ", ".join(f"{k}: {v}" for k, v in (cp.types or {}).items())
        numbers = (cp.types or {}).get("number", 0)
        op = "to_number" if numbers >= 0.9 * cp.count else "to_text"
        issues.append(
            issue(
                "mixed_types",
                "warning",
                f"'{name}' mixes value types ({kinds}).",
                [name],
                {"op": op, "columns": [name]},
                cp.count,
            )
        )
    if "numeric_text" in cp.flags:
        bad = extra["not_numbers"]
        more = f"; {bad} values are not numbers and would become missing" if bad else ""
        step = {"op": "to_number", "columns": [name]}
        if extra.get("thousands"):
            step["thousands"] = extra["thousands"]
        issues.append(
            issue(
                "numeric_text",
                "warning",
                f"'{name}' holds numbers stored as text{more}.",
                [name],
                step,
                cp.count,
            )
        )
    if "date_text" in cp.flags:
        issues.append(
            issue(
                "date_text",
                "info",
                f"'{name}' holds dates stored as text.",
                [name],
                {"op": "to_datetime", "columns": [name]},
                cp.count,
            )
        )
    if "boolean_text" in cp.flags:
        issues.append(
            issue(
                "boolean_text",
                "info",
                f"'{name}' holds yes/no values as text.",
                [name],
                {"op": "to_boolean", "columns": [name]},
                cp.count,
            )
        )
    if cp.text and cp.text["padded"]:
        n = cp.text["padded"]
        issues.append(
            issue(
                "whitespace",
                "info",
                f"{n} values of '{name}' start or end with spaces.",
                [name],
                {"op": "trim", "columns": [name]},
                n,
            )
        )
    if extra.get("case_variants"):
        n = extra["case_variants"]
        issues.append(
            issue(
                "inconsistent_case",
                "info",
                f"{n} values of '{name}' differ from others only by letter case.",
                [name],
                {"op": "text_case", "columns": [name], "case": "lower"},
                n,
            )
        )
    if "high_cardinality" in cp.flags and "unique" not in cp.flags:
        issues.append(
            issue(
                "high_cardinality",
                "info",
                f"'{name}' has {cp.distinct} distinct values ({cp.distinct_pct:.0f}%); "
                "it may be an identifier or free text, of little use for grouping "
                "or models.",
                [name],
                drop,
            )
        )
    if cp.outliers and cp.outliers["count"] and cp.outliers["pct"] >= 0.5 and cp.dtype != "object":
        n = cp.outliers["count"]
        issues.append(
            issue(
                "outliers",
                "info",
                f"{n} values of '{name}' ({cp.outliers['pct']:.1f}%) lie outside "
                "1.5 IQR of the quartiles.",
                [name],
                {"op": "outliers", "columns": [name], "method": "iqr", "action": "clip"},
                n,
            )
        )
    return issues
