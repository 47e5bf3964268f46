"""Plotly figures: the engine's plot data (training results, profiles, cluster exploration)
turned into charts, in one module, and shown through the plotly MIME renderer.

Figures are shown as ``application/vnd.plotly.v1+json`` outputs of an ``Output`` widget rather
than ``go.FigureWidget``: the renderer ships with plotly's JupyterLab extension (loaded by
JupyterLab, Notebook 7 and Voila alike), so a figure costs only its own JSON on the wire, where
every ``FigureWidget`` would carry plotly.js (about 5 MB) in its widget state.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from itertools import pairwise
from typing import Any

import ipywidgets as W
import plotly.graph_objects as go

from . import format as fmt
from .theme import Theme

__all__ = [
    "PLOT_MIME",
    "bar_top_values",
    "box_from_stats",
    "correlation_heatmap",
    "figure_for",
    "histogram",
    "mimebundle",
    "scatter",
    "show",
    "style",
    "time_series",
    "violin",
]

PLOT_MIME = "application/vnd.plotly.v1+json"
DEFAULT_HEIGHT = 380


def style(
    fig: go.Figure,
    theme: Theme | None = None,
    *,
    height: int = DEFAULT_HEIGHT,
    caption: str | None = None,
) -> go.Figure:
    """The house style: brand colours, compact margins, a fixed height (so a figure never
    collapses to nothing in a container that has no height yet) and an optional caption such
    as ``sample of 50,000 of 5,000,000 rows`` under the plot."""
    theme = theme or Theme()
    fig.update_layout(
        template="plotly_white",
        colorway=theme.colorway(),
        height=height,
        margin={"l": 60, "r": 20, "t": 50, "b": 70 if caption else 50},
        font={"size": 12},
        title={"font": {"size": 15}, "x": 0.02, "xanchor": "left"},
        # legend above the plot, right-aligned: below it would collide with the caption
        legend={"orientation": "h", "y": 1.02, "yanchor": "bottom", "x": 1, "xanchor": "right"},
        autosize=True,
    )
    if caption:
        fig.add_annotation(
            text=fmt.escape(caption),
            xref="paper",
            yref="paper",
            x=0,
            y=-0.2,
            showarrow=False,
            font={"size": 11, "color": "#5f6368"},
            xanchor="left",
        )
    return fig


def mimebundle(fig: go.Figure) -> dict[str, Any]:
    """The figure as a display bundle: plotly JSON for the renderer, a line of text elsewhere."""
    title = fig.layout.title.text or "chart"
    return {
        PLOT_MIME: json.loads(fig.to_json()),
        "text/plain": f"<plotly figure: {title}>",
    }


def show(output: W.Output, *figures: go.Figure) -> None:
    """Replace what ``output`` shows with ``figures`` (safe from background threads: the
    outputs are set directly instead of capturing a display call)."""
    output.outputs = tuple(
        {"output_type": "display_data", "data": mimebundle(fig), "metadata": {}} for fig in figures
    )


# -- training results ----------------------------------------------------------------------


def figure_for(plot: Mapping[str, Any], theme: Theme | None = None) -> go.Figure:
    """The chart of one entry of ``TrainingResult.plots`` (or a model card's plots)."""
    builder = _BUILDERS.get(plot.get("kind", ""))
    if builder is None:
        raise ValueError(f"no chart for plot kind {plot.get('kind')!r}")
    fig, caption = builder(plot)
    fig.update_layout(title=plot.get("title"))
    return style(fig, theme, caption=caption)


def _shown(plot: Mapping[str, Any], what: str = "holdout rows") -> str | None:
    if "n_shown" in plot and "n_total" in plot and plot["n_shown"] < plot["n_total"]:
        return fmt.rows_caption(plot["n_shown"], plot["n_total"], what)
    return None


def _confusion(plot: Mapping[str, Any]) -> tuple[go.Figure, str | None]:
    labels = plot["labels"]
    z = plot["z"]
    share = plot.get("z_normalized") or z
    text = [
        [f"{fmt.count(v)}<br>({s * 100:.0f}%)" for v, s in zip(row, srow, strict=True)]
        for row, srow in zip(z, share, strict=True)
    ]
    fig = go.Figure(
        go.Heatmap(
            z=share,
            x=labels,
            y=labels,
            text=text,
            texttemplate="%{text}",
            colorscale="Blues",
            showscale=False,
            hovertemplate="actual %{y}<br>predicted %{x}<br>%{text}<extra></extra>",
        )
    )
    fig.update_xaxes(title=plot.get("x_title", "Predicted"), type="category")
    fig.update_yaxes(title=plot.get("y_title", "Actual"), type="category", autorange="reversed")
    return fig, None


def _curves(plot: Mapping[str, Any]) -> tuple[go.Figure, str | None]:
    fig = go.Figure()
    for curve in plot.get("curves", []):
        fig.add_trace(
            go.Scatter(
                x=curve["x"],
                y=curve["y"],
                mode="lines",
                name=f"{curve['label']} (AUC {fmt.number(curve.get('auc'), 3)})",
            )
        )
    if plot["kind"] == "roc":
        fig.add_trace(
            go.Scatter(
                x=[0, 1],
                y=[0, 1],
                mode="lines",
                name="chance",
                line={"dash": "dot", "color": "#9aa0a6"},
            )
        )
    else:
        for curve in plot.get("curves", []):
            if curve.get("baseline") is not None:
                fig.add_hline(y=curve["baseline"], line_dash="dot", line_color="#9aa0a6")
    fig.update_xaxes(title=plot.get("x_title"), range=[0, 1])
    fig.update_yaxes(title=plot.get("y_title"), range=[0, 1.02])
    return fig, None


def _points(plot: Mapping[str, Any]) -> tuple[go.Figure, str | None]:
    fig = go.Figure(
        go.Scattergl(
            x=plot["x"],
            y=plot["y"],
            mode="markers",
            marker={"size": 5, "opacity": 0.6},
            name="rows",
        )
    )
    if plot["kind"] == "residuals":
        fig.add_hline(y=0, line_dash="dot", line_color="#9aa0a6")
    elif plot.get("diagonal"):
        lo, hi = plot["diagonal"]
        fig.add_trace(
            go.Scatter(
                x=[lo, hi],
                y=[lo, hi],
                mode="lines",
                name="perfect",
                line={"dash": "dot", "color": "#9aa0a6"},
            )
        )
    fig.update_xaxes(title=plot.get("x_title"))
    fig.update_yaxes(title=plot.get("y_title"))
    return fig, _shown(plot)


def _importance(plot: Mapping[str, Any]) -> tuple[go.Figure, str | None]:
    features = list(plot["features"])[:25][::-1]
    mean = list(plot["importance_mean"])[:25][::-1]
    std = list(plot["importance_std"])[:25][::-1]
    fig = go.Figure(go.Bar(x=mean, y=features, orientation="h", error_x={"array": std}))
    fig.update_xaxes(title=plot.get("x_title"))
    caption = f"{fmt.count(plot.get('n_rows'))} holdout rows, {plot.get('n_repeats')} repeats"
    if len(plot["features"]) > 25:
        caption += f"; top 25 of {len(plot['features'])} features"
    fig.update_layout(height=max(DEFAULT_HEIGHT, 22 * len(features) + 120))
    return fig, caption


def _elbow(plot: Mapping[str, Any]) -> tuple[go.Figure, str | None]:
    from plotly.subplots import make_subplots

    fig = make_subplots(specs=[[{"secondary_y": True}]])
    fig.add_trace(go.Scatter(x=plot["k"], y=plot["inertia"], mode="lines+markers", name="inertia"))
    fig.add_trace(
        go.Scatter(x=plot["k"], y=plot["silhouette"], mode="lines+markers", name="silhouette"),
        secondary_y=True,
    )
    chosen = plot.get("chosen_k")
    if chosen is not None:
        fig.add_vline(
            x=chosen, line_dash="dash", line_color="#5f6368", annotation_text=f"chosen k = {chosen}"
        )
    elbow_k = plot.get("elbow_k")
    if elbow_k is not None and elbow_k != chosen:
        fig.add_vline(
            x=elbow_k,
            line_dash="dot",
            line_color="#9aa0a6",
            annotation_text=f"elbow k = {elbow_k}",
            annotation_position="bottom right",
        )
    fig.update_xaxes(title=plot.get("x_title", "Number of clusters (k)"), dtick=1)
    fig.update_yaxes(title="Inertia", secondary_y=False)
    fig.update_yaxes(title="Silhouette", secondary_y=True)
    return fig, plot.get("rule")


def _cluster_sizes(plot: Mapping[str, Any]) -> tuple[go.Figure, str | None]:
    fig = go.Figure(go.Bar(x=[f"cluster {v}" for v in plot["labels"]], y=plot["counts"]))
    fig.update_yaxes(title="Rows")
    return fig, None


def _cluster_scatter(plot: Mapping[str, Any]) -> tuple[go.Figure, str | None]:
    fig = go.Figure()
    clusters = list(plot["cluster"])
    for label in sorted(set(clusters), key=str):
        idx = [i for i, c in enumerate(clusters) if c == label]
        fig.add_trace(
            go.Scattergl(
                x=[plot["x"][i] for i in idx],
                y=[plot["y"][i] for i in idx],
                mode="markers",
                marker={"size": 5, "opacity": 0.7},
                name=f"cluster {label}",
            )
        )
    fig.update_xaxes(title=plot.get("x_title"))
    fig.update_yaxes(title=plot.get("y_title"))
    return fig, _shown(plot)


def _forecast(plot: Mapping[str, Any]) -> tuple[go.Figure, str | None]:
    fig = go.Figure()
    history, holdout, future = plot["history"], plot["holdout"], plot["future"]
    fig.add_trace(
        go.Scatter(
            x=history["x"], y=history["y"], mode="lines", name="history", line={"color": "#5f6368"}
        )
    )
    for part, name in ((holdout, "holdout"), (future, "forecast")):
        if not part.get("x"):
            continue
        fig.add_trace(
            go.Scatter(
                x=part["x"] + part["x"][::-1],
                y=part["upper"] + part["lower"][::-1],
                fill="toself",
                line={"width": 0},
                opacity=0.25,
                hoverinfo="skip",
                name=f"{name} interval",
            )
        )
        fig.add_trace(
            go.Scatter(
                x=part["x"],
                y=part["predicted"],
                mode="lines",
                name=f"{name} forecast",
                line={"dash": "dash" if name == "holdout" else None},
            )
        )
    if holdout.get("x"):
        fig.add_trace(
            go.Scatter(
                x=holdout["x"],
                y=holdout["actual"],
                mode="lines+markers",
                marker={"size": 4},
                name="holdout actual",
            )
        )
    fig.update_xaxes(title=plot.get("x_title"))
    fig.update_yaxes(title=plot.get("y_title"))
    caption = None
    if history.get("n_shown", 0) < history.get("n_total", 0):
        caption = (
            f"last {fmt.count(history['n_shown'])} of {fmt.count(history['n_total'])} points shown"
        )
    return fig, caption


_BUILDERS = {
    "confusion_matrix": _confusion,
    "roc": _curves,
    "precision_recall": _curves,
    "residuals": _points,
    "predicted_vs_actual": _points,
    "feature_importance": _importance,
    "elbow": _elbow,
    "cluster_sizes": _cluster_sizes,
    "cluster_scatter": _cluster_scatter,
    "forecast": _forecast,
}

PLOT_KINDS = tuple(_BUILDERS)


# -- exploration ---------------------------------------------------------------------------


def histogram(column: Mapping[str, Any], theme: Theme | None = None) -> go.Figure:
    """A column's exact histogram from its profile (``ColumnProfile.histogram``, all rows)."""
    hist = column["histogram"]
    edges, counts = hist["edges"], hist["counts"]
    x: Sequence[Any]
    if column.get("kind") == "datetime":  # ISO edges; plotly's date axes count milliseconds
        import pandas as pd

        stamps = pd.to_datetime(pd.Series(edges)).dt.as_unit("ms").astype("int64")
        bounds = stamps.tolist()
        widths = [b - a for a, b in pairwise(bounds)]
        x = [pd.Timestamp((a + b) / 2, unit="ms").isoformat() for a, b in pairwise(bounds)]
    else:
        widths = [b - a for a, b in pairwise(edges)]
        x = [(a + b) / 2 for a, b in pairwise(edges)]
    fig = go.Figure(
        go.Bar(
            x=x,
            y=counts,
            width=widths,
            marker_line_width=0,
            hovertemplate="%{x}<br>%{y:,} rows<extra></extra>",
        )
    )
    fig.update_layout(title=f"Distribution of {column['name']}", bargap=0)
    fig.update_xaxes(title=column["name"])
    fig.update_yaxes(title="Rows")
    return style(fig, theme, caption=f"all {fmt.count(column.get('count'))} non-missing values")


def bar_top_values(column: Mapping[str, Any], theme: Theme | None = None) -> go.Figure:
    """The most frequent values of a column (exact counts from its profile)."""
    top = column.get("top_values") or []
    labels = [str(t["value"]) for t in top][::-1]
    counts = [t["count"] for t in top][::-1]
    fig = go.Figure(
        go.Bar(
            x=counts, y=labels, orientation="h", hovertemplate="%{y}: %{x:,} rows<extra></extra>"
        )
    )
    fig.update_layout(
        title=f"Most frequent values of {column['name']}",
        height=max(DEFAULT_HEIGHT, 24 * len(labels) + 120),
    )
    fig.update_xaxes(title="Rows")
    fig.update_yaxes(type="category")
    distinct = column.get("distinct") or 0
    caption = f"top {len(labels)} of {fmt.count(distinct)} distinct values"
    return style(fig, theme, height=max(DEFAULT_HEIGHT, 24 * len(labels) + 120), caption=caption)


def box_from_stats(column: Mapping[str, Any], theme: Theme | None = None) -> go.Figure:
    """A box plot drawn from a column's exact quartiles (all rows, no sample)."""
    stats = column["numeric"]
    outliers = column.get("outliers") or {}
    lower = max(stats["min"], outliers.get("lower", stats["min"]))
    upper = min(stats["max"], outliers.get("upper", stats["max"]))
    fig = go.Figure(
        go.Box(
            name=column["name"],
            q1=[stats["q1"]],
            median=[stats["median"]],
            q3=[stats["q3"]],
            lowerfence=[lower],
            upperfence=[upper],
            mean=[stats["mean"]],
            boxmean=True,
        )
    )
    fig.update_layout(title=f"Box plot of {column['name']}")
    caption = (
        f"quartiles of all {fmt.count(column.get('count'))} values; whiskers at 1.5×IQR; "
        f"{fmt.count(outliers.get('count', 0))} values outside"
    )
    return style(fig, theme, caption=caption)


def violin(values: Sequence[float], name: str, total: int, theme: Theme | None = None) -> go.Figure:
    fig = go.Figure(
        go.Violin(y=list(values), name=name, box_visible=True, meanline_visible=True, points=False)
    )
    fig.update_layout(title=f"Violin plot of {name}")
    return style(fig, theme, caption=fmt.rows_caption(len(values), total))


def scatter(
    x: Sequence[Any],
    y: Sequence[Any],
    *,
    x_title: str,
    y_title: str,
    total: int,
    color: Sequence[Any] | None = None,
    color_title: str | None = None,
    theme: Theme | None = None,
) -> go.Figure:
    """A scatter plot of (a sample of) rows, optionally coloured by a column."""
    fig = go.Figure()
    if color is None:
        fig.add_trace(
            go.Scattergl(
                x=list(x),
                y=list(y),
                mode="markers",
                name="rows",
                marker={"size": 5, "opacity": 0.6},
            )
        )
    elif all(isinstance(c, (int, float)) or c is None for c in color):
        fig.add_trace(
            go.Scattergl(
                x=list(x),
                y=list(y),
                mode="markers",
                name="rows",
                marker={
                    "size": 5,
                    "opacity": 0.7,
                    "color": list(color),
                    "colorscale": "Viridis",
                    "showscale": True,
                    "colorbar": {"title": color_title},
                },
            )
        )
    else:
        groups: dict[str, list[int]] = {}
        for i, c in enumerate(color):
            groups.setdefault("(missing)" if c is None else str(c), []).append(i)
        for label, idx in list(sorted(groups.items(), key=lambda kv: -len(kv[1])))[:12]:
            fig.add_trace(
                go.Scattergl(
                    x=[x[i] for i in idx],
                    y=[y[i] for i in idx],
                    mode="markers",
                    name=label,
                    marker={"size": 5, "opacity": 0.7},
                )
            )
    fig.update_layout(title=f"{y_title} against {x_title}")
    fig.update_xaxes(title=x_title)
    fig.update_yaxes(title=y_title)
    return style(fig, theme, caption=fmt.rows_caption(len(x), total))


def correlation_heatmap(
    correlations: Mapping[str, Any], method: str = "pearson", theme: Theme | None = None
) -> go.Figure:
    names = correlations["columns"]
    matrix = correlations[method]
    text = [["" if v is None else f"{v:.2f}" for v in row] for row in matrix]
    fig = go.Figure(
        go.Heatmap(
            z=matrix,
            x=names,
            y=names,
            zmin=-1,
            zmax=1,
            colorscale="RdBu",
            reversescale=True,
            text=text,
            texttemplate="%{text}" if len(names) <= 12 else None,
            hovertemplate="%{y} × %{x}: %{z:.3f}<extra></extra>",
        )
    )
    fig.update_layout(
        title=f"{method.title()} correlation", height=max(DEFAULT_HEIGHT, 28 * len(names) + 140)
    )
    fig.update_yaxes(autorange="reversed")
    caption = "all rows (pairwise complete)"
    if correlations.get("limited_to"):
        caption += f"; first {correlations['limited_to']} numeric columns"
    return style(fig, theme, height=max(DEFAULT_HEIGHT, 28 * len(names) + 140), caption=caption)


def time_series(
    x: Sequence[Any],
    series: Mapping[str, Sequence[Any]],
    *,
    title: str,
    x_title: str,
    caption: str,
    theme: Theme | None = None,
) -> go.Figure:
    fig = go.Figure()
    for name, values in series.items():
        fig.add_trace(go.Scatter(x=list(x), y=list(values), mode="lines", name=name))
    fig.update_layout(title=title)
    fig.update_xaxes(title=x_title)
    return style(fig, theme, caption=caption)
