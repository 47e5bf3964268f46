"""The Predict wizard's parts: a one-row input form generated from a model version's input
signature, the prediction card, and a bounded CSV export of a dataset version."""

from __future__ import annotations

import csv
import math
from collections.abc import Mapping, Sequence
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import ipywidgets as W

from . import format as fmt

if TYPE_CHECKING:
    import pandas as pd

    from ..client.workspace import Workspace

__all__ = ["SignatureForm", "export_csv", "prediction_card"]

_STYLE = {"description_width": "150px"}
#: A CSV export holds at most this many bytes (whole pages of rows): beyond it the file has
#: the first rows only, and says so.
MAX_EXPORT_BYTES = 200_000_000
EXPORT_PAGE_ROWS = 50_000


def _kind(column: Mapping[str, Any]) -> str:
    from ..core.preprocessing import column_kind

    return column_kind(column)


def _as_date(text: str | None) -> date | None:
    if not text:
        return None
    try:
        return datetime.fromisoformat(str(text)).date()
    except ValueError:
        return None


def _as_datetime(text: str | None) -> datetime | None:
    if not text:
        return None
    try:
        return datetime.fromisoformat(str(text)).replace(tzinfo=None)
    except ValueError:
        return None


def _next_date(output: Mapping[str, Any]) -> date | datetime | None:
    """The first date after a forecasting model's series (what one usually asks for)."""
    import pandas as pd

    last, frequency = output.get("last_date"), output.get("frequency")
    if not last:
        return None
    try:
        stamp = pd.Timestamp(last) + pd.tseries.frequencies.to_offset(frequency or "D")
    except (ValueError, TypeError):
        return _as_date(last)
    return stamp.to_pydatetime()


class _Field:
    """One input: its widget, a hint with the training range, and how to read its value."""

    def __init__(self, column: Mapping[str, Any], output: Mapping[str, Any]) -> None:
        self.name = str(column["name"])
        self.kind = _kind(column)
        self.stats: dict[str, Any] = dict(column.get("stats") or {})
        stats = self.stats
        label = self.name
        hint = ""
        if self.kind == "numeric":
            median = stats.get("median")
            if stats.get("integer"):
                self.widget: W.ValueWidget = W.IntText(
                    value=int(round(median)) if median is not None else 0
                )
            else:
                self.widget = W.FloatText(value=median if median is not None else 0.0)
            if "min" in stats:
                hint = (
                    f"trained on {fmt.number(stats['min'])} to {fmt.number(stats['max'])}, "
                    f"median {fmt.number(median)}"
                )
        elif self.kind == "boolean":
            self.widget = W.Dropdown(
                options=[("true", True), ("false", False)],
                value=bool(stats.get("most_frequent", False)),
            )
            if "share_true" in stats:
                hint = f"true in {fmt.percent(100 * stats['share_true'])} of training rows"
        elif self.kind == "categorical":
            categories = [str(c) for c in stats.get("categories") or []]
            total = int(stats.get("n_categories") or len(categories))
            default = str(stats.get("most_frequent") or (categories[0] if categories else ""))
            if categories and total <= len(categories):
                self.widget = W.Dropdown(options=categories, value=default)
                hint = f"{fmt.count(total)} known categories"
            elif categories:
                self.widget = W.Combobox(options=categories, value=default, ensure_option=False)
                hint = (
                    f"the {fmt.count(len(categories))} most frequent of {fmt.count(total)} "
                    "categories are listed; others are accepted as unseen"
                )
            else:
                self.widget = W.Text(value="")
        elif self.kind == "datetime":
            if output.get("kind") == "forecasting":
                default = _next_date(output)
                hint = f"the series ends on {output.get('last_date', '')[:10]}"
            else:
                default = _as_datetime(stats.get("median"))
                if "min" in stats:
                    hint = f"trained on {stats['min']} to {stats['max']}"
            if stats.get("with_time"):
                self.widget = W.NaiveDatetimePicker(value=default)
            else:
                value = default.date() if isinstance(default, datetime) else default
                self.widget = W.DatePicker(value=value)
        else:  # pragma: no cover - every kind is handled above
            self.widget = W.Text()
        self.widget.description = label
        self.widget.style = _STYLE
        # fixed width, never shrunk: every input lines up; in a narrow place (a dashboard's
        # prediction panel) the hint moves under its input instead of squeezing it
        self.widget.layout = W.Layout(width="360px", flex="0 0 auto")
        self.hint = W.HTML(f'<span class="aq-muted">{fmt.escape(hint)}</span>')
        self.hint.layout.margin = "0 0 0 8px"
        self.box = W.HBox(
            [self.widget, self.hint], layout=W.Layout(align_items="center", flex_flow="row wrap")
        )

    @property
    def value(self) -> Any:
        value = self.widget.value
        if self.kind == "categorical" and value == "":
            return None
        return value

    def warning(self) -> str | None:
        """Why this value is unlike the training data (outside the range, unseen category)."""
        value, stats = self.value, self.stats
        if value is None:
            return None
        if self.kind == "numeric" and "min" in stats:
            if isinstance(value, float) and math.isnan(value):
                return None
            if not stats["min"] <= value <= stats["max"]:
                return (
                    f"{self.name} = {fmt.number(value)} is outside the training range "
                    f"({fmt.number(stats['min'])} to {fmt.number(stats['max'])}): the model "
                    "extrapolates."
                )
        if self.kind == "categorical" and stats.get("categories"):
            complete = int(stats.get("n_categories") or 0) <= len(stats["categories"])
            if complete and value not in stats["categories"]:
                return f"{self.name} = {value!r} was not seen in training."
        return None


class SignatureForm(W.VBox):
    """Inputs for one prediction, generated from a version's signature: numbers with their
    training range, dropdowns of the known categories, date pickers; defaults are the
    training data's median or most frequent value."""

    def __init__(self) -> None:
        self.fields: dict[str, _Field] = {}
        super().__init__()

    def build(self, signature: Sequence[Mapping[str, Any]], output: Mapping[str, Any]) -> None:
        self.fields = {str(c["name"]): _Field(c, output) for c in signature}
        described = any("stats" in c for c in signature)
        note = (
            []
            if described
            else [
                W.HTML(
                    '<div class="aq-muted">This version was registered without its training '
                    "ranges: fill every field yourself.</div>"
                )
            ]
        )
        self.children = tuple(note + [f.box for f in self.fields.values()])

    def set(self, **values: Any) -> None:
        """Fill fields by column name (tests and scripts)."""
        for name, value in values.items():
            self.fields[name].widget.value = value

    def row(self) -> pd.DataFrame:
        """The form as a one-row DataFrame in the signature's column order."""
        import pandas as pd

        return pd.DataFrame({name: [field.value] for name, field in self.fields.items()})

    def warnings(self) -> list[str]:
        return [w for f in self.fields.values() if (w := f.warning()) is not None]


def prediction_card(frame: pd.DataFrame, output: Mapping[str, Any], warnings: list[str]) -> str:
    """One prediction as a card: the value, class probabilities as bars (highest first) or a
    forecast's interval, and any input warnings."""
    row = frame.iloc[0]
    kind = output.get("kind")
    value = row.get("prediction")
    what = {
        "classification": f"predicted {output.get('target') or 'class'}",
        "regression": f"predicted {output.get('target') or 'value'}",
        "clustering": "cluster",
        "forecasting": f"forecast of {output.get('target') or 'the series'}",
    }.get(kind or "", "prediction")
    parts = [
        f'<div class="aq-kpi"><div class="aq-kpi-value">{fmt.escape(fmt.value(value))}</div>'
        f'<div class="aq-kpi-label">{fmt.escape(what)}</div></div>'
    ]
    if kind == "forecasting" and "lower" in row and "upper" in row:
        level = output.get("interval_level")
        share = f"{level:.0%} " if isinstance(level, (int, float)) else ""
        parts.append(
            f'<div class="aq-muted">{share}interval: {fmt.escape(fmt.value(row["lower"]))} to '
            f"{fmt.escape(fmt.value(row['upper']))}</div>"
        )
    probabilities = [(c[len("proba_") :], row[c]) for c in frame.columns if c.startswith("proba_")]
    if probabilities:
        probabilities.sort(key=lambda kv: -float(kv[1]))
        bars = []
        for label, p in probabilities:
            share = max(0.0, min(1.0, float(p)))
            bars.append(
                f'<div class="aq-prob"><span class="aq-prob-label">{fmt.escape(label)}</span>'
                f'<span class="aq-prob-track"><span class="aq-prob-bar" style="width:'
                f'{share * 100:.1f}%"></span></span><span class="aq-prob-value">'
                f"{share * 100:.1f}%</span></div>"
            )
        parts.append('<div class="aq-muted">Class probabilities</div>' + "".join(bars))
    if warnings:
        parts.append(
            '<div class="aq-status-error">'
            + "<br>".join(f"⚠ {fmt.escape(w)}" for w in warnings)
            + "</div>"
        )
    return '<div class="aq-card aq-prediction">' + "".join(parts) + "</div>"


def export_csv(
    ws: Workspace, ref: str, folder: Path, *, progress: Any = None
) -> tuple[Path, int, int]:
    """Write a dataset version as CSV into ``folder``, page by page (bounded memory), up to
    :data:`MAX_EXPORT_BYTES`; returns the file, the rows written and the version's rows."""
    version = ws.datasets.get(ref)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{version.name}-v{version.version}.csv"
    partial = path.with_name(path.name + ".part")
    written = 0
    try:
        with open(partial, "w", newline="", encoding="utf-8") as handle:
            header = True
            while written < version.rows:
                page = ws.datasets.load(version.ref, offset=written, limit=EXPORT_PAGE_ROWS)
                if page.empty:
                    break
                page.to_csv(handle, index=False, header=header, quoting=csv.QUOTE_MINIMAL)
                header = False
                written += len(page)
                if progress is not None:
                    progress.check()
                    progress(
                        f"Writing {path.name}: {fmt.count(written)} of {fmt.count(version.rows)} "
                        "rows",
                        written / max(version.rows, 1),
                    )
                if handle.tell() >= MAX_EXPORT_BYTES:
                    break
        partial.replace(path)
    except BaseException:
        partial.unlink(missing_ok=True)  # no half-written file is left behind
        raise
    return path, written, version.rows
