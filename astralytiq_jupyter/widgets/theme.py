"""The tenant's branding as a theme: colours with readable contrast, and one stylesheet.

Every wizard and the app shell use the ``aq-*`` CSS classes defined here, so the look lives in
one place and follows the tenant's colours. The stylesheet is delivered as an ``HTML`` widget
holding a ``<style>`` element, which JupyterLab, Notebook 7 and Voila all apply.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import ipywidgets as W

__all__ = ["DEFAULT_PRIMARY", "DEFAULT_SECONDARY", "Theme", "style_widget"]

DEFAULT_PRIMARY = "#1f5fbf"
DEFAULT_SECONDARY = "#0f9d8a"
_HEX = re.compile(r"#[0-9a-fA-F]{6}")


def _luminance(colour: str) -> float:
    """WCAG relative luminance of ``#rrggbb``."""
    channels = [int(colour[i : i + 2], 16) / 255 for i in (1, 3, 5)]
    linear = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


def contrast(a: str, b: str) -> float:
    """WCAG contrast ratio of two ``#rrggbb`` colours (1 to 21)."""
    la, lb = sorted((_luminance(a), _luminance(b)), reverse=True)
    return (la + 0.05) / (lb + 0.05)


def readable_on(background: str) -> str:
    """Black or white, whichever reads better on ``background``."""
    return (
        "#ffffff"
        if contrast(background, "#ffffff") >= contrast(background, "#111111")
        else "#111111"
    )


def _darken_until_readable(colour: str, on: str = "#ffffff", ratio: float = 4.5) -> str:
    """``colour`` darkened step by step until text in it reads on ``on`` (AA contrast)."""
    r, g, b = (int(colour[i : i + 2], 16) for i in (1, 3, 5))
    for _ in range(40):
        candidate = f"#{r:02x}{g:02x}{b:02x}"
        if contrast(candidate, on) >= ratio:
            return candidate
        r, g, b = (int(c * 0.9) for c in (r, g, b))
    return "#111111"


@dataclass(frozen=True)
class Theme:
    """Colours and names a screen is drawn with (from the tenant's branding)."""

    company_name: str = "AstralytiQ"
    primary: str = DEFAULT_PRIMARY
    secondary: str = DEFAULT_SECONDARY
    logo_url: str | None = None

    @classmethod
    def from_branding(cls, branding: dict[str, Any] | None, fallback_name: str = "") -> Theme:
        """A theme from a tenant's branding (unknown or malformed values fall back)."""
        branding = branding or {}
        primary = branding.get("primary_color")
        secondary = branding.get("secondary_color")
        logo = branding.get("logo_url")
        return cls(
            company_name=str(branding.get("company_name") or fallback_name or "AstralytiQ"),
            primary=primary
            if isinstance(primary, str) and _HEX.fullmatch(primary)
            else DEFAULT_PRIMARY,
            secondary=(
                secondary
                if isinstance(secondary, str) and _HEX.fullmatch(secondary)
                else DEFAULT_SECONDARY
            ),
            logo_url=logo if isinstance(logo, str) and logo else None,
        )

    @property
    def on_primary(self) -> str:
        return readable_on(self.primary)

    @property
    def accent_text(self) -> str:
        """The primary colour, darkened if needed so that text in it reads on white."""
        return _darken_until_readable(self.primary)

    def colorway(self) -> list[str]:
        """Chart colours: the brand's two, then a colour-blind-safe qualitative set."""
        rest = ["#e69f00", "#56b4e9", "#cc79a7", "#d55e00", "#009e73", "#f0e442", "#7f7f7f"]
        return [
            self.primary,
            self.secondary,
            *[c for c in rest if c not in (self.primary, self.secondary)],
        ]

    def stylesheet(self) -> str:
        p, s, on_p, accent = self.primary, self.secondary, self.on_primary, self.accent_text
        return f"""
.aq-root {{ font-family: var(--jp-ui-font-family, system-ui, sans-serif); color: #1d1d1f;
  --aq-primary: {p}; --aq-secondary: {s}; --aq-on-primary: {on_p}; --aq-accent: {accent}; }}
.aq-root .widget-label, .aq-root .widget-inline-hbox .widget-label {{ overflow: visible; }}
.aq-header {{ background: {p}; color: {on_p}; padding: 6px 14px; border-radius: 6px;
  align-items: center; }}
.aq-header .aq-brand {{ font-size: 1.25em; font-weight: 600; color: {on_p}; }}
.aq-header .aq-brand img {{ height: 28px; vertical-align: middle; margin-right: 8px; }}
.aq-header .aq-user {{ color: {on_p}; text-align: right; }}
.aq-badge {{ display: inline-block; padding: 1px 8px; border-radius: 10px; font-size: 0.85em;
  background: #eef1f5; color: #333; border: 1px solid #d0d7de; white-space: nowrap; }}
.aq-header .aq-badge {{ background: rgba(255,255,255,0.92); color: #1d1d1f; }}
.aq-badge-ok {{ background: #e6f4ea; color: #1e6b34; border-color: #a6d8b4; }}
.aq-badge-warn {{ background: #fff4e5; color: #8a4b00; border-color: #f5c58a; }}
.aq-badge-bad {{ background: #fdecea; color: #a4161a; border-color: #f1a9a9; }}
.aq-nav button {{ text-align: left; }}
.aq-nav .mod-primary, .aq-root .jupyter-button.mod-primary {{ background: {p}; color: {on_p}; }}
.aq-title {{ font-size: 1.15em; font-weight: 600; margin: 4px 0; color: #1d1d1f; }}
.aq-muted {{ color: #5f6368; font-size: 0.9em; }}
.aq-card {{ border: 1px solid #dde1e6; border-radius: 6px; padding: 8px 12px; background: #fff; }}
.aq-kpi {{ display: inline-block; min-width: 120px; margin: 0 12px 6px 0; }}
.aq-kpi .aq-kpi-value {{ font-size: 1.4em; font-weight: 600; color: {accent}; }}
.aq-kpi .aq-kpi-label {{ color: #5f6368; font-size: 0.85em; }}
.aq-status-ok {{ color: #1e6b34; }}
.aq-status-error {{ color: #a4161a; }}
.aq-status-info {{ color: #3c4043; }}
.aq-empty {{ color: #5f6368; padding: 16px; border: 1px dashed #c4c9d0; border-radius: 6px;
  text-align: center; }}
.aq-table-wrap {{ overflow: auto; max-height: 460px; border: 1px solid #dde1e6;
  border-radius: 4px; }}
table.aq-table {{ border-collapse: collapse; font-size: 12.5px; white-space: nowrap; }}
table.aq-table th, table.aq-table td {{ padding: 3px 8px; border-bottom: 1px solid #eceff3;
  text-align: left; }}
table.aq-table td.aq-num {{ text-align: right; font-variant-numeric: tabular-nums; }}
table.aq-table td.aq-missing {{ background: #fafafa; }}
table.aq-table thead th {{ position: sticky; top: 0; background: #f6f8fa; z-index: 1;
  vertical-align: bottom; border-bottom: 2px solid #d0d7de; }}
table.aq-table .aq-col-name {{ font-weight: 600; }}
table.aq-table .aq-col-meta {{ font-weight: 400; color: #5f6368; font-size: 11px; }}
table.aq-table .aq-rownum {{ color: #8b949e; text-align: right; }}
table.aq-table .aq-added {{ background: #e6f4ea; }}
table.aq-table .aq-changed {{ background: #fff8e1; }}
table.aq-table .aq-removed {{ background: #fdecea; text-decoration: line-through; color: #8b949e; }}
.aq-code pre {{ background: #f6f8fa; border: 1px solid #dde1e6; border-radius: 4px; padding: 8px;
  font-size: 12px; max-height: 360px; overflow: auto; white-space: pre; }}
.aq-details summary {{ cursor: pointer; color: #5f6368; }}
.aq-details pre {{ white-space: pre-wrap; font-size: 12px; }}
.aq-steps .aq-step-off {{ opacity: 0.55; }}
.aq-schema-head, .aq-schema-row {{ display: grid; grid-template-columns: 220px 190px 70px 150px;
  gap: 8px; align-items: center; }}
.aq-schema-row {{ grid-template-columns: 220px 190px 70px; }}
.aq-schema-row span {{ overflow: hidden; text-overflow: ellipsis; white-space: nowrap; }}
.aq-issues {{ margin: 6px 0; padding-left: 18px; }}
.aq-browser-upload {{ display: flex; align-items: center; gap: 8px; min-height: 32px; }}
.aq-clean-panel {{ border-right: 1px solid #eceff3; }}
.aq-clean-panel:last-child {{ border-right: none; }}
.aq-field {{ margin: 2px 0 6px 0; }}
.aq-field-label {{ font-weight: 600; font-size: 0.92em; margin-top: 2px; }}
.aq-field-help {{ font-size: 0.82em; line-height: 1.25; }}
.aq-step-summary {{ background: #f6f8fa; border-left: 3px solid {p}; padding: 4px 8px;
  margin: 6px 0; font-size: 0.92em; }}
.aq-steps .aq-step {{ border: 1px solid #dde1e6; border-radius: 6px; padding: 2px 6px;
  margin: 0 0 6px 0; background: #fff; }}
.aq-steps .aq-step-selected {{ border-color: {p}; box-shadow: 0 0 0 1px {p}; }}
.aq-steps .aq-step-editing {{ border-style: dashed; }}
.aq-steps .aq-step-bad {{ border-color: #f1a9a9; background: #fffafa; }}
.aq-steps .aq-step-title button, .aq-steps .aq-step-title {{ text-align: left;
  font-weight: 600; overflow: hidden; text-overflow: ellipsis; }}
.aq-steps .aq-step-text {{ font-size: 0.88em; line-height: 1.3; }}
.aq-steps .aq-step-problem {{ font-size: 0.88em; }}
.aq-clean-preview .aq-previewing {{ display: block; }}
.aq-dashboard-index a {{ color: {accent}; text-decoration: underline; }}
.aq-prediction {{ max-width: 520px; }}
.aq-prob {{ display: flex; align-items: center; gap: 8px; margin: 2px 0; }}
.aq-prob-label {{ width: 140px; overflow: hidden; text-overflow: ellipsis; white-space: nowrap; }}
.aq-prob-track {{ flex: 1; background: #eef1f5; border-radius: 3px; height: 12px; }}
.aq-prob-bar {{ display: block; height: 12px; border-radius: 3px; background: {p}; }}
.aq-prob-value {{ width: 52px; text-align: right; font-variant-numeric: tabular-nums; }}
"""


def style_widget(theme: Theme) -> W.HTML:
    """An invisible widget whose ``<style>`` applies ``theme`` to the ``aq-*`` classes."""
    return W.HTML(f"<style>{theme.stylesheet()}</style>", layout=W.Layout(height="0px", margin="0"))
