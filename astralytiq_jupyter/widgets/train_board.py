"""The Train wizard's leaderboards: the live one that fills in from training progress events
(a bar per model and fold), and the final one of a training result.

Both are plain HTML (one small message per update, nothing sent twice); the ranking metric and
its direction are stated above each table, as the engine ranked.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import ipywidgets as W

from . import format as fmt

__all__ = ["LiveBoard", "leaderboard_records", "leaderboard_html", "row_label"]


def _higher_is_better(metric: str) -> bool:
    from ..core.metrics import higher_is_better

    return higher_is_better(metric)


def _mean(values: Iterable[float | None]) -> float | None:
    usable = [v for v in values if v is not None and not math.isnan(v)]
    return sum(usable) / len(usable) if usable else None


@dataclass
class _Candidate:
    label: str
    algorithm: str
    n_folds: int = 0
    scores: list[float | None] = field(default_factory=list)
    metrics: dict[str, float | None] | None = None  # the engine's means, once it finished
    failed: bool = False

    @property
    def finished(self) -> bool:
        return self.metrics is not None or (0 < self.n_folds <= len(self.scores))

    def value(self, metric: str) -> float | None:
        if self.metrics is not None:
            return self.metrics.get(metric)
        return _mean(self.scores) if self.finished else None


class LiveBoard(W.VBox):
    """A leaderboard that fills in while training runs: one row per model (per k for
    clustering, per candidate when tuning) with a bar over its folds, ranked best-first by
    ``metric`` as models finish. ``update(event)`` takes the engine's ``TrainingProgress``
    (from the training thread)."""

    def __init__(self) -> None:
        self.heading = W.HTML()
        self.table = W.HTML()
        self.stage = W.HTML()
        self.metric = ""
        self._rows: dict[tuple[str, str], _Candidate] = {}
        self._lock = threading.Lock()
        super().__init__([self.heading, self.table, self.stage])
        self.add_class("aq-liveboard")
        self.layout.display = "none"

    def start(self, metric: str, cv_folds: int, task: str) -> None:
        """Clear the board for a run ranked by ``metric``."""
        with self._lock:
            self._rows = {}
            self.metric = metric
        better = "higher" if _higher_is_better(metric) else "lower"
        over = "backtests" if task == "forecasting" else f"{cv_folds} cross-validation folds"
        self.heading.value = (
            f'<div class="aq-title">Leaderboard (live)</div><div class="aq-muted">Ranked by '
            f"<b>{fmt.escape(metric)}</b>, mean over {over}; {better} is better.</div>"
        )
        self.table.value = '<div class="aq-muted">Waiting for the first model…</div>'
        self.stage.value = ""
        self.layout.display = None

    def update(self, event: Any) -> None:
        """Take one progress event: a finished fold, a finished model or a stage change."""
        stage = event.stage
        if stage in ("compare", "tune") and event.algorithm:
            label = getattr(event, "label", None) or event.algorithm
            with self._lock:
                row = self._rows.setdefault(
                    (stage, label), _Candidate(label=label, algorithm=event.algorithm)
                )
                if event.fold is not None:
                    row.n_folds = event.n_folds or row.n_folds
                    value = (event.metrics or {}).get(self.metric)
                    row.scores.append(value)
                    row.failed = row.failed or "failed" in event.message
                else:
                    row.metrics = dict(event.metrics or {})
                    row.failed = row.failed or row.metrics.get(self.metric) is None
            self.table.value = self._html()
        self.stage.value = f'<div class="aq-muted">{fmt.escape(event.message)}</div>'

    def stop(self, message: str) -> None:
        """Mark the end of a run that did not finish (cancelled or failed)."""
        self.stage.value = f'<div class="aq-muted">{fmt.escape(message)}</div>'

    @property
    def finished_labels(self) -> list[str]:
        """Labels of the models that finished, best first (tests and the app read this)."""
        with self._lock:
            rows = [r for r in self._rows.values() if r.finished]
        return [r.label for r in self._ranked(rows)]

    def _ranked(self, rows: Sequence[_Candidate]) -> list[_Candidate]:
        higher = _higher_is_better(self.metric) if self.metric else True

        def key(row: _Candidate) -> tuple[int, float]:
            value = row.value(self.metric)
            if value is None or row.failed:
                return (1, 0.0)
            return (0, -value if higher else value)

        return sorted(rows, key=key)

    def _html(self) -> str:
        with self._lock:
            rows = list(self._rows.items())
        done = self._ranked([r for (_s, _l), r in rows if r.finished])
        running = [r for (_s, _l), r in rows if not r.finished]
        tuned = {r.label for (s, _l), r in rows if s == "tune"}
        body = []
        for rank, row in enumerate(done, 1):
            body.append(self._row(str(rank), row, row.label in tuned))
        for row in running:
            body.append(self._row("", row, row.label in tuned))
        return (
            '<div class="aq-table-wrap" style="max-height:340px"><table class="aq-table">'
            f"<thead><tr><th>#</th><th>Model</th><th>Folds</th><th>{fmt.escape(self.metric)}"
            "</th><th></th></tr></thead><tbody>" + "".join(body) + "</tbody></table></div>"
        )

    def _row(self, rank: str, row: _Candidate, tuned: bool) -> str:
        total = max(row.n_folds, len(row.scores), 1)
        share = min(1.0, len(row.scores) / total) if row.n_folds else (1.0 if row.finished else 0)
        bar = (
            f'<progress max="{total}" value="{len(row.scores)}" style="width:90px" '
            f'aria-label="folds of {fmt.escape(row.label)}"></progress> '
            f"{len(row.scores)}/{row.n_folds or '?'}"
        )
        value = row.value(self.metric)
        if row.failed:
            shown, state = "failed", '<span class="aq-badge aq-badge-bad">failed</span>'
        elif row.finished:
            spread = [s for s in row.scores if s is not None]
            std = ""
            if len(spread) > 1:
                mean = sum(spread) / len(spread)
                sd = math.sqrt(sum((s - mean) ** 2 for s in spread) / len(spread))
                std = f" ± {fmt.number(sd, 3)}"
            shown = fmt.number(value, 4) + std
            state = '<span class="aq-badge aq-badge-ok">done</span>'
        else:
            shown = fmt.number(_mean(row.scores), 4) if row.scores else ""
            state = f'<span class="aq-muted">running {share:.0%}</span>'
        name = fmt.escape(row.label) + (' <span class="aq-badge">tuning</span>' if tuned else "")
        return (
            f'<tr><td class="aq-rownum">{rank}</td><td>{name}</td><td>{bar}</td>'
            f'<td class="aq-num">{shown}</td><td>{state}</td></tr>'
        )


# -- the final leaderboard ------------------------------------------------------------------


def leaderboard_records(leaderboard: Any) -> list[dict[str, Any]]:
    """The leaderboard's rows as dicts, best first, whether the engine gave a list of rows or
    a DataFrame (missing values as ``None``)."""
    if hasattr(leaderboard, "columns"):  # the engine's DataFrame
        from ..core.model_selection import leaderboard_records as records_of

        return records_of(leaderboard)
    return [dict(r) for r in leaderboard]


def row_label(row: Mapping[str, Any], task: str) -> str:
    """How a leaderboard row is named on screen: the algorithm, its k for clustering, and
    whether it is the tuned candidate."""
    label = str(row.get("algorithm"))
    params = row.get("params") or {}
    if task == "clustering" and "n_clusters" in params:
        label += f" (k={params['n_clusters']})"
    if row.get("tuned"):
        label += " (tuned)"
    return label


def leaderboard_html(
    records: Sequence[Mapping[str, Any]],
    *,
    task: str,
    metric: str,
    metrics: Sequence[str],
    chosen: str | None,
    over: str,
) -> str:
    """The final leaderboard as a table: rank, model, the ranking metric (mean ± std), the
    other metrics, fit time and any error; the ranking metric and its direction stated."""
    better = "higher" if _higher_is_better(metric) else "lower"
    others = [m for m in metrics if m != metric]
    holdout = any(f"holdout_{metric}" in r for r in records)
    head = ["#", "Model", f"{metric} (mean ± std)"]
    if holdout:
        head.append(f"holdout {metric}")
    head += [*others, "fit time", ""]
    body = []
    for row in records:
        label = row_label(row, task)
        mean, std = row.get(f"{metric}_mean"), row.get(f"{metric}_std")
        cells = [
            f'<td class="aq-rownum">{fmt.escape(row.get("rank", ""))}</td>',
            f"<td>{fmt.escape(label)}"
            + (' <span class="aq-badge aq-badge-ok">chosen</span>' if label == chosen else "")
            + "</td>",
            f'<td class="aq-num"><b>{fmt.number(mean, 4)}</b>'
            + (f" ± {fmt.number(std, 3)}" if std is not None else "")
            + "</td>",
        ]
        if holdout:
            cells.append(f'<td class="aq-num">{fmt.number(row.get(f"holdout_{metric}"), 4)}</td>')
        cells += [f'<td class="aq-num">{fmt.number(row.get(f"{m}_mean"), 4)}</td>' for m in others]
        fit = row.get("fit_time")
        cells.append(f'<td class="aq-num">{"" if fit is None else fmt.number(fit, 3) + " s"}</td>')
        error = row.get("error")
        cells.append(
            f'<td><span class="aq-badge aq-badge-bad" title="{fmt.escape(error)}">failed</span>'
            "</td>"
            if error
            else "<td></td>"
        )
        body.append("<tr>" + "".join(cells) + "</tr>")
    header = "".join(f"<th>{fmt.escape(h)}</th>" for h in head)
    return (
        f'<div class="aq-muted">Ranked by <b>{fmt.escape(metric)}</b> ({over}); {better} is '
        "better. Failed models are listed last with their error.</div>"
        f'<div class="aq-table-wrap" style="max-height:360px"><table class="aq-table"><thead><tr>'
        f"{header}</tr></thead><tbody>{''.join(body)}</tbody></table></div>"
    )
