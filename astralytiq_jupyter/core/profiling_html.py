"""The profile as one self-contained HTML page: inline CSS and SVG, no script, all text escaped."""

from __future__ import annotations

import html
import json
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .profiling_report import ColumnProfile, Profile

_CSS = """
body{font:14px/1.45 system-ui,-apple-system,'Segoe UI',sans-serif;margin:24px;color:#1f2933}
h1{font-size:22px;margin:0 0 4px}h2{font-size:18px;margin:28px 0 8px;border-bottom:1px solid #ddd}
h3{font-size:15px;margin:0 0 6px}.muted{color:#6b7280}
.cards{display:flex;flex-wrap:wrap;gap:10px}.card{border:1px solid #e5e7eb;border-radius:6px;
padding:8px 12px;min-width:120px}.card b{display:block;font-size:18px}
table{border-collapse:collapse;margin:4px 0 12px}td,th{border:1px solid #e5e7eb;padding:3px 8px;
text-align:left;vertical-align:top}th{background:#f9fafb}td.n{text-align:right}
.col{border:1px solid #e5e7eb;border-radius:6px;padding:10px 14px;margin:10px 0;
display:flex;flex-wrap:wrap;gap:24px}.col>div{min-width:260px}
.sev-error{color:#b91c1c;font-weight:600}.sev-warning{color:#b45309;font-weight:600}
.sev-info{color:#2563eb}code{font-size:12px;background:#f3f4f6;padding:1px 4px;border-radius:3px}
.flag{display:inline-block;background:#eef2ff;border-radius:3px;padding:0 5px;margin-right:4px;
font-size:12px}
"""


def _e(value: Any) -> str:
    return html.escape(str(value), quote=True)


def _num(value: Any) -> str:
    if value is None:
        return "&ndash;"
    if isinstance(value, bool):
        return _e(value)
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        return f"{value:,.4g}" if abs(value) < 1e6 else f"{value:,.0f}"
    return _e(value)


def _bytes(n: int) -> str:
    size = float(n)
    for unit in ("B", "KB", "MB", "GB"):
        if size < 1024 or unit == "GB":
            return f"{size:,.1f} {unit}"
        size /= 1024
    return f"{size:,.1f} GB"


def _bars(counts: list[int], labels: list[str], width: int = 260, height: int = 70) -> str:
    """An SVG bar chart; each bar has a tooltip (``<title>``) with its range and count."""
    if not counts:
        return ""
    peak = max(counts) or 1
    step = width / len(counts)
    bars = []
    for i, (count, label) in enumerate(zip(counts, labels, strict=True)):
        h = max(1.0, height * count / peak) if count else 0.0
        bars.append(
            f'<rect x="{i * step + 0.5:.1f}" y="{height - h:.1f}" width="{max(step - 1, 1):.1f}" '
            f'height="{h:.1f}" fill="#6366f1"><title>{_e(label)}: {count:,}</title></rect>'
        )
    return (
        f'<svg width="{width}" height="{height}" viewBox="0 0 {width} {height}" role="img">'
        + "".join(bars)
        + "</svg>"
    )


def _histogram(cp: ColumnProfile) -> str:
    if not cp.histogram:
        return ""
    edges, counts = cp.histogram["edges"], cp.histogram["counts"]
    labels = [f"{_label(a)} to {_label(b)}" for a, b in zip(edges, edges[1:], strict=False)]
    return _bars(counts, labels)


def _label(value: Any) -> str:
    return f"{value:.4g}" if isinstance(value, float) else str(value)


def _column(cp: ColumnProfile) -> str:
    rows = [
        ("type", f"{_e(cp.kind)} <span class=muted>({_e(cp.dtype)})</span>"),
        ("values", _num(cp.count)),
        ("missing", f"{_num(cp.missing)} ({cp.missing_pct:.1f}%)"),
        ("distinct", f"{_num(cp.distinct)} ({cp.distinct_pct:.1f}%)"),
    ]
    if cp.numeric:
        rows += [
            (k, _num(cp.numeric[k]))
            for k in (
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
            )
        ]
    if cp.outliers:
        rows.append(("outliers (IQR)", f"{_num(cp.outliers['count'])} ({cp.outliers['pct']:.1f}%)"))
    if cp.datetime:
        rows += [
            ("from", _e(cp.datetime["min"])),
            ("to", _e(cp.datetime["max"])),
            ("span (days)", _num(cp.datetime["span_days"])),
        ]
    if cp.text:
        rows += [
            (
                "length",
                f"{cp.text['min_length']}&ndash;{cp.text['max_length']} "
                f"(mean {cp.text['mean_length']:.1f})",
            ),
            ("padded with spaces", _num(cp.text["padded"])),
        ]
    if cp.types:
        rows.append(("value types", _e(", ".join(f"{k}: {v:,}" for k, v in cp.types.items()))))
    stats = "".join(f"<tr><th>{_e(k)}</th><td>{v}</td></tr>" for k, v in rows)
    flags = "".join(f"<span class=flag>{_e(f)}</span>" for f in cp.flags)
    top = "".join(
        f"<tr><td>{_e(t['value'])}</td><td class=n>{t['count']:,}</td>"
        f"<td class=n>{t['pct']:.1f}%</td></tr>"
        for t in cp.top_values
    )
    top_table = f"<table><tr><th>top value</th><th>count</th><th>%</th></tr>{top}</table>"
    if "unique" in cp.flags:  # every value once: a top list says nothing
        top = ""
    return (
        f"<div class=col><div><h3>{_e(cp.name)}</h3>{flags}<table>{stats}</table></div>"
        f"<div>{_histogram(cp)}{top_table if top else ''}</div></div>"
    )


def _colour(r: float | None) -> str:
    if r is None:
        return "#ffffff"
    alpha = min(abs(r), 1.0)
    return f"rgba(37,99,235,{alpha:.2f})" if r >= 0 else f"rgba(220,38,38,{alpha:.2f})"


def _matrix(names: list[str], matrix: list[list[float | None]]) -> str:
    head = "".join(f"<th>{_e(n)}</th>" for n in names)
    body = ""
    for name, row in zip(names, matrix, strict=True):
        cells = "".join(
            f'<td class=n style="background:{_colour(r)}">{"&ndash;" if r is None else f"{r:.2f}"}'
            "</td>"
            for r in row
        )
        body += f"<tr><th>{_e(name)}</th>{cells}</tr>"
    return f"<table><tr><th></th>{head}</tr>{body}</table>"


def render_profile(profile: Profile, title: str = "Data profile") -> str:
    p = profile
    cards = [
        ("rows", _num(p.rows)),
        ("columns", _num(p.columns)),
        ("missing cells", f"{p.missing_cells_pct:.1f}%"),
        ("duplicate rows", f"{_num(p.duplicate_rows)} ({p.duplicate_rows_pct:.1f}%)"),
        ("memory", _bytes(p.memory_bytes)),
        ("quality score", _num(p.quality_score)),
    ]
    card_html = "".join(f"<div class=card>{label}<b>{value}</b></div>" for label, value in cards)
    issues = "".join(
        f"<tr><td class=sev-{_e(i.severity)}>{_e(i.severity)}</td>"
        f"<td>{_e(', '.join(i.columns))}</td><td>{_e(i.message)}</td>"
        f"<td><code>{_e(json.dumps(i.suggestion, ensure_ascii=False))}</code></td></tr>"
        for i in p.issues
    )
    issue_html = (
        "<table><tr><th>severity</th><th>columns</th><th>issue</th><th>suggested step</th></tr>"
        f"{issues}</table>"
        if issues
        else "<p>No issues found.</p>"
    )
    corr = p.correlations
    corr_html = "<p class=muted>Fewer than two numeric columns.</p>"
    if len(corr["columns"]) >= 2:
        limited = (
            f"<p class=muted>Limited to the first {corr['limited_to']} numeric columns.</p>"
            if corr["limited_to"]
            else ""
        )
        corr_html = (
            f"{limited}<h3>Pearson</h3>{_matrix(corr['columns'], corr['pearson'])}"
            f"<h3>Spearman</h3>{_matrix(corr['columns'], corr['spearman'])}"
        )
    lists = [
        ("Constant columns", p.constant_columns),
        ("High-cardinality columns", p.high_cardinality_columns),
        ("Mixed-type columns", p.mixed_type_columns),
    ]
    list_html = "".join(
        f"<p><b>{label}:</b> {_e(', '.join(names)) if names else 'none'}</p>"
        for label, names in lists
    )
    columns = "".join(_column(cp) for cp in p.column_profiles)
    return (
        "<!DOCTYPE html><html lang=en><head><meta charset=utf-8>"
        f"<title>{_e(title)}</title><style>{_CSS}</style></head><body>"
        f"<h1>{_e(title)}</h1><p class=muted>Exact statistics on all {p.rows:,} rows; "
        f"histograms use {p.settings['bins']} bins. Computed in {p.seconds:.2f} s.</p>"
        f"<div class=cards>{card_html}</div>"
        f"<h2>Quality issues</h2>{issue_html}{list_html}"
        f"<h2>Columns</h2>{columns}"
        f"<h2>Correlations</h2>{corr_html}"
        "</body></html>"
    )
