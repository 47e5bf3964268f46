"""Automatic preprocessing: decide what each raw column is, then build a scikit-learn transformer.

The plan (which columns are numeric, boolean, categorical or dates, and which are dropped and why)
is computed once from the training data and recorded, so the same decisions drive the fitted
pipeline, the input signature used at prediction time and the code exported by ``to_code()``.
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from .errors import Invalid

KINDS = ("numeric", "boolean", "categorical", "datetime")
#: A numeric target with at most this many distinct whole-number values is read as classes.
MAX_INFERRED_CLASSES = 20

#: One-hot encoding keeps at most this many categories per column (the rest share one column).
MAX_ONEHOT_CATEGORIES = 30
#: A text column with more distinct values than this (or, above 50, with more than half of its
#: values distinct) is free text, not a category.
MAX_TEXT_DISTINCT = 1000
#: Columns with fewer non-missing values than this are never called identifiers.
MIN_ROWS_FOR_ID = 20

_ID_NAME = re.compile(r"(^|[_\W])(id|uuid|guid|key)$|^(id|uuid|guid)([_\W]|$)", re.IGNORECASE)
_NUMERIC_TEXT = re.compile(r"^\s*[-+]?\d+(\.\d*)?([eE][-+]?\d+)?\s*$")


@dataclass
class PreprocessPlan:
    """Which raw columns feed the model, as what kind, and which were dropped (with reasons)."""

    numeric: list[str] = field(default_factory=list)
    boolean: list[str] = field(default_factory=list)
    categorical: list[str] = field(default_factory=list)
    datetime: list[str] = field(default_factory=list)
    dropped: list[dict[str, str]] = field(default_factory=list)

    @property
    def columns(self) -> list[str]:
        return [*self.numeric, *self.boolean, *self.categorical, *self.datetime]

    def kind_of(self, column: str) -> str:
        for kind in KINDS:
            if column in getattr(self, kind):
                return kind
        raise KeyError(column)

    def notes(self) -> list[str]:
        return [f"Dropped column '{d['column']}': {d['reason']}." for d in self.dropped]


def _looks_like_dates(values: pd.Series) -> bool:
    sample = values.dropna()
    if sample.empty:
        return False
    sample = sample.sample(n=min(len(sample), 200), random_state=0).astype(str)
    # Plain numbers ("12", "3.5") would otherwise parse as dates in some formats.
    if sample.str.match(_NUMERIC_TEXT).mean() > 0.5:
        return False
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        parsed = pd.to_datetime(sample, errors="coerce")
    return bool(parsed.notna().mean() >= 0.95)


def _is_bool_like(values: pd.Series) -> bool:
    non_null = values.dropna()
    if non_null.empty:
        return False
    if pd.api.types.is_bool_dtype(values):
        return True
    if values.dtype != object:
        return False
    return bool(non_null.map(lambda v: isinstance(v, (bool, np.bool_))).all())


def _profile(name: str, values: pd.Series) -> tuple[str | None, str | None]:
    """Return (kind, None) for a usable column or (None, reason) for one to drop."""
    non_null = values.dropna()
    n = len(non_null)
    if n == 0:
        return None, "all values are missing"
    distinct = int(non_null.nunique())
    if distinct <= 1:
        return None, f"constant (every value is {non_null.iloc[0]!r})"
    if _is_bool_like(values):
        return "boolean", None
    dtype = values.dtype
    if isinstance(dtype, pd.DatetimeTZDtype) or pd.api.types.is_datetime64_any_dtype(dtype):
        return "datetime", None
    if pd.api.types.is_timedelta64_dtype(dtype):
        return None, "durations (timedelta) are not supported as features"
    if pd.api.types.is_numeric_dtype(dtype) and not pd.api.types.is_complex_dtype(dtype):
        if pd.api.types.is_integer_dtype(dtype) and distinct == n and n >= MIN_ROWS_FOR_ID:
            ordered = non_null.sort_values().to_numpy()
            consecutive = bool((np.diff(ordered) == 1).all())
            if consecutive or _ID_NAME.search(name):
                return None, "looks like an identifier (every value is a distinct integer)"
        return "numeric", None
    if (
        isinstance(dtype, pd.CategoricalDtype)
        or pd.api.types.is_string_dtype(dtype)
        or pd.api.types.is_object_dtype(dtype)  # mixed values: treated as text labels
    ):
        if _looks_like_dates(values):
            return "datetime", None
        if distinct == n and n >= MIN_ROWS_FOR_ID:
            return None, f"looks like an identifier or free text (all {n} values are distinct)"
        if distinct > MAX_TEXT_DISTINCT or (distinct > 50 and distinct > 0.5 * n):
            return None, (
                f"free text ({distinct} distinct values in {n} rows) cannot be one-hot encoded"
            )
        return "categorical", None
    return None, f"unsupported type {dtype}"


def plan_preprocessing(
    df: pd.DataFrame, features: Sequence[str], *, explicit: bool = False
) -> PreprocessPlan:
    """Classify each feature column; drop unusable ones with a reason.

    When the caller named the features explicitly (``explicit``), a column that cannot be encoded
    at all (identifier-like or free text) is an error instead of a silent drop: the user asked for
    it, so they must hear why it cannot be used.
    """
    plan = PreprocessPlan()
    refused: list[str] = []
    for name in features:
        kind, reason = _profile(name, df[name])
        if kind is None:
            assert reason is not None
            if explicit and ("free text" in reason or "identifier" in reason):
                refused.append(f"'{name}' ({reason})")
            plan.dropped.append({"column": name, "reason": reason})
        else:
            getattr(plan, kind).append(name)
    if refused:
        raise Invalid(
            "These feature columns cannot be used: "
            + "; ".join(refused)
            + ". Remove them from the features or derive a coarser category first.",
            columns=[r.split("'")[1] for r in refused],
        )
    if not plan.columns:
        why = "; ".join(f"'{d['column']}' {d['reason']}" for d in plan.dropped)
        raise Invalid(
            "No usable feature columns" + (f": {why}." if why else "."),
            dropped=plan.dropped,
        )
    return plan


# --- the target ------------------------------------------------------------------------------


def infer_task(
    df: pd.DataFrame, target: str | None, date_column: str | None = None
) -> tuple[str, str]:
    """Guess the task from the target; returns (task, the reason in words)."""
    if date_column is not None:
        return "forecasting", f"a date column ('{date_column}') was given"
    if target is None:
        return "clustering", "no target was given"
    values = df[target].dropna()
    dtype = values.dtype
    if not pd.api.types.is_numeric_dtype(dtype) or pd.api.types.is_bool_dtype(dtype):
        return "classification", f"the target '{target}' holds labels ({dtype})"
    distinct = int(values.nunique())
    if distinct <= 2:
        return "classification", f"the target '{target}' has {distinct} distinct values"
    whole = bool(np.all(np.mod(values.to_numpy(dtype=float), 1) == 0))
    if whole and distinct <= MAX_INFERRED_CLASSES and distinct <= 0.1 * len(values):
        return "classification", f"the target '{target}' has {distinct} distinct whole numbers"
    return "regression", f"the target '{target}' is numeric with {distinct} distinct values"


# ``target_array`` is copied verbatim into scripts exported by ``to_code()``.


def target_array(values: pd.Series, task: str) -> np.ndarray:
    """The target as the estimators see it: floats for regression, plain labels otherwise."""
    if task == "regression":
        return pd.to_numeric(values, errors="coerce").to_numpy(dtype=float)
    if pd.api.types.is_bool_dtype(values.dtype) or pd.api.types.is_numeric_dtype(values.dtype):
        return values.to_numpy()
    return values.astype("str").to_numpy(dtype=object)


# --- input coercion --------------------------------------------------------------------------
# ``coerce_column`` is copied verbatim into scripts exported by ``to_code()``: it must only use
# numpy and pandas.


def coerce_column(values: pd.Series, kind: str) -> tuple[pd.Series, pd.Series]:
    """Convert one raw column to the dtype the pipeline expects for its kind.

    Returns the converted column and a boolean mask of values that were present but could not be
    converted (they become missing).
    """
    present = values.notna()
    if kind == "numeric":
        if pd.api.types.is_numeric_dtype(values.dtype):
            out = values.astype("float64")
        else:
            text = values.astype("str").str.strip()
            out = pd.to_numeric(text, errors="coerce").astype("float64")
    elif kind == "boolean":
        if pd.api.types.is_bool_dtype(values.dtype) or pd.api.types.is_numeric_dtype(values.dtype):
            out = values.astype("float64")
            out = out.where(out.isin([0.0, 1.0]))
        else:
            truth = {"true": 1.0, "t": 1.0, "yes": 1.0, "y": 1.0, "1": 1.0, "1.0": 1.0}
            truth.update({"false": 0.0, "f": 0.0, "no": 0.0, "n": 0.0, "0": 0.0, "0.0": 0.0})
            out = values.map(lambda v: truth.get(str(v).strip().lower(), np.nan)).astype("float64")
    elif kind == "categorical":
        out = values.astype("str")
    elif kind == "datetime":
        if isinstance(values.dtype, pd.DatetimeTZDtype):
            out = values.dt.tz_convert(None)
        elif pd.api.types.is_datetime64_any_dtype(values.dtype):
            out = values
        else:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                out = pd.to_datetime(values, errors="coerce")
            if isinstance(out.dtype, pd.DatetimeTZDtype):
                out = out.dt.tz_convert(None)
    else:
        raise ValueError(f"unknown column kind {kind!r}")
    return out, present & out.isna()


def kind_of_dtype(dtype: str) -> str:
    """The column kind implied by a dtype name, for signatures recorded without kinds."""
    name = str(dtype).lower()
    if name.startswith("bool"):
        return "boolean"
    if name.startswith("datetime"):
        return "datetime"
    if name.startswith(("int", "uint", "float")):
        return "numeric"
    return "categorical"


def column_kind(column: Mapping[str, Any]) -> str:
    """The kind of one signature column (recorded, or implied by its dtype)."""
    return column.get("kind") or kind_of_dtype(column.get("dtype", ""))


def coerce_frame(
    df: pd.DataFrame, signature: Sequence[dict[str, Any]], *, strict: bool = True
) -> pd.DataFrame:
    """Select the signature's columns from ``df`` and convert each to its kind.

    Missing columns are an error listing all of them; extra columns are ignored. With ``strict``,
    a value that cannot be converted (e.g. "abc" in a numeric column) is an error naming the
    column and the value; otherwise it becomes missing and is imputed.
    """
    names = [c["name"] for c in signature]
    kinds = [column_kind(c) for c in signature]
    missing = [n for n in names if n not in df.columns]
    if missing:
        raise Invalid(
            f"Missing input column{'s' if len(missing) > 1 else ''}: "
            + ", ".join(repr(m) for m in missing),
            missing=missing,
        )
    # Online prediction is latency-bound: when every column already has the dtype its kind
    # converts to (numeric features arriving as float64), there is nothing to convert or check.
    selected = df[names]
    if all(
        kind == "numeric" and dtype == np.float64
        for kind, dtype in zip(kinds, selected.dtypes, strict=True)
    ):
        return selected
    out: dict[str, pd.Series] = {}
    for name, kind in zip(names, kinds, strict=True):
        converted, bad = coerce_column(df[name], kind)
        if strict and bool(bad.any()):
            example = df[name][bad].iloc[0]
            raise Invalid(
                f"Column '{name}' expects {kind} values; {int(bad.sum())} value(s) could not be "
                f"converted, e.g. {example!r}.",
                column=name,
                value=str(example),
            )
        out[name] = converted
    return pd.DataFrame(out, index=df.index)


def input_signature(df: pd.DataFrame, plan: PreprocessPlan) -> list[dict[str, str]]:
    """The raw columns the model needs: name, dtype as seen at training time, and kind."""
    return [
        {"name": name, "dtype": str(df[name].dtype), "kind": plan.kind_of(name)}
        for name in df.columns
        if name in set(plan.columns)
    ]


#: A signature lists at most this many known categories per column (the most frequent);
#: ``n_categories`` says how many there were.
MAX_SIGNATURE_CATEGORIES = 200


def _iso(value: Any) -> str:
    stamp = pd.Timestamp(value)
    if stamp.hour == stamp.minute == stamp.second == stamp.microsecond == 0:
        return stamp.date().isoformat()
    return stamp.isoformat()


def column_stats(values: pd.Series, kind: str) -> dict[str, Any] | None:
    """What the training data held in one input column, in JSON terms, for prediction forms
    and checks of new inputs: the range and median of numbers and dates (``integer``: every
    value whole), the known categories (most frequent first) and the most frequent value.
    ``values`` are already converted to ``kind`` (see :func:`coerce_column`); ``None`` when
    no value is present."""
    present = values.dropna()
    if present.empty:
        return None
    stats: dict[str, Any] = {"count": int(len(present))}
    if kind == "numeric":
        numbers = present.to_numpy(dtype=float)
        stats.update(
            min=float(numbers.min()),
            max=float(numbers.max()),
            median=float(np.median(numbers)),
            integer=bool(np.all(np.mod(numbers, 1) == 0)),
        )
    elif kind == "boolean":
        share = float((present == 1.0).mean())
        stats.update(most_frequent=bool(share >= 0.5), share_true=share)
    elif kind == "categorical":
        counts = present.astype("str").value_counts(sort=True)
        # Ties in frequency keep a stable, readable order.
        ordered = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
        stats.update(
            categories=[str(k) for k, _ in ordered[:MAX_SIGNATURE_CATEGORIES]],
            n_categories=len(ordered),
            most_frequent=str(ordered[0][0]),
        )
    elif kind == "datetime":
        stamps = pd.to_datetime(present)
        stats.update(
            min=_iso(stamps.min()),
            max=_iso(stamps.max()),
            median=_iso(stamps.sort_values().iloc[(len(stamps) - 1) // 2]),
            with_time=bool(((stamps.dt.hour != 0) | (stamps.dt.minute != 0)).any()),
        )
    else:
        return None
    return stats


def describe_inputs(
    df: pd.DataFrame, signature: Sequence[Mapping[str, Any]]
) -> list[dict[str, Any]]:
    """The signature with each column's ``stats`` (see :func:`column_stats`) from ``df``,
    the data the model was trained on; columns ``df`` lacks keep no stats."""
    described = []
    for column in signature:
        entry = {k: v for k, v in column.items() if k != "stats"}
        name = column["name"]
        if name in df.columns:
            kind = column_kind(column)
            stats = column_stats(coerce_column(df[name], kind)[0], kind)
            if stats is not None:
                entry["stats"] = stats
        described.append(entry)
    return described


# --- the transformer -------------------------------------------------------------------------
# ``DateParts`` is copied verbatim into scripts exported by ``to_code()``: it must only use
# numpy, pandas and scikit-learn's base classes.


class DateParts(TransformerMixin, BaseEstimator):
    """Expand datetime columns into numeric calendar parts (year, month, day, weekday[, time]).

    The hour and minute are only produced for columns whose training values carry a time of day.
    """

    def fit(self, X: Any, y: Any = None) -> DateParts:
        frame = self._as_datetimes(X)
        self.columns_ = [str(c) for c in frame.columns]
        self.with_time_ = {}
        for name, s in frame.items():
            s = s.dropna()
            self.with_time_[str(name)] = bool(((s.dt.hour != 0) | (s.dt.minute != 0)).any())
        self.n_features_in_ = frame.shape[1]
        return self

    def transform(self, X: Any) -> np.ndarray:
        frame = self._as_datetimes(X)
        frame.columns = self.columns_
        parts = []
        for name in self.columns_:
            s = frame[name]
            fields = ["year", "month", "day", "day_of_week"]
            if self.with_time_[name]:
                fields += ["hour", "minute"]
            parts.extend(getattr(s.dt, f).astype("float64").to_numpy() for f in fields)
        return np.column_stack(parts) if parts else np.empty((len(frame), 0))

    def get_feature_names_out(self, input_features: Any = None) -> np.ndarray:
        names = []
        for name in self.columns_:
            fields = ["year", "month", "day", "day_of_week"]
            if self.with_time_[name]:
                fields += ["hour", "minute"]
            names.extend(f"{name}_{f}" for f in fields)
        return np.asarray(names, dtype=object)

    @staticmethod
    def _as_datetimes(X: Any) -> pd.DataFrame:
        frame = X if isinstance(X, pd.DataFrame) else pd.DataFrame(X)
        out = {}
        for name, s in frame.items():
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                parsed = pd.to_datetime(s, errors="coerce")
            if isinstance(parsed.dtype, pd.DatetimeTZDtype):
                parsed = parsed.dt.tz_convert(None)
            out[name] = parsed
        return pd.DataFrame(out, index=frame.index)


def build_preprocessor(plan: PreprocessPlan) -> ColumnTransformer:
    """Imputation + scaling for numbers, imputation + one-hot for categories, date parts."""
    transformers: list[tuple[str, Any, list[str]]] = []
    numeric = [*plan.numeric, *plan.boolean]
    if numeric:
        steps = [("impute", SimpleImputer(strategy="median")), ("scale", StandardScaler())]
        transformers.append(("numeric", Pipeline(steps), numeric))
    if plan.categorical:
        encoder = OneHotEncoder(
            handle_unknown="infrequent_if_exist",
            max_categories=MAX_ONEHOT_CATEGORIES,
            sparse_output=False,
        )
        steps = [("impute", SimpleImputer(strategy="constant", fill_value="missing"))]
        transformers.append(
            ("categorical", Pipeline([*steps, ("onehot", encoder)]), plan.categorical)
        )
    if plan.datetime:
        steps = [
            ("parts", DateParts()),
            ("impute", SimpleImputer(strategy="median")),
            ("scale", StandardScaler()),
        ]
        transformers.append(("datetime", Pipeline(steps), plan.datetime))
    return ColumnTransformer(transformers, remainder="drop")


def feature_columns(
    df: pd.DataFrame,
    target: str | None,
    features: Sequence[str] | None,
    model_columns: Mapping[str, str],
    *,
    include_model_columns: bool = False,
) -> tuple[list[str], list[str], list[dict[str, str]]]:
    """The feature columns to plan from (``features``, else every column but the target), with
    notes and the columns dropped. ``model_columns`` (column -> model version) hold a model's
    predictions (batch scoring, by lineage): they are left out unless
    ``include_model_columns``, and naming one as a feature without it is an error."""
    written = {c: m for c, m in model_columns.items() if c in df.columns and c != target}
    if features is None:
        chosen = [c for c in df.columns if c != target]
        if written and include_model_columns:
            note = (
                f"Included {_by_model(written)} as features (include_model_columns=True): a "
                "model's predictions on these rows, so scores may be optimistic."
            )
            return chosen, [note], []
        if written:
            note = (
                f"Left out {_by_model(written)}: they hold a model's predictions (batch "
                "scoring), which would leak into training and inflate every score. Pass "
                "include_model_columns=True to use them."
            )
            dropped = [
                {"column": c, "reason": f"predictions written by model {m}"}
                for c, m in written.items()
            ]
            return [c for c in chosen if c not in written], [note], dropped
        return chosen, [], []
    named = {f: written[f] for f in features if f in written}
    if named and not include_model_columns:
        raise Invalid(
            f"Feature(s) {_by_model(named)}: a model's predictions would leak into training. "
            "Leave them out, or pass include_model_columns=True.",
            columns=list(named),
        )
    missing = [f for f in features if f not in df.columns]
    if missing:
        raise Invalid(
            "Feature column(s) not in the data: " + ", ".join(repr(m) for m in missing),
            missing=missing,
        )
    if target is not None and target in features:
        raise Invalid(f"The target '{target}' cannot also be a feature.")
    return list(dict.fromkeys(features)), [], []


def _by_model(written: Mapping[str, str]) -> str:
    """``'prediction', 'proba_yes' (written by model churn@1)`` for notes and errors."""
    groups: dict[str, list[str]] = {}
    for column, model in written.items():
        groups.setdefault(model, []).append(repr(column))
    return "; ".join(
        f"{', '.join(columns)} (written by model {model})" for model, columns in groups.items()
    )
