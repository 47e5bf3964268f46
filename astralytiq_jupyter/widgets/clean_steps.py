"""The Clean wizard's step list: the steps with their on/off switch, order, edit and delete
buttons and each step's problem in plain words, and the undo/redo history of every change
to it."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import ipywidgets as W

from . import format as fmt
from .clean_forms import catalog, describe_step

__all__ = ["Entry", "History", "StepList", "StepRow", "Suggestions"]

MAX_SUGGESTIONS = 12
_BADGES = {"high": "bad", "error": "bad", "medium": "warn", "warning": "warn"}


@dataclass(frozen=True)
class Entry:
    """One step of the list: its JSON (kept as text, so a state can never change under the
    history) and whether it is switched on."""

    text: str
    enabled: bool = True

    @classmethod
    def of(cls, step: dict[str, Any], enabled: bool = True) -> Entry:
        return cls(json.dumps(step, ensure_ascii=False), enabled)

    @property
    def step(self) -> dict[str, Any]:
        return json.loads(self.text)


State = tuple[Entry, ...]


class History:
    """Every state of the step list, for undo and redo. A new change after undoing drops the
    undone states (as editors do)."""

    def __init__(self, state: State = ()) -> None:
        self.state: State = tuple(state)
        self._past: list[tuple[State, str]] = []
        self._future: list[tuple[State, str]] = []

    def change(self, state: Sequence[Entry], what: str) -> bool:
        """Move to ``state`` (``what`` names the change for the undo button)."""
        state = tuple(state)
        if state == self.state:
            return False
        self._past.append((self.state, what))
        self._future.clear()
        self.state = state
        return True

    @property
    def can_undo(self) -> bool:
        return bool(self._past)

    @property
    def can_redo(self) -> bool:
        return bool(self._future)

    @property
    def undo_label(self) -> str:
        return self._past[-1][1] if self._past else ""

    @property
    def redo_label(self) -> str:
        return self._future[-1][1] if self._future else ""

    def undo(self) -> str | None:
        if not self._past:
            return None
        state, what = self._past.pop()
        self._future.append((self.state, what))
        self.state = state
        return what

    def redo(self) -> str | None:
        if not self._future:
            return None
        state, what = self._future.pop()
        self._past.append((self.state, what))
        self.state = state
        return what


def _button(icon: str, tooltip: str) -> W.Button:
    return W.Button(
        icon=icon, tooltip=tooltip, layout=W.Layout(width="30px", min_width="30px", padding="0")
    )


class StepRow(W.VBox):
    """One step: switch, number and sentence, problem, and its buttons."""

    def __init__(
        self,
        index: int,
        entry: Entry,
        *,
        count: int,
        problem: str = "",
        effect: str = "",
        selected: bool = False,
        editing: bool = False,
    ) -> None:
        self.index = index
        self.entry = entry
        step = entry.step
        title = catalog().get(step.get("op"), {}).get("title", step.get("op"))
        self.enabled = W.Checkbox(
            value=entry.enabled,
            indent=False,
            tooltip="Switch this step on or off",
            layout=W.Layout(width="22px"),
        )
        self.view = W.Button(
            description=f"{index + 1}. {title}",
            tooltip="Preview the effect of this step",
            layout=W.Layout(width="auto", flex="1"),
        )
        self.view.add_class("aq-step-title")
        self.up = _button("arrow-up", "Move up")
        self.down = _button("arrow-down", "Move down")
        self.edit = _button("pencil", "Edit this step")
        self.delete = _button("trash", "Delete this step")
        self.up.disabled = index == 0
        self.down.disabled = index == count - 1
        self.problem = problem
        parts = [f'<div class="aq-step-text">{fmt.escape(describe_step(step))}</div>']
        if effect and entry.enabled and not problem:
            parts.append(f'<div class="aq-muted">{fmt.escape(effect)}</div>')
        if problem:
            parts.append(
                f'<div class="aq-status-error aq-step-problem">⚠ {fmt.escape(problem)}</div>'
            )
        if not entry.enabled:
            parts.append('<div class="aq-muted">switched off: not applied</div>')
        self.text = W.HTML("".join(parts))
        super().__init__(
            [
                W.HBox(
                    [self.enabled, self.view, self.up, self.down, self.edit, self.delete],
                    layout=W.Layout(align_items="center", width="100%"),
                ),
                self.text,
            ]
        )
        self.add_class("aq-step")
        if not entry.enabled:
            self.add_class("aq-step-off")
        if selected:
            self.add_class("aq-step-selected")
        if editing:
            self.add_class("aq-step-editing")
        if problem:
            self.add_class("aq-step-bad")


class StepList(W.VBox):
    """The list of steps; the wizard passes callbacks for each action on a step."""

    def __init__(
        self,
        *,
        on_toggle: Callable[[int, bool], None],
        on_move: Callable[[int, int], None],
        on_edit: Callable[[int], None],
        on_delete: Callable[[int], None],
        on_select: Callable[[int], None],
    ) -> None:
        self._on = {
            "toggle": on_toggle,
            "move": on_move,
            "edit": on_edit,
            "delete": on_delete,
            "select": on_select,
        }
        self.rows: list[StepRow] = []
        self.empty = W.HTML(
            '<div class="aq-empty">No steps yet. Choose an operation on the left, or add a '
            "suggested fix.</div>"
        )
        super().__init__([self.empty])
        self.add_class("aq-steps")

    def show(
        self,
        state: Sequence[Entry],
        problems: dict[int, str],
        effects: dict[int, str],
        selected: int | None,
        editing: int | None,
    ) -> None:
        rows = []
        for i, entry in enumerate(state):
            row = StepRow(
                i,
                entry,
                count=len(state),
                problem=problems.get(i, ""),
                effect=effects.get(i, ""),
                selected=i == selected,
                editing=i == editing,
            )
            row.enabled.observe(
                lambda change, i=i: self._on["toggle"](i, bool(change["new"])), names="value"
            )
            row.up.on_click(lambda _b, i=i: self._on["move"](i, -1))
            row.down.on_click(lambda _b, i=i: self._on["move"](i, 1))
            row.edit.on_click(lambda _b, i=i: self._on["edit"](i))
            row.delete.on_click(lambda _b, i=i: self._on["delete"](i))
            row.view.on_click(lambda _b, i=i: self._on["select"](i))
            rows.append(row)
        self.rows = rows
        self.children = tuple(rows) if rows else (self.empty,)


class Suggestions(W.VBox):
    """Quality issues found by the profile, each with its fix and an "Add this step" button
    (which turns into "Added" while that step is in the list)."""

    def __init__(self, on_add: Callable[[dict[str, Any]], None]) -> None:
        self.on_add = on_add
        self.cards: list[W.VBox] = []
        super().__init__()

    def clear(self) -> None:
        self.cards = []
        self.children = ()

    def waiting(self) -> None:
        """The profile is queued behind the grid's first preview."""
        self._busy("Quality check starts once the preview is shown…")

    def loading(self, rows: int | None = None) -> None:
        """The profile runs (exact statistics over every row: seconds on millions)."""
        of = f" in {fmt.count(rows)} rows" if rows is not None else ""
        self._busy(f"Looking for quality issues{of}… suggested fixes appear here when done.")

    def _busy(self, message: str) -> None:
        # the amount of work left is unknown: a full bar in the "info" style, as StatusArea.busy
        bar = W.FloatProgress(value=1.0, min=0.0, max=1.0, bar_style="info")
        bar.layout.width = "98%"
        self.cards = []
        self.children = (W.HTML(f'<span class="aq-muted">{fmt.escape(message)}</span>'), bar)

    @property
    def busy(self) -> bool:
        """Whether the area shows a profile waiting or running (tests read this)."""
        return any(isinstance(c, W.FloatProgress) for c in self.children)

    def failed(self, error: BaseException) -> None:
        from .status import describe_error

        self.cards = []
        self.children = (
            W.HTML(
                '<span class="aq-muted">Quality issues could not be read: '
                f"{fmt.escape(describe_error(error)[0])}</span>"
            ),
        )

    def show(self, issues: Sequence[Any], present: Sequence[dict[str, Any]]) -> None:
        if not issues:
            self.clear()
            self.children = (W.HTML('<span class="aq-muted">No quality issues found.</span>'),)
            return
        cards = []
        for issue in issues[:MAX_SUGGESTIONS]:
            badge = _BADGES.get(issue.severity, "ok")
            button = W.Button(
                description="Add this step", icon="plus", layout=W.Layout(width="auto")
            )
            button.on_click(lambda _b, s=issue.suggestion: self.on_add(s))
            card = W.VBox(
                [
                    W.HTML(
                        f'<span class="aq-badge aq-badge-{badge}">{fmt.escape(issue.severity)}'
                        f'</span> {fmt.escape(issue.message)}<div class="aq-muted">Fix: '
                        f"{fmt.escape(describe_step(issue.suggestion))}</div>"
                    ),
                    button,
                ]
            )
            card.add_class("aq-card")
            card.suggestion = issue.suggestion  # type: ignore[attr-defined]
            card.button = button  # type: ignore[attr-defined]
            cards.append(card)
        self.cards = cards
        more = len(issues) - MAX_SUGGESTIONS
        extra = [W.HTML(f'<span class="aq-muted">and {fmt.count(more)} more</span>')]
        self.children = tuple(cards) + (tuple(extra) if more > 0 else ())
        self.mark(present)

    def mark(self, present: Sequence[dict[str, Any]]) -> None:
        for card in self.cards:
            added = card.suggestion in present  # type: ignore[attr-defined]
            card.button.disabled = added  # type: ignore[attr-defined]
            card.button.description = "Added" if added else "Add this step"  # type: ignore[attr-defined]
            card.button.icon = "check" if added else "plus"  # type: ignore[attr-defined]
