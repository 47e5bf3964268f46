"""The chart builder and the cluster view of the Explore wizard.

Each chart reads the least it can: histograms, quartiles, top values and correlations come
from the profile (exact, all rows); violins and scatters from a uniform random sample
(``ws.datasets.sample``); time series from an aggregation over every row
(``ws.datasets.aggregate``). The sample size or the basis is written under every chart.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import ipywidgets as W

from ..core.recipe_base import kind_of
from . import format as fmt
from .status import StatusArea
from .tasks import LatestOnly

if TYPE_CHECKING:
    import plotly.graph_objects as go

    from ..core.dataset_versions import DatasetVersion
    from ..core.profiling import Profile
    from .explore import ExploreWizard
    from .theme import Theme

__all__ = ["CHARTS", "ChartBuilder", "ClusterView", "column_figures"]

SAMPLE_ROWS = 5000
CHARTS = (
    "Histogram",
    "Box",
    "Violin",
    "Top values",
    "Scatter",
    "Correlation heatmap",
    "Time series",
)
AGGREGATIONS = ("sum", "mean", "median", "min", "max", "count")
NONE = "(none)"
_WIDE = W.Layout(width="260px")
_STYLE = {"description_width": "initial"}


def column_figures(column: dict[str, Any], theme: Theme) -> list[go.Figure]:
    """The charts of one column's profile: its distribution (and quartiles for numbers), or
    its most frequent values."""
    from .plotly_import import figures as _figures

    figures = _figures()

    if column.get("histogram"):
        out = [figures.histogram(column, theme)]
        if column.get("numeric"):
            out.append(figures.box_from_stats(column, theme))
        return out
    if column.get("top_values"):
        return [figures.bar_top_values(column, theme)]
    return []


class ChartBuilder(W.VBox):
    """Pick a chart type and its columns; the chart redraws on every change."""

    def __init__(self, owner: ExploreWizard) -> None:
        self.owner = owner
        self.version: DatasetVersion | None = None
        self.profile: Profile | None = None
        self.kind = W.Dropdown(
            options=CHARTS, value="Histogram", description="Chart", style=_STYLE, layout=_WIDE
        )
        self.x = W.Dropdown(description="Column", style=_STYLE, layout=_WIDE)
        self.y = W.Dropdown(description="Y", style=_STYLE, layout=_WIDE)
        self.color = W.Dropdown(description="Colour by", style=_STYLE, layout=_WIDE)
        self.agg = W.Dropdown(
            options=AGGREGATIONS,
            value="sum",
            description="Summarise",
            style=_STYLE,
            layout=W.Layout(width="180px"),
        )
        self.unit = W.Dropdown(
            options=("day", "week", "month", "quarter", "year"),
            value="month",
            description="Per",
            style=_STYLE,
            layout=W.Layout(width="160px"),
        )
        self.method = W.Dropdown(
            options=("pearson", "spearman"),
            value="pearson",
            description="Method",
            style=_STYLE,
            layout=W.Layout(width="200px"),
        )
        self.output = W.Output(layout=W.Layout(width="100%", min_height="400px"))
        self.note = W.HTML()
        self.status = StatusArea()
        self.loads = LatestOnly(self.status)
        self.controls = W.HBox(layout=W.Layout(flex_flow="row wrap", align_items="center"))
        for control in (self.kind, self.x, self.y, self.color, self.agg, self.unit, self.method):
            control.observe(self._changed, names="value")
        self._quiet = False
        super().__init__([self.controls, self.status, self.note, self.output])
        self._layout_controls()

    @property
    def visible(self) -> bool:
        return self.owner.sections.value == "Charts" and self.owner.content.children == (self,)

    def set_version(self, version: DatasetVersion) -> None:
        self.version, self.profile = version, None
        self._quiet = True
        try:
            self._layout_controls()
        finally:
            self._quiet = False
        self.output.outputs = ()

    def set_profile(self, profile: Profile) -> None:
        self.profile = profile
        if self.visible:
            self.draw()

    # -- controls per chart type
    def _columns(self, *kinds: str) -> list[str]:
        if self.version is None:
            return []
        return [c for c, t in self.version.schema.items() if not kinds or kind_of(t) in kinds]

    def _layout_controls(self) -> None:
        kind = self.kind.value
        numeric = self._columns("numeric")
        dates = self._columns("datetime")
        groups = self._columns("text", "category", "boolean")
        shown: list[W.Widget] = [self.kind]
        if kind == "Histogram":
            self._options(self.x, numeric + dates, "Column")
            shown.append(self.x)
        elif kind in ("Box", "Violin"):
            self._options(self.x, numeric, "Column")
            shown.append(self.x)
        elif kind == "Top values":
            self._options(self.x, self._columns(), "Column")
            shown.append(self.x)
        elif kind == "Scatter":
            self._options(self.x, numeric, "X")
            self._options(self.y, numeric, "Y", prefer=1)
            if self.y.value == self.x.value and len(numeric) > 1:
                self.y.value = next(c for c in numeric if c != self.x.value)
            self._options(self.color, [NONE, *groups, *numeric], "Colour by")
            shown += [self.x, self.y, self.color]
        elif kind == "Correlation heatmap":
            shown.append(self.method)
        elif kind == "Time series":
            self._options(self.x, dates, "Date")
            self._options(self.y, ["rows", *numeric], "Value", prefer=1)
            self._options(self.color, [NONE, *groups], "One line per")
            shown += [self.x, self.y, self.agg, self.unit, self.color]
        self.controls.children = shown

    @staticmethod
    def _options(dropdown: W.Dropdown, options: list[str], label: str, prefer: int = 0) -> None:
        current = dropdown.value
        dropdown.options = options
        dropdown.description = label
        if current in options:
            dropdown.value = current
        elif options:
            dropdown.value = options[min(prefer, len(options) - 1)]

    def _changed(self, change: dict[str, Any]) -> None:
        if self._quiet:
            return
        if change["owner"] is self.kind:
            self._quiet = True
            try:
                self._layout_controls()
            finally:
                self._quiet = False
        if self.visible:
            self.draw()

    # -- drawing
    def draw(self) -> None:
        """(Re)draw the chart from its current settings (in the background)."""
        if self.version is None:
            return
        kind, version = self.kind.value, self.version
        needs_profile = kind in ("Histogram", "Box", "Top values", "Correlation heatmap")
        if needs_profile and self.profile is None:
            self.output.outputs = ()
            self.note.value = (
                '<div class="aq-muted">This chart appears when the profile is ready.</div>'
            )
            return
        if kind not in ("Correlation heatmap",) and not self.x.value:
            self.output.outputs = ()
            self.note.value = (
                f'<div class="aq-muted">No suitable column for a {kind.lower()} in '
                f"{fmt.escape(version.ref)}.</div>"
            )
            return
        self.note.value = ""
        from .plotly_import import figures as _figures

        figures = _figures()

        self.loads.run(
            f"Drawing the {kind.lower()}",
            lambda: self._figure(kind, version),
            lambda fig: figures.show(self.output, fig),
            background=self.owner.background,
        )

    def _figure(self, kind: str, version: DatasetVersion) -> go.Figure:
        from .plotly_import import figures as _figures

        figures = _figures()

        theme, ws, x = self.owner.theme, self.owner.ws, self.x.value
        if kind in ("Histogram", "Box", "Top values"):
            assert self.profile is not None
            column = self.profile.column(x).__dict__
            if kind == "Histogram":
                if not column.get("histogram"):
                    raise ValueError(f"Column '{x}' has no values to draw.")
                return figures.histogram(column, theme)
            if kind == "Box":
                if not column.get("numeric"):
                    raise ValueError(f"Column '{x}' has no values to draw.")
                return figures.box_from_stats(column, theme)
            return figures.bar_top_values(column, theme)
        if kind == "Correlation heatmap":
            assert self.profile is not None
            if len(self.profile.correlations.get("columns", [])) < 2:
                raise ValueError("A correlation heatmap needs at least two numeric columns.")
            return figures.correlation_heatmap(self.profile.correlations, self.method.value, theme)
        if kind == "Violin":
            sample = ws.datasets.sample(version.ref, SAMPLE_ROWS, columns=[x])
            return figures.violin(sample[x].dropna().tolist(), x, version.rows, theme)
        if kind == "Scatter":
            columns = list(
                dict.fromkeys(
                    [x, self.y.value] + ([self.color.value] if self.color.value != NONE else [])
                )
            )
            sample = ws.datasets.sample(version.ref, SAMPLE_ROWS, columns=columns)
            color = None
            if self.color.value != NONE:
                color = [
                    None if fmt.value(v) == "" else v for v in sample[self.color.value].tolist()
                ]
            return figures.scatter(
                sample[x].tolist(),
                sample[self.y.value].tolist(),
                x_title=x,
                y_title=self.y.value,
                total=version.rows,
                color=color,
                color_title=None if self.color.value == NONE else self.color.value,
                theme=theme,
            )
        return self._time_series(version)

    def _time_series(self, version: DatasetVersion) -> go.Figure:
        from .plotly_import import figures as _figures

        figures = _figures()

        query = self.time_query()
        result = self.owner.ws.datasets.aggregate(version.ref, query)
        frame, value = result.frame, query["metrics"][0]["as"]
        date = self.x.value
        if self.color.value != NONE:
            series = {
                str(key): part.set_index(date)[value]
                for key, part in frame.groupby(self.color.value, sort=False, dropna=False)
            }
            index = sorted(frame[date].unique())
            lines = {k: s.reindex(index).tolist() for k, s in list(series.items())[:12]}
        else:
            index = frame[date].tolist()
            lines = {value: frame[value].tolist()}
        caption = (
            f"{self.agg.value if self.y.value != 'rows' else 'count'} per {self.unit.value}"
            f" over all {fmt.count(result.rows_matched)} rows"
        )
        if result.truncated:
            caption += f"; first {fmt.count(len(frame))} of {fmt.count(result.groups)} points"
        title = f"{value.replace('_', ' ')} per {self.unit.value}"
        return figures.time_series(
            index, lines, title=title, x_title=date, caption=caption, theme=self.owner.theme
        )

    def time_query(self) -> dict[str, Any]:
        """The aggregation behind the time series (also shown by "Show code")."""
        if self.y.value == "rows" or self.agg.value == "count":
            metric = {"function": "count", "as": "rows"}
        else:
            metric = {
                "function": self.agg.value,
                "column": self.y.value,
                "as": f"{self.agg.value}_{self.y.value}",
            }
        query: dict[str, Any] = {
            "time": {"column": self.x.value, "unit": self.unit.value},
            "metrics": [metric],
            "limit": 5000,
        }
        if self.color.value != NONE:
            query["group_by"] = [self.color.value]
        return query

    def code_lines(self) -> list[str]:
        if self.version is None:
            return []
        ref, kind = self.version.ref, self.kind.value
        if kind == "Time series" and self.x.value:
            return ["", f"series = ws.datasets.aggregate({ref!r}, {self.time_query()!r}).frame"]
        if kind in ("Violin", "Scatter") and self.x.value:
            return [
                "",
                f"sample = ws.datasets.sample({ref!r}, {SAMPLE_ROWS})  # uniform, all columns",
            ]
        return []


class ClusterView(W.VBox):
    """K-means on the numeric columns: the elbow and silhouette curves, the chosen k and the
    rule that chose it, the clusters on two principal components; the user may pick k."""

    def __init__(self, owner: ExploreWizard) -> None:
        self.owner = owner
        self.version: DatasetVersion | None = None
        self.result: dict[str, Any] | None = None
        self.columns = W.SelectMultiple(
            description="Columns", rows=6, style=_STYLE, layout=W.Layout(width="320px")
        )
        self.k_min = W.BoundedIntText(
            value=2,
            min=2,
            max=20,
            description="k from",
            style=_STYLE,
            layout=W.Layout(width="130px"),
        )
        self.k_max = W.BoundedIntText(
            value=8, min=2, max=20, description="to", style=_STYLE, layout=W.Layout(width="110px")
        )
        self.sample = W.BoundedIntText(
            value=5000,
            min=100,
            max=100_000,
            step=1000,
            description="Sample rows",
            style=_STYLE,
            layout=W.Layout(width="200px"),
        )
        self.run_button = W.Button(description="Find clusters", icon="play", button_style="primary")
        self.run_button.on_click(lambda _b: self.run())
        self.pick_k = W.Dropdown(
            description="Use k", style=_STYLE, layout=W.Layout(width="150px", display="none")
        )
        self.pick_k.observe(self._on_pick_k, names="value")
        self.summary = W.HTML()
        self.output = W.Output(layout=W.Layout(width="100%"))
        self._quiet = False
        super().__init__(
            [
                W.HBox(
                    [
                        self.columns,
                        W.VBox([W.HBox([self.k_min, self.k_max]), self.sample, self.run_button]),
                    ]
                ),
                W.HBox([self.pick_k]),
                self.summary,
                self.output,
            ]
        )

    def set_version(self, version: DatasetVersion) -> None:
        self.version, self.result = version, None
        numeric = [c for c, t in version.schema.items() if kind_of(t) == "numeric"]
        self.columns.options = numeric
        self.columns.value = tuple(numeric[:8])
        self.run_button.disabled = len(numeric) < 2
        self.summary.value = (
            ""
            if len(numeric) >= 2
            else '<div class="aq-muted">Clustering needs at least two numeric columns.</div>'
        )
        self.output.outputs = ()
        self.pick_k.layout.display = "none"

    def run(self, k: int | None = None) -> None:
        if self.version is None:
            return
        if self.k_min.value > self.k_max.value:
            self.owner.status.fail("'k from' must not be above 'to'.")
            return
        ref, columns = self.version.ref, list(self.columns.value)
        ks = [k] if k is not None else list(range(self.k_min.value, self.k_max.value + 1))
        sample = self.sample.value

        def work(progress: Any) -> dict[str, Any]:
            return self.owner.ws.datasets.explore_clusters(
                ref, columns=columns or None, k_range=ks, sample=sample
            )

        self.owner.runner.run(
            f"Clustering {ref}", work, lambda r: self._show(r, k), controls=[self.run_button]
        )

    def _show(self, result: dict[str, Any], forced: int | None) -> None:
        from .plotly_import import figures as _figures

        figures = _figures()

        if forced is None:
            self.result = result
            self._quiet = True
            try:
                self.pick_k.options = [(f"{k}", k) for k in result["k"]]
                self.pick_k.value = result["chosen_k"]
                self.pick_k.layout.display = None
            finally:
                self._quiet = False
        curves = self.result or result
        elbow = figures.figure_for(
            {
                "kind": "elbow",
                "title": "Elbow (inertia) and silhouette by number of clusters",
                "k": curves["k"],
                "inertia": curves["inertia"],
                "silhouette": curves["silhouette"],
                "chosen_k": result["chosen_k"],
                "elbow_k": curves.get("elbow_k"),
            },
            self.owner.theme,
        )
        pca = result["pca"]
        scatter = figures.figure_for(
            {
                "kind": "cluster_scatter",
                "title": f"{result['chosen_k']} clusters on the first two principal components",
                "x_title": "Component 1",
                "y_title": "Component 2",
                "x": [p[0] for p in pca["points"]],
                "y": [p[1] for p in pca["points"]],
                "cluster": pca["labels"],
                "n_shown": len(pca["points"]),
                "n_total": result["rows_total"],
            },
            self.owner.theme,
        )
        rule = (
            f"you chose k = {forced}"
            if forced is not None
            else f"k = {result['chosen_k']} has the {result['chosen_by']}"
        )
        sizes = ", ".join(
            f"cluster {c['cluster']}: {fmt.count(c['size'])}" for c in result["clusters"]
        )
        dropped = result.get("rows_dropped_missing") or 0
        left_out = f"; {fmt.count(dropped)} rows with missing values left out" if dropped else ""
        self.summary.value = (
            f"<div><b>{fmt.escape(rule)}</b>; the elbow of the inertia curve is at "
            f"k = {curves.get('elbow_k')}. Columns standardised; "
            f"{fmt.rows_caption(result['sample_size'], result['rows_total'])}{left_out}."
            f'</div><div class="aq-muted">{fmt.escape(sizes)}</div>'
        )
        figures.show(self.output, elbow, scatter)

    def _on_pick_k(self, change: dict[str, Any]) -> None:
        if self._quiet or change["new"] is None or self.result is None:
            return
        if change["new"] == self.result["chosen_k"]:
            self._show(self.result, None)
        else:
            self.run(k=change["new"])
