"""Cleaning recipes: an ordered list of JSON steps, validated, applied, described and exported.

Usage::

    recipe = Recipe.from_json([{"op": "fill_missing", "columns": ["price"], "strategy": "median"}])
    recipe.validate({"price": "float64"})          # the output schema, or Invalid naming the step
    clean, report = recipe.apply_with_report(df)   # report: rows/columns per step, failed values
    print(recipe.to_code())                        # a pandas-only function giving the same result

Steps are numbered from 1 in messages and in ``detail["step"]``. No step ever evaluates text a
user typed: filters and derived columns are structured, and op names map to classes
(:mod:`.recipe_ops`).
"""

from __future__ import annotations

import inspect
import json
import keyword
import math
import textwrap
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import pandas as pd

from .errors import AstralytiqError, Invalid
from .limits import DEFAULT_JSON_LIMITS, check_int, check_json, parse_json
from .recipe_base import ApplyContext, Op, Schema, schema_of
from .recipe_ops import OPS, op_catalog, parse_step

__all__ = [
    "OPS",
    "Recipe",
    "RecipePreview",
    "RecipeReport",
    "StepCheck",
    "StepPreview",
    "StepReport",
    "json_value",
    "op_catalog",
]

DatasetLoader = Callable[[str], pd.DataFrame]
SchemaLoader = Callable[[str], Mapping[str, str]]
Progress = Callable[[int, int, str], None]

#: The most steps a recipe may have (a cleaning recipe has tens; each step is work per row).
MAX_STEPS = 500
#: The most rows a preview runs on (wizards show a few hundred).
MAX_PREVIEW_ROWS = 100_000
#: Most rows of each step's result a preview carries (a page of the wizards' grid).
MAX_HEAD = 200
# pandas raises these for data it cannot process (mixed types in a sort, overflow...)
_DATA_ERRORS = (ValueError, TypeError, KeyError, IndexError, OverflowError, ZeroDivisionError)


@dataclass
class StepReport:
    """What one step did: sizes before and after, columns added/removed/changed, notes."""

    step: int
    op: str
    description: str
    rows_before: int
    rows_after: int
    columns_added: list[str]
    columns_removed: list[str]
    # values compared only by previews; None when the step ran on full data
    columns_changed: list[str] | None
    seconds: float
    notes: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class RecipeReport:
    """The report of one run: per step, plus totals. ``notes`` include e.g. ``failed`` counts."""

    steps: list[StepReport]
    rows_in: int
    rows_out: int
    columns_in: int
    columns_out: int
    seconds: float

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "steps": [s.to_dict() for s in self.steps]}


@dataclass
class StepPreview(StepReport):
    """A step of a preview, with the first rows of its result."""

    head: pd.DataFrame | None = None

    def to_dict(self) -> dict[str, Any]:
        out = {k: v for k, v in asdict(self).items() if k != "head"}
        out["head"] = _frame_json(self.head)
        return out


@dataclass
class RecipePreview:
    """A recipe run on a bounded sample; ``error`` is set (and steps stop) if a step failed."""

    rows_total: int
    rows_sampled: int
    sample: str
    steps: list[StepPreview]
    result: pd.DataFrame
    error: dict[str, Any] | None = None

    def __repr__(self) -> str:
        failed = f", error={self.error.get('message')!r}" if self.error else ""
        return (
            f"RecipePreview(steps={len(self.steps)}, rows_sampled={self.rows_sampled}, "
            f"rows_out={len(self.result) if self.result is not None else 0}{failed})"
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "rows_total": self.rows_total,
            "rows_sampled": self.rows_sampled,
            "sample": self.sample,
            "steps": [s.to_dict() for s in self.steps],
            "result": _frame_json(self.result),
            "error": self.error,
        }


def json_value(value: Any) -> Any:
    """A JSON-safe scalar: None for missing, Python numbers, ISO text for times."""
    if value is None or value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, pd.Timestamp | pd.Timedelta):
        return value.isoformat()
    if hasattr(value, "item"):  # numpy scalars
        value = value.item()
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, bool | int | str):
        return value
    return str(value)


def _frame_json(df: pd.DataFrame | None) -> dict[str, Any] | None:
    """A small frame as JSON-safe {"columns", "dtypes", "data"} (rows of values)."""
    if df is None:
        return None
    columns = [[json_value(v) for v in df[c].tolist()] for c in df.columns]
    return {
        "columns": [str(c) for c in df.columns],
        "dtypes": [str(t) for t in df.dtypes],
        "data": [list(row) for row in zip(*columns, strict=True)] if columns else [],
    }


@dataclass
class StepCheck:
    """One step checked against its input schema (see :meth:`Recipe.check_steps`)."""

    schema_in: Schema
    schema_out: Schema  # the input again when the step failed
    error: AstralytiqError | None


def _validate_step(op: Op, schema: Schema, datasets: SchemaLoader | None) -> Schema:
    """The schema after ``op``; a join reads its right-hand schema through ``datasets``."""
    if op.dataset_param and datasets is not None:
        right = Schema(datasets(op.p[op.dataset_param]))
        return op.validate(schema, right)  # type: ignore[call-arg]
    return op.validate(schema)


def _step_error(step: int, op: str | None, error: AstralytiqError) -> AstralytiqError:
    label = f"Step {step}" + (f" ({op})" if op else "")
    detail = {**error.detail, "step": step, "op": op}
    return type(error)(f"{label}: {error.message}", **detail)


def _comment(text: str) -> str:
    """One-line comment text: user names may hold line breaks that would end a comment."""
    return "".join(" " if ch in "\r\n\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029" else ch for ch in text)


class Recipe:
    """An ordered list of steps. Immutable: build a new one to change it."""

    def __init__(self, steps: Sequence[Op] = ()) -> None:
        self.steps: tuple[Op, ...] = tuple(steps)

    # --- construction and JSON -----------------------------------------------------------

    @classmethod
    def from_json(cls, steps: list[dict[str, Any]] | str) -> Recipe:
        """Parse a recipe from its JSON list (or the JSON text of it)."""
        if isinstance(steps, str):
            steps = parse_json(steps, "the recipe", DEFAULT_JSON_LIMITS.max_depth)
        if not isinstance(steps, list):
            raise Invalid("a recipe is a list of steps")
        if len(steps) > MAX_STEPS:
            raise Invalid(
                f"a recipe has at most {MAX_STEPS} steps; this one has {len(steps):,}",
                steps=len(steps),
                maximum=MAX_STEPS,
            )
        check_json(steps, "the recipe")
        ops = []
        for i, step in enumerate(steps, 1):
            try:
                ops.append(parse_step(step))
            except AstralytiqError as error:
                name = step.get("op") if isinstance(step, Mapping) else None
                raise _step_error(i, name if name in OPS else None, error) from None
        return cls(ops)

    def to_json(self) -> list[dict[str, Any]]:
        return [json.loads(json.dumps(op.to_json())) for op in self.steps]

    def __len__(self) -> int:
        return len(self.steps)

    def __iter__(self) -> Iterator[Op]:
        return iter(self.steps)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Recipe) and self.to_json() == other.to_json()

    def __repr__(self) -> str:
        return f"Recipe({[op.name for op in self.steps]})"

    def references(self) -> list[str]:
        """Dataset references the recipe reads besides its input (for lineage and access checks)."""
        return [op.p[op.dataset_param] for op in self.steps if op.dataset_param]

    # --- checking ---------------------------------------------------------------------------

    def validate(
        self, schema: Mapping[str, str], *, datasets: SchemaLoader | None = None
    ) -> Schema:
        """Check every step against the schema it will see; return the final schema.

        ``datasets`` resolves a joined dataset's reference to its schema; without it, columns
        after a join are checked when the recipe runs.
        """
        current = Schema(schema, open=getattr(schema, "open", False))
        for i, op in enumerate(self.steps, 1):
            try:
                current = _validate_step(op, current, datasets)
            except AstralytiqError as error:
                raise _step_error(i, op.name, error) from None
        return current

    def check_steps(
        self, schema: Mapping[str, str], *, datasets: SchemaLoader | None = None
    ) -> list[StepCheck]:
        """Check every step against the schema it will see, and go on past a failing step
        (as if it were left out) so that an editor can show each step's problem at once and
        offer each step the columns it sees. Errors are not prefixed with the step number."""
        current = Schema(schema, open=getattr(schema, "open", False))
        checks = []
        for op in self.steps:
            try:
                after = _validate_step(op, current, datasets)
            except AstralytiqError as error:
                checks.append(StepCheck(current, current, error))
                continue
            checks.append(StepCheck(current, after, None))
            current = after
        return checks

    # --- running ----------------------------------------------------------------------------

    def apply(
        self,
        df: pd.DataFrame,
        *,
        datasets: DatasetLoader | None = None,
        progress: Progress | None = None,
    ) -> pd.DataFrame:
        """Run the recipe on ``df`` (left unchanged) and return the result, indexed 0..n-1."""
        return self.apply_with_report(df, datasets=datasets, progress=progress)[0]

    def apply_with_report(
        self,
        df: pd.DataFrame,
        *,
        datasets: DatasetLoader | None = None,
        progress: Progress | None = None,
    ) -> tuple[pd.DataFrame, RecipeReport]:
        """Run the recipe and report per step what changed (``progress(done, total, what)``)."""
        start = time.perf_counter()
        rows_in, columns_in = df.shape
        # our own frame (steps may replace its columns), indexed 0..n-1 like every step's output
        df = df.reset_index(drop=True)
        reports = []
        total = len(self.steps)
        for i, op in enumerate(self.steps, 1):
            if progress is not None:
                progress(i - 1, total, op.describe())
            df, report = self._run_step(i, op, df, datasets, compare=False)
            reports.append(report)
        if progress is not None:
            progress(total, total, "done")
        report = RecipeReport(
            steps=reports,
            rows_in=rows_in,
            rows_out=len(df),
            columns_in=columns_in,
            columns_out=df.shape[1],
            seconds=time.perf_counter() - start,
        )
        return df, report

    def _run_step(
        self,
        i: int,
        op: Op,
        df: pd.DataFrame,
        datasets: DatasetLoader | None,
        compare: bool,
    ) -> tuple[pd.DataFrame, StepReport]:
        ctx = ApplyContext(datasets=datasets)
        started = time.perf_counter()
        before_columns = list(df.columns)
        before = df.copy(deep=False) if compare else None
        rows_before = len(df)
        try:
            op.validate(schema_of(df))  # the data's real schema: catches columns gone missing
            out = op.apply(df, ctx)
        except AstralytiqError as error:
            if ctx.column is not None and "column" not in error.detail:
                error.detail["column"] = ctx.column
            raise _step_error(i, op.name, error) from None
        except _DATA_ERRORS as error:
            where = f" to column '{ctx.column}'" if ctx.column else ""
            message = f"could not apply{where}: {error}"
            detail = {"column": ctx.column} if ctx.column else {}
            raise _step_error(i, op.name, Invalid(message, **detail)) from error
        after_columns = set(out.columns)
        changed = None
        if before is not None:
            changed = [
                c
                for c in before.columns
                if c in after_columns
                and (
                    before[c].dtype != out[c].dtype
                    or (len(before) == len(out) and not before[c].equals(out[c]))
                )
            ]
        report = StepReport(
            step=i,
            op=op.name,
            description=op.describe(),
            rows_before=rows_before,
            rows_after=len(out),
            columns_added=[str(c) for c in out.columns if c not in set(before_columns)],
            columns_removed=[str(c) for c in before_columns if c not in after_columns],
            columns_changed=changed,
            seconds=time.perf_counter() - started,
            notes=ctx.notes,
        )
        return out, report

    def preview(
        self,
        df: pd.DataFrame,
        *,
        rows: int = 1000,
        datasets: DatasetLoader | None = None,
        head: int = 5,
        seed: int | None = None,
    ) -> RecipePreview:
        """Run on at most ``rows`` rows (the first ones, or a random sample with ``seed``),
        keeping the first ``head`` rows (at most :data:`MAX_HEAD`) of each step's result.

        A failing step does not raise: the preview keeps the steps before it and sets ``error``,
        so the wizard can show both.
        """
        check_int(rows, "rows", 1, MAX_PREVIEW_ROWS)
        check_int(head, "head", 0, MAX_HEAD)
        if seed is None or len(df) <= rows:
            sample, how = df.head(rows), "first rows"
        else:
            sample, how = df.sample(n=rows, random_state=seed).sort_index(), "random rows"
        current = sample.reset_index(drop=True)
        steps: list[StepPreview] = []
        error = None
        for i, op in enumerate(self.steps, 1):
            try:
                current, report = self._run_step(i, op, current.copy(deep=False), datasets, True)
            except AstralytiqError as failure:
                error = failure.to_dict()
                break
            steps.append(StepPreview(**asdict(report), head=current.head(head)))
        return RecipePreview(
            rows_total=len(df),
            rows_sampled=len(sample),
            sample=how,
            steps=steps,
            result=current.head(head),
            error=error,
        )

    # --- words and code -------------------------------------------------------------------

    def describe(self) -> list[str]:
        """One plain-English sentence per step."""
        return [op.describe() for op in self.steps]

    def to_code(self, function_name: str = "clean") -> str:
        """A self-contained module whose function reproduces the recipe with pandas alone."""
        if not function_name.isidentifier() or keyword.iskeyword(function_name):
            raise Invalid(f"{function_name!r} is not a valid Python function name")
        imports = ["import pandas as pd", "import numpy as np"]
        extra = sorted({name for op in self.steps for name in op.imports})
        imports += [f"import {name}" for name in extra]
        helpers: dict[str, str] = {}
        for op in self.steps:
            for fn in op.helpers:
                helpers.setdefault(fn.__name__, textwrap.dedent(inspect.getsource(fn)))
        body = [
            '"""Reproduce the AstralytiQ recipe with pandas alone.',
            "",
            "``datasets`` loads a joined dataset by reference (only needed for join steps).",
            '"""',
            "df = df.reset_index(drop=True)  # a new frame: the caller's is left as it was",
        ]
        for i, op in enumerate(self.steps, 1):
            body.append(f"# Step {i}: {_comment(op.describe())}")
            body.extend(op.to_code())
        body.append("return df")
        parts = ["\n".join(imports), *[h.rstrip() for h in helpers.values()]]
        function = f"def {function_name}(df, datasets=None):\n" + textwrap.indent(
            "\n".join(body), "    "
        )
        return "\n\n\n".join([*parts, function]) + "\n"
