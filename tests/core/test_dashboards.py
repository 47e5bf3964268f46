"""Dashboard specs: what validation accepts, normalises and refuses."""

from __future__ import annotations

import pytest

from astralytiq_jupyter.core.dashboards import validate_spec
from astralytiq_jupyter.core.errors import Invalid


def _spec(**extra):
    return {
        "name": "overview",
        "title": "Overview",
        "bindings": {"datasets": {"d": "sales"}, "models": {"m": "churn@production"}},
        **extra,
    }


def test_kpis_compare_periods_and_old_aggregation_names_are_read():
    spec = _spec(
        kpis=[
            {
                "id": "k",
                "dataset": "d",
                "column": "x",
                "agg": "nunique",
                "date_column": "day",
                "period": "month",
            }
        ]
    )
    checked = validate_spec(spec)
    assert checked["kpis"][0]["agg"] == "count_distinct"
    assert spec["kpis"][0]["agg"] == "nunique"  # the caller's spec is left as it is
    with pytest.raises(Invalid, match="both 'date_column' and 'period'"):
        validate_spec(_spec(kpis=[{"id": "k", "dataset": "d", "agg": "count", "period": "month"}]))
    with pytest.raises(Invalid, match="period must be one of"):
        validate_spec(
            _spec(
                kpis=[
                    {
                        "id": "k",
                        "dataset": "d",
                        "agg": "count",
                        "date_column": "day",
                        "period": "fortnight",
                    }
                ]
            )
        )


def test_charts_units_treemaps_and_prediction_panels():
    spec = validate_spec(
        _spec(
            charts=[{"id": "c", "type": "treemap", "dataset": "d", "x": "a", "unit": "week"}],
            predictions=[{"id": "p", "model": "m", "title": "What if"}],
            layout=[{"item": "p", "x": 0, "y": 0, "w": 6, "h": 4}],
        )
    )
    assert spec["predictions"][0]["model"] == "m"
    with pytest.raises(Invalid, match="unit must be one of"):
        validate_spec(_spec(charts=[{"id": "c", "type": "bar", "dataset": "d", "unit": "hourly"}]))
    with pytest.raises(Invalid, match="does not define"):
        validate_spec(_spec(predictions=[{"id": "p", "model": "ghost"}]))
    with pytest.raises(Invalid, match="prediction panel"):
        validate_spec(_spec(layout=[{"item": "nothing"}]))
