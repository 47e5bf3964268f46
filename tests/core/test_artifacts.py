"""skops artifacts: the trusted-type list covers every pipeline the engine builds, refusal of
untrusted types and tampered bytes, save/load round trips, and validated prediction."""

from __future__ import annotations

import hashlib
import os
import re

import numpy as np
import pandas as pd
import pytest
import skops.io as sio
from sklearn.base import BaseEstimator
from sklearn.datasets import load_breast_cancer, load_diabetes, load_iris
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import FunctionTransformer
from threadpoolctl import threadpool_limits

from astralytiq_jupyter.core import artifacts
from astralytiq_jupyter.core import preprocessing as pp
from astralytiq_jupyter.core.algorithms import ALGORITHMS, build_estimator
from astralytiq_jupyter.core.artifacts import (
    DEFAULT_TRUSTED_TYPES,
    artifact_sha256,
    dump_model,
    load_model,
)
from astralytiq_jupyter.core.errors import Invalid
from astralytiq_jupyter.core.forecasting import FORECAST_ALGORITHMS, SeriesForecaster
from astralytiq_jupyter.core.outputs import ARGMAX_PROBA_CLASSIFIERS
from astralytiq_jupyter.core.serving import predict_frame
from astralytiq_jupyter.core.training import train

TRUSTED = list(DEFAULT_TRUSTED_TYPES)


@pytest.fixture(autouse=True)
def _one_thread():
    with threadpool_limits(1):
        yield


@pytest.fixture(scope="module")
def iris_result():
    frame = load_iris(as_frame=True).frame
    frame["species"] = frame.pop("target").map({0: "setosa", 1: "versicolor", 2: "virginica"})
    with threadpool_limits(1):
        return train(frame, target="species", algorithms=["logistic_regression"], cv_folds=3)


def _every_column_kind(n: int = 48) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    return pd.DataFrame(
        {
            "x": rng.normal(size=n),
            "colour": pd.array(rng.choice(["red", "green", "blue"], n), dtype="str"),
            "when": pd.date_range("2022-01-01 08:30", periods=n, freq="7h"),
            "flag": rng.random(n) < 0.5,
        }
    )


def _variants(algorithm) -> list[dict]:
    """Default parameters, plus every value of the grid parameters that change which classes a
    fitted model holds (the neighbours' distance metric). An ensemble gets two members."""
    if algorithm.ensemble:
        first = "logistic_regression" if algorithm.task == "classification" else "ridge"
        return [{"members": {first: {}, "decision_tree": {}}, "weights": [2, 1]}]
    variants = [{}]
    variants += [{"p": p} for p in algorithm.search_space.get("p", [])]
    return variants


def test_every_engine_pipeline_round_trips_with_the_default_trusted_types():
    frame = _every_column_kind()
    plan = pp.plan_preprocessing(frame, list(frame.columns))
    assert (plan.numeric, plan.boolean, plan.categorical, plan.datetime) == (
        ["x"],
        ["flag"],
        ["colour"],
        ["when"],
    )
    X = pp.coerce_frame(frame, pp.input_signature(frame, plan), strict=False)
    rng = np.random.default_rng(1)
    targets = {
        "classification": [rng.choice(["a", "b"], len(X)), rng.choice(["a", "b", "c"], len(X))],
        "regression": [rng.normal(size=len(X))],
        "clustering": [None],
    }
    needed: set[str] = set()
    for (task, _name), algorithm in ALGORITHMS.items():
        for i, params in enumerate(_variants(algorithm)):
            # Few trees/iterations: what matters is which classes a fitted model holds.
            small = {k: 5 for k in ("n_estimators", "max_iter") if k in algorithm.search_space}
            model = build_estimator(algorithm, {**small, **params}, 0)
            for y in targets[task][: 1 if i else None]:
                pipeline = Pipeline([("preprocess", pp.build_preprocessor(plan)), ("model", model)])
                pipeline.fit(X, y)
                data = dump_model(pipeline)
                needed |= set(sio.get_untrusted_types(data=data))
                loaded = load_model(data, trusted=TRUSTED, expected_sha256=artifact_sha256(data))
                np.testing.assert_array_equal(loaded.predict(X), pipeline.predict(X))
    series = pd.DataFrame({"date": pd.date_range("2018-01-01", periods=40, freq="MS")})
    values = np.arange(40.0) + np.sin(np.arange(40))
    for method in FORECAST_ALGORITHMS:
        model = SeriesForecaster(method=method, freq="MS", season_length=12, horizon=4)
        pipeline = Pipeline([("model", model.fit(series, values))])
        data = dump_model(pipeline)
        needed |= set(sio.get_untrusted_types(data=data))
        loaded = load_model(data, trusted=TRUSTED)
        pd.testing.assert_frame_equal(loaded[-1].forecast(4), pipeline[-1].forecast(4))
    # Exactly the list: nothing missing (loading would fail) and nothing trusted needlessly.
    assert needed == set(DEFAULT_TRUSTED_TYPES)
    assert list(DEFAULT_TRUSTED_TYPES) == sorted(DEFAULT_TRUSTED_TYPES)


def test_round_trip_gives_identical_predictions_on_real_data(tmp_path):
    frame = load_breast_cancer(as_frame=True).frame
    result = train(
        frame,
        target="target",
        algorithms=["hist_gradient_boosting"],
        params={"hist_gradient_boosting": {"max_iter": 30}},
        cv_folds=2,
    )
    data = dump_model(result.model)
    path = tmp_path / "model.skops"
    path.write_bytes(data)
    loaded = load_model(path.read_bytes(), trusted=TRUSTED, expected_sha256=artifact_sha256(data))
    X = frame.drop(columns="target")
    before = predict_frame(result.model, X, result.signature, result.output)
    after = predict_frame(loaded, X, result.signature, result.output)
    pd.testing.assert_frame_equal(before, after)
    assert list(after.columns) == ["prediction", "proba_0", "proba_1"]
    np.testing.assert_allclose(after[["proba_0", "proba_1"]].sum(axis=1), 1.0)


def test_regression_round_trip():
    frame = load_diabetes(as_frame=True).frame
    result = train(frame, target="target", algorithms=["ridge"], cv_folds=2)
    loaded = load_model(dump_model(result.model), trusted=TRUSTED)
    X = frame.drop(columns="target").head(20)
    out = predict_frame(loaded, X, result.signature, result.output)
    assert list(out.columns) == ["prediction"]
    pd.testing.assert_frame_equal(
        out, predict_frame(result.model, X, result.signature, result.output)
    )
    # The signature's column-wise conversion may change memory layout, hence BLAS rounding.
    np.testing.assert_allclose(out["prediction"], result.model.predict(X), rtol=1e-12)


# --- refusals ------------------------------------------------------------------------------------


class Smuggled(BaseEstimator):
    """A class no server trusts."""

    def fit(self, X, y=None):
        return self


def test_untrusted_types_are_refused_before_loading(iris_result):
    # A transformer whose function is os.system: loading it would let the file run commands.
    evil = Pipeline([("run", FunctionTransformer(os.system)), ("model", iris_result.model)])
    data = sio.dumps(evil)
    with pytest.raises(Invalid, match="does not trust.*system") as refused:
        load_model(data, trusted=TRUSTED)
    assert any("system" in t for t in refused.value.detail["untrusted"])
    with pytest.raises(Invalid, match=r"test_artifacts\.Smuggled"):
        load_model(sio.dumps(Smuggled()), trusted=TRUSTED)
    with pytest.raises(Invalid, match="does not trust"):
        artifacts.check_trusted(data, TRUSTED)
    # Trust comes only from the caller's list: an empty list refuses even engine types.
    with pytest.raises(Invalid, match="does not trust"):
        load_model(dump_model(iris_result.model), trusted=[])


def test_hash_mismatch_and_corruption_are_refused(iris_result):
    data = dump_model(iris_result.model)
    digest = hashlib.sha256(data).hexdigest()
    assert load_model(data, trusted=TRUSTED, expected_sha256=digest.upper()) is not None
    tampered = bytearray(data)
    tampered[len(tampered) // 2] ^= 0xFF
    with pytest.raises(Invalid, match="corrupted or was tampered with"):
        load_model(bytes(tampered), trusted=TRUSTED, expected_sha256=digest)
    with pytest.raises(Invalid, match="Not a valid model artifact"):
        load_model(b"not a zip file", trusted=TRUSTED)


# --- predict_frame --------------------------------------------------------------------------------


def test_predict_validates_and_coerces_input(iris_result):
    signature, output, model = iris_result.signature, iris_result.output, iris_result.model
    names = [c["name"] for c in signature]
    rows = pd.DataFrame(
        {name: ["5.1", "3.5", "1.4", "0.2"][i] for i, name in enumerate(names)}, index=[7]
    )
    rows["comment"] = "ignored"
    out = predict_frame(model, rows, signature, output)
    assert list(out.index) == [7]
    assert out["prediction"].iloc[0] == "setosa"
    assert [c for c in out.columns if c.startswith("proba_")] == [
        "proba_setosa",
        "proba_versicolor",
        "proba_virginica",
    ]
    with pytest.raises(Invalid, match="Missing input columns") as missing:
        predict_frame(model, rows.drop(columns=names[:2]), signature, output)
    assert missing.value.detail["missing"] == names[:2]
    bad = rows.copy()
    bad[names[0]] = "tall"
    with pytest.raises(Invalid, match=re.escape(names[0]) + ".*'tall'") as unconvertible:
        predict_frame(model, bad, signature, output)
    assert unconvertible.value.detail == {"column": names[0], "value": "tall"}
    empty = predict_frame(model, rows.iloc[:0], signature, output)
    assert len(empty) == 0 and "proba_setosa" in empty.columns


def test_coercion_of_each_kind():
    signature = [
        {"name": "n", "dtype": "int64", "kind": "numeric"},
        {"name": "b", "dtype": "bool", "kind": "boolean"},
        {"name": "c", "dtype": "str", "kind": "categorical"},
        {"name": "d", "dtype": "datetime64[ns]", "kind": "datetime"},
        {"name": "legacy", "dtype": "float64"},  # signatures without kinds (uploaded artifacts)
    ]
    raw = pd.DataFrame(
        {
            "n": ["1", " 2 ", None],
            "b": ["yes", "False", None],
            "c": [1, "x", None],
            "d": ["2024-01-05", "2024-02-06", None],
            "legacy": ["0.5", "1", "2"],
        }
    )
    out = pp.coerce_frame(raw, signature)
    assert out["n"].tolist()[:2] == [1.0, 2.0] and np.isnan(out["n"].iloc[2])
    assert out["b"].tolist()[:2] == [1.0, 0.0]
    assert out["c"].tolist()[:2] == ["1", "x"] and pd.isna(out["c"].iloc[2])
    assert out["d"].iloc[1] == pd.Timestamp("2024-02-06")
    assert out["legacy"].tolist() == [0.5, 1.0, 2.0]
    with pytest.raises(Invalid, match="Column 'b' expects boolean"):
        pp.coerce_frame(raw.assign(b=["maybe", "yes", None]), signature)
    with pytest.raises(Invalid, match="Column 'd' expects datetime"):
        pp.coerce_frame(raw.assign(d=["someday", "2024-01-01", None]), signature)


def test_forecast_model_predicts_future_dates_through_the_artifact():
    dates = pd.date_range("2019-01-01", periods=48, freq="MS")
    values = 100 + np.arange(48) + 10 * np.sin(np.arange(48) * np.pi / 6)
    frame = pd.DataFrame({"month": dates, "sales": values})
    result = train(
        frame, target="sales", date_column="month", algorithms=["seasonal_naive"], horizon=6
    )
    loaded = load_model(dump_model(result.model), trusted=TRUSTED)
    future = pd.DataFrame({"month": ["2023-03-01", "2023-01-01"]})
    out = predict_frame(loaded, future, result.signature, result.output)
    assert list(out.columns) == ["prediction", "lower", "upper"]
    assert (out["lower"] <= out["prediction"]).all() and (out["prediction"] <= out["upper"]).all()
    # Seasonal naive repeats the last year: January 2023 is January 2022.
    assert out["prediction"].iloc[1] == pytest.approx(values[36])
    with pytest.raises(Invalid, match="after the last training date"):
        predict_frame(
            loaded, pd.DataFrame({"month": ["2020-01-01"]}), result.signature, result.output
        )
    with pytest.raises(Invalid, match="not on the model's MS date grid"):
        predict_frame(
            loaded, pd.DataFrame({"month": ["2023-01-15"]}), result.signature, result.output
        )


@pytest.mark.parametrize("estimator", ARGMAX_PROBA_CLASSIFIERS, ids=lambda c: c.__name__)
def test_prediction_from_probabilities_equals_predict(estimator):
    from sklearn.datasets import load_iris

    from astralytiq_jupyter.core.serving import predict_frame

    X, y = load_iris(return_X_y=True, as_frame=True)
    kwargs = {
        "RandomForestClassifier": {"n_estimators": 10, "random_state": 0},
        "ExtraTreesClassifier": {"n_estimators": 10, "random_state": 0},
        "HistGradientBoostingClassifier": {"max_iter": 10},
        "KNeighborsClassifier": {"n_neighbors": 4},  # even k: probability ties happen
        "MLPClassifier": {"max_iter": 50, "random_state": 0},
        "DecisionTreeClassifier": {"max_depth": 2},
        "CalibratedClassifierCV": {"cv": 3},
    }[estimator.__name__]
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = estimator(**kwargs).fit(X, y)
    signature = [{"name": c, "dtype": "float64"} for c in X.columns]
    out = predict_frame(model, X, signature, {"kind": "classification"})
    assert out["prediction"].tolist() == model.predict(X).tolist()
