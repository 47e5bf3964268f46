"""Running fit-and-score jobs for model comparison: joblib fan-out, progress, cancellation.

Every cross-validation fold, tuning candidate and forecast backtest is one job. Jobs go through
``joblib.Parallel`` (so ``n_jobs`` and any joblib backend, Dask included, apply) and stream back
as they finish; the calling thread reports progress after each one and checks the cancel event
between them. A failing job records its error instead of raising, so one bad model cannot sink
a comparison.
"""

from __future__ import annotations

import contextlib
import math
import threading
import time
import warnings
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import joblib
import numpy as np
import pandas as pd
from sklearn.base import clone
from sklearn.pipeline import Pipeline
from threadpoolctl import threadpool_limits

from . import metrics as mt
from .errors import Cancelled, Invalid

if TYPE_CHECKING:
    from .training import TrainingSpec

Job = tuple[Any, Callable[..., dict[str, Any]], tuple[Any, ...]]

#: Below this many rows, native thread pools (OpenMP in gradient boosting, BLAS) cost more in
#: start-up and contention than they save; fits then run single-threaded (measured: a 70-point
#: series took 9 s instead of 0.4 s to fit on a busy 2-core machine).
SINGLE_THREAD_ROWS = 10_000


def thread_limit(n_rows: int) -> int | None:
    """Native threads per fit for data of this size (``None``: the libraries' default)."""
    return 1 if n_rows < SINGLE_THREAD_ROWS else None


@contextlib.contextmanager
def limited_threads(limit: int | None) -> Iterator[None]:
    if limit is None:
        yield
        return
    with threadpool_limits(limits=limit):
        yield


@dataclass(frozen=True)
class TrainingProgress:
    """One progress event: a finished fold, a finished model, or a stage change."""

    stage: str  # prepare | compare | tune | refit | evaluate | done
    step: int
    total: int
    message: str
    algorithm: str | None = None
    fold: int | None = None
    n_folds: int | None = None
    metrics: dict[str, float | None] | None = None
    #: The candidate as shown to people when one algorithm is tried several times, e.g.
    #: ``kmeans (k=3)`` or ``random_forest candidate 2/10`` (else the algorithm's name).
    label: str | None = None

    @property
    def fraction(self) -> float:
        return min(1.0, self.step / self.total) if self.total else 0.0


class ProgressTracker:
    """Counts steps, forwards events to the caller's callback and honours cancellation."""

    def __init__(
        self,
        callback: Callable[[TrainingProgress], None] | None,
        cancel: threading.Event | None,
    ) -> None:
        self.callback = callback
        self.cancel = cancel
        self.step = 0
        self.total = 1

    def check(self) -> None:
        if self.cancel is not None and self.cancel.is_set():
            raise Cancelled("Training was cancelled.")

    def emit(self, stage: str, message: str, advance: int = 0, **extra: Any) -> None:
        self.step += advance
        if self.callback is not None:
            self.callback(TrainingProgress(stage, self.step, self.total, message, **extra))
        self.check()


def captured(func: Callable[[], dict[str, Any]]) -> dict[str, Any]:
    """Run one job; return its outcome with an ``error`` instead of raising, plus warnings."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            outcome = func()
        except Exception as exc:  # an estimator can fail in many ways; the row records it
            outcome = {"error": f"{type(exc).__name__}: {exc}"}
    messages: list[str] = []
    for w in caught:
        text = f"{w.category.__name__}: {str(w.message).splitlines()[0][:160]}"
        if text not in messages:
            messages.append(text)
    outcome["warnings"] = messages[:3]
    return outcome


def fit_fold(
    pipeline: Pipeline,
    X: pd.DataFrame,
    y: np.ndarray | None,
    train_idx: np.ndarray,
    valid_idx: np.ndarray,
    task: str,
    classes: list[Any] | None,
    seed: int,
    keep_predictions: bool = False,
) -> dict[str, Any]:
    """Fit a fresh clone on one fold's training rows and score it on its validation rows
    (returning its ``predictions`` there too when asked: labels or values, probabilities)."""

    def run() -> dict[str, Any]:
        start = time.perf_counter()
        fitted = clone(pipeline).fit(X.iloc[train_idx], None if y is None else y[train_idx])
        fit_time = time.perf_counter() - start
        start = time.perf_counter()
        X_valid = X.iloc[valid_idx]
        if task == "clustering":
            labels = fitted.predict(X_valid)
            scores = mt.clustering_scores(fitted[:-1].transform(X_valid), labels, seed)
            scores["inertia"] = float(fitted[-1].inertia_)
        else:
            assert y is not None
            y_pred, proba = mt.predict_outputs(fitted, X_valid, task, classes)
            scores = mt.score_predictions(task, y[valid_idx], y_pred, proba, classes)
            if keep_predictions:
                kept = (y_pred, proba)
        outcome = {"metrics": scores, "fit_time": fit_time}
        outcome["score_time"] = time.perf_counter() - start
        if keep_predictions and task != "clustering":
            outcome["predictions"] = kept
        return outcome

    return captured(run)


def _keyed(
    key: Any, func: Callable[..., dict[str, Any]], threads: int | None, *args: Any
) -> tuple[Any, dict]:
    with limited_threads(threads):
        return key, func(*args)


@contextlib.contextmanager
def joblib_backend(backend: str | None, n_jobs: int) -> Iterator[None]:
    """joblib's configuration for the run, e.g. ``backend="dask"`` with a dask Client open."""
    if backend is None:
        yield
        return
    try:
        config = joblib.parallel_config(backend=backend, n_jobs=n_jobs)
    except (ValueError, KeyError, ImportError) as exc:
        raise Invalid(
            f"joblib backend {backend!r} is not available: {exc}", backend=backend
        ) from exc
    with config:
        yield


def run_jobs(
    jobs: Sequence[Job],
    on_result: Callable[[Any, dict[str, Any]], None],
    tracker: ProgressTracker,
    *,
    n_jobs: int = 1,
    backend: str | None = None,
    threads: int | None = None,
) -> None:
    """Run (key, func, args) jobs, handing each (key, outcome) over as soon as it completes.

    ``threads`` caps native threads inside each job (see ``thread_limit``). Raising from
    ``on_result`` (e.g. ``Cancelled``) stops the run; jobs not started are dropped.
    """
    tracker.check()
    calls = [joblib.delayed(_keyed)(key, func, threads, *args) for key, func, args in jobs]
    with joblib_backend(backend, n_jobs):
        try:
            results: Any = joblib.Parallel(n_jobs=n_jobs, return_as="generator_unordered")(calls)
        except ValueError:
            # A backend that cannot stream results still works, reporting at the end.
            results = iter(joblib.Parallel(n_jobs=n_jobs)(calls))
        try:
            for key, outcome in results:
                on_result(key, outcome)
        finally:
            if hasattr(results, "close"):
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")  # joblib warns that it drops pending jobs
                    results.close()


def summarize(
    name: str,
    params: Mapping[str, Any],
    outcomes: Sequence[dict[str, Any]],
    metric_names: Sequence[str],
    **extra: Any,
) -> dict[str, Any]:
    """One leaderboard row: mean and standard deviation of each metric over the folds."""
    row: dict[str, Any] = {"algorithm": name, "params": dict(params), **extra}
    errors = [o["error"] for o in outcomes if "error" in o]
    good = [o for o in outcomes if "error" not in o]
    for metric in metric_names:
        values = [o["metrics"].get(metric, math.nan) for o in good]
        values = [v for v in values if v is not None and not math.isnan(v)]
        usable = bool(values) and not errors
        row[f"{metric}_mean"] = float(np.mean(values)) if usable else None
        row[f"{metric}_std"] = float(np.std(values)) if usable else None
    fit_times = [o["fit_time"] for o in good]
    row["fit_time"] = float(np.mean(fit_times)) if fit_times else None
    row["fit_time_std"] = float(np.std(fit_times)) if fit_times else None
    row["folds"] = len(outcomes)
    row["error"] = errors[0] if errors else None
    return row


def rank_rows(rows: Sequence[dict[str, Any]], column: str, metric: str) -> list[dict[str, Any]]:
    """Sort best-first by ``column`` (a value of ``metric``); failed rows last; set ``rank``."""
    key = mt.sort_key(metric)
    ordered = sorted(rows, key=lambda r: (r["error"] is not None, key(r.get(column))))
    for rank, row in enumerate(ordered, 1):
        row["rank"] = rank
    return ordered


def leaderboard_frame(rows: Sequence[Mapping[str, Any]], metric: str) -> pd.DataFrame:
    """A ranked leaderboard as a DataFrame, best first: ``rank``, ``algorithm``, the ranking
    metric's mean and spread, then every other column, ``params`` last. The ranking metric is
    stated on the frame: its column axis is named "ranked by <metric>" (shown above the
    index) and ``attrs`` hold ``ranked_by`` and ``higher_is_better``."""
    frame = pd.DataFrame.from_records([dict(r) for r in rows])
    first = ["rank", "algorithm", f"{metric}_mean", f"{metric}_std", f"holdout_{metric}"]
    lead = [c for c in first if c in frame.columns]
    rest = [c for c in frame.columns if c not in lead and c != "params"]
    frame = frame[lead + rest + (["params"] if "params" in frame.columns else [])]
    for column in frame.columns:
        if column.endswith(("_mean", "_std", "fit_time")) or column.startswith("holdout_"):
            frame[column] = frame[column].astype("float64")  # a metric no fold produced: NaN
    frame.columns.name = f"ranked by {metric}"
    frame.attrs.update(ranked_by=metric, higher_is_better=mt.higher_is_better(metric))
    return frame


def leaderboard_records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """The JSON-safe rows of a leaderboard frame (missing values as ``None``), as stored in
    the registry and sent over the API."""
    records = frame.astype(object).where(frame.notna(), None).to_dict(orient="records")
    return mt.json_safe(records)


def by_k(leaderboard: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """The k-means rows that trained, by number of clusters."""
    return sorted(
        (r for r in leaderboard if r["error"] is None), key=lambda r: r["params"]["n_clusters"]
    )


def choose_k(
    leaderboard: Sequence[dict[str, Any]], spec: TrainingSpec
) -> tuple[dict[str, Any], dict[str, Any], str]:
    """The k-means row to keep, the ``selection`` record and a note saying which rule chose k
    and where the other rule puts it: ``n_clusters`` when set, else ``k_rule`` ("silhouette":
    the highest held-out silhouette, first in the ranked ``leaderboard``; "elbow": the bend of
    the mean inertia curve, see :func:`metrics.elbow_k`)."""
    rows = by_k(leaderboard)
    ks = [r["params"]["n_clusters"] for r in rows]
    elbow = mt.elbow_k(ks, [r["inertia_mean"] for r in rows])
    top = leaderboard[0]
    silhouette = top["params"]["n_clusters"]
    score = f"{top['silhouette_mean']:.3f}"
    if spec.n_clusters is not None:
        rule, k = "n_clusters", spec.n_clusters
        row = next(r for r in leaderboard if r["params"]["n_clusters"] == k)
        if row["error"]:
            raise Invalid(f"k-means with {k} clusters failed: {row['error']}")
        shown = "none" if elbow is None else f"k={elbow}"
        note = (
            f"k={k} set by n_clusters; the highest held-out silhouette is at k={silhouette} "
            f"({score}), the elbow of the inertia curve at {shown}."
        )
    elif spec.k_rule == "elbow":
        if elbow is None:
            raise Invalid(
                "The inertia curve has no elbow over the k compared (it needs three or more "
                "values of k and a bend); widen k_range or use k_rule='silhouette'."
            )
        rule, k, row = "elbow", elbow, rows[ks.index(elbow)]
        note = (
            f"k={k} chosen at the elbow of the inertia curve (k_rule='elbow'); the highest "
            f"held-out silhouette is at k={silhouette} ({score}; k_rule='silhouette')."
        )
    else:
        rule, k, row = "silhouette", silhouette, top
        other = (
            "has no elbow over the k compared"
            if elbow is None
            else f"bends at k={elbow}" + (" too" if elbow == k else " (k_rule='elbow')")
        )
        note = (
            f"k={k} chosen by the highest held-out silhouette ({score}; the default "
            f"k_rule='silhouette'); the inertia curve {other}."
        )
    selection = {
        "metric": "silhouette",
        "on": f"{spec.cv_folds}-fold cross-validation",
        "higher_is_better": True,
        "default": spec.metric is None,
        "rule": rule,
        "chosen_k": k,
        "silhouette_k": silhouette,
        "elbow_k": elbow,
    }
    return row, selection, note
