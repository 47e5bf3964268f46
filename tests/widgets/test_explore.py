"""The Explore wizard driven in Python, as a person would click it."""

from __future__ import annotations

import pandas as pd
import pytest

from astralytiq_jupyter.widgets import figures
from astralytiq_jupyter.widgets.explore import ExploreWizard
from astralytiq_jupyter.widgets.explore_charts import CHARTS

from ..conftest import workspace_for
from .conftest import SAMPLE


def _plotted(output) -> list[dict]:
    return [o["data"][figures.PLOT_MIME] for o in output.outputs]


def test_opens_with_metadata_then_profile_fixes_and_charts(ws, sales):
    wizard = ExploreWizard("sales", ws, background=False)
    assert wizard.version.ref == "sales@1"
    assert "5,768" in wizard.summary.value and "quality" in wizard.summary.value
    assert "Rows 1–50 of 5,768" in wizard.grid.position.value
    assert wizard.profile is not None  # computed (synchronously in this test)
    assert "<svg" in wizard.grid.grid.value  # distributions in the headers
    fix_buttons = [
        row.children[0] for row in wizard.issues_box.children if hasattr(row, "children")
    ]
    assert fix_buttons, "the sample data has missing values and duplicates to fix"

    # every chart type draws something on the sample data
    wizard.sections.value = "Charts"
    for kind in CHARTS:
        wizard.charts.kind.value = kind
        if kind == "Time series":
            wizard.charts.color.value = "region"
        wizard.charts.loads.wait()
        assert wizard.charts.status.kind != "error", (kind, wizard.charts.status.text)
        (plot,) = _plotted(wizard.charts.output)
        assert plot["data"], kind
    ts = wizard.charts.time_query()
    assert ts["time"] == {"column": "date", "unit": "month"} and ts["group_by"] == ["region"]
    assert "ws.datasets.aggregate" in wizard.code.code

    # per-column detail
    wizard.sections.value = "Columns"
    wizard.column.value = "units"
    assert "median" in wizard.column_stats.value
    assert len(_plotted(wizard.column_charts)) == 2  # histogram and box


def test_fixes_go_to_clean_in_the_app_and_apply_standalone(ws, sales):
    sent = []
    inside = ExploreWizard(
        "sales", ws, background=False, navigate=lambda s, **kw: sent.append((s, kw))
    )
    issue = next(i for i in inside.profile.issues if i.suggestion)
    inside.fix(issue.suggestion)
    assert sent == [("clean", {"ref": "sales@1", "step": issue.suggestion})]

    alone = ExploreWizard("sales", ws, background=False)
    dup = next(i for i in alone.profile.issues if i.suggestion.get("op") == "drop_duplicates")
    alone.fix(dup.suggestion)
    alone.fixes_name.value = "sales-dedup"
    alone.apply_fixes("sales-dedup")
    alone.wait()
    fixed = ws.datasets.get("sales-dedup")
    from astralytiq_jupyter.core.recipes import Recipe

    assert fixed.parent == "sales@1"
    assert Recipe.from_json(fixed.recipe) == Recipe.from_json([dup.suggestion])
    assert fixed.rows == 5768 - 12
    assert "Saved sales-dedup@1" in alone.status.text


def test_clusters_show_both_rules_and_let_the_user_pick_k(ws, sales):
    wizard = ExploreWizard("sales", ws, background=False)
    wizard.sections.value = "Clusters"
    view = wizard.clusters
    view.columns.value = ("units", "unit_price", "revenue")
    view.k_min.value, view.k_max.value = 2, 5
    view.sample.value = 1000
    view.run_button.click()
    wizard.wait()
    assert "highest silhouette" in view.summary.value and "elbow" in view.summary.value
    assert len(_plotted(view.output)) == 2
    other = next(k for k in view.pick_k.options if k[1] != view.result["chosen_k"])[1]
    view.pick_k.value = other
    wizard.wait()
    assert f"you chose k = {other}" in view.summary.value


def test_report_download_and_viewer_sees_no_fix(store, tmp_path):

    admin = workspace_for(store, "acme", "ann", "admin")
    admin.datasets.ingest(str(SAMPLE), name="sales")
    viewer = workspace_for(store, "acme", "vic", "viewer")
    wizard = ExploreWizard("sales", viewer, background=False)
    assert not any(hasattr(row, "children") and row.children for row in wizard.issues_box.children)
    wizard.report_button.click()
    assert wizard.report_link.value.startswith('<a download="sales-v1-profile.html"')


def test_empty_store_says_what_to_do(ws):
    wizard = ExploreWizard(None, ws, background=False)
    assert "No datasets yet" in wizard.content.children[0].value


def test_background_profile_keeps_only_the_latest_dataset(ws, sales):
    ws.datasets.save(pd.DataFrame({"a": [1.0, 2.0, None], "b": ["x", "y", "y"]}), "tiny")
    wizard = ExploreWizard("sales", ws)  # profiles in a background thread
    wizard.picker.select("tiny")
    wizard.loads.wait()
    assert wizard.version.ref == "tiny@1"
    assert wizard.profile is not None and wizard.profile.rows == 3


@pytest.mark.parametrize("chart", ["Violin", "Scatter"])
def test_sampled_charts_say_how_many_rows_they_show(ws, chart):
    import numpy as np

    n = 12_000
    ws.datasets.save(pd.DataFrame({"x": np.arange(n, dtype=float), "y": np.arange(n) % 7}), "big")
    wizard = ExploreWizard("big", ws, background=False)
    wizard.sections.value = "Charts"
    wizard.charts.kind.value = chart
    wizard.charts.loads.wait()
    (plot,) = _plotted(wizard.charts.output)
    notes = " ".join(a.get("text", "") for a in plot["layout"].get("annotations", []))
    assert "sample of 5,000 of 12,000 rows" in notes


def test_explore_works_alike_on_both_backends(both):
    """The whole Explore flow through the LocalBackend and the server's REST API."""
    analyst = both("ana", "analyst")
    analyst.datasets.ingest(str(SAMPLE), name="sales")
    wizard = ExploreWizard("sales", analyst, background=False)
    assert wizard.profile is not None and wizard.profile.rows == 5768
    wizard.grid.next.click()
    assert "Rows 51–100 of 5,768" in wizard.grid.position.value
    wizard.sections.value = "Charts"
    for kind in ("Histogram", "Scatter", "Time series"):
        wizard.charts.kind.value = kind
        wizard.charts.loads.wait()
        assert wizard.charts.status.kind != "error", wizard.charts.status.text
        assert _plotted(wizard.charts.output)
    dup = next(i for i in wizard.profile.issues if i.suggestion.get("op") == "drop_duplicates")
    wizard.fix(dup.suggestion)
    wizard.apply_fixes("sales-clean")
    wizard.wait()
    assert analyst.datasets.get("sales-clean").parent == "sales@1"
    viewer = both("vic", "viewer")
    seen = ExploreWizard("sales-clean", viewer, background=False)
    assert seen.version.ref == "sales-clean@1"
    assert not any(getattr(r, "children", ()) for r in seen.issues_box.children)
