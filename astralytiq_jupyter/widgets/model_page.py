"""The page of one registered model version: what it predicts, how well (held-out and
cross-validated metrics), from which data (lineage), its input signature and serving runtime,
its aliases with their history; actions by role (predict, move an alias, delete)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import ipywidgets as W

from ..core.permissions import Permission
from . import format as fmt

if TYPE_CHECKING:
    from ..core.model_versions import ModelVersion
    from .base import Wizard

__all__ = ["headline", "metrics_table", "model_page"]


def headline(version: ModelVersion) -> str:
    """``balanced_accuracy 0.87 (holdout)``: the ranking metric on held-out rows."""
    metrics = version.metrics if isinstance(version.metrics, dict) else {}
    name = metrics.get("primary")
    value = (metrics.get("holdout") or {}).get(name) if isinstance(name, str) else None
    if not isinstance(name, str):
        return "–"
    return f"{name} {fmt.number(value, 4)} (holdout)"


def metrics_table(metrics: dict[str, Any]) -> str:
    """Held-out and cross-validated metrics side by side."""
    holdout = metrics.get("holdout") or {}
    cv = metrics.get("cv") or {}
    names = list(dict.fromkeys([*holdout, *cv]))
    if not names:
        return '<div class="aq-muted">No metrics recorded.</div>'
    primary = metrics.get("primary")
    rows = "".join(
        f"<tr><th>{'★ ' if n == primary else ''}{fmt.escape(n)}</th>"
        f'<td class="aq-num">{fmt.number(holdout.get(n), 4)}</td>'
        f'<td class="aq-num">{fmt.number(cv.get(n), 4)}</td></tr>'
        for n in names
    )
    return (
        '<table class="aq-table"><thead><tr><th>metric</th><th>holdout</th>'
        f"<th>cross-validation</th></tr></thead><tbody>{rows}</tbody></table>"
    )


def _signature(version: ModelVersion) -> str:
    rows = "".join(
        f"<tr><td>{fmt.escape(c.get('name'))}</td><td>{fmt.escape(c.get('kind', ''))}</td>"
        f"<td>{fmt.escape(c.get('dtype', ''))}</td></tr>"
        for c in version.signature
    )
    return (
        '<table class="aq-table"><thead><tr><th>input</th><th>kind</th><th>type</th></tr>'
        f"</thead><tbody>{rows}</tbody></table>"
    )


def model_page(owner: Wizard, version: ModelVersion) -> W.VBox:
    """The widget showing ``version`` for ``owner`` (a wizard: workspace, status, links)."""
    ws = owner.ws
    output = version.output or {}
    predicts = output.get("target") or output.get("kind") or version.task
    classes = output.get("classes")
    lineage = (
        f"trained on {fmt.escape(version.dataset)}" if version.dataset else "no dataset recorded"
    )
    aliases = ", ".join(version.aliases) or "none"
    header = W.HTML(
        f'<div class="aq-title">{fmt.escape(version.ref)} '
        f'<span class="aq-badge">{fmt.escape(version.task)}</span> '
        f'<span class="aq-badge">{fmt.escape(version.algorithm)}</span></div>'
        f'<div class="aq-muted">predicts {fmt.escape(predicts)}'
        f"{' (' + fmt.escape(', '.join(map(str, classes[:10]))) + ')' if classes else ''} · "
        f"{lineage} · by {fmt.escape(version.created_by)} on {version.created_at:%Y-%m-%d %H:%M}"
        f" · aliases: {fmt.escape(aliases)}</div>"
        f'<div class="aq-muted">serving: {fmt.escape(version.runtime)} — '
        f"{fmt.escape(version.runtime_note)}</div>"
    )
    parts: list[W.Widget] = [
        header,
        W.HTML(metrics_table(version.metrics if isinstance(version.metrics, dict) else {})),
        W.HTML(_signature(version)),
    ]
    actions: list[W.Widget] = []
    if owner.offers("predict"):
        predict = W.Button(description="Predict with it", icon="bullseye")
        predict.on_click(lambda _b: owner.navigate("predict", ref=version.ref))  # type: ignore[misc]
        actions.append(predict)
    if owner.can(Permission.MODEL_WRITE):
        alias = W.Text(placeholder="alias, e.g. production", layout=W.Layout(width="220px"))
        move = W.Button(description="Point alias here", icon="tag")

        def set_alias(_b: Any) -> None:
            try:
                ws.models.set_alias(version.name, alias.value.strip(), version.version)
            except Exception as error:  # noqa: BLE001 - shown in plain words
                owner.status.fail(error)
                return
            owner.status.done(f"{version.name}@{alias.value.strip()} now points at {version.ref}")
            refresh = getattr(owner, "refresh", None)
            if callable(refresh):
                refresh()

        move.on_click(set_alias)
        actions += [alias, move]
    if owner.can(Permission.MODEL_DELETE):
        delete = W.Button(description=f"Delete {version.ref}", icon="trash", button_style="danger")

        def remove(_b: Any) -> None:
            try:
                ws.models.delete(version.name, version.version)
            except Exception as error:  # noqa: BLE001
                owner.status.fail(error)
                return
            owner.status.done(f"Deleted {version.ref}")
            refresh = getattr(owner, "refresh", None)
            if callable(refresh):
                refresh()

        delete.on_click(remove)
        actions.append(delete)
    if actions:
        parts.append(W.HBox(actions, layout=W.Layout(flex_flow="row wrap")))
    try:
        history = ws.models.alias_history(version.name)
    except Exception:  # noqa: BLE001 - history is extra information
        history = []
    if history:
        items = "".join(
            f"<li>{fmt.escape(m.alias)}: "
            f"{'v' + str(m.from_version) if m.from_version else 'new'} → "
            f"{'v' + str(m.to_version) if m.to_version else 'removed'} "
            f"by {fmt.escape(m.actor)} on {m.created_at:%Y-%m-%d %H:%M}</li>"
            for m in history[-10:]
        )
        parts.append(
            W.HTML(
                '<details class="aq-details"><summary>Alias history</summary>'
                f"<ul>{items}</ul></details>"
            )
        )
    box = W.VBox(parts)
    box.add_class("aq-card")
    return box
