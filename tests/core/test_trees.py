"""The tree walk behind compiled forests and boosting: it finds the leaves ONNX Runtime finds
for the same ensemble, whatever the node order, and splits batches without changing a bit."""

from __future__ import annotations

import numpy as np
import onnxruntime as ort
import pytest
from sklearn.datasets import make_classification
from sklearn.ensemble import HistGradientBoostingRegressor, RandomForestClassifier

from astralytiq_jupyter.core import compiled, onnx_conversion, trees


def _ensemble_node(model: object, n_features: int) -> tuple[object, np.ndarray]:
    graph = (
        onnx_conversion._boosting_graph(None, model, n_features)
        if isinstance(model, HistGradientBoostingRegressor)
        else onnx_conversion._forest_graph(None, model, n_features)
    )
    (node,) = [n for n in graph.graph.node if n.op_type == "TreeEnsembleRegressor"]
    (values,) = [i for i in graph.graph.initializer if i.name == compiled.LEAF_VALUES]
    from onnx import numpy_helper

    return graph, node, numpy_helper.to_array(values)


def _onnx_leaves(graph: object, X: np.ndarray) -> np.ndarray:
    """The leaf index ONNX Runtime finds per row and tree (the ensemble's own output)."""
    graph.graph.initializer.pop()  # the leaf values no node reads
    session = ort.InferenceSession(graph.SerializeToString(), providers=["CPUExecutionProvider"])
    return session.run(None, {"X": X})[0].astype(np.int64)


@pytest.mark.parametrize("kind", ["forest", "boosting"])
def test_the_walk_reaches_the_leaves_onnx_runtime_reaches(kind: str) -> None:
    """Each tree its own output column and each leaf worth its index: the sums are the leaf
    indices."""
    X, y = make_classification(n_samples=600, n_features=6, random_state=1)
    X[::17, 2] = np.nan  # missing values take each split's recorded side
    if kind == "forest":
        model = RandomForestClassifier(n_estimators=9, random_state=0).fit(X, y)
    else:
        model = HistGradientBoostingRegressor(max_iter=12, random_state=0).fit(X, y)
    graph, node, values = _ensemble_node(model, 6)
    indices = np.arange(len(values), dtype=np.float64)[:, np.newaxis]
    ensemble = trees.TreeEnsemble.from_onnx(node, indices, cycle=10**6)
    n_trees = ensemble.n_trees
    walked = ensemble.accumulate(X, np.zeros((len(X), n_trees)))
    np.testing.assert_array_equal(walked.astype(np.int64), _onnx_leaves(graph, X))


def _shuffle_nodes(node: object, seed: int) -> None:
    """Renumber each tree's nodes at random (the root stays first), as an ensemble written in
    another order than depth-first would be."""
    from onnx import helper

    attrs = {a.name: a for a in node.attribute}
    tree_ids = np.asarray(attrs["nodes_treeids"].ints)
    rng = np.random.default_rng(seed)
    new_id = np.empty(len(tree_ids), dtype=np.int64)  # by position: the node's new local id
    for tree in np.unique(tree_ids):
        where = np.flatnonzero(tree_ids == tree)
        new_id[where] = np.concatenate([[0], 1 + rng.permutation(len(where) - 1)])
    offsets = {int(t): int(np.flatnonzero(tree_ids == t)[0]) for t in np.unique(tree_ids)}
    local = lambda tree, old: new_id[offsets[int(tree)] + old]  # noqa: E731
    order = np.lexsort((new_id, tree_ids))  # positions sorted by (tree, new id)
    for name in ("nodes_truenodeids", "nodes_falsenodeids"):
        old = np.asarray(attrs[name].ints)
        mapped = [int(local(t, o)) for t, o in zip(tree_ids, old, strict=True)]
        attrs[name].CopyFrom(helper.make_attribute(name, [mapped[i] for i in order]))
    for name in ("nodes_featureids", "nodes_missing_value_tracks_true", "nodes_modes"):
        values = list(helper.get_attribute_value(attrs[name]))
        attrs[name].CopyFrom(helper.make_attribute(name, [values[i] for i in order]))
    thresholds = list(attrs["nodes_values"].floats)
    attrs["nodes_values"].CopyFrom(
        helper.make_attribute("nodes_values", [thresholds[i] for i in order])
    )
    target_trees = np.asarray(attrs["target_treeids"].ints)
    target_nodes = [int(local(t, n)) for t, n in zip(target_trees, attrs["target_nodeids"].ints)]
    attrs["target_nodeids"].CopyFrom(helper.make_attribute("target_nodeids", target_nodes))


def test_trees_stored_in_any_node_order_are_walked_alike() -> None:
    """scikit-learn stores trees depth-first; an ensemble numbered otherwise is reordered."""
    X, y = make_classification(n_samples=400, n_features=5, random_state=4)
    X[::13, 1] = np.nan
    model = RandomForestClassifier(n_estimators=5, random_state=0).fit(X, y)
    _, node, values = _ensemble_node(model, 5)
    expected = trees.TreeEnsemble.from_onnx(node, values).accumulate(X, np.zeros((400, 2)))
    (left,) = [a for a in node.attribute if a.name == "nodes_truenodeids"]
    before = list(left.ints)
    _shuffle_nodes(node, seed=0)
    assert list(left.ints) != before
    shuffled = trees.TreeEnsemble.from_onnx(node, values)
    np.testing.assert_array_equal(shuffled.accumulate(X, np.zeros((400, 2))), expected)
    np.testing.assert_array_equal(expected / 5, model.predict_proba(X))


def test_splitting_a_batch_over_threads_changes_nothing(monkeypatch) -> None:
    X, y = make_classification(n_samples=999, n_features=5, random_state=2)
    model = RandomForestClassifier(n_estimators=15, random_state=0).fit(X, y)
    _, node, values = _ensemble_node(model, 5)
    ensemble = trees.TreeEnsemble.from_onnx(node, values)
    start = np.zeros((len(X), ensemble.width))
    alone = ensemble.accumulate(X, start)
    monkeypatch.setattr(trees, "PARALLEL_WORK", 1)
    monkeypatch.setattr(trees, "_cpus", lambda: 4)
    split = ensemble.accumulate(X, start)
    np.testing.assert_array_equal(split, alone)
    np.testing.assert_array_equal(split / ensemble.n_trees, model.predict_proba(X))
    assert not start.any()  # the start values are copied, never written
    with pytest.raises(ValueError, match="Expected 5 input columns"):
        ensemble.accumulate(X[:, :4], start)  # the walk itself would read out of bounds
    with pytest.raises(ValueError, match="start values of shape"):
        ensemble.accumulate(X, start[:, :1])
    assert ensemble.accumulate(X[:0], start[:0]).shape == (0, 2)


def test_an_ensemble_laid_out_otherwise_is_refused() -> None:
    X, y = make_classification(n_samples=200, n_features=4, random_state=3)
    model = RandomForestClassifier(n_estimators=2, random_state=0).fit(X, y)
    _, node, values = _ensemble_node(model, 4)
    with pytest.raises(trees.UnsupportedEnsemble, match="leaves"):
        trees.TreeEnsemble.from_onnx(node, values[:3])
    (ids,) = [a for a in node.attribute if a.name == "target_ids"]
    ids.ints[0] = 1  # a leaf voting into another tree's output
    with pytest.raises(trees.UnsupportedEnsemble, match="one tree per target"):
        trees.TreeEnsemble.from_onnx(node, values)
    ids.ints[0] = 0
    (left,) = [a for a in node.attribute if a.name == "nodes_truenodeids"]
    left.ints[0] = 0  # the root its own child
    with pytest.raises(trees.UnsupportedEnsemble, match="do not form trees"):
        trees.TreeEnsemble.from_onnx(node, values)
    for attribute in list(node.attribute):
        if attribute.name == "nodes_modes":
            node.attribute.remove(attribute)
    with pytest.raises(trees.UnsupportedEnsemble, match="lacks"):
        trees.TreeEnsemble.from_onnx(node, values)


def test_without_a_writable_cache_the_walk_is_compiled_in_process(monkeypatch) -> None:
    """numba refuses ``cache=True`` where no cache directory is writable (a read-only
    install, no home): the kernels are then compiled in each process instead."""
    from numba.core import caching

    X, y = make_classification(n_samples=300, n_features=4, random_state=6)
    model = RandomForestClassifier(n_estimators=3, random_state=0).fit(X, y)
    _, node, values = _ensemble_node(model, 4)
    monkeypatch.setattr(caching.CacheImpl, "_locator_classes", [])
    trees._kernels.cache_clear()
    try:
        ensemble = trees.TreeEnsemble.from_onnx(node, values)
        summed = ensemble.accumulate(X, np.zeros((len(X), 2)))
        np.testing.assert_array_equal(summed / 3, model.predict_proba(X))
    finally:
        trees._kernels.cache_clear()  # the next caller gets the cached kernels again
