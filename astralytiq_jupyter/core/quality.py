"""Streaming data-quality summary: missing values, duplicate rows, constant columns, a score.

``QualityAccumulator`` sees every Arrow batch once while a dataset is ingested, so the quality
report costs no second pass over the data and its memory is bounded: a few counters per
column plus one 64-bit hash per row (8 bytes/row, twice that for a moment while two sorted
runs of hashes are merged) for duplicate detection. Hashing is vectorised with numpy over
the Arrow buffers (a polynomial hash over string bytes), with no Python object per value.

Result shape (``QualityAccumulator.result()`` and ``quality_of_frame``)::

    {
      "rows": 1000, "columns": 4, "cells": 4000,
      "missing": {"price": {"count": 12, "percent": 1.2}, ...},   # every column
      "missing_cells": 12, "missing_percent": 0.3,
      "duplicate_rows": 3, "duplicate_percent": 0.3,   # rows repeating an earlier row
      "constant_columns": ["country"],                 # one distinct value (or none at all)
      "score": 98.4,
      "issues": [{"kind": "missing", "column": "price", "severity": "info",
                  "message": "..."}, ...],            # most severe first
    }

Definitions (the one definition of data quality: ingest stores this summary with each
version, and the profile of a version (``ws.datasets.profile``) reports the same score and
the same severities for the same findings):

* **missing**: Arrow nulls, plus NaN in floating-point columns (as ``pandas.isna`` counts).
* **duplicate rows**: rows identical to an earlier row in every column (``df.duplicated()``).
  Rows are compared through a 64-bit hash, so two different rows are counted as duplicates
  only on a hash collision (probability about n²/2⁶⁵, negligible below billions of rows).
* **constant column**: all non-missing values are equal; an all-missing column is constant.
* **score** (0-100, one decimal; :func:`quality_score`)::

      score = 100 - min(50, 100 * missing_cells / cells)
                  - min(30, 100 * duplicate_rows / rows)
                  - min(20,  50 * constant_columns / columns)

  so 10% missing cells costs 10 points, 5% duplicate rows 5 points, one constant column in
  ten 5 points; each kind of problem is capped so that no single one hides the others.
  A dataset without rows scores 0. Findings that need a look at the values (numbers
  stored as text, mixed types, outliers) are reported by the profile as issues but do not
  change the score, so that it is known from the moment a version is stored.

* **issue severities** (:data:`SEVERITIES`, :func:`missing_severity`): missing values are
  ``info`` below 5% of a column, ``warning`` below 50%, else ``error`` (and an all-missing
  column is ``error``); duplicate rows and constant columns are ``warning`` (an all-missing
  column counts as constant in the score but is reported once, as missing); no rows is
  ``error``, with no issue per column.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from .errors import Invalid

__all__ = [
    "SEVERITIES",
    "QualityAccumulator",
    "check_column_names",
    "frame_to_batches",
    "missing_severity",
    "quality_of_frame",
    "quality_score",
]

#: Issue severities, most severe first.
SEVERITIES = ("error", "warning", "info")
#: Severity of duplicate rows and of constant columns.
DUPLICATES_SEVERITY = CONSTANT_SEVERITY = "warning"

_U64 = np.uint64
# Odd 64-bit constants (splitmix64, golden ratio, FNV prime); arithmetic wraps modulo 2**64.
_MIX1 = _U64(0xBF58476D1CE4E5B9)
_ROW = _U64(0x9E3779B97F4A7C15)
_NULL = _U64(0x6A09E667F3BCC908)
_LEN = _U64(0xC2B2AE3D27D4EB4F)
_POLY = _U64(0x100000001B3)
_SHIFT_HI = _U64(32)
_SHIFT_MID = _U64(29)

# String hashing works on slices of at most this many bytes (bounds the temporary arrays);
# longer single values are hashed with Python's hash of their bytes instead.
_STRING_SLICE_BYTES = 1 << 17
_SEVERITY_ORDER = {severity: i for i, severity in enumerate(SEVERITIES)}


def quality_score(
    rows: int, columns: int, missing_cells: int, duplicate_rows: int, constant_columns: int
) -> float:
    """The 0-100 quality score (see the module docstring)."""
    if rows == 0 or columns == 0:
        return 0.0
    missing = 100.0 * missing_cells / (rows * columns)
    duplicates = 100.0 * duplicate_rows / rows
    constant = 50.0 * constant_columns / columns
    score = 100.0 - min(50.0, missing) - min(30.0, duplicates) - min(20.0, constant)
    return max(0.0, round(score, 1))


def missing_severity(count: int, rows: int) -> str:
    """Severity of ``count`` missing values in a column of ``rows`` rows."""
    if count >= rows:
        return "error"
    percent = round(100.0 * count / rows, 2)
    return "info" if percent < 5 else "warning" if percent < 50 else "error"


def _powers(base: np.uint64, count: int) -> np.ndarray:
    powers = np.full(count, base, dtype=np.uint64)
    powers[0] = 1
    with np.errstate(over="ignore"):
        return np.cumprod(powers, dtype=np.uint64)


def _inverse_u64(value: int) -> int:
    """Multiplicative inverse of an odd number modulo 2**64 (Newton iteration)."""
    inverse = value
    for _ in range(6):
        inverse = (inverse * (2 - value * inverse)) % (1 << 64)
    return inverse


_POW_CACHE: dict[str, np.ndarray] = {}


def _power_tables() -> tuple[np.ndarray, np.ndarray]:
    # Built once per process (2 x 1 MB); P**i and P**-i let a polynomial hash computed at a
    # buffer offset be shifted back to offset 0, so equal strings hash equally anywhere.
    if not _POW_CACHE:
        _POW_CACHE["pow"] = _powers(_POLY, _STRING_SLICE_BYTES + 1)
        _POW_CACHE["inv"] = _powers(_U64(_inverse_u64(int(_POLY))), _STRING_SLICE_BYTES + 1)
    return _POW_CACHE["pow"], _POW_CACHE["inv"]


def _is_binary_like(typ: pa.DataType) -> bool:
    return (
        pa.types.is_string(typ)
        or pa.types.is_large_string(typ)
        or pa.types.is_binary(typ)
        or pa.types.is_large_binary(typ)
    )


def _bit_width(typ: pa.DataType) -> int | None:
    try:
        return typ.bit_width
    except ValueError:  # variable-width or nested type
        return None


class _Hasher:
    """Per-value 64-bit hashes of Arrow arrays, computed into reused scratch buffers.

    Fresh multi-megabyte numpy arrays cost page faults on every batch, which made hashing
    twice as slow; ``hash_into`` writes into ``out`` and reuses its temporaries.
    """

    def __init__(self) -> None:
        self._tmp = np.empty(0, dtype=np.uint64)
        self._bytes = np.empty(_STRING_SLICE_BYTES + 1, dtype=np.uint64)

    def _scratch(self, n: int) -> np.ndarray:
        if len(self._tmp) < n:
            self._tmp = np.empty(n, dtype=np.uint64)
        return self._tmp[:n]

    def _mix(self, out: np.ndarray) -> np.ndarray:
        """Multiply-xorshift ``out`` in place: equal inputs stay equal, structure is spread."""
        out *= _MIX1
        tmp = self._scratch(len(out))
        np.right_shift(out, _SHIFT_HI, out=tmp)
        out ^= tmp
        return out

    def hash_into(self, arr: pa.Array, out: np.ndarray) -> np.ndarray:
        """Hash every value of ``arr`` into ``out`` (len(arr) uint64); nulls share one hash."""
        if isinstance(arr, pa.ExtensionArray):  # e.g. pandas periods: hash the stored values
            arr = arr.storage
        typ = arr.type
        width = _bit_width(typ)
        if pa.types.is_null(typ):
            out.fill(_NULL)
            return out
        if pa.types.is_dictionary(typ):
            dictionary = np.empty(len(arr.dictionary), dtype=np.uint64)
            self.hash_into(arr.dictionary, dictionary)
            indices = arr.indices.fill_null(0).to_numpy(zero_copy_only=False)
            if len(dictionary):
                np.take(dictionary, indices, out=out)
            else:
                out.fill(_NULL)
        elif _is_binary_like(typ):
            self._strings(arr, out)
            self._mix(out)
        elif width in (1, 8, 16, 32, 64, 128):
            self._fixed_width(arr, width, out)
        else:
            values = (hash(repr(v)) & 0xFFFFFFFFFFFFFFFF for v in arr.to_pylist())
            out[:] = np.fromiter(values, dtype=np.uint64, count=len(arr))
            self._mix(out)
        if arr.null_count:
            np.copyto(out, _NULL, where=arr.is_null().to_numpy(zero_copy_only=False))
        return out

    def _fixed_width(self, arr: pa.Array, width: int, out: np.ndarray) -> None:
        buf = arr.buffers()[1]
        n, offset = len(arr), arr.offset
        if width == 1:
            bits = np.unpackbits(
                np.frombuffer(buf, dtype=np.uint8), bitorder="little", count=offset + n
            )
            out[:] = bits[offset:]
        elif width == 128:
            raw = np.frombuffer(buf, dtype=np.uint64, count=2 * (offset + n))
            pairs = raw[2 * offset :].reshape(-1, 2)
            out[:] = pairs[:, 0]
            self._mix(out)
            out ^= pairs[:, 1]
        else:
            raw = np.frombuffer(buf, dtype=np.dtype(f"u{width // 8}"), count=offset + n)[offset:]
            if pa.types.is_floating(typ := arr.type) and width == 64:
                # -0.0 == 0.0 must hash equally; adding 0.0 turns -0.0 into +0.0.
                np.add(raw.view(np.float64), 0.0, out=out.view(np.float64))
            elif pa.types.is_floating(typ):
                normalized = raw.view(f"f{width // 8}") + 0.0
                out[:] = normalized.view(f"u{width // 8}")
            else:
                out[:] = raw
        self._mix(out)

    def _strings(self, arr: pa.Array, out: np.ndarray) -> None:
        """Position-independent polynomial hash of each value's bytes, plus its length."""
        n = len(arr)
        large = pa.types.is_large_string(arr.type) or pa.types.is_large_binary(arr.type)
        offsets = np.frombuffer(
            arr.buffers()[1], dtype=np.int64 if large else np.int32, count=arr.offset + n + 1
        )[arr.offset :].astype(np.int64)
        data_buf = arr.buffers()[2]
        data = (
            np.frombuffer(data_buf, dtype=np.uint8)
            if data_buf is not None
            else np.empty(0, np.uint8)
        )
        pw, inv = _power_tables()
        start = 0
        while start < n:
            base = offsets[start]
            stop = int(np.searchsorted(offsets, base + _STRING_SLICE_BYTES, side="right")) - 1
            if stop <= start:
                # One value longer than a slice: hash its bytes with Python (rare, and
                # consistent because the choice depends only on the value's length).
                value = bytes(data[offsets[start] : offsets[start + 1]])
                out[start] = _U64(hash(value) & 0xFFFFFFFFFFFFFFFF)
                start += 1
                continue
            stop = min(stop, n)
            length = int(offsets[stop] - base)
            # One zero past the end lets an empty last value index the buffer; empty values
            # get a stray sum from reduceat, cleared below.
            products = self._bytes[: length + 1]
            np.multiply(data[base : base + length], pw[:length], out=products[:length])
            products[length] = 0
            starts = offsets[start:stop] - base
            # reduceat sums each value's bytes; P**-start moves each sum back to position 0.
            sums = np.add.reduceat(products, starts)
            sums *= inv[starts]
            out[start:stop] = sums
            start = stop
        lengths = np.diff(offsets)
        empty = lengths == 0
        if empty.any():
            np.copyto(out, 0, where=empty)
        lengths *= _LEN.astype(np.int64)
        out ^= lengths.view(np.uint64)


def column_hashes(arr: pa.Array) -> np.ndarray:
    """A well-mixed uint64 hash per value of ``arr`` (new array); nulls share one hash."""
    return _Hasher().hash_into(arr, np.empty(len(arr), dtype=np.uint64))


def _nan_mask(arr: pa.Array) -> np.ndarray | None:
    """Where a floating-point array holds NaN (None for other types or without NaN)."""
    if not pa.types.is_floating(arr.type) or len(arr) == arr.null_count:
        return None
    nan = pc.is_nan(arr).fill_null(False)
    if not pc.any(nan).as_py():
        return None
    return nan.to_numpy(zero_copy_only=False)


class QualityAccumulator:
    """Accumulates the quality summary of a table batch by batch (see module docstring)."""

    def __init__(self, schema: pa.Schema) -> None:
        self._names = list(schema.names)
        ncols = len(self._names)
        self._rows = 0
        self._missing = np.zeros(ncols, dtype=np.int64)
        # Per column: still possibly constant? and the single value seen so far (None = only
        # missing values so far).
        self._maybe_constant = [True] * ncols
        self._constant_value: list[Any] = [None] * ncols
        self._hashes: list[np.ndarray] = []
        self._hasher = _Hasher()
        self._row = np.empty(0, dtype=np.uint64)
        self._column = np.empty(0, dtype=np.uint64)

    def update(self, batch: pa.RecordBatch) -> None:
        """Fold one batch (same schema as the constructor's) into the summary."""
        n = batch.num_rows
        if n == 0:
            return
        self._rows += n
        if len(self._row) < n:
            self._row = np.empty(n, dtype=np.uint64)
            self._column = np.empty(n, dtype=np.uint64)
        row_hash, column = self._row[:n], self._column[:n]
        row_hash.fill(_ROW)
        for i, arr in enumerate(batch.columns):
            nan = _nan_mask(arr)
            self._missing[i] += arr.null_count + (int(nan.sum()) if nan is not None else 0)
            hashes = self._hasher.hash_into(arr, column)
            if self._maybe_constant[i]:
                self._check_constant(i, arr, hashes, nan)
            row_hash ^= hashes
            row_hash *= _ROW
        np.right_shift(row_hash, _SHIFT_MID, out=column)
        row_hash ^= column
        # Sorted runs, merged pairwise as they pile up (like a binary counter), keep the
        # sorting work spread over the stream instead of one big sort at the end.
        self._hashes.append(np.sort(row_hash))
        while len(self._hashes) > 1 and len(self._hashes[-2]) <= len(self._hashes[-1]):
            last = self._hashes.pop()
            merged = np.concatenate((self._hashes.pop(), last))
            merged.sort(kind="stable")  # timsort: a linear merge of the two runs
            self._hashes.append(merged)

    def _check_constant(
        self, i: int, arr: pa.Array, hashes: np.ndarray, nan: np.ndarray | None
    ) -> None:
        """Compare value hashes (works for every type); nulls and NaN are ignored."""
        missing = arr.is_null().to_numpy(zero_copy_only=False) if arr.null_count else None
        if nan is not None:
            missing = nan if missing is None else missing | nan
        present = np.flatnonzero(~missing) if missing is not None else None
        if present is not None and len(present) == 0:
            return
        values = hashes[present] if present is not None else hashes
        first = int(present[0]) if present is not None else 0
        if self._constant_value[i] is None:
            self._constant_value[i] = (values[0], arr[first].as_py())
        if bool((values != self._constant_value[i][0]).any()):
            self._maybe_constant[i] = False

    def duplicate_rows(self) -> int:
        if not self._hashes:
            return 0
        if len(self._hashes) > 1:
            ordered = np.concatenate(self._hashes)
            ordered.sort(kind="stable")  # timsort: merges the few remaining runs
            self._hashes = [ordered]
        ordered = self._hashes[0]
        distinct = 1 + int(np.count_nonzero(ordered[1:] != ordered[:-1]))
        return len(ordered) - distinct

    def result(self) -> dict:
        """The summary as plain JSON-serialisable types (see module docstring)."""
        rows, ncols = self._rows, len(self._names)
        cells = rows * ncols
        missing = {}
        issues: list[dict] = []
        for i, name in enumerate(self._names):
            count = int(self._missing[i])
            percent = round(100.0 * count / rows, 2) if rows else 0.0
            missing[name] = {"count": count, "percent": percent}
            if count and rows:
                issues.append(_missing_issue(name, count, rows, percent))
        constant = [name for i, name in enumerate(self._names) if self._maybe_constant[i]]
        duplicates = self.duplicate_rows()
        missing_cells = int(self._missing.sum())
        missing_frac = missing_cells / cells if cells else 0.0
        dup_frac = duplicates / rows if rows else 0.0
        score = quality_score(rows, ncols, missing_cells, duplicates, len(constant))
        if rows == 0:
            issues.append(
                {
                    "kind": "empty",
                    "column": None,
                    "severity": "error",
                    "message": "The dataset has no rows.",
                }
            )
        else:
            if duplicates:
                issues.append(
                    {
                        "kind": "duplicates",
                        "column": None,
                        "severity": DUPLICATES_SEVERITY,
                        "message": f"{duplicates:,} of {rows:,} rows ({100 * dup_frac:.1f}%) are "
                        "exact copies of an earlier row.",
                    }
                )
            for i, name in enumerate(self._names):
                value = self._constant_value[i]
                # An all-missing column is constant, and its missing issue already says so.
                if self._maybe_constant[i] and value is not None:
                    issues.append(_constant_issue(name, value[1]))
        issues.sort(key=lambda issue: _SEVERITY_ORDER[issue["severity"]])
        return {
            "rows": rows,
            "columns": ncols,
            "cells": cells,
            "missing": missing,
            "missing_cells": missing_cells,
            "missing_percent": round(100.0 * missing_frac, 2),
            "duplicate_rows": duplicates,
            "duplicate_percent": round(100.0 * dup_frac, 2),
            "constant_columns": constant,
            "score": score,
            "issues": issues,
        }


def _missing_issue(name: str, count: int, rows: int, percent: float) -> dict:
    severity = missing_severity(count, rows)
    if count == rows:
        message = f"Column '{name}' is empty: all {rows:,} values are missing."
    else:
        message = (
            f"Column '{name}' is missing {percent:g}% of its values ({count:,} of {rows:,} rows)."
        )
    return {"kind": "missing", "column": name, "severity": severity, "message": message}


def _constant_issue(name: str, value: Any) -> dict:
    shown = repr(value.isoformat() if hasattr(value, "isoformat") else value)
    if len(shown) > 60:
        shown = shown[:57] + "..."
    message = (
        f"Column '{name}' has the same value ({shown}) in every row, so it cannot explain "
        "differences between rows."
    )
    return {"kind": "constant", "column": name, "severity": CONSTANT_SEVERITY, "message": message}


def check_column_names(names: list[Any]) -> None:
    """Reject empty or repeated column names (readers would silently invent or rename them)."""
    seen: dict[str, int] = {}
    for position, name in enumerate(names, start=1):
        text = "" if name is None else str(name)
        if not text.strip():
            raise Invalid(
                f"Column {position} has no name. Every column needs a name in the header row "
                "(an unnamed first column is often a row index exported by mistake).",
                column_position=position,
            )
        if text in seen:
            raise Invalid(
                f"Column names must be unique: '{text}' appears twice (columns {seen[text]} and "
                f"{position}). Rename one of them.",
                column=text,
                column_positions=[seen[text], position],
            )
        seen[text] = position


def _as_text(series: pd.Series) -> pa.Array:
    """Object values Arrow cannot unify (e.g. numbers mixed with words) stored as their text."""
    text = series.map(lambda v: None if v is None or (isinstance(v, float) and v != v) else str(v))
    return pa.array(text.astype(object), type=pa.string(), from_pandas=True)


def _values(series: pd.Series, typ: pa.DataType | None = None) -> pa.Array:
    """One Arrow array of a column's values. Arrow-backed columns may be held in several
    chunks (``pd.concat`` of frames with text columns under pandas 3), which ``pa.array``
    refuses; they are joined into one array."""
    array = series.array
    if hasattr(array, "__arrow_array__"):
        values = array.__arrow_array__(type=typ)
        if isinstance(values, pa.ChunkedArray):
            return values.combine_chunks()
        return values
    return pa.array(series, type=typ, from_pandas=True)


def _type_names(series: pd.Series) -> str:
    """The Python types of an object column's values, for error messages."""
    names = {type(v).__name__ for v in series.dropna().head(10_000)}
    return ", ".join(sorted(names))


def _column_type(name: str, column: pd.Series, strict: bool) -> tuple[pa.DataType, pa.Array | None]:
    """The Arrow type of a column (and its converted values when typing needed them)."""
    try:
        if column.dtype == object:
            # Object columns are typed by their values, which takes a full conversion.
            try:
                converted = pa.array(column, from_pandas=True)
            except (pa.ArrowInvalid, pa.ArrowTypeError):
                if strict:
                    raise Invalid(
                        f"Column {name!r} mixes values of different types ({_type_names(column)}) "
                        "that no single column type holds. Convert it first, e.g. "
                        f"df[{name!r}] = df[{name!r}].astype(str) to keep them as text.",
                        column=name,
                    ) from None
                converted = _as_text(column)
            return converted.type, converted
        frame = column.iloc[:0].to_frame()
        return pa.Schema.from_pandas(frame, preserve_index=False)[0].type, None
    except Invalid:
        raise
    except (pa.ArrowException, TypeError, ValueError) as exc:
        if isinstance(column.dtype, pd.SparseDtype):
            hint = f"it is sparse; store it dense: df[{name!r}] = df[{name!r}].sparse.to_dense()"
        elif pd.api.types.is_complex_dtype(column.dtype):
            hint = "complex numbers have no column type; store the real and imaginary parts"
        else:
            hint = f"{str(exc).rstrip('.')}; convert it to numbers, text, dates or booleans"
        raise Invalid(
            f"Column {name!r} (dtype {column.dtype}) cannot be stored: {hint}.",
            column=name,
            dtype=str(column.dtype),
        ) from None


def frame_to_batches(
    df: pd.DataFrame, rows_per_batch: int = 65_536, *, strict: bool = False
) -> tuple[pa.Schema, Iterator[pa.RecordBatch]]:
    """Arrow schema (with pandas metadata) and batches for a DataFrame, converted lazily.

    The index is not included. Column names are turned into strings and must be non-empty
    and unique. Object columns mixing types Arrow cannot unify are stored as text, or
    refused when ``strict`` (a DataFrame saved as it is, rather than a file read as text);
    columns Arrow cannot hold at all (complex numbers, sparse arrays) are refused.
    """
    if not all(isinstance(c, str) for c in df.columns):
        df = df.rename(columns=str)
    check_column_names(list(df.columns))
    fields: list[pa.Field] = []
    # Object columns are typed by looking at their values, which takes a full conversion;
    # it is kept and sliced so it is not done twice.
    converted: dict[str, pa.Array] = {}
    for name in df.columns:
        typ, values = _column_type(name, df[name], strict)
        if values is not None:
            converted[name] = values
        fields.append(pa.field(name, typ))
    # The pandas metadata of the frame keeps extension dtypes (category, Int64...) on read-back.
    metadata = pa.Schema.from_pandas(df.iloc[:0], preserve_index=False).metadata
    schema = pa.schema(fields, metadata=metadata)

    def batches() -> Iterator[pa.RecordBatch]:
        for start in range(0, len(df), rows_per_batch):
            arrays = [
                converted[f.name].slice(start, rows_per_batch)
                if f.name in converted
                else _values(df[f.name].iloc[start : start + rows_per_batch], f.type)
                for f in schema
            ]
            yield pa.RecordBatch.from_arrays(arrays, schema=schema)

    return schema, batches()


def quality_of_frame(df: pd.DataFrame) -> dict:
    """Quality summary of an in-memory DataFrame (same shape as ``QualityAccumulator.result``)."""
    schema, batches = frame_to_batches(df)
    acc = QualityAccumulator(schema)
    for batch in batches:
        acc.update(batch)
    return acc.result()
