"""A paged preview grid: a few hundred rows at most per page, never the whole dataset, with
column headers that carry the type, the share of missing values and a tiny distribution (the
Data Wrangler / Mito header)."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import ipywidgets as W

from . import format as fmt

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["MAX_PAGE_SIZE", "ColumnInfo", "PagedTable", "column_infos", "render_table"]

MAX_PAGE_SIZE = 200
PAGE_SIZES = (25, 50, 100, 200)

Fetch = Callable[[int, int], "pd.DataFrame"]


@dataclass
class ColumnInfo:
    """What a column header shows beyond the name."""

    dtype: str = ""
    missing_pct: float | None = None
    histogram: Sequence[int] | None = None  # bar heights of a tiny distribution
    state: str | None = None  # "added", "changed" or "removed" (previews of a change)


def _kind(dtype: str) -> str:
    d = dtype.lower()
    if d.startswith(("int", "uint", "float", "decimal")) or d in ("double", "number"):
        return "number"
    if d.startswith(("datetime", "timestamp", "date")):
        return "date"
    if d.startswith("bool"):
        return "bool"
    if d.startswith("category"):
        return "category"
    return "text"


def _sparkline(counts: Sequence[int], width: int = 64, height: int = 16) -> str:
    if not counts or max(counts) <= 0:
        return ""
    top = max(counts)
    n = len(counts)
    bar = width / n
    rects = "".join(
        f'<rect x="{i * bar:.1f}" y="{height - max(1.0, c / top * height):.1f}" '
        f'width="{max(bar - 0.5, 0.5):.1f}" height="{max(1.0, c / top * height):.1f}"/>'
        for i, c in enumerate(counts)
        if c > 0
    )
    return (
        f'<svg width="{width}" height="{height}" '
        'style="display:block;fill:var(--aq-primary,#1f5fbf);'
        f'opacity:0.75" aria-hidden="true">{rects}</svg>'
    )


def mini_histogram(values: pd.Series, bins: int = 12) -> list[int] | None:
    """Bar heights of a tiny distribution of ``values`` (numbers: bins; others: top values)."""
    import numpy as np
    import pandas as pd

    present = values.dropna()
    if present.empty:
        return None
    if pd.api.types.is_numeric_dtype(present) and not pd.api.types.is_bool_dtype(present):
        counts, _ = np.histogram(present.to_numpy(dtype=float), bins=bins)
        return counts.tolist()
    if pd.api.types.is_datetime64_any_dtype(present):
        counts, _ = np.histogram(present.astype("int64").to_numpy(), bins=bins)
        return counts.tolist()
    return present.astype(str).value_counts().head(bins).tolist()


def column_infos(
    df: pd.DataFrame,
    missing: Mapping[str, float] | None = None,
    histograms: Mapping[str, Sequence[int]] | None = None,
) -> dict[str, ColumnInfo]:
    """Header information of ``df``'s columns; ``missing`` (percent) and ``histograms`` of the
    whole dataset override what the rows at hand would say."""
    infos = {}
    for name in df.columns:
        s = df[name]
        if missing is not None and name in missing:
            pct = missing[name]
        else:
            pct = float(s.isna().mean() * 100) if len(s) else None
        hist = histograms.get(name) if histograms is not None else None
        infos[str(name)] = ColumnInfo(
            dtype=str(s.dtype),
            missing_pct=pct,
            histogram=hist if hist is not None else mini_histogram(s),
        )
    return infos


def render_table(
    df: pd.DataFrame,
    infos: Mapping[str, ColumnInfo] | None = None,
    *,
    first_row: int = 0,
    changed_cells: pd.DataFrame | None = None,
) -> str:
    """An HTML table of ``df`` (already bounded by the caller) with rich headers; every value
    is escaped. ``changed_cells`` (same shape, booleans) highlights cells a step changed."""
    infos = infos or {}
    head = ['<th class="aq-rownum">#</th>']
    for name in df.columns:
        info = infos.get(str(name), ColumnInfo(dtype=str(df[name].dtype)))
        state = f" aq-{info.state}" if info.state else ""
        missing = "" if info.missing_pct is None else f" · {fmt.percent(info.missing_pct)} missing"
        spark = _sparkline(info.histogram) if info.histogram else ""
        head.append(
            f'<th class="{state.strip()}" title="{fmt.escape(name)} ({fmt.escape(info.dtype)})">'
            f'<div class="aq-col-name">{fmt.escape(name)}</div>'
            f'<div class="aq-col-meta">{fmt.escape(_kind(info.dtype))}{missing}</div>{spark}</th>'
        )
    rows = []
    kinds = [_kind(str(df[c].dtype)) for c in df.columns]
    columns = list(df.columns)
    for i, row in enumerate(df.itertuples(index=False, name=None)):
        cells = [f'<td class="aq-rownum">{fmt.count(first_row + i + 1)}</td>']
        for j, v in enumerate(row):
            text = fmt.value(v)
            classes = []
            if kinds[j] == "number":
                classes.append("aq-num")
            if text == "":
                classes.append("aq-missing")
            info = infos.get(str(columns[j]))
            if info is not None and info.state in ("added", "removed"):
                classes.append(f"aq-{info.state}")
            elif (
                changed_cells is not None
                and columns[j] in changed_cells.columns
                and bool(changed_cells.iat[i, changed_cells.columns.get_loc(columns[j])])
            ):
                classes.append("aq-changed")
            cls = f' class="{" ".join(classes)}"' if classes else ""
            cells.append(f"<td{cls}>{fmt.escape(text)}</td>")
        rows.append("<tr>" + "".join(cells) + "</tr>")
    return (
        '<div class="aq-table-wrap"><table class="aq-table"><thead><tr>'
        + "".join(head)
        + "</tr></thead><tbody>"
        + "".join(rows)
        + "</tbody></table></div>"
    )


class PagedTable(W.VBox):
    """A grid over rows fetched a page at a time (``fetch(offset, limit)``), or over a small
    in-memory frame. Only the page on screen is ever sent to the browser."""

    def __init__(self, page_size: int = 50) -> None:
        self.page_size = min(page_size, MAX_PAGE_SIZE)
        self.offset = 0
        self.total = 0
        self._fetch: Fetch | None = None
        self._infos: dict[str, ColumnInfo] = {}
        self._changed: pd.DataFrame | None = None
        self.grid = W.HTML()
        self.first = W.Button(
            icon="step-backward", tooltip="First page", layout=W.Layout(width="36px")
        )
        self.prev = W.Button(
            icon="chevron-left", tooltip="Previous page", layout=W.Layout(width="36px")
        )
        self.next = W.Button(
            icon="chevron-right", tooltip="Next page", layout=W.Layout(width="36px")
        )
        self.last = W.Button(
            icon="step-forward", tooltip="Last page", layout=W.Layout(width="36px")
        )
        self.position = W.HTML()
        self.size = W.Dropdown(
            options=PAGE_SIZES,
            value=self.page_size if self.page_size in PAGE_SIZES else 50,
            description="Rows per page",
            style={"description_width": "initial"},
            layout=W.Layout(width="180px"),
        )
        self.first.on_click(lambda _b: self.go(0))
        self.prev.on_click(lambda _b: self.go(self.offset - self.page_size))
        self.next.on_click(lambda _b: self.go(self.offset + self.page_size))
        self.last.on_click(
            lambda _b: self.go(((self.total - 1) // self.page_size) * self.page_size)
        )
        self.size.observe(self._on_size, names="value")
        self.error = W.HTML()
        self.pager = W.HBox(
            [self.first, self.prev, self.position, self.next, self.last, self.size],
            layout=W.Layout(align_items="center"),
        )
        super().__init__([self.pager, self.error, self.grid])
        self.add_class("aq-paged-table")
        self._update_pager()

    # -- sources
    def show_rows(
        self, fetch: Fetch, total: int, infos: Mapping[str, ColumnInfo] | None = None
    ) -> None:
        """Page through ``total`` rows that ``fetch(offset, limit)`` reads."""
        self._fetch, self.total, self._infos, self._changed = fetch, total, dict(infos or {}), None
        self.go(0)

    def show_frame(
        self,
        df: pd.DataFrame,
        infos: Mapping[str, ColumnInfo] | None = None,
        *,
        changed_cells: pd.DataFrame | None = None,
    ) -> None:
        """Page through a small in-memory frame (a parse preview, a recipe preview)."""
        self._changed = changed_cells

        def fetch(offset: int, limit: int) -> pd.DataFrame:
            return df.iloc[offset : offset + limit]

        self._fetch, self.total = fetch, len(df)
        self._infos = dict(infos) if infos is not None else column_infos(df)
        self.go(0)

    def clear(self) -> None:
        self._fetch, self.total, self.offset = None, 0, 0
        self.grid.value = ""
        self._update_pager()

    def set_infos(self, infos: Mapping[str, ColumnInfo]) -> None:
        """New header information (e.g. once a profile is ready); redraws the page."""
        self._infos.update(infos)
        self.go(self.offset)

    # -- paging
    def go(self, offset: int) -> None:
        offset = max(0, min(offset, max(0, self.total - 1)))
        offset -= offset % self.page_size
        self.offset = offset
        self._update_pager()
        if self._fetch is None:
            self.grid.value = ""
            return
        try:
            page = self._fetch(offset, self.page_size)
        except Exception as error:  # noqa: BLE001 - shown in plain words
            from .status import describe_error

            self.error.value = (
                f'<span class="aq-status-error">⚠ {fmt.escape(describe_error(error)[0])}</span>'
            )
            return
        self.error.value = ""
        changed = None
        if self._changed is not None:
            changed = self._changed.iloc[offset : offset + self.page_size]
        self.grid.value = render_table(page, self._infos, first_row=offset, changed_cells=changed)

    def _on_size(self, change: dict[str, Any]) -> None:
        self.page_size = int(change["new"])
        self.go(self.offset)

    def _update_pager(self) -> None:
        if self.total == 0:
            self.position.value = '<span class="aq-muted">No rows</span>'
        else:
            end = min(self.offset + self.page_size, self.total)
            self.position.value = (
                f'<span class="aq-muted">Rows {fmt.count(self.offset + 1)}–{fmt.count(end)} of '
                f"{fmt.count(self.total)}</span>"
            )
        at_start = self.offset == 0
        at_end = self.offset + self.page_size >= self.total
        self.first.disabled = self.prev.disabled = at_start
        self.next.disabled = self.last.disabled = at_end
