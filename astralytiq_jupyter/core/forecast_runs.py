"""The forecasting run of the training engine: every method backtested on rolling-origin
windows within the training part, the best chosen by backtest error, evaluated on the holdout
(the last ``horizon`` points, which take no part in the choice) and refitted on all data.

The forecaster itself (series preparation, the estimator, ``forecast()``) is
:mod:`.forecasting`."""

from __future__ import annotations

import time
import warnings
from typing import TYPE_CHECKING, Any

import pandas as pd
from sklearn.base import clone
from sklearn.pipeline import Pipeline

from . import metrics as mt
from . import model_selection as ms
from . import preprocessing as pp
from .errors import Invalid
from .forecasting import (
    DEFAULT_FORECAST_ALGORITHMS,
    FORECAST_ALGORITHMS,
    MAX_SARIMAX_SEASON,
    MIN_TRAIN_POINTS,
    SeriesForecaster,
    default_horizon,
    forecast_plot,
    forecast_scores,
    prepare_series,
    season_length,
)

if TYPE_CHECKING:
    from .training import TrainingSpec


def fit_window(
    forecaster: SeriesForecaster, frame: pd.DataFrame, cut: int, stop: int, target: str
) -> dict[str, Any]:
    """Fit on the points before ``cut``, forecast ``cut:stop`` and score it (one job)."""

    def run() -> dict[str, Any]:
        start = time.perf_counter()
        fitted = clone(forecaster).fit(frame.iloc[:cut], frame[target].iloc[:cut])
        fit_time = time.perf_counter() - start
        start = time.perf_counter()
        predicted = fitted.predict_interval(frame.iloc[cut:stop])
        return {
            "metrics": forecast_scores(frame[target].iloc[cut:stop].to_numpy(), predicted),
            "fit_time": fit_time,
            "score_time": time.perf_counter() - start,
            "predicted": predicted.reset_index(drop=True),
        }

    return ms.captured(run)


def _algorithms(spec: TrainingSpec, season: int | None, notes: list[str]) -> list[str]:
    names = spec.algorithms
    if names is None:
        names = list(DEFAULT_FORECAST_ALGORITHMS)
        if season is not None and season > MAX_SARIMAX_SEASON:
            names.remove("sarimax")
            notes.append(f"SARIMAX left out: a season of {season} periods is too slow to fit.")
    unknown = [a for a in names if a not in FORECAST_ALGORITHMS]
    if unknown or not names:
        raise Invalid(
            f"Unknown forecasting algorithm(s): {', '.join(unknown) or '(none given)'}. "
            f"Available: {', '.join(FORECAST_ALGORITHMS)}.",
            algorithms=unknown,
        )
    return list(dict.fromkeys(names))


def run_forecasting(
    df: pd.DataFrame, spec: TrainingSpec, tracker: ms.ProgressTracker
) -> dict[str, Any]:
    """Backtest every method, pick the best by backtest error, evaluate it on the holdout,
    refit it on all data.

    The leaderboard's ``<metric>_mean/_std`` come from rolling-origin backtests inside the
    training part (``cv_folds`` expanding windows of ``horizon`` points) and decide the ranking;
    ``holdout_<metric>`` comes from the last ``horizon`` points, which no choice looked at, so
    the chosen method's holdout error is an honest estimate of its error on new data (choosing
    on the holdout would report the luckiest method's error). Returns the fields of a
    TrainingResult.
    """
    if spec.target is None:
        raise Invalid("Forecasting needs a target column (the values to forecast).")
    if spec.date_column is None:
        raise Invalid("Forecasting needs date_column (the column with the dates).")
    frame, frequency, notes = prepare_series(
        df, date_column=spec.date_column, target=spec.target, frequency=spec.frequency
    )
    if spec.features:
        notes.append("Forecasting uses the date and target only; other features were ignored.")
    if spec.tune:
        notes.append("Tuning does not apply to forecasting; each method selects its own form.")
    metric = spec.metric or mt.PRIMARY_METRIC["forecasting"]
    if metric not in ("mae", "mape", "rmse"):
        raise Invalid(f"Metric {metric!r} does not apply to forecasting; use mae, mape or rmse.")
    n = len(frame)
    horizon = spec.horizon or default_horizon(n, frequency)
    if n < horizon + MIN_TRAIN_POINTS:
        raise Invalid(
            f"The series has {n} points; holding out the last {horizon} for evaluation needs "
            f"at least {horizon + MIN_TRAIN_POINTS}. Use a shorter horizon or more data.",
            points=n,
            horizon=horizon,
        )
    season = season_length(frequency)
    names = _algorithms(spec, season, notes)

    def build(name: str) -> SeriesForecaster:
        return SeriesForecaster(
            method=name,
            date_column=spec.date_column,
            freq=frequency,
            season_length=season,
            horizon=horizon,
            level=spec.interval_level,
            options=spec.params.get(name) or None,
            random_state=spec.random_state,
        )

    n_train = n - horizon
    cuts = [n_train - k * horizon for k in range(spec.cv_folds, 0, -1)]
    cuts = [c for c in cuts if c >= MIN_TRAIN_POINTS]
    if not cuts and len(names) > 1:
        raise Invalid(
            f"The series has {n} points: too few to compare methods on a backtest before the "
            f"{horizon}-point holdout (at least {2 * horizon + MIN_TRAIN_POINTS} are needed). "
            "Use a shorter horizon, more data, or name one algorithm.",
            points=n,
            horizon=horizon,
        )
    windows = [(c, c + horizon) for c in cuts] + [(n_train, n)]  # the last one is the holdout
    holdout = len(windows) - 1
    jobs = [
        ((name, w), fit_window, (build(name), frame, cut, stop, spec.target))
        for name in names
        for w, (cut, stop) in enumerate(windows)
    ]
    tracker.total = 1 + len(jobs) + 2
    tracker.emit("prepare", f"Series prepared ({n} points, frequency {frequency})", advance=1)
    outcomes: dict[str, dict[int, dict[str, Any]]] = {name: {} for name in names}
    warned: dict[str, str] = {}

    def on_result(key: tuple[str, int], outcome: dict[str, Any]) -> None:
        name, w = key
        outcomes[name][w] = outcome
        if outcome.get("warnings") and name not in warned:
            warned[name] = outcome["warnings"][0]
        what = "holdout" if w == holdout else f"backtest {w + 1}/{len(cuts)}"
        failed = f" failed ({outcome['error']})" if "error" in outcome else ""
        tracker.emit(
            "compare",
            f"{name}: {what}{failed}",
            advance=1,
            algorithm=name,
            fold=w + 1,
            n_folds=len(windows),
            metrics={metric: outcome.get("metrics", {}).get(metric)},
        )

    ms.run_jobs(
        jobs,
        on_result,
        tracker,
        n_jobs=spec.n_jobs,
        backend=spec.joblib_backend,
        threads=ms.thread_limit(n),
    )
    rows = []
    for name in names:
        held = outcomes[name][holdout]
        backtests = [outcomes[name][w] for w in range(len(cuts))]
        row = ms.summarize(name, spec.params.get(name, {}), backtests, mt.METRICS["forecasting"])
        for m in mt.METRICS["forecasting"]:
            row[f"holdout_{m}"] = held.get("metrics", {}).get(m)
        row["fit_time"] = held.get("fit_time", row["fit_time"])
        row["error"] = row["error"] or held.get("error")
        row["tuned"] = False
        rows.append(row)
    if all(r["error"] for r in rows):
        raise Invalid(
            "Every forecasting method failed: "
            + "; ".join(f"{r['algorithm']}: {r['error']}" for r in rows)
        )
    # With one method there is nothing to choose: its backtests may be missing (short series).
    ranking = f"{metric}_mean" if cuts else f"holdout_{metric}"
    leaderboard = ms.rank_rows(rows, ranking, metric)
    best = leaderboard[0]
    if cuts:
        notes.append(
            f"Method chosen by {metric} (mean over {len(cuts)} rolling-origin backtest "
            f"window(s) of {horizon} points within the training part); the last {horizon} "
            "points were held out of the choice, so the holdout error is an honest estimate."
        )
    final = build(best["algorithm"])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        final.fit(frame, frame[spec.target])
    tracker.emit("refit", f"Refitted {best['algorithm']} on the whole series", advance=1)
    plot = forecast_plot(
        frame.iloc[:n_train],
        frame.iloc[n_train:],
        outcomes[best["algorithm"]][holdout]["predicted"],
        final.forecast(horizon),
        date_column=spec.date_column,
        target=spec.target,
        level=spec.interval_level,
    )
    tracker.emit("evaluate", "Evaluated on the held-out tail", advance=1)
    notes.extend(f"{name} warned: {message}" for name, message in warned.items())
    dates = frame[spec.date_column]
    return {
        "task": "forecasting",
        "target": spec.target,
        "features": [spec.date_column],
        "primary_metric": metric,
        "leaderboard": mt.json_safe(leaderboard),
        "best_algorithm": best["algorithm"],
        "best_params": mt.json_safe(best["params"]),
        "model": Pipeline([("model", final)]),
        "holdout_metrics": mt.json_safe(outcomes[best["algorithm"]][holdout]["metrics"]),
        "cv_metrics": {m: best.get(f"{m}_mean") for m in mt.METRICS["forecasting"]},
        "plots": {"forecast": plot},
        "notes": notes,
        "dropped_columns": [],
        "signature": pp.describe_inputs(
            frame, [{"name": spec.date_column, "dtype": str(dates.dtype), "kind": "datetime"}]
        ),
        "output": {
            "kind": "forecasting",
            "target": spec.target,
            "date_column": spec.date_column,
            "frequency": frequency,
            "season_length": season,
            "horizon": horizon,
            "interval_level": spec.interval_level,
            "first_date": dates.iloc[0].isoformat(),
            "last_date": dates.iloc[-1].isoformat(),
            "model_form": mt.json_safe(final.describe()),
        },
        "n_rows": {"train": n_train, "holdout": horizon},
        "selection": {
            "metric": metric,
            "on": f"{len(cuts)} backtest window(s)" if cuts else "the only method",
            "higher_is_better": False,
            "default": spec.metric is None,
        },
    }
