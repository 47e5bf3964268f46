"""The Clean wizard's grid: the data as it is, or a step's effect before it is applied (after
and before the step on the first rows, with changed cells and added or removed columns
highlighted, and the counts written out)."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import ipywidgets as W

from . import format as fmt
from .table import ColumnInfo, PagedTable, column_infos

if TYPE_CHECKING:
    import pandas as pd

    from ..client.workspace import Workspace
    from ..core.recipes import RecipePreview, StepReport

__all__ = ["PreviewTarget", "PreviewView", "changed_cells", "effect_sentence", "step_effect"]


@dataclass
class PreviewTarget:
    """A preview to run: ``steps``, the list position of each (None for a step not in the
    list as it stands), the one the grid shows (``focus``, None for the result), a label,
    and whether its counts describe the list's steps (``record``)."""

    steps: list[dict[str, Any]]
    positions: list[int | None]
    focus: int | None
    label: str
    record: bool = True


#: Rows a preview runs on, and rows of each step's result it brings back (one grid page).
PREVIEW_ROWS = 1000
PREVIEW_HEAD = 50


def _plural(n: int, word: str) -> str:
    return f"{fmt.count(n)} {word}{'' if n == 1 else 's'}"


def step_effect(report: StepReport) -> str:
    """A step's effect in a few words: ``12 rows removed · 1 column added``."""
    parts = []
    delta = report.rows_after - report.rows_before
    if delta < 0:
        parts.append(f"{_plural(-delta, 'row')} removed")
    elif delta > 0:
        parts.append(f"{_plural(delta, 'row')} added")
    if report.columns_added:
        parts.append(f"{_plural(len(report.columns_added), 'column')} added")
    if report.columns_removed:
        parts.append(f"{_plural(len(report.columns_removed), 'column')} removed")
    if report.columns_changed:
        parts.append(f"{_plural(len(report.columns_changed), 'column')} changed")
    return " · ".join(parts) or "no change on the preview rows"


def _names(names: list[str] | None) -> str:
    names = list(names or [])
    shown = ", ".join(names[:6]) + (f" and {len(names) - 6} more" if len(names) > 6 else "")
    return f" ({shown})" if shown else ""


def effect_sentence(report: StepReport) -> str:
    """The effect with the columns named: ``12 rows removed · 1 column added (total)``."""
    parts = []
    delta = report.rows_after - report.rows_before
    if delta:
        word = "removed" if delta < 0 else "added"
        parts.append(
            f"{_plural(abs(delta), 'row')} {word} ({fmt.count(report.rows_before)} → "
            f"{fmt.count(report.rows_after)})"
        )
    for key, word in (
        ("columns_added", "added"),
        ("columns_removed", "removed"),
        ("columns_changed", "changed"),
    ):
        names = getattr(report, key)
        if names:
            parts.append(f"{_plural(len(names), 'column')} {word}{_names(names)}")
    for key, values in (report.notes or {}).items():
        if isinstance(values, dict) and key in ("failed", "outliers", "clipped"):
            hits = {c: n for c, n in values.items() if isinstance(n, int) and n}
            if hits:
                what = {
                    "failed": "values could not be converted",
                    "outliers": "outliers",
                    "clipped": "values clipped",
                }[key]
                parts.append(
                    f"{what}: " + ", ".join(f"{c} {fmt.count(n)}" for c, n in hits.items())
                )
    return " · ".join(parts) or "No change on the preview rows."


def changed_cells(before: pd.DataFrame, after: pd.DataFrame) -> pd.DataFrame | None:
    """Cells of ``after`` whose shown value differs from the same row of ``before`` (the
    frames must hold the same rows); new columns are marked by their header instead."""
    import pandas as pd

    if len(before) != len(after):
        return None
    data = {}
    for column in after.columns:
        if column in before.columns:
            data[column] = [
                fmt.value(b) != fmt.value(a)
                for b, a in zip(before[column].tolist(), after[column].tolist(), strict=True)
            ]
        else:
            data[column] = [False] * len(after)
    frame = pd.DataFrame(data, columns=list(after.columns))
    return frame if bool(frame.to_numpy().any()) else None


class PreviewView(W.VBox):
    """Caption, an After/Before switch and the paged grid."""

    def __init__(self, page_size: int = 50) -> None:
        self.caption = W.HTML()
        self.side = W.ToggleButtons(
            options=["After", "Before"], value="After", style={"button_width": "80px"}
        )
        self.side.layout.display = "none"
        self.side.observe(lambda _c: self._render(), names="value")
        self.table = PagedTable(page_size=page_size)
        self._raw: dict[str, pd.DataFrame] = {}
        self._lock = threading.Lock()
        self._shown: tuple[Any, ...] | None = None
        #: what the grid shows: "data", "step", "all" or "error" (tests read it)
        self.mode = "data"
        self.report: StepReport | None = None
        super().__init__([self.caption, self.side, self.table])
        self.add_class("aq-clean-preview")

    # -- data sources
    def forget_raw(self) -> None:
        with self._lock:
            self._raw.clear()

    def raw_head(self, ws: Workspace, ref: str, rows: int) -> pd.DataFrame:
        """The version's first rows (what the first step starts from), read once."""
        with self._lock:
            cached = self._raw.get(ref)
        if cached is None:
            cached = ws.datasets.load(ref, limit=rows)
            with self._lock:
                self._raw[ref] = cached
        return cached

    # -- what is shown
    def busy(self) -> None:
        if "aq-previewing" not in self.caption.value:
            self.caption.value = (
                '<span class="aq-muted aq-previewing">Previewing…</span>' + self.caption.value
            )

    def clear(self) -> None:
        self.mode, self.report, self._shown = "data", None, None
        self.caption.value = ""
        self.side.layout.display = "none"
        self.table.clear()

    def failed(self, error: BaseException) -> None:
        from .status import describe_error

        self.mode = "error"
        self.caption.value = (
            f'<span class="aq-status-error">⚠ The preview failed: '
            f"{fmt.escape(describe_error(error)[0])}</span>"
        )

    def show_raw(self, ws: Workspace, ref: str, total: int) -> None:
        """Page through the version itself (no steps yet)."""
        self.mode, self.report, self._shown = "data", None, None
        self.side.layout.display = "none"
        self.caption.value = (
            f'<span class="aq-muted">{fmt.escape(ref)} as stored: {fmt.count(total)} rows. '
            "Choose an operation to preview its effect here.</span>"
        )
        self.table.show_rows(
            lambda offset, limit: ws.datasets.load(ref, offset=offset, limit=limit), total
        )

    def show(
        self,
        result: RecipePreview,
        before: pd.DataFrame | None,
        label: str,
        total_rows: int | None = None,
        *,
        focus: int | None = None,
    ) -> None:
        """A preview: with ``focus`` None the recipe's result, else the effect of step
        ``focus`` (0-based; ``before`` is the data before the first step). ``total_rows`` is
        the version's size (the preview itself only read its first rows)."""
        self._shown = (result, before, label, total_rows, focus)
        self._render()

    def _render(self) -> None:
        if self._shown is None:
            return
        result, before, label, total_rows, focus = self._shown
        total = max(total_rows or 0, result.rows_total)
        sample = (
            f"the first {fmt.count(result.rows_sampled)} of {fmt.count(total)} rows"
            if result.rows_sampled < total
            else f"all {fmt.count(total)} rows"
        )
        failed_at = (result.error or {}).get("detail", {}).get("step")
        error = ""
        if result.error is not None and (focus is None or not failed_at or failed_at <= focus + 1):
            error = (
                f'<div class="aq-status-error">⚠ {fmt.escape(result.error.get("message", ""))}'
                "</div>"
            )
        if focus is None or focus >= len(result.steps):
            self.mode, self.report = ("all" if not error else "error"), None
            self.side.layout.display = "none"
            n = len(result.steps)
            rows_out = result.steps[-1].rows_after if result.steps else result.rows_sampled
            head = (
                f"<b>{fmt.escape(label)}</b> could not be previewed."
                if focus is not None
                else f"<b>Result of {_plural(n, 'step')}</b> on {sample}: "
                f"{fmt.count(rows_out)} rows, {fmt.count(result.result.shape[1])} columns."
            )
            self.caption.value = head + error
            self.table.show_frame(result.result, column_infos(result.result))
            return
        report = result.steps[focus]
        self.mode, self.report = ("step" if not error else "error"), report
        self.side.layout.display = None
        prior = before if focus == 0 else result.steps[focus - 1].head
        after = report.head if report.head is not None else result.result
        self.caption.value = (
            f"<b>{fmt.escape(label)}</b>: {fmt.escape(report.description)}"
            f"<div>{fmt.escape(effect_sentence(report))}</div>"
            f'<div class="aq-muted">Preview on {sample}; the grid shows the first rows of '
            f"the result.</div>{error}"
        )
        if self.side.value == "Before" and prior is not None:
            states = {c: "removed" for c in report.columns_removed}
            states.update({c: "changed" for c in report.columns_changed or ()})
            self.table.show_frame(prior, _with_states(prior, states))
            return
        aligned = prior is not None and report.rows_before == report.rows_after
        frame = after
        states = {c: "added" for c in report.columns_added}
        states.update({c: "changed" for c in report.columns_changed or ()})
        cells = None
        if aligned and prior is not None and len(prior) == len(after):
            removed = [c for c in report.columns_removed if c in prior.columns]
            if removed:  # shown struck through next to the result
                frame = after.copy()
                for c in removed:
                    frame[c] = prior[c].to_numpy()
                states.update({c: "removed" for c in removed})
            cells = changed_cells(prior, frame.drop(columns=removed))
            if cells is not None and removed:
                for c in removed:
                    cells[c] = False
        self.table.show_frame(frame, _with_states(frame, states), changed_cells=cells)


def _with_states(df: pd.DataFrame, states: dict[str, str]) -> dict[str, ColumnInfo]:
    infos = column_infos(df)
    for name, state in states.items():
        if name in infos:
            infos[name].state = state
    return infos
