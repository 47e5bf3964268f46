"""Time-series forecasting: series preparation, the forecaster estimator, and ``forecast()``;
the engine's comparison of forecasting methods is :mod:`.forecast_runs`.

A forecaster is a scikit-learn estimator (``fit(X, y)`` with ``X[date_column]``) so it lives in a
``Pipeline``, is saved with skops like every other model and answers ``predict`` for future dates.
Statsmodels models are stored as their fitted parameters only and rebuilt on demand with
``smooth``/``filter`` (no re-estimation), which keeps artifacts to plain arrays and dicts.
"""

from __future__ import annotations

import math
import warnings
from typing import Any

import numpy as np
import pandas as pd
from pandas.tseries.frequencies import to_offset
from sklearn.base import BaseEstimator, RegressorMixin
from sklearn.ensemble import HistGradientBoostingRegressor
from statsmodels.tsa.exponential_smoothing.ets import ETSModel
from statsmodels.tsa.statespace.sarimax import SARIMAX

from .errors import Invalid

FORECAST_ALGORITHMS = ("seasonal_naive", "ets", "sarimax", "lag_hgb")
DEFAULT_FORECAST_ALGORITHMS = ("seasonal_naive", "ets", "sarimax", "lag_hgb")
#: SARIMAX with a long season is slow to fit; above this period it is left out of the defaults.
MAX_SARIMAX_SEASON = 24
#: The forecast plot shows at most this many points of history.
MAX_HISTORY_POINTS = 500
#: The fewest points a model is ever fitted on (backtest windows that leave fewer are skipped).
MIN_TRAIN_POINTS = 8

# The imports ``SeriesForecaster`` needs, written into scripts exported by ``to_code()``.
FORECASTER_IMPORTS = """\
import math
import warnings

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, RegressorMixin
from sklearn.ensemble import HistGradientBoostingRegressor
from statsmodels.tsa.exponential_smoothing.ets import ETSModel
from statsmodels.tsa.statespace.sarimax import SARIMAX
"""

_SEASON_BY_UNIT = {
    "min": 60,
    "h": 24,
    "D": 7,
    "B": 5,
    "W": 52,
    "MS": 12,
    "ME": 12,
    "QS": 4,
    "QE": 4,
    "BMS": 12,
    "BME": 12,
}


def season_length(frequency: str) -> int | None:
    """The natural seasonal period of a frequency (7 for daily, 12 for monthly...), if any."""
    offset = to_offset(frequency)
    if getattr(offset, "n", 1) != 1:
        return None
    unit = offset.rule_code.split("-")[0]
    return _SEASON_BY_UNIT.get(unit)


def _grid(dates: pd.DatetimeIndex, frequency: str) -> pd.DatetimeIndex:
    return pd.date_range(dates[0], dates[-1], freq=frequency)


def _fits_grid(dates: pd.DatetimeIndex, frequency: str, min_coverage: float) -> bool:
    try:
        grid = _grid(dates, frequency)
    except ValueError:
        return False
    if len(grid) == 0 or grid[0] != dates[0]:
        return False
    return bool(dates.isin(grid).all() and len(dates) >= min_coverage * len(grid))


def infer_frequency(dates: pd.DatetimeIndex) -> str | None:
    """The series' frequency: ``pd.infer_freq``, else the calendar grid that fits with gaps.

    The fallback handles series with a few missing periods (which ``infer_freq`` rejects): it
    tries the frequencies suggested by the typical gap and accepts one if every date lies on its
    grid and at least 80% of the grid is present.
    """
    if len(dates) >= 3:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            inferred = pd.infer_freq(dates)
        if inferred is not None:
            return to_offset(inferred).freqstr
    if len(dates) < 2:
        return None
    gaps = pd.TimedeltaIndex(np.diff(dates.values))
    gaps = gaps[gaps > pd.Timedelta(0)]
    if len(gaps) == 0:
        return None
    step = gaps.min()
    first = dates[0]
    month = first.strftime("%b").upper()
    days = step / pd.Timedelta(days=1)
    candidates: list[str] = []
    if 27 <= days <= 31:
        candidates = ["MS", "ME"]
    elif 89 <= days <= 92:
        candidates = [f"QS-{month}", f"QE-{month}"]
    elif 365 <= days <= 366:
        candidates = [f"YS-{month}", f"YE-{month}"]
    elif days == 7:
        candidates = [f"W-{first.strftime('%a').upper()}"]
    elif days == 1:
        candidates = ["D", "B"]
    if step < pd.Timedelta(days=1) or days in (1.0, 7.0) or not candidates:
        candidates.append(to_offset(step).freqstr)
    for candidate in candidates:
        if _fits_grid(dates, candidate, 0.8):
            return to_offset(candidate).freqstr
    return None


def prepare_series(
    df: pd.DataFrame, *, date_column: str, target: str, frequency: str | None = None
) -> tuple[pd.DataFrame, str, list[str]]:
    """Validate and regularize a (date, target) series.

    Returns the frame on a regular grid (gaps and missing targets interpolated), the frequency
    and notes. Duplicate dates, unparseable dates, a non-numeric target and irregular dates
    without an explicit frequency are errors.
    """
    for name in (date_column, target):
        if name not in df.columns:
            raise Invalid(f"Column '{name}' is not in the data.", column=name)
    notes: list[str] = []
    raw_dates = df[date_column]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        dates = pd.to_datetime(raw_dates, errors="coerce")
    if isinstance(dates.dtype, pd.DatetimeTZDtype):
        dates = dates.dt.tz_convert(None)
    if dates.notna().sum() == 0:
        raise Invalid(f"Column '{date_column}' contains no parseable dates.", column=date_column)
    unparsed = int((dates.isna() & raw_dates.notna()).sum())
    if unparsed:
        example = raw_dates[dates.isna() & raw_dates.notna()].iloc[0]
        raise Invalid(
            f"Column '{date_column}' has {unparsed} value(s) that are not dates, e.g. {example!r}.",
            column=date_column,
            value=str(example),
        )
    values = pd.to_numeric(df[target], errors="coerce")
    bad = values.isna() & df[target].notna()
    if bad.any():
        raise Invalid(
            f"Target '{target}' must be numeric to forecast; found {df[target][bad].iloc[0]!r}.",
            column=target,
        )
    keep = dates.notna()
    if (~keep).any():
        notes.append(f"Dropped {int((~keep).sum())} row(s) without a date.")
    frame = pd.DataFrame({date_column: dates[keep], target: values[keep].astype("float64")})
    if frame[target].notna().sum() == 0:
        raise Invalid(f"Target '{target}' is missing in every row.", column=target)
    duplicated = frame[date_column].duplicated(keep=False)
    if duplicated.any():
        examples = sorted(frame.loc[duplicated, date_column].unique())[:3]
        shown = ", ".join(pd.Timestamp(d).isoformat() for d in examples)
        raise Invalid(
            f"Column '{date_column}' has {int(frame.loc[duplicated, date_column].nunique())} "
            f"duplicated date(s) (e.g. {shown}); a forecast needs one row per date. Aggregate "
            "the data per date first (e.g. sum the sales of each day).",
            column=date_column,
            duplicates=[pd.Timestamp(d).isoformat() for d in examples],
        )
    frame = frame.sort_values(date_column, kind="stable").reset_index(drop=True)
    index = pd.DatetimeIndex(frame[date_column])
    if frequency is not None:
        try:
            frequency = to_offset(frequency).freqstr
        except ValueError as exc:
            raise Invalid(f"Unknown frequency {frequency!r}.", frequency=frequency) from exc
        if not _fits_grid(index, frequency, 0.0):
            raise Invalid(
                f"The dates in '{date_column}' do not fall on a regular {frequency!r} grid "
                f"starting at {index[0].isoformat()}.",
                frequency=frequency,
            )
    else:
        frequency = infer_frequency(index)
        if frequency is None:
            raise Invalid(
                f"The dates in '{date_column}' are irregular and no frequency could be inferred; "
                "pass frequency= (e.g. 'D', 'W-SUN', 'MS').",
                column=date_column,
            )
    series = SeriesForecaster.regular_series(index, frame[target].to_numpy(), frequency)
    filled_dates = len(series) - len(index)
    if filled_dates:
        notes.append(
            f"Filled {filled_dates} missing date(s) on the {frequency} grid by interpolation."
        )
    missing_values = int(frame[target].isna().sum())
    if missing_values:
        notes.append(f"Interpolated {missing_values} missing target value(s).")
    regular = pd.DataFrame({date_column: series.index, target: series.to_numpy()})
    return regular, frequency, notes


def default_horizon(n_points: int, frequency: str) -> int:
    """One season ahead when the series is long enough, else a fifth of the series."""
    season = season_length(frequency) or 12
    return max(1, min(season, n_points // 5))


# ``SeriesForecaster`` is copied verbatim into scripts exported by ``to_code()``: it may only use
# the names imported in ``FORECASTER_IMPORTS``.


class SeriesForecaster(RegressorMixin, BaseEstimator):
    """Univariate forecaster with prediction intervals.

    ``method``: ``seasonal_naive`` (repeat the last season), ``ets`` (statsmodels ETS, the
    trend/season combination with the best AICc), ``sarimax`` (statsmodels SARIMAX, default
    order (1,1,1)(0,1,1,m)) or ``lag_hgb`` (histogram gradient boosting on lags and calendar
    features of the linearly detrended series, forecasting recursively). ``options`` passes
    method settings (ETS ``trend``/``seasonal``, SARIMAX ``order``/``seasonal_order``, or
    HistGradientBoostingRegressor parameters). Intervals at ``level`` come from statsmodels for
    ETS/SARIMAX and from held-out one-step error quantiles, widened with the horizon, otherwise.
    """

    def __init__(
        self,
        method: str = "ets",
        date_column: str = "date",
        freq: str = "D",
        season_length: int | None = None,
        horizon: int = 1,
        level: float = 0.9,
        options: dict | None = None,
        random_state: int | None = 0,
    ) -> None:
        self.method = method
        self.date_column = date_column
        self.freq = freq
        self.season_length = season_length
        self.horizon = horizon
        self.level = level
        self.options = options
        self.random_state = random_state

    @staticmethod
    def regular_series(dates: Any, values: Any, freq: str) -> pd.Series:
        """The series on a regular ``freq`` grid; gaps and missing values linearly interpolated."""
        series = pd.Series(np.asarray(values, dtype=float), index=pd.DatetimeIndex(dates))
        series = series.sort_index().asfreq(freq)
        return series.interpolate(limit_direction="both")

    def fit(self, X: pd.DataFrame, y: Any) -> SeriesForecaster:
        if self.method not in ("seasonal_naive", "ets", "sarimax", "lag_hgb"):
            raise ValueError(f"unknown forecasting method {self.method!r}")
        if not 0 < self.level < 1:
            raise ValueError("level must be between 0 and 1")
        series = self.regular_series(pd.to_datetime(X[self.date_column]), y, self.freq)
        if series.isna().any():
            raise ValueError("the target has no values to learn from")
        self.history_ = series.to_numpy(dtype=float)
        self.start_ = series.index[0].isoformat()
        self.last_ = series.index[-1].isoformat()
        m = self.season_length
        self.season_ = int(m) if m and m >= 2 and len(self.history_) >= 2 * m + 2 else None
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            getattr(self, "_fit_" + self.method)()
        return self

    # -- prediction -----------------------------------------------------------------------------

    def forecast(self, steps: int | None = None, level: float | None = None) -> pd.DataFrame:
        """The next ``steps`` periods after the training data, with interval bounds."""
        steps = int(steps or self.horizon)
        mean, lower, upper = self._forecast(steps, self.level if level is None else level)
        dates = pd.date_range(pd.Timestamp(self.last_), periods=steps + 1, freq=self.freq)[1:]
        return pd.DataFrame(
            {self.date_column: dates, "prediction": mean, "lower": lower, "upper": upper}
        )

    def predict_interval(self, X: pd.DataFrame, level: float | None = None) -> pd.DataFrame:
        """Prediction and interval for each date in ``X[date_column]`` (future dates only)."""
        dates = pd.DatetimeIndex(pd.to_datetime(X[self.date_column]))
        if dates.isna().any():
            raise ValueError(f"'{self.date_column}' has missing dates")
        last = pd.Timestamp(self.last_)
        if len(dates) and dates.min() <= last:
            raise ValueError(
                f"forecast dates must be after the last training date {last.isoformat()}; "
                f"got {dates.min().isoformat()}"
            )
        if len(dates) == 0:
            return pd.DataFrame({"prediction": [], "lower": [], "upper": []}, index=X.index)
        grid = pd.date_range(last, dates.max(), freq=self.freq)
        steps = grid.get_indexer(dates)
        if (steps < 1).any():
            bad = dates[steps < 1][0]
            raise ValueError(f"{bad.isoformat()} is not on the model's {self.freq} date grid")
        mean, lower, upper = self._forecast(
            int(steps.max()), self.level if level is None else level
        )
        picked = steps - 1
        return pd.DataFrame(
            {"prediction": mean[picked], "lower": lower[picked], "upper": upper[picked]},
            index=X.index,
        )

    def predict(self, X: pd.DataFrame) -> np.ndarray:
        return self.predict_interval(X)["prediction"].to_numpy()

    def describe(self) -> dict:
        """The fitted form in words and numbers (which ETS components, SARIMAX orders, lags)."""
        if self.method == "ets":
            return {"method": "ets", **self.ets_config_}
        if self.method == "sarimax":
            order, seasonal = list(self.order_), list(self.seasonal_order_)
            return {"method": "sarimax", "order": order, "seasonal_order": seasonal}
        if self.method == "lag_hgb":
            return {"method": "lag_hgb", "lags": list(self.lags_), "detrended": True}
        return {"method": "seasonal_naive", "season_length": self.season_ or 1}

    def _forecast(self, steps: int, level: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        if not 1 <= steps <= 10_000:
            raise ValueError(f"can forecast 1 to 10000 periods ahead, not {steps}")
        if not 0 < level < 1:
            raise ValueError("level must be between 0 and 1")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return getattr(self, "_forecast_" + self.method)(steps, level)

    def _empirical_interval(
        self, mean: np.ndarray, level: float, widen: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        errors = self.abs_errors_
        half = float(np.quantile(errors, level)) if len(errors) else 0.0
        return mean, mean - half * widen, mean + half * widen

    # -- seasonal naive -------------------------------------------------------------------------

    def _fit_seasonal_naive(self) -> None:
        m = self.season_ or 1
        y = self.history_
        self.abs_errors_ = np.abs(y[m:] - y[:-m])[-1000:]

    def _forecast_seasonal_naive(self, steps: int, level: float) -> tuple:
        m = self.season_ or 1
        y = self.history_
        h = np.arange(steps)
        mean = y[len(y) - m + (h % m)]
        return self._empirical_interval(mean, level, np.sqrt(h // m + 1.0))

    # -- ETS ------------------------------------------------------------------------------------

    def _ets_model(self, config: dict) -> ETSModel:
        return ETSModel(
            pd.Series(self.history_),
            error="add",
            trend=config["trend"],
            damped_trend=config["damped_trend"],
            seasonal=config["seasonal"],
            seasonal_periods=config["seasonal_periods"],
        )

    def _fit_ets(self) -> None:
        options = dict(self.options or {})
        trends = [options["trend"]] if "trend" in options else [None, "add"]
        seasonals = [options["seasonal"]] if "seasonal" in options else [None, "add"]
        best = None
        for trend in trends:
            for seasonal in seasonals:
                if seasonal is not None and self.season_ is None:
                    continue
                config = {
                    "trend": trend,
                    "damped_trend": trend is not None and bool(options.get("damped_trend", True)),
                    "seasonal": seasonal,
                    "seasonal_periods": self.season_ if seasonal else None,
                }
                try:
                    result = self._ets_model(config).fit(disp=False)
                except (ValueError, np.linalg.LinAlgError):
                    continue
                if np.isfinite(result.aicc) and (best is None or result.aicc < best[0]):
                    best = (float(result.aicc), config, np.asarray(result.params, dtype=float))
        if best is None:
            raise ValueError("no exponential smoothing model could be fitted to this series")
        _, self.ets_config_, self.params_ = best

    def _forecast_ets(self, steps: int, level: float) -> tuple:
        n = len(self.history_)
        result = self._ets_model(self.ets_config_).smooth(self.params_)
        frame = result.get_prediction(start=n, end=n + steps - 1).summary_frame(alpha=1 - level)
        return (
            frame["mean"].to_numpy(dtype=float),
            frame["pi_lower"].to_numpy(dtype=float),
            frame["pi_upper"].to_numpy(dtype=float),
        )

    # -- SARIMAX --------------------------------------------------------------------------------

    def _sarimax_model(self) -> SARIMAX:
        return SARIMAX(
            pd.Series(self.history_), order=self.order_, seasonal_order=self.seasonal_order_
        )

    def _fit_sarimax(self) -> None:
        options = dict(self.options or {})
        m = self.season_
        seasonal = (0, 1, 1, m) if m and len(self.history_) >= 3 * m else (0, 0, 0, 0)
        self.order_ = tuple(int(v) for v in options.get("order", (1, 1, 1)))
        self.seasonal_order_ = tuple(int(v) for v in options.get("seasonal_order", seasonal))
        result = self._sarimax_model().fit(disp=False)
        self.params_ = np.asarray(result.params, dtype=float)

    def _forecast_sarimax(self, steps: int, level: float) -> tuple:
        result = self._sarimax_model().filter(self.params_).get_forecast(steps)
        interval = np.asarray(result.conf_int(alpha=1 - level), dtype=float)
        return np.asarray(result.predicted_mean, dtype=float), interval[:, 0], interval[:, 1]

    # -- lags + gradient boosting ---------------------------------------------------------------

    def _calendar(self, periods: int) -> np.ndarray:
        dates = pd.date_range(pd.Timestamp(self.start_), periods=periods, freq=self.freq)
        parts = [dates.month, dates.day, dates.day_of_week, dates.day_of_year, dates.hour]
        return np.column_stack([np.asarray(p, dtype=float) for p in parts])

    def _design(self, residuals: np.ndarray, calendar: np.ndarray, rows: range) -> np.ndarray:
        lags = np.asarray(self.lags_)
        lagged = np.column_stack([residuals[np.asarray(rows) - lag] for lag in lags])
        return np.column_stack([lagged, calendar[np.asarray(rows)]])

    def _regressor(self, n_rows: int) -> HistGradientBoostingRegressor:
        settings = {
            "learning_rate": 0.05,
            "max_iter": 200,
            "min_samples_leaf": int(min(20, max(3, n_rows // 20))),
            "random_state": self.random_state,
        }
        settings.update(self.options or {})
        return HistGradientBoostingRegressor(**settings)

    def _fit_lag_hgb(self) -> None:
        y = self.history_
        n = len(y)
        t = np.arange(n, dtype=float)
        self.trend_ = np.polyfit(t, y, 1) if n >= 3 else np.array([0.0, float(y.mean())])
        residuals = y - np.polyval(self.trend_, t)
        m = self.season_ or 0
        short = max(1, min(n // 4, max(3, min(m, 7)) if m else 3))
        lags = set(range(1, short + 1)) | {lag for lag in (m, 2 * m) if lag and lag <= n // 3}
        self.lags_ = sorted(lag for lag in lags if lag < n - 2) or [1]
        rows = range(max(self.lags_), n)
        X = self._design(residuals, self._calendar(n), rows)
        target = residuals[np.asarray(rows)]
        self.regressor_ = self._regressor(len(target)).fit(X, target)
        # Held-out one-step errors from expanding-window refits size the intervals; in-sample
        # residuals of a boosted model would make them far too narrow.
        errors: list[np.ndarray] = []
        if len(target) >= 40:
            cuts = [len(target) * k // 4 for k in range(1, 5)]
            for start, stop in zip(cuts[:-1], cuts[1:], strict=True):
                model = self._regressor(start).fit(X[:start], target[:start])
                errors.append(np.abs(model.predict(X[start:stop]) - target[start:stop]))
        else:
            errors.append(np.abs(np.diff(y)))
        self.abs_errors_ = np.concatenate(errors)[-1000:]

    def _forecast_lag_hgb(self, steps: int, level: float) -> tuple:
        y = self.history_
        n = len(y)
        t = np.arange(n + steps, dtype=float)
        trend = np.polyval(self.trend_, t)
        buffer = np.concatenate([y - trend[:n], np.zeros(steps)])
        calendar = self._calendar(n + steps)
        for i in range(n, n + steps):
            row = self._design(buffer, calendar, range(i, i + 1))
            buffer[i] = self.regressor_.predict(row)[0]
        mean = buffer[n:] + trend[n:]
        return self._empirical_interval(mean, level, np.sqrt(np.arange(1, steps + 1, dtype=float)))


def _unwrap(model: Any) -> SeriesForecaster:
    estimator = model.steps[-1][1] if hasattr(model, "steps") else model
    if not isinstance(estimator, SeriesForecaster):
        raise Invalid("This model is not a forecasting model.")
    return estimator


def forecast(model: Any, horizon: int | None = None, *, level: float | None = None) -> pd.DataFrame:
    """Extend a fitted forecasting model (pipeline or forecaster) ``horizon`` periods ahead.

    Returns one row per future date with ``prediction`` and the ``lower``/``upper`` bounds of the
    ``level`` prediction interval (the model's level when not given).
    """
    forecaster = _unwrap(model)
    if horizon is not None and horizon < 1:
        raise Invalid("horizon must be at least 1.", horizon=horizon)
    if level is not None and not 0 < level < 1:
        raise Invalid("level must be between 0 and 1.", level=level)
    return forecaster.forecast(horizon, level)


def forecast_plot(
    history: pd.DataFrame,
    holdout: pd.DataFrame,
    holdout_pred: pd.DataFrame,
    future: pd.DataFrame,
    *,
    date_column: str,
    target: str,
    level: float,
) -> dict[str, Any]:
    """History (bounded), holdout actual vs forecast, and the future forecast, with intervals."""
    shown = history.tail(MAX_HISTORY_POINTS)

    def iso(values: pd.Series) -> list[str]:
        return [pd.Timestamp(v).isoformat() for v in values]

    def floats(values: Any) -> list[float | None]:
        return [None if not math.isfinite(v) else float(v) for v in np.asarray(values, float)]

    return {
        "kind": "forecast",
        "title": f"Forecast of {target} ({round(level * 100)}% interval)",
        "x_title": date_column,
        "y_title": target,
        "level": level,
        "history": {
            "x": iso(shown[date_column]),
            "y": floats(shown[target]),
            "n_shown": len(shown),
            "n_total": len(history),
        },
        "holdout": {
            "x": iso(holdout[date_column]),
            "actual": floats(holdout[target]),
            "predicted": floats(holdout_pred["prediction"]),
            "lower": floats(holdout_pred["lower"]),
            "upper": floats(holdout_pred["upper"]),
        },
        "future": {
            "x": iso(future[date_column]),
            "predicted": floats(future["prediction"]),
            "lower": floats(future["lower"]),
            "upper": floats(future["upper"]),
        },
    }


def forecast_scores(actual: np.ndarray, pred: pd.DataFrame) -> dict[str, float]:
    """MAE, MAPE, RMSE of the point forecast and the share of actuals inside the interval."""
    actual = np.asarray(actual, dtype=float)
    predicted = pred["prediction"].to_numpy(dtype=float)
    error = actual - predicted
    nonzero = np.abs(actual) > np.finfo(float).eps
    mape = float(np.mean(np.abs(error[nonzero] / actual[nonzero]))) if nonzero.any() else math.nan
    inside = (actual >= pred["lower"].to_numpy()) & (actual <= pred["upper"].to_numpy())
    return {
        "mae": float(np.mean(np.abs(error))),
        "mape": mape,
        "rmse": float(np.sqrt(np.mean(error**2))),
        "coverage": float(inside.mean()),
    }
