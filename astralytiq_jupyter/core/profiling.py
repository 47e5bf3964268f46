"""Dataset profiling (the EDA tab); cluster exploration is in :mod:`.profiling_clusters`.

:func:`profile` computes exact statistics on the full data; only chart material (histogram bins,
top values, the scatter sample) is bounded. Each column is factorised once: the codes and counts
give distinct values, top values, exact quantiles and histograms (from the sorted distinct
values), average ranks for Spearman correlation, and row keys for duplicate detection, so a
million rows take about a second.

Quality issues carry a ``suggestion``: a recipe step (see :mod:`.recipes`) that would fix them.
The quality score and the severities are those of :mod:`.quality` (one definition): the
profile of a stored version reports the score and severities its ingest recorded.
"""

from __future__ import annotations

import math
import time
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from pandas.tseries.api import guess_datetime_format

from .errors import Invalid
from .limits import check_int
from .profiling_clusters import explore_clusters
from .profiling_issues import column_issues, issue
from .profiling_report import ColumnProfile, Profile, QualityIssue, pct
from .quality import (
    DUPLICATES_SEVERITY,
    SEVERITIES,
    quality_score,
)
from .recipe_base import kind_of
from .recipes import json_value

__all__ = ["ColumnProfile", "Profile", "QualityIssue", "explore_clusters", "profile"]

# Bounds of the chart material a caller may ask for: the statistics are exact whatever
# they are, but each bin, listed value and point is work and bytes in the answer.
MAX_BINS = 500
MAX_TOP = 1000
MAX_CHART_POINTS = 100_000
MAX_CORRELATION_COLUMNS = 200
_TRUE = {"true", "t", "yes", "y", "on"}
_FALSE = {"false", "f", "no", "n", "off"}


# --- per column --------------------------------------------------------------------------------


@dataclass
class _Work:
    """What a column leaves for the dataset-level passes."""

    codes: np.ndarray  # -1 = missing
    n_codes: int
    values: np.ndarray | None = None  # float values for Pearson (numeric only)
    valid: np.ndarray | None = None
    average_ranks: np.ndarray | None = None  # Spearman rank of each sorted distinct value


def _counts(codes: np.ndarray, n: int) -> np.ndarray:
    return np.bincount(codes + 1, minlength=n + 1)[1:]


def _top(uniques: Sequence[Any], counts: np.ndarray, top: int, count: int) -> list[dict[str, Any]]:
    if not len(counts) or top <= 0:
        return []
    k = min(top, len(counts))
    idx = np.argpartition(-counts, k - 1)[:k] if len(counts) > k else np.arange(len(counts))
    idx = idx[np.lexsort((idx, -counts[idx]))]  # by count, then first appearance / order
    return [
        {"value": json_value(uniques[i]), "count": int(counts[i]), "pct": pct(counts[i], count)}
        for i in idx
    ]


def _quantile(sorted_values: np.ndarray, cum: np.ndarray, n: int, p: float) -> float:
    """Exact linear-interpolated quantile (numpy's default) from distinct values and counts."""
    pos = p * (n - 1)
    lo, hi = math.floor(pos), math.ceil(pos)
    v_lo = sorted_values[np.searchsorted(cum, lo, side="right")]
    v_hi = sorted_values[np.searchsorted(cum, hi, side="right")]
    return float(v_lo + (v_hi - v_lo) * (pos - lo))


def _histogram(values: np.ndarray, weights: np.ndarray, lo: float, hi: float, bins: int, integer):
    if integer and hi - lo < bins:  # one bar per integer
        edges = np.arange(lo - 0.5, hi + 1.0, 1.0)
    elif lo == hi:
        edges = np.array([lo - 0.5, hi + 0.5])
    else:
        edges = np.linspace(lo, hi, bins + 1)
    counts, _ = np.histogram(values, bins=edges, weights=weights)
    return edges, counts.astype(np.int64)


def _sorted_codes(
    values: np.ndarray, valid: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Codes into the sorted distinct values (-1 where missing), the values, and their counts.

    Hashing is fastest when values repeat; sorting when most are distinct (floats, ids).
    """
    present = values[valid] if not valid.all() else values
    probe = present[:: max(1, len(present) // 20_000)]
    if len(probe) and len(np.unique(probe)) > 0.5 * len(probe):
        uniques, inverse, counts = np.unique(present, return_inverse=True, return_counts=True)
        inverse = inverse.reshape(-1)
    else:
        inverse, uniques = pd.factorize(present)
        order = np.argsort(uniques, kind="stable")
        remap = np.empty(len(order), dtype=np.intp)
        remap[order] = np.arange(len(order))
        inverse, uniques = remap[inverse], uniques[order]
        counts = np.bincount(inverse, minlength=len(uniques))
    if present is values:
        return inverse.astype(np.intp, copy=False), uniques, counts
    codes = np.full(len(values), -1, dtype=np.intp)
    codes[valid] = inverse
    return codes, uniques, counts


def _numeric(cp: ColumnProfile, arr: np.ndarray, bins: int, top: int, integer: bool) -> _Work:
    valid = ~np.isnan(arr)
    codes, uniques, counts = _sorted_codes(arr, valid)
    cp.distinct = len(uniques)
    # integer columns were read as floats for speed; show their values as integers
    shown = uniques.astype(np.int64) if integer and len(uniques) else uniques
    cp.top_values = _top(shown, counts, top, cp.count)
    work = _Work(codes=codes, n_codes=len(uniques), values=arr, valid=valid)
    n = cp.count
    if n == 0:
        return work
    cum = np.cumsum(counts)
    present = arr[valid] if n < len(arr) else arr
    mean = float(present.mean())
    dev = present - mean
    m2 = float(np.dot(dev, dev)) / n
    m3 = float(np.dot(dev * dev, dev)) / n
    std = math.sqrt(m2 * n / (n - 1)) if n > 1 else None
    skew = None
    if n > 2 and m2 > 0:
        skew = math.sqrt(n * (n - 1)) / (n - 2) * m3 / m2**1.5
    q1, median, q3 = (_quantile(uniques, cum, n, p) for p in (0.25, 0.5, 0.75))
    lo, hi = float(uniques[0]), float(uniques[-1])
    cp.numeric = {
        "mean": mean,
        "std": std,
        "min": int(lo) if integer else lo,
        "q1": q1,
        "median": median,
        "q3": q3,
        "max": int(hi) if integer else hi,
        "skew": skew,
        "sum": float(present.sum()),
        "zeros": int(counts[uniques == 0].sum()),
        "negatives": int(counts[uniques < 0].sum()),
    }
    low, high = q1 - 1.5 * (q3 - q1), q3 + 1.5 * (q3 - q1)
    outside = int(counts[(uniques < low) | (uniques > high)].sum())
    cp.outliers = {
        "method": "iqr",
        "lower": low,
        "upper": high,
        "count": outside,
        "pct": pct(outside, n),
    }
    edges, hist = _histogram(uniques, counts, lo, hi, bins, integer)
    cp.histogram = {"edges": edges.tolist(), "counts": hist.tolist()}
    # average ranks for Spearman: distinct value j covers ranks cum[j-1]+1 .. cum[j]
    work.average_ranks = (cum - counts) + (counts + 1) / 2.0
    return work


def _datetime(cp: ColumnProfile, s: pd.Series, bins: int, top: int) -> _Work:
    valid = s.notna().to_numpy()
    nanos = np.asarray(s.dt.as_unit("ns").array.asi8)
    codes, uniques, counts = _sorted_codes(nanos, valid)
    tz = getattr(s.dtype, "tz", None)

    def stamps(values: np.ndarray) -> pd.DatetimeIndex:
        out = pd.to_datetime(values.astype(np.int64), unit="ns", utc=tz is not None)
        return out.tz_convert(tz) if tz is not None else out

    cp.distinct = len(uniques)
    top_idx = [t["value"] for t in _top(np.arange(len(uniques)), counts, top, cp.count)]
    top_stamps = stamps(uniques[top_idx]) if top_idx else []
    cp.top_values = [
        {"value": ts.isoformat(), "count": int(counts[i]), "pct": pct(counts[i], cp.count)}
        for ts, i in zip(top_stamps, top_idx, strict=True)
    ]
    if cp.count:
        first, last = stamps(uniques[[0, -1]])
        floats = uniques.astype(np.float64)
        edges, hist = _histogram(floats, counts, floats[0], floats[-1], bins, integer=False)
        cp.datetime = {
            "min": first.isoformat(),
            "max": last.isoformat(),
            "span_days": (last - first).total_seconds() / 86400,
            "timezone": None if tz is None else str(tz),
        }
        cp.histogram = {"edges": [t.isoformat() for t in stamps(edges)], "counts": hist.tolist()}
    return _Work(codes=codes, n_codes=len(uniques))


def _type_name(value: Any) -> str:
    if isinstance(value, bool | np.bool_):
        return "boolean"
    if isinstance(value, int | float | np.number):
        return "number"
    if isinstance(value, str):
        return "text"
    if isinstance(value, pd.Timestamp | np.datetime64):
        return "datetime"
    return type(value).__name__


def _text(cp: ColumnProfile, s: pd.Series, top: int) -> tuple[_Work, pd.Index, np.ndarray]:
    codes, uniques = pd.factorize(s)
    if isinstance(uniques, pd.CategoricalIndex | pd.Categorical):
        uniques = pd.Index(np.asarray(uniques, dtype=object))
    counts = _counts(codes, len(uniques))
    cp.distinct = len(uniques)
    cp.top_values = _top(uniques, counts, top, cp.count)
    return _Work(codes=codes, n_codes=len(uniques)), pd.Index(uniques), counts


def _text_stats(cp: ColumnProfile, uniques: pd.Index, counts: np.ndarray) -> dict[str, Any]:
    """Length and whitespace statistics of the text values, weighted by their counts."""
    if pd.api.types.is_string_dtype(uniques.dtype) and uniques.dtype != object:
        words, weights = pd.Series(uniques, dtype="str"), counts
    else:
        is_text = np.array([isinstance(v, str) for v in uniques], dtype=bool)
        words, weights = pd.Series(uniques[is_text], dtype="str"), counts[is_text]
    info: dict[str, Any] = {"uniques": words, "weights": weights}
    if not len(words):
        return info
    lengths = words.str.len().to_numpy()
    padded = (words != words.str.strip()).to_numpy()
    total = int(weights.sum())
    cp.text = {
        "min_length": int(lengths.min()),
        "mean_length": float(np.dot(lengths, weights) / total),
        "max_length": int(lengths.max()),
        "empty": int(weights[lengths == 0].sum()),
        "padded": int(weights[padded].sum()),
    }
    return info


def _sample_of(words: pd.Series, size: int = 1000) -> pd.Series:
    return words if len(words) <= size else words.sample(n=size, random_state=0)


def _share(parsed: pd.Series, weights: np.ndarray) -> tuple[float, int]:
    """Weighted share of values read, and the count of values not read."""
    ok = parsed.notna().to_numpy()
    total = max(int(weights.sum()), 1)
    return int(weights[ok].sum()) / total, int(weights[~ok].sum())


def _number_share(words: pd.Series, weights: np.ndarray, thousands: str | None):
    """Share of values that read as numbers; a sample of distinct values is tried first so
    that free text costs nothing."""

    def parse(w: pd.Series) -> pd.Series:
        w = w.str.strip()
        if thousands:
            w = w.str.replace(thousands, "", regex=False)
        return pd.to_numeric(w, errors="coerce")

    if parse(_sample_of(words)).notna().mean() < 0.5:
        return 0.0, 0
    return _share(parse(words), weights)


def _date_share(words: pd.Series, weights: np.ndarray) -> float:
    """Share of values that read as dates, with the format guessed from a value (fast path)."""
    probe = _sample_of(words)
    probe = probe[probe.str.contains(r"\d", regex=True)]
    if len(probe) < 0.9 * min(len(words), 1000):
        return 0.0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            if pd.to_datetime(probe, errors="coerce", format="mixed").notna().mean() < 0.9:
                return 0.0
        except (ValueError, TypeError, OverflowError):
            return 0.0
    fmt = guess_datetime_format(str(probe.iloc[0]).strip())
    if fmt is None:
        return 0.0
    return _share(pd.to_datetime(words.str.strip(), format=fmt, errors="coerce"), weights)[0]


# --- dataset level -------------------------------------------------------------------------------


def _duplicates(works: list[_Work], rows: int) -> int:
    """Duplicate rows from the per-column codes (missing equals missing, as in pandas)."""
    if not works or rows == 0:
        return 0
    if any(w.n_codes == rows for w in works):  # a column with all values distinct and present
        return 0
    works = sorted(works, key=lambda w: w.n_codes)  # compress as late as possible
    key = np.zeros(rows, dtype=np.int64)
    size = 1
    for w in works:
        width = w.n_codes + 1
        if size * width >= 2**62:  # compress before the key overflows
            key, uniques = pd.factorize(key)
            size = len(uniques)
        key = key * width + (w.codes + 1)
        size *= width
    return rows - len(pd.unique(key))


def _unit(x: np.ndarray) -> np.ndarray | None:
    """Centred vector of norm 1 (None for a constant): Pearson r is then a dot product."""
    x = x - x.mean()
    norm = math.sqrt(float(np.dot(x, x)))
    return x / norm if norm > 0 else None


def _r(a: np.ndarray | None, b: np.ndarray | None) -> float | None:
    if a is None or b is None or len(a) < 2:
        return None
    return max(-1.0, min(1.0, float(np.dot(a, b))))


def _correlations(names: list[str], works: list[_Work], limit: int) -> dict[str, Any]:
    """Pearson and Spearman matrices over pairwise-complete rows (as pandas computes them).

    Spearman ranks come from the sorted-value codes: re-ranking the rows of a pair is a
    bincount, not a sort.
    """
    limited = len(names) > limit
    names, works = names[:limit], works[:limit]
    k = len(names)
    pearson = [[1.0 if i == j else None for j in range(k)] for i in range(k)]
    spearman = [[1.0 if i == j else None for j in range(k)] for i in range(k)]
    complete = [bool(w.valid.all()) for w in works]
    units = [_unit(w.values) if full else None for w, full in zip(works, complete, strict=True)]
    rank_units = [
        _unit(w.average_ranks[w.codes]) if full else None
        for w, full in zip(works, complete, strict=True)
    ]
    own: dict[int, tuple[np.ndarray | None, np.ndarray | None]] = {}

    def on_rows(i: int, rows: np.ndarray, rows_owner: int | None):
        """Unit vectors (values, ranks) of column i on the given rows; a column with missing
        values paired with a complete one always uses its own rows, so those are cached."""
        if rows_owner == i and i in own:
            return own[i]
        w = works[i]
        pair = _unit(w.values[rows]), _unit(_ranks_within(w.codes[rows], w.n_codes))
        if rows_owner == i:
            own[i] = pair
        return pair

    for i in range(k):
        for j in range(i + 1, k):
            if complete[i] and complete[j]:
                p, s = _r(units[i], units[j]), _r(rank_units[i], rank_units[j])
            else:
                a, b = works[i], works[j]
                both = a.valid & b.valid
                owner = j if complete[i] else i if complete[j] else None
                (va, ra), (vb, rb) = on_rows(i, both, owner), on_rows(j, both, owner)
                p, s = _r(va, vb), _r(ra, rb)
            pearson[i][j] = pearson[j][i] = p
            spearman[i][j] = spearman[j][i] = s
    return {
        "columns": names,
        "pearson": pearson,
        "spearman": spearman,
        "limited_to": limit if limited else None,
    }


def _ranks_within(codes: np.ndarray, n_codes: int) -> np.ndarray:
    """Average ranks of a subset, from its sorted-value codes (no sort needed)."""
    counts = np.bincount(codes, minlength=n_codes)
    cum = np.cumsum(counts)
    return ((cum - counts) + (counts + 1) / 2.0)[codes]


def _flag_text(cp: ColumnProfile, info: dict[str, Any], extra: dict[str, Any]) -> None:
    words, weights = info["uniques"], info["weights"]
    if not len(words):
        return
    lowered = words.str.strip().str.lower()
    distinct_lower = set(lowered) if len(lowered) <= 50 else set()  # yes/no: few values
    if (
        0 < len(distinct_lower) <= 12
        and distinct_lower <= _TRUE | _FALSE | {"0", "1"}
        and (distinct_lower - {"0", "1"})
    ):
        cp.flags.append("boolean_text")
        return
    for thousands in (None, ","):
        share, failed = _number_share(words, weights, thousands)
        if share >= 0.9:
            cp.flags.append("numeric_text")
            extra["not_numbers"], extra["thousands"] = failed, thousands
            return
    if _date_share(words, weights) >= 0.9:
        cp.flags.append("date_text")
        return
    groups = pd.Series(weights, index=words.str.lower().to_numpy()).groupby(level=0)
    variants = groups.size()
    if (variants > 1).any():
        extra["case_variants"] = int(groups.sum()[variants > 1].sum())


def profile(
    df: pd.DataFrame,
    *,
    bins: int = 20,
    top: int = 10,
    max_chart_points: int = 5000,
    max_correlation_columns: int = 30,
) -> Profile:
    """Profile every column and the dataset as a whole (see the module docstring)."""
    check_int(bins, "bins", 1, MAX_BINS)
    check_int(top, "top", 0, MAX_TOP)
    check_int(max_chart_points, "max_chart_points", 0, MAX_CHART_POINTS)
    check_int(max_correlation_columns, "max_correlation_columns", 0, MAX_CORRELATION_COLUMNS)
    started = time.perf_counter()
    rows = len(df)
    names = [str(c) for c in df.columns]
    if len(set(names)) != len(names):
        raise Invalid("column names must be unique to profile a dataset")
    columns: list[ColumnProfile] = []
    works: list[_Work] = []
    numeric_names: list[str] = []
    numeric_works: list[_Work] = []
    issues: list[QualityIssue] = []
    for name in names:
        s = df[name]
        count = int(s.notna().sum())
        kind = kind_of(str(s.dtype))
        cp = ColumnProfile(
            name=name,
            dtype=str(s.dtype),
            kind=kind,
            count=count,
            missing=rows - count,
            missing_pct=pct(rows - count, rows),
            distinct=0,
            distinct_pct=0.0,
            top_values=[],
        )
        extra: dict[str, Any] = {}
        if kind == "text" and s.dtype == object and count:
            inferred = pd.api.types.infer_dtype(s, skipna=True)
            if inferred in ("integer", "floating", "mixed-integer-float", "decimal"):
                s, kind = pd.to_numeric(s, errors="coerce"), "numeric"
            elif inferred == "boolean":
                kind = "boolean"
            elif inferred not in ("string", "empty"):
                kind = "mixed"
            cp.kind = kind
        if kind == "numeric":
            integer = pd.api.types.is_integer_dtype(s.dtype)
            work = _numeric(cp, s.to_numpy(dtype=np.float64, na_value=np.nan), bins, top, integer)
        elif kind == "datetime":
            work = _datetime(cp, s, bins, top)
        elif kind in ("text", "category", "mixed"):
            work, uniques, counts = _text(cp, s, top)
            info = _text_stats(cp, uniques, counts)
            if kind == "mixed":
                types: dict[str, int] = {}
                for value, n in zip(uniques, counts, strict=True):
                    types[_type_name(value)] = types.get(_type_name(value), 0) + int(n)
                cp.types = dict(sorted(types.items(), key=lambda kv: -kv[1]))
                if len(cp.types) > 1:
                    cp.flags.append("mixed_types")
            else:
                _flag_text(cp, info, extra)
        else:  # boolean, timedelta, other
            work, _, _ = _text(cp, s, top)
        cp.distinct_pct = pct(cp.distinct, cp.count)
        if cp.count == 0:
            cp.flags.append("all_missing")
        elif cp.distinct == 1:
            cp.flags.append("constant")
        if cp.count and cp.distinct == cp.count and cp.count > 1:
            cp.flags.append("unique")
        if kind in ("text", "category", "mixed") and cp.distinct > 50 and cp.distinct_pct > 50:
            cp.flags.append("high_cardinality")
        columns.append(cp)
        works.append(work)
        issues.extend(column_issues(cp, extra))
        if kind == "numeric" and cp.count > 1 and "constant" not in cp.flags:
            numeric_names.append(name)  # a constant has no correlation
            numeric_works.append(work)

    correlations = _correlations(numeric_names, numeric_works, max_correlation_columns)
    duplicates = _duplicates(works, rows)
    if duplicates:
        share = pct(duplicates, rows)
        issues.append(
            issue(
                "duplicate_rows",
                DUPLICATES_SEVERITY,
                f"{duplicates} rows ({share:.1f}%) repeat an earlier row exactly.",
                [],
                {"op": "drop_duplicates"},
                duplicates,
            )
        )
    corr_names, matrix = correlations["columns"], correlations["pearson"]
    for i in range(len(corr_names)):
        for j in range(i + 1, len(corr_names)):
            r = matrix[i][j]
            if r is not None and abs(r) >= 0.95:
                issues.append(
                    issue(
                        "high_correlation",
                        "info",
                        f"'{corr_names[i]}' and '{corr_names[j]}' are almost "
                        f"redundant (Pearson r = {r:.3f}).",
                        [corr_names[i], corr_names[j]],
                        {"op": "drop_columns", "columns": [corr_names[j]]},
                    )
                )
    order = {s: i for i, s in enumerate(SEVERITIES)}
    issues.sort(key=lambda issue: order[issue.severity])

    cells = rows * len(names)
    missing_cells = sum(c.missing for c in columns)
    # Constant as quality.py counts them: all-missing columns are constant too.
    constant = sum(1 for c in columns if c.distinct <= 1)
    score = quality_score(rows, len(names), missing_cells, duplicates, constant)
    return Profile(
        rows=rows,
        columns=len(names),
        memory_bytes=int(df.memory_usage(deep=True, index=False).sum()),
        missing_cells=missing_cells,
        missing_cells_pct=pct(missing_cells, cells),
        duplicate_rows=duplicates,
        duplicate_rows_pct=pct(duplicates, rows),
        column_profiles=columns,
        constant_columns=[c.name for c in columns if "constant" in c.flags],
        high_cardinality_columns=[c.name for c in columns if "high_cardinality" in c.flags],
        mixed_type_columns=[
            c.name for c in columns if "mixed_types" in c.flags or "numeric_text" in c.flags
        ],
        correlations=correlations,
        issues=issues,
        quality_score=score,
        sample=_chart_sample(df, numeric_names, max_chart_points),
        settings={
            "bins": bins,
            "top": top,
            "max_chart_points": max_chart_points,
            "max_correlation_columns": max_correlation_columns,
        },
        seconds=time.perf_counter() - started,
    )


def _chart_sample(df: pd.DataFrame, numeric: list[str], limit: int) -> dict[str, Any]:
    """A bounded random sample of the numeric columns, for scatter plots."""
    cols = numeric[:12]
    size = min(limit, len(df))
    part = df[cols].sample(n=size, random_state=0).sort_index() if size < len(df) else df[cols]
    values = [
        pd.to_numeric(part[c], errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)
        for c in cols
    ]
    rows = np.column_stack(values).tolist() if cols else [[] for _ in range(size)]
    data = [[None if v != v else v for v in row] for row in rows]  # NaN -> None
    return {"columns": cols, "size": size, "of": len(df), "rows": data}
