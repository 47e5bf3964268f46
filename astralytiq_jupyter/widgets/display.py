"""Rich display in notebooks of what the Python API returns: dataset and model versions as
cards, profiles as a summary with their issues, recipe previews step by step, and training
results as their summary, leaderboard and figures.

The core stays free of display code: :func:`register` hands IPython a formatter per type,
by name (so registering imports nothing heavy; the rendering code loads on first display).
``astralytiq_jupyter`` calls it on import when it runs inside IPython.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from . import format as fmt

if TYPE_CHECKING:
    from ..core.dataset_versions import DatasetVersion
    from ..core.model_versions import ModelVersion
    from ..core.profiling import Profile
    from ..core.recipes import RecipePreview
    from ..core.training import TrainingResult

__all__ = [
    "dataset_version_html",
    "model_version_html",
    "profile_html",
    "recipe_preview_html",
    "register",
    "show_training_result",
]

_STYLE = (
    "<style>.aqd{font-family:var(--jp-ui-font-family,system-ui,sans-serif);font-size:13px}"
    ".aqd .t{font-weight:600;font-size:14px;margin:2px 0}.aqd .m{color:#5f6368}"
    ".aqd table{border-collapse:collapse;margin:4px 0}.aqd th,.aqd td{padding:2px 8px;"
    "text-align:left;border-bottom:1px solid #eceff3}.aqd td.n{text-align:right}"
    ".aqd .b{display:inline-block;padding:0 6px;border-radius:8px;background:#eef1f5;"
    "border:1px solid #d0d7de;font-size:12px}.aqd .ok{background:#e6f4ea}.aqd .warn"
    "{background:#fff4e5}.aqd .bad{background:#fdecea}</style>"
)


def _card(body: str) -> str:
    return f'{_STYLE}<div class="aqd">{body}</div>'


def _badge(text: str, kind: str = "") -> str:
    return f'<span class="b {kind}">{fmt.escape(text)}</span>'


def _score_badge(score: float | None) -> str:
    if score is None:
        return _badge("no score")
    kind = "ok" if score >= 90 else "warn" if score >= 70 else "bad"
    return _badge(f"quality {fmt.number(score, 3)}/100", kind)


def _rows(pairs: list[tuple[str, str]]) -> str:
    return (
        "<table>"
        + "".join(f"<tr><th>{fmt.escape(k)}</th><td>{v}</td></tr>" for k, v in pairs)
        + "</table>"
    )


def dataset_version_html(v: DatasetVersion) -> str:
    """A dataset version as a card: size, quality, source, lineage and schema."""
    lineage = f" · derived from <b>{fmt.escape(v.parent)}</b>" if v.parent else ""
    missing = v.quality.get("missing") or {}
    schema = "".join(
        f"<tr><td>{fmt.escape(c)}</td><td>{fmt.escape(t)}</td>"
        f'<td class="n">{fmt.percent((missing.get(c) or {}).get("percent"))}</td></tr>'
        for c, t in list(v.schema.items())[:60]
    )
    more = (
        f'<div class="m">… and {len(v.schema) - 60} more columns</div>'
        if len(v.schema) > 60
        else ""
    )
    return _card(
        f'<div class="t">{fmt.escape(v.ref)} {_score_badge(v.quality_score)}</div>'
        f'<div class="m">{fmt.count(v.rows)} rows × {fmt.count(v.columns)} columns · '
        f"{fmt.size(v.size_bytes)} · source {fmt.escape(v.source)}{lineage} · "
        f"by {fmt.escape(v.created_by)} on {v.created_at:%Y-%m-%d %H:%M}</div>"
        "<details><summary>Schema</summary><table><tr><th>column</th><th>type</th>"
        f"<th>missing</th></tr>{schema}</table>{more}</details>"
    )


def model_version_html(v: ModelVersion) -> str:
    """A model version as a card: task, algorithm, metrics, lineage and serving runtime."""
    from .model_page import headline, metrics_table

    aliases = " ".join(_badge(a) for a in v.aliases)
    return _card(
        f'<div class="t">{fmt.escape(v.ref)} {_badge(v.task)} {_badge(v.algorithm)} {aliases}</div>'
        f'<div class="m">{fmt.escape(headline(v))} · trained on '
        f"{fmt.escape(v.dataset or 'unknown data')} · serving {fmt.escape(v.runtime)} · "
        f"by {fmt.escape(v.created_by)} on {v.created_at:%Y-%m-%d %H:%M}</div>"
        + metrics_table(v.metrics if isinstance(v.metrics, dict) else {})
    )


def profile_html(p: Profile) -> str:
    """A profile's summary: size, quality, issues with their fixes, one line per column."""
    issues = (
        "".join(
            f"<tr><td>{_badge(i.severity)}</td><td>{fmt.escape(i.message)}</td>"
            f"<td><code>{fmt.escape(i.suggestion.get('op', ''))}</code></td></tr>"
            for i in p.issues
        )
        or '<tr><td colspan="3" class="m">No issues found.</td></tr>'
    )
    columns = []
    for c in p.column_profiles[:80]:
        if c.numeric:
            summary = (
                f"mean {fmt.number(c.numeric.get('mean'))}, median "
                f"{fmt.number(c.numeric.get('median'))}, range {fmt.number(c.numeric.get('min'))}"
                f" – {fmt.number(c.numeric.get('max'))}"
            )
        elif c.top_values:
            summary = "top: " + ", ".join(
                f"{fmt.escape(str(t['value']))[:30]} ({fmt.percent(t.get('pct'))})"
                for t in c.top_values[:3]
            )
        else:
            summary = ""
        columns.append(
            f"<tr><td>{fmt.escape(c.name)}</td><td>{fmt.escape(c.kind)}</td>"
            f'<td class="n">{fmt.percent(c.missing_pct)}</td>'
            f'<td class="n">{fmt.count(c.distinct)}</td><td>{summary}</td></tr>'
        )
    return _card(
        f'<div class="t">Profile {_score_badge(p.quality_score)}</div>'
        f'<div class="m">{fmt.count(p.rows)} rows × {fmt.count(p.columns)} columns · '
        f"{fmt.percent(p.missing_cells_pct)} cells missing · {fmt.count(p.duplicate_rows)} "
        f"duplicate rows · computed in {fmt.number(p.seconds, 2)} s on every row</div>"
        f"<table><tr><th>severity</th><th>issue</th><th>fix</th></tr>{issues}</table>"
        "<details><summary>Columns</summary><table><tr><th>column</th><th>kind</th>"
        f"<th>missing</th><th>distinct</th><th>summary</th></tr>{''.join(columns)}</table>"
        '</details><div class="m">profile.to_html() gives the full report.</div>'
    )


def recipe_preview_html(p: RecipePreview) -> str:
    """A recipe preview: what each step did to the sample, then the first rows."""
    steps = "".join(
        f"<tr><td>{s.step + 1}</td><td>{fmt.escape(s.description)}</td>"
        f'<td class="n">{fmt.count(s.rows_before)} → {fmt.count(s.rows_after)}</td>'
        f"<td>{fmt.escape(', '.join(s.columns_added) or '')}</td>"
        f"<td>{fmt.escape(', '.join(s.columns_removed) or '')}</td>"
        f"<td>{fmt.escape(', '.join(s.columns_changed or []))}</td></tr>"
        for s in p.steps
    )
    error = ""
    if p.error:
        error = f'<div class="bad">⚠ {fmt.escape(p.error.get("message", p.error))}</div>'
    head = p.result.head(20).to_html(index=False, max_cols=30) if p.result is not None else ""
    return _card(
        f'<div class="t">Recipe preview</div><div class="m">{fmt.escape(p.sample)}: '
        f"{fmt.count(p.rows_sampled)} of {fmt.count(p.rows_total)} rows</div>{error}"
        "<table><tr><th>#</th><th>step</th><th>rows</th><th>added</th><th>removed</th>"
        f"<th>changed</th></tr>{steps}</table>{head}"
    )


def training_summary_html(r: TrainingResult) -> str:
    holdout = "".join(
        f"<tr><th>{'★ ' if k == r.primary_metric else ''}{fmt.escape(k)}</th>"
        f'<td class="n">{fmt.number(v, 4)}</td></tr>'
        for k, v in r.holdout_metrics.items()
    )
    notes = "".join(f"<li>{fmt.escape(n)}</li>" for n in r.notes)
    return _card(
        f'<div class="t">{fmt.escape(r.task.title())}: best is {fmt.escape(r.best_algorithm)} '
        f"{_badge('ranked by ' + r.primary_metric)}</div>"
        f'<div class="m">target {fmt.escape(r.target or "—")} · {len(r.features)} features · '
        f"{fmt.count(r.n_rows.get('train'))} training and {fmt.count(r.n_rows.get('holdout'))} "
        f"held-out rows · {fmt.number(r.duration_seconds, 3)} s</div>"
        f"<table><tr><th>holdout metric</th><th>value</th></tr>{holdout}</table>"
        + (f"<details><summary>Notes</summary><ul>{notes}</ul></details>" if notes else "")
    )


def show_training_result(r: TrainingResult) -> None:
    """Display a training result: summary, leaderboard (a DataFrame), then its figures."""
    from IPython.display import HTML, display

    from .plotly_import import figures as _figures

    figures = _figures()

    display(HTML(training_summary_html(r)))
    display(r.leaderboard)
    for plot in r.plots.values():
        try:
            fig = figures.figure_for(plot)
        except ValueError:
            continue
        display(figures.mimebundle(fig), raw=True)


_HTML: dict[tuple[str, str], str] = {
    ("astralytiq_jupyter.core.dataset_versions", "DatasetVersion"): "dataset_version_html",
    ("astralytiq_jupyter.core.model_versions", "ModelVersion"): "model_version_html",
    ("astralytiq_jupyter.core.profiling_report", "Profile"): "profile_html",
    ("astralytiq_jupyter.core.recipes", "RecipePreview"): "recipe_preview_html",
}


def _lazy(name: str) -> Callable[[Any], Any]:
    def render(obj: Any) -> Any:
        return globals()[name](obj)

    return render


def register(shell: Any) -> None:
    """Teach an IPython ``shell`` to display the API's objects richly (by type name)."""
    html = shell.display_formatter.formatters["text/html"]
    for (module, name), function in _HTML.items():
        html.for_type_by_name(module, name, _lazy(function))
    shell.display_formatter.ipython_display_formatter.for_type_by_name(
        "astralytiq_jupyter.core.training", "TrainingResult", _lazy("show_training_result")
    )
