"""What a dashboard's pieces compute, next to the data: the figure of a chart, the value of a
KPI (with its change against the previous period) and the choices of a filter.

Every chart is one aggregation (``ws.datasets.aggregate``) over the rows the filters keep,
except scatters and histograms, which draw a uniform sample of those rows (its size is
written under them) and box plots, whose quartiles are aggregates too. Only these summaries
reach the browser.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..core.recipe_base import kind_of
from . import format as fmt

if TYPE_CHECKING:
    import plotly.graph_objects as go

    from ..client.workspace import Workspace
    from .theme import Theme

__all__ = ["KpiValue", "chart_figure", "filter_domain", "kpi_value"]

SCATTER_SAMPLE = 5000
HISTOGRAM_SAMPLE = 50_000


def _metric(chart: dict[str, Any], schema: dict[str, str]) -> dict[str, Any]:
    """The value a chart measures: ``agg`` of ``y`` (count of rows without a ``y``)."""
    y, agg = chart.get("y"), chart.get("agg")
    if not y or agg == "count":
        return {"function": "count", "as": "rows"}
    agg = agg or ("sum" if kind_of(schema.get(y, "")) == "numeric" else "count_distinct")
    return {"function": agg, "column": y, "as": f"{agg} of {y}"}


def _label(value: Any) -> str:
    """A category as a label (missing values named, not 'nan')."""
    text = fmt.value(value)
    return text if text != "" else "(missing)"


def _basis(result: Any) -> str:
    if result.rows_matched == result.rows_total:
        return f"all {fmt.count(result.rows_total)} rows"
    return f"{fmt.count(result.rows_matched)} of {fmt.count(result.rows_total)} rows (filtered)"


def chart_figure(
    ws: Workspace,
    ref: str,
    schema: dict[str, str],
    chart: dict[str, Any],
    filters: list[dict[str, Any]],
    theme: Theme,
) -> go.Figure:
    """The figure of one dashboard chart over the rows ``filters`` keep."""

    from .plotly_import import figures as _figures
    from .plotly_import import plotly

    figures = _figures()
    go, _pio = plotly()

    kind, x, color = chart["type"], chart.get("x"), chart.get("color")
    title = chart.get("title") or kind.title()
    if kind == "scatter":
        if not x or not chart.get("y"):
            raise ValueError("A scatter chart needs an x and a y column.")
        columns = list(dict.fromkeys([x, chart["y"], *([color] if color else [])]))
        total = ws.datasets.get(ref).rows
        sample = ws.datasets.sample(ref, SCATTER_SAMPLE, columns=columns, filters=filters or None)
        fig = figures.scatter(
            sample[x].tolist(),
            sample[chart["y"]].tolist(),
            x_title=x,
            y_title=chart["y"],
            total=total,
            color=sample[color].tolist() if color else None,
            color_title=color,
            theme=theme,
        )
        fig.update_layout(title=title)
        return fig
    if kind == "histogram":
        import numpy as np

        if not x:
            raise ValueError("A histogram needs a column.")
        total = ws.datasets.get(ref).rows
        sample = ws.datasets.sample(ref, HISTOGRAM_SAMPLE, columns=[x], filters=filters or None)
        values = sample[x].dropna().to_numpy(dtype=float)
        counts, edges = np.histogram(values, bins=30) if len(values) else ([], [0.0])
        fig = go.Figure(
            go.Bar(
                x=((edges[:-1] + edges[1:]) / 2).tolist() if len(values) else [],
                y=list(counts),
                width=list(np.diff(edges)) if len(values) else [],
                marker_line_width=0,
            )
        )
        fig.update_layout(title=title, bargap=0)
        fig.update_xaxes(title=x)
        fig.update_yaxes(title="Rows")
        return figures.style(fig, theme, caption=fmt.rows_caption(len(sample), total))
    if kind == "box":
        column = chart.get("y") or x
        if not column:
            raise ValueError("A box plot needs a numeric column.")
        query = {
            "group_by": [color] if color else [],
            "metrics": [
                {"function": f, "column": column, "as": f}
                for f in ("min", "q1", "median", "q3", "max", "mean")
            ],
            "filters": filters,
            "limit": chart.get("limit") or 30,
        }
        result = ws.datasets.aggregate(ref, query)
        fig = go.Figure()
        for _, row in result.frame.iterrows():
            fig.add_trace(
                go.Box(
                    name=str(row[color]) if color else column,
                    q1=[row["q1"]],
                    median=[row["median"]],
                    q3=[row["q3"]],
                    lowerfence=[row["min"]],
                    upperfence=[row["max"]],
                    mean=[row["mean"]],
                )
            )
        fig.update_layout(title=title, showlegend=False)
        return figures.style(fig, theme, caption=f"quartiles, min and max of {_basis(result)}")
    return _aggregated(ws, ref, schema, chart, filters, theme, title)


def _aggregated(
    ws: Workspace,
    ref: str,
    schema: dict[str, str],
    chart: dict[str, Any],
    filters: list[dict[str, Any]],
    theme: Theme,
    title: str,
) -> go.Figure:

    from .plotly_import import figures as _figures
    from .plotly_import import plotly

    figures = _figures()
    go, _pio = plotly()

    kind, x, color = chart["type"], chart.get("x"), chart.get("color")
    if not x:
        raise ValueError(f"A {kind} chart needs an x column.")
    metric = _metric(chart, schema)
    value = metric["as"]
    query: dict[str, Any] = {"metrics": [metric], "filters": filters}
    timed = kind_of(schema.get(x, "")) == "datetime"
    if timed:
        query["time"] = {"column": x, "unit": chart.get("unit") or "month"}
        query["group_by"] = [color] if color else []
        query["limit"] = chart.get("limit") or 5000
    else:
        query["group_by"] = [x, color] if color else [x]
        query["limit"] = chart.get("limit") or (400 if kind == "heatmap" else 50)
    result = ws.datasets.aggregate(ref, query)
    frame = result.frame
    caption = f"{value} by {x}" + (f" per {query['time']['unit']}" if timed else "")
    caption += f" over {_basis(result)}"
    if result.truncated:
        caption += f"; top {fmt.count(len(frame))} of {fmt.count(result.groups)} groups"
    if kind in ("bar", "line", "area"):
        fig = go.Figure()
        parts = frame.groupby(color, sort=False, dropna=False) if color else [(None, frame)]
        for key, part in parts:
            name = value if color is None else _label(key)
            xs = part[x].tolist() if timed else [_label(v) for v in part[x]]
            ys = part[value].tolist()
            if kind == "bar":
                fig.add_trace(go.Bar(x=xs, y=ys, name=name))
            else:
                fig.add_trace(
                    go.Scatter(
                        x=xs,
                        y=ys,
                        name=name,
                        mode="lines",
                        stackgroup="one" if kind == "area" else None,
                    )
                )
        fig.update_layout(barmode="stack" if color else None)
        fig.update_xaxes(title=x, type=None if timed else "category")
        fig.update_yaxes(title=value)
    elif kind == "pie":
        fig = go.Figure(
            go.Pie(
                labels=[_label(v) for v in frame[x]],
                values=frame[value].tolist(),
                hole=0.35,
                sort=False,
            )
        )
    elif kind == "treemap":
        labels, parents, values = [], [], []
        if color:
            for key, part in frame.groupby(color, sort=False, dropna=False):
                labels.append(_label(key))
                parents.append("")
                values.append(float(part[value].sum()))
                labels += [f"{_label(key)} · {_label(v)}" for v in part[x]]
                parents += [_label(key)] * len(part)
                values += part[value].astype(float).tolist()
        else:
            labels, parents = [_label(v) for v in frame[x]], [""] * len(frame)
            values = frame[value].astype(float).tolist()
        fig = go.Figure(
            go.Treemap(
                labels=labels,
                parents=parents,
                values=values,
                branchvalues="total" if color else "remainder",
            )
        )
    elif kind == "heatmap":
        if not color:
            raise ValueError("A heatmap needs a second category ('colour by').")
        # labelled first: pivot_table drops missing keys, and a missing category is a group
        labelled = frame.assign(**{x: frame[x].map(_label), color: frame[color].map(_label)})
        grid = labelled.pivot_table(index=color, columns=x, values=value, aggfunc="sum")
        fig = go.Figure(
            go.Heatmap(
                z=grid.to_numpy().tolist(),
                x=list(grid.columns),
                y=list(grid.index),
                colorscale="Blues",
            )
        )
    elif kind == "table":
        fig = go.Figure(
            go.Table(
                header={"values": list(frame.columns), "align": "left"},
                cells={
                    "values": [[fmt.value(v) for v in frame[c]] for c in frame.columns],
                    "align": "left",
                },
            )
        )
    else:
        raise ValueError(f"Unknown chart type {kind!r}.")
    fig.update_layout(title=title)
    return figures.style(fig, theme, caption=caption)


@dataclass
class KpiValue:
    """A KPI's value and, when it compares periods, the previous period's and the change."""

    value: float | None
    label: str
    previous: float | None = None
    period: str | None = None

    @property
    def change_pct(self) -> float | None:
        if self.previous in (None, 0) or self.value is None:
            return None
        return (self.value - self.previous) / abs(self.previous) * 100


def kpi_value(
    ws: Workspace, ref: str, kpi: dict[str, Any], filters: list[dict[str, Any]]
) -> KpiValue:
    """A KPI over the rows ``filters`` keep; with ``date_column`` and ``period``, the value of
    the latest period in the data and of the period before it."""
    import pandas as pd

    agg, column = kpi["agg"], kpi.get("column")
    metric = (
        {"function": "count", "as": "v"}
        if agg == "count"
        else {"function": agg, "column": column, "as": "v"}
    )
    label = kpi.get("title") or (f"{agg} of {column}" if column else "rows")

    def number(v: Any) -> float | None:
        return None if v is None or pd.isna(v) else float(v)

    date, period = kpi.get("date_column"), kpi.get("period")
    if not date or not period:
        frame = ws.datasets.aggregate(ref, {"metrics": [metric], "filters": filters}).frame
        return KpiValue(number(frame["v"].iloc[0]) if len(frame) else None, label)
    # one query answers both periods: the one holding the latest date kept, and the one before
    frame = ws.datasets.aggregate(
        ref,
        {"metrics": [metric], "filters": filters, "compare": {"column": date, "unit": period}},
    ).frame
    if len(frame) != 2:  # no dates among the rows kept
        return KpiValue(None, label, None, period)
    previous, current = (number(v) for v in frame["v"])
    return KpiValue(current, label, previous, period)


def filter_domain(
    ws: Workspace, ref: str, schema: dict[str, str], flt: dict[str, Any]
) -> dict[str, Any]:
    """What a filter offers: the range of a numeric or date column, or the most frequent
    values of a category (at most 200)."""
    column = flt["column"]
    if flt["type"] in ("range", "date_range"):
        frame = ws.datasets.aggregate(
            ref,
            {
                "metrics": [
                    {"function": "min", "column": column, "as": "low"},
                    {"function": "max", "column": column, "as": "high"},
                ]
            },
        ).frame
        return {"low": frame["low"].iloc[0], "high": frame["high"].iloc[0]}
    frame = ws.datasets.aggregate(
        ref, {"group_by": [column], "metrics": [{"function": "count", "as": "rows"}], "limit": 200}
    ).frame
    return {"values": [v for v in frame[column].tolist() if fmt.value(v) != ""]}
