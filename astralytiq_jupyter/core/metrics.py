"""Evaluation: metrics per task and the plot data the wizards draw.

Every function here works on held-out predictions; nothing scores training rows. Plot data is
plain JSON (lists, numbers, strings; NaN becomes ``None``) with bounded size so a wizard can ship
it to the browser as-is.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Sequence
from datetime import date, datetime
from typing import Any

import numpy as np
import pandas as pd
from sklearn.decomposition import PCA
from sklearn.inspection import permutation_importance
from sklearn.metrics import (
    accuracy_score,
    auc,
    balanced_accuracy_score,
    confusion_matrix,
    f1_score,
    log_loss,
    mean_absolute_error,
    mean_absolute_percentage_error,
    precision_recall_curve,
    precision_score,
    r2_score,
    recall_score,
    roc_auc_score,
    roc_curve,
    root_mean_squared_error,
    silhouette_score,
)

METRICS: dict[str, tuple[str, ...]] = {
    "classification": (
        "accuracy",
        "balanced_accuracy",
        "precision",
        "recall",
        "f1",
        "roc_auc",
        "log_loss",
    ),
    "regression": ("r2", "mae", "rmse", "mape"),
    "clustering": ("silhouette",),
    "forecasting": ("mae", "mape", "rmse", "coverage"),
}
PRIMARY_METRIC = {
    "classification": "balanced_accuracy",
    "regression": "r2",
    "clustering": "silhouette",
    "forecasting": "mae",
}
LOWER_IS_BETTER = frozenset({"log_loss", "mae", "rmse", "mape"})

#: Bounds on what a plot may carry to the browser.
MAX_CURVE_POINTS = 200
MAX_SCATTER_POINTS = 1000
MAX_IMPORTANCE_ROWS = 2000
MAX_SILHOUETTE_ROWS = 2000
IMPORTANCE_REPEATS = 5


def higher_is_better(metric: str) -> bool:
    return metric not in LOWER_IS_BETTER


def sort_key(metric: str) -> Callable[[float | None], float]:
    """A key that sorts best-first and puts missing values last."""

    def key(value: float | None) -> float:
        if value is None or (isinstance(value, float) and math.isnan(value)):
            return math.inf
        return -value if higher_is_better(metric) else value

    return key


def json_safe(value: Any) -> Any:
    """Convert numpy/pandas values to JSON-native ones; NaN and infinities become None."""
    if isinstance(value, dict):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(v) for v in value]
    if isinstance(value, np.ndarray):
        return [json_safe(v) for v in value.tolist()]
    if value is pd.NaT or value is pd.NA or value is None:
        return None
    if isinstance(value, (pd.Timestamp, datetime, date)):
        return value.isoformat()
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


# --- metrics ---------------------------------------------------------------------------------


def predict_outputs(
    estimator: Any, X: pd.DataFrame, task: str, classes: Sequence[Any] | None = None
) -> tuple[np.ndarray, np.ndarray | None]:
    """Predictions and, for classifiers, probabilities aligned to ``classes``."""
    y_pred = np.asarray(estimator.predict(X))
    if task != "classification" or not hasattr(estimator, "predict_proba"):
        return y_pred, None
    proba = np.asarray(estimator.predict_proba(X), dtype=float)
    if classes is not None:
        fitted = list(estimator.classes_)
        if fitted != list(classes):
            # A fold may miss a rare class; give it probability 0 so columns line up.
            aligned = np.zeros((len(proba), len(classes)))
            for j, cls in enumerate(classes):
                if cls in fitted:
                    aligned[:, j] = proba[:, fitted.index(cls)]
            proba = aligned
    return y_pred, proba


def classification_scores(
    y_true: np.ndarray,
    y_pred: np.ndarray | None,
    proba: np.ndarray | None,
    classes: Sequence[Any],
    only: Sequence[str] | None = None,
) -> dict[str, float]:
    """Classification metrics (binary: of the second class; multiclass: macro / one-vs-rest).

    ``only`` limits the work to the named metrics (permutation importance needs just one).
    """
    binary = len(classes) == 2
    averaging: dict[str, Any] = (
        {"average": "binary", "pos_label": classes[1]}
        if binary
        else {"average": "macro", "labels": list(classes)}
    )

    def roc_auc() -> float:
        if proba is None:
            return math.nan
        try:
            if binary:
                return roc_auc_score(y_true == classes[1], proba[:, 1])
            return roc_auc_score(y_true, proba, multi_class="ovr", labels=list(classes))
        except ValueError:
            return math.nan  # a single class in y_true: AUC is undefined

    scorers = {
        "accuracy": lambda: accuracy_score(y_true, y_pred),
        "balanced_accuracy": lambda: balanced_accuracy_score(y_true, y_pred),
        "precision": lambda: precision_score(y_true, y_pred, zero_division=0, **averaging),
        "recall": lambda: recall_score(y_true, y_pred, zero_division=0, **averaging),
        "f1": lambda: f1_score(y_true, y_pred, zero_division=0, **averaging),
        "roc_auc": roc_auc,
        "log_loss": lambda: (
            math.nan if proba is None else log_loss(y_true, proba, labels=list(classes))
        ),
    }
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return {k: float(f()) for k, f in scorers.items() if only is None or k in only}


def regression_scores(y_true: np.ndarray, y_pred: np.ndarray) -> dict[str, float]:
    return {
        "r2": float(r2_score(y_true, y_pred)),
        "mae": float(mean_absolute_error(y_true, y_pred)),
        "rmse": float(root_mean_squared_error(y_true, y_pred)),
        "mape": float(mean_absolute_percentage_error(y_true, y_pred)),
    }


def clustering_scores(X_transformed: np.ndarray, labels: np.ndarray, seed: int) -> dict[str, float]:
    """Silhouette on (a bounded sample of) held-out rows; NaN when it is undefined."""
    n_labels = len(np.unique(labels))
    if n_labels < 2 or n_labels >= len(labels):
        return {"silhouette": math.nan}
    sample = min(len(labels), MAX_SILHOUETTE_ROWS)
    return {
        "silhouette": float(
            silhouette_score(X_transformed, labels, sample_size=sample, random_state=seed)
        )
    }


def score_predictions(
    task: str,
    y_true: np.ndarray,
    y_pred: np.ndarray,
    proba: np.ndarray | None,
    classes: Sequence[Any] | None,
) -> dict[str, float]:
    if task == "classification":
        assert classes is not None
        return classification_scores(y_true, y_pred, proba, classes)
    return regression_scores(y_true, y_pred)


def metric_scorer(
    task: str, metric: str, classes: Sequence[Any] | None
) -> Callable[[Any, pd.DataFrame, np.ndarray], float]:
    """A scorer(estimator, X, y) for ``metric`` where greater is better (for permutations)."""
    sign = 1.0 if higher_is_better(metric) else -1.0
    needs_proba = metric in ("roc_auc", "log_loss")

    def scorer(estimator: Any, X: pd.DataFrame, y: np.ndarray) -> float:
        y = np.asarray(y)
        if task != "classification":
            return sign * regression_scores(y, np.asarray(estimator.predict(X)))[metric]
        assert classes is not None
        if needs_proba:
            proba = np.asarray(estimator.predict_proba(X), dtype=float)
            return sign * classification_scores(y, None, proba, classes, only=[metric])[metric]
        y_pred = np.asarray(estimator.predict(X))
        return sign * classification_scores(y, y_pred, None, classes, only=[metric])[metric]

    return scorer


# --- plot data -------------------------------------------------------------------------------


def _thin(*arrays: np.ndarray, limit: int = MAX_CURVE_POINTS) -> list[np.ndarray]:
    """Keep at most ``limit`` evenly spaced points of a curve, always keeping both ends."""
    n = len(arrays[0])
    if n <= limit:
        return list(arrays)
    keep = np.unique(np.linspace(0, n - 1, limit).round().astype(int))
    return [a[keep] for a in arrays]


def sample_index(n: int, limit: int, seed: int) -> np.ndarray:
    if n <= limit:
        return np.arange(n)
    return np.sort(np.random.default_rng(seed).choice(n, size=limit, replace=False))


def confusion_matrix_plot(
    y_true: np.ndarray, y_pred: np.ndarray, classes: Sequence[Any]
) -> dict[str, Any]:
    matrix = confusion_matrix(y_true, y_pred, labels=list(classes))
    totals = matrix.sum(axis=1, keepdims=True)
    normalized = np.divide(matrix, totals, out=np.zeros(matrix.shape), where=totals > 0)
    labels = [str(c) for c in classes]
    return {
        "kind": "confusion_matrix",
        "title": "Confusion matrix (holdout)",
        "labels": labels,
        "z": matrix.tolist(),
        "z_normalized": normalized.round(4).tolist(),
        "x_title": "Predicted",
        "y_title": "Actual",
    }


def roc_pr_plots(
    y_true: np.ndarray, proba: np.ndarray, classes: Sequence[Any]
) -> tuple[dict[str, Any], dict[str, Any]]:
    """ROC and precision-recall curves: the positive class if binary, else one-vs-rest per class."""
    targets = [classes[1]] if len(classes) == 2 else list(classes)
    roc_curves, pr_curves = [], []
    for cls in targets:
        j = list(classes).index(cls)
        positive = y_true == cls
        if positive.all() or not positive.any():
            continue
        fpr, tpr, _ = roc_curve(positive, proba[:, j])
        precision, recall, _ = precision_recall_curve(positive, proba[:, j])
        fpr_t, tpr_t = _thin(fpr, tpr)
        recall_t, precision_t = _thin(recall, precision)
        roc_curves.append({"label": str(cls), "x": fpr_t, "y": tpr_t, "auc": auc(fpr, tpr)})
        pr_curves.append(
            {
                "label": str(cls),
                "x": recall_t,
                "y": precision_t,
                "auc": auc(recall, precision),
                "baseline": float(positive.mean()),
            }
        )
    roc = {
        "kind": "roc",
        "title": "ROC curve (holdout)",
        "x_title": "False positive rate",
        "y_title": "True positive rate",
        "curves": roc_curves,
    }
    pr = {
        "kind": "precision_recall",
        "title": "Precision-recall curve (holdout)",
        "x_title": "Recall",
        "y_title": "Precision",
        "curves": pr_curves,
    }
    return json_safe(roc), json_safe(pr)


def regression_plots(
    y_true: np.ndarray, y_pred: np.ndarray, seed: int
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Residuals vs predicted, and predicted vs actual, on a bounded random sample."""
    idx = sample_index(len(y_true), MAX_SCATTER_POINTS, seed)
    actual, predicted = np.asarray(y_true, dtype=float)[idx], np.asarray(y_pred, dtype=float)[idx]
    shown = {"n_shown": len(idx), "n_total": len(y_true)}
    residuals = {
        "kind": "residuals",
        "title": "Residuals (holdout)",
        "x_title": "Predicted",
        "y_title": "Actual - predicted",
        "x": predicted,
        "y": actual - predicted,
        **shown,
    }
    lo, hi = float(min(actual.min(), predicted.min())), float(max(actual.max(), predicted.max()))
    versus = {
        "kind": "predicted_vs_actual",
        "title": "Predicted vs actual (holdout)",
        "x_title": "Actual",
        "y_title": "Predicted",
        "x": actual,
        "y": predicted,
        "diagonal": [lo, hi],
        **shown,
    }
    return json_safe(residuals), json_safe(versus)


def importance_plot(
    estimator: Any,
    X: pd.DataFrame,
    y: np.ndarray,
    *,
    task: str,
    metric: str,
    classes: Sequence[Any] | None,
    seed: int,
    n_jobs: int = 1,
) -> dict[str, Any]:
    """Permutation importance of each raw input column on a bounded holdout sample."""
    idx = sample_index(len(X), MAX_IMPORTANCE_ROWS, seed)
    result = permutation_importance(
        estimator,
        X.iloc[idx],
        np.asarray(y)[idx],
        scoring=metric_scorer(task, metric, classes),
        n_repeats=IMPORTANCE_REPEATS,
        random_state=seed,
        n_jobs=n_jobs,
    )
    order = np.argsort(-result.importances_mean)
    return json_safe(
        {
            "kind": "feature_importance",
            "title": f"Permutation importance (drop in {metric}, holdout)",
            "x_title": f"Decrease in {metric}",
            "features": [str(X.columns[i]) for i in order],
            "importance_mean": result.importances_mean[order],
            "importance_std": result.importances_std[order],
            "n_rows": len(idx),
            "n_repeats": IMPORTANCE_REPEATS,
        }
    )


def elbow_k(ks: Sequence[int], inertia: Sequence[float]) -> int | None:
    """The k at the elbow of the inertia curve: the point farthest below the chord from its
    first to its last point, both axes scaled to [0, 1] (the "kneedle" rule). ``None`` with
    fewer than three points or a curve without a bend (flat, straight or bulging up)."""
    if len(ks) < 3:
        return None
    x, y = np.asarray(ks, dtype=float), np.asarray(inertia, dtype=float)
    if not np.isfinite(y).all() or y.max() == y.min():
        return None
    xs = (x - x[0]) / (x[-1] - x[0])
    ys = (y - y.min()) / (y.max() - y.min())
    gap = ys[0] + (ys[-1] - ys[0]) * xs - ys
    best = int(np.argmax(gap))
    return int(ks[best]) if gap[best] > 1e-9 else None


def elbow_plot(
    ks: Sequence[int],
    inertia: Sequence[float],
    silhouette: Sequence[float],
    selection: dict[str, Any],
) -> dict[str, Any]:
    """Inertia and held-out silhouette by k, with the k each rule picks and the one chosen."""
    rule = {"silhouette": "highest silhouette", "elbow": "elbow of inertia"}.get(
        selection["rule"], "set by n_clusters"
    )
    return json_safe(
        {
            "kind": "elbow",
            "title": f"Inertia and held-out silhouette by number of clusters (k chosen: {rule})",
            "x_title": "Number of clusters (k)",
            "k": list(ks),
            "inertia": list(inertia),
            "silhouette": list(silhouette),
            "chosen_k": selection["chosen_k"],
            "elbow_k": selection["elbow_k"],
            "silhouette_k": selection["silhouette_k"],
            "rule": selection["rule"],
        }
    )


def cluster_plots(
    transformed: np.ndarray, labels: np.ndarray, seed: int
) -> dict[str, dict[str, Any]]:
    """Cluster sizes and a 2-D principal-component scatter of (a sample of) held-out rows."""
    values, counts = np.unique(labels, return_counts=True)
    sizes = {
        "kind": "cluster_sizes",
        "title": "Cluster sizes (holdout)",
        "labels": [str(v) for v in values],
        "counts": counts,
    }
    idx = sample_index(len(labels), MAX_SCATTER_POINTS, seed)
    components = min(2, transformed.shape[1], len(idx))
    xy = PCA(n_components=components, random_state=0).fit_transform(transformed[idx])
    scatter = {
        "kind": "cluster_scatter",
        "title": "Clusters on the first two principal components (holdout)",
        "x_title": "Component 1",
        "y_title": "Component 2",
        "x": xy[:, 0],
        "y": xy[:, 1] if components > 1 else np.zeros(len(idx)),
        "cluster": labels[idx],
        "n_shown": len(idx),
        "n_total": len(labels),
    }
    return {"cluster_sizes": json_safe(sizes), "cluster_scatter": json_safe(scatter)}
