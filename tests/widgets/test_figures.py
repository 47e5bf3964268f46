"""Every kind of plot the engine produces becomes a non-empty plotly figure."""

from __future__ import annotations

import json

import ipywidgets as W
import pytest

from astralytiq_jupyter.widgets import figures
from astralytiq_jupyter.widgets.theme import Theme


@pytest.fixture(scope="module")
def results(tmp_path_factory):
    import astralytiq_jupyter as aq

    from .conftest import SAMPLE

    ws = aq.connect(home=tmp_path_factory.mktemp("home"))
    ws.datasets.ingest(str(SAMPLE), name="sales")
    ws.recipes.apply(
        [
            {
                "op": "group_by",
                "by": ["date"],
                "aggregations": [{"column": "revenue", "function": "sum", "output": "revenue"}],
            }
        ],
        "sales",
        save_as="daily",
    )
    fast = {"cv_folds": 2, "random_state": 0}
    return {
        "classification": ws.train(
            "sales", target="channel", algorithms=["logistic_regression"], **fast
        ),
        "regression": ws.train("sales", target="revenue", algorithms=["ridge"], **fast),
        "clustering": ws.train(
            "sales", task="clustering", features=["units", "unit_price"], k_range=(2, 4), **fast
        ),
        "forecasting": ws.train(
            "daily",
            task="forecasting",
            target="revenue",
            date_column="date",
            horizon=7,
            frequency="D",
            **fast,
        ),
    }


def _drawn(fig) -> int:
    """How many values the figure's traces hold (x or z), so an empty chart is caught."""
    total = 0
    for trace in fig.data:
        for key in ("x", "y", "z", "q1"):
            values = getattr(trace, key, None)
            if values is not None:
                total += len(values)
                break
    return total


def test_every_plot_of_every_task_draws(results):
    kinds = set()
    for result in results.values():
        assert result.plots, result.task
        for name, plot in result.plots.items():
            fig = figures.figure_for(plot, Theme(primary="#aa3300"))
            assert _drawn(fig) > 0, name
            assert fig.layout.title.text
            assert fig.layout.height and fig.layout.height >= 300
            kinds.add(plot["kind"])
    assert {
        "confusion_matrix",
        "roc",
        "precision_recall",
        "residuals",
        "predicted_vs_actual",
        "feature_importance",
        "elbow",
        "forecast",
    } <= kinds
    assert kinds <= set(figures.PLOT_KINDS)


def test_unknown_plot_kind_is_an_error():
    with pytest.raises(ValueError, match="no chart"):
        figures.figure_for({"kind": "sankey"})


def test_show_sends_plotly_json_not_plotly_js(results):
    out = W.Output()
    fig = figures.figure_for(results["regression"].plots["residuals"])
    figures.show(out, fig)
    (output,) = out.outputs
    bundle = output["data"]
    assert set(bundle) == {figures.PLOT_MIME, "text/plain"}
    text = json.dumps(bundle)
    assert "<script" not in text and len(text) < 300_000
    assert bundle[figures.PLOT_MIME]["data"]


def test_profile_charts(ws, sales):
    profile = ws.datasets.profile(sales.ref)
    units = profile.column("units").__dict__
    region = profile.column("region").__dict__
    date = profile.column("date").__dict__
    assert _drawn(figures.histogram(units)) > 0
    dates = figures.histogram(date)
    assert _drawn(dates) > 0 and dates.data[0].x[0].startswith("2023-01")
    assert _drawn(figures.bar_top_values(region)) > 0
    box = figures.box_from_stats(units)
    assert box.data[0].median[0] == units["numeric"]["median"]
    heat = figures.correlation_heatmap(profile.correlations)
    assert _drawn(heat) > 0
    sample = profile.sample
    i, j = sample["columns"].index("units"), sample["columns"].index("revenue")
    xs = [r[i] for r in sample["rows"]]
    ys = [r[j] for r in sample["rows"]]
    fig = figures.scatter(
        xs,
        ys,
        x_title="units",
        y_title="revenue",
        total=sample["of"],
        color=["a" if k % 2 else "b" for k in range(len(xs))],
    )
    assert len(fig.data) == 2
    assert any("rows" in (a.text or "") for a in fig.layout.annotations)
