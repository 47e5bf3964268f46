"""Compiled inference: a fitted scikit-learn model converted to ONNX and run by ONNX Runtime.

Why: scikit-learn validates its input and walks Python objects on every call. That costs about a
millisecond per request for a scaled logistic regression and about ten for a 200-tree forest on
one row, which is what online prediction latency is made of. ONNX Runtime runs the same
arithmetic in C++ in microseconds and spreads large batches over the cores; the trees of forests
and gradient boosting are walked by :mod:`.trees`, which is exact and faster still.

A compiled model is only served when it reproduces scikit-learn. At registration both run on
example rows and must return identical labels and values equal within 1e-9; the conversion uses
double precision throughout, and forests compare float32-rounded inputs against the exact
float64 split thresholds, as scikit-learn's trees do. Anything else (an estimator or transformer
the converter does not know, a disagreement) keeps the version on the scikit-learn runtime, with
the reason recorded for the user.

The compiled file is plain ONNX (a protobuf graph of standard operators): loading it runs no
Python code, so it needs no trusted-type list.

The runtime is optional: onnx, onnxruntime, skl2onnx and numba come with the ``serving`` extra
(``pip install 'astralytiq-jupyter[serving]'``), because they weigh hundreds of megabytes and
the conversion reads internals of scikit-learn (``_predictors``, ``_baseline_prediction`` and
``_loss`` of histogram gradient boosting) and non-top-level skl2onnx modules (its imputer
converter and shape calculator, ``concatenate_variables``), which a scikit-learn upgrade may
break. This module imports them only inside functions, behind :func:`require_runtime`; without
them every version is served by scikit-learn and ``runtime_note`` says why.
"""

from __future__ import annotations

import importlib.util
import logging
import operator
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import is_classifier

from .errors import Invalid
from .onnx_conversion import (
    BASELINE,
    BOOSTING,
    FORESTS,
    FORMAT,
    FORMAT_KEY,
    LEAF_VALUES,
    NotCompilable,
    convert,
    final_estimator,
)
from .outputs import sklearn_outputs, wants_probabilities
from .preprocessing import coerce_column, column_kind
from .trees import TreeEnsemble, UnsupportedEnsemble

log = logging.getLogger(__name__)

RUNTIME_ONNX = "onnx"
RUNTIME_SKLEARN = "sklearn"

#: Agreement required between the compiled and the scikit-learn model on the example rows.
TOLERANCE = 1e-9
_EXAMPLE_ROWS = 256


#: What the compiled runtime imports; the ``serving`` extra installs them (numba brings llvmlite).
SERVING_MODULES = ("onnx", "onnxruntime", "skl2onnx", "numba")
INSTALL_HINT = "pip install 'astralytiq-jupyter[serving]'"
_INSTALLED: set[str] = set()  # modules of SERVING_MODULES found installed in this process


def missing_modules() -> list[str]:
    """The compiled runtime's modules that are not installed (none with the ``serving``
    extra), found without importing them: a base install pays nothing for what it lacks."""
    missing = []
    for name in SERVING_MODULES:
        if name in sys.modules:  # imported already, or blocked (None), without a path search
            if sys.modules[name] is None:
                missing.append(name)
            continue
        if name in _INSTALLED:
            continue
        try:
            found = importlib.util.find_spec(name) is not None
        except (ImportError, ValueError):
            found = False
        if found:
            _INSTALLED.add(name)  # spares the path search next time (versions list often)
        else:
            missing.append(name)
    return missing


def unavailable_note() -> str | None:
    """Why nothing can be compiled or served compiled here; ``None`` when the runtime is
    installed."""
    missing = missing_modules()
    if not missing:
        return None
    return (
        f"Not compiled: compiled serving is not installed (missing {', '.join(missing)}), "
        f"so scikit-learn serves this version: {INSTALL_HINT}"
    )


class RuntimeUnavailable(NotCompilable):
    """The compiled runtime is not installed (or cannot be imported) in this environment."""


def require_runtime() -> None:
    """The one gate in front of every import of the compiled runtime's modules: raises
    :class:`RuntimeUnavailable`, saying how to install them, when any is missing."""
    note = unavailable_note()
    if note is not None:
        raise RuntimeUnavailable(note)


@dataclass(frozen=True)
class Compilation:
    """The outcome of :func:`compile_model`: ONNX bytes, or ``None`` and why not."""

    data: bytes | None
    note: str

    @property
    def runtime(self) -> str:
        return RUNTIME_ONNX if self.data is not None else RUNTIME_SKLEARN


def compile_model(
    model: Any,
    signature: Sequence[Mapping[str, Any]],
    output: Mapping[str, Any],
    examples: pd.DataFrame | None = None,
) -> Compilation:
    """Convert ``model`` to ONNX and verify it against scikit-learn on ``examples`` (coerced
    input rows; synthesised from the signature when ``None``). Without the compiled runtime,
    the reason and how to install it."""
    try:
        require_runtime()
        data = convert(model, signature)
        compiled = CompiledModel(data, signature)
        rows = examples if examples is not None else _accepted(model, signature, output)
        _verify(model, compiled, rows, output)
    except NotCompilable as exc:
        return Compilation(None, str(exc))
    except ImportError as exc:  # installed, but broken (e.g. by a scikit-learn upgrade)
        log.warning("compiled runtime unusable", exc_info=True)
        return Compilation(
            None, f"Not compiled: the compiled runtime cannot be imported ({exc})."[:500]
        )
    except Exception as exc:  # noqa: BLE001 - the converter raises anything; serving falls back
        log.info("model not compiled", exc_info=True)
        return Compilation(None, f"The ONNX converter failed: {type(exc).__name__}: {exc}"[:500])
    return Compilation(data, f"Compiled to ONNX; verified on {len(rows)} example rows.")


def _parse(data: bytes) -> Any:
    """The ONNX model of a compiled file; :class:`NotCompilable` for a file of another
    format."""
    import onnx

    model = onnx.load_model_from_string(data)
    formats = {p.value for p in model.metadata_props if p.key == FORMAT_KEY}
    if formats != {FORMAT}:
        raise NotCompilable(f"Compiled file of format {formats or 'unknown'}, not {FORMAT}.")
    return model


def is_current(data: bytes) -> bool:
    """Whether a compiled file is of the layout this release writes and serves."""
    try:
        _parse(data)
    except Exception:  # noqa: BLE001 - unreadable or of another layout: not current either way
        return False
    return True


def _take_ensemble(model: Any) -> tuple[TreeEnsemble | None, np.ndarray | None, str | None]:
    """Take a compiled tree ensemble (its node and its leaf values) out of ``model``, whose
    output becomes the ensemble's input features, and return it with the boosting baseline
    and its kind; ``(None, None, None)`` for a model without one."""
    from onnx import TensorProto, helper, numpy_helper

    graph = model.graph
    found = [n for n in graph.node if n.op_type == "TreeEnsembleRegressor"]
    values = {i.name: i for i in graph.initializer if i.name in (LEAF_VALUES, BASELINE)}
    if not found or LEAF_VALUES not in values:
        return None, None, None
    (node,) = found
    arrays = {name: numpy_helper.to_array(t).astype(np.float64) for name, t in values.items()}
    baseline = arrays.get(BASELINE)
    try:
        # Boosting's k-th tree of each iteration adds to output column k.
        cycle = len(baseline) if baseline is not None else 1
        ensemble = TreeEnsemble.from_onnx(node, arrays[LEAF_VALUES], cycle)
    except UnsupportedEnsemble as exc:
        raise NotCompilable(str(exc)) from None
    for tensor in values.values():
        graph.initializer.remove(tensor)
    graph.node.remove(node)
    features = TensorProto.FLOAT if ensemble.input_dtype == np.float32 else TensorProto.DOUBLE
    del graph.output[:]
    graph.output.append(helper.make_tensor_value_info(node.input[0], features, None))
    return ensemble, baseline, node.output[0]


def _passes_through(model: Any) -> bool:
    """Whether ``model`` only hands its input matrix on (``Identity`` and ``Cast``), which
    numpy does without a session."""
    return [n.op_type for n in model.graph.node] == ["Identity", "Cast"] and [
        i.name for i in model.graph.input
    ] == ["X"]


class CompiledModel:
    """A compiled model, fed from coerced input columns: ONNX Runtime runs its graph, and a
    :class:`~.trees.TreeEnsemble` its trees, if any."""

    def __init__(self, data: bytes, signature: Sequence[Mapping[str, Any]]) -> None:
        require_runtime()
        try:
            import onnxruntime as ort
        except ImportError as exc:  # installed, but broken
            raise RuntimeUnavailable(f"The compiled runtime cannot be imported: {exc}") from exc

        model = _parse(data)
        self.ensemble, self.baseline, kind = _take_ensemble(model)
        initialized = {i.name for i in model.graph.initializer}
        self.inputs = [i.name for i in model.graph.input if i.name not in initialized]
        self.session = None
        if self.ensemble is None or not _passes_through(model):
            options = ort.SessionOptions()
            # The server's event loop and worker threads share the cores with the session:
            # spinning intra-op threads would steal them between requests.
            options.add_session_config_entry("session.intra_op.allow_spinning", "0")
            options.log_severity_level = 3
            self.session = ort.InferenceSession(
                model.SerializeToString(), options, providers=["CPUExecutionProvider"]
            )
        self.names = [c["name"] for c in signature]
        self.kinds = [column_kind(c) for c in signature]
        self.matrix = self.inputs == ["X"] and "X" not in self.names
        self.classifier = kind == "forest_classifier"

    def feed(self, X: pd.DataFrame) -> dict[str, np.ndarray]:
        """ONNX inputs from a frame already coerced to the signature."""
        if self.matrix:
            return {"X": X.to_numpy(dtype=np.float64)}
        feed = {}
        for name, kind in zip(self.names, self.kinds, strict=True):
            column = X[name]
            if kind == "categorical":
                # ONNX strings have no missing value: the compiled imputer treats "" as one.
                values = column.to_numpy(dtype=object, na_value="")
            elif kind == "datetime":
                values = _epoch_seconds(column)
            else:
                values = column.to_numpy(dtype=np.float64, na_value=np.nan)
            feed[name] = values.reshape(-1, 1)
        return feed

    def feed_records(self, records: Sequence[Mapping[str, Any]]) -> dict[str, np.ndarray] | None:
        """ONNX inputs straight from JSON records, equal to what :meth:`feed` makes of the
        validated frame, without building one (the online-serving fast path). Values must
        already be of their column's type: numbers, booleans, text, or null; dates go through
        the validated path's own parser. ``None`` when any value needs converting or would be
        refused, or a column is absent: the validated path then converts or explains."""
        if self.matrix:
            pick = operator.itemgetter(*self.names)  # one name: a scalar per record
            try:
                X = np.array(list(map(pick, records)))
            except (KeyError, TypeError, ValueError):
                return None
            # Only plain numbers: text, booleans, nulls and nested values are converted (or
            # refused) by the validated path.
            if X.dtype.kind not in "fi" or X.ndim != (1 if len(self.names) == 1 else 2):
                return None
            return {"X": X.astype(np.float64, copy=False).reshape(len(records), -1)}
        feed = {}
        for name, kind in zip(self.names, self.kinds, strict=True):
            try:
                values = [record[name] for record in records]
            except (KeyError, TypeError):
                return None
            column = _record_column(values, kind)
            if column is None:
                return None
            feed[name] = column.reshape(-1, 1)
        return feed

    def run(
        self, X: pd.DataFrame | np.ndarray | Mapping[str, np.ndarray]
    ) -> tuple[np.ndarray, np.ndarray | None]:
        """Labels (or values) and, for classifiers, class probabilities, of coerced rows (a
        float64 matrix in signature order is accepted when :attr:`matrix`, and the inputs
        :meth:`feed_records` made)."""
        if isinstance(X, Mapping):
            feed = dict(X)
        else:
            feed = {"X": X} if isinstance(X, np.ndarray) else self.feed(X)
        rows = len(next(iter(feed.values())))
        if self.ensemble is not None:
            features = feed["X"] if self.session is None else self._session_run(feed)[0]
            if self.baseline is not None:
                # Gradient boosting's raw predictions: the baseline, then each iteration's
                # leaf values added in order, as ``_raw_predict`` adds them.
                start = np.broadcast_to(self.baseline, (len(features), len(self.baseline)))
                return self.ensemble.accumulate(features, start), None
            return self._forest_outputs(features)
        results = self._session_run(feed)
        values = np.asarray(results[0]).reshape(rows, -1)
        values = values[:, 0] if values.shape[1] == 1 else values
        proba = np.asarray(results[1], dtype=np.float64) if len(results) > 1 else None
        return values, proba

    def _session_run(self, feed: dict[str, np.ndarray]) -> list[Any]:
        from onnxruntime.capi.onnxruntime_pybind11_state import Fail

        assert self.session is not None
        try:
            return self.session.run(None, feed)
        except Fail as exc:
            if "Unknown Category" not in str(exc):
                raise
            # scikit-learn refuses them too (handle_unknown="error"), with a ValueError.
            raise Invalid(
                "The model cannot predict rows with a category it was not trained on: its "
                "encoder refuses unknown categories."
            ) from None

    def _forest_outputs(self, features: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
        """A forest's predictions: the leaves' float64 values summed tree after tree (like
        scikit-learn's accumulation) and divided by the number of trees."""
        assert self.ensemble is not None
        start = np.zeros((len(features), self.ensemble.width))
        summed = self.ensemble.accumulate(features, start)
        summed /= self.ensemble.n_trees
        if summed.shape[1] == 1 and not self.classifier:
            return summed[:, 0], None
        return np.argmax(summed, axis=1), summed


def _epoch_seconds(column: pd.Series) -> np.ndarray:
    """Seconds since the epoch, NaN for missing: what the compiled DateParts reads."""
    stamps = column.to_numpy(dtype="datetime64[us]")  # ns overflows in 2262
    values = stamps.astype(np.int64) / 1e6
    values[np.isnat(stamps)] = np.nan
    return values


#: Integers that float64 holds exactly, as the validated path's int64 to float64 keeps them.
_EXACT_INT = 2**53


def _record_column(values: list[Any], kind: str) -> np.ndarray | None:
    """One ONNX input column from the JSON values of a column of ``kind``, equal to what
    :func:`~.preprocessing.coerce_column` and :meth:`CompiledModel.feed` make of them;
    ``None`` for values that need the validated path."""
    if kind == "numeric":
        if not all(
            v is None or type(v) is float or (type(v) is int and abs(v) <= _EXACT_INT)
            for v in values
        ):
            return None
        return np.array([np.nan if v is None else v for v in values], dtype=np.float64)
    if kind == "boolean":
        if not all(v is None or type(v) is bool for v in values):
            return None
        return np.array([np.nan if v is None else float(v) for v in values], dtype=np.float64)
    if kind == "categorical":
        if not all(v is None or type(v) is str for v in values):
            return None
        return np.array(["" if v is None else v for v in values], dtype=object)
    if not all(v is None or type(v) is str for v in values):
        return None
    # Dates: the validated path's own parser on the column it would build, so that every
    # format it reads is read alike; a value it cannot read is its error to explain.
    parsed, bad = coerce_column(pd.Series(values), "datetime")
    return None if bool(bad.any()) else _epoch_seconds(parsed)


def synthesize_examples(signature: Sequence[Mapping[str, Any]]) -> pd.DataFrame:
    """Rows to verify a compilation on when the registration brought none: wide-ranging
    numbers (zero, small, large, negative, missing); categorical or date inputs need real
    examples, because their meaning lies in values no signature lists."""
    rng = np.random.default_rng(0)
    columns: dict[str, Any] = {}
    for column in signature:
        kind = column_kind(column)
        if kind == "numeric":
            values = rng.normal(0, rng.choice([1.0, 10.0, 1000.0], _EXAMPLE_ROWS))
            values[:8] = [0.0, 1.0, -1.0, 0.5, 1e6, -1e6, 1e-6, 3.0]
            values[8:16] = np.nan
            columns[column["name"]] = values
        elif kind == "boolean":
            columns[column["name"]] = rng.integers(0, 2, _EXAMPLE_ROWS).astype(np.float64)
        else:
            raise NotCompilable(
                f"Not compiled: column {column['name']!r} is {kind}; register the model with "
                "example rows (input_example) to verify a compiled version."
            )
    return pd.DataFrame(columns)


def _accepted(
    model: Any, signature: Sequence[Mapping[str, Any]], output: Mapping[str, Any]
) -> pd.DataFrame:
    """Synthesised rows the model accepts: without the missing values if it refuses them."""
    rows = synthesize_examples(signature)
    try:
        sklearn_outputs(model, rows, output)
    except ValueError:
        rows = rows.dropna().reset_index(drop=True)
    return rows


def _verify(
    model: Any, compiled: CompiledModel, rows: pd.DataFrame, output: Mapping[str, Any]
) -> None:
    """Refuse a compilation that does not reproduce ``model`` on ``rows``."""
    if len(rows) == 0:
        raise NotCompilable("Not compiled: no example rows to verify it on.")
    expected, expected_proba = sklearn_outputs(model, rows, output)
    got, got_proba = compiled_outputs(model, compiled, rows, output)
    if expected.dtype.kind in "fc":
        same = np.allclose(
            np.asarray(got, dtype=np.float64), expected, rtol=TOLERANCE, atol=TOLERANCE
        )
    else:
        same = np.array_equal(np.asarray(got).astype(expected.dtype), expected)
    if not same:
        raise NotCompilable("Not compiled: its predictions differ from scikit-learn's.")
    if (expected_proba is None) != (got_proba is None) or (
        expected_proba is not None
        and not np.allclose(got_proba, expected_proba, rtol=TOLERANCE, atol=TOLERANCE)
    ):
        raise NotCompilable("Not compiled: its probabilities differ from scikit-learn's.")


def _has_nan(values: np.ndarray) -> bool:
    return values.dtype.kind == "f" and bool(np.isnan(values).any())


def _boosting_outputs(
    boosting: Any, raw: np.ndarray, output: Mapping[str, Any]
) -> tuple[np.ndarray, np.ndarray | None]:
    """Predictions from gradient boosting's raw sums by the model's own loss (the code
    scikit-learn runs after its tree walk)."""
    if not is_classifier(boosting):
        return boosting._loss.link.inverse(raw.ravel()), None
    if not wants_probabilities(boosting, output):
        encoded = (raw.ravel() > 0).astype(int) if raw.shape[1] == 1 else raw.argmax(axis=1)
        return boosting.classes_[encoded], None
    proba = boosting._loss.predict_proba(raw)
    return boosting.classes_.take(np.argmax(proba, axis=1)), proba


def compiled_outputs(
    model: Any,
    compiled: CompiledModel,
    X: pd.DataFrame | np.ndarray | Mapping[str, np.ndarray],
    output: Mapping[str, Any],
) -> tuple[np.ndarray, np.ndarray | None]:
    """Predictions and probabilities of the compiled model, labelled like scikit-learn's."""
    values, proba = compiled.run(X)
    if _has_nan(values) or (proba is not None and np.isnan(proba).any()):
        # A model without imputation yields NaN where scikit-learn would refuse the row.
        raise Invalid(
            "The model cannot predict rows with missing values (it was trained without "
            "imputation); fill them in or train with the engine's preprocessing."
        )
    final = final_estimator(model)
    if isinstance(final, BOOSTING):
        return _boosting_outputs(final, values, output)
    if not is_classifier(final):
        return values, None
    classes = final.classes_
    labels = np.asarray(values).astype(classes.dtype, copy=False)
    if proba is None or not wants_probabilities(final, output):
        return labels, None
    if isinstance(final, FORESTS):
        # scikit-learn's own rule for forests, first class on ties; the converter's label
        # output may break exact ties the other way.
        return classes.take(np.argmax(proba, axis=1)), proba
    return labels, proba
