"""Conversion of a fitted scikit-learn model to ONNX: which estimators and transformers
convert exactly, the converters registered for the engine's own transformers, and the tree
ensembles rewritten so that their float64 leaf values reach :mod:`.trees` intact.

The compiled file this writes (format :data:`FORMAT`) is what :mod:`.compiled` loads, verifies
and runs. Like that module, this one imports onnx and skl2onnx only inside functions, once
:func:`.compiled.require_runtime` has found them installed.
"""

from __future__ import annotations

import functools
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
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

from .preprocessing import DateParts, column_kind

#: Estimators whose conversion is verified to reproduce scikit-learn. The converter knows more,
#: but others (k-NN ties, classic gradient boosting, SVMs computed in float32) can differ from
#: scikit-learn on rows the examples do not cover. Networks run in float64 here: measured on
#: 200,000 random rows, probabilities within 2.2e-16 of scikit-learn's and no label differs.
FORESTS: tuple[type, ...] = (
    RandomForestClassifier,
    RandomForestRegressor,
    ExtraTreesClassifier,
    ExtraTreesRegressor,
    DecisionTreeClassifier,
    DecisionTreeRegressor,
)
BOOSTING: tuple[type, ...] = (HistGradientBoostingClassifier, HistGradientBoostingRegressor)
COMPILABLE_ESTIMATORS: tuple[type, ...] = (
    *BOOSTING,
    LogisticRegression,
    LinearRegression,
    Ridge,
    RidgeClassifier,
    Lasso,
    ElasticNet,
    MLPClassifier,
    MLPRegressor,
    *FORESTS,
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
_ONNX_OPSET = 18
_ML_OPSET = 3


class NotCompilable(Exception):
    """The model cannot be served by the compiled runtime; the message says why."""


def _steps(model: Any) -> list[Any]:
    """Every estimator inside ``model`` (pipelines and column transformers opened)."""
    if isinstance(model, Pipeline):
        return [model, *(s for _, step in model.steps for s in _steps(step))]
    if isinstance(model, ColumnTransformer):
        inner = [t for _, t, _ in model.transformers_ if not isinstance(t, str)]
        return [model, *(s for t in inner for s in _steps(t))]
    return [model]


def final_estimator(model: Any) -> Any:
    return model.steps[-1][1] if isinstance(model, Pipeline) else model


def _check_supported(model: Any) -> None:
    final = final_estimator(model)
    if isinstance(final, TransformedTargetRegressor):
        if not isinstance(final.transformer_, StandardScaler) and not _identity(final.transformer_):
            raise NotCompilable("Not compiled: a target transformed otherwise than by scaling.")
        if isinstance(final.regressor_, (*FORESTS, *BOOSTING)):
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
    from seconds since the epoch (:meth:`~.compiled.CompiledModel.feed` sends dates so), by the
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
    no NaN, so :meth:`~.compiled.CompiledModel.feed` sends missing categories as ""."""
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


def convert(model: Any, signature: Sequence[Mapping[str, Any]]) -> bytes:
    from skl2onnx.common.data_types import DoubleTensorType, StringTensorType

    _check_supported(model)
    _register_double_imputer()
    _register_date_parts()
    model = _with_string_missing_values(model)
    target_scaler = None
    if isinstance(final_estimator(model), TransformedTargetRegressor):
        # The regressor's predictions, then the target scaler's inverse as nodes after it.
        target_scaler = final_estimator(model).transformer_
        model = _withfinal_estimator(model, final_estimator(model).regressor_)
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
    final = final_estimator(model)
    if isinstance(final, (*FORESTS, *BOOSTING)):
        preprocess: Any = None
        if isinstance(model, Pipeline) and len(model.steps) > 1:
            preprocess = _to_onnx(model[:-1], initial_types)
        build = _forest_graph if isinstance(final, FORESTS) else _boosting_graph
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


def _withfinal_estimator(model: Any, estimator: Any) -> Any:
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
        # None, or all refuse them: CompiledModel.run reports ONNX Runtime's refusal.
        return
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
    file for :class:`~.compiled.CompiledModel` to sum exactly. The file stays a standard ONNX
    model of the leaf indices, which ONNX Runtime runs alike (the tests check it)."""
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
