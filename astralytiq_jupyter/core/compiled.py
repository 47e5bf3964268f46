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

import functools
import importlib.util
import logging
import operator
import sys
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import is_classifier
from sklearn.compose import ColumnTransformer, TransformedTargetRegressor
from sklearn.ensemble import (
    ExtraTreesClassifier,
    ExtraTreesRegressor,
    HistGradientBoostingClassifier,
    HistGradientBoostingRegressor,
    RandomForestClassifier,
    RandomForestRegressor,
)
from sklearn.impute import SimpleImputer
from sklearn.linear_model import (
    ElasticNet,
    Lasso,
    LinearRegression,
    LogisticRegression,
    Ridge,
    RidgeClassifier,
)
from sklearn.neural_network import MLPClassifier, MLPRegressor
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import (
    FunctionTransformer,
    MaxAbsScaler,
    MinMaxScaler,
    OneHotEncoder,
    StandardScaler,
)
from sklearn.tree import DecisionTreeClassifier, DecisionTreeRegressor

from .errors import Invalid
from .preprocessing import DateParts, coerce_column, column_kind
from .trees import TreeEnsemble, UnsupportedEnsemble

log = logging.getLogger(__name__)

RUNTIME_ONNX = "onnx"
RUNTIME_SKLEARN = "sklearn"

#: Estimators whose conversion is verified to reproduce scikit-learn. The converter knows more,
#: but others (k-NN ties, classic gradient boosting, SVMs computed in float32) can differ from
#: scikit-learn on rows the examples do not cover. Networks run in float64 here: measured on
#: 200,000 random rows, probabilities within 2.2e-16 of scikit-learn's and no label differs.
_FORESTS: tuple[type, ...] = (
    RandomForestClassifier,
    RandomForestRegressor,
    ExtraTreesClassifier,
    ExtraTreesRegressor,
    DecisionTreeClassifier,
    DecisionTreeRegressor,
)
_BOOSTING: tuple[type, ...] = (HistGradientBoostingClassifier, HistGradientBoostingRegressor)
COMPILABLE_ESTIMATORS: tuple[type, ...] = (
    *_BOOSTING,
    LogisticRegression,
    LinearRegression,
    Ridge,
    RidgeClassifier,
    Lasso,
    ElasticNet,
    MLPClassifier,
    MLPRegressor,
    *_FORESTS,
)
COMPILABLE_TRANSFORMERS: tuple[type, ...] = (
    ColumnTransformer,
    DateParts,
    Pipeline,
    SimpleImputer,
    StandardScaler,
    MinMaxScaler,
    MaxAbsScaler,
    OneHotEncoder,
)
#: The layout of compiled files this code writes and reads; a file of another layout (an older
#: release's) is not served compiled, and ``astralytiq models compile`` recompiles it.
#: 2: one-hot encoders that ignore unknown categories encode them as zeros (1 failed on them).
FORMAT = "astralytiq-compiled-2"
FORMAT_KEY = "astralytiq_format"
#: The initializers holding a compiled ensemble's float64 leaf values and, for boosting, the
#: baseline its trees add to.
LEAF_VALUES = "forest_leaf_values"
BASELINE = "boosting_baseline"
#: Agreement required between the compiled and the scikit-learn model on the example rows.
TOLERANCE = 1e-9
_EXAMPLE_ROWS = 256
_ONNX_OPSET = 18
_ML_OPSET = 3


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


class NotCompilable(Exception):
    """The model cannot be served by the compiled runtime; the message says why."""


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
        data = _convert(model, signature)
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
    from .artifacts import sklearn_outputs

    rows = synthesize_examples(signature)
    try:
        sklearn_outputs(model, rows, output)
    except ValueError:
        rows = rows.dropna().reset_index(drop=True)
    return rows


# -- conversion ------------------------------------------------------------------------------
def _steps(model: Any) -> list[Any]:
    """Every estimator inside ``model`` (pipelines and column transformers opened)."""
    if isinstance(model, Pipeline):
        return [model, *(s for _, step in model.steps for s in _steps(step))]
    if isinstance(model, ColumnTransformer):
        inner = [t for _, t, _ in model.transformers_ if not isinstance(t, str)]
        return [model, *(s for t in inner for s in _steps(t))]
    return [model]


def _final(model: Any) -> Any:
    return model.steps[-1][1] if isinstance(model, Pipeline) else model


def _check_supported(model: Any) -> None:
    final = _final(model)
    if isinstance(final, TransformedTargetRegressor):
        if not isinstance(final.transformer_, StandardScaler) and not _identity(final.transformer_):
            raise NotCompilable("Not compiled: a target transformed otherwise than by scaling.")
        if isinstance(final.regressor_, (*_FORESTS, *_BOOSTING)):
            raise NotCompilable("Not compiled: tree ensembles of a scaled target.")
        final = final.regressor_
    if type(final) not in COMPILABLE_ESTIMATORS:
        raise NotCompilable(
            f"Not compiled: {type(final).__name__} is served by scikit-learn (compiled runtime "
            "covers linear models, neural networks, tree forests and histogram gradient "
            "boosting)."
        )
    # A pipeline's steps before its final estimator (the last of _steps).
    for step in _steps(model)[:-1] if isinstance(model, Pipeline) else []:
        if type(step) not in COMPILABLE_TRANSFORMERS:
            raise NotCompilable(
                f"Not compiled: the {type(step).__name__} step is served by scikit-learn."
            )
        if isinstance(step, ColumnTransformer) and step.remainder != "drop":
            raise NotCompilable("Not compiled: a column transformer passes columns through.")


@functools.cache
def _register_double_imputer() -> None:
    """Teach the converter to impute float64 columns: its stock SimpleImputer emits the
    ``Imputer`` operator, which ONNX Runtime runs only on float32. ``Where(IsNaN(x), fill, x)``
    computes the same in float64."""
    from onnx import TensorProto
    from skl2onnx import update_registered_converter
    from skl2onnx.common.data_types import DoubleTensorType
    from skl2onnx.operator_converters.common import concatenate_variables
    from skl2onnx.operator_converters.imputer_op import convert_sklearn_imputer
    from skl2onnx.shape_calculators.imputer import calculate_sklearn_imputer_output_shapes

    def convert(scope: Any, operator: Any, container: Any) -> None:
        imputer = operator.raw_operator
        if not isinstance(operator.inputs[0].type, DoubleTensorType):
            convert_sklearn_imputer(scope, operator, container)
            return
        statistics = np.asarray(imputer.statistics_, dtype=np.float64)
        missing = imputer.missing_values
        if (
            imputer.add_indicator
            or np.isnan(statistics).any()
            or not (isinstance(missing, float) and np.isnan(missing))
        ):
            raise NotCompilable("Not compiled: an imputer drops columns or adds indicators.")
        features = concatenate_variables(scope, operator.inputs, container)
        fill = scope.get_unique_variable_name("fill")
        container.add_initializer(fill, TensorProto.DOUBLE, [len(statistics)], statistics)
        is_missing = scope.get_unique_variable_name("is_missing")
        container.add_node("IsNaN", [features], [is_missing])
        container.add_node("Where", [is_missing, fill, features], [operator.outputs[0].full_name])

    update_registered_converter(
        SimpleImputer,
        "SklearnImputer",
        calculate_sklearn_imputer_output_shapes,
        convert,
        overwrite=True,
    )


@functools.cache
def _register_date_parts() -> None:
    """Teach the converter the engine's :class:`~.preprocessing.DateParts`: calendar fields
    from seconds since the epoch (:meth:`CompiledModel.feed` sends dates so), by the
    days-to-civil-date arithmetic of H. Hinnant's ``civil_from_days`` in float64 ``Floor``
    steps, which are exact for whole seconds; missing dates stay NaN for the imputer."""
    from onnx import TensorProto
    from skl2onnx import update_registered_converter
    from skl2onnx.common.data_types import DoubleTensorType
    from skl2onnx.operator_converters.common import concatenate_variables

    def shape(operator: Any) -> None:
        n_out = len(operator.raw_operator.get_feature_names_out())
        rows = operator.inputs[0].type.shape[0]
        operator.outputs[0].type = DoubleTensorType([rows, n_out])

    def convert(scope: Any, operator: Any, container: Any) -> None:
        parts_of = operator.raw_operator
        seconds_all = concatenate_variables(scope, operator.inputs, container)

        def name(hint: str) -> str:
            return scope.get_unique_variable_name(hint)

        constants: dict[float, str] = {}

        def const(value: float) -> str:
            if value not in constants:
                constants[value] = name("c")
                container.add_initializer(constants[value], TensorProto.DOUBLE, [], [value])
            return constants[value]

        def op(kind: str, *inputs: str, **attrs: Any) -> str:
            out = name(kind.lower())
            container.add_node(kind, list(inputs), [out], name=name(kind), **attrs)
            return out

        def floordiv(a: str, b: float) -> str:
            return op("Floor", op("Div", a, const(b)))

        outputs = []
        for j, column in enumerate(parts_of.columns_):
            index = name("index")
            container.add_initializer(index, TensorProto.INT64, [1], [j])
            s = op("Gather", seconds_all, index, axis=1)
            days = floordiv(s, 86400.0)
            z = op("Add", days, const(719468.0))
            era = floordiv(z, 146097.0)
            doe = op("Sub", z, op("Mul", era, const(146097.0)))
            yoe = floordiv(
                op(
                    "Sub",
                    op(
                        "Add",
                        op("Sub", doe, floordiv(doe, 1460.0)),
                        floordiv(doe, 36524.0),
                    ),
                    floordiv(doe, 146096.0),
                ),
                365.0,
            )
            doy = op(
                "Sub",
                doe,
                op(
                    "Sub",
                    op("Add", op("Mul", yoe, const(365.0)), floordiv(yoe, 4.0)),
                    floordiv(yoe, 100.0),
                ),
            )
            mp = floordiv(op("Add", op("Mul", doy, const(5.0)), const(2.0)), 153.0)
            day = op(
                "Add",
                op("Sub", doy, floordiv(op("Add", op("Mul", mp, const(153.0)), const(2.0)), 5.0)),
                const(1.0),
            )
            late = op("Cast", op("GreaterOrEqual", mp, const(10.0)), to=TensorProto.DOUBLE)
            month = op("Sub", op("Add", mp, const(3.0)), op("Mul", late, const(12.0)))
            early = op("Cast", op("LessOrEqual", month, const(2.0)), to=TensorProto.DOUBLE)
            year = op("Add", op("Add", yoe, op("Mul", era, const(400.0))), early)
            shifted = op("Add", days, const(3.0))  # 1970-01-01 was a Thursday (Monday = 0)
            weekday = op("Sub", shifted, op("Mul", floordiv(shifted, 7.0), const(7.0)))
            fields = [year, month, day, weekday]
            if parts_of.with_time_[column]:
                in_day = op("Sub", s, op("Mul", days, const(86400.0)))
                hour = floordiv(in_day, 3600.0)
                minute = floordiv(op("Sub", in_day, op("Mul", hour, const(3600.0))), 60.0)
                fields += [hour, minute]
            outputs.extend(fields)
        container.add_node(
            "Concat", outputs, [operator.outputs[0].full_name], name=name("Concat"), axis=1
        )

    update_registered_converter(DateParts, "AstralytiqDateParts", shape, convert, overwrite=True)


def _with_string_missing_values(model: Any) -> Any:
    """A copy of ``model`` whose string imputers look for "" instead of NaN: ONNX strings have
    no NaN, so :meth:`CompiledModel.feed` sends missing categories as ""."""
    import copy

    imputers = [
        s
        for s in _steps(model)
        if isinstance(s, SimpleImputer)
        and s.strategy == "constant"
        and isinstance(s.fill_value, str)
        and not isinstance(s.missing_values, str)
    ]
    if not imputers:
        return model
    model = copy.deepcopy(model)
    for step in _steps(model):
        if isinstance(step, SimpleImputer) and isinstance(step.fill_value, str):
            step.missing_values = ""
    return model


def _to_onnx(model: Any, initial_types: list[Any], options: dict | None = None) -> Any:
    from skl2onnx import to_onnx

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return to_onnx(
            model,
            initial_types=initial_types,
            options=options,
            target_opset={"": _ONNX_OPSET, "ai.onnx.ml": _ML_OPSET},
        )


def _convert(model: Any, signature: Sequence[Mapping[str, Any]]) -> bytes:
    from skl2onnx.common.data_types import DoubleTensorType, StringTensorType

    _check_supported(model)
    _register_double_imputer()
    _register_date_parts()
    model = _with_string_missing_values(model)
    target_scaler = None
    if isinstance(_final(model), TransformedTargetRegressor):
        # The regressor's predictions, then the target scaler's inverse as nodes after it.
        target_scaler = _final(model).transformer_
        model = _with_final(model, _final(model).regressor_)
    first = model.steps[0][1] if isinstance(model, Pipeline) else model
    if isinstance(first, ColumnTransformer):
        initial_types = []
        for column in signature:
            kind = column_kind(column)
            tensor = StringTensorType if kind == "categorical" else DoubleTensorType
            initial_types.append((column["name"], tensor([None, 1])))
    else:
        kinds = {column_kind(column) for column in signature}
        if not kinds <= {"numeric", "boolean"}:
            raise NotCompilable("Not compiled: non-numeric inputs without a column transformer.")
        initial_types = [("X", DoubleTensorType([None, len(signature)]))]
    final = _final(model)
    if isinstance(final, (*_FORESTS, *_BOOSTING)):
        preprocess: Any = None
        if isinstance(model, Pipeline) and len(model.steps) > 1:
            preprocess = _to_onnx(model[:-1], initial_types)
        build = _forest_graph if isinstance(final, _FORESTS) else _boosting_graph
        onx = build(preprocess, final, len(signature))
    else:
        options = {id(final): {"zipmap": False}} if is_classifier(final) else None
        onx = _to_onnx(model, initial_types, options)
    _unknown_categories_as_zeros(model, onx)
    if isinstance(target_scaler, StandardScaler):
        _append_inverse_scaling(onx, target_scaler)
    onx.metadata_props.add(key=FORMAT_KEY, value=FORMAT)
    return onx.SerializeToString()


def _identity(transformer: Any) -> bool:
    """Whether a target transformer leaves the target as it is (the default, no function)."""
    return (
        isinstance(transformer, FunctionTransformer)
        and transformer.func is None
        and transformer.inverse_func is None
    )


def _with_final(model: Any, estimator: Any) -> Any:
    """``model`` with its final step replaced by the fitted ``estimator``."""
    if isinstance(model, Pipeline):
        return Pipeline([*model.steps[:-1], (model.steps[-1][0], estimator)])
    return estimator


def _append_inverse_scaling(onx: Any, scaler: StandardScaler) -> None:
    """Nodes after the graph's prediction that undo ``scaler`` as ``inverse_transform``
    does: multiply by ``scale_``, then add ``mean_``, in float64 (the same two roundings)."""
    from onnx import TensorProto, helper, numpy_helper

    graph = onx.graph
    prediction = graph.output[0].name
    steps = (("target_scale", scaler.scale_, "Mul"), ("target_mean", scaler.mean_, "Add"))
    for name, values, op in steps:
        if values is None:
            continue
        graph.initializer.append(numpy_helper.from_array(np.asarray(values, np.float64), name))
        graph.node.append(helper.make_node(op, [prediction, name], [f"{name}_applied"]))
        prediction = f"{name}_applied"
    del graph.output[:]
    graph.output.append(helper.make_tensor_value_info(prediction, TensorProto.DOUBLE, None))


def _unknown_categories_as_zeros(model: Any, onx: Any) -> None:
    """Encode categories unseen in training as scikit-learn does. Its encoders that do not
    refuse them (``handle_unknown="ignore"``, or ``"infrequent_if_exist"``, the engine's,
    without infrequent categories: the converter refuses those) encode them as all zeros;
    the converter writes ``zeros=0``, with which ONNX Runtime fails on them instead."""
    from onnx import helper

    encoders = [step for step in _steps(model) if isinstance(step, OneHotEncoder)]
    lenient = {encoder.handle_unknown != "error" for encoder in encoders}
    if len(lenient) > 1:
        raise NotCompilable("Not compiled: its one-hot encoders treat unknown categories unalike.")
    if lenient != {True}:
        return  # none, or all refuse them: CompiledModel.run reports ONNX Runtime's refusal
    for node in onx.graph.node:
        if node.op_type == "OneHotEncoder":
            for attribute in list(node.attribute):
                if attribute.name == "zeros":
                    node.attribute.remove(attribute)
            node.attribute.append(helper.make_attribute("zeros", 1))


@dataclass(frozen=True)
class _Tree:
    """One tree as arrays by node id: children (``left == -1`` or ``is_leaf`` marks leaves),
    split feature and threshold, and the side missing values take."""

    left: np.ndarray
    right: np.ndarray
    is_leaf: np.ndarray
    feature: np.ndarray
    threshold: np.ndarray
    missing_left: np.ndarray


def _forest_graph(preprocess: Any | None, forest: Any, n_features: int) -> Any:
    """An ONNX model for ``forest`` (after the converted ``preprocess`` graph, if any) that
    computes exactly what scikit-learn does.

    The stock converter writes float32 thresholds rounded to nearest and leaf values
    pre-divided by the number of trees and summed in float32, which moves splits by up to
    half a float32 step and turns exact ties (100 of 200 trees voting each way) into
    near-ties broken by rounding. Here the tree ensemble only finds the leaf each row reaches
    in each tree; the leaves' float64 values are summed tree after tree and divided by the
    tree count, exactly as ``predict_proba`` and ``predict`` accumulate them (by
    :class:`~.trees.TreeEnsemble`, which walks this ensemble when serving).
    """
    trees = [t.tree_ for t in getattr(forest, "estimators_", [forest])]
    classifier = is_classifier(forest)
    if getattr(forest, "n_outputs_", 1) != 1:
        raise NotCompilable("Not compiled: multi-output forests are served by scikit-learn.")
    shapes, leaf_values = [], []
    for tree in trees:
        is_leaf = tree.children_left == -1
        shapes.append(
            _Tree(
                tree.children_left,
                tree.children_right,
                is_leaf,
                tree.feature,
                tree.threshold,
                np.asarray(tree.missing_go_to_left),
            )
        )
        leaves = np.flatnonzero(is_leaf)
        value = tree.value[leaves, 0, :] if classifier else tree.value[leaves, :, 0]
        if classifier:
            # DecisionTreeClassifier.predict_proba: each leaf's class counts over their sum.
            normalizer = value.sum(axis=1)[:, np.newaxis]
            normalizer[normalizer == 0.0] = 1.0
            value = value / normalizer
        leaf_values.append(value.astype(np.float64))
    kind = "forest_classifier" if classifier else "forest_regressor"
    return _leaf_index_graph(
        preprocess, shapes, n_features, kind, np.concatenate(leaf_values), float32_splits=True
    )


def _boosting_graph(preprocess: Any | None, boosting: Any, n_features: int) -> Any:
    """Like :func:`_forest_graph` for histogram gradient boosting, which compares float64
    inputs against float64 thresholds: the ensemble runs in float64, and the leaves' values
    are added to the baseline iteration after iteration, as ``_raw_predict`` does."""
    shapes, leaf_values = [], []
    for iteration in boosting._predictors:
        for predictor in iteration:
            nodes = predictor.nodes
            if nodes["is_categorical"].any():
                raise NotCompilable("Not compiled: native categorical splits.")
            is_leaf = nodes["is_leaf"].astype(bool)
            shapes.append(
                _Tree(
                    nodes["left"].astype(np.int64),
                    nodes["right"].astype(np.int64),
                    is_leaf,
                    nodes["feature_idx"].astype(np.int64),
                    nodes["num_threshold"].astype(np.float64),
                    nodes["missing_go_to_left"].astype(np.int64),
                )
            )
            leaf_values.append(nodes["value"][is_leaf].astype(np.float64)[:, np.newaxis])
    from onnx import numpy_helper

    baseline = np.asarray(boosting._baseline_prediction, dtype=np.float64).ravel()
    return _leaf_index_graph(
        preprocess,
        shapes,
        n_features,
        "boosting",
        np.concatenate(leaf_values),
        float32_splits=False,
        extra=[numpy_helper.from_array(baseline, BASELINE)],
    )


def _leaf_index_graph(
    preprocess: Any | None,
    trees: list[_Tree],
    n_features: int,
    kind: str,
    leaf_values: np.ndarray,
    *,
    float32_splits: bool,
    extra: list[Any] | None = None,
) -> Any:
    """The graph of a tree ensemble whose output is, per row and tree, the (global) index of
    the leaf the row reaches; ``leaf_values`` (one row per leaf, in that order) travel in the
    file for :class:`CompiledModel` to sum exactly. The file stays a standard ONNX model of
    the leaf indices, which ONNX Runtime runs alike (the tests check it)."""
    from onnx import AttributeProto, TensorProto, helper, numpy_helper

    attrs: dict[str, list[np.ndarray]] = {
        k: []
        for k in (
            "nodes_treeids",
            "nodes_nodeids",
            "nodes_featureids",
            "nodes_truenodeids",
            "nodes_falsenodeids",
            "nodes_missing_value_tracks_true",
            "target_treeids",
            "target_nodeids",
            "target_ids",
        )
    }
    thresholds: list[np.ndarray] = []
    leaf_flags: list[np.ndarray] = []
    n_leaves = 0
    for index, tree in enumerate(trees):
        is_leaf = tree.is_leaf
        leaves = np.flatnonzero(is_leaf)
        attrs["nodes_treeids"].append(np.full(len(is_leaf), index))
        attrs["nodes_nodeids"].append(np.arange(len(is_leaf)))
        attrs["nodes_featureids"].append(np.where(is_leaf, 0, tree.feature))
        attrs["nodes_truenodeids"].append(np.where(is_leaf, 0, tree.left))
        attrs["nodes_falsenodeids"].append(np.where(is_leaf, 0, tree.right))
        attrs["nodes_missing_value_tracks_true"].append(np.where(is_leaf, 0, tree.missing_left))
        thresholds.append(np.where(is_leaf, 0.0, tree.threshold))
        leaf_flags.append(is_leaf)
        # Each tree is its own target, and each leaf votes its (global) index into it.
        attrs["target_treeids"].append(np.full(len(leaves), index))
        attrs["target_nodeids"].append(leaves)
        attrs["target_ids"].append(np.full(len(leaves), index))
        n_leaves += len(leaves)
    if n_leaves >= 2**24 or n_leaves != len(leaf_values):
        raise NotCompilable("Not compiled: the ensemble has too many leaves to index.")
    exact = np.concatenate(thresholds)
    if float32_splits:
        # scikit-learn's trees compare float32(x) <= threshold (float64). For a float32 value
        # v that holds exactly when v <= the largest float32 not above the threshold, so the
        # ensemble runs in float32 (12-byte nodes for the walk) and splits alike.
        split_values = exact.astype(np.float32)
        above = split_values.astype(np.float64) > exact
        split_values[above] = np.nextafter(split_values[above], np.float32(-np.inf))
        splits = _list_attribute("nodes_values", AttributeProto.FLOATS, split_values.tolist())
        cast = TensorProto.FLOAT
    else:
        tensor = numpy_helper.from_array(exact, "splits")
        splits = helper.make_attribute("nodes_values_as_tensor", tensor)
        cast = TensorProto.DOUBLE
    ensemble = helper.make_node(
        "TreeEnsembleRegressor",
        ["ensemble_input"],
        [kind],
        domain="ai.onnx.ml",
        n_targets=len(trees),
        aggregate_function="SUM",
    )
    modes = np.where(np.concatenate(leaf_flags), b"LEAF", b"BRANCH_LEQ").tolist()
    weights = np.arange(n_leaves, dtype=np.float64).tolist()
    ensemble.attribute.extend(
        [
            _list_attribute("nodes_modes", AttributeProto.STRINGS, modes),
            _list_attribute("target_weights", AttributeProto.FLOATS, weights),
            splits,
            *(
                _list_attribute(k, AttributeProto.INTS, np.concatenate(parts).tolist())
                for k, parts in attrs.items()
            ),
        ]
    )
    # The leaf values travel in the file as initializers no node reads: CompiledModel takes
    # them out with the ensemble and sums them in float64 as it walks the trees.
    initializers = [numpy_helper.from_array(leaf_values, LEAF_VALUES), *(extra or [])]
    nodes = [helper.make_node("Cast", ["features"], ["ensemble_input"], to=cast), ensemble]
    outputs = [helper.make_tensor_value_info(kind, TensorProto.FLOAT, [None, len(trees)])]
    opsets = {"": _ONNX_OPSET, "ai.onnx.ml": _ML_OPSET}
    if preprocess is None:
        inputs = [helper.make_tensor_value_info("X", TensorProto.DOUBLE, [None, n_features])]
        nodes.insert(0, helper.make_node("Identity", ["X"], ["features"]))
        graph = helper.make_graph(nodes, kind, inputs, outputs, initializer=initializers)
    else:
        graph = preprocess.graph
        (produced,) = [o.name for o in graph.output]
        nodes.insert(0, helper.make_node("Identity", [produced], ["features"]))
        graph.node.extend(nodes)
        graph.initializer.extend(initializers)
        del graph.output[:]
        graph.output.extend(outputs)
        for opset in preprocess.opset_import:
            opsets[opset.domain] = max(opsets.get(opset.domain, 0), opset.version)
    return helper.make_model(
        graph, opset_imports=[helper.make_opsetid(d, v) for d, v in opsets.items()]
    )


def _list_attribute(name: str, kind: int, values: list) -> Any:
    """An ONNX list attribute built directly: ``helper.make_attribute`` inspects every
    element in Python, which took a second for a 200-tree forest's half a million nodes."""
    from onnx import AttributeProto

    attribute = AttributeProto(name=name, type=kind)
    field = {
        AttributeProto.INTS: attribute.ints,
        AttributeProto.FLOATS: attribute.floats,
        AttributeProto.STRINGS: attribute.strings,
    }[kind]
    field.extend(values)
    return attribute


def _verify(
    model: Any, compiled: CompiledModel, rows: pd.DataFrame, output: Mapping[str, Any]
) -> None:
    """Refuse a compilation that does not reproduce ``model`` on ``rows``."""
    from .artifacts import sklearn_outputs

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
    from .artifacts import wants_probabilities

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
    from .artifacts import wants_probabilities

    values, proba = compiled.run(X)
    if _has_nan(values) or (proba is not None and np.isnan(proba).any()):
        # A model without imputation yields NaN where scikit-learn would refuse the row.
        raise Invalid(
            "The model cannot predict rows with missing values (it was trained without "
            "imputation); fill them in or train with the engine's preprocessing."
        )
    final = _final(model)
    if isinstance(final, _BOOSTING):
        return _boosting_outputs(final, values, output)
    if not is_classifier(final):
        return values, None
    classes = final.classes_
    labels = np.asarray(values).astype(classes.dtype, copy=False)
    if proba is None or not wants_probabilities(final, output):
        return labels, None
    if isinstance(final, _FORESTS):
        # scikit-learn's own rule for forests, first class on ties; the converter's label
        # output may break exact ties the other way.
        return classes.take(np.argmax(proba, axis=1)), proba
    return labels, proba
