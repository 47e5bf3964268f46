"""The Predict wizard driven as a person would on both backends: a form generated from the
model's signature predicts one row; a dataset version is scored with lineage and written to
a CSV file; a viewer predicts but cannot save scored data."""

from __future__ import annotations

import datetime as dt

import ipywidgets as W
import pandas as pd
import pytest
from sklearn.linear_model import LinearRegression

from astralytiq_jupyter.core.permissions import Role
from astralytiq_jupyter.widgets import predict_form
from astralytiq_jupyter.widgets.predict import PredictWizard

from ..server_extension.live import WorkspaceFactory
from .customers import customers


@pytest.fixture
def make(both: WorkspaceFactory) -> WorkspaceFactory:
    return both


@pytest.fixture
def churn(make: WorkspaceFactory):
    """A registered churn classifier, ``churn@production``, trained on ``customers@1``."""
    ws = make("alice", Role.ANALYST)
    ws.datasets.save(customers(), "customers")
    result = ws.train("customers", target="churn", algorithms=["logistic_regression"], cv_folds=2)
    version = ws.models.register("churn", result)
    ws.models.set_alias("churn", "production", version.version)
    return ws


def test_form_predicts_one_row_and_batch_scores_with_lineage(churn, make, tmp_path) -> None:
    ws = churn
    data = customers()
    wizard = PredictWizard(ws, "churn@production", header=False, export_folder=tmp_path)
    assert wizard.picker.ref == "churn@production" and wizard.version.version == 1
    fields = wizard.form.fields
    assert set(fields) == {"tenure", "region", "support_calls", "signup", "spend"}
    # numbers with their training range and the median as default
    assert isinstance(fields["tenure"].widget, W.IntText)
    assert fields["tenure"].widget.value == int(round(data["tenure"].median()))
    assert f"{data['tenure'].min()} to {data['tenure'].max()}" in fields["tenure"].hint.value
    assert isinstance(fields["spend"].widget, W.FloatText)
    # known categories, the most frequent first and chosen
    assert isinstance(fields["region"].widget, W.Dropdown)
    assert list(fields["region"].widget.options) == ["north", "south", "east"]
    assert fields["region"].widget.value == "north"
    assert isinstance(fields["support_calls"].widget, W.Dropdown)
    assert isinstance(fields["signup"].widget, W.DatePicker)
    assert fields["signup"].widget.value == dt.date(2023, 3, 21)  # the median date

    wizard.form.set(tenure=3, region="east", support_calls=True)
    row = wizard.form.row()
    wizard.predict_button.click()
    wizard.wait()
    expected = ws.models.predict("churn@1", row)
    assert wizard.prediction["prediction"].tolist() == expected["prediction"].tolist()
    card = wizard.card.value
    assert f">{expected['prediction'].iloc[0]}<" in card
    assert card.count('class="aq-prob"') == 2  # a bar per class
    assert "outside the training range" not in card
    wizard.form.set(tenure=500)
    wizard.predict_button.click()
    wizard.wait()
    assert "tenure = 500 is outside the training range" in wizard.card.value

    # batch: the training dataset is offered, the result saved with lineage
    assert wizard.dataset.ref == "customers" and wizard.save_as.value == "customers-scored"
    wizard.score_button.click()
    wizard.wait()
    scored = wizard.scored
    assert wizard.status.kind == "ok", wizard.status.text
    assert (scored.name, scored.parent, scored.model, scored.rows) == (
        "customers-scored",
        "customers@1",
        "churn@1",
        len(data),
    )
    stored = ws.datasets.load(scored.ref)
    assert {"prediction", "proba_no", "proba_yes"} <= set(stored.columns)
    assert wizard.preview.total == len(data) and "proba_yes" in wizard.preview.grid.value
    # download: the whole version as CSV, linked
    wizard.download_button.click()
    wizard.wait()
    assert wizard.exported == tmp_path / "customers-scored-v1.csv"
    written = pd.read_csv(wizard.exported)
    assert len(written) == len(data) and list(written.columns) == list(stored.columns)
    assert written["prediction"].tolist() == stored["prediction"].tolist()
    assert "customers-scored-v1.csv" in wizard.download_link.outputs[0]["data"]["text/html"]
    assert "ws.models.score('churn@production', 'customers'" in wizard.code.code


def test_export_is_bounded_and_says_so(churn, tmp_path, monkeypatch) -> None:
    monkeypatch.setattr(predict_form, "EXPORT_PAGE_ROWS", 50)
    monkeypatch.setattr(predict_form, "MAX_EXPORT_BYTES", 1_000)
    wizard = PredictWizard(churn, "churn", header=False, export_folder=tmp_path)
    wizard.score_button.click()
    wizard.wait()
    wizard.download_button.click()
    wizard.wait()
    assert len(pd.read_csv(wizard.exported)) == 50  # whole pages up to the bound
    assert "first 50 of 160 rows" in wizard.status.text
    assert not list(tmp_path.glob("*.part"))


def test_viewer_predicts_but_cannot_save_scores(churn, make) -> None:
    viewer = make("vera", Role.VIEWER)
    wizard = PredictWizard(viewer, "churn@production", header=False)
    assert wizard.score_button not in wizard.batch.children
    assert wizard.score() is None and "cannot save scored" in wizard.status.text
    wizard.predict_button.click()
    wizard.wait()
    assert wizard.prediction is not None and wizard.status.kind == "ok"
    assert [s.name for s in viewer.datasets.list()] == ["customers"]


def test_versions_without_ranges_and_empty_registry(make, tmp_path) -> None:
    ws = make("alice", Role.ANALYST)
    empty = PredictWizard(ws, header=False)
    assert empty.version is None and empty.empty.layout.display is None
    frame = pd.DataFrame({"x": [0.0, 1.0, 2.0, 3.0], "y": [1.0, 3.0, 5.0, 7.0]})
    ws.models.register(
        "line",
        LinearRegression().fit(frame[["x"]], frame["y"]),
        task="regression",
        algorithm="linear_regression",
        signature=[{"name": "x", "dtype": "float64", "kind": "numeric"}],
    )
    empty.picker.refresh()
    assert empty.version is not None and "without its training ranges" in str(
        [c.value for c in empty.form.children if isinstance(c, W.HTML)]
    )
    empty.form.set(x=10.0)
    empty.predict_button.click()
    empty.wait()
    assert empty.prediction["prediction"].iloc[0] == pytest.approx(21.0)


def test_forecasting_model_form_offers_the_next_date(make) -> None:
    ws = make("alice", Role.ANALYST)
    days = pd.date_range("2024-01-01", periods=90, freq="D")
    series = pd.DataFrame({"day": days, "sales": [100 + (i % 7) * 5 + i * 0.5 for i in range(90)]})
    ws.datasets.save(series, "daily")
    result = ws.train(
        "daily", target="sales", date_column="day", algorithms=["seasonal_naive"], horizon=7,
        cv_folds=2,
    )  # fmt: skip
    ws.models.register("daily-sales", result)
    wizard = PredictWizard(ws, "daily-sales", header=False)
    (field,) = wizard.form.fields.values()
    assert isinstance(field.widget, W.DatePicker)
    assert field.widget.value == dt.date(2024, 3, 31)  # the day after the series ends
    assert "ends on 2024-03-30" in field.hint.value
    wizard.predict_button.click()
    wizard.wait()
    frame = wizard.prediction
    assert list(frame.columns) == ["prediction", "lower", "upper"]
    assert frame["lower"].iloc[0] <= frame["prediction"].iloc[0] <= frame["upper"].iloc[0]
    assert "interval:" in wizard.card.value and "forecast of sales" in wizard.card.value


def test_fields_follow_the_signature() -> None:
    """Each kind of column gets its control; many categories a free-text box with the most
    frequent as suggestions; unseen categories and out-of-range numbers are flagged."""
    many = [f"c{i}" for i in range(5)]
    signature = [
        {"name": "n", "dtype": "float64", "kind": "numeric",
         "stats": {"min": 0.5, "max": 2.5, "median": 1.25, "integer": False}},
        {"name": "k", "dtype": "str", "kind": "categorical",
         "stats": {"categories": many, "n_categories": 900, "most_frequent": "c0"}},
        {"name": "s", "dtype": "str", "kind": "categorical",
         "stats": {"categories": ["a", "b"], "n_categories": 2, "most_frequent": "b"}},
        {"name": "b", "dtype": "bool", "kind": "boolean",
         "stats": {"most_frequent": True, "share_true": 0.8}},
        {"name": "t", "dtype": "datetime64[ns]", "kind": "datetime",
         "stats": {"min": "2024-01-01T08:00:00", "max": "2024-02-01T18:30:00",
                   "median": "2024-01-15T12:00:00", "with_time": True}},
        {"name": "legacy", "dtype": "int64"},  # recorded before kinds and stats
    ]  # fmt: skip
    form = predict_form.SignatureForm()
    form.build(signature, {"kind": "regression"})
    f = form.fields
    assert isinstance(f["n"].widget, W.FloatText) and f["n"].widget.value == 1.25
    assert isinstance(f["k"].widget, W.Combobox) and f["k"].widget.value == "c0"
    assert "5 most frequent of 900" in f["k"].hint.value
    assert isinstance(f["s"].widget, W.Dropdown) and f["s"].widget.value == "b"
    assert f["b"].widget.value is True and "80.0%" in f["b"].hint.value
    assert isinstance(f["t"].widget, W.NaiveDatetimePicker)
    assert f["t"].widget.value == dt.datetime(2024, 1, 15, 12, 0)
    assert isinstance(f["legacy"].widget, W.FloatText)  # no stats: an empty number field
    assert form.warnings() == []
    form.set(n=9.0, k="brand-new")
    assert form.warnings() == [
        "n = 9 is outside the training range (0.5 to 2.5): the model extrapolates."
    ]  # a category beyond the listed ones may be one of the 900: not flagged
    row = form.row()
    assert row.to_dict("records") == [
        {"n": 9.0, "k": "brand-new", "s": "b", "b": True,
         "t": dt.datetime(2024, 1, 15, 12, 0), "legacy": 0.0}
    ]  # fmt: skip
    card = predict_form.prediction_card(
        pd.DataFrame({"prediction": [3.5]}), {"kind": "regression", "target": "y"}, ["careful"]
    )
    assert "predicted y" in card and "3.5" in card and "careful" in card
