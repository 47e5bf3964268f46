"""The tenant's saved dashboards as links to their pages: what the dashboard app shows when its
address names no dashboard (``dashboard.ipynb`` without ``?name=``), for every role (viewers
read it too), with an empty state that says how dashboards are made."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING
from urllib.parse import urlencode

import ipywidgets as W

from ..apps import app_url
from ..core.permissions import ROLE_PERMISSIONS, Permission
from . import format as fmt
from .base import empty_state

if TYPE_CHECKING:
    from ..client.workspace import Workspace
    from ..core.dashboards import Dashboard

__all__ = ["dashboard_index", "dashboard_link", "readers"]

LIMIT = 500  # a tenant's dashboards on one page


def readers() -> list[str]:
    """The roles that may open a tenant's dashboards (read from the one permission table)."""
    return [
        role.value
        for role, allowed in ROLE_PERMISSIONS.items()
        if Permission.DASHBOARD_READ in allowed
    ]


def dashboard_link(name: str) -> str | None:
    """Where the dashboard ``name`` opens. In a Voila page the dashboard app itself with
    ``?name=`` (a link relative to the page: the published address, whichever route or
    standalone Voila serves it); in a notebook of a server with the extension its apps route;
    ``None`` elsewhere (nothing serves the page)."""
    if "VOILA_REQUEST_URL" in os.environ:
        return f"?{urlencode({'name': name})}"
    return app_url("dashboard.ipynb", name=name)


def _row(d: Dashboard, who: str) -> str:
    link = dashboard_link(d.name)
    title = fmt.escape(d.title)
    shown = f'<a href="{fmt.escape(link)}" target="_self">{title}</a>' if link else title
    return (
        f'<tr><td class="aq-col-name">{shown}</td><td>{fmt.escape(d.name)}</td>'
        f"<td>{d.updated_at:%Y-%m-%d %H:%M} by {fmt.escape(d.updated_by)} "
        f'<span class="aq-muted">(rev. {d.revision})</span></td><td>{who}</td></tr>'
    )


def dashboard_index(ws: Workspace) -> W.Widget:
    """The table of the tenant's dashboards (title as a link, name, last change, who may see
    it), or an empty state saying how to build one (and who may)."""
    me = ws.me
    tenant = fmt.escape(me.tenant)
    dashboards = ws.dashboards.list(limit=LIMIT)
    if not dashboards:
        if me.can(Permission.DASHBOARD_WRITE):
            how = (
                "No dashboards yet. Build one in the app's Dashboards section (or "
                'aq.DashboardBuilder() in a notebook): "New dashboard", add KPI cards, charts '
                'and filters, "Save", then "Share" for the address to send to your tenant.'
            )
        else:
            how = (
                f"No dashboards yet. An analyst or admin of {me.tenant} builds them in the app's "
                "Dashboards section; they are listed here as soon as they are saved."
            )
        return empty_state(how)
    who = f"everyone in {tenant} ({', '.join(readers())})"
    table = (
        '<div class="aq-title">Dashboards</div>'
        f'<div class="aq-muted">{fmt.count(len(dashboards))} saved in {tenant}; open one to '
        "view it.</div>"
        '<div class="aq-table-wrap aq-dashboard-index"><table class="aq-table">'
        "<thead><tr><th>Dashboard</th><th>Name</th><th>Last change</th>"
        "<th>Who may see it</th></tr></thead><tbody>"
        + "".join(_row(d, who) for d in dashboards)
        + "</tbody></table></div>"
    )
    return W.HTML(table)
