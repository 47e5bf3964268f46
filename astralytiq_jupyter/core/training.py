"""The training engine: compare algorithms with cross-validation, tune, refit, evaluate, export.

``train(df, spec)`` is pure compute on a DataFrame (no database, no UI): the registry stores what
it returns, the wizard draws its plots and progress. For supervised tasks and clustering:

1. validate the spec and data, infer the task, plan preprocessing (notes say what was dropped);
2. split off an untouched holdout (stratified for classification);
3. cross-validate every algorithm on the training split (per-fold progress, cancellable, run
   through joblib so ``n_jobs``/``joblib_backend`` can fan out, e.g. to a Dask cluster);
4. optionally tune the best one (randomized or successive-halving search over its grid);
5. refit the winner on the training split and compute metrics and plots on the holdout only.

Forecasting (``forecast_runs.run_forecasting``) backtests each method, evaluates it on the last
``horizon`` points, and refits the chosen one on the whole series to forecast beyond the data.
"""

from __future__ import annotations

import dataclasses
import math
import threading
import time
import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from sklearn.model_selection import KFold, ParameterSampler, StratifiedKFold, train_test_split
from sklearn.pipeline import Pipeline

from . import ensembles
from . import metrics as mt
from . import model_selection as ms
from . import preprocessing as pp
from .algorithms import (
    Algorithm,
    available_algorithms,
    build_estimator,
    ensemble_weights,
    get_algorithm,
    plain,
    search_space,
)
from .artifacts import library_versions
from .errors import Invalid
from .forecast_runs import run_forecasting
from .forecasting import forecast
from .model_selection import TrainingProgress
from .preprocessing import infer_task
from .training_code import forecast_script, supervised_script
from .training_spec import TrainingSpec, check_rows

__all__ = [
    "TrainingProgress",
    "TrainingResult",
    "TrainingSpec",
    "available_algorithms",
    "compare",
    "forecast",
    "infer_task",
    "train",
]

HALVING_FACTOR = 3


@dataclass
class TrainingResult:
    """Everything a run produced. ``model`` is the fitted best pipeline.

    ``leaderboard`` is a DataFrame, best first (see ``model_selection.leaderboard_frame``),
    whose rows hold ``rank``, ``algorithm``, ``<metric>_mean``/``_std`` per metric
    (cross-validation; backtests for forecasting, plus ``holdout_<metric>``), ``fit_time``
    (mean seconds per fit), ``tuned``, ``error`` and ``params``; ``to_dict()`` has its
    JSON-safe records. ``holdout_metrics`` come from the
    untouched holdout; ``signature`` lists the raw input columns (name, dtype, kind) that
    ``serving.predict_frame`` validates against; ``output`` describes the predictions.
    ``selection`` says how the winner was chosen: the ranking ``metric`` and what it was
    measured on, and for clustering the ``rule`` with the k that each rule picks.
    """

    task: str
    target: str | None
    features: list[str]
    primary_metric: str
    leaderboard: pd.DataFrame
    best_algorithm: str
    best_params: dict[str, Any]
    model: Pipeline
    holdout_metrics: dict[str, float | None]
    cv_metrics: dict[str, float | None]
    plots: dict[str, dict[str, Any]]
    notes: list[str]
    dropped_columns: list[dict[str, str]]
    signature: list[dict[str, str]]
    output: dict[str, Any]
    library_versions: dict[str, str]
    spec: TrainingSpec
    n_rows: dict[str, int]
    duration_seconds: float
    tuning: dict[str, Any] | None = None
    selection: dict[str, Any] | None = None

    def __repr__(self) -> str:
        score = self.holdout_metrics.get(self.primary_metric)
        return (
            f"TrainingResult(task={self.task!r}, target={self.target!r}, best="
            f"{self.best_algorithm!r}, {self.primary_metric}={score!r} (holdout), "
            f"candidates={len(self.leaderboard)})"
        )

    @property
    def model_params(self) -> dict[str, Any]:
        """Every hyperparameter of the fitted model's estimator (JSON-safe; nested estimators
        by class name), e.g. for the registry's record of a version."""
        params = self.model[-1].get_params(deep=True)
        return mt.json_safe(
            {k: type(v).__name__ if hasattr(v, "get_params") else v for k, v in params.items()}
        )

    def to_code(self) -> str:
        """A runnable script that rebuilds, fits and evaluates the best pipeline."""
        if self.task == "forecasting":
            return forecast_script(self)
        return supervised_script(self)

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe description of the run: everything except the fitted model."""
        data = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        data.pop("model")
        data["leaderboard"] = ms.leaderboard_records(self.leaderboard)
        data["model_params"] = self.model_params
        data["spec"] = self.spec.to_dict()
        return mt.json_safe(data)


class _Run:
    """One supervised or clustering run (the steps in the module docstring)."""

    def __init__(
        self,
        df: pd.DataFrame,
        spec: TrainingSpec,
        tracker: ms.ProgressTracker,
        model_columns: Mapping[str, str] | None = None,
    ) -> None:
        self.df = df
        self.spec = spec
        self.tracker = tracker
        self.model_columns = dict(model_columns or {})
        self.dropped: list[dict[str, str]] = []
        self.notes: list[str] = []
        self.warnings: dict[str, list[str]] = {}
        self.selection: dict[str, Any] = {}
        self.classes: list[Any] | None = None

    # -- 1. prepare -----------------------------------------------------------------------------

    def prepare(self) -> None:
        spec, df = self.spec, self.df
        if spec.target is not None:
            if spec.target not in df.columns:
                raise Invalid(f"Target column '{spec.target}' is not in the data.")
            if df[spec.target].notna().sum() == 0:
                raise Invalid(f"Target '{spec.target}' is missing in every row.")
        task = spec.task
        if task is None:
            task, reason = infer_task(df, spec.target)
            self.notes.append(f"Task inferred as {task}: {reason}.")
        if task in ("classification", "regression") and spec.target is None:
            raise Invalid(f"A {task} needs a target column.")
        self.task = task
        self.metric = spec.metric or mt.PRIMARY_METRIC[task]
        if self.metric not in mt.METRICS[task]:
            raise Invalid(
                f"Metric {self.metric!r} does not apply to {task}; choose one of "
                f"{', '.join(mt.METRICS[task])}.",
                metric=self.metric,
            )
        if task != "clustering":
            why = f"the default for {task}" if spec.metric is None else "chosen with metric="
            better = "higher" if mt.higher_is_better(self.metric) else "lower"
            self.notes.append(
                f"Models ranked by {self.metric} ({why}; mean over {spec.cv_folds} "
                f"cross-validation folds of the training split, {better} is better)."
            )
        features, notes, self.dropped = pp.feature_columns(
            df,
            spec.target,
            spec.features,
            self.model_columns,
            include_model_columns=spec.include_model_columns,
        )
        self.notes.extend(notes)
        data = df
        if spec.target is not None and task != "clustering":
            keep = df[spec.target].notna()
            if not keep.all():
                dropped = int((~keep).sum())
                self.notes.append(f"Dropped {dropped} row(s) without a value for '{spec.target}'.")
                data = df[keep].reset_index(drop=True)
        self.y = None if task == "clustering" else pp.target_array(data[spec.target], task)
        target = None if self.y is None else data[spec.target]
        self.classes = check_rows(spec, task, len(data), self.y, target)
        self.plan = pp.plan_preprocessing(data, features, explicit=spec.features is not None)
        self.notes.extend(self.plan.notes())
        self.signature = pp.input_signature(data, self.plan)
        self.X = pp.coerce_frame(data, self.signature, strict=False)
        # Ranges and categories of the training data: prediction forms and input checks.
        self.signature = pp.describe_inputs(self.X, self.signature)
        self._split()
        self.algorithms = self._choose_algorithms()

    def _choose_algorithms(self) -> list[Algorithm]:
        spec, task = self.spec, self.task
        if spec.algorithms is not None:
            if not spec.algorithms:
                raise Invalid("The algorithm list is empty.")
            chosen = [get_algorithm(task, n) for n in dict.fromkeys(spec.algorithms)]
        else:
            chosen = []
            for name in available_algorithms(task):
                algorithm = get_algorithm(task, name)
                limit = algorithm.max_default_rows
                if limit is not None and len(self.X_train) > limit:
                    self.notes.append(
                        f"'{name}' left out of the defaults: it is slow on more than {limit} rows "
                        "(ask for it by name to include it)."
                    )
                else:
                    chosen.append(algorithm)
        used = {a.name for a in chosen}
        for algorithm in chosen:  # fail on bad parameters before any training
            params = spec.params.get(algorithm.name, {})
            build_estimator(algorithm, params, spec.random_state)
            if algorithm.ensemble and params.get("members") is not None:
                used |= set(params["members"])
            elif algorithm.ensemble and sum(not a.ensemble for a in chosen) < 2:
                raise Invalid(
                    f"'{algorithm.name}' combines the best models of the comparison: list at "
                    "least two other algorithms, or name its members with params="
                    f"{{'{algorithm.name}': {{'members': [...]}}}}.",
                    algorithm=algorithm.name,
                )
        stray = sorted(set(spec.params) - used)
        if stray:
            self.notes.append(f"Ignored parameters for algorithms not trained: {', '.join(stray)}.")
        return chosen

    def _pipeline(self, algorithm: Algorithm, params: Mapping[str, Any]) -> Pipeline:
        model = build_estimator(algorithm, params, self.spec.random_state)
        return Pipeline([("preprocess", pp.build_preprocessor(self.plan)), ("model", model)])

    def _split(self) -> None:
        spec = self.spec
        stratify = self.y if self.task == "classification" else None
        train_idx, test_idx = train_test_split(
            np.arange(len(self.X)),
            test_size=spec.holdout,
            random_state=spec.random_state,
            stratify=stratify,
        )
        self.X_train = self.X.iloc[train_idx].reset_index(drop=True)
        self.X_test = self.X.iloc[test_idx].reset_index(drop=True)
        self.y_train = None if self.y is None else self.y[train_idx]
        self.y_test = None if self.y is None else self.y[test_idx]

    # -- 2. compare -----------------------------------------------------------------------------

    def candidates(self) -> list[tuple[Algorithm, dict[str, Any]]]:
        if self.task != "clustering":
            return [(a, dict(self.spec.params.get(a.name, {}))) for a in self.algorithms]
        low, high = self.spec.k_range
        ks = sorted(set(range(low, high + 1)) | ({self.spec.n_clusters} - {None}))
        base = dict(self.spec.params.get("kmeans", {}))
        return [(self.algorithms[0], {**base, "n_clusters": k}) for k in ks]

    def cross_validate(
        self,
        stage: str,
        candidates: list[tuple[Algorithm, dict[str, Any]]],
        X: pd.DataFrame,
        y: np.ndarray | None,
        *,
        kept: dict[str, tuple[dict[str, Any], list[dict[str, Any]]]] | None = None,
        **row_extra: Any,
    ) -> list[dict[str, Any]]:
        """CV every candidate on (X, y); a progress event per fold and per finished model.
        ``kept``, when given, receives each algorithm's parameters and per-fold outcomes with
        their out-of-fold predictions (what an ensemble of them is scored from)."""
        spec = self.spec
        folds = self._folds(X, y)
        pipelines = [self._pipeline(a, p) for a, p in candidates]
        keep = kept is not None
        jobs = [
            (
                (i, f),
                ms.fit_fold,
                (pipe, X, y, tr, va, self.task, self.classes, spec.random_state, keep),
            )
            for i, pipe in enumerate(pipelines)
            for f, (tr, va) in enumerate(folds)
        ]
        names = [*mt.METRICS[self.task], *(["inertia"] if self.task == "clustering" else [])]
        outcomes: dict[int, list[dict[str, Any]]] = {i: [] for i in range(len(candidates))}
        rows: dict[int, dict[str, Any]] = {}

        def on_result(key: tuple[int, int], outcome: dict[str, Any]) -> None:
            i, f = key
            algorithm, params = candidates[i]
            outcomes[i].append(outcome)
            if kept is not None:
                kept.setdefault(algorithm.name, (params, [{}] * len(folds)))[1][f] = outcome
            seen = self.warnings.setdefault(algorithm.name, [])
            seen.extend(t for t in outcome.get("warnings", []) if t not in seen)
            label = self._label(algorithm, params, i, len(candidates), stage)
            failed = f" failed ({outcome['error']})" if "error" in outcome else ""
            self.tracker.emit(
                stage,
                f"{label}: fold {len(outcomes[i])}/{len(folds)}{failed}",
                advance=1,
                algorithm=algorithm.name,
                fold=f + 1,
                n_folds=len(folds),
                metrics={self.metric: outcome.get("metrics", {}).get(self.metric)},
                label=label,
            )
            if len(outcomes[i]) == len(folds):
                row = ms.summarize(algorithm.name, params, outcomes[i], names, **row_extra)
                rows[i] = row
                mean = row[f"{self.metric}_mean"]
                shown = "failed" if mean is None else f"{self.metric} {mean:.4f}"
                self.tracker.emit(
                    stage,
                    f"{label} done: {shown}",
                    algorithm=algorithm.name,
                    metrics=self._row_metrics(row),
                    label=label,
                )

        ms.run_jobs(
            jobs,
            on_result,
            self.tracker,
            n_jobs=spec.n_jobs,
            backend=spec.joblib_backend,
            threads=ms.thread_limit(len(X)),
        )
        return [rows[i] for i in sorted(rows)]

    def _folds(self, X: pd.DataFrame, y: np.ndarray | None) -> list[tuple[np.ndarray, ...]]:
        spec = self.spec
        if self.task == "classification":
            splitter: Any = StratifiedKFold(
                spec.cv_folds, shuffle=True, random_state=spec.random_state
            )
        else:
            splitter = KFold(spec.cv_folds, shuffle=True, random_state=spec.random_state)
        return list(splitter.split(X, y))

    def _label(
        self, algorithm: Algorithm, params: Mapping[str, Any], i: int, n: int, stage: str
    ) -> str:
        if self.task == "clustering":
            return f"{algorithm.name} (k={params['n_clusters']})"
        if stage == "tune":
            return f"{algorithm.name} candidate {i + 1}/{n}"
        return algorithm.name

    def _row_metrics(self, row: Mapping[str, Any]) -> dict[str, float | None]:
        return {m: row.get(f"{m}_mean") for m in mt.METRICS[self.task]}

    def compare(self) -> list[dict[str, Any]]:
        """CV every candidate; ensembles last, combining the best of the others."""
        candidates = self.candidates()
        single = [c for c in candidates if not c[0].ensemble]
        combined = [c for c in candidates if c[0].ensemble]
        kept: dict[str, tuple[dict[str, Any], list[dict[str, Any]]]] = {}
        width = len(self.classes) if self.classes else 1
        keep = bool(combined) and ensembles.affordable(len(self.X_train) * width * len(single))
        rows = self.cross_validate(
            "compare", single, self.X_train, self.y_train, kept=kept if keep else None
        )
        for algorithm, params in combined:
            ranked = ms.rank_rows(rows, f"{self.metric}_mean", self.metric)
            members, note = ensembles.choose_members(
                algorithm, params, ranked, self.spec.params, self.metric
            )
            self.notes.append(note)
            if members is not None:
                rows += self._cross_validate_ensemble(
                    algorithm, {**params, "members": members}, kept
                )
        rows = [{**r, "tuned": False} for r in rows]
        if all(r["error"] for r in rows):
            raise Invalid(
                "Every algorithm failed to train: "
                + "; ".join(f"{r['algorithm']}: {r['error']}" for r in rows),
                errors={r["algorithm"]: r["error"] for r in rows},
            )
        return ms.rank_rows(rows, f"{self.metric}_mean", self.metric)

    def _cross_validate_ensemble(
        self,
        algorithm: Algorithm,
        params: dict[str, Any],
        kept: dict[str, tuple[dict[str, Any], list[dict[str, Any]]]],
    ) -> list[dict[str, Any]]:
        """The ensemble's CV row, from its members' out-of-fold predictions when the comparison
        has them, else by fitting it on every fold."""
        assert self.y_train is not None
        folds = self._folds(self.X_train, self.y_train)
        outcomes = ensembles.fold_outcomes(
            self.task,
            params["members"],
            params.get("weights"),
            kept,
            folds,
            self.y_train,
            self.classes,
        )
        if outcomes is None:
            return self.cross_validate("compare", [(algorithm, params)], self.X_train, self.y_train)
        row = ms.summarize(algorithm.name, params, outcomes, mt.METRICS[self.task])
        mean = row[f"{self.metric}_mean"]
        shown = "failed" if mean is None else f"{self.metric} {mean:.4f}"
        self.tracker.emit(
            "compare",
            f"{algorithm.name} done (from its members' folds): {shown}",
            advance=len(folds),
            algorithm=algorithm.name,
            metrics=self._row_metrics(row),
            label=algorithm.name,
        )
        return [row]

    # -- 3. tune --------------------------------------------------------------------------------

    def tuning_candidates(
        self, algorithm: Algorithm, compared: Mapping[str, Any]
    ) -> list[dict[str, Any]]:
        """Parameter sets to try; parameters the user fixed in ``params`` are not searched. An
        ensemble keeps the members it was compared with and searches their weights."""
        fixed = dict(self.spec.params.get(algorithm.name, {}))
        space = search_space(algorithm, self.spec.search_space.get(algorithm.name))
        if algorithm.ensemble:
            fixed["members"] = compared["members"]
            space = {"weights": ensemble_weights(len(compared["members"])), **space}
        space = {k: v for k, v in space.items() if k not in fixed}
        if not space:
            return []
        n_iter = self.spec.n_iter
        if all(isinstance(v, list) for v in space.values()):
            n_iter = min(n_iter, math.prod(len(v) for v in space.values()))
        sampler = ParameterSampler(space, n_iter, random_state=self.spec.random_state)
        return [{**{k: plain(v) for k, v in p.items()}, **fixed} for p in sampler]

    def tuning_plan(self, n_candidates: int) -> list[tuple[int, int]]:
        """Rounds of (candidates, rows). Random search: one round on all rows. Successive
        halving: each round keeps the best third of the candidates and triples the rows, the
        last round using all training rows so its scores compare with the leaderboard."""
        n_rows = len(self.X_train)
        if self.spec.tune == "random":
            return [(n_candidates, n_rows)]
        per_class = len(self.classes) if self.classes else 5
        min_rows = max(self.spec.cv_folds * per_class * 2, 30)
        rounds = 1
        while (
            HALVING_FACTOR**rounds <= n_candidates and n_rows // HALVING_FACTOR**rounds >= min_rows
        ):
            rounds += 1
        return [
            (
                math.ceil(n_candidates / HALVING_FACTOR**i),
                n_rows // HALVING_FACTOR ** (rounds - 1 - i),
            )
            for i in range(rounds)
        ]

    def tune(self, best_row: dict[str, Any]) -> tuple[dict[str, Any] | None, dict[str, Any]]:
        """Search the best algorithm's grid; return the best tuned row and a summary."""
        algorithm = get_algorithm(self.task, best_row["algorithm"])
        summary: dict[str, Any] = {"method": self.spec.tune, "algorithm": algorithm.name}
        candidates = self.tuning_candidates(algorithm, best_row["params"])
        if not candidates:
            self.notes.append(f"'{algorithm.name}' has no hyperparameters to tune.")
            return None, summary
        plan = self.tuning_plan(len(candidates))
        self.tracker.total = self.tracker.step + sum(c for c, _ in plan) * self.spec.cv_folds + 2
        survivors, rounds, ranked = candidates, [], []
        for i, (_, n_rows) in enumerate(plan):
            X, y = self._subsample(n_rows)
            pairs = [(algorithm, p) for p in survivors]
            ranked = ms.rank_rows(
                self.cross_validate("tune", pairs, X, y, tuned=True),
                f"{self.metric}_mean",
                self.metric,
            )
            rounds.append({"candidates": len(survivors), "rows": n_rows})
            if i + 1 < len(plan):
                survivors = [r["params"] for r in ranked if r["error"] is None][: plan[i + 1][0]]
                if not survivors:
                    break
        summary.update({"candidates": len(candidates), "rounds": rounds})
        best = next((r for r in ranked if r["error"] is None), None)
        if best is None:
            error = next((r["error"] for r in ranked if r["error"]), "no candidate finished")
            self.notes.append(f"Tuning '{algorithm.name}' failed for every candidate: {error}")
        else:
            summary["best_params"] = best["params"]
            summary[f"best_{self.metric}"] = best[f"{self.metric}_mean"]
        return best, summary

    def _subsample(self, n_rows: int) -> tuple[pd.DataFrame, np.ndarray | None]:
        if n_rows >= len(self.X_train):
            return self.X_train, self.y_train
        idx, _ = train_test_split(
            np.arange(len(self.X_train)),
            train_size=n_rows,
            random_state=self.spec.random_state,
            stratify=self.y_train if self.task == "classification" else None,
        )
        y = None if self.y_train is None else self.y_train[idx]
        return self.X_train.iloc[idx].reset_index(drop=True), y

    # -- 4. refit and evaluate ------------------------------------------------------------------

    def evaluate(self, row: dict[str, Any]) -> tuple[Pipeline, dict[str, Any], dict[str, Any]]:
        algorithm = get_algorithm(self.task, row["algorithm"])
        model = self._pipeline(algorithm, row["params"])
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            model.fit(self.X_train, self.y_train)
        self.tracker.emit("refit", f"Refitted {algorithm.name} on the training split", advance=1)
        seed = self.spec.random_state
        plots: dict[str, Any] = {}
        if self.task == "clustering":
            labels = model.predict(self.X_test)
            transformed = model[:-1].transform(self.X_test)
            metrics = mt.clustering_scores(transformed, labels, seed)
            by_k = ms.by_k(self.leaderboard)
            plots["elbow"] = mt.elbow_plot(
                [r["params"]["n_clusters"] for r in by_k],
                [r["inertia_mean"] for r in by_k],
                [r["silhouette_mean"] for r in by_k],
                self.selection,
            )
            plots.update(mt.cluster_plots(transformed, labels, seed))
        else:
            y_pred, proba = mt.predict_outputs(model, self.X_test, self.task, self.classes)
            metrics = mt.score_predictions(self.task, self.y_test, y_pred, proba, self.classes)
            if self.task == "classification":
                assert self.classes is not None
                plots["confusion_matrix"] = mt.confusion_matrix_plot(
                    self.y_test, y_pred, self.classes
                )
                if proba is not None:
                    plots["roc"], plots["precision_recall"] = mt.roc_pr_plots(
                        self.y_test, proba, self.classes
                    )
            else:
                plots["residuals"], plots["predicted_vs_actual"] = mt.regression_plots(
                    self.y_test, y_pred, seed
                )
            plots["feature_importance"] = mt.importance_plot(
                model,
                self.X_test,
                self.y_test,
                task=self.task,
                metric=self.metric,
                classes=self.classes,
                seed=seed,
                n_jobs=self.spec.n_jobs,
            )
        self.tracker.emit("evaluate", "Evaluated on the holdout", advance=1)
        return model, mt.json_safe(metrics), plots

    def choose_k(self) -> dict[str, Any]:
        """The k-means row chosen by ``n_clusters``, else by ``k_rule`` (noted, with the k
        the other rule picks)."""
        row, self.selection, note = ms.choose_k(self.leaderboard, self.spec)
        self.notes.append(note)
        return row

    def output(self, model: Pipeline) -> dict[str, Any]:
        if self.task == "classification":
            return {
                "kind": "classification",
                "target": self.spec.target,
                "classes": mt.json_safe(list(model.classes_)),
                "probabilities": hasattr(model, "predict_proba"),
            }
        if self.task == "regression":
            return {"kind": "regression", "target": self.spec.target}
        k = int(model[-1].n_clusters)
        return {"kind": "clustering", "n_clusters": k, "labels": list(range(k))}

    # -- the whole run --------------------------------------------------------------------------

    def run(self) -> dict[str, Any]:
        """Compare, tune, evaluate; returns the fields of a TrainingResult."""
        spec = self.spec
        self.tracker.total = 1 + len(self.candidates()) * spec.cv_folds + 2
        if spec.tune and self.task != "clustering":
            self.tracker.total += spec.n_iter * spec.cv_folds  # refined once tuning starts
        self.tracker.emit("prepare", "Data checked and preprocessing planned", advance=1)
        self.leaderboard = self.compare()
        best = self.leaderboard[0]
        if self.task == "clustering":
            best = self.choose_k()
        else:
            self.selection = {
                "metric": self.metric,
                "on": f"{spec.cv_folds}-fold cross-validation",
                "higher_is_better": mt.higher_is_better(self.metric),
                "default": spec.metric is None,
            }
        tuning = None
        if spec.tune and self.task == "clustering":
            self.notes.append("Tuning does not apply to clustering; k is compared over k_range.")
        elif spec.tune:
            tuned, tuning = self.tune(best)
            if tuned is not None:
                self.leaderboard = ms.rank_rows(
                    [*self.leaderboard, tuned], f"{self.metric}_mean", self.metric
                )
                best = self.leaderboard[0] if self.leaderboard[0] is tuned else best
        self.tracker.total = self.tracker.step + 2
        model, holdout_metrics, plots = self.evaluate(best)
        self.notes.extend(f"{name} warned: {m[0]}" for name, m in self.warnings.items() if m)
        return {
            "task": self.task,
            "target": spec.target if self.task != "clustering" else None,
            "features": [c["name"] for c in self.signature],
            "primary_metric": self.metric,
            "leaderboard": mt.json_safe(self.leaderboard),
            "best_algorithm": best["algorithm"],
            "best_params": mt.json_safe(best["params"]),
            "model": model,
            "holdout_metrics": holdout_metrics,
            "cv_metrics": self._row_metrics(best),
            "plots": plots,
            "notes": self.notes,
            "dropped_columns": self.dropped + self.plan.dropped,
            "signature": self.signature,
            "output": self.output(model),
            "n_rows": {"train": len(self.X_train), "holdout": len(self.X_test)},
            "tuning": mt.json_safe(tuning),
            "selection": mt.json_safe(self.selection),
        }


# --- entry points ----------------------------------------------------------------------------


def _resolve_spec(spec: TrainingSpec | Mapping[str, Any] | None, options: Any) -> TrainingSpec:
    if spec is None:
        return TrainingSpec.from_dict(options)
    if isinstance(spec, Mapping):
        return TrainingSpec.from_dict({**spec, **options})
    if options:
        unknown = sorted(set(options) - {f.name for f in dataclasses.fields(TrainingSpec)})
        if unknown:
            raise Invalid(f"Unknown training option(s): {', '.join(unknown)}.", options=unknown)
        spec = dataclasses.replace(spec, **options)
    spec.validate()
    return spec


def _check_frame(df: pd.DataFrame) -> None:
    if not isinstance(df, pd.DataFrame) or df.shape[1] == 0 or len(df) == 0:
        raise Invalid("There is no data to train on: the table has no rows or no columns.")
    names = list(df.columns)
    odd = [repr(c) for c in names if not isinstance(c, str)]
    if odd:
        raise Invalid(f"Column names must be text; rename {', '.join(odd[:5])} first.")
    repeated = sorted({c for c in names if names.count(c) > 1})
    if repeated:
        raise Invalid(f"Column names must be unique; repeated: {', '.join(repeated)}.")


def _is_forecast(spec: TrainingSpec) -> bool:
    return spec.task == "forecasting" or (spec.task is None and spec.date_column is not None)


def train(
    df: pd.DataFrame,
    spec: TrainingSpec | Mapping[str, Any] | None = None,
    *,
    progress: Callable[[TrainingProgress], None] | None = None,
    cancel: threading.Event | None = None,
    model_columns: Mapping[str, str] | None = None,
    **options: Any,
) -> TrainingResult:
    """Train, compare and evaluate models on ``df`` (see the module docstring for the flow).

    ``spec`` is a TrainingSpec, its dict form, or left out in favour of keyword options
    (``train(df, target="churn", algorithms=["random_forest"])``); keywords override the spec.
    ``progress`` is called after every fold and model; setting ``cancel`` stops the run at the
    next fold with ``Cancelled``. ``model_columns`` (column -> model version, from the dataset
    version's lineage) are columns a model wrote: left out unless ``include_model_columns``.
    Unusable data or options raise ``Invalid``.
    """
    started = time.perf_counter()
    resolved = _resolve_spec(spec, options)
    _check_frame(df)
    tracker = ms.ProgressTracker(progress, cancel)
    tracker.check()
    with ms.limited_threads(ms.thread_limit(len(df))):
        if _is_forecast(resolved):
            fields = run_forecasting(df, resolved, tracker)
        else:
            run = _Run(df, resolved, tracker, model_columns)
            run.prepare()
            fields = run.run()
    fields["leaderboard"] = ms.leaderboard_frame(fields["leaderboard"], fields["primary_metric"])
    result = TrainingResult(
        **fields,
        library_versions=library_versions(),
        spec=resolved,
        duration_seconds=time.perf_counter() - started,
    )
    tracker.emit("done", f"Best: {result.best_algorithm}")
    return result


def compare(
    df: pd.DataFrame,
    spec: TrainingSpec | Mapping[str, Any] | None = None,
    *,
    progress: Callable[[TrainingProgress], None] | None = None,
    cancel: threading.Event | None = None,
    model_columns: Mapping[str, str] | None = None,
    **options: Any,
) -> pd.DataFrame:
    """Only the cross-validated leaderboard of the spec's algorithms (a DataFrame, as
    ``TrainingResult.leaderboard``): no tuning, no refit.

    Forecasting has no cheaper comparison than its full run, so it returns that leaderboard.
    """
    resolved = _resolve_spec(spec, options)
    if _is_forecast(resolved):
        return train(df, resolved, progress=progress, cancel=cancel).leaderboard
    _check_frame(df)
    tracker = ms.ProgressTracker(progress, cancel)
    tracker.check()
    run = _Run(df, resolved, tracker, model_columns)
    run.prepare()
    tracker.total = 1 + len(run.candidates()) * resolved.cv_folds
    tracker.emit("prepare", "Data checked and preprocessing planned", advance=1)
    with ms.limited_threads(ms.thread_limit(len(df))):
        leaderboard = ms.leaderboard_frame(mt.json_safe(run.compare()), run.metric)
    tracker.total = tracker.step  # an ensemble left out counted steps that never came
    tracker.emit("done", "Comparison finished")
    return leaderboard
