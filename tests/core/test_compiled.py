"""The compiled (ONNX Runtime) serving path reproduces scikit-learn, or is not used."""

from __future__ import annotations

import sys

import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import make_classification, make_regression
from sklearn.ensemble import (
    ExtraTreesRegressor,
    RandomForestClassifier,
    RandomForestRegressor,
)
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.neighbors import KNeighborsClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.tree import DecisionTreeClassifier

from astralytiq_jupyter.core import compiled, onnx_conversion
from astralytiq_jupyter.core.config import StoreConfig
from astralytiq_jupyter.core.errors import Invalid
from astralytiq_jupyter.core.permissions import Role
from astralytiq_jupyter.core.serving import predict_frame
from astralytiq_jupyter.core.store import Store

from ..conftest import principal_for

N_FEATURES = 6
SIGNATURE = [{"name": f"f{i}", "dtype": "float64"} for i in range(N_FEATURES)]


def _frame(X: np.ndarray) -> pd.DataFrame:
    return pd.DataFrame(X, columns=[c["name"] for c in SIGNATURE])


def _classification(classes: int = 2) -> tuple[pd.DataFrame, np.ndarray]:
    X, y = make_classification(
        n_samples=600, n_features=N_FEATURES, n_informative=4, n_classes=classes, random_state=0
    )
    return _frame(X), y


CLASSIFIERS = {
    "logreg": lambda: make_pipeline(StandardScaler(), LogisticRegression()),
    "forest_even_trees": lambda: RandomForestClassifier(n_estimators=10, random_state=0),
    "tree": lambda: DecisionTreeClassifier(max_depth=6, random_state=0),
}


@pytest.mark.parametrize("name", sorted(CLASSIFIERS))
@pytest.mark.parametrize("classes", [2, 3])
def test_classifiers_match_scikit_learn(name: str, classes: int) -> None:
    X, y = _classification(classes)
    model = CLASSIFIERS[name]().fit(X[:400], y[:400])
    output = {"kind": "classification", "classes": sorted(set(y.tolist()))}
    result = compiled.compile_model(model, SIGNATURE, output, X[:200])
    assert result.runtime == "onnx", result.note
    runtime = compiled.CompiledModel(result.data, SIGNATURE)
    fresh = X[400:]
    expected = predict_frame(model, fresh, SIGNATURE, output)
    got = predict_frame(model, fresh, SIGNATURE, output, runtime)
    assert list(got.columns) == list(expected.columns)
    assert (got["prediction"] == expected["prediction"]).all()
    np.testing.assert_allclose(got.iloc[:, 1:], expected.iloc[:, 1:], rtol=0, atol=1e-12)


def test_forest_ties_are_broken_like_scikit_learn() -> None:
    # Two fully grown trees disagree on many rows: probabilities of exactly 0.5 each, which
    # scikit-learn resolves to the first class. Float32 leaf sums would break them at random.
    X, y = _classification(2)
    model = RandomForestClassifier(n_estimators=2, random_state=3).fit(X[:300], y[:300])
    output = {"kind": "classification", "classes": [0, 1]}
    runtime = compiled.CompiledModel(
        compiled.compile_model(model, SIGNATURE, output, X[:100]).data, SIGNATURE
    )
    fresh = X[300:]
    proba = model.predict_proba(fresh)
    assert (proba[:, 0] == 0.5).sum() > 5, "the data must contain ties"
    got = predict_frame(model, fresh, SIGNATURE, output, runtime)
    assert (got["prediction"].to_numpy() == model.predict(fresh)).all()
    assert (got["proba_0"].to_numpy() == proba[:, 0]).all()


def test_split_thresholds_are_exact_at_float32_boundaries() -> None:
    # Inputs just around every split threshold: scikit-learn rounds X to float32 before it
    # compares against float64 thresholds; the compiled forest must send each row the same way.
    X, y = _classification(2)
    model = DecisionTreeClassifier(random_state=0).fit(X, y)
    tree = model.tree_
    rows = []
    for node in np.flatnonzero(tree.children_left != -1):
        t = tree.threshold[node]
        for value in (
            t,
            np.nextafter(t, np.inf),
            np.nextafter(t, -np.inf),
            float(np.float32(t)),
            float(np.nextafter(np.float32(t), np.float32(np.inf))),
        ):
            row = X.iloc[node % len(X)].to_numpy().copy()
            row[tree.feature[node]] = value
            rows.append(row)
    edge = _frame(np.array(rows))
    output = {"kind": "classification", "classes": [0, 1]}
    runtime = compiled.CompiledModel(
        compiled.compile_model(model, SIGNATURE, output, X[:100]).data, SIGNATURE
    )
    got = predict_frame(model, edge, SIGNATURE, output, runtime)
    assert (got["prediction"].to_numpy() == model.predict(edge)).all()
    np.testing.assert_array_equal(got["proba_1"].to_numpy(), model.predict_proba(edge)[:, 1])


@pytest.mark.parametrize(
    "make",
    [
        lambda: RandomForestRegressor(n_estimators=8, random_state=0),
        lambda: ExtraTreesRegressor(n_estimators=8, random_state=0),
        lambda: make_pipeline(StandardScaler(), Ridge()),
    ],
)
def test_regressors_match_scikit_learn(make) -> None:
    X, y = make_regression(n_samples=500, n_features=N_FEATURES, random_state=0)
    X = _frame(X)
    model = make().fit(X[:400], y[:400])
    output = {"kind": "regression"}
    result = compiled.compile_model(model, SIGNATURE, output)  # synthesised examples
    assert result.runtime == "onnx", result.note
    runtime = compiled.CompiledModel(result.data, SIGNATURE)
    got = predict_frame(model, X[400:], SIGNATURE, output, runtime)
    np.testing.assert_allclose(got["prediction"], model.predict(X[400:]), rtol=1e-12)


def test_missing_values_take_scikit_learns_side_of_each_split() -> None:
    X, y = _classification(2)
    X = X.copy()
    X.iloc[::4, 0] = np.nan  # scikit-learn's forests learn where missing values go
    model = RandomForestClassifier(n_estimators=6, random_state=0).fit(X[:400], y[:400])
    output = {"kind": "classification", "classes": [0, 1]}
    result = compiled.compile_model(model, SIGNATURE, output, X[:200])
    assert result.runtime == "onnx", result.note
    runtime = compiled.CompiledModel(result.data, SIGNATURE)
    fresh = X[400:]
    got = predict_frame(model, fresh, SIGNATURE, output, runtime)
    assert (got["prediction"].to_numpy() == model.predict(fresh)).all()


def test_unsupported_models_stay_on_scikit_learn_with_a_reason() -> None:
    X, y = _classification(2)
    knn = KNeighborsClassifier().fit(X, y)
    result = compiled.compile_model(knn, SIGNATURE, {"kind": "classification"})
    assert result.runtime == "sklearn" and result.data is None
    assert "KNeighborsClassifier" in result.note
    dated = [*SIGNATURE, {"name": "when", "dtype": "datetime64[ns]"}]
    result = compiled.compile_model(
        LogisticRegression().fit(X, y), dated, {"kind": "classification"}
    )
    assert result.runtime == "sklearn" and "non-numeric inputs" in result.note


def test_a_disagreeing_compilation_is_refused() -> None:
    X, y = _classification(2)
    model = LogisticRegression().fit(X, y)
    other = LogisticRegression(C=1e-4).fit(X, 1 - y)
    data = compiled.compile_model(other, SIGNATURE, {"kind": "classification"}, X[:50]).data
    with pytest.raises(compiled.NotCompilable, match="differ"):
        compiled._verify(
            model, compiled.CompiledModel(data, SIGNATURE), X[:50], {"kind": "classification"}
        )


def test_registered_versions_are_served_compiled(store) -> None:
    owner = principal_for(store, "acme", "ana", Role.ADMIN)
    X, y = _classification(2)
    model = RandomForestClassifier(n_estimators=5, random_state=0).fit(X, y)
    output = {"kind": "classification", "classes": [0, 1]}
    version = store.models.register(
        owner,
        "churn",
        model,
        task="classification",
        algorithm="random_forest",
        signature=SIGNATURE,
        output=output,
        input_example=X[:100],
    )
    assert version.runtime == "onnx"
    assert "verified on 100 example rows" in version.runtime_note
    assert store.models.runtime_of(owner, "churn") is None  # not resolved in this process yet
    serving = store.models.serving(owner, "churn")
    assert store.models.runtime_of(owner, "churn") == "onnx"
    assert serving.compiled is not None
    expected = predict_frame(model, X, SIGNATURE, output)
    pd.testing.assert_frame_equal(store.models.predict(owner, "churn", X), expected)
    records = store.models.predict_records(owner, "churn", X.to_dict(orient="records"))
    assert [r["prediction"] for r in records] == expected["prediction"].tolist()
    # Not plain numbers: the full path validates (and explains) instead.
    assert store.models.predict_records(owner, "churn", [{"f0": "x"}]) is None

    with store.session() as session:
        from astralytiq_jupyter.core.models import ModelVersionRecord

        row = session.query(ModelVersionRecord).one()
        compiled_key, compiled_bytes = row.compiled_key, row.compiled_bytes
    assert compiled_key.rsplit("/", 1)[1].startswith("1-") and compiled_key.endswith(".onnx")
    assert compiled_bytes > 0
    assert store.storage.exists(compiled_key)

    # A tampered compiled file is refused, like a tampered artifact.
    store.models._compiled = type(store.models._compiled)()
    with open(store.storage.path(compiled_key), "wb") as f:
        f.write(b"not the compiled model")
    with pytest.raises(Invalid, match="compiled model file is corrupted"):
        store.models.predict(owner, "churn", X)

    store.models.delete(owner, "churn")
    assert not store.storage.exists(compiled_key)


def test_compilation_can_be_turned_off(store_config) -> None:
    config = StoreConfig(**{**store_config.__dict__, "compile_models": False})
    with Store(config) as store:
        _register_plain(store)


def _register_plain(store: Store) -> None:
    owner = principal_for(store, "acme", "ana", Role.ADMIN)
    X, y = _classification(2)
    version = store.models.register(
        owner,
        "plain",
        LogisticRegression().fit(X, y),
        task="classification",
        algorithm="logistic_regression",
        signature=SIGNATURE,
    )
    assert version.runtime == "sklearn" and "off" in version.runtime_note
    assert store.models.serving(owner, "plain").compiled is None
    assert store.models.runtime_of(owner, "plain") == "sklearn"


def test_date_parts_compile_exactly() -> None:
    from sklearn.compose import ColumnTransformer
    from sklearn.pipeline import Pipeline

    from astralytiq_jupyter.core.preprocessing import DateParts

    stamps = pd.Series(
        pd.to_datetime(
            [
                "1969-12-31 23:59:59",
                "1970-01-01 00:00:00",
                "1900-02-28 06:30:00",
                "2000-02-29 12:00:00",
                "2024-12-31 23:59:00",
                "2300-03-01 00:01:00",
                "1601-01-01 00:00:00",
                None,
            ]
        ).as_unit("us")
    )
    frame = pd.DataFrame({"when": stamps})
    signature = [{"name": "when", "dtype": "datetime64[us]", "kind": "datetime"}]
    parts = ColumnTransformer([("d", Pipeline([("parts", DateParts())]), ["when"])]).fit(frame)
    onnx_conversion._register_date_parts()
    from skl2onnx.common.data_types import DoubleTensorType

    onx = onnx_conversion._to_onnx(parts, [("when", DoubleTensorType([None, 1]))])
    onx.metadata_props.add(key=compiled.FORMAT_KEY, value=compiled.FORMAT)
    runtime = compiled.CompiledModel(onx.SerializeToString(), signature)
    got = runtime.session.run(None, runtime.feed(frame))[0]
    np.testing.assert_array_equal(got, parts.transform(frame))


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")  # short fits
def test_neural_networks_match_scikit_learn_on_rows_far_from_the_examples() -> None:
    from sklearn.compose import TransformedTargetRegressor
    from sklearn.neural_network import MLPClassifier, MLPRegressor
    from sklearn.preprocessing import QuantileTransformer

    X, y = _classification(3)
    network = MLPClassifier(hidden_layer_sizes=(32, 16), max_iter=300, random_state=0)
    model = make_pipeline(StandardScaler(), network).fit(X, y)
    output = {"kind": "classification", "classes": [0, 1, 2]}
    runtime = compiled.CompiledModel(
        compiled.compile_model(model, SIGNATURE, output, X[:100]).data, SIGNATURE
    )
    rng = np.random.default_rng(7)
    far = pd.DataFrame(rng.normal(scale=5, size=(20_000, len(SIGNATURE))), columns=X.columns)
    got = predict_frame(model, far, SIGNATURE, output, runtime)
    assert (got["prediction"].to_numpy() == model.predict(far)).all()
    np.testing.assert_allclose(got.iloc[:, 1:].to_numpy(), model.predict_proba(far), atol=1e-13)

    target = X.to_numpy() @ np.arange(1.0, len(SIGNATURE) + 1) * 100 + 5_000
    scaled = TransformedTargetRegressor(
        MLPRegressor(hidden_layer_sizes=(16,), max_iter=500, random_state=0),
        transformer=StandardScaler(),
    )
    plain = TransformedTargetRegressor(Ridge())  # no transformer: the target as it is
    for regressor, compiles in ((scaled, True), (MLPRegressor(max_iter=50), True), (plain, True)):
        model = make_pipeline(StandardScaler(), regressor).fit(X, target)
        result = compiled.compile_model(model, SIGNATURE, {"kind": "regression"}, X[:100])
        assert result.runtime == ("onnx" if compiles else "sklearn"), result.note
        runtime = compiled.CompiledModel(result.data, SIGNATURE)
        got = predict_frame(model, far, SIGNATURE, {"kind": "regression"}, runtime)
        np.testing.assert_allclose(got["prediction"], model.predict(far), rtol=1e-11, atol=1e-9)
    for refused, why in (
        (
            TransformedTargetRegressor(Ridge(), transformer=QuantileTransformer(n_quantiles=50)),
            "transformed otherwise than by scaling",
        ),
        (
            TransformedTargetRegressor(
                RandomForestRegressor(n_estimators=3), transformer=StandardScaler()
            ),
            "tree ensembles of a scaled target",
        ),
    ):
        model = make_pipeline(StandardScaler(), refused).fit(X, target)
        result = compiled.compile_model(model, SIGNATURE, {"kind": "regression"}, X[:100])
        assert result.runtime == "sklearn" and why in result.note


def _gappy_sales(ws) -> pd.DataFrame:
    """The sample sales data with missing dates, counts and regions, saved as ``gappy``."""
    from astralytiq_jupyter.data import sample_path

    ws.datasets.ingest(sample_path(), "sales")
    frame = ws.datasets.load("sales")
    frame.loc[::9, "date"] = pd.NaT
    frame.loc[::7, "units"] = np.nan
    frame.loc[::5, "region"] = None
    ws.datasets.save(frame, "gappy")
    return frame


#: Small networks: the tests prove the conversion, not the fit.
SMALL = {"mlp": {"hidden_layer_sizes": [16], "max_iter": 40}}


def test_engine_models_with_dates_categories_and_gaps_are_compiled(ws) -> None:
    frame = _gappy_sales(ws)
    for task, target, algorithm in (
        ("classification", "channel", "logistic_regression"),
        ("classification", "channel", "random_forest"),
        ("classification", "channel", "hist_gradient_boosting"),
        ("classification", "channel", "mlp"),
        ("regression", "revenue", "random_forest"),
        ("regression", "revenue", "hist_gradient_boosting"),
        ("regression", "revenue", "mlp"),  # a scaled target: the scaler's inverse compiled
        ("classification", "channel", "decision_tree"),
        ("regression", "revenue", "decision_tree"),
        ("regression", "revenue", "elastic_net"),
    ):
        result = ws.train(
            "gappy", target=target, algorithms=[algorithm], task=task, cv_folds=2, params=SMALL
        )
        version = ws.models.register(f"{target}-{algorithm}".replace("_", "-"), result)
        assert version.runtime == "onnx", version.runtime_note
        expected = predict_frame(result.model, frame, result.signature, result.output)
        got = ws.models.predict(version.ref, frame)
        if task == "classification":
            assert (got["prediction"] == expected["prediction"]).all()
            np.testing.assert_allclose(got.iloc[:, 1:], expected.iloc[:, 1:], atol=1e-12)
        else:
            np.testing.assert_allclose(got["prediction"], expected["prediction"], rtol=1e-12)


def test_engine_models_outside_the_compiled_runtime_say_why(ws) -> None:
    """Naive Bayes, linear discriminant, classic gradient boosting and the voting ensemble are
    not proven exact compiled: scikit-learn serves them, and the note names the estimator."""
    _gappy_sales(ws)
    small = {"gradient_boosting": {"n_estimators": 10}, "voting": {"members": ["ridge", "lasso"]}}
    for task, target, algorithm, estimator in (
        ("classification", "channel", "naive_bayes", "GaussianNB"),
        ("classification", "channel", "linear_discriminant", "LinearDiscriminantAnalysis"),
        ("classification", "channel", "gradient_boosting", "GradientBoostingClassifier"),
        ("regression", "revenue", "voting", "VotingRegressor"),
    ):
        result = ws.train(
            "gappy", target=target, algorithms=[algorithm], task=task, cv_folds=2, params=small
        )
        compilation = compiled.compile_model(result.model, result.signature, result.output)
        assert compilation.runtime == "sklearn" and compilation.data is None
        assert compilation.note.startswith(f"Not compiled: {estimator} is served by scikit-learn")


def _fast_if_same(ws, ref: str, records: list[dict]) -> list[dict] | None:
    """The JSON fast path's answer, checked against the validated path's on the same rows:
    equal when it answers; declining where the validated path refuses the rows."""
    fast = ws.backend.store.models.predict_records(ws.me, ref, records)
    try:
        slow = ws.models.predict(ref, pd.DataFrame.from_records(records))
    except Invalid:
        assert fast is None
        return None
    if fast is not None:
        assert fast == slow.to_dict(orient="records")
    return fast


def test_json_rows_of_engine_models_skip_the_frame_and_predict_alike(ws) -> None:
    """Rows as a client sends them (ISO dates, nulls, text) take the fast path on a model with
    dates, categories and gaps; anything that needs converting or is wrong takes the
    validated path, whose answers the fast path's always equal."""
    import json

    frame = _gappy_sales(ws)
    for algorithm in ("logistic_regression", "random_forest"):
        result = ws.train("gappy", target="channel", algorithms=[algorithm], cv_folds=2)
        ref = ws.models.register(algorithm.replace("_", "-"), result).ref
        rows = json.loads(
            frame.drop(columns="channel").head(300).to_json(orient="records", date_format="iso")
        )
        assert _fast_if_same(ws, ref, rows) is not None  # typical JSON: the fast path
        first = rows[1]
        assert first["date"].startswith("20") and isinstance(first["units"], float)
        variants = {
            "a date without time": ({"date": first["date"][:10]}, True),
            "a date with an offset": ({"date": first["date"][:19] + "+02:00"}, True),
            "an unseen category": ({"region": "Mars"}, True),
            "an empty category": ({"region": ""}, True),
            "a float count": ({"units": 2.5}, True),
            "an integer count": ({"units": 3}, True),
            "a missing count": ({"units": None}, True),
            "a number as text": ({"units": "12"}, False),
            "a boolean count": ({"units": True}, False),
            "a date that is not one": ({"date": "someday"}, False),
            "a number as category": ({"region": 7}, False),
        }
        for what, (change, fast) in variants.items():
            answer = _fast_if_same(ws, ref, [{**first, **change}, {**rows[2], **change}])
            assert (answer is not None) == fast, what
        assert _fast_if_same(ws, ref, [{k: v for k, v in first.items() if k != "units"}]) is None


@pytest.mark.parametrize("handle_unknown", ["infrequent_if_exist", "ignore", "error"])
def test_unknown_categories_follow_the_encoder_on_both_runtimes(handle_unknown: str) -> None:
    """A category unseen in training is all zeros where the encoder allows it (the engine's
    encoders do) and a clear error where it refuses it, compiled or not."""
    from sklearn.compose import ColumnTransformer
    from sklearn.preprocessing import OneHotEncoder

    rng = np.random.default_rng(0)
    X = pd.DataFrame({"c": rng.choice(list("abc"), 200), "x": rng.normal(size=200)})
    y = ((X["c"] == "a") ^ (X["x"] > 0)).astype(int)
    encoder = OneHotEncoder(handle_unknown=handle_unknown, sparse_output=False)
    columns = ColumnTransformer([("c", encoder, ["c"]), ("x", StandardScaler(), ["x"])])
    model = make_pipeline(columns, RandomForestClassifier(n_estimators=5, random_state=0))
    model.fit(X, y)
    signature = [
        {"name": "c", "dtype": "str", "kind": "categorical"},
        {"name": "x", "dtype": "float64", "kind": "numeric"},
    ]
    output = {"kind": "classification", "classes": [0, 1]}
    compilation = compiled.compile_model(model, signature, output, X[:50])
    runtime = compiled.CompiledModel(compilation.data, signature)
    unseen = pd.DataFrame({"c": ["zz", "a", "b"], "x": [0.3, -0.2, 1.5]})
    if handle_unknown == "error":
        with pytest.raises(Invalid, match="category it was not trained on"):
            predict_frame(model, unseen, signature, output, runtime)
        with pytest.raises(Invalid, match="unknown categories"):
            predict_frame(model, unseen, signature, output)
    else:
        pd.testing.assert_frame_equal(
            predict_frame(model, unseen, signature, output, runtime),
            predict_frame(model, unseen, signature, output),
        )


def test_missing_values_a_model_cannot_take_are_a_clear_error_on_both_runtimes() -> None:
    X, y = _classification(2)
    model = LogisticRegression().fit(X, y)
    output = {"kind": "classification", "classes": [0, 1]}
    runtime = compiled.CompiledModel(
        compiled.compile_model(model, SIGNATURE, output, X[:50]).data, SIGNATURE
    )
    gaps = X.head(3).copy()
    gaps.iloc[1, 2] = np.nan
    with pytest.raises(Invalid, match="missing values"):
        predict_frame(model, gaps, SIGNATURE, output, runtime)
    with pytest.raises(Invalid, match="cannot predict these rows"):
        predict_frame(model, gaps, SIGNATURE, output)


def test_a_compiled_file_of_another_format_is_served_by_scikit_learn(store) -> None:
    import hashlib

    import onnx

    from astralytiq_jupyter.core.models import ModelVersionRecord

    owner = principal_for(store, "acme", "ana", Role.ADMIN)
    X, y = _classification(2)
    model = LogisticRegression().fit(X, y)
    output = {"kind": "classification", "classes": [0, 1]}
    store.models.register(
        owner,
        "old",
        model,
        task="classification",
        algorithm="logistic_regression",
        signature=SIGNATURE,
        output=output,
    )
    with store.transaction() as session:
        row = session.query(ModelVersionRecord).one()
        with open(store.storage.path(row.compiled_key), "rb") as f:
            graph = onnx.load_model_from_string(f.read())
        del graph.metadata_props[:]  # as an older release wrote it
        data = graph.SerializeToString()
        with open(store.storage.path(row.compiled_key), "wb") as f:
            f.write(data)
        row.compiled_sha256 = hashlib.sha256(data).hexdigest()
    with pytest.raises(compiled.NotCompilable, match="format"):
        compiled.CompiledModel(data, SIGNATURE)
    fresh = type(store.models)(store)
    assert fresh.serving(owner, "old").compiled is None
    pd.testing.assert_frame_equal(
        fresh.predict(owner, "old", X), predict_frame(model, X, SIGNATURE, output)
    )


def test_forests_split_large_batches_over_threads_alike(monkeypatch) -> None:
    from astralytiq_jupyter.core import trees

    monkeypatch.setattr(trees, "PARALLEL_WORK", 1_000)
    monkeypatch.setattr(trees, "_cpus", lambda: 3)
    X, y = _classification(3)
    model = RandomForestClassifier(n_estimators=7, random_state=0).fit(X, y)
    output = {"kind": "classification", "classes": [0, 1, 2]}
    runtime = compiled.CompiledModel(
        compiled.compile_model(model, SIGNATURE, output, X[:50]).data, SIGNATURE
    )
    many = pd.concat([X] * 3, ignore_index=True)  # 1,800 rows in three chunks
    got = predict_frame(model, many, SIGNATURE, output, runtime)
    np.testing.assert_array_equal(got.iloc[:, 1:].to_numpy(), model.predict_proba(many))
    assert (got["prediction"].to_numpy() == model.predict(many)).all()
    assert runtime.run(many.to_numpy()[:0])[1].shape == (0, 3)


def test_versions_registered_without_compiling_are_compiled_later(store_config, capsys) -> None:
    """The upgrade path: versions served by scikit-learn (compilation off, or registered by a
    release before it) get compiled by ``astralytiq models compile``, audited, on the
    examples of their training dataset."""
    from astralytiq_jupyter import cli

    off = StoreConfig(**{**store_config.__dict__, "compile_models": False})
    X, y = _classification(2)
    frame = X.assign(label=y)
    with Store(off) as store:
        owner = principal_for(store, "acme", "ana", Role.ADMIN)
        store.datasets.save(owner, frame, "training")
        version = store.models.register(
            owner,
            "legacy",
            RandomForestClassifier(n_estimators=5, random_state=0).fit(X, y),
            task="classification",
            algorithm="random_forest",
            signature=SIGNATURE,
            output={"kind": "classification", "classes": [0, 1]},
            dataset="training",
        )
        assert version.runtime == "sklearn"
        with pytest.raises(Exception, match="not allow"):
            viewer = principal_for(store, "acme", "vic", Role.VIEWER)
            store.models.compile(viewer, "legacy")
    args = ["--home", str(store_config.home)]
    if store_config.database_url:
        args += ["--database-url", store_config.database_url]
    assert cli.main([*args, "models", "compile"]) == 0
    out = capsys.readouterr().out
    assert "acme/legacy@1: onnx (Compiled to ONNX; verified on 600 example rows.)" in out
    with Store(store_config) as store:
        owner = principal_for(store, "acme", "ana", Role.ADMIN)
        assert store.models.get(owner, "legacy").runtime == "onnx"
        assert store.models.serving(owner, "legacy").compiled is not None
        events = store.audit.list(owner, action="model.compile")
        outcomes = sorted((e.actor, e.outcome, e.detail.get("runtime")) for e in events)
        assert outcomes[0] == ("astralytiq-cli", "ok", "onnx")
        assert outcomes[1][:2] == ("vic", "denied")
    assert cli.main([*args, "models", "compile"]) == 0  # nothing left to do
    assert "0 version(s) examined" in capsys.readouterr().out

    # A compiled file of an older layout is served by scikit-learn until compiled again.
    import hashlib

    import onnx

    from astralytiq_jupyter.core.models import ModelVersionRecord

    with Store(store_config) as store, store.transaction() as session:
        row = session.query(ModelVersionRecord).one()
        path = store.storage.path(row.compiled_key)
        graph = onnx.load_model(path)
        graph.metadata_props[0].value = "astralytiq-compiled-1"
        data = graph.SerializeToString()
        with open(path, "wb") as f:
            f.write(data)
        row.compiled_sha256 = hashlib.sha256(data).hexdigest()
    assert cli.main([*args, "models", "compile"]) == 0
    assert "acme/legacy@1: onnx" in capsys.readouterr().out
    with Store(store_config) as store:
        owner = principal_for(store, "acme", "ana", Role.ADMIN)
        assert store.models.serving(owner, "legacy").compiled is not None


@pytest.mark.parametrize("classes", [2, 3])
def test_gradient_boosting_classifiers_match_to_the_bit(classes: int) -> None:
    from sklearn.ensemble import HistGradientBoostingClassifier

    X, y = _classification(classes)
    X = X.copy()
    X.iloc[::7, 1] = np.nan  # routed by each split's learned side, as scikit-learn does
    model = HistGradientBoostingClassifier(max_iter=30, random_state=0).fit(X[:450], y[:450])
    output = {"kind": "classification", "classes": list(range(classes))}
    result = compiled.compile_model(model, SIGNATURE, output, X[:100])
    assert result.runtime == "onnx", result.note
    runtime = compiled.CompiledModel(result.data, SIGNATURE)
    fresh = X[450:]
    got = predict_frame(model, fresh, SIGNATURE, output, runtime)
    np.testing.assert_array_equal(got.iloc[:, 1:].to_numpy(), model.predict_proba(fresh))
    assert (got["prediction"].to_numpy() == model.predict(fresh)).all()


@pytest.mark.parametrize("loss", ["squared_error", "poisson"])
def test_gradient_boosting_regressors_match_to_the_bit(loss: str) -> None:
    from sklearn.ensemble import HistGradientBoostingRegressor

    X, y = make_regression(n_samples=500, n_features=N_FEATURES, random_state=0)
    X = _frame(X)
    y = np.abs(y) if loss == "poisson" else y
    model = HistGradientBoostingRegressor(max_iter=30, loss=loss, random_state=0)
    model.fit(X[:400], y[:400])
    result = compiled.compile_model(model, SIGNATURE, {"kind": "regression"})
    assert result.runtime == "onnx", result.note
    runtime = compiled.CompiledModel(result.data, SIGNATURE)
    got = predict_frame(model, X[400:], SIGNATURE, {"kind": "regression"}, runtime)
    np.testing.assert_array_equal(got["prediction"].to_numpy(), model.predict(X[400:]))


def block_serving_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make this process look like a base install: importing any module of the ``serving``
    extra raises ImportError, as ``None`` in ``sys.modules`` makes it."""
    for name in (*compiled.SERVING_MODULES, "llvmlite"):
        monkeypatch.setitem(sys.modules, name, None)


def test_without_the_serving_extra_nothing_is_compiled_and_the_note_says_why(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    X, y = _classification(2)
    model = LogisticRegression().fit(X, y)
    block_serving_extra(monkeypatch)
    assert compiled.missing_modules() == list(compiled.SERVING_MODULES)
    result = compiled.compile_model(model, SIGNATURE, {"kind": "classification"}, X[:50])
    assert (result.data, result.runtime) == (None, "sklearn")
    assert result.note == (
        "Not compiled: compiled serving is not installed (missing onnx, onnxruntime, skl2onnx, "
        "numba), so scikit-learn serves this version: pip install 'astralytiq-jupyter[serving]'"
    )
    with pytest.raises(compiled.RuntimeUnavailable, match=r"astralytiq-jupyter\[serving\]"):
        compiled.require_runtime()


def test_versions_compiled_elsewhere_are_served_by_scikit_learn_without_the_extra(
    store, store_config, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    """A store shared with an install that has the extra: its compiled versions are served by
    scikit-learn here, say so, and are neither recompiled nor stripped of their file."""
    from astralytiq_jupyter import cli
    from astralytiq_jupyter.core.models import ModelVersionRecord

    owner = principal_for(store, "acme", "ana", Role.ADMIN)
    X, y = _classification(2)
    model = RandomForestClassifier(n_estimators=5, random_state=0).fit(X, y)
    output = {"kind": "classification", "classes": [0, 1]}
    registered = store.models.register(
        owner,
        "churn",
        model,
        task="classification",
        algorithm="random_forest",
        signature=SIGNATURE,
        output=output,
        input_example=X[:100],
    )
    assert registered.runtime == "onnx"

    block_serving_extra(monkeypatch)
    here = type(store.models)(store)  # a process that never loaded the compiled runtime
    version = here.get(owner, "churn")
    assert version.runtime == "sklearn"
    assert version.runtime_note.startswith(registered.runtime_note + " Here compiled serving")
    assert version.runtime_note.endswith("pip install 'astralytiq-jupyter[serving]'")
    assert here.serving(owner, "churn").compiled is None
    assert here.runtime_of(owner, "churn") == "sklearn"
    expected = predict_frame(model, X, SIGNATURE, output)
    pd.testing.assert_frame_equal(here.predict(owner, "churn", X), expected)
    assert here.predict_records(owner, "churn", X.to_dict(orient="records")) is None

    with pytest.raises(Invalid, match="compiled serving is not installed"):
        here.compile(owner, "churn@1")
    args = ["--home", str(store_config.home)]
    if store_config.database_url:
        args += ["--database-url", store_config.database_url]
    assert cli.main([*args, "models", "compile", "--all"]) == 1
    assert "pip install 'astralytiq-jupyter[serving]'" in capsys.readouterr().err
    with store.session() as session:
        row = session.query(ModelVersionRecord).one()
        assert (row.runtime, row.compiled_key is not None) == ("onnx", True)
        assert store.storage.exists(row.compiled_key)
