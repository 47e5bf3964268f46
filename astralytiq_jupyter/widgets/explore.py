"""The Explore wizard (EDA): overview and quality of a dataset version, per-column detail,
charts, k-means clusters and an HTML report.

Opening a version shows at once what its metadata knows (size, types, the quality summary
recorded at ingest) and the first page of rows; the full profile (exact statistics over every
row) is computed in the background and fills in the column details, the distributions in the
grid's headers and the quality issues with their one-click fixes. Charts of large data draw
exact summaries (histograms, quartiles, correlations, time aggregates computed next to the
data) or a random sample whose size is written under the chart.
"""

from __future__ import annotations

import base64
from typing import TYPE_CHECKING, Any

import ipywidgets as W

from ..core.permissions import Permission
from . import format as fmt
from .base import Navigate, Wizard, warm_up
from .code import CodeView
from .explore_charts import ChartBuilder, ClusterView, column_figures
from .pickers import DatasetPicker
from .table import ColumnInfo, PagedTable
from .tasks import LatestOnly

if TYPE_CHECKING:
    from ..client.workspace import Workspace
    from ..core.dataset_versions import DatasetVersion
    from ..core.profiling import Profile
    from .theme import Theme

__all__ = ["ExploreWizard", "column_table", "quality_badge"]

SECTIONS = ("Overview", "Columns", "Charts", "Clusters")
_SEVERITY = {"high": "bad", "medium": "warn", "warning": "warn", "low": "ok", "info": "ok"}
MAX_REPORT_BYTES = 20 * 1024 * 1024


def quality_badge(score: float | None) -> str:
    if score is None:
        return '<span class="aq-badge">no score</span>'
    kind = "ok" if score >= 90 else "warn" if score >= 70 else "bad"
    return f'<span class="aq-badge aq-badge-{kind}">quality {fmt.number(score, 3)}/100</span>'


def _kpi(value: str, label: str) -> str:
    return (
        f'<div class="aq-kpi"><div class="aq-kpi-value">{value}</div>'
        f'<div class="aq-kpi-label">{fmt.escape(label)}</div></div>'
    )


class ExploreWizard(Wizard):
    """EDA of a dataset version: ``aq.ExploreWizard("sales")``."""

    title = "Explore"

    def __init__(
        self,
        ref: str | None = None,
        ws: Workspace | None = None,
        *,
        navigate: Navigate | None = None,
        theme: Theme | None = None,
        header: bool = True,
        background: bool = True,
    ) -> None:
        super().__init__(ws, navigate=navigate, theme=theme, header=header, background=background)
        self.background = background
        self.version: DatasetVersion | None = None
        self.profile: Profile | None = None
        self.fixes: list[dict[str, Any]] = []
        self.loads = LatestOnly(self.status)

        self.picker = DatasetPicker(self.ws)
        self.report_button = W.Button(
            description="HTML report",
            icon="download",
            tooltip="Download the profile as a standalone HTML page",
        )
        self.report_button.on_click(lambda _b: self.export_report())
        self.report_link = W.HTML()
        self.sections = W.ToggleButtons(
            options=SECTIONS, value="Overview", style={"button_width": "110px"}
        )
        self.sections.observe(lambda _c: self._show_section(), names="value")

        # overview
        self.summary = W.HTML()
        self.issues_box = W.VBox()
        self.fixes_box = W.VBox()
        self.grid = PagedTable(page_size=50)
        self.overview = W.VBox(
            [
                self.summary,
                self.issues_box,
                self.fixes_box,
                W.HTML('<div class="aq-title">Rows</div>'),
                self.grid,
            ]
        )
        # columns
        self.column = W.Dropdown(
            description="Column",
            options=[],
            style={"description_width": "initial"},
            layout=W.Layout(width="320px"),
        )
        self.column.observe(lambda _c: self._show_column(), names="value")
        self.column_stats = W.HTML()
        self.column_charts = W.Output(layout=W.Layout(width="100%"))
        self.columns_view = W.VBox([self.column, self.column_stats, self.column_charts])
        # charts and clusters
        self.charts = ChartBuilder(self)
        self.clusters = ClusterView(self)
        self.code = CodeView()
        self.code.set_code(self._code)

        self._views = {
            "Overview": self.overview,
            "Columns": self.columns_view,
            "Charts": self.charts,
            "Clusters": self.clusters,
        }
        self.content = W.VBox([self.overview])
        self.empty = W.HTML(
            '<div class="aq-empty">No datasets yet — upload a file first (Upload).</div>'
        )
        self.body.children = [
            W.HBox(
                [self.picker, self.report_button],
                layout=W.Layout(flex_flow="row wrap", align_items="center"),
            ),
            self.report_link,
            self.sections,
            self.content,
            self.code,
        ]
        self.picker.on_change(self._on_pick)
        warm_up()
        if ref is not None:
            self.picker.select(ref)
        else:
            self._on_pick(self.picker.ref)

    # -- the app's hand-over
    def receive(self, **context: Any) -> None:
        if context.get("ref"):
            self.picker.select(context["ref"])

    # -- opening a version
    def _on_pick(self, ref: str | None) -> None:
        if ref is None:
            self.version = self.profile = None
            self.content.children = [self.empty]
            self.sections.disabled = self.report_button.disabled = True
            return
        self.sections.disabled = False
        self.show_version(ref)

    def show_version(self, ref: str) -> None:
        """Show ``ref``: its metadata and first rows now, its full profile when ready."""
        try:
            version = self.ws.datasets.get(ref)
        except Exception as error:  # noqa: BLE001 - plain words in the status area
            self.status.fail(error)
            return
        self.version, self.profile, self.fixes = version, None, []
        self.report_button.disabled = True
        self.report_link.value = ""
        self._show_summary()
        self._show_issues(None)
        self._show_fixes()
        missing = {c: m.get("percent") for c, m in (version.quality.get("missing") or {}).items()}
        infos = {
            c: ColumnInfo(dtype=t, missing_pct=missing.get(c)) for c, t in version.schema.items()
        }
        pinned = version.ref

        def page(offset: int, limit: int) -> Any:
            return self.ws.datasets.load(pinned, offset=offset, limit=limit)

        self.grid.show_rows(page, version.rows, infos)
        self.column.options = list(version.schema)
        self.column.value = next(iter(version.schema), None)
        self.charts.set_version(version)
        self.clusters.set_version(version)
        self._show_section()
        self.loads.run(
            f"Profiling {pinned} ({fmt.count(version.rows)} rows)",
            lambda: self.ws.datasets.profile(pinned),
            lambda profile: self._on_profile(pinned, profile),
            background=self.background,
        )

    def _on_profile(self, ref: str, profile: Profile) -> None:
        if self.version is None or self.version.ref != ref:
            return
        self.profile = profile
        self.report_button.disabled = False
        self._show_summary()
        self._show_issues(profile)
        self.grid.set_infos(
            {
                c.name: ColumnInfo(
                    dtype=c.dtype, missing_pct=c.missing_pct, histogram=_header_histogram(c)
                )
                for c in profile.column_profiles
            }
        )
        self.charts.set_profile(profile)
        self._show_column()
        self.status.done(f"Profiled {ref} in {fmt.number(profile.seconds, 2)} s")

    # -- sections
    def _show_section(self) -> None:
        if self.version is None:
            return
        self.content.children = [self._views[self.sections.value]]
        if self.sections.value == "Charts":
            self.charts.draw()

    def _show_summary(self) -> None:
        v = self.version
        assert v is not None
        kinds: dict[str, int] = {}
        from ..core.recipe_base import kind_of

        for dtype in v.schema.values():
            kind = kind_of(dtype)
            kinds[kind] = kinds.get(kind, 0) + 1
        q = v.quality or {}
        score = self.profile.quality_score if self.profile is not None else q.get("score")
        kpis = "".join(
            [
                _kpi(fmt.count(v.rows), "rows"),
                _kpi(fmt.count(v.columns), "columns"),
                _kpi(fmt.size(v.size_bytes), "stored"),
                _kpi(fmt.percent(q.get("missing_percent")), "missing cells"),
                _kpi(fmt.count(q.get("duplicate_rows")), "duplicate rows"),
            ]
        )
        types = ", ".join(f"{n} {k}" for k, n in sorted(kinds.items(), key=lambda kv: -kv[1]))
        lineage = f" · derived from {fmt.escape(v.parent)}" if v.parent else ""
        self.summary.value = (
            f'<div class="aq-title">{fmt.escape(v.ref)} {quality_badge(score)}</div>'
            f'<div class="aq-muted">{fmt.escape(types)} · source {fmt.escape(v.source)}'
            f" · by {fmt.escape(v.created_by)} on {v.created_at:%Y-%m-%d %H:%M}{lineage}</div>"
            f'<div class="aq-card">{kpis}</div>'
        )

    def _show_issues(self, profile: Profile | None) -> None:
        if profile is None:
            recorded = (self.version.quality or {}).get("issues") or [] if self.version else []
            rows: list[W.Widget] = [W.HTML('<div class="aq-title">Quality issues</div>')]
            if not recorded:
                rows.append(W.HTML('<div class="aq-muted">None recorded at ingest.</div>'))
            for issue in recorded:
                rows.append(
                    W.HTML(self._issue_html(issue.get("severity", "info"), issue["message"]))
                )
            rows.append(
                W.HTML(
                    '<div class="aq-muted">Suggested fixes appear when the full '
                    "profile is ready.</div>"
                )
            )
            self.issues_box.children = rows
            return
        rows = [W.HTML('<div class="aq-title">Quality issues</div>')]
        if not profile.issues:
            rows.append(W.HTML('<div class="aq-muted">No issues found. ✓</div>'))
        can_clean = self.can(Permission.DATASET_WRITE)
        for issue in profile.issues:
            label = W.HTML(self._issue_html(issue.severity, issue.message))
            if issue.suggestion and can_clean:
                fix = W.Button(
                    description="Fix",
                    icon="wrench",
                    layout=W.Layout(width="auto"),
                    tooltip=f"Add a '{issue.suggestion.get('op')}' step to the recipe",
                )
                fix.on_click(lambda _b, step=issue.suggestion: self.fix(step))
                rows.append(W.HBox([fix, label], layout=W.Layout(align_items="center")))
            else:
                rows.append(label)
        self.issues_box.children = rows

    @staticmethod
    def _issue_html(severity: str, message: str) -> str:
        kind = _SEVERITY.get(severity, "ok")
        return (
            f'<span class="aq-badge aq-badge-{kind}">{fmt.escape(severity)}</span> '
            f"{fmt.escape(message)}"
        )

    # -- fixes
    def fix(self, step: dict[str, Any]) -> None:
        """Send a suggested step to the Clean wizard (inside the app), or collect it here."""
        assert self.version is not None
        if self.offers("clean"):
            self.navigate("clean", ref=self.version.ref, step=dict(step))  # type: ignore[misc]
            return
        if step not in self.fixes:
            self.fixes.append(dict(step))
        self._show_fixes()

    def _show_fixes(self) -> None:
        if not self.fixes or self.version is None:
            self.fixes_box.children = []
            return
        from ..core.recipes import Recipe

        described = Recipe.from_json(self.fixes).describe()
        items = "".join(f"<li>{fmt.escape(d)}</li>" for d in described)
        name = W.Text(
            value=f"{self.version.name}-clean",
            description="Save as",
            layout=W.Layout(width="300px"),
        )
        apply = W.Button(description="Apply fixes", icon="check", button_style="primary")
        clear = W.Button(description="Discard", icon="times")
        apply.on_click(lambda _b: self.apply_fixes(name.value))
        clear.on_click(lambda _b: self._discard_fixes())
        self.fixes_name = name
        self.fixes_box.children = [
            W.HTML(f'<div class="aq-title">Fixes to apply</div><ol>{items}</ol>'),
            W.HBox([name, apply, clear]),
        ]
        self.code.refresh()

    def _discard_fixes(self) -> None:
        self.fixes = []
        self._show_fixes()

    def apply_fixes(self, name: str) -> None:
        """Apply the collected fixes as a new version ``name`` (lineage to this version)."""
        assert self.version is not None
        steps, source = list(self.fixes), self.version.ref

        def work(progress: Any) -> Any:
            return self.ws.recipes.apply(steps, source, save_as=name)

        def done(version: DatasetVersion) -> None:
            self.fixes = []
            self.picker.refresh(select=version.ref)
            self.status.done(
                f"Saved {version.ref} ({fmt.count(version.rows)} rows)",
                actions=self.link("Train a model", "train", ref=version.ref),
            )

        self.runner.run(f"Applying {len(steps)} fix(es) to {source}", work, done)

    # -- per column
    def _show_column(self) -> None:
        name = self.column.value
        if self.profile is None or name is None:
            self.column_stats.value = (
                '<div class="aq-muted">Column details appear when the profile is ready.</div>'
            )
            self.column_charts.outputs = ()
            return
        column = self.profile.column(name)
        self.column_stats.value = column_table(column.__dict__)
        from .plotly_import import figures as _figures

        figures = _figures()

        figures.show(self.column_charts, *column_figures(column.__dict__, self.theme))

    # -- report
    def export_report(self) -> None:
        """Offer the profile as a standalone HTML file (a download link)."""
        if self.profile is None or self.version is None:
            self.status.info("The report is available once the profile is ready.")
            return
        html = self.profile.to_html(title=f"Profile of {self.version.ref}").encode()
        if len(html) > MAX_REPORT_BYTES:
            self.status.fail(f"The report is {fmt.size(len(html))}, too large to download here.")
            return
        data = base64.b64encode(html).decode()
        filename = f"{self.version.name}-v{self.version.version}-profile.html"
        self.report_link.value = (
            f'<a download="{fmt.escape(filename)}" href="data:text/html;base64,{data}">'
            f"⬇ {fmt.escape(filename)} ({fmt.size(len(html))})</a>"
        )
        self.status.done(f"Report of {self.version.ref} ready: use the link to save it")

    def _code(self) -> str:
        ref = self.version.ref if self.version else "sales"
        lines = [
            "import astralytiq_jupyter as aq",
            "",
            "ws = aq.connect()",
            f"version = ws.datasets.get({ref!r})",
            f"profile = ws.datasets.profile({ref!r})  # exact statistics over every row",
            "profile.issues  # quality issues, each with a suggested recipe step",
            f"df = ws.datasets.load({ref!r}, limit=1000)",
        ]
        lines += self.charts.code_lines()
        if self.fixes:
            lines += [
                "",
                f"steps = {self.fixes!r}",
                f"ws.recipes.apply(steps, {ref!r}, save_as={ref.split('@')[0] + '-clean'!r})",
            ]
        return "\n".join(lines)


def _header_histogram(column: Any) -> list[int] | None:
    if column.histogram:
        return list(column.histogram["counts"])
    if column.top_values:
        return [t["count"] for t in column.top_values[:12]]
    return None


def column_table(column: dict[str, Any]) -> str:
    """A column's statistics as a small two-column table."""
    rows = [
        ("type", f"{column['kind']} ({column['dtype']})"),
        ("values", fmt.count(column["count"])),
        ("missing", f"{fmt.count(column['missing'])} ({fmt.percent(column['missing_pct'])})"),
        ("distinct", f"{fmt.count(column['distinct'])} ({fmt.percent(column['distinct_pct'])})"),
    ]
    numeric = column.get("numeric")
    if numeric:
        for key in (
            "mean",
            "std",
            "min",
            "q1",
            "median",
            "q3",
            "max",
            "skew",
            "zeros",
            "negatives",
        ):
            if numeric.get(key) is not None:
                rows.append((key, fmt.number(numeric[key])))
    outliers = column.get("outliers")
    if outliers:
        rows.append(
            (
                "outliers (1.5×IQR)",
                f"{fmt.count(outliers['count'])} ({fmt.percent(outliers['pct'])})",
            )
        )
    dates = column.get("datetime")
    if dates:
        rows.append(("from", str(dates.get("min"))))
        rows.append(("to", str(dates.get("max"))))
    text = column.get("text")
    if text:
        for key, value in text.items():
            if isinstance(value, (int, float)):
                rows.append((key.replace("_", " "), fmt.number(value)))
    if column.get("flags"):
        rows.append(("flags", ", ".join(column["flags"])))
    body = "".join(f"<tr><th>{fmt.escape(k)}</th><td>{fmt.escape(v)}</td></tr>" for k, v in rows)
    return f'<table class="aq-table aq-card">{body}</table>'
