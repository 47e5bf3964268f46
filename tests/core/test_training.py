"""The training engine on real scikit-learn datasets: metrics in known ranges, task inference,
bad input, progress and cancellation, tuning, and the exported script."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import load_breast_cancer, load_diabetes, load_iris, load_wine
from sklearn.metrics import accuracy_score, r2_score
from sklearn.model_selection import train_test_split
from sklearn.pipeline import Pipeline
from threadpoolctl import threadpool_limits

from astralytiq_jupyter.core.algorithms import get_algorithm
from astralytiq_jupyter.core.errors import Cancelled, Invalid
from astralytiq_jupyter.core.training import (
    TrainingProgress,
    TrainingSpec,
    available_algorithms,
    compare,
    infer_task,
    train,
)

SMALL = {
    "random_forest": {"n_estimators": 25},
    "extra_trees": {"n_estimators": 25},
    "hist_gradient_boosting": {"max_iter": 30},
}

# The exported scripts run like the engine on small data: one native thread per fit.
SCRIPT_ENV = {**os.environ, "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"}


@pytest.fixture(autouse=True)
def _one_thread():
    # Tiny fits are dominated by OpenMP start-up on a shared 2-core machine.
    with threadpool_limits(1):
        yield


def _iris() -> pd.DataFrame:
    frame = load_iris(as_frame=True).frame
    frame["species"] = frame.pop("target").map({0: "setosa", 1: "versicolor", 2: "virginica"})
    return frame


def _mixed(n: int = 240, seed: int = 0) -> pd.DataFrame:
    """Numbers, categories with gaps, dates, booleans, an id and a constant: every code path."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=n)
    colour = rng.choice(["red", "green", "blue"], n).astype(object)
    colour[rng.random(n) < 0.1] = None
    when = pd.date_range("2021-01-01", periods=n, freq="D")
    flag = rng.random(n) < 0.5
    score = x + (colour == "red") * 1.5 + flag * 0.8 + rng.normal(scale=0.5, size=n)
    frame = pd.DataFrame(
        {
            "customer_id": np.arange(1000, 1000 + n),
            "x": x,
            "colour": pd.array(colour, dtype="str"),
            "when": when,
            "flag": flag,
            "constant": 7,
            "churn": np.where(score > 0.8, "yes", "no"),
        }
    )
    frame.loc[frame.sample(frac=0.05, random_state=seed).index, "x"] = np.nan
    return frame


# --- real datasets -------------------------------------------------------------------------------


def test_iris_multiclass_accuracy_and_plots():
    result = train(_iris(), target="species", algorithms=["logistic_regression", "knn"])
    assert result.task == "classification"
    assert result.holdout_metrics["accuracy"] >= 0.9
    assert result.holdout_metrics["roc_auc"] >= 0.95
    assert result.n_rows == {"train": 120, "holdout": 30}
    assert result.output["classes"] == ["setosa", "versicolor", "virginica"]
    assert isinstance(result.model, Pipeline)
    # Plots: confusion matrix over the holdout, one ROC/PR curve per class, importance per column.
    cm = result.plots["confusion_matrix"]
    assert cm["labels"] == ["setosa", "versicolor", "virginica"]
    assert sum(map(sum, cm["z"])) == 30
    assert [c["label"] for c in result.plots["roc"]["curves"]] == cm["labels"]
    assert len(result.plots["precision_recall"]["curves"]) == 3
    importance = result.plots["feature_importance"]
    assert set(importance["features"]) == set(result.features)
    assert importance["features"][0].startswith("petal")
    json.dumps(result.to_dict(), allow_nan=False)


def test_breast_cancer_binary_with_known_quality():
    frame = load_breast_cancer(as_frame=True).frame
    result = train(
        frame, target="target", algorithms=["logistic_regression", "random_forest"], params=SMALL
    )
    assert result.task == "classification"
    assert result.holdout_metrics["roc_auc"] >= 0.97
    assert result.holdout_metrics["accuracy"] >= 0.93
    assert result.holdout_metrics["log_loss"] < 0.3
    assert len(result.plots["roc"]["curves"]) == 1  # the positive class only
    assert all(len(c["x"]) <= 200 for c in result.plots["roc"]["curves"])


def test_wine_compare_leaderboard():
    frame = load_wine(as_frame=True).frame
    algorithms = ["logistic_regression", "random_forest", "hist_gradient_boosting", "mlp"]
    result = train(frame, target="target", algorithms=algorithms, params=SMALL, cv_folds=3)
    board = result.leaderboard
    assert isinstance(board, pd.DataFrame)
    assert sorted(board["algorithm"]) == sorted(algorithms)
    # The ranking metric is stated on the frame and leads its columns.
    assert board.attrs == {"ranked_by": "balanced_accuracy", "higher_is_better": True}
    assert board.columns.name == "ranked by balanced_accuracy"
    assert list(board.columns[:4]) == [
        "rank",
        "algorithm",
        "balanced_accuracy_mean",
        "balanced_accuracy_std",
    ]
    assert board["balanced_accuracy_mean"].is_monotonic_decreasing
    assert board["rank"].tolist() == [1, 2, 3, 4]
    for metric in ("accuracy", "f1", "roc_auc", "log_loss"):
        assert board[f"{metric}_mean"].notna().all() and (board[f"{metric}_std"] >= 0).all()
    assert (board["fit_time"] > 0).all() and (board["folds"] == 3).all()
    assert board["error"].isna().all()
    assert result.best_algorithm == board["algorithm"].iloc[0]
    assert board["balanced_accuracy_mean"].iloc[0] >= 0.9
    assert result.holdout_metrics["accuracy"] >= 0.9
    assert any("Models ranked by balanced_accuracy (the default" in n for n in result.notes)
    assert result.selection == {
        "metric": "balanced_accuracy",
        "on": "3-fold cross-validation",
        "higher_is_better": True,
        "default": True,
    }
    # The JSON form keeps every row as a record.
    records = result.to_dict()["leaderboard"]
    assert [r["algorithm"] for r in records] == board["algorithm"].tolist()
    assert records[0]["params"] == board["params"].iloc[0]


def test_diabetes_regression_in_known_range():
    frame = load_diabetes(as_frame=True).frame
    result = train(frame, target="target", algorithms=["linear_regression", "ridge", "lasso"])
    assert result.task == "regression"
    assert result.cv_metrics["r2"] >= 0.4
    # The holdout of random_state=0 is known to be a hard split for linear models (~0.33).
    assert 0.25 <= result.holdout_metrics["r2"] <= 0.6
    assert 35 <= result.holdout_metrics["mae"] <= 55
    assert result.holdout_metrics["rmse"] >= result.holdout_metrics["mae"]
    assert {"residuals", "predicted_vs_actual", "feature_importance"} <= set(result.plots)
    assert result.plots["residuals"]["n_total"] == result.n_rows["holdout"]


def test_holdout_metrics_come_from_the_untouched_rows():
    """The reported holdout accuracy equals the model's accuracy on the split's test rows."""
    frame = _iris()
    result = train(frame, target="species", algorithms=["knn"], holdout=0.3, random_state=3)
    X = frame.drop(columns="species")
    _, X_test, _, y_test = train_test_split(
        X, frame["species"], test_size=0.3, random_state=3, stratify=frame["species"]
    )
    expected = accuracy_score(y_test.to_numpy(), result.model.predict(X_test))
    assert result.holdout_metrics["accuracy"] == pytest.approx(expected)
    assert result.n_rows == {"train": 105, "holdout": 45}


def test_wine_clustering_finds_three_groups():
    frame = load_wine(as_frame=True).frame.drop(columns="target")
    result = train(frame, k_range=(2, 5), cv_folds=3)
    assert result.task == "clustering"
    assert result.best_params["n_clusters"] == 3
    assert result.holdout_metrics["silhouette"] > 0.2
    elbow = result.plots["elbow"]
    assert elbow["k"] == [2, 3, 4, 5] and elbow["chosen_k"] == 3
    assert elbow["inertia"] == sorted(elbow["inertia"], reverse=True)
    assert sum(result.plots["cluster_sizes"]["counts"]) == result.n_rows["holdout"]
    assert result.output == {"kind": "clustering", "n_clusters": 3, "labels": [0, 1, 2]}
    forced = train(frame, task="clustering", n_clusters=4, k_range=(2, 4), cv_folds=3)
    assert forced.best_params["n_clusters"] == 4


def _two_groups_of_three() -> pd.DataFrame:
    """Two far-apart groups of three nearby blobs: the silhouette is highest at k=2, the inertia
    curve bends at k=6."""
    rng = np.random.default_rng(0)
    centers = [(0, 0), (3, 0), (1.5, 2.6), (20, 20), (23, 20), (21.5, 22.6)]
    points = np.vstack([rng.normal(c, 0.5, size=(40, 2)) for c in centers])
    return pd.DataFrame(points, columns=["a", "b"])


def test_clustering_says_which_rule_chose_k_and_shows_both():
    frame = _two_groups_of_three()
    by_silhouette = train(frame, k_range=(2, 8), cv_folds=3)
    assert by_silhouette.best_params["n_clusters"] == 2
    assert by_silhouette.selection == {
        "metric": "silhouette",
        "on": "3-fold cross-validation",
        "higher_is_better": True,
        "default": True,
        "rule": "silhouette",
        "chosen_k": 2,
        "silhouette_k": 2,
        "elbow_k": 6,
    }
    elbow = by_silhouette.plots["elbow"]
    assert (elbow["chosen_k"], elbow["silhouette_k"], elbow["elbow_k"]) == (2, 2, 6)
    assert elbow["rule"] == "silhouette" and "highest silhouette" in elbow["title"]
    assert any(
        n.startswith("k=2 chosen by the highest held-out silhouette") and "k=6" in n
        for n in by_silhouette.notes
    )
    by_elbow = train(frame, k_range=(2, 8), cv_folds=3, k_rule="elbow")
    assert by_elbow.best_params["n_clusters"] == 6 and by_elbow.output["n_clusters"] == 6
    assert by_elbow.selection["rule"] == "elbow" and by_elbow.plots["elbow"]["chosen_k"] == 6
    assert any(n.startswith("k=6 chosen at the elbow") for n in by_elbow.notes)
    forced = train(frame, k_range=(2, 8), cv_folds=3, n_clusters=4, k_rule="elbow")
    assert forced.best_params["n_clusters"] == 4
    assert (forced.selection["rule"], forced.selection["elbow_k"]) == ("n_clusters", 6)
    with pytest.raises(Invalid, match="k_rule must be"):
        train(frame, k_rule="gap")
    with pytest.raises(Invalid, match="at least three values of k"):
        train(frame, k_range=(2, 3), k_rule="elbow")


def test_ranking_metric_can_be_chosen():
    frame = _iris()
    result = train(
        frame,
        target="species",
        algorithms=["logistic_regression", "knn"],
        metric="log_loss",
        cv_folds=3,
    )
    board = result.leaderboard
    assert board.attrs == {"ranked_by": "log_loss", "higher_is_better": False}
    assert board["log_loss_mean"].is_monotonic_increasing
    assert result.primary_metric == "log_loss" and result.selection["default"] is False
    assert any("Models ranked by log_loss (chosen with metric=" in n for n in result.notes)
    with pytest.raises(Invalid, match="Unknown metric 'auc'; choose one of .*roc_auc"):
        train(frame, target="species", metric="auc")
    with pytest.raises(Invalid, match="'rmse' does not apply to classification; choose one of"):
        train(frame, target="species", metric="rmse")


# --- inference and preprocessing -----------------------------------------------------------------


def test_task_inference_and_override():
    iris = load_iris(as_frame=True).frame
    assert infer_task(iris, "target")[0] == "classification"
    assert infer_task(load_diabetes(as_frame=True).frame, "target")[0] == "regression"
    assert infer_task(_iris(), "species")[0] == "classification"
    assert infer_task(iris, None)[0] == "clustering"
    assert infer_task(iris, "target", date_column="d")[0] == "forecasting"
    # Overriding: the class codes of iris treated as a number to regress.
    result = train(iris, target="target", task="regression", algorithms=["ridge"], cv_folds=3)
    assert result.task == "regression" and result.holdout_metrics["r2"] > 0.8
    assert not any(n.startswith("Task inferred") for n in result.notes)


def test_preprocessing_handles_mixed_columns_and_explains_drops():
    result = train(_mixed(), target="churn", algorithms=["logistic_regression"], cv_folds=3)
    dropped = {d["column"]: d["reason"] for d in result.dropped_columns}
    assert set(dropped) == {"customer_id", "constant"}
    assert "identifier" in dropped["customer_id"] and "constant" in dropped["constant"]
    assert any("customer_id" in n for n in result.notes)
    assert [(c["name"], c["kind"]) for c in result.signature] == [
        ("x", "numeric"),
        ("colour", "categorical"),
        ("when", "datetime"),
        ("flag", "boolean"),
    ]
    assert result.holdout_metrics["accuracy"] >= 0.75
    # Unknown categories at prediction time are tolerated.
    probe = _mixed(5, seed=1).drop(columns="churn")
    probe["colour"] = "purple"
    assert len(result.model.predict(probe)) == 5


# --- bad input ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("frame", "options", "message"),
    [
        (
            pd.DataFrame({"x": np.linspace(0, 1, 50), "y": ["a"] * 50}),
            {"target": "y"},
            "only one class",
        ),
        (
            pd.DataFrame({"x": np.linspace(0, 1, 50), "y": [np.nan] * 50}),
            {"target": "y"},
            "missing in every row",
        ),
        (
            pd.DataFrame({"x": np.linspace(0, 1, 50), "y": [0, 1] * 25}),
            {"target": "y", "features": []},
            "feature list is empty",
        ),
        (
            pd.DataFrame({"id": range(50), "k": 1, "y": [0, 1] * 25}),
            {"target": "y"},
            "No usable feature columns",
        ),
        (
            pd.DataFrame({"x": [1.0, 2.0, 3.0, 4.0], "y": [1.0, 2.0, 3.5, 4.0]}),
            {"target": "y", "cv_folds": 5},
            "fewer than the 5 cross-validation folds",
        ),
        (
            pd.DataFrame({"x": np.linspace(0, 1, 60), "y": ["a"] * 57 + ["b"] * 3}),
            {"target": "y"},
            "too rare",
        ),
        (
            pd.DataFrame({"x": np.linspace(0, 1, 50), "y": ["1.5", "x"] * 25}),
            {"target": "y", "task": "regression"},
            "numeric target",
        ),
        (
            pd.DataFrame({"x": np.linspace(0, 1, 50), "y": [0, 1] * 25}),
            {"target": "nope"},
            "not in the data",
        ),
        (
            pd.DataFrame({"x": np.linspace(0, 1, 50), "y": [0, 1] * 25}),
            {"target": "y", "algorithms": ["xgboost"]},
            "Unknown algorithm",
        ),
        (
            pd.DataFrame({"x": np.linspace(0, 1, 50), "y": [0, 1] * 25}),
            {"target": "y", "algorithms": ["knn"], "params": {"knn": {"neighbours": 3}}},
            "Invalid parameter for 'knn'",
        ),
        (
            pd.DataFrame({"x": np.linspace(0, 1, 50), "y": [0, 1] * 25}),
            {"target": "y", "metric": "r2"},
            "does not apply to classification",
        ),
        (
            pd.DataFrame({"x": np.linspace(0, 1, 50), "y": [0, 1] * 25}),
            {"target": "y", "joblib_backend": "no-such-backend"},
            "not available",
        ),
    ],
)
def test_bad_input_is_a_clear_error(frame, options, message):
    with pytest.raises(Invalid, match=message):
        train(frame, algorithms=options.pop("algorithms", ["knn"]), **options)


def test_free_text_column_with_100k_values_is_refused():
    n = 100_000
    frame = pd.DataFrame({"comment": [f"note {i}" for i in range(n)], "y": [0, 1] * (n // 2)})
    with pytest.raises(Invalid, match="comment.*100000 values are distinct") as explicit:
        train(frame, target="y", features=["comment"])
    assert explicit.value.detail["columns"] == ["comment"]
    with pytest.raises(Invalid, match="No usable feature columns: 'comment'"):
        train(frame, target="y")


def test_spec_round_trips_through_json():
    spec = TrainingSpec(
        target="y",
        algorithms=["random_forest"],
        params={"random_forest": {"n_estimators": 10}},
        search_space={"random_forest": {"max_depth": [2, 4]}},
        tune="halving",
        k_range=(2, 4),
        dataset="sales@3",
    )
    data = json.loads(json.dumps(spec.to_dict()))
    assert TrainingSpec.from_dict(data) == spec
    with pytest.raises(Invalid, match="Unknown training option"):
        TrainingSpec.from_dict({"target": "y", "folds": 3})
    with pytest.raises(Invalid, match="tune must be"):
        TrainingSpec.from_dict({"tune": "grid"})


# --- progress, cancellation, tuning, parallelism -------------------------------------------------


def test_progress_reports_every_fold_and_model():
    events: list[TrainingProgress] = []
    algorithms = ["logistic_regression", "knn"]
    train(_iris(), target="species", algorithms=algorithms, cv_folds=3, progress=events.append)
    folds = [e for e in events if e.fold is not None]
    assert len(folds) == 2 * 3
    assert {(e.algorithm, e.fold) for e in folds} == {(a, f) for a in algorithms for f in (1, 2, 3)}
    models = [e for e in events if e.stage == "compare" and e.fold is None]
    assert [e.algorithm for e in models] == algorithms
    assert all(e.metrics["balanced_accuracy"] is not None for e in models)
    stages = [e.stage for e in events]
    assert stages[0] == "prepare" and stages[-1] == "done"
    assert stages.index("refit") < stages.index("evaluate")
    fractions = [e.fraction for e in events]
    assert fractions == sorted(fractions) and fractions[-1] == 1.0


def test_cancellation_stops_at_the_next_fold():
    cancel = threading.Event()
    events: list[TrainingProgress] = []

    def on_progress(event: TrainingProgress) -> None:
        events.append(event)
        if event.fold == 1:
            cancel.set()

    with pytest.raises(Cancelled):
        train(
            _iris(),
            target="species",
            algorithms=["logistic_regression", "knn", "svm"],
            progress=on_progress,
            cancel=cancel,
        )
    assert len([e for e in events if e.fold is not None]) == 1
    cancel_first = threading.Event()
    cancel_first.set()
    with pytest.raises(Cancelled):
        train(_iris(), target="species", cancel=cancel_first)


@pytest.mark.parametrize("method", ["random", "halving"])
def test_tuning_searches_the_best_algorithm(method):
    events: list[TrainingProgress] = []
    result = train(
        _iris(),
        target="species",
        algorithms=["knn"],
        tune=method,
        n_iter=9,
        cv_folds=3,
        progress=events.append,
    )
    tuning = result.tuning
    assert tuning["method"] == method and tuning["algorithm"] == "knn"
    assert tuning["candidates"] == 9
    tuned = result.leaderboard[result.leaderboard["tuned"]].to_dict("records")
    assert len(tuned) == 1 and set(tuned[0]["params"]) == {"n_neighbors", "weights", "p"}
    if method == "halving":
        rows = [r["rows"] for r in tuning["rounds"]]
        assert len(rows) >= 2 and rows == sorted(rows) and rows[-1] == result.n_rows["train"]
        assert tuning["rounds"][-1]["candidates"] < 9
    else:
        assert tuning["rounds"] == [{"candidates": 9, "rows": result.n_rows["train"]}]
    assert any(e.stage == "tune" for e in events)
    if result.leaderboard["tuned"].iloc[0]:
        assert result.best_params == tuned[0]["params"]
    assert result.holdout_metrics["accuracy"] >= 0.9


def test_user_search_space_and_fixed_params():
    result = train(
        _iris(),
        target="species",
        algorithms=["random_forest"],
        params={"random_forest": {"n_estimators": 15}},
        search_space={
            "random_forest": {
                "max_depth": [2, 3],
                "min_samples_leaf": {"low": 1, "high": 4, "num": 4},
            }
        },
        tune="random",
        n_iter=3,
        cv_folds=3,
    )
    tuned = result.leaderboard[result.leaderboard["tuned"]].iloc[0]
    assert tuned["params"]["n_estimators"] == 15
    assert tuned["params"]["max_depth"] in (2, 3)
    assert tuned["params"]["min_samples_leaf"] in (1, 2, 3, 4)
    assert result.model[-1].n_estimators == 15
    assert result.model_params["n_estimators"] == 15
    assert result.model_params["max_depth"] == tuned["params"]["max_depth"]


def test_compare_and_threaded_backend_agree():
    frame = _iris()
    options = {"target": "species", "algorithms": ["logistic_regression", "knn"], "cv_folds": 3}
    board = compare(frame, **options)
    threaded = compare(frame, n_jobs=2, joblib_backend="threading", **options)
    assert isinstance(board, pd.DataFrame) and board.attrs["ranked_by"] == "balanced_accuracy"
    assert board["algorithm"].tolist() == threaded["algorithm"].tolist()
    np.testing.assert_allclose(board["accuracy_mean"], threaded["accuracy_mean"])


def test_defaults_cover_the_catalogue():
    assert available_algorithms("classification") == [
        "logistic_regression",
        "knn",
        "svm",
        "random_forest",
        "extra_trees",
        "hist_gradient_boosting",
        "mlp",
        "decision_tree",
        "naive_bayes",
        "linear_discriminant",
        "gradient_boosting",
        "voting",
    ]
    assert available_algorithms("regression") == [
        "linear_regression",
        "ridge",
        "lasso",
        "knn",
        "svm",
        "random_forest",
        "extra_trees",
        "hist_gradient_boosting",
        "mlp",
        "elastic_net",
        "decision_tree",
        "gradient_boosting",
        "voting",
    ]
    assert available_algorithms("clustering") == ["kmeans"]
    assert "ets" in available_algorithms("forecasting")


def test_failing_algorithm_is_reported_not_fatal():
    frame = _iris()
    result = train(
        frame,
        target="species",
        algorithms=["logistic_regression", "knn"],
        params={"knn": {"n_neighbors": 500}},  # more neighbours than rows: every fold fails
        cv_folds=3,
    )
    failed = result.leaderboard.set_index("algorithm").loc["knn"]
    assert failed["error"] and failed["rank"] == 2 and np.isnan(failed["accuracy_mean"])
    assert result.to_dict()["leaderboard"][1]["accuracy_mean"] is None
    assert result.best_algorithm == "logistic_regression"


def test_voting_ensemble_combines_the_top_models_scored_from_their_folds():
    """The ensemble's CV comes from its members' out-of-fold predictions (no refit) and equals
    cross-validating the fitted ensemble itself on the same folds."""
    frame = _mixed()
    algorithms = ["logistic_regression", "decision_tree", "naive_bayes", "knn", "voting"]
    events: list[TrainingProgress] = []
    board = compare(
        frame, target="churn", algorithms=algorithms, cv_folds=3, progress=events.append
    )
    rows = board.set_index("algorithm")
    members = rows.loc["voting", "params"]["members"]
    top = [a for a in board["algorithm"] if a != "voting"][:3]
    assert list(members) == top and all(p == {} for p in members.values())
    assert rows.loc["voting", "fit_time"] == pytest.approx(
        sum(rows.loc[a, "fit_time"] for a in top)
    )
    assert events[-1].fraction == 1.0
    refitted = compare(
        frame,
        target="churn",
        algorithms=["voting"],
        params={"voting": {"members": top}},
        cv_folds=3,
    )
    for metric in ("balanced_accuracy", "roc_auc", "log_loss"):
        assert refitted[f"{metric}_mean"].iloc[0] == pytest.approx(
            rows.loc["voting", f"{metric}_mean"], abs=1e-12
        )
    with pytest.raises(Invalid, match="'voting' combines the best models"):
        train(frame, target="churn", algorithms=["knn", "voting"])
    with pytest.raises(Invalid, match="weights must be 2 non-negative numbers"):
        train(
            frame,
            target="churn",
            algorithms=["voting"],
            params={"voting": {"members": ["knn", "naive_bayes"], "weights": [1]}},
        )
    with pytest.raises(Invalid, match="cannot contain another ensemble"):
        train(
            frame,
            target="churn",
            algorithms=["voting"],
            params={"voting": {"members": ["knn", "voting"]}},
        )


# --- exported code --------------------------------------------------------------------------------


def _run_script(code: str, data: Path, tmp_path: Path) -> dict:
    script = tmp_path / "train_model.py"
    script.write_text(code)
    done = subprocess.run(
        [sys.executable, str(script), str(data)],
        capture_output=True,
        text=True,
        timeout=120,
        env=SCRIPT_ENV,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


#: Runs several exported scripts in one interpreter (start-up and imports once): each one's
#: ``main(data)`` prints its holdout metrics as JSON.
DRIVER = """
import contextlib, io, json, runpy, sys
out = {}
for name, (script, data) in json.loads(sys.argv[1]).items():
    module = runpy.run_path(script, run_name="exported")
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        module["main"](data)
    out[name] = json.loads(printed.getvalue())
print(json.dumps(out))
"""

#: The newer algorithms of the catalogue, each tuned over (a small part of) its grid.
NEW_ALGORITHMS = [
    ("classification", "decision_tree", {}),
    ("classification", "naive_bayes", {}),
    ("classification", "linear_discriminant", {}),
    ("classification", "gradient_boosting", {"n_estimators": [10, 20]}),
    ("classification", "voting", {}),
    ("regression", "elastic_net", {}),
    ("regression", "decision_tree", {}),
    ("regression", "gradient_boosting", {"n_estimators": [10, 20]}),
    ("regression", "voting", {}),
]


def test_new_algorithms_tune_over_their_grid_and_export_exact_code(tmp_path):
    data = {"classification": tmp_path / "churn.csv", "regression": tmp_path / "diabetes.csv"}
    _mixed().to_csv(data["classification"], index=False)
    load_diabetes(as_frame=True).frame.to_csv(data["regression"], index=False)
    targets = {"classification": "churn", "regression": "target"}
    results, scripts = {}, {}
    for task, name, space in NEW_ALGORITHMS:
        first = "logistic_regression" if task == "classification" else "ridge"
        params = {"voting": {"members": [first, "decision_tree"]}}
        result = train(
            pd.read_csv(data[task]),
            target=targets[task],
            task=task,
            algorithms=[name],
            params=params if name == "voting" else {},
            search_space={name: space} if space else {},
            tune="random",
            n_iter=2,
            cv_folds=2,
        )
        tuned = result.leaderboard[result.leaderboard["tuned"]]
        assert len(tuned) == 1, (name, result.notes)
        grid = {"weights"} if name == "voting" else set(get_algorithm(task, name).search_space)
        assert set(tuned["params"].iloc[0]) - {"members"} <= grid
        key = f"{task}-{name}"
        results[key] = result
        script = tmp_path / f"{key}.py"
        script.write_text(result.to_code())
        scripts[key] = (str(script), str(data[task]))
    done = subprocess.run(
        [sys.executable, "-c", DRIVER, json.dumps(scripts)],
        capture_output=True,
        text=True,
        timeout=300,
        env=SCRIPT_ENV,
    )
    assert done.returncode == 0, done.stderr
    for key, metrics in json.loads(done.stdout).items():
        assert metrics == pytest.approx(results[key].holdout_metrics, abs=1e-9), key


def test_to_code_reproduces_the_classifier_from_csv(tmp_path):
    frame = _mixed()
    result = train(frame, target="churn", algorithms=["logistic_regression", "knn"], cv_folds=3)
    code = result.to_code()
    assert "astralytiq_jupyter" not in code.replace("AstralytiQ", "")
    assert "class DateParts" in code
    path = tmp_path / "churn.csv"
    frame.to_csv(path, index=False)
    metrics = _run_script(code, path, tmp_path)
    for name in ("accuracy", "balanced_accuracy", "roc_auc", "log_loss"):
        assert metrics[name] == pytest.approx(result.holdout_metrics[name], abs=1e-9)


def test_to_code_reproduces_the_regressor_from_parquet(tmp_path):
    frame = load_diabetes(as_frame=True).frame
    result = train(
        frame, target="target", algorithms=["hist_gradient_boosting"], params=SMALL, cv_folds=2
    )
    path = tmp_path / "diabetes.parquet"
    frame.to_parquet(path)
    metrics = _run_script(result.to_code(), path, tmp_path)
    assert metrics["r2"] == pytest.approx(result.holdout_metrics["r2"], abs=1e-9)
    X = frame.drop(columns="target")
    _, X_test, _, y_test = train_test_split(X, frame["target"], test_size=0.2, random_state=0)
    assert r2_score(y_test, result.model.predict(X_test)) == pytest.approx(metrics["r2"])
