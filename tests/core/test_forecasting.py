"""Forecasting: frequency inference, series validation, model choice by backtest error (the
holdout only estimates the chosen method's error), prediction intervals, forecasting beyond
the data and the exported script."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
from threadpoolctl import threadpool_limits

from astralytiq_jupyter.core.errors import Invalid
from astralytiq_jupyter.core.forecasting import (
    SeriesForecaster,
    forecast,
    infer_frequency,
    prepare_series,
    season_length,
)
from astralytiq_jupyter.core.training import TrainingProgress, train

# The exported scripts run like the engine on small data: one native thread per fit.
SCRIPT_ENV = {**os.environ, "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"}


@pytest.fixture(autouse=True)
def _one_thread():
    with threadpool_limits(1):
        yield


def _sales(n: int = 72, seed: int = 0) -> pd.DataFrame:
    """Monthly sales: trend + yearly season + noise, dates as text like a CSV upload."""
    rng = np.random.default_rng(seed)
    t = np.arange(n)
    values = 200 + 2 * t + 30 * np.sin(2 * np.pi * t / 12) + rng.normal(0, 4, n)
    dates = pd.date_range("2017-01-01", periods=n, freq="MS")
    return pd.DataFrame({"month": dates.strftime("%Y-%m-%d"), "sales": values})


@pytest.fixture(scope="module")
def co2_monthly() -> pd.DataFrame:
    weekly = sm.datasets.co2.load_pandas().data["co2"]
    monthly = weekly.resample("MS").mean().loc["1990":"2001"]
    return pd.DataFrame({"month": monthly.index, "co2": monthly.to_numpy()})


# --- frequency and validation ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("dates", "expected"),
    [
        (pd.date_range("2024-01-01", periods=30, freq="D"), "D"),
        (pd.date_range("2020-01-01", periods=30, freq="MS"), "MS"),
        (pd.date_range("2020-01-31", periods=30, freq="ME"), "ME"),
        (pd.date_range("2024-01-07", periods=30, freq="W-SUN"), "W-SUN"),
        (pd.date_range("2024-01-01", periods=30, freq="h"), "h"),
        (pd.date_range("2024-01-01", periods=30, freq="QS"), "QS-JAN"),
        # Gaps defeat pd.infer_freq; the grid fallback still finds the frequency.
        (pd.date_range("2020-01-01", periods=30, freq="MS").delete([4, 11]), "MS"),
        (pd.date_range("2024-01-01", periods=60, freq="D").delete([3, 20, 41]), "D"),
        (pd.date_range("2024-01-03", periods=30, freq="W-WED").delete([5]), "W-WED"),
    ],
)
def test_frequency_inference(dates, expected):
    assert infer_frequency(pd.DatetimeIndex(dates)) == expected


def test_irregular_dates_need_an_explicit_frequency():
    rng = np.random.default_rng(0)
    dates = pd.Timestamp("2024-01-01") + pd.to_timedelta(np.cumsum(rng.integers(1, 9, 40)), "D")
    frame = pd.DataFrame({"d": dates, "y": rng.normal(size=40)})
    assert infer_frequency(pd.DatetimeIndex(dates)) is None
    with pytest.raises(Invalid, match="irregular.*pass frequency="):
        prepare_series(frame, date_column="d", target="y")
    with pytest.raises(Invalid, match="do not fall on a regular 'W-SUN' grid"):
        prepare_series(frame, date_column="d", target="y", frequency="W-SUN")
    regular, frequency, notes = prepare_series(frame, date_column="d", target="y", frequency="D")
    assert frequency == "D" and len(regular) == (dates[-1] - dates[0]).days + 1
    assert any("Filled" in n for n in notes)


@pytest.mark.parametrize(
    ("frame", "message"),
    [
        (
            pd.DataFrame(
                {"d": ["2024-01-01", "2024-01-02", "2024-01-02", "2024-01-03"] * 5, "y": range(20)}
            ),
            "duplicated date",
        ),
        (pd.DataFrame({"d": ["2024-01-01", "soon"] * 10, "y": range(20)}), "not dates.*'soon'"),
        (pd.DataFrame({"d": pd.date_range("2024-01-01", periods=20), "y": ["a"] * 20}), "numeric"),
        (pd.DataFrame({"d": pd.date_range("2024-01-01", periods=20), "y": np.nan}), "missing"),
        (
            pd.DataFrame({"d": pd.date_range("2024-01-01", periods=12), "y": range(12)}),
            "needs at least",
        ),
    ],
)
def test_bad_series_are_clear_errors(frame, message):
    with pytest.raises(Invalid, match=message):
        train(frame, target="y", date_column="d", horizon=7, algorithms=["seasonal_naive"])


def test_duplicate_dates_name_examples():
    frame = pd.DataFrame(
        {"d": pd.to_datetime(["2024-01-01", "2024-01-02", "2024-01-02"] * 4), "y": range(12)}
    )
    with pytest.raises(Invalid) as error:
        prepare_series(frame, date_column="d", target="y")
    assert error.value.detail["duplicates"][:2] == ["2024-01-01T00:00:00", "2024-01-02T00:00:00"]
    assert "Aggregate" in error.value.message


def test_missing_values_and_gaps_are_interpolated():
    frame = _sales(36).drop(index=[5, 6]).reset_index(drop=True)
    frame.loc[10, "sales"] = np.nan
    regular, frequency, notes = prepare_series(frame, date_column="month", target="sales")
    assert frequency == "MS" and len(regular) == 36 and regular["sales"].notna().all()
    assert len(notes) == 2


def test_season_lengths():
    assert season_length("D") == 7
    assert season_length("MS") == 12
    assert season_length("QS-JAN") == 4
    assert season_length("h") == 24
    assert season_length("YS-JAN") is None
    assert season_length("2D") is None


# --- the engine -----------------------------------------------------------------------------------


def test_monthly_sales_forecast_picks_by_backtest_error():
    events: list[TrainingProgress] = []
    result = train(
        _sales(),
        target="sales",
        date_column="month",
        algorithms=["seasonal_naive", "ets", "lag_hgb"],
        horizon=12,
        cv_folds=2,
        progress=events.append,
    )
    assert result.task == "forecasting"
    assert result.output["frequency"] == "MS" and result.output["season_length"] == 12
    board = result.leaderboard.to_dict("records")
    assert result.leaderboard.attrs["ranked_by"] == "mae"
    backtest = [r["mae_mean"] for r in board]
    assert backtest == sorted(backtest) and result.best_algorithm == board[0]["algorithm"]
    assert result.holdout_metrics["mae"] == pytest.approx(board[0]["holdout_mae"])
    assert result.selection == {
        "metric": "mae",
        "on": "2 backtest window(s)",
        "higher_is_better": False,
        "default": True,
    }
    assert any("Method chosen by mae" in n and "honest estimate" in n for n in result.notes)
    # Trend and season are easy to learn: far better than repeating last year.
    naive = next(r for r in board if r["algorithm"] == "seasonal_naive")
    assert result.holdout_metrics["mae"] < 0.6 * naive["holdout_mae"]
    assert result.holdout_metrics["mape"] < 0.05
    assert all(r["folds"] == 2 and r["mae_mean"] is not None for r in board)
    plot = result.plots["forecast"]
    assert len(plot["history"]["x"]) == 60 and len(plot["holdout"]["x"]) == 12
    assert len(plot["future"]["x"]) == 12 and plot["future"]["x"][0] == "2023-01-01T00:00:00"
    for part in (plot["holdout"], plot["future"]):
        assert all(
            lo <= p <= hi for lo, p, hi in zip(part["lower"], part["predicted"], part["upper"])
        )
    json.dumps(result.to_dict(), allow_nan=False)
    folds = [e for e in events if e.fold is not None]
    assert len(folds) == 3 * 3  # (2 backtests + holdout) per method


def test_choice_is_made_on_the_backtest_not_on_the_holdout():
    """Growth stops in the last year, which repeats the one before: repeating last season is
    near perfect on the holdout by luck, but the worst method on the backtests. Choosing on the
    holdout (the old behaviour) would pick it and report its lucky error as the estimate; the
    engine picks ETS, the best on the backtests, and reports ETS's holdout error."""
    frame = _sales()
    noise = np.random.default_rng(1).normal(0, 0.5, 12)
    frame.loc[60:, "sales"] = frame["sales"].iloc[48:60].to_numpy() + noise
    result = train(
        frame,
        target="sales",
        date_column="month",
        algorithms=["seasonal_naive", "ets"],
        horizon=12,
        cv_folds=2,
    )
    rows = result.leaderboard.set_index("algorithm").to_dict("index")
    by_holdout = min(rows, key=lambda name: rows[name]["holdout_mae"])
    by_backtest = min(rows, key=lambda name: rows[name]["mae_mean"])
    assert (by_holdout, by_backtest) == ("seasonal_naive", "ets")
    assert result.best_algorithm == "ets"
    assert result.holdout_metrics["mae"] == rows["ets"]["holdout_mae"]
    assert result.holdout_metrics["mae"] > 5 * rows["seasonal_naive"]["holdout_mae"]
    assert result.cv_metrics["mae"] == rows["ets"]["mae_mean"]


def test_methods_are_not_compared_without_room_for_a_backtest():
    frame = _sales(24)
    with pytest.raises(Invalid, match="too few to compare methods on a backtest"):
        train(
            frame,
            target="sales",
            date_column="month",
            algorithms=["seasonal_naive", "ets"],
            horizon=9,
        )
    alone = train(frame, target="sales", date_column="month", algorithms=["ets"], horizon=9)
    assert alone.best_algorithm == "ets" and alone.selection["on"] == "the only method"


def test_co2_with_statsmodels_methods(co2_monthly):
    result = train(
        co2_monthly,
        target="co2",
        date_column="month",
        algorithms=["ets", "sarimax", "seasonal_naive"],
        horizon=12,
        cv_folds=2,
    )
    assert result.best_algorithm in ("ets", "sarimax")
    assert result.holdout_metrics["mape"] < 0.005  # CO2 is smooth: well under 1% error
    assert result.holdout_metrics["coverage"] >= 0.75


def test_forecast_extends_beyond_the_data():
    result = train(
        _sales(), target="sales", date_column="month", algorithms=["lag_hgb"], horizon=6, cv_folds=2
    )
    ahead = forecast(result.model, 18)
    assert list(ahead.columns) == ["month", "prediction", "lower", "upper"]
    assert ahead["month"].iloc[0] == pd.Timestamp("2023-01-01") and len(ahead) == 18
    widths = (ahead["upper"] - ahead["lower"]).to_numpy()
    assert (np.diff(widths) >= -1e-9).all()  # uncertainty grows with the horizon
    narrow = forecast(result.model, 18, level=0.5)
    assert ((narrow["upper"] - narrow["lower"]).to_numpy() < widths).all()
    assert len(forecast(result.model)) == 6  # the trained horizon by default
    with pytest.raises(Invalid, match="not a forecasting model"):
        forecast(object())


def test_forecaster_refuses_past_and_off_grid_dates():
    frame = _sales(36)
    model = SeriesForecaster(
        method="seasonal_naive", date_column="month", freq="MS", season_length=12
    )
    model.fit(frame, frame["sales"])
    with pytest.raises(ValueError, match="after the last training date"):
        model.predict(pd.DataFrame({"month": ["2018-01-01"]}))
    out = model.predict_interval(pd.DataFrame({"month": ["2020-02-01", "2020-01-01"]}))
    assert out["prediction"].tolist() == pytest.approx(frame["sales"].iloc[[25, 24]].tolist())


def test_to_code_reproduces_the_forecast(tmp_path):
    frame = _sales()
    result = train(
        frame,
        target="sales",
        date_column="month",
        algorithms=["ets"],
        horizon=6,
        cv_folds=2,
    )
    assert "astralytiq_jupyter" not in result.to_code().replace("AstralytiQ", "")
    script, data = tmp_path / "forecast.py", tmp_path / "sales.csv"
    script.write_text(result.to_code())
    frame.to_csv(data, index=False)
    done = subprocess.run(
        [sys.executable, str(script), str(data)],
        capture_output=True,
        text=True,
        timeout=120,
        env=SCRIPT_ENV,
    )
    assert done.returncode == 0, done.stderr
    metrics = json.loads(done.stdout)
    for name in ("mae", "mape", "rmse", "coverage"):
        assert metrics[name] == pytest.approx(result.holdout_metrics[name], rel=1e-9)
