"""The algorithm catalogue: which estimators the engine trains, their defaults and tuning grids.

Adding an algorithm here is all the engine needs; ``tests/core/test_artifacts.py`` then checks that
its fitted pipeline round-trips through skops with ``DEFAULT_TRUSTED_TYPES``, so a new estimator
cannot ship without its types being trusted.

The ``voting`` ensemble is built from other algorithms: its parameters name its ``members``
(algorithm name -> parameters, chosen by the engine as the top models of a comparison unless
given) and their ``weights``; it averages their probabilities (classification) or predictions.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy.stats import loguniform
from sklearn.base import BaseEstimator
from sklearn.calibration import CalibratedClassifierCV
from sklearn.cluster import KMeans
from sklearn.compose import TransformedTargetRegressor
from sklearn.discriminant_analysis import LinearDiscriminantAnalysis
from sklearn.ensemble import (
    ExtraTreesClassifier,
    ExtraTreesRegressor,
    GradientBoostingClassifier,
    GradientBoostingRegressor,
    HistGradientBoostingClassifier,
    HistGradientBoostingRegressor,
    RandomForestClassifier,
    RandomForestRegressor,
    VotingClassifier,
    VotingRegressor,
)
from sklearn.linear_model import ElasticNet, Lasso, LinearRegression, LogisticRegression, Ridge
from sklearn.naive_bayes import GaussianNB
from sklearn.neighbors import KNeighborsClassifier, KNeighborsRegressor
from sklearn.neural_network import MLPClassifier, MLPRegressor
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVC, SVR
from sklearn.tree import DecisionTreeClassifier, DecisionTreeRegressor

from .errors import Invalid
from .forecasting import FORECAST_ALGORITHMS

TASKS = ("classification", "regression", "clustering", "forecasting")
#: How many of a comparison's best models the voting ensemble combines by default.
ENSEMBLE_SIZE = 3


@dataclass(frozen=True)
class Algorithm:
    """One trainable algorithm: how to build it and what to search when tuning.

    ``param_prefix`` routes user parameters and search spaces to the core estimator when it is
    wrapped (calibrated SVM, target-scaled regressors), so users write ``C``, not
    ``estimator__C``. ``max_default_rows`` leaves slow algorithms out of the *default* list on
    large data; asking for them by name still works. ``ensemble`` marks an algorithm built from
    other algorithms' models (its ``members`` parameter), trained after them.
    """

    name: str
    task: str
    build: Callable[[int], BaseEstimator]
    search_space: Mapping[str, Any]
    param_prefix: str = ""
    max_default_rows: int | None = None
    ensemble: bool = False


def _scaled_target(regressor: BaseEstimator) -> TransformedTargetRegressor:
    # SVR's epsilon and the MLP's loss assume a target of unit scale.
    return TransformedTargetRegressor(regressor=regressor, transformer=StandardScaler())


def _calibrated_svc(random_state: int) -> CalibratedClassifierCV:
    # SVC(probability=True) is deprecated since scikit-learn 1.9; this is its replacement.
    return CalibratedClassifierCV(SVC(random_state=random_state), ensemble=False, cv=3)


FOREST_SPACE = {
    "n_estimators": [100, 200, 400],
    "max_depth": [None, 5, 10, 20],
    "min_samples_leaf": [1, 2, 4, 8],
    "max_features": ["sqrt", 0.5, 1.0],
}
HGB_SPACE = {
    "learning_rate": loguniform(0.02, 0.3),
    "max_iter": [100, 200, 400],
    "max_leaf_nodes": [15, 31, 63],
    "min_samples_leaf": [5, 10, 20, 50],
    "l2_regularization": [0.0, 0.1, 1.0],
}
KNN_SPACE = {
    "n_neighbors": [3, 5, 7, 9, 11, 15, 21, 31],
    "weights": ["uniform", "distance"],
    "p": [1, 2],
}
MLP_SPACE = {
    "hidden_layer_sizes": [(64,), (128,), (64, 32), (128, 64)],
    "alpha": loguniform(1e-5, 1e-1),
    "learning_rate_init": loguniform(1e-4, 1e-2),
}
SVM_SPACE = {"C": loguniform(0.1, 100.0), "gamma": ["scale", 0.001, 0.01, 0.1, 1.0]}
TREE_SPACE = {
    "max_depth": [None, 3, 5, 8, 12, 20],
    "min_samples_leaf": [1, 2, 5, 10, 20],
    "max_features": [None, "sqrt", 0.5],
}
GB_SPACE = {
    "n_estimators": [100, 200, 400],
    "learning_rate": loguniform(0.02, 0.3),
    "max_depth": [2, 3, 4, 5],
    "subsample": [0.6, 0.8, 1.0],
    "min_samples_leaf": [1, 5, 20],
}
# The lsqr solver is the one that takes shrinkage (the default svd solver does not).
LDA_SPACE = {"solver": ["lsqr"], "shrinkage": [None, "auto", 0.001, 0.01, 0.1, 0.3, 0.6, 0.9]}
NB_SPACE = {"var_smoothing": loguniform(1e-12, 1e-3)}

_CLS, _REG = "classification", "regression"
_CATALOGUE = [
    Algorithm(
        "logistic_regression",
        _CLS,
        lambda rs: LogisticRegression(max_iter=1000),
        {"C": loguniform(1e-3, 1e2)},
    ),
    Algorithm("knn", _CLS, lambda rs: KNeighborsClassifier(), KNN_SPACE, "", 100_000),
    Algorithm("svm", _CLS, _calibrated_svc, SVM_SPACE, "estimator__", 10_000),
    Algorithm(
        "random_forest", _CLS, lambda rs: RandomForestClassifier(random_state=rs), FOREST_SPACE
    ),
    Algorithm("extra_trees", _CLS, lambda rs: ExtraTreesClassifier(random_state=rs), FOREST_SPACE),
    Algorithm(
        "hist_gradient_boosting",
        _CLS,
        lambda rs: HistGradientBoostingClassifier(random_state=rs),
        HGB_SPACE,
    ),
    Algorithm(
        "mlp",
        _CLS,
        lambda rs: MLPClassifier(max_iter=500, early_stopping=True, random_state=rs),
        MLP_SPACE,
    ),
    Algorithm(
        "decision_tree", _CLS, lambda rs: DecisionTreeClassifier(random_state=rs), TREE_SPACE
    ),
    Algorithm("naive_bayes", _CLS, lambda rs: GaussianNB(), NB_SPACE),
    Algorithm("linear_discriminant", _CLS, lambda rs: LinearDiscriminantAnalysis(), LDA_SPACE),
    Algorithm(
        "gradient_boosting",
        _CLS,
        lambda rs: GradientBoostingClassifier(random_state=rs),
        GB_SPACE,
        "",
        100_000,
    ),
    Algorithm("voting", _CLS, lambda rs: VotingClassifier([], voting="soft"), {}, ensemble=True),
    Algorithm(
        "linear_regression", _REG, lambda rs: LinearRegression(), {"fit_intercept": [True, False]}
    ),
    Algorithm("ridge", _REG, lambda rs: Ridge(), {"alpha": loguniform(1e-3, 1e3)}),
    Algorithm(
        "lasso",
        _REG,
        lambda rs: Lasso(max_iter=5000, random_state=rs),
        {"alpha": loguniform(1e-4, 1e1)},
    ),
    Algorithm("knn", _REG, lambda rs: KNeighborsRegressor(), KNN_SPACE, "", 100_000),
    Algorithm(
        "svm",
        _REG,
        lambda rs: _scaled_target(SVR()),
        {**SVM_SPACE, "epsilon": [0.01, 0.05, 0.1, 0.2]},
        "regressor__",
        10_000,
    ),
    Algorithm(
        "random_forest", _REG, lambda rs: RandomForestRegressor(random_state=rs), FOREST_SPACE
    ),
    Algorithm("extra_trees", _REG, lambda rs: ExtraTreesRegressor(random_state=rs), FOREST_SPACE),
    Algorithm(
        "hist_gradient_boosting",
        _REG,
        lambda rs: HistGradientBoostingRegressor(random_state=rs),
        HGB_SPACE,
    ),
    Algorithm(
        "mlp",
        _REG,
        lambda rs: _scaled_target(MLPRegressor(max_iter=500, early_stopping=True, random_state=rs)),
        MLP_SPACE,
        "regressor__",
    ),
    Algorithm(
        "elastic_net",
        _REG,
        lambda rs: ElasticNet(max_iter=5000, random_state=rs),
        {"alpha": loguniform(1e-4, 1e1), "l1_ratio": [0.1, 0.3, 0.5, 0.7, 0.9]},
    ),
    Algorithm("decision_tree", _REG, lambda rs: DecisionTreeRegressor(random_state=rs), TREE_SPACE),
    Algorithm(
        "gradient_boosting",
        _REG,
        lambda rs: GradientBoostingRegressor(random_state=rs),
        GB_SPACE,
        "",
        100_000,
    ),
    Algorithm("voting", _REG, lambda rs: VotingRegressor([]), {}, ensemble=True),
    Algorithm("kmeans", "clustering", lambda rs: KMeans(random_state=rs), {}),
]
ALGORITHMS: dict[tuple[str, str], Algorithm] = {(a.task, a.name): a for a in _CATALOGUE}


def available_algorithms(task: str) -> list[str]:
    """Algorithm names a task accepts, in the order the defaults use them."""
    if task == "forecasting":
        return list(FORECAST_ALGORITHMS)
    if task not in TASKS:
        raise Invalid(f"Unknown task {task!r}; choose one of {', '.join(TASKS)}.", task=task)
    return [a.name for a in _CATALOGUE if a.task == task]


def get_algorithm(task: str, name: str) -> Algorithm:
    try:
        return ALGORITHMS[(task, name)]
    except KeyError:
        raise Invalid(
            f"Unknown algorithm {name!r} for {task}. Available: "
            + ", ".join(available_algorithms(task))
            + ".",
            algorithm=name,
        ) from None


def build_estimator(algorithm: Algorithm, params: Mapping[str, Any], random_state: int) -> Any:
    """The algorithm's estimator with ``params`` (named on the core estimator) applied.

    An ensemble without ``members`` is returned empty: the engine names them after the
    comparison (see ``training``)."""
    if algorithm.ensemble:
        return _build_ensemble(algorithm, params, random_state)
    estimator = algorithm.build(random_state)
    if params:
        try:
            estimator.set_params(**{algorithm.param_prefix + k: v for k, v in params.items()})
        except ValueError as exc:
            raise Invalid(
                f"Invalid parameter for '{algorithm.name}': {exc}", algorithm=algorithm.name
            ) from exc
    return estimator


def ensemble_members(
    algorithm: Algorithm, members: Any, fixed: Mapping[str, Mapping[str, Any]]
) -> dict[str, dict[str, Any]]:
    """An ensemble's ``members`` as {algorithm name: parameters}: a list of names takes each
    one's parameters from ``fixed`` (the spec's ``params``); a mapping is taken as given."""
    if isinstance(members, (list, tuple)):
        members = {name: dict(fixed.get(name, {})) for name in members}
    if not isinstance(members, Mapping) or not all(
        isinstance(name, str) and isinstance(p, Mapping) for name, p in members.items()
    ):
        raise Invalid(
            f"'{algorithm.name}' members must be a list of algorithm names or a mapping of "
            "names to parameters.",
            algorithm=algorithm.name,
        )
    if len(members) < 2:
        raise Invalid(f"'{algorithm.name}' needs at least two member algorithms.")
    for name in members:
        if get_algorithm(algorithm.task, name).ensemble:
            raise Invalid(f"'{algorithm.name}' cannot contain another ensemble ('{name}').")
    return {name: dict(p) for name, p in members.items()}


def _build_ensemble(algorithm: Algorithm, params: Mapping[str, Any], random_state: int) -> Any:
    estimator = algorithm.build(random_state)
    unknown = sorted(set(params) - {"members", "weights"})
    if unknown:
        raise Invalid(
            f"Invalid parameter for '{algorithm.name}': {', '.join(unknown)} (it takes "
            "'members' and 'weights').",
            algorithm=algorithm.name,
        )
    if params.get("members") is None:
        return estimator
    members = ensemble_members(algorithm, params["members"], {})
    weights = params.get("weights")
    if weights is not None and (
        not isinstance(weights, (list, tuple))
        or len(weights) != len(members)
        or not all(isinstance(w, (int, float)) and w >= 0 for w in weights)
    ):
        raise Invalid(
            f"'{algorithm.name}' weights must be {len(members)} non-negative numbers, one per "
            "member.",
            algorithm=algorithm.name,
        )
    estimators = [
        (name, build_estimator(get_algorithm(algorithm.task, name), p, random_state))
        for name, p in members.items()
    ]
    return estimator.set_params(
        estimators=estimators, weights=None if weights is None else list(weights)
    )


def ensemble_weights(n_members: int) -> list[tuple[int, ...]]:
    """The tuning grid of an ensemble's weights: equal weights, then every other mix of 1
    and 2 per member."""
    mixes = [w for w in itertools.product((1, 2), repeat=n_members) if len(set(w)) > 1]
    return [(1,) * n_members, *mixes]


def search_space(algorithm: Algorithm, override: Mapping[str, Any] | None) -> dict[str, Any]:
    """The tuning grid: the algorithm's defaults updated with the user's JSON-safe overrides.

    An override is a non-empty list of values or ``{"low": .., "high": .., "log": bool,
    "num": n}``: log-uniform when ``log``, else ``num`` evenly spaced values; integer bounds
    give integers.
    """
    space = dict(algorithm.search_space)
    for name, values in (override or {}).items():
        if isinstance(values, Mapping) and {"low", "high"} <= set(values):
            low, high = values["low"], values["high"]
            num = int(values.get("num", 10))
            if isinstance(low, int) and isinstance(high, int):
                # Whole-number bounds mean a count (min_samples_leaf=1 is not the fraction 1.0).
                spread = np.geomspace if values.get("log") else np.linspace
                space[name] = sorted({int(round(v)) for v in spread(low, high, num)})
            elif values.get("log"):
                space[name] = loguniform(float(low), float(high))
            else:
                space[name] = [float(v) for v in np.linspace(float(low), float(high), num)]
        elif isinstance(values, (list, tuple)) and values:
            # JSON has no tuples; hidden_layer_sizes=[64, 32] must become (64, 32).
            space[name] = [tuple(v) if isinstance(v, list) else v for v in values]
        else:
            raise Invalid(
                f"Search space for '{algorithm.name}.{name}' must be a non-empty list or "
                "{low, high, log}.",
                algorithm=algorithm.name,
                parameter=name,
            )
    return space


def plain(value: Any) -> Any:
    """Python scalars for sampled parameters (JSON and generated code need them)."""
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, list):
        return tuple(value)
    return value
