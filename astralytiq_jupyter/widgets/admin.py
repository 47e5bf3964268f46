"""Tenant administration for admins: members and roles, usage against the plan, branding and
the audit log. Every change goes through the Workspace API, where the permission table and
the audit log apply (a refused change is refused by the server, and audited there)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import ipywidgets as W

from ..core.permissions import Permission, Role
from . import format as fmt
from .base import Navigate, Wizard

if TYPE_CHECKING:
    from ..client.workspace import Workspace
    from .theme import Theme

__all__ = ["AdminView"]

AUDIT_PAGE = 50
_BYTES = ("storage_bytes", "upload_bytes")
_STYLE = {"description_width": "initial"}


class AdminView(Wizard):
    """Members, usage, branding and audit of the current tenant."""

    title = "Admin"

    def __init__(
        self,
        ws: Workspace | None = None,
        *,
        navigate: Navigate | None = None,
        theme: Theme | None = None,
        header: bool = True,
        background: bool = True,
    ) -> None:
        super().__init__(ws, navigate=navigate, theme=theme, header=header, background=background)
        self.part = W.ToggleButtons(
            options=("Members", "Usage", "Branding", "Audit log"), style={"button_width": "110px"}
        )
        self.part.observe(lambda _c: self.refresh(), names="value")
        self.view = W.VBox()
        # members
        self.member_name = W.Text(
            placeholder="username",
            description="Add member",
            style=_STYLE,
            layout=W.Layout(width="280px"),
        )
        self.member_role = W.Dropdown(
            options=[r.value for r in Role],
            value="viewer",
            description="as",
            style=_STYLE,
            layout=W.Layout(width="150px"),
        )
        self.add_button = W.Button(description="Add", icon="user-plus", button_style="primary")
        self.add_button.on_click(lambda _b: self.add_member())
        self.members = W.GridBox(
            layout=W.Layout(
                grid_template_columns="auto auto auto 1fr",
                grid_gap="2px 12px",
                align_items="center",
            )
        )
        # usage
        self.usage = W.HTML()
        # branding
        self.company = W.Text(
            description="Company name", style=_STYLE, layout=W.Layout(width="420px")
        )
        self.primary = W.ColorPicker(description="Primary colour", style=_STYLE)
        self.secondary = W.ColorPicker(description="Secondary colour", style=_STYLE)
        self.logo = W.Text(
            description="Logo URL (https or data:image)",
            style=_STYLE,
            layout=W.Layout(width="600px"),
        )
        self.save_branding = W.Button(
            description="Save branding", icon="save", button_style="primary"
        )
        self.save_branding.on_click(lambda _b: self.update_branding())
        # audit
        self.outcome = W.Dropdown(
            options=("all", "ok", "denied", "error"),
            value="all",
            description="Outcome",
            style=_STYLE,
            layout=W.Layout(width="180px"),
        )
        self.actor = W.Text(
            description="User",
            style=_STYLE,
            layout=W.Layout(width="220px"),
            continuous_update=False,
        )
        self.outcome.observe(lambda _c: self.refresh(), names="value")
        self.actor.observe(lambda _c: self.refresh(), names="value")
        self.audit = W.HTML()
        self.body.children = [self.part, self.view]
        if not self.can(Permission.MEMBER_MANAGE):
            self.body.children = [
                W.HTML('<div class="aq-empty">Administration is for the tenant\'s admins.</div>')
            ]
            return
        self.refresh()

    def receive(self, **context: Any) -> None:
        self.refresh()

    def refresh(self) -> None:
        part = self.part.value
        try:
            if part == "Members":
                self._show_members()
            elif part == "Usage":
                self._show_usage()
            elif part == "Branding":
                self._show_branding()
            else:
                self._show_audit()
        except Exception as error:  # noqa: BLE001 - shown in plain words
            self.status.fail(error)

    # -- members
    def _show_members(self) -> None:
        me = self.ws.me
        cells: list[W.Widget] = [W.HTML(f"<b>{h}</b>") for h in ("User", "Role", "Since", "")]
        for member in sorted(self.ws.tenant.members(), key=lambda m: m.username):
            cells.append(W.HTML(fmt.escape(member.username)))
            if member.username == me.user or member.role == Role.ADMIN:
                cells.append(W.HTML(f'<span class="aq-badge">{member.role.value}</span>'))
                cells.append(W.HTML(f"{member.created_at:%Y-%m-%d}"))
                cells.append(W.HTML(""))
                continue
            role = W.Dropdown(
                options=[r.value for r in Role if r != Role.ADMIN],
                value=member.role.value,
                layout=W.Layout(width="130px"),
            )
            role.observe(lambda c, u=member.username: self.set_role(u, c["new"]), names="value")
            remove = W.Button(
                description="Remove", icon="user-times", layout=W.Layout(width="auto")
            )
            remove.on_click(lambda _b, u=member.username: self.remove_member(u))
            cells += [role, W.HTML(f"{member.created_at:%Y-%m-%d}"), remove]
        self.members.children = cells
        self.view.children = [
            W.HBox([self.member_name, self.member_role, self.add_button]),
            self.members,
        ]

    def add_member(self) -> None:
        name = self.member_name.value.strip()
        if not name:
            self.status.fail("Type the username of the person to add.")
            return
        try:
            self.ws.tenant.add_member(name, self.member_role.value)
        except Exception as error:  # noqa: BLE001
            self.status.fail(error)
            return
        self.member_name.value = ""
        self.status.done(f"Added {name} as {self.member_role.value}")
        self.refresh()

    def set_role(self, username: str, role: str) -> None:
        try:
            self.ws.tenant.set_role(username, role)
        except Exception as error:  # noqa: BLE001
            self.status.fail(error)
            self.refresh()
            return
        self.status.done(f"{username} is now {role}")

    def remove_member(self, username: str) -> None:
        try:
            self.ws.tenant.remove_member(username)
        except Exception as error:  # noqa: BLE001
            self.status.fail(error)
            return
        self.status.done(f"Removed {username}")
        self.refresh()

    # -- usage
    def _show_usage(self) -> None:
        usage = self.ws.tenant.usage()
        used, quotas = usage.get("used", {}), usage.get("quotas", {})
        rows = []
        for key, limit in quotas.items():
            value = used.get(key)
            show = fmt.size if key in _BYTES else fmt.count
            share = ""
            if value is not None and limit:
                pct = min(100.0, value / limit * 100)
                kind = "bad" if pct >= 90 else "warn" if pct >= 75 else "ok"
                share = f'<span class="aq-badge aq-badge-{kind}">{fmt.percent(pct, 0)}</span>'
            rows.append(
                f"<tr><th>{fmt.escape(key.replace('_', ' '))}</th>"
                f'<td class="aq-num">{show(value) if value is not None else "–"}</td>'
                f'<td class="aq-num">{show(limit) if limit is not None else "unlimited"}</td>'
                f"<td>{share}</td></tr>"
            )
        self.usage.value = (
            f'<div class="aq-title">Plan {fmt.escape(usage.get("plan"))} · '
            f'{fmt.escape(usage.get("period"))}</div><table class="aq-table"><thead><tr>'
            "<th>resource</th><th>used</th><th>allowed</th><th></th></tr></thead><tbody>"
            + "".join(rows)
            + "</tbody></table>"
        )
        self.view.children = [self.usage]

    # -- branding
    def _show_branding(self) -> None:
        tenant = self.ws.tenant.info()
        branding = tenant.branding
        self.company.value = branding.get("company_name") or tenant.display_name
        self.primary.value = branding.get("primary_color") or self.theme.primary
        self.secondary.value = branding.get("secondary_color") or self.theme.secondary
        self.logo.value = branding.get("logo_url") or ""
        self.view.children = [
            self.company,
            self.primary,
            self.secondary,
            self.logo,
            self.save_branding,
            W.HTML(
                '<div class="aq-muted">The new branding shows the next time an app or '
                "dashboard is opened.</div>"
            ),
        ]

    def update_branding(self) -> None:
        branding = {
            "company_name": self.company.value.strip(),
            "primary_color": self.primary.value,
            "secondary_color": self.secondary.value,
        }
        if self.logo.value.strip():
            branding["logo_url"] = self.logo.value.strip()
        try:
            self.ws.tenant.update(branding=branding)
        except Exception as error:  # noqa: BLE001
            self.status.fail(error)
            return
        self.status.done("Branding saved")

    # -- audit
    def _show_audit(self) -> None:
        filters: dict[str, Any] = {"limit": AUDIT_PAGE}
        if self.outcome.value != "all":
            filters["outcome"] = self.outcome.value
        if self.actor.value.strip():
            filters["actor"] = self.actor.value.strip()
        events = self.ws.audit.list(**filters)
        rows = "".join(
            f"<tr><td>{e.created_at:%Y-%m-%d %H:%M:%S}</td><td>{fmt.escape(e.actor)}</td>"
            f"<td>{fmt.escape(e.action)}</td><td>{fmt.escape(e.resource)}</td>"
            f'<td><span class="aq-badge aq-badge-{"ok" if e.outcome == "ok" else "bad"}">'
            f"{fmt.escape(e.outcome)}</span></td></tr>"
            for e in events
        )
        self.audit.value = (
            '<div class="aq-table-wrap"><table class="aq-table"><thead><tr><th>time</th>'
            "<th>user</th><th>action</th><th>resource</th><th>outcome</th></tr></thead>"
            f"<tbody>{rows}</tbody></table></div>"
            f'<div class="aq-muted">latest {len(events)} events</div>'
        )
        self.view.children = [W.HBox([self.outcome, self.actor]), self.audit]
