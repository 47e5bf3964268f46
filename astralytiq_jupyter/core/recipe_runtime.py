"""Small pandas functions used both by the recipe engine and by the code it generates.

``Recipe.to_code()`` copies the source of the functions an op needs verbatim into the generated
module, so the exported code and the engine cannot drift apart. Each function must therefore use
only ``pd``, ``np``, ``unicodedata`` and the other functions of this module, and no closure.
"""

from __future__ import annotations

import unicodedata

import numpy as np
import pandas as pd


def _apply_text(s, transform):
    """Apply a ``.str`` transform to text values only, keeping the column's dtype.

    Object columns keep their non-text values (a ``.str`` method would turn them into missing);
    category columns are transformed and re-categorised.
    """
    if isinstance(s.dtype, pd.CategoricalDtype):
        out = transform(s.astype(object))
        return out.where(out.notna(), s.astype(object)).astype("category")
    out = transform(s)
    if s.dtype == object:
        return out.where(out.notna(), s)
    return out


def _map_text(s, fn):
    """Apply ``fn`` once per distinct text value (fast on repetitive columns), keeping the dtype."""
    codes, uniques = pd.factorize(s)
    mapped = np.array([fn(v) if isinstance(v, str) else v for v in uniques] + [None], dtype=object)
    out = pd.Series(mapped[codes], index=s.index, dtype=object).where(codes >= 0, s)
    if isinstance(s.dtype, pd.CategoricalDtype):
        return out.astype("category")
    return out if s.dtype == object else out.astype(s.dtype)


CHARACTER_CLASSES = (
    "letters",
    "digits",
    "punctuation",
    "symbols",
    "whitespace",
    "control",
    "non_ascii",
)


def _remove_characters(s, classes):
    """Remove every character of the given Unicode classes (letters, digits, punctuation...)."""

    def unwanted(ch):
        category = unicodedata.category(ch)
        return (
            ("letters" in classes and category[0] == "L")
            or ("digits" in classes and category == "Nd")
            or ("punctuation" in classes and category[0] == "P")
            or ("symbols" in classes and category[0] == "S")
            or ("whitespace" in classes and ch.isspace())
            or ("control" in classes and category in ("Cc", "Cf") and not ch.isspace())
            or ("non_ascii" in classes and ord(ch) > 127)
        )

    return _map_text(s, lambda v: "".join(ch for ch in v if not unwanted(ch)))


def _value_like(s, value):
    """Read text as a timestamp when the column holds dates; naive text is in the column's zone."""
    if isinstance(value, list):
        return [_value_like(s, v) for v in value]
    if not isinstance(value, str) or not pd.api.types.is_datetime64_any_dtype(s.dtype):
        return value
    ts = pd.Timestamp(value)
    tz = getattr(s.dtype, "tz", None)
    if tz is None:
        if ts.tzinfo is not None:
            raise ValueError(f"{value!r} has a timezone but the column has none")
        return ts
    return ts.tz_localize(tz) if ts.tzinfo is None else ts.tz_convert(tz)


def _fill_mode(s):
    """Fill missing values with the most frequent value (the smallest one on ties)."""
    mode = s.mode(dropna=True)
    return s.fillna(mode.iloc[0]) if len(mode) else s


def _outlier_bounds(s, method, threshold):
    """Lower and upper limits outside which a value is an outlier (infinite if undefined)."""
    if method == "iqr":
        q1, q3 = s.quantile(0.25), s.quantile(0.75)
        low, high = q1 - threshold * (q3 - q1), q3 + threshold * (q3 - q1)
    elif method == "zscore":
        mean, std = s.mean(), s.std()
        low, high = mean - threshold * std, mean + threshold * std
    else:  # modified z-score (Iglewicz and Hoaglin): 0.6745 * (x - median) / MAD
        median = s.median()
        spread = threshold * (s - median).abs().median() / 0.6745
        low, high = median - spread, median + spread
    if not (np.isfinite(low) and np.isfinite(high)):
        return -np.inf, np.inf
    return float(low), float(high)


def _bin_edges(s, method, bins):
    """Edges of ``bins`` equal-width or equal-count (quantile) bins over the column's range."""
    if s.notna().sum() == 0:
        return []
    if method == "equal_width":
        edges = np.linspace(s.min(), s.max(), bins + 1).tolist()
    else:
        edges = s.quantile(np.linspace(0, 1, bins + 1)).tolist()
    edges = sorted(set(float(e) for e in edges))
    if len(edges) == 1:  # a constant column: one bin around its value
        edges = [edges[0] - 0.5, edges[0] + 0.5]
    return edges


def _bin(s, edges, labels=None):
    """Put numbers into bins labelled '[a, b]' (first) and '(a, b]' (others) unless labelled."""
    if len(edges) < 2:
        return pd.Series(pd.Categorical([None] * len(s), categories=labels or []), index=s.index)
    if labels is None:
        digits = 6
        while True:
            names = [
                f"{a:.{digits}g}, {b:.{digits}g}]" for a, b in zip(edges, edges[1:], strict=False)
            ]
            labels = ["[" + names[0]] + ["(" + n for n in names[1:]]
            if len(set(labels)) == len(labels) or digits > 16:
                break
            digits += 2
    if len(labels) != len(edges) - 1:
        raise ValueError(f"{len(labels)} labels were given for {len(edges) - 1} bins")
    return pd.cut(s, edges, labels=labels, include_lowest=True)


def _concat(df, columns, separator, skip_missing):
    """Join columns as text; missing parts are skipped, or make the result missing."""
    out = df[columns[0]].astype("str")
    for c in columns[1:]:
        part = df[c].astype("str")
        joined = out + separator + part
        out = joined.where(out.notna() & part.notna(), out.fillna(part)) if skip_missing else joined
    return out


def _to_boolean(s, true_values, false_values):
    """Read yes/no-like text or 1/0 numbers as booleans; anything else becomes missing."""
    if pd.api.types.is_bool_dtype(s.dtype):
        return s.astype("boolean")
    if pd.api.types.is_numeric_dtype(s.dtype):
        is_true, is_false = s == 1, s == 0
    else:
        text = s.astype("str").str.strip().str.lower()
        is_true, is_false = text.isin(true_values), text.isin(false_values)
    out = pd.Series(pd.NA, index=s.index, dtype="boolean")
    return out.mask(is_true, True).mask(is_false, False)


def _scale(s, method):
    """Min-max, z-score or robust (median/IQR) scaling; a zero spread scales by 1."""
    s = s.astype("float64")
    if method == "minmax":
        center, spread = s.min(), s.max() - s.min()
    elif method == "zscore":
        center, spread = s.mean(), s.std()
    else:
        center, spread = s.median(), s.quantile(0.75) - s.quantile(0.25)
    if not spread > 0:
        spread = 1.0
    return (s - center) / spread


def _to_number(s, thousands=None, decimal="."):
    """Read values as numbers; anything unreadable becomes missing."""
    if pd.api.types.is_bool_dtype(s.dtype):
        return s.astype("float64")
    if pd.api.types.is_numeric_dtype(s.dtype):
        return s
    if isinstance(s.dtype, pd.CategoricalDtype) or thousands or decimal != ".":
        s = s.astype("str")
    if thousands:
        s = s.str.replace(thousands, "", regex=False)
    if decimal != ".":
        s = s.str.replace(decimal, ".", regex=False)
    out = pd.to_numeric(s, errors="coerce")
    if isinstance(out.dtype, pd.api.extensions.ExtensionDtype):  # nullable result of "string"
        out = out.astype("float64" if out.isna().any() else out.dtype.numpy_dtype)
    return out


def _to_datetime(s, format=None, dayfirst=False, utc=False, unit=None):
    """Read values as timestamps; anything unreadable becomes missing (NaT)."""
    if pd.api.types.is_datetime64_any_dtype(s.dtype):
        if not utc:
            return s
        return s.dt.tz_localize("UTC") if s.dt.tz is None else s.dt.tz_convert("UTC")
    if pd.api.types.is_numeric_dtype(s.dtype) and not pd.api.types.is_bool_dtype(s.dtype):
        return pd.to_datetime(s, unit=unit, errors="coerce", utc=utc)
    if isinstance(s.dtype, pd.CategoricalDtype):
        s = s.astype("str")
    return pd.to_datetime(s, format=format, dayfirst=dayfirst, utc=utc, errors="coerce")
